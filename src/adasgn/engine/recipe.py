"""Multi-run workflows: the paper's two-stage recipe and the alpha sweep (paper Fig. 3).

Every stage is an ordinary run directory under ``<out_dir>/<name>/``; a stage whose
``test.json`` exists is finished and is not redone, an interrupted stage resumes from its last
checkpoint. So ``adasgn recipe`` / ``adasgn sweep`` can be re-run after any crash.

``only`` (``--stages`` on the command line) runs a subset of the stages, so that independent
stages can go to separate processes or machines (SGN and the six singles need nothing; an AdaSGN
stage needs the six singles finished): a stage outside ``only`` is reported if it finished
earlier and otherwise left alone.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

import torch

from ..skeleton import Layout
from .checkpoint import load_checkpoint, save_checkpoint
from .config import Config
from .data import run_layout
from .trainer import train


class StageError(ValueError):
    """A stage asked for that this run does not have, or an AdaSGN stage asked for before the
    singles it starts from had finished."""


def _stage(cfg: Config, name: str, progress: bool, only=None, **changes) -> dict | None:
    """Train (or resume) one stage; a finished one is read back. With ``only`` and ``name`` not
    in it: the earlier result if there is one, else None (not run)."""
    done = cfg.run_dir / name / "test.json"
    if only is not None and name not in only:
        return json.loads(done.read_text()) if done.is_file() else None
    sub = copy.deepcopy(cfg)
    sub.name = f"{cfg.name}/{name}"
    for dotted, value in changes.items():
        node = sub
        parts = dotted.split("__")
        for p in parts[:-1]:
            node = getattr(node, p)
        setattr(node, parts[-1], value)
    if done.is_file():
        print(f"[recipe] {sub.name}: finished earlier, skipped", file=sys.stderr)
        return json.loads(done.read_text())
    pretrained = changes.get("adasgn__pretrained") or []
    missing = [p for p in pretrained if not Path(p).is_file()]
    if missing:
        raise StageError(f"stage {name} starts from the six singles, and these have not "
                              f"finished: {', '.join(Path(p).parent.parent.name for p in missing)}")
    print(f"[recipe] {sub.name}: training", file=sys.stderr)
    return train(sub, resume=True, progress=progress)


def single_stages(cfg: Config, layout: Layout | None = None) -> list[tuple[str, int, str]]:
    """(stage name, joints, size) of the six singles in AdaSGN's choice order (``layout``: the
    run's, when the caller has it already)."""
    layout = layout or run_layout(cfg)
    return [(f"single_{size}{j}", j, size) for j in layout.joint_choices for size in ("small", "big")]


def _sgn_is_full_big(cfg: Config) -> bool:
    """Whether the recipe copies the trained SGN into the big full-joint single."""
    return cfg.recipe.sgn_as_full_big and cfg.recipe.with_sgn


def adasgn_starts_from(cfg: Config, layout: Layout | None = None) -> list[str]:
    """The stages an AdaSGN stage starts from: the six singles, and SGN when it is copied into
    the big full-joint one."""
    return [s for s, _, _ in single_stages(cfg, layout)] + (["sgn"] if _sgn_is_full_big(cfg) else [])


def run_singles(cfg: Config, progress: bool = True, layout: Layout | None = None, only=None) -> list[Path]:
    rc = cfg.recipe
    layout = layout or run_layout(cfg)
    paths = []
    for stage, joints, size in single_stages(cfg, layout):
        if _sgn_is_full_big(cfg) and joints == layout.num_joints and size == "big":
            if (only is None or stage in only) and (cfg.run_dir / "sgn" / "test.json").is_file():
                _sgn_to_single(cfg.run_dir / "sgn", cfg.run_dir / stage, layout.num_joints)
            paths.append(cfg.run_dir / stage / "checkpoints" / "best.pt")
            continue
        _stage(cfg, stage, progress, only, model__name="single", model__joints=joints, model__size=size,
               model__options={},
               train__epochs=rc.single_epochs or cfg.train.epochs,
               train__milestones=list(rc.single_milestones or cfg.train.milestones),
               train__freeze={"transform.matrix": rc.transform_freeze})
        paths.append(cfg.run_dir / stage / "checkpoints" / "best.pt")
    return paths


