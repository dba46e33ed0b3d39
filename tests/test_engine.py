import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from adasgn.engine.checkpoint import load_checkpoint
from adasgn.engine.config import ConfigError, load_config
from adasgn.engine.data import load_data
from adasgn.engine.evaluate import autocast
from adasgn.engine.recipe import run_recipe, run_sweep
from adasgn.engine.trainer import Trainer
from adasgn.models.losses import build_criterion, label_smoothing_cross_entropy

from helpers import tiny_pkl

ROOT = Path(__file__).resolve().parents[1]


def _args(pkl, out, name, epochs=3, extra=()):
    return [f"data.path={pkl}", "data.dataset=synthetic", f"train.epochs={epochs}",
            "train.batch_size=16", "train.milestones=[2]", "data.workers=0", f"out_dir={out}",
            f"name={name}", "data.val_fraction=0.1", "train.threads=1", *extra]


def _train(args, env=None, check=True):
    cmd = [sys.executable, "-m", "adasgn", "train", str(ROOT / "configs" / "base.yaml"), *args,
           "--no-progress"]
    e = dict(os.environ, **(env or {}))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_label_smoothing_matches_official_definition():
    logits = torch.randn(5, 7)
    y = torch.tensor([0, 3, 6, 2, 2])
    target = torch.full((5, 7), 0.1 / 6)
    target[torch.arange(5), y] = 0.9
    ref = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
    torch.testing.assert_close(label_smoothing_cross_entropy(logits, y, 0.1), ref)


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        load_config(ROOT / "configs" / "base.yaml", ["train.epoch=3"])
    with pytest.raises(ConfigError, match="data.stream"):
        load_config(ROOT / "configs" / "base.yaml", ["data.stream=bones"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    cfg = load_config(ROOT / "configs" / "base.yaml", ["train.milestones=[3,4]", "model.name=single"])
    assert cfg.train.milestones == [3, 4] and cfg.model.name == "single"
    assert cfg.train.lr == 1e-3 and cfg.train.epochs == 120  # spec 4.1 defaults


def test_kill_and_resume_gives_the_same_final_metrics(tmp_path):
    pkl = tiny_pkl(tmp_path / "d.pkl", n=96)
    out = tmp_path / "runs"
    # uninterrupted reference
    _train(_args(pkl, out, "ref", epochs=4))
    ref = json.loads((out / "ref" / "test.json").read_text())
    # crash: SIGKILL in the middle of epoch 2 (65 training samples, batch 16: 4 batches an epoch)
    crashed = _train(_args(pkl, out, "crash", epochs=4), env={"ADASGN_KILL_AFTER_BATCHES": "10"},
                     check=False)
    assert crashed.returncode == -9  # killed, not a clean exit
    ck = load_checkpoint(out / "crash" / "checkpoints" / "last.pt")
    assert ck["epoch"] == 1  # the last finished epoch survived the crash intact
    assert not (out / "crash" / "test.json").exists()
    leftovers = [p for p in (out / "crash" / "checkpoints").iterdir() if p.suffix == ".tmp"]
    assert leftovers == []
    # resume finishes the run
    proc = _train(_args(pkl, out, "crash", epochs=4) + ["--resume"])
    assert "resumed from" in proc.stderr
    got = json.loads((out / "crash" / "test.json").read_text())
    for key in ("top1", "top5", "selected_epoch", "per_class"):
        assert got[key] == ref[key], key
    s_ref = np.load(out / "ref" / "scores_test.npz")["scores"]
    s_got = np.load(out / "crash" / "scores_test.npz")["scores"]
    np.testing.assert_array_equal(s_ref, s_got)
    lines = [json.loads(x) for x in (out / "crash" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2, 3]


def test_checkpoint_contents(tmp_path):
    pkl = tiny_pkl(tmp_path / "d.pkl", n=48)
    _train(_args(pkl, tmp_path / "runs", "c", epochs=1))
    ck = load_checkpoint(tmp_path / "runs" / "c" / "checkpoints" / "last.pt")
    for key in ("model", "optimizer", "scheduler", "epoch", "rng", "config", "versions"):
        assert key in ck
    assert ck["versions"]["torch"] == str(torch.__version__)
    run = tmp_path / "runs" / "c"
    assert (run / "config.yaml").is_file() and (run / "env.json").is_file()
    assert json.loads((run / "env.json").read_text())["adasgn"]


def test_test_command_and_ensemble(tmp_path, capsys):
    from adasgn.cli import main

    pkl = tiny_pkl(tmp_path / "d.pkl", n=64)
    _train(_args(pkl, tmp_path / "runs", "e", epochs=2))
    ckpt = tmp_path / "runs" / "e" / "checkpoints" / "best.pt"
    assert main(["test", str(ckpt), "--json", "--no-progress"]) == 0
    rep = json.loads(capsys.readouterr().out)
    ref = json.loads((tmp_path / "runs" / "e" / "test.json").read_text())
    assert rep["top1"] == ref["top1"] and rep["num_samples"] == 16
    assert rep["gflops_executed"] > rep["gmacs"] > 0
    scores = rep["scores_path"]
    assert main(["ensemble", scores, scores, "--json"]) == 0
    ens = json.loads(capsys.readouterr().out)
    assert ens["top1"] == ref["top1"]  # fusing a stream with itself changes nothing


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    pkl = tiny_pkl(tmp_path / "d.pkl", n=70)
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "adasgn", "train", str(ROOT / "configs" / "base.yaml"),
           *_args(pkl, out, "ddp", epochs=2), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = json.loads((out / "ddp" / "env.json").read_text())
    assert env["world_size"] == 2
    res = json.loads((out / "ddp" / "test.json").read_text())
    # each of the 18 test samples (odd count: no padding allowed) counted exactly once
    assert res["num_samples"] == 70 - int(0.75 * 70)
    names = np.load(out / "ddp" / "scores_test.npz")["names"]
    assert len(names) == len(set(names.tolist())) == res["num_samples"]


def test_interrupted_recipe_resumes_at_the_right_stage(tmp_path):
    pkl = tiny_pkl(tmp_path / "d.pkl", n=96)
    out = tmp_path / "runs"
    args = [str(ROOT / "configs" / "base.yaml"), *_args(pkl, out, "rec", epochs=1),
            "recipe.single_epochs=1", "recipe.freeze_epochs=0", "recipe.transform_freeze=0",
            "model.name=adasgn", "--no-progress"]
    cmd = [sys.executable, "-m", "adasgn", "recipe", *args]
    # 4 batches per 1-epoch stage: stages sgn, single_small1 finish, single_big1 dies mid-epoch
    crashed = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                             env=dict(os.environ, ADASGN_KILL_AFTER_BATCHES="10"))
    assert crashed.returncode == -9
    assert (out / "rec" / "sgn" / "test.json").is_file()
    assert (out / "rec" / "single_small1" / "test.json").is_file()
    assert not (out / "rec" / "single_big1" / "test.json").exists()
    sgn_mtime = (out / "rec" / "sgn" / "test.json").stat().st_mtime
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rec/sgn: finished earlier, skipped" in done.stderr
    assert "rec/single_small1: finished earlier, skipped" in done.stderr
    assert "rec/single_big1: training" in done.stderr
    assert (out / "rec" / "sgn" / "test.json").stat().st_mtime == sgn_mtime  # not redone
    ada = json.loads((out / "rec" / "adasgn" / "test.json").read_text())
    assert ada["model"] == "adasgn" and ada["num_samples"] == 24
    # the AdaSGN stage was initialised from the six singles the recipe trained
    cfg = (out / "rec" / "adasgn" / "config.yaml").read_text()
    assert cfg.count("checkpoints/best.pt") == 6


def test_static_gmacs_is_per_model_even_when_ids_are_reused():
    import gc

    from adasgn.models import create_model

    got = []
    for size in ("small", "big", "small", "big"):
        m = create_model("single", joints=1, size=size)
        got.append(m.gmacs_fixed)
        del m
        gc.collect()
    assert got == [pytest.approx(0.009870896), pytest.approx(0.013178416)] * 2


def test_plot_qualitative_feeds_the_run_its_own_eval_pipeline(tmp_path):
    """Regression (issue 11): `adasgn plot qualitative` passed no rot_norm, so a view-normalised
    run (ntu60-xview) was fed inputs preprocessed differently from training. Now every consumer
    of a run takes its steps from the run (engine.run / engine.data.run_pipeline)."""
    from adasgn.commands.plot import qualitative_figure, qualitative_inputs
    from adasgn.data.dataset import SkeletonDataset, default_pipeline
    from adasgn.engine.config import load_config
    from adasgn.engine.run import build_model, load_run
    from adasgn.skeleton import get_layout

    pkl = tiny_pkl(tmp_path / "d.pkl", n=24, persons=2)
    cfg = load_config(ROOT / "configs" / "base.yaml", [
        f"data.path={pkl}", "data.dataset=synthetic", "data.rot_norm=true", "model.name=adasgn",
        "data.val_fraction=0.1"])
    lay = get_layout("ntu25")
    torch.manual_seed(0)
    net = build_model(cfg, lay, 14, 3)
    ck = tmp_path / "ada.pt"
    torch.save({"model": net.state_dict(), "config": cfg.to_dict(), "epoch": 0,
                "meta": {"dataset": "synthetic", "layout": "ntu25"}}, ck)
    run = load_run(ck)
    x, skel, name, _ = qualitative_inputs(run, "0")
    test = run.data().dataset("test")
    assert name == test.names[0]
    torch.testing.assert_close(x, test[0][0])  # the run's eval pipeline, RotNorm included
    assert any(s["type"] == "RotNorm" for s in run.eval_pipeline())
    plain = SkeletonDataset(str(pkl), "xsub_val", default_pipeline("synthetic", "joint", False))
    assert not torch.allclose(x, plain[0][0])  # what the old code fed: no view normalisation
    np.testing.assert_allclose(skel, x.numpy()[:, :, :, 0].transpose(1, 2, 0), rtol=1e-6)
    assert qualitative_figure(str(ck), "0", out=str(tmp_path / "q.png")).stat().st_size > 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_node_torchrun(tmp_path):
    """Two "nodes" on this machine, the way users launch multi-node jobs: torchrun --nnodes 2
    --nproc_per_node 1 with the c10d rendezvous, started twice. Every test sample is counted
    once and both ranks end with the same weights (DDP kept them in step)."""
    pkl = tiny_pkl(tmp_path / "d.pkl", n=70)
    out = tmp_path / "runs"
    port = _free_port()
    procs = []
    for node in (0, 1):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
               "--nproc_per_node", "1", "--rdzv-backend", "c10d",
               "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "adasgn-test",
               "-m", "adasgn", "train", str(ROOT / "configs" / "base.yaml"),
               *_args(pkl, out, "twonode", epochs=2), "--no-progress"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=dict(os.environ, OMP_NUM_THREADS="1")))
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    res = json.loads((out / "twonode" / "test.json").read_text())
    assert res["world_size"] == 2
    assert res["num_samples"] == 70 - int(0.75 * 70)
    names = np.load(out / "twonode" / "scores_test.npz")["names"]
    assert len(names) == len(set(names.tolist())) == res["num_samples"]
    a, b = res["last_weights_digest"]
    assert a == b


