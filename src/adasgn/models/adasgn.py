"""AdaSGN (Shi et al., ICCV 2021): per-frame choice of joint number and spatial-module size.

Read top to bottom:

* **Choices.** For a layout with joint choices ``J = (1, 9, 25)`` and sizes ``("small", "big")``
  there are ``A = len(J) * K`` choices, ordered joint-major ascending, small before big
  (``index = joint_idx * K + size_idx``): S-1, B-1, S-9, B-9, S-25, B-25 for ntu25 -- the official
  code's order and the column order of paper Table 3 (spec 2.1).
* **Branches.** Choice ``a`` = its own learnable joint-aggregation matrix (a
  :class:`JointTransform`, cloned, never aliased -- spec 2.3) followed by its own :class:`SpatialModule`. All branches output
  256 channels per frame, so one :class:`TemporalModule` and one :class:`ClassifierHead` are shared.
* **Policy.** Choice 0 (S-1, the cheapest) is the *policy branch*: its features ``(B, T, 256)``
  feed the policy network (``policy.py``), which returns per-frame logits ``(B, T, A)``.
  Frames that pick choice 0 reuse those features (spec 2.8).
* **Decisions.** Training: straight-through Gumbel-softmax (forward = hard one-hot of
  ``argmax(logP + G)``, gradient = that of ``softmax((logP + G) / tau)``, ``logP = log(clamp(
  softmax(logits), 1e-8))``). Evaluation: ``argmax`` (deterministic, our default) or ``sample``
  (Gumbel-max, the official stochastic protocol, spec 2.9).
* **Two execution paths, one ``forward``** (``mode=``):

  - ``"masked"`` (default in training): every branch runs on every frame and the per-frame feature
    is ``F = sum_a A_a F_a`` -- the official computation; the straight-through gradient reaches
    the policy and branch ``a`` gets gradient only from the frames that chose it.
  - ``"grouped"`` (default in eval): decisions first, then every branch runs only on the frames
    (flattened over persons x time) that chose it: gather -> branch -> ``index_copy_`` into one
    preallocated ``(F, 256)`` output. Branches nobody chose are skipped; if every frame chose the
    same branch, it runs on the whole batch without gather/scatter. One host sync per batch for
    the person split and one (a ``bincount``) for the branch sizes; no per-frame sync.
    The velocity of a frame is taken in the branch's reduced joint space with the previous frame of
    the full sampled sequence: a used branch transforms every frame of the sequences (cheap:
    ``V0 x V_a`` MACs per coordinate), takes the velocity, and only then gathers its frames.

  Both give the same logits for the same decisions (tested, max abs diff < 1e-5); ``decisions=``
  forces them (e.g. in tests and benchmarks).
* **Accounting** (spec 3.3, paper convention, per one 20-frame person sequence): every forward
  returns the realised GMACs per sample = fixed cost (S-1 on all frames + temporal module + policy)
  + sum over frames of ``g[a] / T`` for the chosen ``a >= 1`` (choice 0 is free: reused), averaged
  over the sample's present persons. ``g`` is measured once with :func:`adasgn.flops.paper_macs`.

Input ``(N, C, T, V0, M)`` (or ``(N, C, T, V0)``); ``forward`` returns ``(logits (N, classes),
AdaSGNInfo)``. Design notes and deviations from the official code: ``docs/adasgn.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..skeleton import get_layout
from .base import ForwardInfo, SkeletonModel, choice_counts
from .budget import per_sample_decisions, set_model_budget
from .flops import count_params, executed_flops, paper_macs
from .policy import POLICIES, TConvPolicy, build_policy
from .sgn import (
    SIZES,
    ClassifierHead,
    SpatialModule,
    TemporalModule,
    check_input,
    init_sgn_weights,
    merge_persons,
    person_slots,
    velocity,
)
from .single import JointTransform
from .streaming import (
    ConvOverTime,
    FrameSpatial,
    StreamFrame,
    WindowStreamer,
    WindowTemporal,
    merge_sequences,
)

MODES = ("masked", "grouped")
EVAL_DECISIONS = ("argmax", "sample")
LOG_P_FLOOR = 1e-8  # logP = log(clamp(softmax(logits), 1e-8)), spec 2.4


@dataclass
class AdaSGNConfig:
    num_classes: int = 60
    layout: str = "ntu25"
    sizes: tuple[str, ...] = ("small", "big")  # spatial-module sizes, cheapest first
    num_frames: int = 20
    in_channels: int = 3
    dropout: float = 0.2
    policy: str = "tconv"  # tconv | tconv2 | lstm | transformer | rand | fuse
    policy_kernel: int = 3
    # random (PyTorch default) | fix (tconv only, spec 2.5) | zero (tconv only: all logits 0 at
    # the start -- every branch explored by the Gumbel noise alone; docs/results.md)
    policy_init: str = "random"
    # ours: for the first E training epochs every frame's branch is drawn uniformly at random (no
    # policy gradient), so that the shared temporal module learns every branch's features before
    # the policy starts choosing (against the collapse onto the branch that wins early)
    explore_epochs: int = 0
    # ours: weight of an auxiliary loss in masked training -- the cross-entropy of every branch
    # alone on all frames, through the shared temporal module and head (mean over branches) --
    # so that the shared module serves every branch and the policy picks branches on their merit,
    # not on which one the shared module learnt first (the collapse; docs/results.md). 0 = off
    branch_loss: float = 0.0
    tau0: float = 5.0
    tau_decay: float = 0.956  # per epoch: tau(e) = tau0 * tau_decay ** (e + 1), spec 2.6
    skip_empty_persons: bool = True  # all-zero person slots neither computed nor averaged
    eval_decision: str = "argmax"  # argmax (deterministic) | sample (official Gumbel-max)

    def __post_init__(self) -> None:
        self.sizes = tuple(self.sizes)
        for s in self.sizes:
            if s not in SIZES:
                raise ValueError(f"AdaSGN sizes must be among {SIZES}, got {s!r}")
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; choose one of {list(POLICIES)}")
        if self.eval_decision not in EVAL_DECISIONS:
            raise ValueError(f"eval_decision must be one of {EVAL_DECISIONS}")
        if not self.branch_loss >= 0:
            raise ValueError(f"branch_loss must be >= 0, got {self.branch_loss!r}")


@dataclass
class Choice:
    index: int
    name: str  # "S-1", "B-25", ...
    joints: int
    size: str
    gmacs: float  # g[a]: paper GMACs of the branch on all T frames of one person

    def to_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "joints": self.joints, "size": self.size,
                "gmacs": self.gmacs}


AdaSGNInfo = ForwardInfo  # what an AdaSGN forward returns next to the logits (models/base.py)


def straight_through_gumbel(logits: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(hard one-hot with the soft gradient, chosen index) over the last axis (spec 2.4)."""
    log_p = torch.log(torch.softmax(logits, dim=-1).clamp_min(LOG_P_FLOOR))
    y = log_p + _gumbel_like(log_p)
    soft = torch.softmax(y / tau, dim=-1)
    index = y.argmax(dim=-1)
    hard = F.one_hot(index, logits.shape[-1]).to(soft.dtype)
    # value: exactly the one-hot (0 - s + s == 0 in floating point); gradient: that of soft
    return hard - soft.detach() + soft, index


