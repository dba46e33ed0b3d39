"""Model registry: one way to build every model.

::

    model = create_model("adasgn", layout="ntu25", num_classes=60, in_channels=3, num_frames=20,
                         policy="tconv")
    logits, info = model(x)            # every model: (N, C, T, V, M) -> (logits, ForwardInfo)

Every entry is built from the same four arguments -- ``layout`` (a registered layout name),
``num_classes``, ``in_channels``, ``num_frames`` -- plus its own options (the fields of its
config dataclass; :func:`model_options` lists them). The contract they keep is
:class:`adasgn.models.base.SkeletonModel`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from .adasgn import AdaSGN, AdaSGNConfig
from .base import ForwardInfo, SkeletonModel, usage_fractions
from .flops import count_params
from .sgn import SGN, SGNConfig, SpatialModule, TemporalModule
from .single import JointTransform, SingleConfig, SingleSGN

COMMON = ("layout", "num_classes", "in_channels", "num_frames")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    build: Callable[..., SkeletonModel]
    config: type  # its config dataclass: the fields are the accepted arguments


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, config: type):
    """Register ``fn(cfg) -> model`` under ``name``; ``config`` is its dataclass (which must
    hold the four common fields)."""
    missing = [f for f in COMMON if f not in {x.name for x in dataclasses.fields(config)}]
    if missing:
        raise TypeError(f"model {name!r}: its config lacks the common fields {missing}")

    def deco(fn):
        _MODELS[name] = ModelEntry(fn, config)
        return fn

    return deco


def list_models() -> list[str]:
    return sorted(_MODELS)


def model_options(name: str) -> list[str]:
    """The model-specific options of ``name`` (its config fields beyond the common four)."""
    return [f.name for f in dataclasses.fields(_entry(name).config) if f.name not in COMMON]


def _entry(name: str) -> ModelEntry:
    if name not in _MODELS:
        raise KeyError(f"unknown model {name!r}; registered: {list_models()}")
    return _MODELS[name]


def create_model(name: str, *, layout: str = "ntu25", num_classes: int = 60,
                 in_channels: int = 3, num_frames: int = 20, **options) -> SkeletonModel:
    """Build a registered model; unknown options are an error naming the accepted ones."""
    entry = _entry(name)
    unknown = sorted(set(options) - set(model_options(name)))
    if unknown:
        raise TypeError(f"model {name!r} does not take {unknown}; its options: "
                        f"{model_options(name)}")
    cfg = entry.config(layout=layout, num_classes=num_classes, in_channels=in_channels,
                       num_frames=num_frames, **options)
    return entry.build(cfg)


register_model("sgn", SGNConfig)(SGN)
register_model("single", SingleConfig)(SingleSGN)
register_model("adasgn", AdaSGNConfig)(AdaSGN)


__all__ = [
    "AdaSGN",
    "AdaSGNConfig",
    "ForwardInfo",
    "JointTransform",
    "SGN",
    "SGNConfig",
    "SingleConfig",
    "SingleSGN",
    "SkeletonModel",
    "SpatialModule",
    "TemporalModule",
    "count_params",
    "create_model",
    "list_models",
    "model_options",
    "register_model",
    "usage_fractions",
]
