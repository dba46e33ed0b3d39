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

import dataclasses
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.dataset import (
    SkeletonDataset,
    build_loader,
    default_pipeline,
    holdout,
    load_source,
    names_and_labels,
)
from ..data.presets import DatasetPreset, get_preset
from ..data.validate import apply_policy, validate_samples
from ..skeleton import Layout, get_layout
from . import distributed as D
from .config import Config, ConfigError


def run_pipeline(cfg: Config, layout: str, train: bool, stream: str | None = None,
                 num_persons: int | None = None) -> list[dict]:
    """Pipeline steps of a run (``train``: with the training augmentation). ``stream``
    overrides the config's (e.g. the joint positions of a bone-stream run, for drawing)."""
    dc = cfg.data
    return default_pipeline(dc.dataset, stream or dc.stream, train, num_frames=dc.num_frames,
                            rot_norm=dc.rot_norm, normalize=dc.normalize,
                            rotation=None if dc.rotation is None else dc.rotation > 0,
                            degrees=int(dc.rotation) if dc.rotation else 17,
                            layout=layout, num_persons=num_persons or dc.persons,
                            augment=dc.augment)


CUSTOM = (None, "custom")  # data.dataset values of a dataset of one's own (no preset)


def is_custom(cfg: Config) -> bool:
    return cfg.data.dataset in CUSTOM


def _layout(name: str, where: str) -> Layout:
    try:
        return get_layout(name)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc.args[0] if exc.args else exc}") from None


def run_preset(cfg: Config, meta: dict | None = None, num_classes: int | None = None,
               in_channels: int | None = None, num_persons: int | None = None) -> DatasetPreset:
    """The run's dataset description. A built-in preset (``data.persons`` and ``in_channels``,
    when given, override its person slots and channels); for a dataset of one's own
    (``data.dataset`` null or ``custom``) one is made from ``data.layout`` or ``meta.layout``,
    the class count, channels and persons given (from the data, or a checkpoint's weights)."""
    dc = cfg.data
    if not is_custom(cfg):
        try:
            preset = get_preset(dc.dataset)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
        changes = {k: v for k, v in (("max_persons", dc.persons), ("in_channels", in_channels))
                   if v is not None}
        return dataclasses.replace(preset, **changes) if changes else preset
    meta = meta or {}
    name = dc.layout or meta.get("layout")
    if not name:
        raise ConfigError(f"{dc.path}: the pkl has no meta.layout and data.layout is not set: say "
                          "which skeleton layout the data is in (data.layout=NAME or a YAML file)")
    layout = _layout(name, dc.path)
    k = num_classes or meta.get("num_classes") or len(meta.get("class_names") or ())
    return DatasetPreset(str(meta.get("dataset") or "custom"), layout.name, int(k or 0),
                         int(num_persons or dc.persons or 1), int(in_channels or 3),
                         description="a dataset of one's own")


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

    def train_loader(self, epoch: int, split: str = "train") -> DataLoader:
        """The training loader of ``epoch`` (seeded shuffle; sharded over DDP ranks); ``split``
        ``policy``: the part only AdaSGN's policy learns from (``data.policy_fraction``)."""
        cfg = self.cfg
        loader = build_loader(self.datasets[split], batch_size=cfg.train.batch_size, train=True,
                              num_workers=cfg.data.workers, seed=cfg.train.seed, rank=D.rank(),
                              world_size=D.world_size())
        loader.sampler.set_epoch(epoch)
        return loader


def _resolve_layout(cfg: Config, meta: dict, where: str) -> Layout:
    """The run's layout: ``data.layout``, else the pkl's ``meta.layout``, else the preset's."""
    dc = cfg.data
    if is_custom(cfg):
        name = dc.layout or meta.get("layout")
        if not name:
            raise ConfigError(f"{where}: the pkl has no meta.layout and data.layout is not set: "
                              "say which skeleton layout the data is in (data.layout=NAME or a "
                              "layout YAML file)")
        return _layout(name, where)
    preset = run_preset(cfg)
    layout = _layout(dc.layout or meta.get("layout") or preset.layout, where)
    if layout.num_joints != get_layout(preset.layout).num_joints:
        raise ConfigError(f"{where}: layout {layout.name} ({layout.num_joints} joints) does "
                          f"not match dataset {preset.name} ({preset.layout})")
    return layout


