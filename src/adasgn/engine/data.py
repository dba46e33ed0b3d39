"""Datasets and loaders of a run: train (minus the held-out validation part), val, test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from ..data.dataset import (
    SkeletonDataset,
    build_loader,
    default_pipeline,
    holdout,
    load_source,
)
from ..data.presets import DatasetPreset, get_preset
from ..skeleton import Layout, get_layout
from . import distributed as D
from .config import Config, ConfigError


@dataclass
class RunData:
    preset: DatasetPreset
    layout: Layout
    class_names: list
    datasets: dict  # "train" | "val" | "test" -> SkeletonDataset

    def names(self, split: str) -> list:
        return self.datasets[split].names

    def labels(self, split: str) -> np.ndarray:
        return self.datasets[split].labels


def load_data(cfg: Config, source=None) -> RunData:
    dc = cfg.data
    try:
        preset = get_preset(dc.dataset)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
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

    def pipe(train: bool):
        return default_pipeline(preset.name, dc.stream, train, num_frames=dc.num_frames,
                                rot_norm=dc.rot_norm,
                                rotation=None if dc.rotation is None else dc.rotation > 0,
                                degrees=int(dc.rotation) if dc.rotation else 17,
                                layout=layout.name)

    seed = cfg.train.seed
    datasets = {
        "train": SkeletonDataset(data, train_names, pipe(True), seed=seed),
        "test": SkeletonDataset(data, dc.test_split, pipe(False), seed=seed),
    }
    if val_names:
        datasets["val"] = SkeletonDataset(data, val_names, pipe(False), seed=seed)
    class_names = list(meta.get("class_names") or [str(i) for i in range(preset.num_classes)])
    return RunData(preset, layout, class_names, datasets)


class _ShardedEpochSampler(Sampler):
    """DDP training sampler: one seeded permutation per epoch, rank r takes every W-th index;
    all ranks get the same number of samples (the tail of the permutation is dropped)."""

    def __init__(self, n: int, seed: int, epoch: int):
        self.n, self.seed, self.epoch = n, seed, epoch
        self.r, self.w = D.rank(), D.world_size()

    def __iter__(self):
        perm = np.random.default_rng([self.seed, self.epoch, 0x5A3D]).permutation(self.n)
        per = self.n // self.w
        return iter([(int(i), self.epoch) for i in perm[self.r::self.w][:per]])

    def __len__(self):
        return self.n // self.w


def build_train_loader(data: RunData, cfg: Config, epoch: int) -> DataLoader:
    ds = data.datasets["train"]
    if D.is_distributed():
        return DataLoader(ds, batch_size=cfg.train.batch_size,
                          sampler=_ShardedEpochSampler(len(ds), cfg.train.seed, epoch),
                          drop_last=len(ds) // D.world_size() >= cfg.train.batch_size,
                          num_workers=cfg.data.workers)
    loader = build_loader(ds, batch_size=cfg.train.batch_size, train=True,
                          num_workers=cfg.data.workers, seed=cfg.train.seed)
    loader.sampler.set_epoch(epoch)
    return loader


class _IndexEpoch(Sampler):
    def __init__(self, indices):
        self.indices = list(indices)

    def __iter__(self):
        return iter([(int(i), 0) for i in self.indices])

    def __len__(self):
        return len(self.indices)


def build_eval_loader(data: RunData, cfg: Config, split: str, batch_size: int | None = None) -> DataLoader:
    if split not in data.datasets:
        raise KeyError(f"no {split!r} split in this run (val_fraction=0?)")
    ds = data.datasets[split]
    n = len(ds)
    indices = range(D.rank(), n, D.world_size())  # every sample exactly once over all ranks
    return DataLoader(ds, batch_size=batch_size or cfg.train.eval_batch_size,
                      sampler=_IndexEpoch(indices), num_workers=cfg.data.workers,
                      pin_memory=torch.cuda.is_available())
