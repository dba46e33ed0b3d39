"""Single models (the paper's SGN*): SGN with a learnable joint-aggregation matrix in front.

``SingleSGN(layout="ntu25", joints=9, size="big")`` reduces the 25 input joints to 9 with a
(25 x 9) matrix initialised from the layout's grouping (equal weights per group; identity for the
full joint count), computes velocities in the reduced space, and runs an SGN of that size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..skeleton import get_layout
from .sgn import (
    ClassifierHead,
    SpatialModule,
    TemporalModule,
    check_input,
    init_sgn_weights,
    merge_persons,
    split_persons,
    velocity,
)


class JointTransform(nn.Module):
    """x_reduced = x @ M per frame and coordinate; M is (V0, V) and learnable (freezable)."""

    def __init__(self, matrix: torch.Tensor):
        super().__init__()
        self.matrix = nn.Parameter(matrix.clone().float())  # cloned: never aliases another matrix

    @property
    def in_joints(self) -> int:
        return self.matrix.shape[0]

    @property
    def out_joints(self) -> int:
        return self.matrix.shape[1]

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        # (B, T, V0, C) -> (B, T, V, C)
        return torch.einsum("btuc,uv->btvc", seq, self.matrix)

    @classmethod
    def from_layout(cls, layout, joints: int) -> "JointTransform":
        lay = get_layout(layout)
        return cls(torch.from_numpy(lay.aggregation_matrix(joints)))


@dataclass
class SingleConfig:
    num_classes: int = 60
    layout: str = "ntu25"
    joints: int = 25  # reduced joint count (one of the layout's joint choices)
    size: str = "big"
    num_frames: int = 20
    in_channels: int = 3
    dropout: float = 0.2
    skip_empty_persons: bool = True


class SingleSGN(nn.Module):
    """SGN* : joint transform -> spatial module -> temporal module -> classifier."""

    def __init__(self, cfg: SingleConfig | None = None, **kwargs):
        super().__init__()
        cfg = cfg or SingleConfig(**kwargs)
        self.cfg = cfg
        lay = get_layout(cfg.layout)
        if cfg.joints not in lay.joint_choices:
            raise ValueError(
                f"layout {lay.name!r} has joint choices {list(lay.joint_choices)}, not {cfg.joints}"
            )
        self.num_joints = lay.num_joints
        self.spatial = SpatialModule(cfg.joints, cfg.size, cfg.in_channels)
        self.temporal = TemporalModule(cfg.num_frames, SpatialModule.out_channels, 512, cfg.dropout)
        self.head = ClassifierHead(512, cfg.num_classes)
        init_sgn_weights(self)
        self.transform = JointTransform.from_layout(lay, cfg.joints)

    def forward_sequences(self, seq: torch.Tensor) -> torch.Tensor:
        red = self.transform(seq)  # (B, T, V, C), V = reduced joints
        f = self.spatial(red, velocity(red))  # (B, T, 256)
        return self.head(self.temporal(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        x = check_input(x, cfg.in_channels, cfg.num_frames, self.num_joints, "SingleSGN")
        seq, owner, n = split_persons(x, cfg.skip_empty_persons)
        return merge_persons(self.forward_sequences(seq), owner, n)
