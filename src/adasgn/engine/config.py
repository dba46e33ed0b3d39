"""Experiment configuration: typed dataclasses, loaded from YAML, overridable as ``key=value``.

A config file may name a ``base:`` file (relative to itself) whose values it overrides. Unknown
keys are errors that name the key, so a typo never passes silently. Defaults follow the official
training scheme (spec 4.1): Adam 1e-3, weight decay 1e-4, batch 64, 120 epochs, x0.1 at
60/90/110, label smoothing 0.1.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..data.transforms import NORMALIZE_MODES, parse_augment


SELECT_RULES = ("top1", "top1_loss", "loss", "last")


class ConfigError(ValueError):
    pass


@dataclass
class DataConfig:
    # preset name (ntu60 ntu120 shrec14 shrec28 msr fpha utd_mhad penn synthetic), or null /
    # "custom" for a dataset of one's own: layout, classes and persons then come from the data
    dataset: str | None = "synthetic"
    path: str = "data/synthetic.pkl"  # canonical pkl (relative paths: to the working directory)
    train_split: str = "xsub_train"
    test_split: str = "xsub_val"  # pyskl calls the test split "<protocol>_val"
    val_fraction: float = 0.05  # validation split held out from train_split (model selection)
    val_seed: int = 0
    # a second part of the training split (stratified, seeded, after the validation part) that
    # only AdaSGN's policy learns from: every stage of a run (SGN, singles, AdaSGN's branches and
    # temporal module) leaves it out, so the policy's cross-entropy there says which branches
    # generalise rather than which fit the training data (experimental, docs/adasgn.md)
    policy_fraction: float = 0.0
    stream: str = "joint"  # joint | bone | velocity
    num_frames: int = 20
    rotation: float | None = None  # degrees of random rotation in training; None = dataset default
    rot_norm: bool = False
    # training augmentations, each "name" or "name:value" (rotate, scale, shear, mirror, crop;
    # docs/pipeline.md); None = the dataset's default (data.rotation); [] = none
    augment: list | None = None
    # none (today's: sequences as prepared, centred on their first frame) | frame (every frame
    # centred on itself) | origin (one fixed origin): a streamable normalisation (docs/streaming.md)
    normalize: str = "none"
    workers: int = 0  # DataLoader workers
    layout: str | None = None  # layout name or YAML file; None = the pkl's meta.layout (or preset's)
    persons: int | None = None  # person slots M; None = the preset's (own data: the most in the data)
    on_bad_sample: str = "error"  # error | skip: a sample that fails the checks at open


@dataclass
class ModelConfig:
    name: str = "sgn"  # sgn | single | adasgn
    size: str = "big"  # sgn / single
    joints: int | None = None  # single: reduced joint count
    dropout: float = 0.2
    skip_empty_persons: bool = True
    options: dict = field(default_factory=dict)  # extra model keyword arguments (e.g. adasgn policy)


@dataclass
class TrainConfig:
    epochs: int = 120
    batch_size: int = 64
    eval_batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    milestones: list = field(default_factory=lambda: [60, 90, 110])
    gamma: float = 0.1
    label_smoothing: float = 0.1
    seed: int = 1
    select_on: str = "val"  # val | test ("test" = the paper's best-epoch-on-test protocol)
    # which epoch is kept (best.pt): top1 = the earliest with the best top-1 | top1_loss = best
    # top-1, ties broken by the lower loss | loss = the lowest loss (cross-entropy of the
    # selection split) | last = the last epoch. Never inside the frozen phase of a model
    # initialised from singles (adasgn.pretrained + freeze_epochs).
    select: str = "top1"
    # splits also evaluated at every evaluation epoch and logged in metrics.jsonl, never used to
    # select: learning curves for a recipe pilot on inner splits of the training data
    # (benchmarks/recipe_pilot.py). On a real test split this is looking at the test set.
    monitor: list = field(default_factory=list)
    freeze: dict = field(default_factory=dict)  # {"transform": 30}: name substring -> first trainable epoch
    freeze_epochs: int = 0  # adasgn with pretrained singles: freeze spatial modules + matrices
    amp: str = "none"  # none | bf16 (autocast on CUDA or the CPU)
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch threads on CPU (0 = torch default)
    deterministic: bool = False
    eval_every: int = 1


@dataclass
class AdaConfig:
    alpha: float = 4.0
    warm_epochs: int = 5
    loss_norm: str = "official"  # official (mean over the non-free choices) | paper (Eq. 12)
    pretrained: list = field(default_factory=list)  # six single checkpoints in choice order
    # also load the temporal module + classifier from a single: false | true (the full-joint big
    # one) | a choice index or name | best (the best validation record): trainer.temporal_source
    take_temporal: bool | int | str = False
    # no checkpoint selected before the first LR decay (min(train.milestones)): until then the
    # policy still moves at a high Gumbel temperature (docs/results.md, "The AdaSGN part")
    select_after_decay: bool = False


@dataclass
class RecipeConfig:
    """The paper's two-stage pipeline (``adasgn recipe``): six singles, then AdaSGN from them."""

    single_epochs: int | None = None  # None = train.epochs
    single_milestones: list | None = None  # None = train.milestones
    sgn_epochs: int | None = None  # the SGN stage; None = single_epochs
    sgn_milestones: list | None = None  # None = single_milestones
    transform_freeze: int = 30  # singles: aggregation matrix frozen for the first E epochs
    freeze_epochs: int = 30  # AdaSGN: pretrained spatial modules + matrices frozen for E epochs
    with_sgn: bool = True  # also train plain SGN (the baseline row / point)
    sgn_as_full_big: bool = False  # reuse the trained SGN as the big full-joint single (identity
    # matrix) instead of training that single: saves the most expensive single run


