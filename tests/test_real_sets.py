"""F-PHAB, UTD-MHAD and Penn Action on the real files: ``adasgn prepare fpha | utd_mhad | penn``
counts checked against the data, and the generic ``adasgn prepare files`` giving the same pkl."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from adasgn.cli import main
from adasgn.data.pkl import load_pkl
from adasgn.data.prepare import prepare_penn
from adasgn.skeleton import get_layout



def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _same(a: dict, b: dict) -> None:
    """Same names, labels and splits (order aside), keypoints within 1e-6."""
    A = {x["frame_dir"]: x for x in a["annotations"]}
    B = {x["frame_dir"]: x for x in b["annotations"]}
    assert sorted(A) == sorted(B)
    assert {k: sorted(v) for k, v in a["split"].items()} == {k: sorted(v) for k, v in b["split"].items()}
    for k, x in A.items():
        assert x["label"] == B[k]["label"], k
        assert x["keypoint"].shape == B[k]["keypoint"].shape, k
        np.testing.assert_allclose(x["keypoint"], B[k]["keypoint"], atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def fpha_pkl(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("fpha") / "fpha.pkl"
    assert main(["prepare", "fpha", "--raw", str(shared_data / "fpha"), "--out", str(out),
                 "--no-progress", "--workers", "2"]) == 0
    return out


def test_fpha_counts_units_and_empty_files(shared_data, fpha_pkl):
    d = load_pkl(fpha_pkl)
    assert len(d["annotations"]) == 1175
    assert len(d["split"]["train"]) == 600 and len(d["split"]["val"]) == 575
    rejects = (fpha_pkl.parent / "fpha.pkl.rejects.txt").read_text().splitlines()
    assert sorted(rejects) == [f"{n}\tempty file" for n in (
        "Subject_2/close_milk/4", "Subject_2/put_tea_bag/2", "Subject_4/flip_sponge/2")]
    assert d["meta"]["layout"] == "fpha21" and len(d["meta"]["class_names"]) == 45
    assert {a["label"] for a in d["annotations"]} == set(range(45))
    a = next(x for x in d["annotations"] if x["frame_dir"] == "Subject_1/open_juice_bottle/2")
    assert a["label"] == 0 and a["keypoint"].shape[::2] == (1, 21) and a["keypoint"].shape[3] == 3
    raw = np.loadtxt(shared_data / "fpha/Hand_pose_annotation_v1/Subject_1/open_juice_bottle/2/"
                     "skeleton.txt")[:, 1:].reshape(-1, 21, 3)
    np.testing.assert_allclose(a["keypoint"][0], (raw - raw[0, 0]) / 1000.0, atol=1e-6)
    assert a["total_frames"] == len(raw)


def test_fpha_both_ways_identical(shared_data, fpha_pkl, tmp_path, capsys):
    index = tmp_path / "index.csv"
    with open(index, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split", "name"])
        section = None
        for line in (shared_data / "fpha" / "data_split_action_recognition.txt").read_text().splitlines():
            parts = line.split()
            if parts and parts[0] in ("Training", "Test"):
                section = "train" if parts[0] == "Training" else "val"
            elif len(parts) == 2:
                w.writerow([parts[0] + "/skeleton.txt", parts[1], section, parts[0]])
    out = tmp_path / "files.pkl"
    rc, stdout, _ = run_cli(capsys, "prepare", "files", "--raw",
                            shared_data / "fpha" / "Hand_pose_annotation_v1", "--out", out,
                            "--layout", "fpha21", "--axes", "T,V,C", "--columns", "1:",
                            "--index", index, "--scale", "0.001", "--centre", "wrist",
                            "--drop-zero-frames", "--name", "fpha", "--no-progress")
    assert rc == 0 and "kept 1175" in stdout and "3 files under --raw are not in --index" in stdout
    b = load_pkl(out)
    _same(load_pkl(fpha_pkl), b)
    assert b["meta"]["num_classes"] == 45


def test_utd_both_ways(shared_data, tmp_path, capsys):
    pytest.importorskip("scipy")
    a_out, b_out = tmp_path / "utd.pkl", tmp_path / "files.pkl"
    rc, stdout, _ = run_cli(capsys, "prepare", "utd_mhad", "--raw", shared_data / "utd_mhad",
                            "--out", a_out, "--no-progress", "--workers", "2")
    assert rc == 0 and "kept 861, rejected 0" in stdout
    a = load_pkl(a_out)
    assert len(a["split"]["xsub_train"]) == 431 and len(a["split"]["xsub_val"]) == 430
    assert {x["label"] for x in a["annotations"]} == set(range(27))
    assert all(int(n.split("_s")[1].split("_")[0]) % 2 == 1 for n in a["split"]["xsub_train"])
    x = next(x for x in a["annotations"] if x["frame_dir"] == "a1_s1_t1")
    assert x["keypoint"].shape[2:] == (20, 3)
    np.testing.assert_array_equal(x["keypoint"][0, 0, get_layout("utd20").index("spine")], 0)
    rc, stdout, _ = run_cli(
        capsys, "prepare", "files", "--raw", shared_data / "utd_mhad", "--out", b_out,
        "--layout", "utd20", "--key", "d_skel", "--axes", "V,C,T", "--ext", "mat",
        "--pattern", r"(?P<name>a(?P<label>\d+)_s(?P<subject>\d+)_t\d+)_skeleton",
        "--first-label", "1", "--train-subjects", "1,3,5,7", "--centre", "spine",
        "--drop-zero-frames", "--name", "utd_mhad", "--no-progress", "--workers", "2")
    assert rc == 0 and "kept 861, rejected 0" in stdout
    _same(a, load_pkl(b_out))


def test_penn_both_ways_and_visibility_modes(shared_data, tmp_path, capsys):
    import scipy.io

    raw = shared_data / "penn_action"
    a_out, b_out = tmp_path / "penn.pkl", tmp_path / "files.pkl"
    rc, stdout, _ = run_cli(capsys, "prepare", "penn", "--raw", raw, "--out", a_out,
                            "--no-progress", "--workers", "2")
    assert rc == 0 and "kept 2326, rejected 0" in stdout
    a = load_pkl(a_out)
    assert len(a["split"]["train"]) == 1258 and len(a["split"]["val"]) == 1068
    assert {x["keypoint"].shape[3] for x in a["annotations"]} == {2}
    assert len(a["meta"]["class_names"]) == 15 and a["meta"]["visibility"] == "drop"
    index = tmp_path / "index.csv"
    with open(index, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        for f in sorted(raw.glob("*.mat")):
            m = scipy.io.loadmat(f, variable_names=["action", "train"])
            w.writerow([f.name, str(m["action"][0]), "train" if int(m["train"][0, 0]) == 1 else "val"])
    rc, stdout, _ = run_cli(capsys, "prepare", "files", "--raw", raw, "--out", b_out, "--layout",
                            "penn13", "--key", "x,y", "--index", index, "--flip-y", "--centre",
                            "l_hip+r_hip", "--unit-length", "l_shoulder+r_shoulder:l_hip+r_hip",
                            "--drop-zero-frames", "--coords", "2", "--name", "penn",
                            "--no-progress", "--workers", "2")
    assert rc == 0 and "kept 2326" in stdout
    b = load_pkl(b_out)
    _same(a, b)
    assert b["meta"]["class_names"] == a["meta"]["class_names"]


def test_penn_visibility_options(shared_data, tmp_path):
    pytest.importorskip("scipy")
    files = sorted((shared_data / "penn_action").glob("*.mat"))
    few = [files[0], files[1515], files[1919]]  # 1516: every joint invisible; 1920: no torso
    z = prepare_penn(few, tmp_path / "z.pkl", workers=1, progress=False, visibility="zero")
    why = {r.name: r.reason for r in z.rejects}
    assert z.kept == 1 and "all frames are zero" in why["1516.mat"]
    assert "l_hip+r_hip are missing (zero) in every frame" in why["1920.mat"]
    c = prepare_penn(few, tmp_path / "c.pkl", workers=1, progress=False, visibility="channel")
    d = load_pkl(tmp_path / "c.pkl")
    assert c.kept == 3 and {x["keypoint"].shape[3] for x in d["annotations"]} == {3}
    v = d["annotations"][0]["keypoint"][0, :, :, 2]
    assert set(np.unique(v)) <= {0.0, 1.0} and 0 < v.mean() < 1  # visibility left as it is
