"""Run-time compute budget for AdaSGN: one trained model, many operating points.

At inference the policy logits of every frame are biased by ``-lambda * cost(choice)`` before the
argmax, where ``cost`` is the choice's extra paper GMACs per frame (:meth:`AdaSGN.choice_costs`;
S-1 is free because its features are reused). For a fixed set of logits the chosen cost can only
go down when lambda goes up (if ``a`` beats ``b`` at lambda and ``cost(a) < cost(b)``, it still
beats it at any larger lambda), so the mean realised GMACs on a data set is a non-increasing step
function of lambda. Negative lambdas push towards the expensive branches, so budgets above the
plain argmax are reachable too (up to every frame on the most expensive branch).

Calibration (:func:`calibrate`): one pass over the validation loader records the policy logits of
every computed person sequence (they do not depend on lambda); the mean GMACs for any lambda are
then computed from them without running the network, and lambda is found by bisection for each
requested budget. The network is run once per table point to measure the validation accuracy.
The result is a dict of Python primitives (``weights_only``-loadable) that ``adasgn calibrate``
stores in the checkpoint under ``"budget_calibration"``::

    {"version": 1, "metric": "mean paper GMACs per sample (per person-sequence)",
     "split": "val", "num_samples": N, "cost_per_frame": [A floats], "choice_names": [...],
     "range": [g_min, g_max],                        # reachable with lambda -> +inf / -inf
     "points": [{"lambda", "gmacs", "top1"}, ...],   # measured by running the model, by lambda
     "curve": {"lambda": [...], "gmacs": [...]},     # dense, from the recorded policy logits
     "budgets": [{"budget", "lambda", "gmacs", "top1"}, ...]}   # the requested budgets

:func:`apply_budget` (what ``model.set_budget(G)`` calls) uses the lambda found for ``G`` if it
was requested at calibration, otherwise interpolates lambda on the dense curve; ``None`` restores
the plain argmax. Without a stored calibration it bisects on the fly when it is given a loader
(with a message on stderr) and raises a ValueError that says what to run otherwise.

Two budget modes (``mode=`` here, ``--budget-mode`` on the command line):

* ``mean`` (default, the design above): one lambda, calibrated on the validation split, aims at
  the requested *mean* GMACs. Individual samples may cost more or less; and when the evaluated
  data differ from the calibration data (MSR Action3D: other subjects) the realised mean drifts
  (there: 3-10 % under the budget, docs/results.md).
* ``sample``: every person sequence gets its own lambda, found exactly from its own policy
  logits inside the forward pass (:func:`per_sample_decisions`), so that its cost is the reachable
  value closest to the budget. No calibration is needed, the realised mean follows the budget on
  any data, and no sample strays far from it (a latency bound per sample); the price is that
  hard samples cannot borrow compute from easy ones.
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from pathlib import Path

import torch

CALIBRATION_KEY = "budget_calibration"
VERSION = 1
METRIC = "mean paper GMACs per sample (per person-sequence, averaged over present persons)"
MODES = ("mean", "sample")

__all__ = [
    "CALIBRATION_KEY",
    "apply_budget",
    "attach_calibration",
    "budget_sweep",
    "calibrate",
    "calibrate_checkpoint",
    "collect_policy",
    "gmacs_at",
    "lambda_for_budget",
    "per_sample_decisions",
]


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
        return _bound_for(self.logits, self.cost)


def _bound_for(logits: torch.Tensor, cost: torch.Tensor) -> float:
    """A lambda beyond which every frame takes the cheapest (or, negated, dearest) choice."""
    costs = sorted({float(c) for c in cost})
    gaps = [b - a for a, b in itertools.pairwise(costs) if b - a > 0]
    if not gaps or logits.numel() == 0:
        return 1.0
    spread = float((logits.amax(-1) - logits.amin(-1)).max())
    return 2.0 * (spread + 1.0) / min(gaps)


EXACT_MAX_SEQUENCES = 8  # per_sample_decisions: exact search up to here, bisection above


@torch.no_grad()
def per_sample_decisions(logits: torch.Tensor, cost: torch.Tensor, target: float,
                         method: str = "auto", iters: int = 40) -> torch.Tensor:
    """Decisions (S, T) for the ``sample`` budget mode: each sequence's own lambda.

    ``logits`` (S, T, A) policy logits; ``cost`` (A,) extra GMACs per frame of each choice;
    ``target`` the extra GMACs a sequence may spend (budget minus the fixed cost). For every
    sequence, lambda_s is chosen so that ``sum_t cost[argmax_a(logits[s, t] - lambda_s * cost)]``
    is the reachable value closest to ``target`` (ties: the cheaper one). The spent cost is
    non-increasing in lambda (module doc), so two searches work:

    * ``exact``: a frame's decision can only change where two choices' biased logits cross, at
      ``lambda = (l_a - l_b) / (c_a - c_b)``; between consecutive crossings (T x A(A-1)/2 per
      sequence) nothing changes, so one lambda inside each interval visits every reachable cost --
      one batched argmax over (S, K, T, A), K = T * A(A-1)/2 + 1. Cheapest for a few sequences
      (batch-1 latency: ~0.2 ms on one CPU thread).
    * ``bisect``: ``iters`` vectorised bisection steps over all sequences at once; cheaper than
      the (S, K, T, A) tensor for large batches.

    ``auto`` takes ``exact`` up to :data:`EXACT_MAX_SEQUENCES` sequences, else ``bisect``."""
    s, t, a_n = logits.shape
    if s == 0:
        return logits.new_zeros((0, t), dtype=torch.long)
    if method == "auto":
        method = "exact" if s <= EXACT_MAX_SEQUENCES else "bisect"
    x = logits.detach().float()
    c = cost.to(device=x.device, dtype=torch.float32)  # (A,)
    ii, jj = torch.triu_indices(a_n, a_n, 1, device=x.device)
    keep = c[ii] != c[jj]
    ii, jj = ii[keep], jj[keep]
    if ii.numel() == 0:  # every choice costs the same: the budget changes nothing
        return x.argmax(-1)
    if method == "exact":
        cross = ((x[..., ii] - x[..., jj]) / (c[ii] - c[jj])).reshape(s, -1)  # (S, T*P)
        cross = cross.sort(dim=1, descending=True).values
        # one lambda inside each interval, from the cheapest end (largest lambda) down
        lam = torch.cat([cross[:, :1] + 1.0, 0.5 * (cross[:, 1:] + cross[:, :-1]),
                         cross[:, -1:] - 1.0], dim=1)  # (S, K)
        dec = (x[:, None] - lam[:, :, None, None] * c).argmax(-1)  # (S, K, T)
        spent = c[dec].sum(-1)  # (S, K), non-decreasing along K
        k = (spent - target).abs().argmin(dim=1)  # the first = the cheapest of equally close
        return dec[torch.arange(s, device=x.device), k]
    if method != "bisect":
        raise ValueError(f"method must be auto, exact or bisect, got {method!r}")
    bound = _bound_for(x, c)
    lo = torch.full((s,), -bound, device=x.device)  # spend(lo) = the most
    hi = torch.full((s,), bound, device=x.device)   # spend(hi) = the least

    def spend(lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dec = (x - lam[:, None, None] * c).argmax(-1)  # (S, T)
        return dec, c[dec].sum(1)  # (S,)

    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        over = spend(mid)[1] > target  # still over the target: lambda must grow
        lo = torch.where(over, mid, lo)
        hi = torch.where(over, hi, mid)
    d_lo, g_lo = spend(lo)
    d_hi, g_hi = spend(hi)
    take_lo = (g_lo - target).abs() < (g_hi - target).abs()
    return torch.where(take_lo[:, None], d_lo, d_hi)


def _require_budget_model(model) -> None:
    if not hasattr(model, "choices"):
        raise ValueError("a compute budget applies to AdaSGN models only")
    if model.policy is None:
        raise ValueError(f"the {model.cfg.policy!r} baseline has no policy to bias; a compute "
                         "budget needs a learned policy (tconv, tconv2, lstm, transformer)")


@torch.no_grad()
def collect_policy(model, loader, device: str | torch.device | None = None) -> PolicyRecord:
    """Run ``model`` (eval, grouped, no bias) over ``loader`` and record its policy logits."""
    _require_budget_model(model)
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


def gmacs_at(record: PolicyRecord, lam: float) -> float:
    return record.gmacs(lam)


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
    _require_budget_model(model)
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
# using a calibration


def lambda_for_budget(table: dict, budget: float) -> tuple[float, str]:
    """(lambda, how) for ``budget`` from a calibration table: the bisected lambda of a requested
    budget, else linear interpolation on the dense curve (clamped to the reachable range)."""
    for row in table.get("budgets", []):
        if math.isclose(row["budget"], budget, rel_tol=1e-9, abs_tol=1e-12):
            return float(row["lambda"]), "calibrated"
    lams, gs = table["curve"]["lambda"], table["curve"]["gmacs"]
    # g is non-increasing in lambda: walk the curve from the most expensive end
    pairs = sorted(zip(gs, lams), key=lambda p: (p[0], -p[1]))  # ascending GMACs
    g_sorted = [p[0] for p in pairs]
    if budget <= g_sorted[0]:
        return float(pairs[0][1]), "clamped to the cheapest reachable point"
    if budget >= g_sorted[-1]:
        return float(pairs[-1][1]), "clamped to the dearest reachable point"
    i = bisect.bisect_left(g_sorted, budget)
    (g0, l0), (g1, l1) = pairs[i - 1], pairs[i]
    if g1 == g0:
        return float(l1), "interpolated"
    w = (budget - g0) / (g1 - g0)
    return float(l0 + w * (l1 - l0)), "interpolated"


def apply_budget(model, gmacs: float | None, loader=None, device=None,
                 mode: str = "mean") -> float | None:
    """Set (or with ``None`` clear) the run-time budget of an AdaSGN model; returns lambda
    (``None`` in the ``sample`` mode, where every sequence finds its own).

    ``mean`` uses ``model.budget_calibration``; without one, it bisects on ``loader`` (message on
    stderr) or raises a ValueError saying how to calibrate. ``sample`` needs no calibration."""
    if gmacs is None:
        model.set_budget_lambda(None)
        model.budget = None
        model.budget_mode = "mean"
        return None
    if mode not in MODES:
        raise ValueError(f"budget mode must be one of {', '.join(MODES)}, got {mode!r}")
    _require_budget_model(model)
    gmacs = float(gmacs)
    if not math.isfinite(gmacs) or gmacs <= 0:
        raise ValueError(f"a budget must be a positive number of GMACs, got {gmacs}")
    if mode == "sample":
        lo = float(model.gmacs_fixed)
        hi = lo + float(model.choice_extra_gmacs.max())  # every frame on the dearest choice
        if not lo <= gmacs <= hi:
            print(f"adasgn: budget {gmacs:g} GMACs is outside what one sequence can cost "
                  f"[{lo:.4f}, {hi:.4f}]; every sequence takes the nearest end", file=sys.stderr)
        model.set_budget_lambda(None)
        model.budget = gmacs
        model.budget_mode = "sample"
        return None
    table = getattr(model, "budget_calibration", None)
    if table is None:
        if loader is None:
            raise ValueError(
                "this AdaSGN model has no budget calibration: run `adasgn calibrate CKPT "
                "--budgets ...` once (it stores lambda(budget) in the checkpoint), or call "
                "adasgn.budget.calibrate(model, val_loader, budgets), or use the per-sample "
                "budget mode (--budget-mode sample), which needs none")
        print(f"adasgn: no budget calibration stored; bisecting lambda for {gmacs:g} GMACs on the "
              "validation data now (run `adasgn calibrate CKPT` to store it)", file=sys.stderr)
        table = calibrate(model, loader, [gmacs], device=device, grid=0)
    lam, how = lambda_for_budget(table, gmacs)
    lo, hi = table["range"]
    if not lo <= gmacs <= hi:
        print(f"adasgn: budget {gmacs:g} GMACs is outside the reachable range "
              f"[{lo:.4f}, {hi:.4f}] of this model on its calibration data; {how}",
              file=sys.stderr)
    model.set_budget_lambda(lam)
    model.budget = gmacs
    model.budget_mode = "mean"
    return lam


def attach_calibration(model, ck: dict) -> None:
    """Give a model loaded from checkpoint ``ck`` the calibration stored in it (if any)."""
    table = ck.get(CALIBRATION_KEY) if isinstance(ck, dict) else None
    if table is not None and hasattr(model, "choices"):
        names = table.get("choice_names")
        if names and list(names) != list(model.choice_names):
            raise ValueError(f"the stored budget calibration is for choices {names}, "
                             f"the model has {model.choice_names}")
        model.budget_calibration = table


# ---------------------------------------------------------------------------------------------
# checkpoints and sweeps


def _run_data(path, data: str | None):
    from .engine.data import load_data
    from .engine.evaluate import model_from_checkpoint

    model, cfg, ck = model_from_checkpoint(path, "cpu")
    if data:
        cfg.data.path = data
    return model, cfg, ck, load_data(cfg)


def _loader(rd, cfg, split: str, batch_size: int | None = None):
    from .data.dataset import SkeletonDataset, default_pipeline
    from .engine.data import build_eval_loader

    if split not in rd.datasets:
        if split == "val":
            raise ValueError("this run has no validation split (data.val_fraction=0); pass "
                             "--split with a split of the pkl to calibrate on")
        pipe = default_pipeline(rd.preset.name, cfg.data.stream, False,
                                num_frames=cfg.data.num_frames, rot_norm=cfg.data.rot_norm,
                                layout=rd.layout.name)
        rd.datasets[split] = SkeletonDataset(rd.datasets["test"].source or cfg.data.path, split,
                                             pipe)
    return build_eval_loader(rd, cfg, split, batch_size)


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
    from .engine.checkpoint import load_checkpoint, save_checkpoint

    model, cfg, _, rd = _run_data(path, data)
    _require_budget_model(model)
    loader = _loader(rd, cfg, split, batch_size)
    if not budgets:
        budgets = default_budgets(model, loader)
    table = calibrate(model, loader, budgets, grid=grid, split=split)
    raw = load_checkpoint(path)  # the untouched dict (tensors on cpu), plus the table
    raw[CALIBRATION_KEY] = table
    save_checkpoint(raw, Path(out) if out else Path(path))
    return table


def budget_sweep(ckpt, budgets, split: str = "test", data: str | None = None,
                 calib_split: str = "val", mode: str = "mean") -> list[dict]:
    """Evaluate one checkpoint at several budgets on ``split``: ``[{budget, lambda, gmacs, top1}]``.

    ``mean`` mode uses the checkpoint's stored calibration, or calibrates on ``calib_split`` first
    (never on the evaluated split unless asked); ``sample`` mode needs none (lambda is None)."""
    model, cfg, _, rd = _run_data(ckpt, data)
    _require_budget_model(model)
    if mode == "mean" and model.budget_calibration is None:
        calibrate(model, _loader(rd, cfg, calib_split), budgets, grid=0, split=calib_split)
    loader = _loader(rd, cfg, split)
    rows = []
    for b in budgets:
        lam = apply_budget(model, b, mode=mode)
        top1, g = _accuracy(model, loader, "keep", "cpu")
        rows.append({"budget": float(b), "mode": mode, "lambda": lam, "gmacs": g, "top1": top1})
    apply_budget(model, None)
    return rows
