"""``adasgn prepare``: NTU denoising/centring/splits, MSR and SHREC on the real fixtures."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from adasgn.cli import main
from adasgn.data.pkl import load_pkl
from adasgn.data.prepare import (
    ntu_centre,
    ntu_denoise,
    ntu_splits,
    prepare_ntu,
)
from adasgn.data.readers import DataError, NTUBody, NTUSkeleton

A001 = "S001C001P001R001A001.skeleton"
A058 = "S001C001P001R001A058.skeleton"


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture()
def ntu_dir(shared_data, tmp_path):
    d = tmp_path / "ntu"
    d.mkdir()
    for name in (A001, A058):
        shutil.copyfile(shared_data / "ntu" / name, d / name)
    return d


# ------------------------------------------------------------------------------- NTU, real files


def test_prepare_ntu_real_fixtures(shared_data, ntu_dir, tmp_path, capsys):
    out = tmp_path / "out" / "ntu60.pkl"
    rc, stdout, _ = run_cli(capsys, "prepare", "ntu60", "--raw", ntu_dir, "--out", out,
                            "--workers", "1", "--no-progress")
    assert rc == 0 and "kept 2, rejected 0" in stdout
    d = load_pkl(out)
    anns = {a["frame_dir"]: a for a in d["annotations"]}
    one, two = anns["S001C001P001R001A001"], anns["S001C001P001R001A058"]
    assert one["label"] == 0 and two["label"] == 57
    assert one["keypoint"].shape == (1, 103, 25, 3) and two["keypoint"].shape == (2, 71, 25, 3)
    # centring (spec 5.3): joint 1 of actor 1's first frame is the origin
    ref = np.load(shared_data / "ntu/arrays/S001C001P001R001A001.skeleton.npy", allow_pickle=True).item()
    expected = ref["skel_body0"] - ref["skel_body0"][0, 1]
    np.testing.assert_allclose(one["keypoint"][0], expected, atol=1e-5)
    assert np.all(two["keypoint"][0, 0, 1] == 0) and np.any(two["keypoint"][1, 0, 1] != 0)
    # both persons of the handshake are present in every frame
    assert np.all(np.any(two["keypoint"] != 0, axis=(2, 3)))
    # splits: P001 is a training subject, C001 a test camera
    assert d["split"] == {"xsub_train": [one["frame_dir"], two["frame_dir"]], "xsub_val": [],
                          "xview_train": [], "xview_val": [one["frame_dir"], two["frame_dir"]]}
    assert d["meta"]["dataset"] == "ntu60" and d["meta"]["layout"] == "ntu25"
    assert len(d["meta"]["class_names"]) == 60 and d["meta"]["class_names"][57] == "handshaking"
    assert (out.parent / "ntu60.pkl.rejects.txt").read_text() == ""


def test_prepare_ntu_parallel_equals_serial(ntu_dir, tmp_path):
    for i in range(2, 10):  # more copies so that the pool really runs
        shutil.copyfile(ntu_dir / A058, ntu_dir / f"S002C002P0{i:02d}R001A058.skeleton")
    r1 = prepare_ntu(ntu_dir, tmp_path / "a.pkl", workers=1, progress=False)
    r2 = prepare_ntu(ntu_dir, tmp_path / "b.pkl", workers=2, progress=False)
    assert r1.kept == r2.kept == 10
    a, b = load_pkl(tmp_path / "a.pkl"), load_pkl(tmp_path / "b.pkl")
    assert a["split"] == b["split"]
    for x, y in zip(a["annotations"], b["annotations"]):
        assert x["frame_dir"] == y["frame_dir"]
        np.testing.assert_array_equal(x["keypoint"], y["keypoint"])


def test_prepare_ntu_bad_files_are_reported_not_fatal(ntu_dir, tmp_path, capsys):
    data = (ntu_dir / A001).read_bytes()
    (ntu_dir / "S001C001P002R001A002.skeleton").write_bytes(data[: len(data) // 3])
    (ntu_dir / "S001C001P003R001A003.skeleton").write_bytes(b"")
    (ntu_dir / "S001C001P004R001A004.skeleton").write_bytes(b"2\n0\n0\n")
    (ntu_dir / "S001C001P005R001A005.skeleton").write_bytes(data.replace(b"0.2181153", b"nan", 1))
    (ntu_dir / "S001C001P006R001A061.skeleton").write_bytes(data)  # NTU-120 class
    (ntu_dir / "notes.skeleton").write_bytes(data)  # not an NTU name
    missing = tmp_path / "missing.txt"
    missing.write_text("S001C001P001R001A058\n")
    out = tmp_path / "o.pkl"
    rc, stdout, _ = run_cli(capsys, "prepare", "ntu60", "--raw", ntu_dir, "--out", out,
                            "--missing", missing, "--no-progress", "--workers", "1")
    assert rc == 0 and "kept 1, rejected 7" in stdout
    rejects = dict(line.split("\t") for line in (tmp_path / "o.pkl.rejects.txt").read_text().splitlines())
    assert "truncated" in rejects["S001C001P002R001A002.skeleton"]
    assert "empty file" in rejects["S001C001P003R001A003.skeleton"]
    assert "no body" in rejects["S001C001P004R001A004.skeleton"]
    assert "NaN/Inf" in rejects["S001C001P005R001A005.skeleton"]
    assert "use ntu120" in rejects["S001C001P006R001A061.skeleton"]
    assert "does not match" in rejects["notes.skeleton"]
    assert "missing" in rejects["S001C001P001R001A058.skeleton"]
    assert [a["frame_dir"] for a in load_pkl(out)["annotations"]] == ["S001C001P001R001A001"]
    # the same folder as NTU-120 keeps A061 (performer 6: a test subject)
    res = prepare_ntu(ntu_dir, tmp_path / "o120.pkl", "ntu120", workers=1, progress=False)
    assert res.kept == 3 and res.split_counts == {"xsub_train": 2, "xsub_val": 1,
                                                  "xset_train": 0, "xset_val": 3}


def test_prepare_fails_only_when_nothing_survives(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "S001C001P001R001A001.skeleton").write_bytes(b"5\n1\n")
    out = tmp_path / "o.pkl"
    rc, stdout, err = run_cli(capsys, "prepare", "ntu60", "--raw", raw, "--out", out, "--no-progress")
    assert rc == 1 and "no sample" in err and not out.exists()
    assert "truncated" in (tmp_path / "o.pkl.rejects.txt").read_text()


def test_cli_user_errors(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "prepare", "msr", "--out", tmp_path / "x.pkl")
    assert rc == 2 and "--raw" in err
    rc, _, err = run_cli(capsys, "prepare", "msr", "--raw", tmp_path / "nope", "--out", tmp_path / "x.pkl")
    assert rc == 2 and "no such file" in err
    rc, _, err = run_cli(capsys, "prepare", "ntu60", "--raw", tmp_path, "--out", tmp_path / "x.pkl")
    assert rc == 2 and "no .skeleton files" in err
    rc, _, err = run_cli(capsys, "prepare", "shrec14", "--raw", tmp_path, "--out", tmp_path / "x.pkl")
    assert rc == 2 and "train_gestures.txt" in err


# ------------------------------------------------------------------------------ NTU, unit level


def _body(bid, xyz, frames):
    frames = np.asarray(frames)
    return NTUBody(str(bid), np.asarray(xyz, np.float32), frames, frames)


def _walker(n, seed, scale=1.0, wide=False):
    """A plausible standing body moving along x; ``wide`` makes x-spread > 0.8 * y-spread."""
    rng = np.random.default_rng(seed)
    base = np.zeros((25, 3), np.float32)
    base[:, 1] = np.linspace(-0.9, 0.7, 25)  # 1.6 m tall
    base[:, 0] = np.linspace(-0.2, 0.2, 25) * (10 if wide else 1)
    base[:, 2] = 3.0
    steps = np.arange(n)[:, None, None] * np.array([0.01 * scale, 0, 0], np.float32)
    return base + steps + rng.normal(0, 0.001, (n, 25, 3)).astype(np.float32)


def _skel(*bodies, frames=None):
    nvalid = max(int(b.frames[-1]) for b in bodies) + 1
    return NTUSkeleton("test.skeleton", nvalid, np.ones(nvalid, np.int64),
                       {b.body_id: b for b in bodies})


def test_denoise_single_body_is_taken_as_is():
    b = _body(1, _walker(5, 0), range(5))  # even a 5-frame body
    joints, info = ntu_denoise(_skel(b))
    assert joints.shape == (5, 75) and info["num_body_ids"] == 1
    np.testing.assert_array_equal(joints, b.xyz.reshape(5, 75))


def test_denoise_length_filter():
    long = _body(1, _walker(40, 0), range(40))
    short = _body(2, _walker(11, 1, scale=50), range(11))  # <= 11 frames: dropped
    joints, info = ntu_denoise(_skel(long, short))
    assert info["dropped_by_length"] == ["2"] and joints.shape == (40, 75)
    twelve = _body(3, _walker(12, 1, scale=50), range(12))  # 12 frames: kept, overlaps actor 1
    joints, info = ntu_denoise(_skel(long, twelve))
    assert info["dropped_by_length"] == [] and joints.shape == (40, 150)
    with pytest.raises(DataError, match="denoising left no body"):
        ntu_denoise(_skel(_body(1, _walker(11, 0), range(11)), _body(2, _walker(3, 0), range(3))))


def test_denoise_spread_filter_and_motion_ranking():
    a = _body(1, _walker(30, 0, scale=1), range(30))
    b = _body(2, _walker(30, 1, scale=3), range(30))  # moves more: actor 1
    noisy = _body(3, _walker(30, 2, scale=9, wide=True), range(30))  # invalid in every frame
    joints, info = ntu_denoise(_skel(a, noisy, b))
    assert info["dropped_by_spread"] == ["3"]
    assert joints.shape == (30, 150)
    np.testing.assert_array_equal(joints[:, :75], b.xyz.reshape(30, 75))
    np.testing.assert_array_equal(joints[:, 75:], a.xyz.reshape(30, 75))


def test_denoise_two_actor_assembly_and_zero_frame_removal():
    # body 1 frames 0-19 (most motion), body 2 frames 25-39: no overlap -> continues actor 1;
    # body 3 frames 5-34 overlaps actor 1 -> actor 2; body 4 frames 10-29 overlaps both -> discarded
    b1 = _body(1, _walker(20, 0, scale=20), range(0, 20))
    b2 = _body(2, _walker(15, 1, scale=10), range(25, 40))
    b3 = _body(3, _walker(30, 2, scale=5), range(5, 35))
    b4 = _body(4, _walker(20, 3, scale=1), range(10, 30))
    skel = _skel(b1, b2, b3, b4)
    joints, info = ntu_denoise(skel)
    assert info["discarded_overlap"] == ["4"]
    # frames 20-24 have actor 2 only (kept); nothing is all zero, so 40 frames stay
    assert joints.shape == (40, 150)
    np.testing.assert_array_equal(joints[25:40, :75], b2.xyz.reshape(15, 75))
    np.testing.assert_array_equal(joints[5:35, 75:], b3.xyz.reshape(30, 75))
    assert not joints[20:25, :75].any() and not joints[35:, 75:].any()
    # a gap where nobody is placed is removed (multi-body sequences only)
    skel2 = _skel(_body(1, _walker(15, 0, scale=5), range(0, 15)), _body(2, _walker(15, 1), range(20, 35)))
    joints2, _ = ntu_denoise(skel2)
    assert joints2.shape == (30, 75)  # frames 15-19 empty -> removed; actor 2 never used -> M = 1


def test_centre_rezeros_missing_frames():
    joints = np.zeros((4, 150), np.float32)
    joints[1:, :75] = np.arange(75, dtype=np.float32) + 1  # actor 1 missing in frame 0
    joints[:2, 75:] = 5.0  # actor 2 missing in frames 2, 3
    kp = ntu_centre(joints)
    assert kp.shape == (2, 4, 25, 3)
    origin = np.arange(75, dtype=np.float32).reshape(25, 3)[1] + 1
    np.testing.assert_array_equal(kp[0, 1, 1], 0)
    np.testing.assert_array_equal(kp[1, 0, 0], 5.0 - origin)
    assert not kp[0, 0].any() and not kp[1, 2:].any()


def test_ntu_splits_from_names():
    assert ntu_splits("S001C002P001R001A001", "ntu60") == ["xsub_train", "xview_train"]
    assert ntu_splits("S001C001P003R001A001", "ntu60") == ["xsub_val", "xview_val"]
    assert ntu_splits("S001C003P045R001A001", "ntu60") == ["xsub_val", "xview_train"]
    assert ntu_splits("S018C001P045R001A101", "ntu120") == ["xsub_train", "xset_train"]
    assert ntu_splits("S017C001P106R001A101", "ntu120") == ["xsub_val", "xset_val"]
    with pytest.raises(DataError):
        ntu_splits("S01C001P045R001A101", "ntu120")


# --------------------------------------------------------------------------------------- MSR


def test_prepare_msr_real(shared_data, tmp_path, capsys):
    out = tmp_path / "msr.pkl"
    t0 = time.perf_counter()
    rc, stdout, _ = run_cli(capsys, "prepare", "msr", "--raw", shared_data / "msr_action3d",
                            "--out", out, "--no-progress")
    seconds = time.perf_counter() - t0
    assert rc == 0 and seconds < 30
    assert "a13_s09_e02" in stdout and "all frames are zero" in stdout
    assert "a13_s09_e02_skeleton3D.txt\tall frames are zero" in (tmp_path / "msr.pkl.rejects.txt").read_text()
    d = load_pkl(out)
    assert len(d["annotations"]) == 566
    assert {a["label"] for a in d["annotations"]} == set(range(20))
    assert len(d["meta"]["class_names"]) == 20 and d["meta"]["layout"] == "msr20"
    assert len(d["split"]["xsub_train"]) == 291 and len(d["split"]["xsub_val"]) == 275
    for split, parity in (("xsub_train", 1), ("xsub_val", 0)):
        assert all(int(re.search(r"_s(\d\d)_", n).group(1)) % 2 == parity for n in d["split"][split])
    for a in d["annotations"]:
        kp = a["keypoint"]
        assert kp.shape[0] == 1 and kp.shape[2:] == (20, 3)
        assert np.all(np.any(kp[0] != 0, axis=(1, 2)))  # zero frames dropped
        np.testing.assert_array_equal(kp[0, 0, 3], 0)  # centred on the spine of frame 0
    long = next(a for a in d["annotations"] if a["frame_dir"] == "a13_s09_e03")
    assert long["total_frames"] == 196


# ------------------------------------------------------------------------------------- SHREC


def _shrec_tree(shared_data: Path, root: Path) -> None:
    src = shared_data / "shrec17" / "skeletons_world.txt"
    lines = src.read_text().splitlines()
    entries = {  # (g, f, s, e): (label28, text)
        (1, 1, 1, 1): src.read_text(),
        (2, 2, 3, 1): "\n".join(lines[:40]) + "\n",
        (5, 1, 2, 2): "\n".join(lines[:40]) + "\n",  # the index will claim 50 frames
    }
    for (g, f, s, e), text in entries.items():
        p = root / f"gesture_{g}/finger_{f}/subject_{s}/essai_{e}/skeletons_world.txt"
        p.parent.mkdir(parents=True)
        p.write_text(text)
    (root / "train_gestures.txt").write_text("1 1 1 1 1 1 95\n5 1 2 2 5 9 50\n")
    (root / "test_gestures.txt").write_text("2 2 3 1 2 4 40\n9 1 1 1 9 17 30\n")  # 2nd: no file


@pytest.mark.parametrize("classes", [14, 28])
def test_prepare_shrec(shared_data, tmp_path, capsys, classes):
    raw = tmp_path / "shrec"
    _shrec_tree(shared_data, raw)
    out = tmp_path / f"shrec{classes}.pkl"
    rc, stdout, _ = run_cli(capsys, "prepare", f"shrec{classes}", "--raw", raw, "--out", out,
                            "--no-progress")
    assert rc == 0 and "kept 2, rejected 2" in stdout
    rejects = (tmp_path / f"shrec{classes}.pkl.rejects.txt").read_text()
    assert "5_1_2_2\t" in rejects and "40 frames, the index says 50" in rejects
    assert "gesture_9/finger_1/subject_1/essai_1/skeletons_world.txt\tfile not found" in rejects
    d = load_pkl(out)
    assert d["split"] == {"train": ["1_1_1_1"], "val": ["2_2_3_1"]}
    labels = {a["frame_dir"]: a["label"] for a in d["annotations"]}
    assert labels == ({"1_1_1_1": 0, "2_2_3_1": 1} if classes == 14 else {"1_1_1_1": 0, "2_2_3_1": 3})
    assert len(d["meta"]["class_names"]) == classes
    kp = next(a for a in d["annotations"] if a["frame_dir"] == "1_1_1_1")["keypoint"]
    assert kp.shape == (1, 95, 22, 3)
    np.testing.assert_allclose(kp[0, 0, 0], 0, atol=1e-7)  # wrist of frame 0 at the origin
    assert np.linalg.norm(kp[0, 0, 10] - kp[0, 0, 0]) == pytest.approx(1.0, abs=1e-6)
    raw_xyz = np.loadtxt(shared_data / "shrec17/skeletons_world.txt").reshape(-1, 22, 3)
    scale = np.linalg.norm(raw_xyz[0, 10] - raw_xyz[0, 0])
    np.testing.assert_allclose(kp[0], (raw_xyz - raw_xyz[0, 0]) / scale, atol=1e-5)


def test_synthetic_is_dispatched_to_its_module(tmp_path, capsys, monkeypatch):
    import adasgn.commands.prepare as command

    seen = {}
    monkeypatch.setattr(command, "prepare_synthetic", lambda args: seen.update(vars(args)) or 0)
    rc, _, _ = run_cli(capsys, "prepare", "synthetic", "--out", tmp_path / "s.pkl",
                       "--seed", "7", "--num-samples", "30")
    assert rc == 0 and seen["seed"] == 7 and seen["num_samples"] == 30
    assert seen["out"] == str(tmp_path / "s.pkl")
