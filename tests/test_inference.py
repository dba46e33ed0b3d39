"""``Recognizer`` / ``adasgn predict`` on every real fixture format, a synthetic sample, and bad
inputs (clear errors naming what was expected and what was found)."""

import dataclasses
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from adasgn.cli import main as cli_main
from adasgn.data.classes import CLASS_NAMES
from adasgn.data.prepare import process_ntu_file
from adasgn.data.readers import DataError
from adasgn.inference import InputMismatchError, Prediction, Recognizer

from helpers import tiny_pkl

ROOT = Path(__file__).resolve().parents[1]


def make_checkpoint(path: Path, model: str = "sgn", dataset: str = "ntu60", layout: str | None = None,
                    in_channels: int | None = None, overrides=(), seed: int = 0) -> Path:
    """A checkpoint in the format of ``adasgn train`` (model, config, meta), untrained weights
    with non-trivial BatchNorm statistics (so that every input actually matters)."""
    from adasgn.data.presets import get_preset
    from adasgn.engine.config import load_config
    from adasgn.engine.run import build_model
    from adasgn.skeleton import get_layout

    cfg = load_config(ROOT / "configs" / "base.yaml",
                      [f"model.name={model}", f"data.dataset={dataset}", *overrides])
    preset = get_preset(dataset)
    if in_channels:
        preset = dataclasses.replace(preset, in_channels=in_channels)
    lay = get_layout(layout or preset.layout)
    torch.manual_seed(seed)
    net = build_model(cfg, lay, preset.num_classes, preset.in_channels)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
    names = list(CLASS_NAMES.get(dataset, [f"class{i}" for i in range(preset.num_classes)]))
    ck = {"format": "adasgn-checkpoint-1", "model": net.state_dict(), "config": cfg.to_dict(),
          "epoch": 0, "meta": {"dataset": dataset, "layout": lay.name, "class_names": names,
                               "model": model}}
    torch.save(ck, path)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    return {
        "ntu_sgn": make_checkpoint(d / "ntu_sgn.pt", "sgn", "ntu60"),
        "ntu_ada": make_checkpoint(d / "ntu_ada.pt", "adasgn", "ntu60"),
        "msr_ada": make_checkpoint(d / "msr_ada.pt", "adasgn", "msr"),
        "shrec_single": make_checkpoint(d / "shrec_single.pt", "single", "shrec14",
                                        overrides=["model.joints=11"]),
        "coco2d": make_checkpoint(d / "coco2d.pt", "sgn", "synthetic", layout="coco17",
                                  in_channels=2),
    }


@pytest.fixture(scope="module")
def recs(ckpts):
    return {k: Recognizer.from_checkpoint(v) for k, v in ckpts.items()}


def _check_prediction(p: Prediction, rec: Recognizer, persons: int):
    assert len(p.top) == 5
    probs = [t["probability"] for t in p.top]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    assert all(t["name"] == rec.class_names[t["index"]] for t in p.top)
    assert p.persons == persons and len(p.branches) == persons
    assert all(len(b) == rec.num_frames for b in p.branches)
    assert len(p.frame_indices) == rec.num_frames
    assert p.gmacs > 0 and p.forward_ms > 0 and p.total_ms >= p.forward_ms
    d = p.to_dict()
    json.dumps(d)  # JSON-ready
    assert d["prediction"] == p.top[0]["name"]


# ---------------------------------------------------------------------------------------------
# real fixtures