def _sgn_to_single(sgn_dir: Path, stage_dir: Path, joints: int) -> None:
    """SGN is the big full-joint single with an identity aggregation matrix."""
    dst = stage_dir / "checkpoints" / "best.pt"
    if dst.is_file():
        return
    ck = load_checkpoint(sgn_dir / "checkpoints" / "best.pt")
    ck["model"]["transform.matrix"] = torch.eye(joints)
    ck["config"]["model"]["name"] = "single"
    save_checkpoint(ck, dst)
    shutil.copy(sgn_dir / "test.json", stage_dir / "test.json")


def recipe_stages(cfg: Config, layout: Layout | None = None) -> list[str]:
    """The stage names of ``adasgn recipe`` in the order it runs them."""
    return ((["sgn"] if cfg.recipe.with_sgn else []) + [s for s, _, _ in single_stages(cfg, layout)]
            + ["adasgn"])


def sweep_stages(cfg: Config, alphas: list[float], baselines: bool = True,
                 layout: Layout | None = None) -> list[str]:
    """The stage names of ``adasgn sweep`` in the order it runs them."""
    return (recipe_stages(cfg, layout) + [_alpha_name(a) for a in alphas]
            + (["rand", "fuse"] if baselines else []))


def _check_only(only, known: list[str]):
    if only is None:
        return None
    unknown = sorted(set(only) - set(known))
    if unknown:
        raise StageError(f"unknown stage(s) {', '.join(unknown)}; this run's stages: {', '.join(known)}")
    return set(only)


def _keep(results: dict, name: str, res: dict | None) -> None:
    if res is not None:
        results[name] = res


def run_recipe(cfg: Config, progress: bool = True, layout: Layout | None = None,
               only=None) -> dict:
    """SGN (optional) + six singles + AdaSGN initialised from them (frozen first E epochs).
    ``only``: run just these stages (module docstring)."""
    layout = layout or run_layout(cfg)
    only = _check_only(only, recipe_stages(cfg, layout))
    results = {}
    if cfg.recipe.with_sgn:
        rc = cfg.recipe
        _keep(results, "sgn", _stage(cfg, "sgn", progress, only, model__name="sgn", model__size="big", model__options={},
                                train__epochs=rc.sgn_epochs or rc.single_epochs or cfg.train.epochs,
                                train__milestones=list(rc.sgn_milestones or rc.single_milestones
                                                       or cfg.train.milestones)))
    singles = run_singles(cfg, progress, layout, only)
    for stage, _, _ in single_stages(cfg, layout):
        done = cfg.run_dir / stage / "test.json"
        if done.is_file():
            results[stage] = json.loads(done.read_text())
    _keep(results, "adasgn", _stage(cfg, "adasgn", progress, only, model__name="adasgn",
                                    adasgn__pretrained=[str(p) for p in singles],
                                    train__freeze_epochs=cfg.recipe.freeze_epochs))
    return results


def _alpha_name(a: float) -> str:
    return f"adasgn_a{a:g}".replace(".", "p")


def run_sweep(cfg: Config, alphas: list[float], baselines: bool = True, progress: bool = True,
              only=None) -> dict:
    """Singles once, then AdaSGN for every alpha (and the rand / fuse baselines) from them.
    ``only``: run just these stages (module docstring)."""
    layout = run_layout(cfg)
    only = _check_only(only, sweep_stages(cfg, alphas, baselines, layout))
    rec = None if only is None else only & set(recipe_stages(cfg, layout))
    results = run_recipe(cfg, progress, layout, rec)  # SGN (if with_sgn), the singles, AdaSGN
    singles = [str(cfg.run_dir / s / "checkpoints" / "best.pt") for s, _, _ in single_stages(cfg, layout)]
    for a in alphas:
        _keep(results, _alpha_name(a), _stage(cfg, _alpha_name(a), progress, only, model__name="adasgn",
                                              adasgn__alpha=float(a), adasgn__pretrained=singles,
                                              train__freeze_epochs=cfg.recipe.freeze_epochs))
    if baselines:
        for pol in ("rand", "fuse"):
            opts = dict(cfg.model.options)
            opts["policy"] = pol
            _keep(results, pol, _stage(cfg, pol, progress, only, model__name="adasgn", model__options=opts,
                                       adasgn__alpha=0.0, adasgn__pretrained=singles,
                                       train__freeze_epochs=cfg.recipe.freeze_epochs))
    return results


def collect_results(root: Path) -> dict:
    """Every finished stage under ``root``: stage name -> test.json contents."""
    out = {}
    for p in sorted(Path(root).glob("*/test.json")):
        out[p.parent.name] = json.loads(p.read_text())
    return out
