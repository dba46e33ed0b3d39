"""Training losses: label-smoothing cross-entropy and AdaSGN's efficiency loss (spec 2.7).

* :func:`label_smoothing_cross_entropy` -- target ``1 - s`` on the true class and ``s / (C - 1)`` on
  every other class (s = 0.1 in every official config; the paper says plain cross-entropy).
* :func:`efficiency_loss` -- paper Eq. 12 on the per-choice GMACs table, in two normalisations:

  - ``"official"`` (default): ``alpha_eff * mean over samples and over the A-1 non-free choices of
    frac[n, a] * g[a]`` (a >= 1). Choice 0 (reused S-1) and the fixed cost are left out, and the
    mean over the 5 choices adds a factor 1/5 -- so the paper's alpha values (0.1 ... 20) mean
    what they meant in the official runs. All frames on B-25 with alpha 4 gives
    4 * 0.1538188 / 5 = 0.123055.
  - ``"paper"``: Eq. 12 taken literally, ``alpha_eff * E_n [fixed + sum_a frac[n, a] * extra[a]]``,
    i.e. alpha times the realised GMACs of the sample (extra[0] = 0 because of feature reuse). Same
    gradient direction as ``official`` but 5x the pressure for the same alpha.

  ``frac[n, a]`` is the share of frames of sample n (over its computed person slots and T frames)
  that chose a, computed from the straight-through one-hot actions, so the gradient reaches the
  policy. With ``skip_empty_persons`` (our default) empty person slots do not contribute, whereas
  the official code also averages the all-zero second slot's actions in.
* ``alpha_eff = alpha * min(epoch / warm_epochs, 1)`` (epoch 0-based; warm_epochs = 5).
* With the model option ``branch_loss = w > 0`` (ours, off by default): ``+ w * mean over
  branches a of CE(branch a alone on all frames)`` (``info.branch_logits``), logged as
  ``branch_ce``.

:func:`build_criterion` gives the training loss of any model with one call signature,
``criterion(logits, info, target, epoch) -> (loss, {"ce", "eff", "alpha_eff"})``: AdaSGN's
:class:`AdaSGNLoss`, or for a static model the cross-entropy alone (``eff`` = 0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .adasgn import AdaSGN

NORMALIZATIONS = ("official", "paper")


def label_smoothing_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                                  smoothing: float = 0.1) -> torch.Tensor:
    """Mean over the batch of -sum(target_dist * log_softmax(logits))."""
    c = logits.shape[-1]
    logp = F.log_softmax(logits, dim=-1)
    off = smoothing / (c - 1) if c > 1 else 0.0
    dist = torch.full_like(logp, off)
    dist.scatter_(-1, target.view(-1, 1), 1.0 - smoothing)
    return -(dist * logp).sum(-1).mean()


def warmed_alpha(alpha: float, epoch: int, warm_epochs: int = 5) -> float:
    """alpha_eff = alpha * min(epoch / warm_epochs, 1): 0, 0.2a, 0.4a, 0.6a, 0.8a, a, a, ..."""
    if warm_epochs <= 0:
        return float(alpha)
    return float(alpha) * min(epoch / warm_epochs, 1.0)


def choice_fractions(actions: torch.Tensor, owner: torch.Tensor, num_samples: int) -> torch.Tensor:
    """frac (N, A): per-sample share of frames per choice, from actions (B, T, A), owner (B,)."""
    per_seq = actions.mean(dim=1)  # (B, A)
    total = per_seq.new_zeros(num_samples, per_seq.shape[1]).index_add(0, owner, per_seq)
    count = torch.bincount(owner, minlength=num_samples).clamp_min(1).to(per_seq.dtype)
    return total / count.unsqueeze(1)


def efficiency_loss(frac: torch.Tensor, extra_gmacs: torch.Tensor, alpha_eff: float,
                    normalization: str = "official", fixed_gmacs: float = 0.0) -> torch.Tensor:
    """Eq. 12 efficiency term from frac (N, A) and the per-choice extra cost extra_gmacs (A,)."""
    g = extra_gmacs.to(frac.dtype)
    if normalization == "official":
        return alpha_eff * (frac[:, 1:] * g[1:]).mean()
    if normalization == "paper":
        return alpha_eff * (fixed_gmacs + (frac * g).sum(1)).mean()
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


class AdaSGNLoss:
    """L = label-smoothing CE + efficiency loss, for the (logits, info) an AdaSGN forward returns.

    ``loss(logits, info, target, epoch)`` -> (total, {"ce", "eff", "alpha_eff"}). For the fuse
    baseline and forced decisions the efficiency term is a constant (no gradient).
    """

    def __init__(self, model, alpha: float = 0.0, warm_epochs: int = 5,
                 normalization: str = "official", smoothing: float = 0.1):
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}")
        self.model = model
        self.alpha, self.warm_epochs = alpha, warm_epochs
        self.normalization, self.smoothing = normalization, smoothing

    def __call__(self, logits, info, target, epoch: int = 0):
        ce = label_smoothing_cross_entropy(logits, target, self.smoothing)
        a_eff = warmed_alpha(self.alpha, epoch, self.warm_epochs)
        if info.actions is None:
            raise ValueError("the efficiency loss needs info.actions: run the model in masked mode")
        frac = choice_fractions(info.actions, info.owner, logits.shape[0])
        if self.model.cfg.policy == "fuse":
            eff = frac.new_zeros(()) + a_eff * self.model.gmacs_fixed * (
                self.normalization == "paper")
        else:
            table = (self.model.choice_extra_gmacs if self.normalization == "paper"
                     else _official_table(self.model))
            eff = efficiency_loss(frac, table, a_eff, self.normalization, self.model.gmacs_fixed)
        total = ce + eff
        parts = {"ce": float(ce.detach()), "eff": float(eff.detach()), "alpha_eff": a_eff}
        if info.branch_logits is not None:  # branch_loss: every branch alone, mean over branches
            bl = info.branch_logits
            branch = label_smoothing_cross_entropy(
                bl.reshape(-1, bl.shape[-1]), target.repeat(bl.shape[0]), self.smoothing)
            total = total + self.model.cfg.branch_loss * branch
            parts["branch_ce"] = float(branch.detach())
        return total, parts


def _official_table(model) -> torch.Tensor:
    """g[a] (the branch costs; the official loss ignores choice 0, so reuse does not matter)."""
    return torch.tensor([c.gmacs for c in model.choices], dtype=torch.float64,
                        device=model.choice_extra_gmacs.device)


class CrossEntropyCriterion:
    """The loss of a static model: label-smoothing cross-entropy, no efficiency term."""

    def __init__(self, smoothing: float = 0.1):
        self.smoothing = smoothing

    def __call__(self, logits, info, target, epoch: int = 0):
        ce = label_smoothing_cross_entropy(logits, target, self.smoothing)
        return ce, {"ce": float(ce.detach()), "eff": 0.0, "alpha_eff": 0.0}


def build_criterion(model, alpha: float = 0.0, warm_epochs: int = 5,
                    normalization: str = "official", smoothing: float = 0.1):
    """The training loss of ``model`` (see the module doc)."""
    if isinstance(model, AdaSGN):
        return AdaSGNLoss(model, alpha=alpha, warm_epochs=warm_epochs,
                          normalization=normalization, smoothing=smoothing)
    return CrossEntropyCriterion(smoothing)