@pytest.mark.parametrize("action,persons", [("A001", 1), ("A058", 2)])
def test_ntu_skeleton_with_sgn_and_adasgn(shared_data, recs, action, persons):
    f = shared_data / "ntu" / f"S001C001P001R001{action}.skeleton"
    for key in ("ntu_sgn", "ntu_ada"):
        rec = recs[key]
        p = rec.predict(f)
        _check_prediction(p, rec, persons)
        assert p.source == f.name
        # the input is exactly what `adasgn prepare` stores, through the test-time pipeline
        kp, _ = process_ntu_file(f)
        assert p.num_frames == kp.shape[1]
        q = rec.predict({"frame_dir": "x", "label": 0, "keypoint": kp})
        assert q.top == p.top and q.branches == p.branches
        if key == "ntu_ada":
            choices = set(rec.model.choice_names)
            assert all(b in choices for person in p.branches for b in person)
            assert p.gmacs == pytest.approx(_expected_gmacs(rec.model, p), rel=1e-9)
        else:
            assert p.branches[0][0] == "static"
            assert p.gmacs == pytest.approx(0.160846, abs=1e-6)  # paper Table 1: SGN


def _expected_gmacs(model, p: Prediction) -> float:
    """Paper accounting from the reported branches: fixed + mean over persons of frame costs."""
    extra = {c.name: (0.0 if c.index == 0 else c.gmacs) for c in model.choices}
    t = len(p.branches[0])
    per_person = [model.gmacs_fixed + sum(extra[b] for b in person) / t for person in p.branches]
    return float(np.mean(per_person))


def test_prediction_is_deterministic(shared_data, recs):
    f = shared_data / "ntu" / "S001C001P001R001A058.skeleton"
    a, b = recs["ntu_ada"].predict(f), recs["ntu_ada"].predict(f)
    assert a.top == b.top and a.branches == b.branches and a.gmacs == b.gmacs


def test_msr_file_with_msr_checkpoint(shared_data, recs):
    f = shared_data / "msr_action3d" / "a03_s06_e02_skeleton3D.txt"
    p = recs["msr_ada"].predict(f)
    _check_prediction(p, recs["msr_ada"], 1)
    assert p.top[0]["name"] in CLASS_NAMES["msr"]


def test_shrec_file_with_shrec_checkpoint(shared_data, recs):
    p = recs["shrec_single"].predict(shared_data / "shrec17" / "skeletons_world.txt")
    _check_prediction(p, recs["shrec_single"], 1)
    assert p.num_frames == 95 and set(p.branches[0]) == {"static"}


def test_npy_inputs(shared_data, recs, tmp_path):
    rec = recs["ntu_sgn"]
    # official NTU txt2npy dict: read and centred like the .skeleton it came from
    p = rec.predict(shared_data / "ntu" / "arrays" / "S001C001P001R001A001.skeleton.npy")
    q = rec.predict(shared_data / "ntu" / "S001C001P001R001A001.skeleton")
    assert p.top[0]["index"] == q.top[0]["index"]
    assert p.top[0]["probability"] == pytest.approx(q.top[0]["probability"], abs=1e-5)
    # plain arrays (T, V, C) and (M, T, V, C), from a file and in memory
    kp, _ = process_ntu_file(shared_data / "ntu" / "S001C001P001R001A058.skeleton")
    np.save(tmp_path / "two.npy", kp)
    np.save(tmp_path / "one.npy", kp[0])
    two = rec.predict(tmp_path / "two.npy")
    assert two.persons == 2 and two.top == rec.predict(kp).top
    one = rec.predict(tmp_path / "one.npy")
    assert one.persons == 1 and one.top == rec.predict(torch.from_numpy(kp[0])).top


def test_pyskl_entry_and_pkl(shared_data, recs, tmp_path):
    f = shared_data / "pyskl" / "example_UCF101_skeleton.pkl"
    rec = recs["coco2d"]  # a 2-D COCO-17 model
    p = rec.predict(f)  # one bare annotation dict in the file: no --name needed
    _check_prediction(p, rec, 2)
    assert p.label == 0 and "v_ApplyEyeMakeup_g01_c01" in p.source
    with open(f, "rb") as fh:
        entry = pickle.load(fh)
    assert rec.predict(entry).top == p.top
    # a multi-sample pkl needs --name / --index
    pkl = tiny_pkl(tmp_path / "d.pkl", n=8)
    with pytest.raises(ValueError, match="holds 8 samples"):
        recs["ntu_sgn"].predict(pkl)
    a = recs["ntu_sgn"].predict(pkl, index=3)
    b = recs["ntu_sgn"].predict(pkl, name="S001C001P004R001A004_3")
    assert a.top == b.top and a.label == 3
    with pytest.raises(KeyError, match="no sample named 'nope'"):
        recs["ntu_sgn"].predict(pkl, name="nope")


