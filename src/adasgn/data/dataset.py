"""Dataset and loader over the canonical pkl (pyskl format).

::

    from adasgn.data.dataset import SkeletonDataset, build_loader, default_pipeline

    train = SkeletonDataset("ntu60.pkl", "xsub_train", default_pipeline("ntu60", "joint", True),
                            holdout="train")            # 95 % of xsub_train
    val = SkeletonDataset("ntu60.pkl", "xsub_train", default_pipeline("ntu60", "joint", False),
                          holdout="val")                # the other 5 % (same seed -> disjoint)
    loader = build_loader(train, batch_size=64, train=True, num_workers=4, seed=1)
    for epoch in range(120):
        loader.sampler.set_epoch(epoch)                 # optional: iterations count epochs anyway
        for x, label, index in loader: ...              # x: (N, C, 20, V, M) float32

Randomness is reproducible and never replayed: the augmentation of sample ``i`` in epoch ``e``
comes from a generator seeded with ``(seed, e, i)`` (independent of the number of workers), and
every worker re-seeds python ``random``, numpy's global generator and torch from
``(seed, epoch, worker id)`` at the start of each epoch (for user steps that use global RNGs; the
official code reseeded every worker with the same seed every epoch, spec 4.1).
"""

from __future__ import annotations

import gc
import random
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from .pkl import load_pkl
from .presets import get_preset
from .store import SkeletonStore, is_store, open_store
from .transforms import AUGMENTATIONS, Compose, build_pipeline, parse_augment

__all__ = [
    "SkeletonDataset",
    "EpochSampler",
    "build_loader",
    "default_pipeline",
    "holdout",
    "load_source",
    "seed_worker",
]

DEFAULT_HOLDOUT = 0.05


# ---------------------------------------------------------------------------------------------
# Loading


def load_source(source: str | Path | Mapping[str, Any]) -> Mapping:
    """The data as the pkl dict's mapping (``split``, ``annotations``, ``meta``): a canonical pkl
    (read and checked by :func:`adasgn.data.pkl.load_pkl`, with the restricted unpickler), a
    memory-mapped store directory (:func:`adasgn.data.store.open_store`), or an already-loaded
    dict / store (returned as is)."""
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    if is_store(path):
        return open_store(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    return load_pkl(path)


def names_and_labels(data: Mapping) -> tuple[list, np.ndarray]:
    """Every sample's name and label (a store answers from its arrays, building no sample)."""
    if isinstance(data, SkeletonStore):
        return data.names, np.asarray(data.labels)
    anns = data["annotations"]
    return ([a["frame_dir"] for a in anns],
            np.array([int(a["label"]) for a in anns], dtype=np.int64))


def holdout(names: Sequence[str], fraction: float = DEFAULT_HOLDOUT, seed: int = 0,
            labels: Sequence[int] | None = None) -> tuple[list[str], list[str]]:
    """Split ``names`` into (train, val) with about ``fraction`` in val, seeded.

    With ``labels`` the split is stratified (the same fraction of every class, at least one
    sample of a class with two or more). Both parts keep the input order. Deterministic for a
    seed, and independent of anything but (names, labels, fraction, seed).
    """
    names = list(names)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction}")
    n = len(names)
    if fraction == 0.0 or n < 2:
        return names, []
    rng = np.random.default_rng([int(seed), 0x5EED])
    chosen = np.zeros(n, dtype=bool)
    if labels is None:
        k = max(1, int(round(fraction * n)))
        chosen[rng.permutation(n)[:k]] = True
    else:
        labels = np.asarray(labels)
        if len(labels) != n:
            raise ValueError("holdout: labels and names differ in length")
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            if len(idx) < 2:
                continue
            k = max(1, int(round(fraction * len(idx))))
            chosen[rng.permutation(idx)[:k]] = True
    train = [nm for nm, c in zip(names, chosen) if not c]
    val = [nm for nm, c in zip(names, chosen) if c]
    return train, val


def seed_worker(seed: int, epoch: int, worker_id: int) -> int:
    """Seed python ``random``, numpy's global RNG and torch from (seed, epoch, worker id)."""
    s = int(np.random.SeedSequence([int(seed), int(epoch), int(worker_id), 0xC0FFEE])
            .generate_state(1)[0])
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)
    return s