def _gumbel_like(t: torch.Tensor) -> torch.Tensor:
    return -torch.empty_like(t).exponential_().log()  # -log(E), E ~ Exp(1)  ==  Gumbel(0, 1)


# person-frames per forward up to which evaluation under inference_mode runs the folded branch
# kernels: at batch 1 they take 0.57x the modules' time (1 and 2 threads), at batch 8 0.86x, at
# batch 64 0.94-1.03x and at 256 up to 1.14x (docs/benchmarks.md, "Folded kernels")
FOLDED_MAX_FRAMES = 512


class AdaSGN(SkeletonModel):
    """AdaSGN: (N, C, T, V0, M) -> (logits (N, classes), :class:`ForwardInfo`)."""

    model_name = "adasgn"

    conditional = True  # a forward runs only the branches its frames chose

    def __init__(self, cfg: AdaSGNConfig | None = None, **kwargs):
        super().__init__()
        cfg = cfg or AdaSGNConfig(**kwargs)
        self.cfg = cfg
        lay = get_layout(cfg.layout)
        self._set_shape(lay, cfg.num_classes, cfg.in_channels, cfg.num_frames)
        self.joint_choices = lay.joint_choices  # ascending; the last is the full count
        specs = [(j, s) for j in self.joint_choices for s in cfg.sizes]  # index = j_idx * K + s_idx
        self.num_choices = len(specs)

        # one branch per choice: its own (cloned) aggregation matrix and spatial module
        self.transforms = nn.ModuleList(JointTransform.from_layout(lay, j) for j, _ in specs)
        self.spatials = nn.ModuleList(SpatialModule(j, s, cfg.in_channels) for j, s in specs)
        self.temporal = TemporalModule(cfg.num_frames, SpatialModule.out_channels, 512, cfg.dropout)
        self.head = ClassifierHead(512, cfg.num_classes)
        for m in (self.spatials, self.temporal, self.head):
            init_sgn_weights(m)
        # the policy keeps PyTorch's default init (spec 2.5 init_type 'random')
        self.policy = build_policy(cfg.policy, SpatialModule.out_channels, self.num_choices,
                                   cfg.policy_kernel, cfg.policy_init)
        self.uses_policy_features = self.policy is not None  # rand / fuse need no S-1 features

        self.epoch = 0
        self.tau = cfg.tau0 * cfg.tau_decay  # epoch 0 trains at tau0 * decay ** 1 (spec 2.6)
        self._pretrained_frozen = False
        self._folded: tuple | None = None  # (weight tensors, their version sum, kernels)

        # -- paper-convention cost table, measured once with the hooks of adasgn.flops ----------
        g, temporal_g, policy_g = _measure_costs(self)
        self.choices = [
            Choice(a, f"{s[0].upper()}-{j}", j, s, g[a]) for a, (j, s) in enumerate(specs)
        ]
        self.gmacs_temporal = temporal_g
        self.gmacs_policy = policy_g
        if cfg.policy == "fuse":  # every branch on every frame; S-1 counted once
            self.gmacs_fixed = temporal_g + sum(g)
            extra = [0.0] * self.num_choices
        else:
            # fixed: policy branch on all frames (if the policy needs it) + temporal + policy
            self.gmacs_fixed = temporal_g + policy_g + (g[0] if self.uses_policy_features else 0.0)
            extra = list(g)
            if self.uses_policy_features:
                extra[0] = 0.0  # feature reuse: frames choosing S-1 cost nothing extra
        # per-choice extra cost of one whole person sequence (T frames) beyond the fixed cost
        self.register_buffer("choice_extra_gmacs", torch.tensor(extra, dtype=torch.float64),
                             persistent=False)
        # run-time compute budget (models/budget.py): a bias added to the policy logits before
        # the eval-time argmax; None = plain argmax. Not saved in state_dict. budget /
        # budget_mode / budget_lambda / budget_calibration are set by SkeletonModel._set_shape.
        self.register_buffer("choice_bias", None, persistent=False)

    # ------------------------------------------------------------------ schedule / modes
    def set_epoch(self, epoch: int) -> None:
        """Epoch ``e`` (0-based) trains with ``tau = tau0 * tau_decay ** (e + 1)`` (spec 2.6)."""
        self.epoch = int(epoch)
        self.tau = self.cfg.tau0 * self.cfg.tau_decay ** (self.epoch + 1)

    def schedule_state(self) -> dict:
        return {"tau": float(self.tau)}

    def make_deterministic(self) -> None:
        self.cfg.eval_decision = "argmax"

    def train(self, mode: bool = True) -> "AdaSGN":
        super().train(mode)
        if mode and self._pretrained_frozen:  # frozen pretrained branches: BN statistics frozen too
            for m in (*self.spatials, *self.transforms):
                m.eval()
        return self

    def expected_gmacs(self, fractions) -> float:
        """Paper formula (spec 3.3): fixed + sum_a frac[a] * extra[a] (extra[0] = 0: reuse).

        ``fractions`` (per choice) sum to 1 for a policy; all ones gives the all-branches cost."""
        f = torch.as_tensor(fractions, dtype=torch.float64)
        return self.gmacs_fixed + float((f * self.choice_extra_gmacs.cpu()).sum())

    # ------------------------------------------------------------------ run-time compute budget
    def choice_costs(self) -> torch.Tensor:
        """(A,) float64: the extra paper GMACs per frame of each choice (S-1 free: reused)."""
        return self.choice_extra_gmacs.detach().cpu() / self.cfg.num_frames

    def set_choice_bias(self, bias) -> None:
        """Add ``bias`` (A,) to the policy logits before the eval-time decision; None clears it."""
        if bias is None:
            self.choice_bias = None
            return
        b = torch.as_tensor(bias, dtype=torch.float32).reshape(self.num_choices)
        self.choice_bias = b.to(self.choice_extra_gmacs.device)

    def set_budget_lambda(self, lam: float | None) -> None:
        """Bias the policy by ``-lam * cost(choice)`` (cost per frame, :meth:`choice_costs`)."""
        self.budget_lambda = None if lam is None else float(lam)
        self.set_choice_bias(None if lam is None else -float(lam) * self.choice_costs())

    def set_budget(self, gmacs: float | None, mode: str = "mean") -> None:
        """Aim at ``gmacs`` GMACs per person-sequence (models/budget.py): ``mean`` = one
        calibrated lambda for the mean; ``sample`` = every sequence finds its own lambda.
        ``None`` restores the plain argmax."""
        set_model_budget(self, gmacs, mode=mode)

    def usage(self, decisions, present) -> dict[str, float]:
        if self.cfg.policy == "fuse":  # every branch on every frame
            return {n: 1.0 for n in self.choice_names}
        return super().usage(decisions, present)

    def load_pretrained_singles(self, states, temporal_from: int | None = None) -> None:
        load_singles(self, states, temporal_from=temporal_from)

    def freeze_pretrained(self, frozen: bool) -> None:
        freeze_pretrained(self, frozen)

    def streamer(self) -> "AdaSGNStreamer":
        """Streamed windows: every frame's policy-branch features and chosen-branch features
        computed once, the policy over each window (models/streaming.py)."""
        return AdaSGNStreamer(self)

    # ------------------------------------------------------------------ branches
    def _branch_on_sequence(self, a: int, seq: torch.Tensor) -> torch.Tensor:
        """The official order: transform the whole sequence, then velocity in the reduced space."""
        red = self.transforms[a](seq)  # (B, T, V_a, C)
        return self.spatials[a](red, velocity(red))  # (B, T, 256)

    # ------------------------------------------------------------------ decisions
    def _decide(self, f0: torch.Tensor | None, b: int, t: int, forced: torch.Tensor | None,
                want_actions: bool, device, dtype, logits: torch.Tensor | None = None):
        """-> (decisions (B, T) long, actions (B, T, A) or None, policy logits or None).

        ``logits``: the policy's output when the caller computed it (the streamer does)."""
        a_n = self.num_choices
        if logits is None and self.policy is not None:
            logits = self.policy(f0)  # (B, T, A)
        if self.cfg.policy == "fuse":  # every branch on every frame
            dec = torch.full((b, t), -1, dtype=torch.long, device=device)
            actions = torch.ones(b, t, a_n, device=device, dtype=dtype) if want_actions else None
            return dec, actions, logits
        if forced is None and self.training and self.epoch < self.cfg.explore_epochs:
            dec = torch.randint(a_n, (b, t), device=device)  # exploration: uniform branches
            actions = F.one_hot(dec, a_n).to(dtype) if want_actions else None
            return dec, actions, logits
        if forced is None and logits is not None and self.training and want_actions:
            # straight-through Gumbel
            actions, dec = straight_through_gumbel(logits, self.tau)
            return dec, actions, logits
        dec = forced if forced is not None else self._choose(logits, b, t, device)
        actions = F.one_hot(dec, a_n).to(dtype) if want_actions else None
        return dec, actions, logits

    def _choose(self, logits: torch.Tensor | None, b: int, t: int, device) -> torch.Tensor:
        """Decisions without a gradient: random policy | budget per sample | Gumbel-max sample
        (training without actions, or the official eval protocol) | argmax, both after the
        budget's bias ``-lambda * cost`` when one is set."""
        if self.cfg.policy == "rand":
            return torch.randint(self.num_choices, (b, t), device=device)
        if not self.training and self.budget is not None and self.budget_mode == "sample":
            cost = self.choice_extra_gmacs / self.cfg.num_frames  # (A,) per frame, on device
            return per_sample_decisions(logits, cost, self.budget - self.gmacs_fixed)
        bias = self.choice_bias if not self.training else None
        if self.training or self.cfg.eval_decision == "sample":
            log_p = torch.log(torch.softmax(logits, dim=-1).clamp_min(LOG_P_FLOOR))
            if bias is not None:
                log_p = log_p + bias.to(log_p.dtype)
            return (log_p + _gumbel_like(log_p)).argmax(dim=-1)
        if bias is not None:
            logits = logits + bias.to(logits.dtype)
        return logits.argmax(dim=-1)

    # ------------------------------------------------------------------ the two paths
    def _masked(self, seq: torch.Tensor, forced: torch.Tensor | None):
        """Every branch on every frame; F = sum_a A_a F_a.  seq (B, T, V0, C)."""
        b, t = seq.shape[:2]
        feats = [self._branch_on_sequence(a, seq) for a in range(self.num_choices)]  # A x (B,T,256)
        f0 = feats[0] if self.uses_policy_features else None
        dec, actions, logits = self._decide(f0, b, t, forced, True, seq.device, seq.dtype)
        stacked = torch.stack(feats, dim=2)  # (B, T, A, 256)
        out = (actions.unsqueeze(-1) * stacked).sum(dim=2)  # (B, T, 256)
        return out, dec, actions, logits, stacked

    def _branch_logits(self, stacked: torch.Tensor, owner: torch.Tensor, n: int) -> torch.Tensor:
        """Every branch alone on all frames through the shared temporal module and head:
        stacked (B, T, A, 256) -> (A, N, classes), for the ``branch_loss``. The temporal
        module's BatchNorms normalise with these batches' statistics but keep their running
        statistics (momentum 0 for this call): those stay the policy-mixed features' own."""
        b, t, a_n, d = stacked.shape
        bns = [m for m in self.temporal.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [m.momentum for m in bns]
        try:
            for m in bns:
                m.momentum = 0.0
            flat = stacked.permute(2, 0, 1, 3).reshape(a_n * b, t, d)  # (A*B, T, 256)
            out = self.head(self.temporal(flat)).view(a_n, b, -1)  # (A, B, classes)
        finally:
            for m, mom in zip(bns, saved):
                m.momentum = mom
        return torch.stack([merge_persons(out[a], owner, n) for a in range(a_n)])

    def folded_branches(self) -> list[FrameSpatial] | None:
        """The branches folded for inference (:class:`~adasgn.models.streaming.FrameSpatial`:
        BatchNorm folded into the linear maps, constant embeddings precomputed: far fewer
        kernel calls per branch), rebuilt whenever a weight changed: an optimizer step or
        ``load_state_dict`` bumps the tensors' versions (versions only grow, so their sum is the
        stamp), ``.to()`` / ``.float()`` go through ``_apply``, which drops the kernels. None when
        the versions cannot be read."""
        try:
            if self._folded is not None:
                tensors, stamp, kernels = self._folded
                if sum(x._version for x in tensors) == stamp:
                    return kernels
            tensors = [x for mod in (self.spatials, self.transforms)
                       for x in (*mod.parameters(), *mod.buffers())]
            stamp = sum(x._version for x in tensors)
        except RuntimeError:  # e.g. tensors created in inference mode carry no version
            return None
        kernels = self.fold_branches()
        self._folded = (tensors, stamp, kernels)
        return kernels

    def fold_branches(self) -> list[FrameSpatial]:
        """Every branch as a folded kernel, from the current weights (a snapshot: the streamer
        keeps its own; :meth:`folded_branches` caches one for the offline forward)."""
        with torch.inference_mode(False), torch.no_grad():
            return [FrameSpatial(self.spatials[a], self.transforms[a].matrix)
                    for a in range(self.num_choices)]

    def _apply(self, fn, *args, **kwargs):
        self._folded = None  # new tensors (device / dtype): fold again when next needed
        return super()._apply(fn, *args, **kwargs)

    def _grouped(self, seq: torch.Tensor, forced: torch.Tensor | None):
        """Each branch only on the frames that chose it.  seq (B, T, V0, C).

        Under ``torch.inference_mode`` in evaluation, for small batches (at most
        ``FOLDED_MAX_FRAMES`` person-frames), the branches run as their folded kernels
        (:meth:`folded_branches`; same result up to float rounding, tested), each frame with the
        previous frame of its sequence (itself for the first: velocity 0)."""
        b, t, v0, c = seq.shape
        nf = b * t
        kernels = (self.folded_branches() if not self.training and nf <= FOLDED_MAX_FRAMES
                   and torch.is_inference_mode_enabled() else None)
        if kernels is not None:
            pos = seq.reshape(nf, v0, c)
            prev = torch.cat([seq[:, :1], seq[:, :-1]], 1).reshape(nf, v0, c)

            def branch(a: int, idx: torch.Tensor | None = None) -> torch.Tensor:  # (F_a, 256)
                if idx is None:
                    return kernels[a](pos, prev)
                return kernels[a](pos.index_select(0, idx), prev.index_select(0, idx))
        else:
            def branch(a: int, idx: torch.Tensor | None = None) -> torch.Tensor:
                if idx is None:
                    return self._branch_on_sequence(a, seq).reshape(nf, -1)
                red = self.transforms[a](seq)  # whole sequences, (B, T, V_a, C): cheap
                v_a = red.shape[2]
                p_a = red.reshape(nf, 1, v_a, c).index_select(0, idx)  # (F_a, 1, V_a, C)
                vel = velocity(red).reshape(nf, 1, v_a, c).index_select(0, idx)  # prev. frame
                return self.spatials[a](p_a, vel).reshape(idx.numel(), -1)
        f0 = branch(0).view(b, t, -1) if self.uses_policy_features else None  # (B, T, 256)
        dec, _, logits = self._decide(f0, b, t, forced, False, seq.device, seq.dtype)
        if self.cfg.policy == "fuse":
            out = f0 if f0 is not None else branch(0).view(b, t, -1)
            for a in range(1, self.num_choices):
                out = out + branch(a).view(b, t, -1)
            return out, dec, logits

        flat = dec.reshape(nf)
        counts = torch.bincount(flat, minlength=self.num_choices).tolist()  # the one host sync
        full = [a for a, n_a in enumerate(counts) if n_a == nf]
        if full:  # fast path: one branch for every frame, no gather / scatter
            a = full[0]
            out = f0 if (a == 0 and f0 is not None) else branch(a).view(b, t, -1)
            return out, dec, logits

        order = torch.argsort(flat, stable=True)  # frames grouped by choice, (F,)
        out = None
        if f0 is not None and counts[0] > 0:
            out = f0.reshape(nf, -1).clone()  # frames choosing S-1 reuse the policy's features
        start = 0
        for a, n_a in enumerate(counts):
            if n_a and not (a == 0 and f0 is not None):
                idx = order.narrow(0, start, n_a)  # (F_a,) frames that chose a
                part = branch(a, idx)  # (F_a, 256); under autocast its dtype is autocast's
                if out is None:
                    out = part.new_empty(nf, part.shape[-1])
                out.index_copy_(0, idx, part.to(out.dtype))
            start += n_a
        return out.view(b, t, -1), dec, logits

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, mode: str | None = None,
                decisions: torch.Tensor | int | None = None):
        """x (N, C, T, V0, M) -> (logits (N, classes), :class:`AdaSGNInfo`).

        mode: "masked" | "grouped"; default masked in training, grouped in eval.
        decisions: force the choices instead of asking the policy -- an int (every frame), or a
            LongTensor of shape (N, M, T), (N*M, T), (N, T) (same for every person), (N, M) or (N,)
            (same for every frame). Forced decisions carry no gradient to the policy.
        """
        cfg = self.cfg
        mode = mode or ("masked" if self.training else "grouped")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        x = check_input(x, cfg.in_channels, cfg.num_frames, self.num_joints, "AdaSGN")
        n, c, t, v, m = x.shape
        # (B, T, V0, C), (B,) slot index, (N, M)
        seq, keep, present = person_slots(x, cfg.skip_empty_persons)
        owner = torch.div(keep, m, rounding_mode="floor")  # (B,) sample of each sequence
        forced = None
        if decisions is not None:
            forced = self._expand_decisions(decisions, n, m, t, x.device)
            if keep.numel() != n * m:
                forced = forced.index_select(0, keep)

        stacked = branch_logits = None
        if mode == "masked":
            feats, dec, actions, logits, stacked = self._masked(seq, forced)
        else:
            (feats, dec, logits), actions = self._grouped(seq, forced), None
        out = self.head(self.temporal(feats))  # (B, classes)
        if stacked is not None and self.training and cfg.branch_loss > 0:
            branch_logits = self._branch_logits(stacked, owner, n)  # (A, N, classes)

        # per-sample average over present persons
        logits_n = merge_persons(out, owner, n)
        count = torch.bincount(owner, minlength=n).clamp_min(1)
        seq_g = self._sequence_gmacs(dec)  # (B,) float64
        gmacs = seq_g.new_zeros(n).index_add_(0, owner, seq_g) / count

        all_dec = dec
        if keep.numel() != n * m:
            all_dec = dec.new_full((n * m, t), -1).index_copy_(0, keep, dec)
        info = ForwardInfo(gmacs=gmacs, present=present, owner=owner,
                           decisions=all_dec.view(n, m, t), mode=mode, actions=actions,
                           policy_logits=logits, branch_logits=branch_logits)
        return logits_n, info

    def _sequence_gmacs(self, dec: torch.Tensor) -> torch.Tensor:
        """Realised paper GMACs of each computed person sequence (B,) (spec 3.3)."""
        t = dec.shape[1]
        per_frame = self.choice_extra_gmacs / t  # (A,)
        extra = per_frame[dec.clamp_min(0)].sum(1) if self.cfg.policy != "fuse" else 0.0
        return self.gmacs_fixed + extra + dec.new_zeros(dec.shape[0], dtype=torch.float64)

    def _expand_decisions(self, d, n: int, m: int, t: int, device) -> torch.Tensor:
        d = torch.as_tensor(d, dtype=torch.long, device=device)
        if d.dim() == 0:
            d = d.expand(n * m, t)
        elif d.shape == (n, m, t):
            d = d.reshape(n * m, t)
        elif d.shape == (n * m, t):
            pass
        elif d.shape == (n, t):
            d = d.unsqueeze(1).expand(n, m, t).reshape(n * m, t)
        elif d.shape == (n, m):
            d = d.reshape(n * m, 1).expand(n * m, t)
        elif d.shape == (n,):
            d = d.view(n, 1).expand(n, m * t).reshape(n * m, t)
        else:
            raise ValueError(
                f"decisions of shape {tuple(d.shape)} do not fit (N={n}, M={m}, T={t}); "
                "use an int, "
                "(N, M, T), (N*M, T), (N, T), (N, M) or (N,)"
            )
        if d.numel() and (int(d.min()) < 0 or int(d.max()) >= self.num_choices):
            raise ValueError(f"decisions must lie in [0, {self.num_choices - 1}]")
        return d.contiguous()