def test_synthetic_sample(tmp_path, recs):
    from adasgn.data.synthetic import write_raw

    files = write_raw(tmp_path / "raw", num_samples=14, seed=3)
    two_person = [f for f in files if Path(f).name.endswith("A013.skeleton")]
    for f in [files[0], *two_person[:1]]:
        p = recs["ntu_ada"].predict(f)
        _check_prediction(p, recs["ntu_ada"], p.persons)
        assert p.persons in (1, 2)


# ---------------------------------------------------------------------------------------------
# bad inputs


def test_wrong_joint_count(shared_data, recs):
    with pytest.raises(InputMismatchError) as e:
        recs["ntu_sgn"].predict(np.zeros((30, 20, 3), np.float32) + 0.1)
    msg = str(e.value)
    assert "checkpoint expects layout ntu25: 25 joints x 3 coordinates" in msg
    assert "has 20 joints" in msg
    # a file of another dataset: the layout is named
    with pytest.raises(InputMismatchError, match=r"layout ntu25: 25 joints.*a03_s06_e02_skeleton3D"
                                                 r".*layout msr20: 20 joints"):
        recs["ntu_ada"].predict(shared_data / "msr_action3d" / "a03_s06_e02_skeleton3D.txt")
    with pytest.raises(InputMismatchError, match="layout msr20: 20 joints.*layout ntu25: 25 joints"):
        recs["msr_ada"].predict(shared_data / "ntu" / "S001C001P001R001A001.skeleton")


def test_2d_data_for_a_3d_model(shared_data, recs):
    with pytest.raises(InputMismatchError) as e:
        recs["ntu_sgn"].predict(shared_data / "pyskl" / "example_UCF101_skeleton.pkl")
    msg = str(e.value)
    assert "25 joints x 3 coordinates" in msg and "17 joints" in msg
    assert "2-D (x, y) data for a 3-D model" in msg
    # (C, T, V, M) array fed as (M, T, V, C): the hint says so
    with pytest.raises(InputMismatchError, match=r"\(C, T, V, M\) array\?"):
        recs["ntu_sgn"].predict(shared_data / "ntu" / "arrays" / "example_NTU-RGB-D_sketeton.npy")
    # and 3-D data for the 2-D model
    with pytest.raises(InputMismatchError, match="3-D .* data for a 2-D model"):
        recs["coco2d"].predict(np.ones((10, 17, 3), np.float32))


def test_wrong_layout_same_joint_count(recs, tmp_path):
    x = np.random.default_rng(0).normal(size=(1, 30, 20, 3)).astype(np.float32)
    with pytest.raises(InputMismatchError, match="expects layout msr20.*in layout kinect20"):
        recs["msr_ada"].predict(x, layout="kinect20")
    assert recs["msr_ada"].predict(x, layout="msr20").persons == 1
    # a pkl whose meta names another layout
    data = {"split": {}, "meta": {"layout": "kinect20"},
            "annotations": [{"frame_dir": "s", "label": 0, "total_frames": 30, "keypoint": x}]}
    with open(tmp_path / "k.pkl", "wb") as fh:
        pickle.dump(data, fh)
    with pytest.raises(InputMismatchError, match="in layout kinect20"):
        recs["msr_ada"].predict(tmp_path / "k.pkl")


