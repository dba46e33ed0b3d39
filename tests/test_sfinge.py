"""SFINGE3D: the reader (dictionary ``;`` rows, sequences ``,`` rows, the ground truth), the
``leap20`` layout, ``adasgn prepare sfinge3d`` (counts and splits on the real data) and a tiny
streaming check on a real long sequence."""

from __future__ import annotations

import numpy as np
import pytest

from adasgn.cli import main
from adasgn.data.classes import CLASS_NAMES
from adasgn.data.pkl import load_pkl
from adasgn.data.presets import get_preset
from adasgn.data.readers import DataError, read_sfinge3d, read_sfinge3d_gt
from adasgn.skeleton import get_layout
from adasgn.stream import StreamingRecognizer

from test_inference import make_checkpoint


def _row(rng, sep=";", trailing=True):
    vals = rng.normal(size=140)
    return sep.join(f"{v:.6f}" for v in vals) + (sep if trailing else ""), vals


def test_reader_both_separators_and_quaternions(tmp_path):
    rng = np.random.default_rng(0)
    rows = [_row(rng) for _ in range(3)]
    p = tmp_path / "1.txt"
    p.write_text("\n".join(r for r, _ in rows) + "\n\n")  # a blank line at the end is fine
    want = np.stack([v for _, v in rows]).reshape(3, 20, 7)
    np.testing.assert_allclose(read_sfinge3d(p), want[..., :3], atol=1e-6)
    np.testing.assert_allclose(read_sfinge3d(p, quaternions=True), want, atol=1e-6)
    q = tmp_path / "2.txt"
    q.write_text("\n".join(_row(rng, ",", trailing=False)[0] for _ in range(4)) + "\n")
    assert read_sfinge3d(q).shape == (4, 20, 3)


@pytest.mark.parametrize("text, match", [
    ("", "empty file"),
    ("1;2;3;\n", "3 values, expected 140"),
    ("{row}\n\n{row}\n", "blank line inside"),
    ("{bad}\n", "non-numeric value 'x'"),
    ("{nan}\n", "NaN/Inf"),
])
def test_reader_rejects_bad_files(tmp_path, text, match):
    row = ";".join(["0.5"] * 140)
    p = tmp_path / "bad.txt"
    p.write_text(text.format(row=row, bad=";".join(["0.5"] * 139 + ["x"]),
                             nan=";".join(["0.5"] * 139 + ["nan"])))
    with pytest.raises(DataError, match=match):
        read_sfinge3d(p)


def test_ground_truth_reader(tmp_path):
    p = tmp_path / "gt.csv"
    p.write_text("1,2,8,51,93,6,155,178\n2,1,13,3,40\n")
    gt = read_sfinge3d_gt(p)
    assert gt[1][0] == (7, 50, 92) and gt[1][1].label == 5 and gt[2] == [(12, 2, 39)]
    p.write_text("1,2,8,51,93\n")
    with pytest.raises(DataError, match="expected id, n"):
        read_sfinge3d_gt(p)
    p.write_text("1,1,14,5,9\n")
    with pytest.raises(DataError, match="label 14"):
        read_sfinge3d_gt(p)


def test_leap20_layout_and_presets():
    lay = get_layout("leap20")
    assert lay.num_joints == 20 and lay.joint_choices == (1, 10, 20)
    assert lay.joints[:4] == ("palm", "thumb_a", "thumb_b", "thumb_tip")
    assert lay.joints[4:8] == ("index_a", "index_b", "index_c", "index_tip")
    assert lay.parents[4] == 0 and lay.parents[7] == 6 and lay.parents[3] == 2
    assert lay.groups(10)[0] == (0, 1) and lay.groups(10)[1] == (2, 3)
    assert lay.center == 0
    assert get_preset("sfinge3d").num_classes == len(CLASS_NAMES["sfinge3d"]) == 13
    assert get_preset("sfinge3d_bg").num_classes == len(CLASS_NAMES["sfinge3d_bg"]) == 14


def test_prepare_sfinge3d_real(shared_data, tmp_path, capsys):
    raw = shared_data / "sfinge3d"
    if not raw.is_dir():
        pytest.skip("sfinge3d not in the shared data")
    out = tmp_path / "sf.pkl"
    assert main(["prepare", "sfinge3d", "--raw", str(raw), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    assert "kept 468, rejected 0" in capsys.readouterr().out
    d = load_pkl(out)
    split = d["split"]
    assert len(split["all"]) == 468 and len(split["xfile_train"]) == 312
    assert len(split["xfile_val"]) == 156 and not set(split["xfile_train"]) & set(split["xfile_val"])
    labels = np.array([a["label"] for a in d["annotations"]])
    assert (np.bincount(labels) == 36).all()
    a = next(x for x in d["annotations"] if x["frame_dir"] == "11/19")  # ends with a blank line
    assert a["label"] == 10 and a["keypoint"].shape == (1, 33, 20, 3)
    np.testing.assert_allclose(a["keypoint"][0, 0, 0], 0.0, atol=1e-7)  # palm origin
    gt = read_sfinge3d_gt(raw / "Sequences" / "sequencesGT.csv")
    assert len(gt) == 72 and sum(len(g) for g in gt.values()) == 278


def test_stream_a_real_sequence(shared_data, tmp_path):
    raw = shared_data / "sfinge3d"
    if not raw.is_dir():
        pytest.skip("sfinge3d not in the shared data")
    ck = make_checkpoint(tmp_path / "sf.pt", "sgn", "sfinge3d_bg", overrides=["data.normalize=frame"])
    live = StreamingRecognizer.from_checkpoint(ck, window=40)
    frames = read_sfinge3d(raw / "Sequences" / "1.txt")[:80]
    ups = [u for i, f in enumerate(frames) if (u := live.push(f))]
    assert live.stride == 2 and live.fps == 20.0 and len(ups) == (80 - 39 + 1) // 2
    assert ups[0].frame == 38 and ups[0].timestamp == pytest.approx(38 / 20)
    assert ups[-1].name in CLASS_NAMES["sfinge3d_bg"]


def test_cli_stream_on_a_real_sequence_file(shared_data, tmp_path, capsys):
    """`adasgn stream CKPT Sequences/<n>.txt`: the SFINGE3D file read by its own reader and
    normalised as `adasgn prepare sfinge3d` does (palm of the first frame at the origin)."""
    raw = shared_data / "sfinge3d"
    if not raw.is_dir():
        pytest.skip("sfinge3d not in the shared data")
    from adasgn.data.inputs import read_input

    seq = raw / "Sequences" / "3.txt"
    inp = read_input(seq)
    t = len(read_sfinge3d(seq))
    assert inp.kind == "sfinge3d" and inp.layout == "leap20" and inp.keypoint.shape == (1, t, 20, 3)
    np.testing.assert_allclose(inp.keypoint[0, 0, 0], 0.0, atol=1e-6)  # palm origin
    ck = make_checkpoint(tmp_path / "sf.pt", "adasgn", "sfinge3d_bg", overrides=["data.normalize=frame"])
    assert main(["stream", str(ck), str(seq), "--json", "--window", "40"]) == 0
    out, err = capsys.readouterr()
    import json

    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == (t - 1 - 38) // 2 + 1  # frames 38, 40, ...: stride 2
    assert lines[0]["frame"] == 38 and lines[0]["prediction"] in CLASS_NAMES["sfinge3d_bg"]
    assert f"{t} frames" in err and "0 skipped" in err
    assert main(["stream", str(ck), str(seq), "--events", "--window", "40"]) == 0
    assert "updates" in capsys.readouterr().err