class AdaSGNStreamer(WindowStreamer):
    """AdaSGN on streamed windows, equal to the grouped forward (argmax or budgeted decisions).

    Per window: the policy branch's (S-1) features of every frame (cached: new frames and the
    window's first frame, at zero velocity, are computed), the policy and the decision rule over
    the window (``AdaSGN._decide``, so a budget applies as offline), then the chosen branch of
    every frame -- from the frame's cache when that branch already ran on it, computed otherwise
    (the new frame, the first frame, and frames whose decision changed because a neighbour did:
    the kernel-3 policy looks one frame ahead, so the newest frame's decision is provisional
    until the next frame arrives). ``fuse`` sums every branch (each cached per frame)."""

    def __init__(self, model: AdaSGN):
        super().__init__(model.fold_branches(), WindowTemporal(model.temporal, model.head),
                         model.cfg.skip_empty_persons)
        self.model = model
        # the tconv policy is one linear convolution: run as a matmul on the window (eval)
        self.policy = (ConvOverTime(model.policy.conv) if isinstance(model.policy, TConvPolicy)
                       else model.policy)
        self.extra = model.choice_extra_gmacs.tolist()  # per choice, per T-frame sequence

    def window(self, windows: list[list[StreamFrame]]) -> tuple[torch.Tensor, ForwardInfo]:
        model = self.model
        n, t = len(windows), len(windows[0])
        m = len(windows[0][0].nonzero)
        seqs, present = self.slots(windows)
        b = len(seqs)
        first = windows[0][0].pos
        f0 = logits = None
        if model.uses_policy_features:
            got = self.features([(windows[w], p, j, 0) for w, j in seqs for p in range(t)])
            f0 = torch.stack([g[0] for g in got]).view(b, t, -1)  # (B, T, 256)
            logits = self.policy(f0)  # (B, T, A)
        dec, _, logits = model._decide(f0, b, t, None, False, first.device, first.dtype, logits)
        k = self.temporal.k
        if model.cfg.policy == "fuse":  # every branch on every frame: the terms add up
            a_n = model.num_choices
            got = self.features([(windows[w], p, j, a) for w, j in seqs for p in range(t)
                                 for a in range(a_n)], True)
            z = torch.stack([g[1] for g in got]).view(b, t, a_n, k, -1).sum(2)
        else:
            flat = dec.reshape(-1).tolist()
            got = self.features([(windows[w], p, j, flat[i * t + p])
                                 for i, (w, j) in enumerate(seqs) for p in range(t)], True)
            z = torch.stack([g[1] for g in got]).view(b, t, k, -1)
        out = merge_sequences(self.temporal.finish(z), seqs, n)
        owner = torch.tensor([w for w, _ in seqs])
        # realised GMACs (spec 3.3, as _sequence_gmacs): fixed + the chosen choices' per-frame
        # extra cost, per sequence, averaged over each window's persons -- on the host here
        fixed = model.gmacs_fixed
        if model.cfg.policy == "fuse":
            seq_g = [fixed] * b
        else:
            per_frame = [g / t for g in self.extra]
            seq_g = [fixed + sum(per_frame[a] for a in flat[i * t:(i + 1) * t])
                     for i in range(b)]
        total, count = [0.0] * n, [0] * n
        for (w, _), g in zip(seqs, seq_g):
            total[w] += g
            count[w] += 1
        gmacs = torch.tensor([g / max(c, 1) for g, c in zip(total, count)], dtype=torch.float64)
        all_dec = dec  # seqs are in (window, slot) order: every slot computed = every row
        if b != n * m:
            keep = torch.tensor([w * m + j for w, j in seqs])
            all_dec = dec.new_full((n * m, t), -1).index_copy_(0, keep, dec)
        info = ForwardInfo(gmacs=gmacs, present=present, owner=owner,
                           decisions=all_dec.view(n, m, t), mode="stream", policy_logits=logits)
        return out, info


