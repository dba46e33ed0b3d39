"""``adasgn recipe`` (the paper's two-stage pipeline) and ``adasgn sweep`` (alpha sweep, Fig. 3)."""

from __future__ import annotations

import argparse
import json

from ..engine.config import ConfigError, load_config
from ..engine.plots import tradeoff_plot
from ..engine.recipe import StageError, run_recipe, run_sweep
from ..errors import UserError

RECIPE_HELP = """The paper's pipeline in one command: (SGN,) the six single models (joint choices x
sizes, each with its learnable aggregation matrix), then AdaSGN initialised from them with the
spatial modules and matrices frozen for recipe.freeze_epochs. Each stage is a run directory under
<out_dir>/<name>/; finished stages are skipped and an interrupted stage resumes, so re-running the
same command after a crash continues where it stopped."""

SWEEP_HELP = """Train AdaSGN for several alpha values from the same pretrained singles (trained first
if needed), plus the random-policy and fuse-all baselines, and write the accuracy-vs-GMACs curve
(paper Fig. 3) with the SGN and single-model points to <out_dir>/<name>/tradeoff.png."""

STAGES_HELP = """run only these stages (names as under <out_dir>/<name>/: sgn, single_small9, adasgn,
adasgn_a16, rand, fuse, ...), e.g. to spread one recipe over several processes or GPUs: SGN and
the singles are independent, an AdaSGN stage needs the six singles finished (an error says which
are missing)"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipe", help="singles then AdaSGN, resumable", description=RECIPE_HELP)
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--stages", nargs="+", metavar="STAGE", help=STAGES_HELP)
    p.set_defaults(func=run_recipe_cmd)
    s = sub.add_parser("sweep", help="AdaSGN for several alphas + trade-off PNG", description=SWEEP_HELP)
    s.add_argument("config")
    s.add_argument("overrides", nargs="*", help="key=value overrides")
    s.add_argument("--alphas", type=float, nargs="+", required=True)
    s.add_argument("--no-baselines", action="store_true", help="skip the rand / fuse runs")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--stages", nargs="+", metavar="STAGE", help=STAGES_HELP)
    s.set_defaults(func=run_sweep_cmd)


def _cfg(args):
    try:
        return load_config(args.config, args.overrides)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _table(results: dict) -> str:
    lines = [f"{'stage':<18} {'top-1 %':>8} {'GMACs':>8}"]
    for k, r in results.items():
        lines.append(f"{k:<18} {100 * r['top1']:>8.2f} {r['gmacs']:>8.4f}")
    return "\n".join(lines)


def _staged(fn, *args, **kwargs) -> dict:
    try:
        return fn(*args, **kwargs)
    except StageError as exc:
        raise UserError(str(exc)) from None


def run_recipe_cmd(args) -> int:
    res = _staged(run_recipe, _cfg(args), progress=not args.no_progress, only=args.stages)
    print(_table(res))
    return 0


def run_sweep_cmd(args) -> int:
    cfg = _cfg(args)
    res = _staged(run_sweep, cfg, args.alphas, baselines=not args.no_baselines,
                  progress=not args.no_progress, only=args.stages)
    if args.stages:  # a part of the sweep (perhaps one of several processes): no curve yet
        print(_table(res))
        return 0
    png = tradeoff_plot(res, cfg.run_dir / "tradeoff.png", title=f"{cfg.name}: accuracy vs compute")
    (cfg.run_dir / "sweep.json").write_text(json.dumps(
        {k: {kk: r[kk] for kk in ("top1", "top5", "gmacs", "usage") if kk in r} for k, r in res.items()},
        indent=2))
    print(_table(res))
    print(f"trade-off curve: {png}")
    return 0
