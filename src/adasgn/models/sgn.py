"""SGN (Zhang et al., CVPR 2020), written to be read top to bottom.

The building blocks here are shared with the AdaSGN models:

* :class:`SpatialModule` -- the joint-level part (dynamics + joint-type embeddings, adaptive graph,
  GCN layers, joint max-pool). ``size="big"`` is SGN's (3 GCN layers 128-128-256-256),
  ``size="small"`` has one 128->256 GCN layer. Both output 256 channels per frame.
* :class:`TemporalModule` -- frame-index embedding + the 1x3 / 1x1 temporal convs (512 out).
* :class:`ClassifierHead` -- max over time + fc.

Tensors are kept channels-last inside the network: a sequence is ``(B, T, V, C)`` (B sequences of
T frames, V joints, C channels). The 1x1 convolutions of the paper are therefore linear maps on the
last axis (:class:`PointwiseConv`), which is the same computation with the same parameter count.

Multiple persons (``M`` slots) are separate sequences whose logits are averaged. Unlike the official
code, an all-zero person slot is neither computed nor averaged in (``skip_empty_persons=False``
restores the official behaviour for reproduction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..skeleton import get_layout
from .base import ForwardInfo, SkeletonModel
from .flops import sequence_gmacs
from .layers import JointMaxPool, PointwiseConv, TimeMaxPool
from .streaming import FrameSpatial, StreamFrame, WindowStreamer, WindowTemporal, merge_sequences

SIZES = ("small", "big")
# GCN layer widths (in -> out) of the two spatial-module sizes (spec 1.3 and 2.2)
GCN_WIDTHS = {"big": ((128, 128), (128, 256), (256, 256)), "small": ((128, 256),)}


def channels_last_bn(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the last axis of an (..., C) tensor (statistics over all other axes)."""
    return bn(x.reshape(-1, x.shape[-1])).view(x.shape)


class DynamicsEmbed(nn.Module):
    """Position (or velocity) embedding: BN over V*C channels, then 1x1 conv C->64->64 with ReLUs."""

    def __init__(self, num_joints: int, in_channels: int = 3, dim: int = 64):
        super().__init__()
        self.bn = nn.BatchNorm1d(num_joints * in_channels)
        self.fc1 = PointwiseConv(in_channels, dim)
        self.relu1 = nn.ReLU()
        self.fc2 = PointwiseConv(dim, dim)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, v, c = x.shape  # (B, T, V, C)
        x = self.bn(x.reshape(b * t, v * c)).view(b, t, v, c)  # one BN channel per (joint, coord)
        return self.relu2(self.fc2(self.relu1(self.fc1(x))))  # (B, T, V, 64)


class SemanticEmbed(nn.Module):
    """Embedding of a one-hot identity (joint type or frame index): n -> hidden -> out, ReLUs.

    Computed once per forward on the (n, n) identity, then broadcast (spec 3.1: embeddings are
    computed once, so their cost does not scale with batch or frames).
    """

    def __init__(self, n: int, hidden: int, out: int):
        super().__init__()
        self.fc1 = PointwiseConv(n, hidden)
        self.relu1 = nn.ReLU()
        self.fc2 = PointwiseConv(hidden, out)
        self.relu2 = nn.ReLU()
        self.register_buffer("onehot", torch.eye(n), persistent=False)

    def forward(self) -> torch.Tensor:
        return self.relu2(self.fc2(self.relu1(self.fc1(self.onehot))))  # (n, out)