def test_unreadable_and_missing_files(shared_data, recs, tmp_path):
    rec = recs["ntu_sgn"]
    with pytest.raises(FileNotFoundError, match="no such file"):
        rec.predict(tmp_path / "nope.skeleton")
    bad = tmp_path / "S001C001P001R001A001.skeleton"
    bad.write_text("3\n1\nnot a body\n")
    with pytest.raises(DataError, match="S001C001P001R001A001.skeleton"):
        rec.predict(bad)
    trunc = tmp_path / "a01_s01_e01_skeleton3D.txt"
    trunc.write_text("0.1 0.2 0.3 1\n" * 7)
    with pytest.raises(DataError, match="multiple of 20"):
        recs["msr_ada"].predict(trunc)
    (tmp_path / "x.npy").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable .npy"):
        rec.predict(tmp_path / "x.npy")
    (tmp_path / "x.csv").write_text("1,2,3\n")
    with pytest.raises(DataError, match="unsupported input"):
        rec.predict(tmp_path / "x.csv")
    with pytest.raises(InputMismatchError, match=r"\(T, V, C\) or \(M, T, V, C\)"):
        rec.predict(np.zeros((5, 25), np.float32))
    with pytest.raises(InputMismatchError, match="NaN"):
        rec.predict(np.full((5, 25, 3), np.nan, np.float32))


def test_budget_is_passed_to_the_model_or_refused(recs, ckpts):
    with pytest.raises(ValueError, match="AdaSGN checkpoints only.*sgn model"):
        Recognizer.from_checkpoint(ckpts["ntu_sgn"], budget=0.1)
    ada = recs["ntu_ada"]
    calls = []
    ada.model.set_budget = lambda g, mode: calls.append((g, mode))  # the model's hook (AdaSGN)
    try:
        ada.set_budget(0.05, mode="sample")
        assert calls == [(0.05, "sample")]
        ada.set_budget(0.05)
        assert calls[-1] == (0.05, "mean") and ada.budget == 0.05
        p = ada.predict(np.random.default_rng(0).normal(size=(20, 25, 3)).astype(np.float32))
        assert p.budget == 0.05
    finally:
        del ada.model.set_budget
        ada.budget = None


# ---------------------------------------------------------------------------------------------
# the command line, with a checkpoint really written by `adasgn train`


def test_cli_predict_on_a_trained_checkpoint(shared_data, tmp_path, capsys):
    pkl = tiny_pkl(tmp_path / "d.pkl", n=24)
    cmd = [sys.executable, "-m", "adasgn", "train", str(ROOT / "configs" / "base.yaml"),
           f"data.path={pkl}", "data.dataset=synthetic", "train.epochs=1", "train.batch_size=16",
           "data.workers=0", f"out_dir={tmp_path / 'runs'}", "name=t", "data.val_fraction=0.1",
           "train.threads=1", "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ck = tmp_path / "runs" / "t" / "checkpoints" / "last.pt"
    ntu = shared_data / "ntu" / "S001C001P001R001A001.skeleton"
    rc = cli_main(["predict", str(ck), str(ntu), str(pkl), "--index", "2", "--topk", "3",
                   "--threads", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and len(out) == 2
    assert out[0].startswith(ntu.name + ": class") and "branches static" in out[0]
    assert "GMACs" in out[0] and "forward" in out[0] and "ms" in out[0]
    rc = cli_main(["predict", str(ck), str(ntu), "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["input"] == str(ntu) and len(d["top"]) == 5 and d["model"] == "sgn"
    # the synthetic preset has 14 outputs; tiny_pkl names 4 of them, the rest keep their index
    assert {t["name"] for t in d["top"]} <= {f"class{i}" for i in range(4)} | {str(i) for i in range(4, 14)}
    # bad inputs: one error line each, the good one still predicted, exit code 2
    rc = cli_main(["predict", str(ck), str(tmp_path / "missing.skeleton"),
                   str(shared_data / "shrec17" / "skeletons_world.txt"), str(ntu), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 2 and len(res) == 3
    assert "no such file" in res[0]["error"]
    assert "expects layout ntu25: 25 joints x 3 coordinates" in res[1]["error"]
    assert "22 joints" in res[1]["error"] and "top" in res[2]
    rc = cli_main(["predict", str(ck), str(ntu), "--budget", "0.1"])
    assert rc == 2 and "AdaSGN checkpoints only" in capsys.readouterr().err