def test_selection_rules(tmp_path):
    """train.select: which epoch becomes best.pt, and never one inside the frozen phase."""
    from adasgn.engine.trainer import cross_entropy, selection_key

    scores = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]))
    assert cross_entropy(scores, np.array([0, 1])) == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2)
    # equal top-1: top1 keeps the earlier epoch, top1_loss takes the lower loss
    assert not selection_key("top1", 0.9, 0.3, 5) > selection_key("top1", 0.9, 0.5, 2)
    assert selection_key("top1_loss", 0.9, 0.3, 5) > selection_key("top1_loss", 0.9, 0.5, 2)
    assert selection_key("top1_loss", 0.95, 0.9, 5) > selection_key("top1_loss", 0.9, 0.1, 2)
    assert selection_key("loss", 0.5, 0.2, 5) > selection_key("loss", 0.9, 0.3, 2)
    assert selection_key("last", 0.1, 9.0, 5) > selection_key("last", 0.9, 0.1, 4)
    pkl = tiny_pkl(tmp_path / "d.pkl", n=48)
    out = tmp_path / "runs"
    _train(_args(pkl, out, "last", epochs=3, extra=["train.select=last"]))
    res = json.loads((out / "last" / "test.json").read_text())
    log = [json.loads(x) for x in (out / "last" / "metrics.jsonl").read_text().splitlines()]
    assert res["selected_epoch"] == 2 and res["selection"] == "last"
    assert all("val_loss" in r for r in log)
    # AdaSGN from six singles with a frozen phase of 2 epochs: epochs 0-1 are never selected
    from adasgn.models import create_model

    singles = []
    for i, (j, size) in enumerate((j, z) for j in (1, 9, 25) for z in ("small", "big")):
        path = tmp_path / f"single{i}.pt"
        torch.save(create_model("single", joints=j, size=size, num_classes=14).state_dict(), path)
        singles.append(str(path))
    _train(_args(pkl, out, "frozen", epochs=3, extra=[
        "model.name=adasgn", "train.freeze_epochs=2", "train.select=loss",
        f"adasgn.pretrained=[{','.join(singles)}]"]))
    res = json.loads((out / "frozen" / "test.json").read_text())
    assert res["selectable_from"] == 2 and res["selected_epoch"] == 2
    proc = _train(_args(pkl, out, "bad", epochs=1, extra=["train.select=median"]), check=False)
    assert proc.returncode == 2 and "train.select must be one of" in proc.stderr