# ---------------------------------------------------------------------------------------------
# cost table, pretrained singles, freezing, usage statistics, the CLI's complexity


def _measure_costs(model: AdaSGN) -> tuple[list[float], float, float]:
    """g[a] of every branch, the temporal module and the policy, per T-frame person (GMACs)."""
    cfg = model.cfg
    t = cfg.num_frames
    g = []
    for a, sm in enumerate(model.spatials):
        x = torch.zeros(1, t, sm.num_joints, cfg.in_channels)
        g.append(paper_macs(sm, lambda sm=sm, x=x: sm(x, x)) / 1e9)
    f = torch.zeros(1, t, SpatialModule.out_channels)
    temporal_g = paper_macs(model.temporal, lambda: model.temporal(f)) / 1e9
    policy_g = paper_macs(model.policy, lambda: model.policy(f)) / 1e9 if model.policy else 0.0
    return g, temporal_g, policy_g


def load_singles(model: AdaSGN, singles, temporal_from: int | None = None) -> AdaSGN:
    """Copy pretrained single models (SGN*) into the branches, in choice order (spec 2.10).

    ``singles``: one :class:`~adasgn.models.single.SingleSGN` or its ``state_dict`` per choice
    (S-1, B-1, S-9, B-9, S-25, B-25 for ntu25). Each branch gets that model's spatial module and
    aggregation matrix (copied, never shared). With ``temporal_from`` (a choice index; -1 or
    ``num_choices - 1`` is the full-joint big single) the temporal module and classifier also come
    from that single -- which the official code never does (its init_num = 100).
    """
    singles = list(singles)
    if len(singles) != model.num_choices:
        raise ValueError(f"expected {model.num_choices} single models in the order "
                         f"{model.choice_names}, got {len(singles)}")
    states = [s.state_dict() if isinstance(s, nn.Module) else s for s in singles]
    for a, (state, choice) in enumerate(zip(states, model.choices)):
        sub = {k[len("spatial."):]: v for k, v in state.items() if k.startswith("spatial.")}
        mat = state.get("transform.matrix")
        if mat is None or not sub:
            raise ValueError(
                f"single model {a} ({choice.name}) has no spatial.* / transform.matrix")
        if tuple(mat.shape) != (model.num_joints, choice.joints):
            raise ValueError(f"single model {a} has a {tuple(mat.shape)} matrix; {choice.name} "
                             f"needs ({model.num_joints}, {choice.joints})")
        try:
            model.spatials[a].load_state_dict(sub)
        except RuntimeError as exc:
            raise ValueError(f"single model {a} does not fit branch {choice.name}: {exc}") from None
        with torch.no_grad():
            model.transforms[a].matrix.copy_(mat)
    if temporal_from is not None:
        if not -model.num_choices <= temporal_from < model.num_choices:
            raise ValueError(f"temporal_from={temporal_from}: no such choice in {model.choice_names}")
        state = states[temporal_from]
        for name, mod in (("temporal", model.temporal), ("head", model.head)):
            mod.load_state_dict({k[len(name) + 1:]: v for k, v in state.items()
                                 if k.startswith(name + ".")})
    return model


