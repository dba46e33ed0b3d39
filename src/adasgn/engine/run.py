"""The one seam through which a trained run is used.

::

    run = load_run("runs/ntu60/checkpoints/best.pt")   # the checkpoint is read once
    run.model, run.cfg, run.preset, run.layout, run.class_names, run.calibration
    loader = run.loader("test")                       # the run's own eval pipeline
    steps = run.eval_pipeline()                       # for one sequence (Recognizer)

``test``, ``calibrate``, ``sweep``, ``bench --checkpoint``, ``predict`` / ``Recognizer``,
``plot``, ``export`` and ``ensemble`` all go through :func:`load_run`. The model is rebuilt from
the checkpoint's config through the models' one factory (:func:`build_model`); its input
channels and class count come from the stored weights (a 2-D model of a 3-D preset, a class
count of one's own), and the budget calibration stored by ``adasgn calibrate`` is attached.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data.classes import CLASS_NAMES
from ..data.presets import DatasetPreset
from ..models import SkeletonModel, create_model, model_options
from ..models.budget import CALIBRATION_KEY
from ..skeleton import Layout, get_layout
from .checkpoint import load_checkpoint
from .config import Config, ConfigError, load_config
from .data import RunData, load_data, run_pipeline, run_preset

__all__ = ["TrainedRun", "build_model", "load_run"]


def build_model(cfg: Config, layout: Layout, num_classes: int, in_channels: int) -> SkeletonModel:
    """The model a config describes: the models' factory with the common arguments, the
    model-level options that this model takes (size, joints, dropout, skip_empty_persons) and
    ``model.options``."""
    m = cfg.model
    known = set(model_options(m.name))
    level = {"size": m.size, "joints": m.joints, "dropout": m.dropout,
             "skip_empty_persons": m.skip_empty_persons}
    options = {k: v for k, v in level.items() if k in known and v is not None}
    bad = sorted(set(m.options) - known)
    if bad:
        raise ConfigError(f"model.options {bad} are not options of model {m.name!r} (its options: "
                          f"{sorted(known)}); clear them with model.options={{}} when changing "
                          "model.name")
    options.update(m.options)
    return create_model(m.name, layout=layout.name, num_classes=num_classes,
                        in_channels=in_channels, num_frames=cfg.data.num_frames, **options)


def _weights_shape(state: dict) -> tuple[int | None, int | None]:
    """(input channels, classes) read from the weights: the first dynamics embedding (64, C)
    and the classifier (classes, 512)."""
    channels = next((int(v.shape[1]) for k, v in state.items()
                     if k.endswith("joint_embed.fc1.weight")), None)
    head = state.get("head.fc.weight")
    return channels, (int(head.shape[0]) if head is not None else None)


@dataclass
class TrainedRun:
    """A trained checkpoint, loaded once: what every consumer of a run needs."""

    path: Path
    checkpoint: dict  # the raw dict (tensors on the CPU)
    cfg: Config
    model: SkeletonModel  # eval mode, on ``device``
    preset: DatasetPreset
    layout: Layout
    class_names: list[str]
    device: torch.device
    _data: dict = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        return self.cfg.model.name

    @property
    def dataset(self) -> str:
        return self.preset.name

    @property
    def num_persons(self) -> int:
        return self.preset.max_persons

    @property
    def calibration(self) -> dict | None:
        return self.model.budget_calibration

    @property
    def epoch(self) -> int:
        return int(self.checkpoint.get("epoch", -1))

    def eval_pipeline(self, stream: str | None = None) -> list[dict]:
        """The run's evaluation steps (``stream`` overrides the trained stream, for drawing)."""
        return run_pipeline(self.cfg, self.layout.name, train=False, stream=stream,
                            num_persons=self.num_persons)

    def data(self, path: str | os.PathLike | None = None) -> RunData:
        """The run's datasets over its pkl (or ``path``), opened once per path."""
        key = str(path or self.cfg.data.path)
        if key not in self._data:
            if path:
                self.cfg.data.path = str(path)
            self._data[key] = load_data(self.cfg, source=key)
        return self._data[key]

    def loader(self, split: str, batch_size: int | None = None,
               path: str | os.PathLike | None = None):
        return self.data(path).loader(split, batch_size)


def load_run(path: str | os.PathLike, device: str | torch.device = "cpu") -> TrainedRun:
    """Load a checkpoint written by ``adasgn train`` (read once) into a :class:`TrainedRun`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available")
    ck = load_checkpoint(path, map_location="cpu")
    if not isinstance(ck, dict) or "config" not in ck or "model" not in ck:
        raise ValueError(f"{path}: not an adasgn training checkpoint (no config/model)")
    cfg = load_config(None, [], data=ck["config"])
    meta = ck.get("meta") or {}
    channels, classes = _weights_shape(ck["model"])
    preset = run_preset(cfg, meta, num_classes=classes, in_channels=channels)
    layout = get_layout(cfg.data.layout or meta.get("layout") or preset.layout)
    model = build_model(cfg, layout, classes or preset.num_classes, channels or preset.in_channels)
    model.load_state_dict(ck["model"])
    model.attach_calibration(ck.get(CALIBRATION_KEY))
    model = model.to(dev).eval()
    names = list(meta.get("class_names") or CLASS_NAMES.get(preset.name) or [])
    class_names = [str(names[i]) if i < len(names) else str(i) for i in range(model.num_classes)]
    return TrainedRun(path, ck, cfg, model, preset, layout, class_names, dev)