def test_select_after_decay(tmp_path):
    """adasgn.select_after_decay: AdaSGN keeps no epoch before the first LR decay (clamped to the
    last epoch); a run saved under the old rule is not silently resumed under the new one."""
    from adasgn.engine.config import load_config
    from adasgn.engine.trainer import selectable_from

    def first(*over):
        return selectable_from(load_config(ROOT / "configs" / "base.yaml",
                                           ["train.epochs=60", "train.milestones=[45,30]", *over]))

    assert first("model.name=adasgn") == 0
    assert first("model.name=adasgn", "adasgn.select_after_decay=true") == 30
    assert first("model.name=sgn", "adasgn.select_after_decay=true") == 0  # AdaSGN only
    assert first("model.name=adasgn", "adasgn.select_after_decay=true", "train.epochs=12") == 11
    pkl = tiny_pkl(tmp_path / "d.pkl", n=48)
    out = tmp_path / "runs"
    ada = ["model.name=adasgn", "train.select=loss", "train.milestones=[2]"]
    _train(_args(pkl, out, "fresh", epochs=4, extra=[*ada, "adasgn.select_after_decay=true"]))
    res = json.loads((out / "fresh" / "test.json").read_text())
    assert res["selectable_from"] == 2 and res["selected_epoch"] >= 2
    _train(_args(pkl, out, "old", epochs=2, extra=ada))  # best.pt at epoch 0 or 1
    proc = _train(_args(pkl, out, "old", epochs=4, extra=[*ada, "adasgn.select_after_decay=true",
                                                           "--resume"]), check=False)
    assert proc.returncode == 2 and "before the first selectable epoch 2" in proc.stderr


