"""The one place that defines how adasgn counts compute.

Two numbers are reported everywhere, and always named:

* **GMACs (paper convention)** -- what the AdaSGN paper calls "GFLOPs" (spec section 3.1). It is a
  multiply-accumulate count, per *one person* and *one 20-frame sequence*, with these rules:

  - convolution (incl. our channels-last :class:`~adasgn.models.sgn.PointwiseConv`):
    ``k * C_in * C_out * positions`` plus ``C_out * positions`` for the bias;
  - ``nn.Linear`` (the classifier): ``input elements * out_features``; bias not counted;
  - BatchNorm (affine): ``2 * input elements``;  ReLU: ``output elements``;
  - max pools (joint pool, time pool): ``input elements``; the official counter also counts the
    temporal module's adaptive max-pool to (1, T), a no-op once joints are pooled -- we do not run
    it but count ``256 * T`` for it so that totals equal paper Table 1;
  - **not counted**: matmuls (graph ``theta phi^T``, ``G X``, the joint-aggregation matrix),
    softmax, dropout, element-wise additions, Gumbel sampling, LSTM/attention internals of
    alternative policies (their convs/linears are counted);
  - the joint-type and frame-index embeddings are computed once per forward, so they are counted
    once, not per frame or per sample.

  :func:`paper_macs` reproduces these rules with forward hooks on the real modules;
  :func:`sequence_gmacs` is the cost of a whole model on one person sequence (what a static
  model reports for every sample).

* **GFLOPs executed** -- the floating-point operations that actually ran, measured by
  ``torch.utils.flop_counter.FlopCounterMode`` (2 x MAC, matmul and convolution ops of every kind,
  element-wise ops not counted). :func:`executed_flops` measures a call. For AdaSGN in grouped
  mode this is where the skipped work shows.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .layers import JointMaxPool, PointwiseConv, TimeMaxPool

__all__ = ["paper_macs", "executed_flops", "sequence_gmacs", "sequence_complexity", "PAPER_UNIT",
           "EXECUTED_UNIT"]

PAPER_UNIT = "GMACs (paper convention: multiply-accumulates per 20-frame person sequence)"
EXECUTED_UNIT = "GFLOPs executed (torch.utils.flop_counter, 2 x MAC, matmul+conv ops)"


def _numel(t) -> int:
    if isinstance(t, (tuple, list)):
        t = t[0]
    return int(t.numel()) if isinstance(t, torch.Tensor) else 0


def _module_macs(m: nn.Module, inp: tuple, out) -> int:
    """MACs of one leaf module call under the paper's rules (0 for modules it does not count)."""
    if isinstance(m, PointwiseConv):  # 1x1 conv, channels-last
        pos = _numel(out) // m.out_features
        return pos * m.in_features * m.out_features + (pos * m.out_features if m.bias is not None else 0)
    if isinstance(m, nn.Linear):
        return _numel(inp) * m.out_features
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        k = 1
        for s in m.kernel_size:
            k *= s
        pos = _numel(out) // m.out_channels
        macs = k * (m.in_channels // m.groups) * m.out_channels * pos
        return macs + (m.out_channels * pos if m.bias is not None else 0)
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return 2 * _numel(inp) if m.affine else _numel(inp)
    if isinstance(m, (nn.ReLU, nn.ReLU6, nn.LeakyReLU)):
        return _numel(out)
    if isinstance(m, (JointMaxPool, TimeMaxPool, nn.modules.pooling._MaxPoolNd,
                      nn.modules.pooling._AdaptiveMaxPoolNd, nn.modules.pooling._AvgPoolNd,
                      nn.modules.pooling._AdaptiveAvgPoolNd)):
        return _numel(inp)
    return 0


@contextlib.contextmanager
def _count_macs(model: nn.Module):
    total = [0]
    handles = []

    def leaf_hook(m, inp, out):
        total[0] += _module_macs(m, inp, out)

    def pooled_input_hook(m, inp, out):
        # the official temporal module's no-op adaptive max-pool to (1, T): input elements
        total[0] += _numel(inp)

    for m in model.modules():
        if len(list(m.children())) == 0:
            handles.append(m.register_forward_hook(leaf_hook))
        if getattr(m, "paper_counts_input_pool", False):  # TemporalModule declares it
            handles.append(m.register_forward_hook(pooled_input_hook))
    try:
        yield total
    finally:
        for h in handles:
            h.remove()


def paper_macs(model: nn.Module, fn: Callable[[], object]) -> int:
    """MACs (paper convention) of running ``fn()``, which calls ``model`` or its parts.

    The model is put in eval mode for the count and restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _count_macs(model) as total:
            fn()
    finally:
        model.train(was_training)
    return total[0]


def executed_flops(fn: Callable[[], object]) -> tuple[int, object]:
    """(FLOPs actually executed by ``fn()`` as counted by FlopCounterMode, fn's result)."""
    counter = FlopCounterMode(display=False)
    with counter:
        out = fn()
    return int(counter.get_total_flops()), out


def _one_sequence(model: nn.Module) -> torch.Tensor:
    """A zero input of one person's sequence for ``model`` (the contract's shape attributes)."""
    p = next(model.parameters(), None)
    return torch.zeros(1, model.in_channels, model.num_frames, model.num_joints, 1,
                       device=p.device if p is not None else "cpu")


def sequence_gmacs(model: nn.Module) -> float:
    """Paper GMACs of a whole model on one person's ``num_frames``-frame sequence."""
    x = _one_sequence(model)
    return paper_macs(model, lambda: model(x)) / 1e9


def sequence_complexity(model: nn.Module) -> dict:
    """Parameters, paper GMACs and executed GFLOPs of ``model`` on one person's sequence."""
    x = _one_sequence(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            flops, _ = executed_flops(lambda: model(x))
    finally:
        model.train(was_training)
    return {
        "params": count_params(model),
        "gmacs": sequence_gmacs(model),
        "gflops_executed": flops / 1e9,
        "input_shape": list(x.shape),
    }


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