def freeze_pretrained(model: AdaSGN, frozen: bool, transforms: bool = True) -> AdaSGN:
    """(Un)freeze the branches: requires_grad of spatial modules (and matrices) and, unlike the
    official code, their BatchNorm running statistics (kept in eval mode while frozen)."""
    for p in model.spatials.parameters():
        p.requires_grad_(not frozen)
    if transforms:
        for p in model.transforms.parameters():
            p.requires_grad_(not frozen)
    model._pretrained_frozen = bool(frozen)
    model.train(model.training)  # re-apply the BN rule to the current mode
    return model


class ActionUsage:
    """Accumulates decisions over an evaluation: usage fraction per choice (paper Table 3 columns)
    and the mean realised GMACs per sample."""

    def __init__(self, model: AdaSGN):
        self.names = model.choice_names
        self.counts = torch.zeros(len(self.names), dtype=torch.float64)
        self.frames = 0
        self.gmacs_sum = 0.0
        self.samples = 0

    def update(self, info: ForwardInfo) -> None:
        counts, frames = choice_counts(info.decisions, info.present, len(self.names))
        self.counts += counts  # fuse: every branch ran on each of its frames
        self.frames += frames
        self.gmacs_sum += float(info.gmacs.sum())
        self.samples += info.gmacs.numel()

    def fractions(self) -> dict[str, float]:
        """Percent of frames that ran each choice (sums to 100 except for fuse)."""
        return {k: 100.0 * float(c) / max(self.frames, 1) for k, c in zip(self.names, self.counts)}

    @property
    def mean_gmacs(self) -> float:
        return self.gmacs_sum / max(self.samples, 1)