def run_layout(cfg: Config) -> Layout:
    """The layout a config trains on (the rule of :func:`load_data`), without building the
    datasets: the pkl's meta is read only when ``data.layout`` is not set."""
    meta = {} if cfg.data.layout is not None else (load_source(cfg.data.path).get("meta") or {})
    return _resolve_layout(cfg, meta, cfg.data.path)


def load_data(cfg: Config, source=None) -> RunData:
    """Open the run's pkl (``source``: a path or loaded dict instead of ``cfg.data.path``).

    Every sample is checked first (:func:`adasgn.data.validate.validate_samples`: joints against
    the layout, channels, labels against the class count, NaN/Inf, empty or all-zero); a bad
    one stops here, naming the file and the sample, or is left out (``data.on_bad_sample``).
    For a dataset of one's own (``data.dataset`` null / ``custom``) the layout comes from
    ``data.layout`` or the pkl's ``meta.layout``, the class count from ``meta.num_classes`` /
    ``meta.class_names`` (else the largest label + 1) and the person slots from ``data.persons``
    (else the most persons a sample has); ``data.layout`` and ``data.persons`` are filled in, so
    that the run's saved config records them."""
    dc = cfg.data
    data = load_source(source if source is not None else dc.path)
    where = str(source) if isinstance(source, (str, os.PathLike)) else dc.path
    meta = data.get("meta") or {}
    custom = is_custom(cfg)
    if custom and dc.layout and not meta.get("layout"):
        print(f"warning: {where}: the pkl has no meta.layout; using data.layout={dc.layout}",
              file=sys.stderr)
    layout = _resolve_layout(cfg, meta, where)
    if custom:
        names = meta.get("class_names") or ()
        labels = [int(a["label"]) for a in data["annotations"]]
        num_classes = int(meta.get("num_classes") or len(names)
                          or (max(labels) + 1 if labels else 0))
    else:
        num_classes = run_preset(cfg).num_classes
    report = validate_samples(data, layout, num_classes=num_classes, source=where,
                              train_splits=[dc.train_split])
    data = apply_policy(data, report, dc.on_bad_sample)
    channels = report.channels or 3
    if channels != 3 and dc.rot_norm:
        raise ConfigError(f"{where}: data.rot_norm needs 3-D coordinates; this dataset has "
                          f"{channels} channels")
    if custom:
        dc.layout = dc.layout or str(meta.get("layout"))
        dc.persons = dc.persons or max(report.num_persons, 1)
    preset = run_preset(cfg, meta, num_classes=num_classes, in_channels=channels,
                        num_persons=dc.persons)
    splits = data.get("split") or {}
    for s in (dc.train_split, dc.test_split):
        if s not in splits:
            raise ConfigError(f"{dc.path}: no split {s!r}; available: {sorted(splits)}")
    by_name = dict(zip(*names_and_labels(data)))  # a store: from its arrays, no sample built
    train_names = list(splits[dc.train_split])
    val_names: list = []
    if dc.val_fraction > 0:
        train_names, val_names = holdout(train_names, dc.val_fraction, dc.val_seed,
                                         labels=[by_name[n] for n in train_names])
    policy_names: list = []
    if dc.policy_fraction > 0:  # a different seed from the validation carve's
        train_names, policy_names = holdout(train_names, dc.policy_fraction, dc.val_seed + 1,
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
    if policy_names:
        datasets["policy"] = SkeletonDataset(data, policy_names, train_pipe, seed=seed)
    class_names = list(meta.get("class_names") or [str(i) for i in range(preset.num_classes)])
    return RunData(cfg, preset, layout, class_names, data, datasets)
