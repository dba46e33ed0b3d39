"""Small layers whose type the paper's cost convention (:mod:`adasgn.models.flops`) recognises.

They live apart from the networks so that the cost rules can name them without importing the
networks, and the networks can measure their own cost with those rules.
"""

from __future__ import annotations

import torch
from torch import nn


class PointwiseConv(nn.Linear):
    """A 1x1 convolution applied channels-last (a linear map on the last axis).

    It is its own class so that the paper's FLOPs convention can count it as a convolution
    (bias adds counted) and not as the classifier ``nn.Linear`` (bias not counted).
    """


class JointMaxPool(nn.Module):
    """Max over the joint axis: (B, T, V, C) -> (B, T, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=2)


class TimeMaxPool(nn.Module):
    """Max over the time axis: (B, C, T) -> (B, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=-1)