# ---------------------------------------------------------------------------------------------
# Dataset


class SkeletonDataset(Dataset):
    """Samples of one split of a canonical pkl, passed through a pipeline.

    Args:
        source: pkl path or loaded dict ``{"split", "annotations", "meta"}``.
        split: a split name in ``source["split"]``, an explicit list of ``frame_dir`` names, or
            None for every annotation.
        pipeline: list of step configs, a :class:`Compose`, or any callable ``dict -> dict``
            that leaves the model input in ``sample["input"]`` (or ``sample["keypoint"]``
            already (C, T, V, M)). None = :func:`default_pipeline` for the pkl's dataset (test
            mode, joint stream).
        holdout: None, ``"train"`` or ``"val"``: carve a validation part out of ``split``
            (``holdout_fraction``, stratified by label, seeded by ``holdout_seed``).
        seed: base seed of the per-sample augmentation generators.

    ``dataset[i]`` -> ``(x: FloatTensor (C, T, V, M), label: int, i)``; ``dataset[(i, epoch)]``
    is the same sample with the augmentation of that epoch (what :func:`build_loader` asks for).
    """

    def __init__(self, source: str | Path | Mapping[str, Any], split: str | Sequence[str] | None,
                 pipeline: Iterable | Compose | Callable | None = None, *,
                 holdout: str | None = None, holdout_fraction: float = DEFAULT_HOLDOUT,
                 holdout_seed: int = 0, seed: int = 0):
        data = load_source(source)
        self.source = str(source) if not isinstance(source, Mapping) else None
        self.meta: dict = dict(data.get("meta") or {})
        annotations = data["annotations"]  # a list (pkl) or the store's lazy sequence
        all_names, all_labels = names_and_labels(data)
        position = {n: i for i, n in enumerate(all_names)}

        if split is None:
            names = list(all_names)
            self.split_name = "all"
        elif isinstance(split, str):
            splits = data.get("split") or {}
            if split not in splits:
                raise KeyError(f"split {split!r} not in the dataset; available: {sorted(splits)}")
            names = list(splits[split])
            self.split_name = split
        else:
            names = list(split)
            self.split_name = "custom"
        missing = [n for n in names if n not in position]
        if missing:
            raise KeyError(
                f"{len(missing)} names of split {self.split_name!r} have no annotation, "
                f"e.g. {missing[:3]}"
            )
        if holdout is not None:
            if holdout not in ("train", "val"):
                raise ValueError(f"holdout must be None, 'train' or 'val', got {holdout!r}")
            tr, va = _holdout_fn(names, holdout_fraction, holdout_seed,
                                 labels=[int(all_labels[position[n]]) for n in names])
            names = tr if holdout == "train" else va
            self.split_name = f"{self.split_name}[{holdout}]"

        self._all = annotations
        self._rows = np.array([position[n] for n in names], dtype=np.int64)  # into annotations
        self.names = names
        self.labels = all_labels[self._rows] if len(names) else np.zeros(0, np.int64)
        self.class_names = list(self.meta.get("class_names") or [])
        self.num_classes = len(self.class_names) or (int(self.labels.max()) + 1 if len(self) else 0)
        self.layout = self.meta.get("layout")
        if pipeline is None:
            ds = self.meta.get("dataset")
            pipeline = default_pipeline(ds, "joint", train=False) if ds else []
        self.pipeline = pipeline if (callable(pipeline) and not isinstance(pipeline, list)) \
            else build_pipeline(pipeline)
        self.seed = int(seed)
        self.epoch = 0  # used for plain integer indexing
        self._seeded_epoch: int | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def annotation(self, index: int) -> dict:
        """The annotation dict of sample ``index`` (from a store: built on access, its
        keypoint a read-only view of the memory map)."""
        return self._all[int(self._rows[index])]

    def sample(self, index: int, epoch: int | None = None) -> dict:
        """The pipeline output dict of sample ``index`` (for inspection / visualisation)."""
        epoch = self.epoch if epoch is None else int(epoch)
        ann = self.annotation(index)
        s = {k: v for k, v in ann.items() if k != "keypoint"}
        kp = np.asarray(ann["keypoint"], dtype=np.float32)[..., :3]  # spec 5.5 step 1
        s["keypoint"] = kp.copy()  # steps may work in place; the annotation stays intact
        s["index"] = index
        s["epoch"] = epoch
        s["rng"] = np.random.default_rng([self.seed, epoch, index])
        return self.pipeline(s)

    def __getitem__(self, item):
        if isinstance(item, tuple):
            index, epoch = int(item[0]), int(item[1])
        else:
            index, epoch = int(item), self.epoch
        if index < 0:
            index += len(self)
        info = get_worker_info()
        if info is not None and self._seeded_epoch != epoch:
            seed_worker(self.seed, epoch, info.id)
            self._seeded_epoch = epoch
        s = self.sample(index, epoch)
        x = s["input"] if "input" in s else s["keypoint"]
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), int(s["label"]), index

    def __repr__(self) -> str:
        return (f"SkeletonDataset({self.meta.get('dataset', '?')}, split={self.split_name!r}, "
                f"{len(self)} samples, {self.num_classes} classes)")


