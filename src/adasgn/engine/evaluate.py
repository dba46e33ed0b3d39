"""Evaluate a checkpoint (``adasgn test``) and load trained models for inference."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data.dataset import SkeletonDataset, default_pipeline
from .checkpoint import load_checkpoint
from .config import Config, load_config
from .data import build_eval_loader, load_data
from .trainer import build_model, evaluate, save_scores, summarize


def config_from_checkpoint(ck: dict) -> Config:
    return load_config(None, [], data=ck["config"])


def model_from_checkpoint(path: str | Path, device: str | torch.device = "cpu"):
    """(model in eval mode, config, checkpoint dict) from a checkpoint written by ``adasgn train``."""
    ck = load_checkpoint(path, map_location=device)
    if "config" not in ck or "model" not in ck:
        raise ValueError(f"{path}: not an adasgn training checkpoint (no config/model)")
    cfg = config_from_checkpoint(ck)
    from ..data.presets import get_preset
    from ..skeleton import get_layout

    preset = get_preset(cfg.data.dataset)
    layout = get_layout((ck.get("meta") or {}).get("layout") or preset.layout)
    model = build_model(cfg, preset, layout)
    model.load_state_dict(ck["model"])
    if hasattr(model, "choices"):  # AdaSGN: the run-time budget calibration, if stored
        from ..budget import attach_calibration

        attach_calibration(model, ck)
    return model.to(device).eval(), cfg, ck


def test_checkpoint(path: str, data: str | None = None, split: str = "test",
                    scores: str | None = None, budget: float | None = None,
                    budget_mode: str = "mean",
                    batch_size: int | None = None, measure_flops: bool = True,
                    progress: bool = True, device: str = "cpu") -> dict:
    from ..flops import executed_flops

    model, cfg, ck = model_from_checkpoint(path, device)
    if data:
        cfg.data.path = data
    rd = load_data(cfg)
    if split not in rd.datasets:  # any split name of the pkl
        pipe = default_pipeline(rd.preset.name, cfg.data.stream, False, num_frames=cfg.data.num_frames,
                                rot_norm=cfg.data.rot_norm, layout=rd.layout.name)
        rd.datasets[split] = SkeletonDataset(rd.datasets["test"].source or cfg.data.path, split, pipe)
    if budget is not None:
        if not hasattr(model, "set_budget"):
            raise ValueError("--budget applies to AdaSGN checkpoints only")
        from ..budget import apply_budget

        # stored calibration, else bisect on the validation split (never on the tested split)
        val = (build_eval_loader(rd, cfg, "val", batch_size)
               if budget_mode == "mean" and getattr(model, "budget_calibration", None) is None
               and "val" in rd.datasets else None)
        apply_budget(model, budget, loader=val, device=device, mode=budget_mode)
    loader = build_eval_loader(rd, cfg, split, batch_size)
    dev = torch.device(device)

    def run():
        return evaluate(model, loader, dev, rd.preset.num_classes, desc=f"test {split}",
                        progress=progress)

    if measure_flops:
        flops, res = executed_flops(run)
    else:
        flops, res = None, run()
    rep = summarize(res, rd.labels(split), rd.preset.num_classes, model)
    n = max(len(res["index"]), 1)
    rep.update({
        "name": cfg.name, "model": cfg.model.name, "dataset": rd.preset.name, "split": split,
        "stream": cfg.data.stream, "checkpoint": str(path),
        "gflops_executed": (flops / n / 1e9) if flops is not None else None,
        "class_names": rd.class_names, "epoch": int(ck.get("epoch", -1)),
    })
    out = Path(scores) if scores else Path(path).resolve().parent.parent / f"scores_{split}.npz"
    save_scores(out, res, rd, split)
    rep["scores_path"] = str(out)
    return rep