class AdaptiveGraph(nn.Module):
    """Per-frame data-dependent graph G = softmax_j(theta(x_i) . phi(x_j)) (no 1/sqrt(d))."""

    def __init__(self, in_channels: int = 128, dim: int = 256):
        super().__init__()
        self.theta = PointwiseConv(in_channels, dim)
        self.phi = PointwiseConv(in_channels, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.theta(x)  # (B, T, V, 256)
        k = self.phi(x)  # (B, T, V, 256)
        return torch.softmax(q @ k.transpose(-1, -2), dim=-1)  # (B, T, V, V)


class GCNLayer(nn.Module):
    """Y = ReLU(BN(W (G X) + W1 X)); W without bias, W1 with bias."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.w = PointwiseConv(in_channels, out_channels, bias=False)
        self.w1 = PointwiseConv(in_channels, out_channels)
        self.bn = nn.BatchNorm1d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        y = self.w(g @ x) + self.w1(x)  # (B, T, V, out)
        return self.relu(channels_last_bn(self.bn, y))


class SpatialModule(nn.Module):
    """SGN's joint-level module, in two sizes ("big" = SGN's SM_0, "small" = AdaSGN's SM_1).

    ``forward(pos, vel)`` takes positions and velocities (B, T, V, C) and returns per-frame
    features (B, T, 256). Frames are independent here (the velocity is an input), so a batch of
    arbitrary frames can be run as (F, 1, V, C) -- which is what grouped AdaSGN does.
    """

    out_channels = 256

    def __init__(self, num_joints: int, size: str = "big", in_channels: int = 3, dim: int = 64):
        super().__init__()
        if size not in GCN_WIDTHS:
            raise ValueError(f"spatial module size must be one of {SIZES}, got {size!r}")
        self.num_joints, self.size, self.in_channels = num_joints, size, in_channels
        self.joint_embed = DynamicsEmbed(num_joints, in_channels, dim)
        self.dif_embed = DynamicsEmbed(num_joints, in_channels, dim)
        self.spa_embed = SemanticEmbed(num_joints, dim, dim)
        self.graph = AdaptiveGraph(2 * dim, 256)
        self.gcns = nn.ModuleList(GCNLayer(i, o) for i, o in GCN_WIDTHS[size])
        self.pool = JointMaxPool()

    def forward(self, pos: torch.Tensor, vel: torch.Tensor) -> torch.Tensor:
        b, t, v, _ = pos.shape
        dyn = self.joint_embed(pos) + self.dif_embed(vel)  # (B, T, V, 64) dynamics representation
        jt = self.spa_embed()  # (V, 64) joint-type embedding
        x = torch.cat([dyn, jt.expand(b, t, v, jt.shape[-1])], dim=-1)  # (B, T, V, 128)
        g = self.graph(x)  # (B, T, V, V)
        for gcn in self.gcns:
            x = gcn(x, g)  # (B, T, V, 128 | 256)
        return self.pool(x)  # (B, T, 256)


class TemporalModule(nn.Module):
    """Frame-level module: + frame-index embedding, 1x3 conv, BN, ReLU, dropout, 1x1 conv, BN, ReLU."""

    # the official code max-pools the joint axis here once more (a no-op once joints are pooled);
    # the paper's convention counts its input elements (adasgn.models.flops)
    paper_counts_input_pool = True

    def __init__(self, num_frames: int = 20, in_channels: int = 256, out_channels: int = 512,
                 dropout: float = 0.2, dim: int = 64):
        super().__init__()
        self.num_frames = num_frames
        self.tem_embed = SemanticEmbed(num_frames, dim, in_channels)
        self.conv1 = nn.Conv1d(in_channels, in_channels, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm1d(in_channels)
        self.relu1 = nn.ReLU()
        self.dropout = nn.Dropout1d(dropout)  # whole channels, like the official Dropout2d
        self.conv2 = nn.Conv1d(in_channels, out_channels, kernel_size=1)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.relu2 = nn.ReLU()

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        f = f + self.tem_embed()  # (B, T, 256) + (T, 256)
        f = f.transpose(1, 2)  # (B, 256, T)
        f = self.dropout(self.relu1(self.bn1(self.conv1(f))))  # (B, 256, T)
        return self.relu2(self.bn2(self.conv2(f)))  # (B, 512, T)


class ClassifierHead(nn.Module):
    """Global max over time, then a linear classifier."""

    def __init__(self, in_channels: int = 512, num_classes: int = 60):
        super().__init__()
        self.pool = TimeMaxPool()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(f))  # (B, 512, T) -> (B, classes)


def init_sgn_weights(module: nn.Module) -> None:
    """Spec 1.6: conv weights ~ N(0, sqrt(2 / (k * out))), then every GCN's W set to zero."""
    for m in module.modules():
        if isinstance(m, PointwiseConv):
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / m.out_features))
        elif isinstance(m, nn.Conv1d):
            k = m.kernel_size[0]
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / (k * m.out_channels)))
    for m in module.modules():
        if isinstance(m, GCNLayer):
            nn.init.zeros_(m.w.weight)