_holdout_fn = holdout  # the constructor's ``holdout`` argument shadows the function


# ---------------------------------------------------------------------------------------------
# Loader


class EpochSampler(Sampler):
    """Yields ``(index, epoch)``; shuffles with a generator seeded by (seed, epoch).

    Each ``iter()`` is one epoch and advances the epoch counter (unless ``advance=False``:
    evaluation); :meth:`set_epoch` sets the next one explicitly (resume). Because the epoch
    travels with every index, workers see it even when they are persistent.

    Under DDP (``world_size`` > 1) rank ``r`` takes every ``world_size``-th index of the epoch's
    order; with ``even`` all ranks get the same count (the tail is dropped, training), without it
    every sample is taken exactly once over all ranks (evaluation).
    """

    def __init__(self, n: int, shuffle: bool, seed: int = 0, rank: int = 0, world_size: int = 1,
                 even: bool = True, advance: bool = True):
        self.n, self.shuffle, self.seed = int(n), bool(shuffle), int(seed)
        self.rank, self.world_size, self.even, self.advance = int(rank), int(world_size), even, advance
        self._next_epoch = 0
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self._next_epoch = int(epoch)

    def __len__(self) -> int:
        if self.even:
            return self.n // self.world_size
        return len(range(self.rank, self.n, self.world_size))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self._next_epoch
        if self.advance:
            self._next_epoch += 1
        self.epoch = epoch
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch, 0x5A3D]).permutation(self.n)
        else:
            order = np.arange(self.n)
        order = order[self.rank::self.world_size][:len(self)]
        return iter([(int(i), epoch) for i in order])


def build_loader(dataset: SkeletonDataset, batch_size: int = 64, train: bool = True,
                 num_workers: int = 0, seed: int | None = None, shuffle: bool | None = None,
                 drop_last: bool | None = None, pin_memory: bool = False,
                 persistent_workers: bool = False, rank: int = 0, world_size: int = 1,
                 **kwargs) -> DataLoader:
    """A DataLoader over ``dataset`` yielding ``(x (N,C,T,V,M), label (N,), index (N,))``.

    Train defaults follow the official code (shuffle, drop the last partial batch); test keeps
    order and every sample. ``seed`` (default: ``dataset.seed``) drives shuffling and the
    augmentation; each worker gets a different seed every epoch (see :func:`seed_worker`).
    ``loader.sampler.set_epoch(e)`` selects the epoch explicitly. ``rank`` / ``world_size``
    shard the samples for DDP (:class:`EpochSampler`).
    """
    if seed is not None:
        dataset.seed = int(seed)
    shuffle = train if shuffle is None else shuffle
    drop_last = train if drop_last is None else drop_last
    sampler = EpochSampler(len(dataset), shuffle, dataset.seed, rank=rank, world_size=world_size,
                           even=train, advance=train)
    if drop_last and len(sampler) < batch_size:
        drop_last = False  # never an empty epoch on a tiny dataset
    if num_workers > 0:
        # the objects that exist now (the dataset, its names and index, torch's modules) are
        # moved out of the cyclic collector's reach: a collection in a forked worker would
        # otherwise write to every page holding them and copy it (copy-on-access, PyTorch
        # #13246); they are long-lived anyway
        gc.freeze()
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=persistent_workers and num_workers > 0,
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------
# Default pipelines per dataset


