"""Opening a dataset: every sample validated before any epoch (stop or skip), a dataset of one's
own without a preset (layout and class count from the data), and 2-D input (Penn Action, C=2)
through training, the bone / velocity streams, AdaSGN, predict and export."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from adasgn.data.pkl import load_pkl
from adasgn.engine.config import ConfigError, load_config
from adasgn.engine.data import load_data
from adasgn.engine.run import build_model, load_run
from adasgn.engine.trainer import train
from adasgn.errors import DataError
from adasgn.inference import Recognizer
from adasgn.skeleton import layouts as layouts_module

from helpers import tiny_pkl

ROOT = Path(__file__).resolve().parents[1]
FAST = ["train.batch_size=8", "train.milestones=[5]", "data.workers=0", "train.threads=1",
        "data.val_fraction=0.1", "train.eval_batch_size=32"]


def _cfg(tmp_path, pkl, *extra):
    return load_config(ROOT / "configs" / "base.yaml",
                       [f"data.path={pkl}", f"out_dir={tmp_path / 'runs'}", "name=r",
                        "train.epochs=1", *FAST, *extra])


def _with_bad_sample(tmp_path) -> Path:
    pkl = tiny_pkl(tmp_path / "msr.pkl", n=24, classes=3, dataset="msr", layout="msr20", joints=20)
    data = pickle.loads(pkl.read_bytes())
    name = data["split"]["xsub_val"][2]
    ann = next(a for a in data["annotations"] if a["frame_dir"] == name)
    ann["keypoint"] = ann["keypoint"][:, :, :19]
    pkl.write_bytes(pickle.dumps(data))
    return pkl


def test_a_19_joint_test_sample_stops_the_run_at_open(tmp_path):
    pkl = _with_bad_sample(tmp_path)
    bad = load_pkl(pkl)["split"]["xsub_val"][2]
    cfg = _cfg(tmp_path, pkl, "data.dataset=msr")
    with pytest.raises(DataError) as exc:
        train(cfg, progress=False)
    msg = str(exc.value)
    assert str(pkl) in msg and f"sample {bad!r} (split xsub_val): 19 joints, layout msr20 has 20" in msg
    assert "data.on_bad_sample=skip" in msg
    assert not (tmp_path / "runs" / "r" / "checkpoints").exists()  # no epoch ran


def test_skip_leaves_the_bad_sample_out_and_lists_it(tmp_path, capsys):
    pkl = _with_bad_sample(tmp_path)
    bad = load_pkl(pkl)["split"]["xsub_val"][2]
    rd = load_data(_cfg(tmp_path, pkl, "data.dataset=msr", "data.on_bad_sample=skip"))
    err = capsys.readouterr().err
    assert "1 of 24 samples are unusable, skipped" in err and bad in err
    assert bad not in rd.names("test") and len(rd.names("test")) == 5
    assert "17 of 20 classes have no usable sample" in err  # msr has 20 classes, the data 3


def test_other_problems_are_named(tmp_path):
    pkl = tiny_pkl(tmp_path / "d.pkl", n=16, classes=2, dataset="custom", layout="ntu25")
    data = load_pkl(pkl)
    anns = {a["frame_dir"]: a for a in data["annotations"]}
    names = list(anns)
    anns[names[0]]["keypoint"] = np.zeros_like(anns[names[0]]["keypoint"])
    anns[names[1]]["label"] = 7
    anns[names[2]]["keypoint"] = anns[names[2]]["keypoint"][..., :2]
    data["meta"]["num_classes"] = 2
    with pytest.raises(DataError) as exc:
        load_data(_cfg(tmp_path, pkl, "data.dataset=null"), source=data)
    msg = str(exc.value)
    assert "3 of 16 samples are unusable" in msg
    assert f"{names[0]!r} (split xsub_train): all-zero sequence" in msg
    assert f"{names[1]!r} (split xsub_train): label 7 is outside 0..1 (2 classes)" in msg
    assert f"{names[2]!r} (split xsub_train): 2 channels, the dataset has 3" in msg


def test_own_dataset_without_a_preset(tmp_path, capsys, one_thread):
    yaml_path = tmp_path / "arm6.yaml"
    yaml_path.write_text("name: arm6\njoints: [s, e, w, h, f, t]\nparents: [null, s, e, w, h, f]\n"
                         "groupings: {2: [[s, e, w], [h, f, t]], 1: [[s, e, w, h, f, t]]}\n")
    pkl = tiny_pkl(tmp_path / "own.pkl", n=30, classes=3, dataset="mine", layout=str(yaml_path),
                   joints=6)
    cfg = _cfg(tmp_path, pkl, "data.dataset=null", "model.name=adasgn")
    result = train(cfg, progress=False)
    assert 0 <= result["top1"] <= 100
    layouts_module._REGISTRY.pop("arm6")  # a fresh process: the layout comes back from the config
    run = load_run(tmp_path / "runs" / "r" / "checkpoints" / "last.pt")
    assert run.model.num_classes == 3 and run.layout.name == "arm6" and run.num_persons == 1
    assert run.cfg.data.layout == str(yaml_path) and run.class_names == ["class0", "class1", "class2"]
    p = Recognizer(run).predict(load_pkl(pkl)["annotations"][0])
    assert p.top[0]["name"] in run.class_names

    # no layout anywhere: an error; data.layout given for a pkl without one: a warning
    data = load_pkl(pkl)
    del data["meta"]["layout"]
    with pytest.raises(ConfigError, match="no meta.layout and data.layout is not set"):
        load_data(_cfg(tmp_path, pkl, "data.dataset=custom"), source=data)
    rd = load_data(_cfg(tmp_path, pkl, "data.dataset=custom", f"data.layout={yaml_path}"), source=data)
    assert rd.layout.num_joints == 6 and rd.preset.num_classes == 3
    assert "the pkl has no meta.layout; using data.layout" in capsys.readouterr().err


def _arm6_cfg(tmp_path, layout_name: str, epochs: int):
    """A recipe config on a 24-sequence pkl of a 6-joint layout of its own (6 -> 2 -> 1)."""
    yaml_path = tmp_path / "arm6.yaml"
    yaml_path.write_text(f"name: {layout_name}\njoints: [s, e, w, h, f, t]\nparents: [null, s, e, w, h, f]\n"
                         "groupings: {2: [[s, e, w], [h, f, t]], 1: [[s, e, w, h, f, t]]}\n")
    pkl = tiny_pkl(tmp_path / "own.pkl", n=24, classes=3, dataset="mine", layout=str(yaml_path),
                   joints=6)
    return _cfg(tmp_path, pkl, "data.dataset=null", "recipe.freeze_epochs=0",
                "recipe.transform_freeze=0", f"train.epochs={epochs}")


def test_the_recipe_runs_on_a_dataset_without_a_preset(tmp_path, one_thread):
    """adasgn recipe: six singles from the pkl's own layout (here 6 joints -> 1 / 2 / 6), then
    AdaSGN from them, with the class count of the data."""
    from adasgn.engine.recipe import run_recipe, single_stages
    cfg = _arm6_cfg(tmp_path, "arm6r", epochs=2)
    assert [s for s, _, _ in single_stages(cfg)] == [
        "single_small1", "single_big1", "single_small2", "single_big2", "single_small6", "single_big6"]
    res = run_recipe(cfg, progress=False)
    assert set(res) == {"sgn", "adasgn", *(s for s, _, _ in single_stages(cfg))}
    assert run_recipe(cfg, progress=False)["adasgn"] == res["adasgn"]  # finished stages are kept
    run = load_run(tmp_path / "runs" / "r" / "adasgn" / "checkpoints" / "best.pt")
    assert run.model.num_classes == 3 and run.layout.num_joints == 6
    layouts_module._REGISTRY.pop("arm6r", None)


def test_recipe_stages_run_apart(tmp_path, one_thread):
    """--stages: SGN and the singles as separate calls (e.g. separate processes), then AdaSGN;
    an AdaSGN stage before its singles and an unknown stage are clear errors."""
    from adasgn.engine.recipe import StageError, recipe_stages, run_recipe, run_sweep, sweep_stages
    cfg = _arm6_cfg(tmp_path, "arm6s", epochs=1)
    stages = recipe_stages(cfg)
    assert stages[0] == "sgn" and stages[-1] == "adasgn" and len(stages) == 8
    assert sweep_stages(cfg, [16.0])[len(stages):] == ["adasgn_a16", "rand", "fuse"]
    with pytest.raises(StageError, match="have not finished: single_small1, single_big1, "):
        run_recipe(cfg, progress=False, only=["adasgn"])
    with pytest.raises(StageError, match="unknown stage.*nope"):
        run_recipe(cfg, progress=False, only=["nope"])
    assert set(run_recipe(cfg, progress=False, only=["sgn", "single_small1"])) == {"sgn", "single_small1"}
    assert not (tmp_path / "runs" / "r" / "single_big1").exists()
    rest = run_recipe(cfg, progress=False, only=stages[2:-1])
    assert set(rest) == set(stages[:-1])  # earlier stages reported, not retrained
    res = run_sweep(cfg, [16.0], baselines=False, progress=False, only=["adasgn", "adasgn_a16"])
    assert set(res) == {*stages, "adasgn_a16"} and res["adasgn_a16"]["alpha"] == 16.0
    layouts_module._REGISTRY.pop("arm6s", None)


@pytest.fixture(scope="module")
def penn_pkl(shared_data, tmp_path_factory):
    pytest.importorskip("scipy")
    from adasgn.data.prepare import prepare_penn

    files = sorted((shared_data / "penn_action").glob("*.mat"))
    pick = files[::58][:40]  # 40 videos over all 15 actions, both splits
    out = tmp_path_factory.mktemp("penn") / "penn.pkl"
    res = prepare_penn(pick, out, workers=1, progress=False)
    assert res.kept == 40
    return out


def test_penn_2d_trains_predicts_and_exports(penn_pkl, tmp_path, one_thread):
    cfg = _cfg(tmp_path, penn_pkl, "data.dataset=penn", "data.train_split=train", "data.test_split=val", "model.name=sgn",
               "data.rotation=10")  # the in-plane rotation of 2-D data
    result = train(cfg, progress=False)
    assert 0 <= result["top1"] <= 100
    ck = tmp_path / "runs" / "r" / "checkpoints" / "last.pt"
    run = load_run(ck)
    assert run.model.in_channels == 2 and run.model.num_classes == 15 and run.layout.name == "penn13"
    ann = load_pkl(penn_pkl)["annotations"][0]
    p = Recognizer(run).predict(ann)
    assert p.top[0]["name"] in run.class_names
    pytest.importorskip("onnxruntime")
    from adasgn.export import export_checkpoint, load_onnx

    rep = export_checkpoint(ck, tmp_path / "penn.onnx")
    assert rep["input"][1] == 2
    x = next(iter(run.loader("val")))[0]
    got, _ = load_onnx(rep["onnx"]).run(x.numpy())
    with torch.no_grad():
        ref = run.model(x)[0].numpy()
    assert np.abs(got - ref).max() < 1e-3


@pytest.mark.parametrize("stream", ["bone", "velocity"])
def test_penn_2d_streams_through_adasgn_and_singles(penn_pkl, tmp_path, stream, one_thread):
    for model in ("adasgn", "single"):
        cfg = _cfg(tmp_path, penn_pkl, "data.dataset=penn", "data.train_split=train",
                   "data.test_split=val", f"data.stream={stream}", f"model.name={model}",
                   "model.joints=7")
        rd = load_data(cfg)
        x, y, _ = next(iter(rd.train_loader(0)))
        assert x.shape[1:] == (2, 20, 13, 1)
        net = build_model(cfg, rd.layout, rd.preset.num_classes, rd.preset.in_channels)
        logits, _ = net(x)
        logits.sum().backward()
        assert logits.shape == (len(x), 15)


def test_random_rotation_of_2d_data_stays_in_the_image_plane():
    from adasgn.data.transforms import RandomRotation

    kp = np.random.default_rng(0).normal(size=(1, 5, 13, 2)).astype(np.float32)
    s = RandomRotation(degrees=30)({"keypoint": kp.copy(), "rng": np.random.default_rng(3)})
    ax, ay, az = s["rotation_deg"]
    assert ax == ay == 0 and az != 0 and s["keypoint"].shape == kp.shape
    np.testing.assert_allclose(np.linalg.norm(s["keypoint"], axis=-1), np.linalg.norm(kp, axis=-1),
                               rtol=1e-5)
    a = np.radians(az)
    rz = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    np.testing.assert_allclose(s["keypoint"], kp @ rz, atol=1e-5)
