"""Calibration of AdaSGN's run-time compute budget, and budget sweeps (the engine side).

The rule itself (bias ``-lambda * cost`` before the argmax, the per-sample mode, reading lambda
off a stored table) is :mod:`adasgn.models.budget`; here the table is made.

Calibration (:func:`calibrate`): one pass over the validation loader records the policy logits of
every computed person sequence (they do not depend on lambda); the mean GMACs for any lambda are
then computed from them without running the network, and lambda is found by bisection for each
requested budget. The network is run once per table point to measure the validation accuracy.
:func:`calibrate_checkpoint` (``adasgn calibrate``) stores the table in the checkpoint;
:func:`apply_budget` sets a budget and, without a stored table, calibrates on the loader it is
given (with a message on stderr). In the ``mean`` mode the realised mean drifts when the
evaluated data differ from the calibration data (MSR Action3D: 3-10 % under the budget,
docs/results.md); the ``sample`` mode needs no calibration.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

from ..models.budget import (
    CALIBRATION_KEY,
    METRIC,
    VERSION,
    lambda_bound,
    require_policy,
)
from .checkpoint import save_checkpoint
from .run import load_run

__all__ = ["PolicyRecord", "apply_budget", "budget_sweep", "calibrate", "calibrate_checkpoint",
           "collect_policy", "default_budgets"]


# ---------------------------------------------------------------------------------------------
# what the policy does on a data set


class PolicyRecord:
    """Policy logits of every computed person sequence of a data set, and how to weight them.

    ``logits`` (S, T, A) float32; ``weight`` (S,) float64 = 1 / (persons of its sample) / N, so
    that ``sum_s weight_s * cost_s`` is the mean over samples of the per-sample GMACs (the figure
    ``adasgn test`` reports). ``fixed`` / ``cost`` (A,) come from the model.
    """

    def __init__(self, logits: torch.Tensor, weight: torch.Tensor, fixed: float,
                 cost: torch.Tensor, num_samples: int):
        self.logits = logits
        self.weight = weight
        self.fixed = float(fixed)
        self.cost = cost.to(torch.float64)
        self.num_samples = int(num_samples)

    def gmacs(self, lam: float) -> float:
        """Mean realised GMACs per sample when the policy is biased by ``-lam * cost``."""
        if self.logits.numel() == 0:
            return self.fixed
        bias = (-float(lam) * self.cost).to(self.logits.dtype)
        dec = (self.logits + bias).argmax(-1)  # (S, T)
        per_seq = self.cost[dec].sum(1)  # extra GMACs of each sequence (cost is per frame)
        return self.fixed + float((per_seq * self.weight).sum())

    def lambda_bound(self) -> float:
        """A lambda beyond which every frame takes the cheapest (or, negated, dearest) choice."""
        return lambda_bound(self.logits, self.cost)


@torch.no_grad()
def collect_policy(model, loader, device: str | torch.device | None = None) -> PolicyRecord:
    """Run ``model`` (eval, grouped, no bias) over ``loader`` and record its policy logits."""
    require_policy(model)
    dev = torch.device(device) if device is not None else model.choice_extra_gmacs.device
    was_training, saved = model.training, model.choice_bias
    model.eval()
    model.choice_bias = None
    logits_all, weight_all, n = [], [], 0
    try:
        for batch in loader:
            x = batch[0].to(dev)
            _, info = model(x, mode="grouped")
            count = torch.bincount(info.owner, minlength=x.shape[0]).clamp_min(1)
            logits_all.append(info.policy_logits.float().cpu())
            weight_all.append((1.0 / count[info.owner].double()).cpu())
            n += x.shape[0]
    finally:
        model.choice_bias = saved
        model.train(was_training)
    if not logits_all:
        raise ValueError("calibration needs at least one sample (the loader is empty)")
    weight = torch.cat(weight_all) / max(n, 1)
    return PolicyRecord(torch.cat(logits_all), weight, model.gmacs_fixed, model.choice_costs(), n)


def _bisect(record: PolicyRecord, budget: float, bound: float, iters: int = 60) -> float:
    """Lambda whose mean GMACs is closest to ``budget`` (g is non-increasing in lambda)."""
    lo, hi = -bound, bound  # g(lo) = max, g(hi) = min
    g_lo, g_hi = record.gmacs(lo), record.gmacs(hi)
    if budget >= g_lo:
        return lo
    if budget <= g_hi:
        return hi
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        g = record.gmacs(mid)
        if g >= budget:
            lo, g_lo = mid, g
        else:
            hi, g_hi = mid, g
        if hi - lo < 1e-9 * max(1.0, abs(lo)):
            break
    # the step function may jump over the budget: take the closer side
    return lo if abs(g_lo - budget) <= abs(g_hi - budget) else hi


@torch.no_grad()
def _accuracy(model, loader, lam, device) -> tuple[float, float]:
    """(top-1, mean realised GMACs per sample) of the model biased by ``-lam * cost``
    (``lam="keep"``: with the budget the model is set to)."""
    saved_lam, saved_bias, saved_mode = model.budget_lambda, model.choice_bias, model.budget_mode
    was_training = model.training
    model.eval()
    if lam != "keep":
        model.set_budget_lambda(lam)
        model.budget_mode = "mean"
    correct, n, g = 0, 0, 0.0
    try:
        for batch in loader:
            x, y = batch[0].to(device), batch[1].to(device)
            logits, info = model(x, mode="grouped")
            correct += int((logits.argmax(1) == y).sum())
            g += float(info.gmacs.sum())
            n += x.shape[0]
    finally:
        model.budget_lambda, model.choice_bias = saved_lam, saved_bias
        model.budget_mode = saved_mode
        model.train(was_training)
    return correct / max(n, 1), g / max(n, 1)


def calibrate(model, val_loader, budgets, device: str | torch.device | None = None,
              grid: int = 6, curve_points: int = 129, split: str = "val") -> dict:
    """Find lambda for each requested budget (GMACs per person-sequence) on ``val_loader``.

    Returns the calibration table (see the module doc) and stores it on the model
    (``model.budget_calibration``); the active budget is left unchanged. ``grid`` extra table
    points (evenly spaced in GMACs over the reachable range) get a measured accuracy too.
    """
    require_policy(model)
    if isinstance(budgets, (int, float)):
        budgets = [budgets]
    budgets = [float(b) for b in budgets]
    for b in budgets:
        if not math.isfinite(b) or b <= 0:
            raise ValueError(f"a budget must be a positive number of GMACs, got {b}")
    dev = torch.device(device) if device is not None else model.choice_extra_gmacs.device
    rec = collect_policy(model, val_loader, dev)
    bound = rec.lambda_bound()
    g_max, g_min = rec.gmacs(-bound), rec.gmacs(bound)

    # dense curve for interpolation: lambda on a symmetric sinh-like grid (fine near 0)
    half = max(curve_points // 2, 2)
    lams = sorted({bound * math.copysign((i / half) ** 3, s) for i in range(half + 1)
                   for s in (1.0, -1.0)})
    curve_g = [rec.gmacs(lam) for lam in lams]

    # table points: lambda 0 (plain argmax), the requested budgets, a grid over the range
    requested = [(b, _bisect(rec, b, bound)) for b in budgets]
    grid_l = [_bisect(rec, g_min + (g_max - g_min) * (i + 0.5) / grid, bound)
              for i in range(max(grid, 0))]
    point_l = sorted({0.0, *(lam for _, lam in requested), *grid_l})
    points = []
    for lam in point_l:
        top1, g = _accuracy(model, val_loader, lam, dev)
        points.append({"lambda": lam, "gmacs": g, "top1": top1})
    by_l = {p["lambda"]: p for p in points}
    table = {
        "version": VERSION,
        "metric": METRIC,
        "split": split,
        "num_samples": rec.num_samples,
        "cost_per_frame": [float(c) for c in rec.cost],
        "choice_names": list(model.choice_names),
        "gmacs_fixed": float(model.gmacs_fixed),
        "range": [g_min, g_max],
        "points": points,
        "curve": {"lambda": [float(v) for v in lams], "gmacs": curve_g},
        "budgets": [{"budget": b, "lambda": lam, "gmacs": by_l[lam]["gmacs"],
                     "top1": by_l[lam]["top1"]} for b, lam in requested],
    }
    model.budget_calibration = table
    return table


# ---------------------------------------------------------------------------------------------
# setting a budget, checkpoints and sweeps


def apply_budget(model, gmacs: float | None, loader=None, device=None,
                 mode: str = "mean") -> float | None:
    """Set (``None``: clear) a model's run-time budget; returns lambda (``None`` in the
    ``sample`` mode). In the ``mean`` mode without a stored calibration, ``loader`` (validation
    data) is used to calibrate first (message on stderr); without one the model says how."""
    if (gmacs is not None and mode == "mean" and loader is not None
            and model.budget_calibration is None):
        require_policy(model)
        print(f"adasgn: no budget calibration stored; bisecting lambda for {gmacs:g} GMACs on the "
              "validation data now (run `adasgn calibrate CKPT` to store it)", file=sys.stderr)
        calibrate(model, loader, [gmacs], device=device, grid=0)
    model.set_budget(gmacs, mode=mode)
    return model.budget_lambda


def default_budgets(model, loader, n: int = 5) -> list[float]:
    """``n`` budgets evenly spaced strictly inside the reachable range on ``loader``."""
    rec = collect_policy(model, loader)
    b = rec.lambda_bound()
    g_min, g_max = rec.gmacs(b), rec.gmacs(-b)
    return [g_min + (g_max - g_min) * (i + 1) / (n + 1) for i in range(n)]


def calibrate_checkpoint(path, budgets=None, out=None, data: str | None = None,
                         split: str = "val", grid: int = 6, batch_size: int | None = None) -> dict:
    """``adasgn calibrate``: calibrate the checkpoint's AdaSGN on ``split`` and write the table
    into a copy of the checkpoint at ``out`` (default: in place, atomically)."""
    run = load_run(path)
    require_policy(run.model)
    try:
        loader = run.loader(split, batch_size, path=data)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    if not budgets:
        budgets = default_budgets(run.model, loader)
    table = calibrate(run.model, loader, budgets, grid=grid, split=split)
    raw = dict(run.checkpoint)  # the untouched dict (tensors on the CPU), plus the table
    raw[CALIBRATION_KEY] = table
    save_checkpoint(raw, Path(out) if out else Path(path))
    return table


def budget_sweep(ckpt, budgets, split: str = "test", data: str | None = None,
                 calib_split: str = "val", mode: str = "mean") -> list[dict]:
    """Evaluate one checkpoint at several budgets on ``split``: ``[{budget, lambda, gmacs, top1}]``.

    ``mean`` mode uses the checkpoint's stored calibration, or calibrates on ``calib_split`` first
    (never on the evaluated split unless asked); ``sample`` mode needs none (lambda is None)."""
    run = load_run(ckpt)
    model = run.model
    require_policy(model)
    if mode == "mean" and run.calibration is None:
        calibrate(model, run.loader(calib_split, path=data), budgets, grid=0, split=calib_split)
    loader = run.loader(split, path=data)
    rows = []
    for b in budgets:
        lam = apply_budget(model, b, mode=mode)
        top1, g = _accuracy(model, loader, "keep", "cpu")
        rows.append({"budget": float(b), "mode": mode, "lambda": lam, "gmacs": g, "top1": top1})
    apply_budget(model, None)
    return rows