def test_sweep_without_sgn_still_trains_the_singles(tmp_path):
    pkl = tiny_pkl(tmp_path / "d.pkl", n=48)
    cfg = load_config(str(ROOT / "configs" / "base.yaml"),
                      [*_args(pkl, tmp_path / "runs", "sw", epochs=1), "recipe.with_sgn=false",
                       "recipe.freeze_epochs=0", "recipe.transform_freeze=0", "model.name=adasgn"])
    results = run_sweep(cfg, alphas=[2.0], baselines=False, progress=False)
    assert "sgn" not in results
    singles = [k for k in results if k.startswith("single_")]
    assert len(singles) == 6
    assert {"adasgn", "adasgn_a2"} <= set(results)
    for stage in (*singles, "adasgn_a2"):
        assert (tmp_path / "runs" / "sw" / stage / "test.json").is_file()


def test_the_recipe_gives_sgn_its_own_schedule(tmp_path):
    """recipe.sgn_epochs: SGN (here reused as the big full single) trains longer than the singles."""
    pkl = tiny_pkl(tmp_path / "d.pkl", n=48)
    cfg = load_config(str(ROOT / "configs" / "base.yaml"),
                      [*_args(pkl, tmp_path / "runs", "own", epochs=1), "recipe.sgn_epochs=2",
                       "recipe.sgn_milestones=[1]", "recipe.single_epochs=1",
                       "recipe.sgn_as_full_big=true", "recipe.freeze_epochs=0",
                       "recipe.transform_freeze=0", "model.name=adasgn"])
    run_recipe(cfg, progress=False)

    def epochs(stage):
        return len((tmp_path / "runs" / "own" / stage / "metrics.jsonl").read_text().splitlines())

    assert epochs("sgn") == 2
    assert epochs("single_small1") == 1 and epochs("adasgn") == 1


