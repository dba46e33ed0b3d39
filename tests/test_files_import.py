"""``adasgn prepare files``: a folder of one's own sequence files in every accepted format and
axis order, labels from a pattern or an index, every bad file reported and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adasgn.cli import main
from adasgn.data.files import FileFormat, parse_axes, read_sequence
from adasgn.data.pkl import load_pkl
from adasgn.errors import DataError

LAYOUT = """\
name: tri5
joints: [root, a, b, c, d]
parents: [null, root, a, root, c]
groupings: {2: [[root, a, b], [c, d]], 1: [[root, a, b, c, d]]}
center: root
"""


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _seq(seed: int, t: int = 12) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(t, 5, 3)).astype(np.float32) + 1.0


def test_every_format_and_axis_order_gives_the_same_sequence(tmp_path, capsys):
    pytest.importorskip("scipy")
    import scipy.io

    x = _seq(0)  # (T, V, C)
    raw = tmp_path / "raw"
    raw.mkdir()
    np.save(raw / "tvc.npy", x)
    np.save(raw / "vct.npy", x.transpose(1, 2, 0))
    np.savez(raw / "mtvc.npz", pose=x[None], other=np.zeros(3))
    (raw / "tvc.csv").write_text("frame_values\n" + "\n".join(",".join(f"{v:.9g}" for v in row)
                                                             for row in x.reshape(len(x), -1)) + "\n")
    (raw / "tcv.txt").write_text("\n".join(" ".join(f"{v:.9g}" for v in row)
                                           for row in x.transpose(0, 2, 1).reshape(len(x), -1)) + "\n")
    (raw / "list.json").write_text(json.dumps(x.tolist()))
    (raw / "dict.json").write_text(json.dumps({"pose": x.tolist(), "fps": 30}))
    scipy.io.savemat(raw / "vct.mat", {"skel": x.transpose(1, 2, 0)})
    (tmp_path / "tri5.yaml").write_text(LAYOUT)
    cases = [("tvc.npy", "T,V,C", []), ("vct.npy", "V,C,T", []),
             ("mtvc.npz", "M,T,V,C", ["--key", "pose"]), ("tvc.csv", "T,V,C", []),
             ("tcv.txt", "T,C,V", []), ("list.json", "T,V,C", []),
             ("dict.json", "T,V,C", ["--key", "pose"]), ("vct.mat", "V,C,T", ["--key", "skel"])]
    for i, (fname, axes, extra) in enumerate(cases):
        index = tmp_path / f"index{i}.csv"
        index.write_text(f"path,label,split\n{fname},wave,train\n")
        out = tmp_path / f"out{i}.pkl"
        rc, stdout, err = run_cli(capsys, "prepare", "files", "--raw", raw, "--out", out,
                                  "--layout", tmp_path / "tri5.yaml", "--axes", axes,
                                  "--index", index, "--no-progress", *extra)
        assert rc == 0, (fname, stdout, err)
        d = load_pkl(out)
        (a,) = d["annotations"]
        np.testing.assert_allclose(a["keypoint"], x[None], atol=1e-6, err_msg=fname)
        assert a["frame_dir"] == Path(fname).stem and d["split"] == {"train": [a["frame_dir"]]}
        assert d["meta"]["class_names"] == ["wave"] and d["meta"]["layout"].endswith("tri5.yaml")


def test_pattern_labels_subjects_and_every_bad_file_reported(tmp_path, capsys):
    raw = tmp_path / "raw"
    for a in (1, 2, 3):
        for s in (1, 2):
            (raw / f"s{s}").mkdir(parents=True, exist_ok=True)
            np.save(raw / f"s{s}" / f"a{a}_s{s}.npy", _seq(10 * a + s))
    np.save(raw / "s1" / "a4_s1.npy", np.random.default_rng(1).normal(size=(12, 4, 3)))  # 4 joints
    bad = np.array(_seq(5))
    bad[3, 2, 1] = np.nan
    np.save(raw / "s2" / "a4_s2.npy", bad)
    (raw / "s2" / "a5_s2.npy").write_bytes(b"")
    np.save(raw / "s1" / "a5_s1.npy", np.zeros((9, 5, 3), np.float32))
    np.save(raw / "s1" / "readme_s1.npy", _seq(3))  # no label in the name
    out = tmp_path / "own.pkl"
    rc, stdout, _ = run_cli(capsys, "prepare", "files", "--raw", raw, "--out", out, "--layout",
                            _layout(tmp_path), "--pattern",
                            r"a(?P<label>\d+)_s(?P<subject>\d+)", "--first-label", "1",
                            "--train-subjects", "1", "--centre", "root", "--no-progress")
    assert rc == 0 and "kept 6, rejected 5" in stdout
    rejects = dict(line.split("\t") for line in (tmp_path / "own.pkl.rejects.txt").read_text().splitlines())
    assert "4 joints on axis V, layout tri5 has 5" in rejects["s1/a4_s1.npy"]
    assert rejects["s2/a4_s2.npy"] == "NaN/Inf value"
    assert rejects["s2/a5_s2.npy"] == "empty file"
    assert "all frames are zero" in rejects["s1/a5_s1.npy"]
    assert "does not match --pattern" in rejects["s1/readme_s1.npy"]
    d = load_pkl(out)
    assert sorted(d["split"]) == ["xsub_train", "xsub_val"]
    assert sorted(d["split"]["xsub_train"]) == ["s1/a1_s1", "s1/a2_s1", "s1/a3_s1"]
    assert {a["frame_dir"]: a["label"] for a in d["annotations"]}["s2/a3_s2"] == 2
    assert d["meta"]["num_classes"] == 3 and d["meta"]["class_names"] is None
    for a in d["annotations"]:  # centred on the root of the first frame
        np.testing.assert_array_equal(a["keypoint"][0, 0, 0], 0)


def _layout(tmp_path: Path) -> Path:
    p = tmp_path / "tri5.yaml"
    p.write_text(LAYOUT)
    return p


def test_user_errors_are_one_clear_line(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    np.save(raw / "a1.npy", _seq(0))
    base = ["prepare", "files", "--raw", raw, "--out", tmp_path / "o.pkl", "--no-progress"]
    for extra, msg in (([], "needs --layout"),
                       (["--layout", "nope"], "unknown layout"),
                       (["--layout", _layout(tmp_path), "--axes", "T,V"], "give T, V and C"),
                       (["--layout", _layout(tmp_path), "--pattern", "a(?P<label>\\d)"],
                        "say how to split"),
                       (["--layout", _layout(tmp_path), "--pattern", "a(\\d)", "--train-subjects", "1"],
                        "(?P<label>...) group")):
        assert main([str(a) for a in base + extra]) == 2, extra
        assert msg in capsys.readouterr().err, (extra, msg)


def test_read_sequence_checks():
    assert parse_axes("v, c ,t") == ("V", "C", "T")
    with pytest.raises(ValueError, match="once each"):
        parse_axes("T,T,V,C")
    fmt = FileFormat(axes=("T", "V", "C"))
    with pytest.raises(DataError, match="unsupported file type"):
        read_sequence(__file__, fmt, "coco17")


def test_mat_without_scipy_names_the_extra(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy.io", None)  # "import scipy.io" now fails
    raw = tmp_path / "utd"
    raw.mkdir()
    (raw / "a1_s1_t1_skeleton.mat").write_bytes(b"MATLAB 5.0")
    for argv in (["prepare", "utd_mhad"], ["prepare", "files", "--layout", "utd20", "--key",
                                           "d_skel", "--pattern", r"a(?P<label>\d)_s(?P<subject>\d)",
                                           "--train-subjects", "1"]):
        assert main([*argv, "--raw", str(raw), "--out", str(tmp_path / "o.pkl"), "--no-progress"]) == 2
        assert "pip install 'adasgn[mat]'" in capsys.readouterr().err