def default_pipeline(dataset: str, stream: str = "joint", train: bool = False, *,
                     num_frames: int = 20, rot_norm: bool = False, rotation: bool | None = None,
                     degrees: int = 17, official_bone: bool = False,
                     layout: str | None = None, num_persons: int | None = None,
                     normalize: str = "none", augment: Sequence[str] | None = None) -> list[dict]:
    """The step configs for a dataset preset (``ntu60``, ``ntu120``, ``shrec14``, ``shrec28``,
    ``msr``, ``synthetic``), a stream (``joint`` / ``bone`` / ``velocity``) and a mode.

    All: drop empty frames, the stream, sampling to ``num_frames`` (random per segment in train,
    uniform in test), format to (C, T, V, M) with the preset's person slots.
    NTU and synthetic: random rotation +-17 integer degrees in train (official). ``rot_norm=True``
    adds the view normalisation (official only for NTU-60 cross-view).
    SHREC: no rotation (official). MSR: no rotation (single fixed frontal camera, the same view
    in train and test, and only 10 subjects; see docs/pipeline.md). ``rotation`` overrides.
    ``normalize`` ``frame`` / ``origin`` adds the streamable :class:`~adasgn.data.transforms.
    Normalize` right after dropping empty frames (with ``rot_norm`` it does the view
    normalisation too, instead of ``RotNorm``); ``none`` (default) leaves the steps as they were.
    ``augment`` (training only) names the augmentations, each ``name`` or ``name:value``
    (:func:`augment_steps`); ``None`` = the dataset's default (``rotation``).
    """
    # dataset None / "custom": a dataset of one's own (no preset), ``layout`` then required
    preset = None if dataset in (None, "custom") else get_preset(dataset)
    if preset is None and not layout:
        raise ValueError("default_pipeline: a dataset without a preset needs layout=")
    layout = layout or preset.layout
    num_persons = num_persons or (preset.max_persons if preset else 1)
    if rotation is None:
        rotation = dataset in ("ntu60", "ntu120", "synthetic")
    if augment is None:
        augment = [f"rotate:{degrees}"] if rotation else []
    aug = augment_steps(augment, layout) if train else {}
    steps: list[dict] = [{"type": "DropEmptyFrames"}]
    if normalize != "none":  # streamable (docs/streaming.md): per frame / one fixed origin
        steps.append({"type": "Normalize", "mode": normalize, "layout": layout,
                      "rotate": bool(rot_norm)})
        rot_norm = False
    # rot_norm is computed from joint positions: for bone / velocity it runs before the stream
    # (the official code computes it from the bone / velocity values, which is meaningless).
    if rot_norm and stream != "joint":
        steps.append({"type": "RotNorm", "layout": layout})
    if "crop" in aug:
        steps.append(aug.pop("crop"))
    steps.append({"type": "Stream", "kind": stream, "layout": layout,
                  "official_bone": official_bone})
    steps.append({"type": "UniformSample", "num_frames": num_frames, "train": bool(train)})
    if rot_norm and stream == "joint":
        steps.append({"type": "RotNorm", "layout": layout})  # exact official position
    steps.extend(aug.values())  # mirror, rotate, scale, shear (in that order)
    steps.append({"type": "FormatInput", "num_persons": num_persons})
    return steps


def augment_steps(names: Sequence[str], layout: str) -> dict[str, dict]:
    """Step configs of the named augmentations (``data.augment``), each ``name`` or
    ``name:value``: ``rotate[:degrees]`` (17), ``scale[:fraction]`` (0.1), ``shear[:amount]``
    (0.1), ``mirror[:probability]`` (0.5), ``crop[:min_ratio]`` (0.8). Keys in the pipeline's
    order: crop (before the stream), then mirror, rotate, scale, shear."""
    given = parse_augment(names)
    make = {
        "crop": lambda v: {"type": "TemporalCrop", "min_ratio": 0.8 if v is None else v},
        "mirror": lambda v: {"type": "RandomMirror", "layout": layout, "p": 0.5 if v is None else v},
        "rotate": lambda v: {"type": "RandomRotation", "degrees": 17 if v is None else int(v)},
        "scale": lambda v: {"type": "RandomScale", "scale": 0.1 if v is None else v},
        "shear": lambda v: {"type": "RandomShear", "shear": 0.1 if v is None else v},
    }
    return {k: make[k](given[k]) for k in AUGMENTATIONS if k in given}