# ---------------------------------------------------------------------------------------------
# Input handling shared by every model


def velocity(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """dif[t] = x[t] - x[t-1], dif[0] = 0, along the time axis ``dim``."""
    dif = torch.zeros_like(x)
    n = x.shape[dim]
    dif.narrow(dim, 1, n - 1).copy_(x.narrow(dim, 1, n - 1) - x.narrow(dim, 0, n - 1))
    return dif


def check_input(x: torch.Tensor, in_channels: int, num_frames: int, num_joints: int,
                model: str) -> torch.Tensor:
    """Accept (N, C, T, V, M) or (N, C, T, V); raise a clear error otherwise."""
    if x.dim() == 4:
        x = x.unsqueeze(-1)
    if x.dim() != 5:
        raise ValueError(
            f"{model}: expected input (N, C={in_channels}, T={num_frames}, V={num_joints}, M), "
            f"got a {x.dim()}-d tensor of shape {tuple(x.shape)}"
        )
    n, c, t, v, m = x.shape
    problems = []
    if c != in_channels:
        problems.append(f"C={c} coordinates (expected {in_channels})")
    if t != num_frames:
        problems.append(f"T={t} frames (expected {num_frames}; sample sequences to {num_frames})")
    if v != num_joints:
        problems.append(f"V={v} joints (expected {num_joints})")
    if problems:
        raise ValueError(
            f"{model}: input shape {tuple(x.shape)} does not match (N, C, T, V, M): "
            + "; ".join(problems)
        )
    return x


def present_persons(x: torch.Tensor, skip_empty: bool) -> torch.Tensor:
    """(N, C, T, V, M) -> (N, M) bool: the person slots a model computes -- the one rule.

    With ``skip_empty`` a slot is computed when it is not all zero, and a sample whose slots are
    all empty keeps its first slot so that every sample gets a prediction; without it every slot
    is computed (the official behaviour). Traceable (no in-place write, no host sync), so the ONNX
    graphs use it too."""
    n, m = x.shape[0], x.shape[4]
    if not skip_empty:
        return torch.ones(n, m, dtype=torch.bool, device=x.device)
    present = x.ne(0).flatten(1, 3).any(1)  # (N, M)
    first = present[:, :1] | ~present.any(1, keepdim=True)
    return torch.cat([first, present[:, 1:]], dim=1)


def person_slots(x: torch.Tensor, skip_empty: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, C, T, V, M) -> sequences (B, T, V, C), their slot index in N*M (B,), present (N, M).

    Only the slots :func:`present_persons` keeps are returned; nothing is copied when every slot
    is kept."""
    n, c, t, v, m = x.shape
    seq = x.permute(0, 4, 2, 3, 1).reshape(n * m, t, v, c)  # (N*M, T, V, C)
    if not skip_empty or m == 1:
        present = torch.ones(n, m, dtype=torch.bool, device=x.device)
        return seq, torch.arange(n * m, device=x.device), present
    present = present_persons(x, skip_empty)
    keep = present.reshape(-1).nonzero().squeeze(1)  # one host sync per batch, not per frame
    if keep.numel() != n * m:
        seq = seq.index_select(0, keep)
    return seq, keep, present


def merge_persons(logits: torch.Tensor, owner: torch.Tensor, n: int) -> torch.Tensor:
    """Average per-sequence logits (B, K) into per-sample logits (N, K)."""
    out = logits.new_zeros(n, logits.shape[1]).index_add_(0, owner, logits)
    count = torch.bincount(owner, minlength=n).clamp_min(1).to(logits.dtype)
    return out / count.unsqueeze(1)


class StaticStreamer(WindowStreamer):
    """A static model on streamed windows: one branch (the spatial module, behind the single
    models' aggregation matrix) for every frame, computed once per frame (twice for the frame
    that becomes a window's first: with zero velocity)."""

    def __init__(self, model: "StaticModel"):
        super().__init__([FrameSpatial(model.spatial, model.stream_matrix())],
                         WindowTemporal(model.temporal, model.head), model.cfg.skip_empty_persons)
        self.gmacs = float(model.gmacs_fixed)

    def window(self, windows: list[list[StreamFrame]]) -> tuple[torch.Tensor, ForwardInfo]:
        n, t = len(windows), len(windows[0])
        seqs, present = self.slots(windows)
        got = self.features([(windows[w], p, j, 0) for w, j in seqs for p in range(t)], True)
        z = torch.stack([g[1] for g in got]).view(len(seqs), t, self.temporal.k, -1)
        logits = merge_sequences(self.temporal.finish(z), seqs, n)
        owner = torch.tensor([w for w, _ in seqs])
        gmacs = torch.full((n,), self.gmacs, dtype=torch.float64)
        return logits, ForwardInfo(gmacs=gmacs, present=present, owner=owner)


# ---------------------------------------------------------------------------------------------
# SGN


@dataclass
class SGNConfig:
    num_classes: int = 60
    layout: str = "ntu25"
    num_frames: int = 20  # "seg": every sequence is sampled to this many frames
    in_channels: int = 3
    size: str = "big"  # spatial-module size; "big" is SGN
    dropout: float = 0.2
    skip_empty_persons: bool = True  # False = official behaviour (empty slots computed, averaged)


class StaticModel(SkeletonModel):
    """A model with one path for every frame (SGN, the singles): per-sequence logits from
    :meth:`forward_sequences`, averaged over the present persons; its cost is fixed."""

    def _measure_cost(self) -> None:
        self.gmacs_fixed = 0.0  # placeholder while the measuring forward runs
        self.gmacs_fixed = sequence_gmacs(self)

    def forward_sequences(self, seq: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def stream_matrix(self) -> torch.Tensor | None:
        """The joint-aggregation matrix in front of the spatial module (None: the input joints)."""
        return None

    def streamer(self) -> "StaticStreamer":
        """Per-frame features cached, window finished from them (models/streaming.py)."""
        return StaticStreamer(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ForwardInfo]:
        cfg = self.cfg
        x = check_input(x, cfg.in_channels, cfg.num_frames, self.num_joints, type(self).__name__)
        n, m = x.shape[0], x.shape[4]
        seq, keep, present = person_slots(x, cfg.skip_empty_persons)  # (B, T, V, C), (B,), (N, M)
        owner = torch.div(keep, m, rounding_mode="floor")  # (B,) sample of each sequence
        logits = merge_persons(self.forward_sequences(seq), owner, n)  # (N, classes)
        gmacs = torch.full((n,), self.gmacs_fixed, dtype=torch.float64, device=x.device)
        return logits, ForwardInfo(gmacs=gmacs, present=present, owner=owner)


class SGN(StaticModel):
    """SGN: input (N, C, T, V, M) -> (logits (N, num_classes), ForwardInfo)."""

    model_name = "sgn"

    def __init__(self, cfg: SGNConfig | None = None, **kwargs):
        super().__init__()
        cfg = cfg or SGNConfig(**kwargs)
        self.cfg = cfg
        self._set_shape(get_layout(cfg.layout), cfg.num_classes, cfg.in_channels, cfg.num_frames)
        self.spatial = SpatialModule(self.num_joints, cfg.size, cfg.in_channels)
        self.temporal = TemporalModule(cfg.num_frames, SpatialModule.out_channels, 512, cfg.dropout)
        self.head = ClassifierHead(512, cfg.num_classes)
        init_sgn_weights(self)
        self._measure_cost()

    def forward_sequences(self, seq: torch.Tensor) -> torch.Tensor:
        """Per-sequence logits for person sequences (B, T, V, C)."""
        f = self.spatial(seq, velocity(seq))  # (B, T, 256)
        return self.head(self.temporal(f))  # (B, classes)