@dataclass
class Config:
    name: str = "experiment"
    out_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    adasgn: AdaConfig = field(default_factory=AdaConfig)
    recipe: RecipeConfig = field(default_factory=RecipeConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


def _from_dict(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    kwargs = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {key!r}; known: {sorted(fields)}")
        ftype = fields[key].type
        sub = {"DataConfig": DataConfig, "ModelConfig": ModelConfig, "TrainConfig": TrainConfig,
               "AdaConfig": AdaConfig, "RecipeConfig": RecipeConfig}.get(ftype if isinstance(ftype, str) else ftype.__name__)
        kwargs[key] = _from_dict(sub, value, f"{where}.{key}") if sub else value
    return cls(**kwargs)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "options":
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_yaml(path: Path, seen: tuple = ()) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: circular base")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    base = data.pop("base", None)
    if base:
        data = _merge(_read_yaml((path.parent / base), seen + (path.resolve(),)), data)
    return data


def parse_value(text: str) -> Any:
    """YAML-typed value of an override: ``3`` -> 3, ``[1,2]`` -> list, ``null`` -> None."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value (e.g. train.epochs=10)")
        key, value = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p!r} is not a section")
        node[parts[-1]] = parse_value(value)
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                data: dict | None = None) -> Config:
    raw = _read_yaml(Path(path)) if path else {}
    if data:
        raw = _merge(raw, data)
    raw = apply_overrides(raw, overrides or [])
    cfg = _from_dict(Config, raw, str(path) if path else "config")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    if cfg.data.stream not in ("joint", "bone", "velocity"):
        raise ConfigError(f"data.stream must be joint, bone or velocity, not {cfg.data.stream!r}")
    if cfg.data.normalize not in NORMALIZE_MODES:
        raise ConfigError(f"data.normalize must be one of {', '.join(NORMALIZE_MODES)}, not "
                          f"{cfg.data.normalize!r}")
    if cfg.data.augment is not None:
        try:
            parse_augment(cfg.data.augment)
        except ValueError as exc:
            raise ConfigError(f"data.augment: {exc}") from None
    if cfg.data.on_bad_sample not in ("error", "skip"):
        raise ConfigError(f"data.on_bad_sample must be error or skip, not {cfg.data.on_bad_sample!r}")
    if cfg.data.persons is not None and (not isinstance(cfg.data.persons, int) or cfg.data.persons < 1):
        raise ConfigError(f"data.persons must be a positive integer or null, not {cfg.data.persons!r}")
    if cfg.model.name not in ("sgn", "single", "adasgn"):
        raise ConfigError(f"model.name must be sgn, single or adasgn, not {cfg.model.name!r}")
    if cfg.train.select_on not in ("val", "test"):
        raise ConfigError("train.select_on must be 'val' or 'test'")
    if cfg.train.select not in SELECT_RULES:
        raise ConfigError(f"train.select must be one of {', '.join(SELECT_RULES)}, not "
                          f"{cfg.train.select!r}")
    bad = [m for m in cfg.train.monitor if m != "test"]
    if bad or (cfg.train.monitor and cfg.train.select_on == "test"):
        raise ConfigError(f"train.monitor takes only 'test' (and with train.select_on=val), not "
                          f"{cfg.train.monitor}")
    if not 0 <= cfg.data.val_fraction < 1:
        raise ConfigError("data.val_fraction must be in [0, 1)")
    if not 0 <= cfg.data.policy_fraction < 1:
        raise ConfigError("data.policy_fraction must be in [0, 1)")
    if cfg.train.select_on == "val" and cfg.data.val_fraction == 0:
        raise ConfigError("train.select_on=val needs data.val_fraction > 0")
    if cfg.adasgn.loss_norm not in ("official", "paper"):
        raise ConfigError("adasgn.loss_norm must be 'official' or 'paper'")


def save_config(cfg: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
