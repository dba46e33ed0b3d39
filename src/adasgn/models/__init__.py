"""Model registry: one way to build every model (``create_model(name, **config)``)."""

from __future__ import annotations

from typing import Callable

from torch import nn

from .sgn import SGN, SGNConfig, SpatialModule, TemporalModule
from .single import JointTransform, SingleConfig, SingleSGN

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    def deco(fn):
        _MODELS[name] = fn
        return fn

    return deco


def list_models() -> list[str]:
    return sorted(_MODELS)


def create_model(name: str, **kwargs) -> nn.Module:
    if name not in _MODELS:
        raise KeyError(f"unknown model {name!r}; registered: {list_models()}")
    return _MODELS[name](**kwargs)


@register_model("sgn")
def _sgn(**kwargs) -> SGN:
    return SGN(SGNConfig(**kwargs))


@register_model("single")
def _single(**kwargs) -> SingleSGN:
    return SingleSGN(SingleConfig(**kwargs))


@register_model("adasgn")
def _adasgn(**kwargs):
    from .adasgn import AdaSGN, AdaSGNConfig

    return AdaSGN(AdaSGNConfig(**kwargs))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "SGN",
    "SGNConfig",
    "JointTransform",
    "SingleConfig",
    "SingleSGN",
    "SpatialModule",
    "TemporalModule",
    "count_params",
    "create_model",
    "list_models",
    "register_model",
]
