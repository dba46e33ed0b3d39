"""AdaSGN policy networks: per-frame logits over the choices from the cheapest branch's features.

Every learned policy maps the S-1 spatial features ``(B, T, 256)`` to logits ``(B, T, A)``
(A = number of choices, 6 for ntu25). They see no frame embedding (spec 2.5, quirk 5).

* ``tconv`` (default, the only one the official configs use): one 1x3 convolution 256 -> A over
  time, padding 1, with bias (4,614 parameters for A = 6). PyTorch's default init, or ``init="fix"``
  (weights of the last choice = 1 / (kernel * A), everything else 0: starts on the full big branch).
* ``tconv2``: 1x3 conv 256 -> 128, BN, ReLU, 1x3 conv 128 -> A.
* ``lstm``: two stacked LSTMs 256 -> 128 -> A (unidirectional, over time).
* ``transformer``: q/k/v 1x1 convs 256 -> 128, attention over time scaled by 1/128 (as in the
  official file, not 1/sqrt(128)), then a 1x1 conv 128 -> A.
* ``rand`` and ``fuse`` (the paper's baselines) have no network: :func:`build_policy` returns
  ``None`` and :class:`~adasgn.models.adasgn.AdaSGN` decides uniformly at random / sums all
  branches.
"""

from __future__ import annotations

import torch
from torch import nn

from .sgn import PointwiseConv

LEARNED_POLICIES = ("tconv", "tconv2", "lstm", "transformer")
BASELINE_POLICIES = ("rand", "fuse")
POLICIES = LEARNED_POLICIES + BASELINE_POLICIES


class TConvPolicy(nn.Module):
    """One temporal convolution: (B, T, C) -> (B, T, A)."""

    def __init__(self, in_channels: int, num_choices: int, kernel: int = 3, init: str = "random"):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, num_choices, kernel, padding=kernel // 2)
        if init == "fix":  # spec 2.5: start on the last (full-joint big) choice for every frame
            with torch.no_grad():
                self.conv.weight.zero_()
                self.conv.bias.zero_()
                self.conv.weight[-1].fill_(1.0 / (kernel * num_choices))
        elif init == "zero":  # ours: all logits 0 at the start, so the Gumbel noise alone
            with torch.no_grad():  # decides and every branch is tried on ~1/A of the frames
                self.conv.weight.zero_()
                self.conv.bias.zero_()
        elif init != "random":
            raise ValueError(f"policy init must be 'random', 'fix' or 'zero', got {init!r}")

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.conv(f.transpose(1, 2)).transpose(1, 2)  # (B, T, C) -> (B, A, T) -> (B, T, A)


class TConv2Policy(nn.Module):
    """Two temporal convolutions with BN + ReLU between: C -> 128 -> A."""

    def __init__(self, in_channels: int, num_choices: int, kernel: int = 3, hidden: int = 128):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, hidden, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm1d(hidden)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv1d(hidden, num_choices, kernel, padding=kernel // 2)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.bn(self.conv1(f.transpose(1, 2))))  # (B, 128, T)
        return self.conv2(h).transpose(1, 2)  # (B, T, A)


class LSTMPolicy(nn.Module):
    """Two stacked unidirectional LSTMs over time: C -> 128 -> A (the 2nd one's outputs = logits)."""

    def __init__(self, in_channels: int, num_choices: int, hidden: int = 128):
        super().__init__()
        self.lstm1 = nn.LSTM(in_channels, hidden, batch_first=True)
        self.lstm2 = nn.LSTM(hidden, num_choices, batch_first=True)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm1(f)  # (B, T, 128)
        out, _ = self.lstm2(h)  # (B, T, A)
        return out


class TransformerPolicy(nn.Module):
    """Single-head self-attention over time (scaled by 1/hidden), then a 1x1 conv to A logits."""

    def __init__(self, in_channels: int, num_choices: int, hidden: int = 128):
        super().__init__()
        self.q = PointwiseConv(in_channels, hidden)
        self.k = PointwiseConv(in_channels, hidden)
        self.v = PointwiseConv(in_channels, hidden)
        self.ff = PointwiseConv(hidden, num_choices)
        self.scale = 1.0 / hidden

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(f), self.k(f), self.v(f)  # (B, T, 128) each
        att = torch.softmax(q @ k.transpose(1, 2) * self.scale, dim=-1)  # (B, T, T)
        return self.ff(att @ v)  # (B, T, A)


def build_policy(name: str, in_channels: int, num_choices: int, kernel: int = 3,
                 init: str = "random") -> nn.Module | None:
    """The policy network called ``name``; ``None`` for the network-free baselines rand / fuse."""
    if name == "tconv":
        return TConvPolicy(in_channels, num_choices, kernel, init)
    if init != "random":
        raise ValueError(f"policy init {init!r} is only defined for the tconv policy")
    if name == "tconv2":
        return TConv2Policy(in_channels, num_choices, kernel)
    if name == "lstm":
        return LSTMPolicy(in_channels, num_choices)
    if name == "transformer":
        return TransformerPolicy(in_channels, num_choices)
    if name in BASELINE_POLICIES:
        return None
    raise ValueError(f"unknown policy {name!r}; choose one of {list(POLICIES)}")
