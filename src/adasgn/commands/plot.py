"""``adasgn plot``: the paper's figures as PNG files."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import SkeletonDataset
from ..data.transforms import build_pipeline
from ..engine.plots import qualitative_plot, tradeoff_plot
from ..engine.recipe import collect_results
from ..engine.run import TrainedRun, load_run
from ..errors import UserError

HELP = """tradeoff: accuracy vs GMACs of every finished stage under a recipe/sweep directory
(paper Fig. 3). qualitative: sampled frames of one sequence in 3-D, each titled with the branch
(joint number and module size) the AdaSGN policy chose for it (paper Fig. 4)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="figures: trade-off curve, qualitative frames", description=HELP)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    t = kinds.add_parser("tradeoff", help="accuracy vs GMACs of the stages in a run directory")
    t.add_argument("root", help="directory holding stage runs (e.g. runs/msr)")
    t.add_argument("--out", default=None, help="PNG path (default ROOT/tradeoff.png)")
    t.add_argument("--title", default="")
    t.set_defaults(func=run_tradeoff)
    q = kinds.add_parser("qualitative", help="per-frame joint choice of one sequence")
    q.add_argument("checkpoint", help="an AdaSGN checkpoint")
    q.add_argument("sample", help="frame_dir name or integer index within the split")
    q.add_argument("--data", default=None, help="pkl (default: the checkpoint's)")
    q.add_argument("--split", default="test")
    q.add_argument("--out", default=None, help="PNG path (default qualitative_<sample>.png beside the run)")
    q.set_defaults(func=run_qualitative)


def run_tradeoff(args) -> int:
    res = collect_results(Path(args.root))
    if not res:
        raise UserError(f"no finished stage (*/test.json) under {args.root}")
    out = tradeoff_plot(res, args.out or Path(args.root) / "tradeoff.png", title=args.title)
    print(out)
    return 0


def qualitative_inputs(run: TrainedRun, sample: str, data: str | None = None,
                       split: str = "test") -> tuple[torch.Tensor, np.ndarray, str, int]:
    """(model input (C, T, V, M) through the run's own eval pipeline, the joint positions to
    draw (T, V, 3) of person 0 through the same pipeline, sample name, label)."""
    rd = run.data(data)
    split_name = {"train": run.cfg.data.train_split}.get(split, split)
    run_ds = rd.dataset(split_name)
    if sample.isdigit():
        idx = int(sample)
        if idx >= len(run_ds):
            raise UserError(f"sample index {idx} out of range ({len(run_ds)} in split {split_name})")
    elif sample in run_ds.names:
        idx = run_ds.names.index(sample)
    else:
        raise UserError(f"no sample {sample!r} in split {split_name} of {run.cfg.data.path}")
    x, label, _ = run_ds[idx]
    draw = SkeletonDataset(rd.source, run_ds.names[idx:idx + 1],
                           build_pipeline(run.eval_pipeline(stream="joint")))
    skel = draw[0][0].numpy()[:, :, :, 0].transpose(1, 2, 0)  # (T, V, 3) person 0
    return x, skel, run_ds.names[idx], int(label)


def qualitative_figure(checkpoint: str, sample: str, data: str | None = None, split: str = "test",
                       out: str | None = None) -> Path:
    run = load_run(checkpoint)
    model = run.model
    if not model.choices:
        raise UserError(f"{checkpoint}: not an AdaSGN checkpoint (no per-frame choices to draw)")
    x, skel, name, label = qualitative_inputs(run, sample, data, split)
    with torch.no_grad():
        logits, info = model(x[None])
    dec = info.decisions[0, 0].numpy()
    layout = run.layout
    pred = int(logits.argmax(1))
    groups = {n: layout.groups(n) for n in layout.joint_choices}
    title = (f"{name}: true '{run.class_names[label]}', predicted '{run.class_names[pred]}', "
             f"{float(info.gmacs[0]):.4f} GMACs")
    out_path = Path(out) if out else Path(checkpoint).resolve().parent.parent / \
        f"qualitative_{name}.png"
    qualitative_plot(skel, layout.bones, dec, model.choice_names,
                     [c.joints for c in model.choices], out_path, title=title, groups=groups)
    return out_path


def run_qualitative(args) -> int:
    print(qualitative_figure(args.checkpoint, args.sample, args.data, args.split, args.out))
    return 0
