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
    StaticModel,
    TemporalModule,
    init_sgn_weights,
    velocity,
)


class JointTransform(nn.Module):
    """x_reduced = x @ M per frame and coordinate; M is (V0, V) and learnable (freezable)."""

    def __init__(self, matrix: torch.Tensor):
        super().__init__()
        self.matrix = nn.Parameter(matrix.clone().float())  # cloned: never aliases another matrix

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
    joints: int | None = None  # reduced joint count (one of the layout's choices; None = all)
    size: str = "big"
    num_frames: int = 20
    in_channels: int = 3
    dropout: float = 0.2
    skip_empty_persons: bool = True


class SingleSGN(StaticModel):
    """SGN* : joint transform -> spatial module -> temporal module -> classifier."""

    model_name = "single"

    def __init__(self, cfg: SingleConfig | None = None, **kwargs):
        super().__init__()
        cfg = cfg or SingleConfig(**kwargs)
        lay = get_layout(cfg.layout)
        if cfg.joints is None:
            cfg.joints = lay.num_joints
        if cfg.joints not in lay.joint_choices:
            raise ValueError(
                f"layout {lay.name!r} has joint choices {list(lay.joint_choices)}, not {cfg.joints}"
            )
        self.cfg = cfg
        self._set_shape(lay, cfg.num_classes, cfg.in_channels, cfg.num_frames)
        self.spatial = SpatialModule(cfg.joints, cfg.size, cfg.in_channels)
        self.temporal = TemporalModule(cfg.num_frames, SpatialModule.out_channels, 512, cfg.dropout)
        self.head = ClassifierHead(512, cfg.num_classes)
        init_sgn_weights(self)
        self.transform = JointTransform.from_layout(lay, cfg.joints)
        self._measure_cost()

    def stream_matrix(self) -> torch.Tensor:
        return self.transform.matrix

    def forward_sequences(self, seq: torch.Tensor) -> torch.Tensor:
        red = self.transform(seq)  # (B, T, V, C), V = reduced joints
        f = self.spatial(red, velocity(red))  # (B, T, 256)
        return self.head(self.temporal(f))
