"""``adasgn train CONFIG [key=value ...]``: train SGN, a single model or AdaSGN."""

from __future__ import annotations

import argparse
import json
import os

from ..engine.config import ConfigError, load_config
from ..engine.trainer import train
from ..errors import DataError, UserError

HELP = """Train one model from a YAML config (see configs/). Any config value can be overridden as
key=value, e.g. `train.epochs=10 data.stream=bone model.name=adasgn adasgn.alpha=2`.
Launch with `torchrun --nproc_per_node=N -m adasgn train ...` for DDP (CPU gloo or CUDA nccl).
The run directory (<out_dir>/<name>/) gets config.yaml, env.json, metrics.jsonl, checkpoints/
(last.pt every epoch, written atomically; best.pt on validation), test.json and scores_test.npz."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model from a config", description=HELP)
    p.add_argument("config", help="YAML config file")
    p.add_argument("overrides", nargs="*", help="key=value overrides (dotted keys)")
    p.add_argument("--resume", action="store_true",
                   help="continue from <run>/checkpoints/last.pt if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        result = train(cfg, resume=args.resume, progress=not args.no_progress)
    except FileNotFoundError as exc:
        raise UserError(f"{exc} (make it with `adasgn prepare {cfg.data.dataset or 'files'} --raw ... "
                        f"--out {cfg.data.path}`, or set data.path=...)") from None
    except (DataError, ConfigError) as exc:
        raise UserError(str(exc)) from None
    if int(os.environ.get("RANK", "0")) == 0:
        summary = {k: result[k] for k in ("name", "model", "top1", "top5", "gmacs", "selected_epoch")
                   if k in result}
        print(json.dumps(summary))
    return 0
