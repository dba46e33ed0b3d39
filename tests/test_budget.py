"""Run-time compute budget of AdaSGN: bias -lambda * cost before the argmax, calibration by
bisection on the validation split, storage in the checkpoint, ``--budget`` in test/bench."""

import itertools
import json
from pathlib import Path

import pytest
import torch

from adasgn.engine.budget import PolicyRecord, apply_budget, budget_sweep, calibrate
from adasgn.models.budget import CALIBRATION_KEY, lambda_for_budget
from adasgn.cli import main as cli_main
from adasgn.engine.checkpoint import load_checkpoint
from adasgn.engine.run import load_run
from adasgn.engine.evaluate import test_checkpoint as evaluate_checkpoint
from adasgn.models import create_model

from helpers import tiny_pkl

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small AdaSGN really trained by the training engine (3 epochs, ~10 s on 1 thread)."""
    from adasgn.engine.config import load_config
    from adasgn.engine.trainer import train

    tmp = tmp_path_factory.mktemp("budget")
    pkl = tiny_pkl(tmp / "d.pkl", n=120)
    cfg = load_config(ROOT / "configs" / "base.yaml", [
        f"data.path={pkl}", "data.dataset=synthetic", "train.epochs=3", "train.batch_size=16",
        "train.milestones=[2]", "data.workers=0", f"out_dir={tmp / 'runs'}", "name=ada",
        "data.val_fraction=0.2", "train.threads=1", "model.name=adasgn"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ck = tmp / "runs" / "ada" / "checkpoints" / "best.pt"
    cal = tmp / "calibrated.pt"
    try:
        train(cfg, progress=False)
        rc = cli_main(["calibrate", str(ck), "--out", str(cal), "--grid", "1", "--json"])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    return {"ckpt": ck, "cal": cal, "pkl": pkl, "tmp": tmp}


def _val_loader(path):
    run = load_run(path)
    return run.model, run.loader("val")


def test_chosen_cost_never_increases_with_lambda():
    torch.manual_seed(0)
    model = create_model("adasgn", num_classes=5)
    cost = model.choice_costs()
    assert float(cost[0]) == 0.0 and (cost[1:] > 0).all()  # S-1 is free (reused features)
    rec = PolicyRecord(torch.randn(40, 20, 6) * 3, torch.full((40,), 1 / 40, dtype=torch.float64),
                       model.gmacs_fixed, cost, 40)
    bound = rec.lambda_bound()
    lams = torch.linspace(-bound, bound, 401).tolist()
    g = [rec.gmacs(lam) for lam in lams]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(g))
    assert g[-1] == pytest.approx(model.gmacs_fixed)  # every frame on S-1
    assert g[0] == pytest.approx(model.expected_gmacs([0, 0, 0, 0, 0, 1]))  # every frame on B-25


def test_bias_drives_the_eval_decisions_and_none_restores_argmax():
    torch.manual_seed(0)
    model = create_model("adasgn", num_classes=5).eval()
    x = torch.randn(4, 3, 20, 25, 1)
    with torch.no_grad():
        _, plain = model(x)
        model.set_budget_lambda(1e7)
        _, cheap = model(x)
        model.set_budget_lambda(-1e7)
        _, dear = model(x)
        model.set_budget_lambda(0.0)
        _, zero = model(x)
        apply_budget(model, None)
        _, back = model(x)
    assert (cheap.decisions == 0).all() and (dear.decisions == 5).all()
    assert torch.equal(zero.decisions, plain.decisions)
    assert model.choice_bias is None and model.budget is None
    assert torch.equal(back.decisions, plain.decisions)
    # forced decisions and training ignore the budget bias
    model.set_budget_lambda(1e7)
    with torch.no_grad():
        _, forced = model(x, decisions=3)
    assert (forced.decisions == 3).all()
    assert "choice_bias" not in model.state_dict()  # never saved with the weights


def test_set_budget_without_calibration_says_what_to_run():
    model = create_model("adasgn", num_classes=5).eval()
    with pytest.raises(ValueError, match="adasgn calibrate"):
        model.set_budget(0.05)
    with pytest.raises(ValueError, match="learned policy"):
        create_model("adasgn", num_classes=5, policy="rand").set_budget(0.05)
    with pytest.raises(ValueError, match="positive"):
        model.set_budget(-1)


def test_calibration_meets_requested_budgets_within_10_percent(trained):
    table = load_checkpoint(trained["cal"])[CALIBRATION_KEY]  # weights_only=True load
    lo, hi = table["range"]
    assert lo < hi
    budgets = [lo + (hi - lo) * f for f in (0.2, 0.45, 0.7)]
    out = trained["tmp"] / "cal2.pt"
    assert cli_main(["calibrate", str(trained["ckpt"]), "--out", str(out), "--grid", "0",
                     "--budgets", *map(str, budgets)]) == 0
    realised = []
    for b in budgets:  # the real grouped forward of `adasgn test`, on the calibration split
        rep = evaluate_checkpoint(str(out), split="val", budget=b, measure_flops=False,
                              progress=False, scores=str(trained["tmp"] / "s.npz"))
        assert rep["gmacs"] == pytest.approx(b, rel=0.10)
        realised.append(rep["gmacs"])
    assert realised == sorted(realised)  # more budget -> more GMACs
    # the stored rows say the same
    rows = load_checkpoint(out)[CALIBRATION_KEY]["budgets"]
    assert [r["budget"] for r in rows] == budgets
    for r, g in zip(rows, realised):
        assert r["gmacs"] == pytest.approx(g, rel=1e-6)


def test_budget_monotone_on_held_out_data_and_sweep(trained):
    rows = budget_sweep(trained["cal"], [0.02, 0.05, 0.09, 0.14], split="test")
    assert [set(r) >= {"budget", "gmacs", "top1", "lambda"} for r in rows] == [True] * 4
    g = [r["gmacs"] for r in rows]
    assert g == sorted(g) and g[0] < g[-1]
    assert all(0.0 <= r["top1"] <= 1.0 for r in rows)


def test_checkpoint_round_trip_and_interpolation(trained):
    raw = torch.load(trained["cal"], weights_only=True)
    table = raw[CALIBRATION_KEY]
    assert set(table) >= {"points", "curve", "budgets", "range", "cost_per_frame"}
    assert all(set(p) == {"lambda", "gmacs", "top1"} for p in table["points"])
    model = load_run(trained["cal"]).model
    assert model.budget_calibration == table
    orig = load_checkpoint(trained["ckpt"])
    for k, v in orig["model"].items():  # weights untouched
        assert torch.equal(raw["model"][k], v)
    # a requested budget uses its bisected lambda; others interpolate the dense curve
    b0 = table["budgets"][0]
    model.set_budget(b0["budget"])
    assert model.budget_lambda == b0["lambda"] and model.budget == b0["budget"]
    lo, hi = table["range"]
    mid = lo + 0.37 * (hi - lo)
    lam, how = lambda_for_budget(table, mid)
    assert how == "interpolated"
    model.set_budget(mid)
    assert model.budget_lambda == lam
    model.set_budget(None)
    assert model.choice_bias is None and model.budget_lambda is None
    # in-place calibration is atomic and leaves no temporary files
    inplace = trained["tmp"] / "inplace.pt"
    inplace.write_bytes(Path(trained["ckpt"]).read_bytes())
    assert cli_main(["calibrate", str(inplace), "--budgets", "0.05", "--grid", "0"]) == 0
    assert CALIBRATION_KEY in load_checkpoint(inplace)
    assert not [p for p in inplace.parent.iterdir() if p.suffix == ".tmp"]


def test_calibrate_in_memory_and_recognizer_clears_budget(trained):
    from adasgn.inference import Recognizer

    model, loader = _val_loader(trained["ckpt"])
    assert model.budget_calibration is None
    table = calibrate(model, loader, 0.06, grid=0)
    assert model.budget_calibration is table and len(table["budgets"]) == 1
    rec = Recognizer.from_checkpoint(trained["cal"], budget=0.05, warmup=False)
    assert rec.model.budget == 0.05 and rec.model.choice_bias is not None
    rec.set_budget(None)
    assert rec.budget is None and rec.model.choice_bias is None


def test_cli_errors_and_bench_with_checkpoint_budget(trained, capsys):
    assert cli_main(["calibrate", str(trained["tmp"] / "missing.pt")]) == 2
    assert "not found" in capsys.readouterr().err
    rc = cli_main(["bench", "--json", "--checkpoint", str(trained["cal"]), "--budget", "0.04",
                   "--batch-sizes", "1", "3", "--reps", "2", "--warmup", "0", "--no-flops",
                   "--threads", "1"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["budget"] == 0.04 and rep["budget_lambda"] is not None
    assert "trained policy" in rep["decisions"]
    for b in ("1", "3"):
        assert rep["batches"][b]["gmacs_adasgn"] > 0


# ------------------------------------------------------------------ per-sample budget mode


def _seq_cost(dec, cost):
    return cost[dec].sum(1)  # (S,) extra GMACs of each sequence


def test_per_sample_decisions_hit_each_sequence_budget():
    from adasgn.models.budget import per_sample_decisions

    torch.manual_seed(1)
    model = create_model("adasgn", num_classes=5)
    cost = model.choice_costs().float()
    logits = torch.randn(64, 20, 6) * 3
    full = float(cost.max()) * 20
    # the largest change one frame can make: the widest gap between two choices' costs
    step = float(cost.max() - cost.min())
    prev = None
    for frac in (0.05, 0.2, 0.4, 0.6, 0.8, 0.95):
        target = frac * full
        spent = _seq_cost(per_sample_decisions(logits, cost, target), cost)
        # every sequence lands within one frame's switch of its budget
        assert ((spent - target).abs() <= step + 1e-6).all(), (frac, (spent - target).abs().max())
        assert abs(float(spent.mean()) - target) / target < 0.05
        if prev is not None:
            assert (spent >= prev - 1e-6).all()  # more budget never means less compute
        prev = spent
    assert (per_sample_decisions(logits, cost, -1.0) == int(cost.argmin())).all()
    assert (per_sample_decisions(logits, cost, 10 * full) == int(cost.argmax())).all()


def test_per_sample_exact_and_bisection_searches_agree():
    from adasgn.models.budget import per_sample_decisions

    torch.manual_seed(2)
    cost = create_model("adasgn", num_classes=5).choice_costs().float()
    logits = torch.randn(300, 20, 6) * 2
    full = float(cost.max()) * 20
    for frac in (0.1, 0.3, 0.5, 0.9):
        target = frac * full
        exact = _seq_cost(per_sample_decisions(logits, cost, target, method="exact"), cost)
        bis = _seq_cost(per_sample_decisions(logits, cost, target, method="bisect"), cost)
        # the exact search visits every reachable cost: never farther from the target
        assert ((exact - target).abs() <= (bis - target).abs() + 1e-7).all()
        assert torch.allclose(exact, bis)
    with pytest.raises(ValueError, match="method"):
        per_sample_decisions(logits, cost, 0.1, method="newton")


def test_sample_mode_needs_no_calibration_and_meets_budget_on_held_out_data(trained):
    model = load_run(trained["ckpt"]).model  # not calibrated
    assert model.budget_calibration is None
    lo = model.gmacs_fixed
    hi = model.expected_gmacs([0, 0, 0, 0, 0, 1])
    budgets = [lo + (hi - lo) * f for f in (0.15, 0.4, 0.7)]
    realised = []
    for b in budgets:
        rep = evaluate_checkpoint(str(trained["ckpt"]), split="test", budget=b,
                                  budget_mode="sample", measure_flops=False, progress=False,
                                  scores=str(trained["tmp"] / "s2.npz"))
        assert rep["gmacs"] == pytest.approx(b, rel=0.10)
        realised.append(rep["gmacs"])
    assert realised == sorted(realised)
    # each sample lands within one frame's switch of the budget; None brings the argmax back
    x = torch.randn(3, 3, 20, 25, 1)
    model.eval()
    with torch.no_grad():
        _, before = model(x)
        model.set_budget(budgets[0], mode="sample")
        _, info = model(x)
        assert info.gmacs.sub(budgets[0]).abs().max() < (hi - lo) / 20 + 1e-6
        model.set_budget(None)
        _, plain = model(x)
    assert model.budget is None and model.budget_mode == "mean"
    assert torch.equal(plain.decisions, before.decisions)
    with pytest.raises(ValueError, match="budget mode"):
        model.set_budget(0.05, mode="median")


def test_cli_budget_mode_sample(trained, capsys):
    rc = cli_main(["test", str(trained["ckpt"]), "--budget", "0.05", "--budget-mode", "sample",
                   "--json", "--no-progress", "--no-flops",
                   "--scores", str(trained["tmp"] / "s3.npz")])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["gmacs"] == pytest.approx(0.05, rel=0.10)
