"""The run-time compute budget rule that AdaSGN applies inside its forward pass.

At inference the policy logits of every frame are biased by ``-lambda * cost(choice)`` before the
argmax, where ``cost`` is the choice's extra paper GMACs per frame (:meth:`AdaSGN.choice_costs`;
S-1 is free because its features are reused). For a fixed set of logits the chosen cost can only
go down when lambda goes up (if ``a`` beats ``b`` at lambda and ``cost(a) < cost(b)``, it still
beats it at any larger lambda), so the mean realised GMACs on a data set is a non-increasing step
function of lambda. Negative lambdas push towards the expensive branches, so budgets above the
plain argmax are reachable too (up to every frame on the most expensive branch).

Two budget modes (``mode=``; ``--budget-mode`` on the command line):

* ``mean`` (default): one lambda, found on the validation split by the calibration of
  :mod:`adasgn.engine.budget` and stored in the checkpoint, aims at the requested *mean* GMACs.
  Here: :func:`lambda_for_budget` reads lambda off the stored table.
* ``sample``: every person sequence gets its own lambda, found exactly from its own policy
  logits inside the forward pass (:func:`per_sample_decisions`), so that its cost is the reachable
  value closest to the budget. No calibration is needed; the price is that hard samples cannot
  borrow compute from easy ones.

The calibration table (a dict of Python primitives, ``weights_only``-loadable, stored in the
checkpoint under ``"budget_calibration"``)::

    {"version": 1, "metric": "mean paper GMACs per sample (per person-sequence)",
     "split": "val", "num_samples": N, "cost_per_frame": [A floats], "choice_names": [...],
     "range": [g_min, g_max],                        # reachable with lambda -> +inf / -inf
     "points": [{"lambda", "gmacs", "top1"}, ...],   # measured by running the model, by lambda
     "curve": {"lambda": [...], "gmacs": [...]},     # dense, from the recorded policy logits
     "budgets": [{"budget", "lambda", "gmacs", "top1"}, ...]}   # the requested budgets
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys

import torch

CALIBRATION_KEY = "budget_calibration"
VERSION = 1
METRIC = "mean paper GMACs per sample (per person-sequence, averaged over present persons)"
MODES = ("mean", "sample")

__all__ = ["CALIBRATION_KEY", "MODES", "check_calibration", "lambda_bound", "lambda_for_budget",
           "per_sample_decisions", "set_model_budget"]


def lambda_bound(logits: torch.Tensor, cost: torch.Tensor) -> float:
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
    bound = lambda_bound(x, c)
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


def require_policy(model) -> None:
    """A budget biases a learned policy: refuse static models and the rand / fuse baselines."""
    if not model.choices:
        raise ValueError(f"a compute budget applies to AdaSGN checkpoints only; this is a "
                         f"{model.model_name} model")
    if model.policy is None:
        raise ValueError(f"the {model.cfg.policy!r} baseline has no policy to bias; a compute "
                         "budget needs a learned policy (tconv, tconv2, lstm, transformer)")


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


def set_model_budget(model, gmacs: float | None, mode: str = "mean") -> float | None:
    """Set (``None``: clear) the budget of an AdaSGN model; returns lambda (``None`` in the
    ``sample`` mode, where every sequence finds its own). ``mean`` needs the stored calibration
    (``model.budget_calibration``) and raises a ValueError saying how to make one otherwise."""
    if gmacs is None:
        model.set_budget_lambda(None)
        model.budget = None
        model.budget_mode = "mean"
        return None
    if mode not in MODES:
        raise ValueError(f"budget mode must be one of {', '.join(MODES)}, got {mode!r}")
    require_policy(model)
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
    table = model.budget_calibration
    if table is None:
        raise ValueError(
            "this AdaSGN model has no budget calibration: run `adasgn calibrate CKPT "
            "--budgets ...` once (it stores lambda(budget) in the checkpoint), or call "
            "adasgn.engine.budget.calibrate(model, val_loader, budgets), or use the per-sample "
            "budget mode (--budget-mode sample), which needs none")
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


def check_calibration(model, table: dict | None) -> dict | None:
    """``table`` if it fits ``model``'s choices (a ValueError otherwise); ``None`` passes."""
    if table is None:
        return None
    names = table.get("choice_names")
    if names and list(names) != list(model.choice_names):
        raise ValueError(f"the stored budget calibration is for choices {names}, "
                         f"the model has {model.choice_names}")
    return table