def test_bf16_autocast_training_on_the_cpu(tmp_path):
    pkl = tiny_pkl(tmp_path / "d.pkl", n=48)
    out = tmp_path / "runs"
    _train(_args(pkl, out, "bf16", epochs=2, extra=["train.amp=bf16", "model.name=adasgn"]))
    lines = [json.loads(x) for x in (out / "bf16" / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(np.isfinite(r["train_loss"]) for r in lines)
    res = json.loads((out / "bf16" / "test.json").read_text())
    assert 0.0 <= res["top1"] <= 1.0 and res["num_samples"] > 0
    # the autocast really is on for the CPU
    with autocast(torch.device("cpu"), "bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_policy_fraction_trains_the_policy_on_its_own_part_only(tmp_path):
    """data.policy_fraction: a part of the training split, disjoint from the rest and from the
    validation part, that only AdaSGN's policy learns from; the main steps never move the policy
    and the policy steps move nothing else."""
    pkl = tiny_pkl(tmp_path / "d.pkl", n=96)
    cfg = load_config(ROOT / "configs" / "base.yaml", _args(pkl, tmp_path, "p", epochs=1, extra=[
        "model.name=adasgn", "data.policy_fraction=0.25", "train.batch_size=8"]))
    data = load_data(cfg)
    parts = {k: set(data.names(k)) for k in ("train", "val", "policy")}
    assert all(parts[a].isdisjoint(parts[b]) for a, b in [("train", "val"), ("train", "policy"),
                                                          ("val", "policy")])
    whole = set(data.source["split"][cfg.data.train_split])
    assert set().union(*parts.values()) == whole
    assert abs(len(parts["policy"]) - 0.25 * (len(whole) - len(parts["val"]))) <= len(set(data.labels("train")))

    tr = Trainer(cfg, progress=False)
    tr._prepare_run_dir()
    policy = {n: p.detach().clone() for n, p in tr.model.named_parameters() if n.startswith("policy.")}
    rest = {n: p.detach().clone() for n, p in tr.model.named_parameters()
            if not n.startswith("policy.") and p.requires_grad}
    assert policy and rest
    calls = []
    real_step = tr._policy_step
    tr._policy_step = lambda batch, *a: calls.append(len(batch[1])) or 0.0  # main steps only
    rec = tr.train_epoch(0)
    n_pol = len(tr.data.train_loader(0, split="policy"))
    assert len(calls) == n_pol and sum(calls) == len(parts["policy"]) and "policy_loss" in rec
    for n, p in tr.model.named_parameters():
        if n in policy:
            assert torch.equal(p, policy[n]), f"a main step moved the policy ({n})"
    assert any(not torch.equal(p, rest[n]) for n, p in tr.model.named_parameters() if n in rest)

    before = {n: p.detach().clone() for n, p in tr.model.named_parameters()}
    batch = next(iter(tr.data.train_loader(1, split="policy")))
    crit = build_criterion(tr.model, alpha=4.0, warm_epochs=0)
    _, others, _ = tr._policy_part(1)
    loss = real_step(batch, crit, 1, others)
    assert np.isfinite(loss) and tr.model.training
    moved = {n for n, p in tr.model.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all(n.startswith("policy.") for n in moved), sorted(moved)[:5]
