"""The data of a run, built from its config in one place: pipelines, datasets and loaders.

* :func:`run_pipeline` -- the one mapping from a data config to pipeline steps, for training
  (augmentation on) and for evaluation side by side, so the two cannot drift. Training,
  evaluation, calibration, benchmarks, prediction and figures all take their steps from here.
* :func:`load_data` -- the canonical pkl opened once -> :class:`RunData`: the train split minus the
  held-out validation part, the validation part, the test split (and any other split of the pkl
  on demand, :meth:`RunData.dataset`).
* :meth:`RunData.train_loader` / :meth:`RunData.loader` -- DDP-aware loaders: every rank gets its
  share, an evaluation counts every sample exactly once over all ranks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.dataset import SkeletonDataset, build_loader, default_pipeline, holdout, load_source
from ..data.presets import DatasetPreset, get_preset
from ..skeleton import Layout, get_layout
from . import distributed as D
from .config import Config, ConfigError


def run_pipeline(cfg: Config, layout: str, train: bool, stream: str | None = None,
                 num_persons: int | None = None) -> list[dict]:
    """Pipeline steps of a run (``train``: with the training augmentation). ``stream``
    overrides the config's (e.g. the joint positions of a bone-stream run, for drawing)."""
    dc = cfg.data
    return default_pipeline(dc.dataset, stream or dc.stream, train, num_frames=dc.num_frames,
                            rot_norm=dc.rot_norm,
                            rotation=None if dc.rotation is None else dc.rotation > 0,
                            degrees=int(dc.rotation) if dc.rotation else 17,
                            layout=layout, num_persons=num_persons)


def run_preset(cfg: Config) -> DatasetPreset:
    try:
        return get_preset(cfg.data.dataset)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None


@dataclass
class RunData:
    cfg: Config
    preset: DatasetPreset
    layout: Layout
    class_names: list
    source: dict  # the loaded canonical pkl
    datasets: dict = field(default_factory=dict)  # "train" | "val" | "test" | ... -> dataset

    def names(self, split: str) -> list:
        return self.dataset(split).names

    def labels(self, split: str) -> np.ndarray:
        return self.dataset(split).labels

    def dataset(self, split: str) -> SkeletonDataset:
        """The run's ``train`` / ``val`` / ``test``, or any split name of the pkl (evaluation
        pipeline)."""
        if split not in self.datasets:
            if split == "val":
                raise KeyError("this run has no validation split (data.val_fraction=0); pass "
                               "--split with a split of the pkl")
            pipe = run_pipeline(self.cfg, self.layout.name, train=False)
            self.datasets[split] = SkeletonDataset(self.source, split, pipe, seed=self.cfg.train.seed)
        return self.datasets[split]

    def loader(self, split: str, batch_size: int | None = None) -> DataLoader:
        """Evaluation loader over ``split``: every sample exactly once over all DDP ranks."""
        return build_loader(self.dataset(split), batch_size=batch_size or self.cfg.train.eval_batch_size,
                            train=False, num_workers=self.cfg.data.workers,
                            pin_memory=torch.cuda.is_available(), rank=D.rank(),
                            world_size=D.world_size())

    def train_loader(self, epoch: int) -> DataLoader:
        """The training loader of ``epoch`` (seeded shuffle; sharded over DDP ranks)."""
        cfg = self.cfg
        loader = build_loader(self.datasets["train"], batch_size=cfg.train.batch_size, train=True,
                              num_workers=cfg.data.workers, seed=cfg.train.seed, rank=D.rank(),
                              world_size=D.world_size())
        loader.sampler.set_epoch(epoch)
        return loader


def load_data(cfg: Config, source=None) -> RunData:
    """Open the run's pkl (``source``: a path or loaded dict instead of ``cfg.data.path``)."""
    dc = cfg.data
    preset = run_preset(cfg)
    data = load_source(source if source is not None else dc.path)
    meta = data.get("meta") or {}
    layout = get_layout(meta.get("layout") or preset.layout)
    if layout.num_joints != get_layout(preset.layout).num_joints:
        raise ConfigError(f"{dc.path}: layout {layout.name} ({layout.num_joints} joints) does not "
                          f"match dataset {preset.name} ({preset.layout})")
    splits = data.get("split") or {}
    for s in (dc.train_split, dc.test_split):
        if s not in splits:
            raise ConfigError(f"{dc.path}: no split {s!r}; available: {sorted(splits)}")
    by_name = {a["frame_dir"]: int(a["label"]) for a in data["annotations"]}
    train_names = list(splits[dc.train_split])
    val_names: list = []
    if dc.val_fraction > 0:
        train_names, val_names = holdout(train_names, dc.val_fraction, dc.val_seed,
                                         labels=[by_name[n] for n in train_names])
    seed = cfg.train.seed
    train_pipe = run_pipeline(cfg, layout.name, train=True)
    eval_pipe = run_pipeline(cfg, layout.name, train=False)
    datasets = {
        "train": SkeletonDataset(data, train_names, train_pipe, seed=seed),
        "test": SkeletonDataset(data, dc.test_split, eval_pipe, seed=seed),
    }
    if val_names:
        datasets["val"] = SkeletonDataset(data, val_names, eval_pipe, seed=seed)
    class_names = list(meta.get("class_names") or [str(i) for i in range(preset.num_classes)])
    return RunData(cfg, preset, layout, class_names, data, datasets)