def adasgn_complexity(layout: str = "ntu25", policy: str = "tconv", num_classes: int = 60,
                      in_channels: int = 3, num_frames: int = 20) -> dict:
    """Parameters and costs of AdaSGN for ``adasgn complexity --model adasgn``.

    ``gmacs`` is the paper-convention cost when every frame takes the full-joint big branch
    (Table 3's alpha = 0 row); ``gmacs_fixed`` is the part paid whatever the decisions (S-1 +
    temporal + policy); ``gmacs_fuse`` runs every branch; ``choices`` lists ``g[a]``.
    ``gflops_executed`` is measured by flop_counter on one person with every frame on the full big
    branch in grouped mode; ``gflops_executed_masked`` is the official all-branches computation.
    """
    model = AdaSGN(AdaSGNConfig(num_classes=num_classes, layout=layout, policy=policy,
                                in_channels=in_channels, num_frames=num_frames)).eval()
    last = model.num_choices - 1
    x = torch.randn(1, in_channels, num_frames, model.num_joints, 1)
    with torch.no_grad():
        dec = None if policy == "fuse" else last
        grouped, _ = executed_flops(lambda: model(x, mode="grouped", decisions=dec))
        masked, _ = executed_flops(lambda: model(x, mode="masked", decisions=dec))
    g = [c.gmacs for c in model.choices]
    uniform = [1.0 / len(g)] * len(g)
    # every branch on every frame: the Table 3 formula with all fractions 1 (fixed cost incl. this
    # model's policy + all branches) -- 0.3220 for ntu25; the network-free fuse baseline itself
    # pays no policy (temporal + all branches, its gmacs_fixed)
    fuse_gmacs = model.gmacs_fixed if policy == "fuse" else model.expected_gmacs([1.0] * len(g))
    return {
        "params": count_params(model),
        "policy": policy,
        "gmacs": fuse_gmacs if policy == "fuse" else model.expected_gmacs([0.0] * last + [1.0]),
        "gmacs_fixed": model.gmacs_fixed,
        "gmacs_temporal": model.gmacs_temporal,
        "gmacs_policy": model.gmacs_policy,
        "gmacs_fuse": fuse_gmacs,
        "gmacs_rand": None if policy == "fuse" else model.expected_gmacs(uniform),
        "gflops_executed": grouped / 1e9,
        "gflops_executed_masked": masked / 1e9,
        "choices": [c.to_dict() for c in model.choices],
        "input_shape": [1, in_channels, num_frames, model.num_joints, 1],
    }


__all__ = [
    "AdaSGN",
    "AdaSGNConfig",
    "AdaSGNInfo",
    "ActionUsage",
    "Choice",
    "adasgn_complexity",
    "freeze_pretrained",
    "load_singles",
    "straight_through_gumbel",
]
