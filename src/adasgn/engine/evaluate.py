"""Evaluation: run a model over a loader, summarise, save scores; ``adasgn test CKPT``."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..atomic import atomic_write
from ..models.flops import executed_flops
from . import distributed as D
from .budget import apply_budget
from .metrics import classification_report
from .run import load_run

__all__ = ["autocast", "evaluate", "save_scores", "summarize", "test_checkpoint"]


def autocast(device: torch.device, amp: str):
    """bf16 autocast when asked (CUDA, or the CPU: about 2x the fp32 training throughput on a
    CPU with AMX / AVX512-BF16, docs/benchmarks.md); nothing otherwise."""
    if amp == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, num_classes: int, desc: str = "eval",
             amp: str = "none", progress: bool = True) -> dict:
    """Per-sample scores, labels, realised GMACs, present persons and (adaptive models)
    decisions, gathered over ranks and put back in dataset order."""
    model.eval()
    net = _unwrap(model)
    parts_local: dict[str, list] = {"index": [], "scores": [], "gmacs": [], "present": [],
                                    "decisions": []}
    bar = tqdm(loader, desc=desc, leave=False, disable=not (progress and D.is_main()),
               file=sys.stderr, dynamic_ncols=True)
    for x, y, idx in bar:
        x = x.to(device, non_blocking=True)
        with autocast(device, amp):
            logits, info = net(x)
        parts_local["scores"].append(logits.float().cpu())
        parts_local["gmacs"].append(info.gmacs.double().cpu())
        parts_local["present"].append(info.present.cpu())
        if info.decisions is not None:
            parts_local["decisions"].append(info.decisions.cpu())
        parts_local["index"].append(idx.cpu())
    empty = {"index": np.zeros(0, np.int64), "scores": np.zeros((0, num_classes), np.float32),
             "gmacs": np.zeros(0, np.float64), "present": np.zeros((0, 1), bool)}
    local = {k: (torch.cat(v).numpy() if v else empty.get(k)) for k, v in parts_local.items()}
    parts = D.all_gather_objects(local)
    order = np.concatenate([p["index"] for p in parts])
    perm = np.argsort(order, kind="stable")
    res = {"index": order[perm]}
    for key in ("scores", "gmacs", "present", "decisions"):
        if parts[0][key] is not None:
            res[key] = np.concatenate([p[key] for p in parts])[perm]
    return res


def summarize(res: dict, labels: np.ndarray, num_classes: int, model: nn.Module) -> dict:
    rep = classification_report(res["scores"], labels[res["index"]], num_classes)
    rep["gmacs"] = float(np.mean(res["gmacs"])) if len(res["gmacs"]) else float("nan")
    if "decisions" in res:
        rep["usage"] = _unwrap(model).usage(res["decisions"], res["present"])
    return rep


def save_scores(path: Path, res: dict, data, split: str) -> None:
    names = data.names(split)
    arrays = {"names": np.array([names[i] for i in res["index"]]), "scores": res["scores"],
              "labels": data.labels(split)[res["index"]], "gmacs": res["gmacs"]}
    if "decisions" in res:
        arrays["decisions"] = res["decisions"]
    atomic_write(path, lambda f: np.savez(f, **arrays))


def test_checkpoint(path: str, data: str | None = None, split: str = "test",
                    scores: str | None = None, budget: float | None = None,
                    budget_mode: str = "mean",
                    batch_size: int | None = None, measure_flops: bool = True,
                    progress: bool = True, device: str = "cpu") -> dict:
    """``adasgn test``: evaluate a checkpoint on a split of its pkl (or ``data``)."""
    run = load_run(path, device)
    model, cfg = run.model, run.cfg
    rd = run.data(data)
    if budget is not None:
        # stored calibration, else bisect on the validation split (never on the tested split)
        val = (rd.loader("val", batch_size)
               if budget_mode == "mean" and run.calibration is None and "val" in rd.datasets
               else None)
        apply_budget(model, budget, loader=val, device=device, mode=budget_mode)
    loader = rd.loader(split, batch_size)
    dev = torch.device(device)

    def go():
        return evaluate(model, loader, dev, model.num_classes, desc=f"test {split}",
                        progress=progress)

    flops, res = executed_flops(go) if measure_flops else (None, go())
    rep = summarize(res, rd.labels(split), model.num_classes, model)
    n = max(len(res["index"]), 1)
    rep.update({
        "name": cfg.name, "model": run.kind, "dataset": run.dataset, "split": split,
        "stream": cfg.data.stream, "checkpoint": str(path),
        "gflops_executed": (flops / n / 1e9) if flops is not None else None,
        "class_names": rd.class_names, "epoch": run.epoch,
    })
    out = Path(scores) if scores else Path(path).resolve().parent.parent / f"scores_{split}.npz"
    save_scores(out, res, rd, split)
    rep["scores_path"] = str(out)
    return rep
