"""``adasgn plot``: the paper's figures as PNG files."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import UserError

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
    from ..engine.plots import tradeoff_plot
    from ..engine.recipe import collect_results

    res = collect_results(Path(args.root))
    if not res:
        raise UserError(f"no finished stage (*/test.json) under {args.root}")
    out = tradeoff_plot(res, args.out or Path(args.root) / "tradeoff.png", title=args.title)
    print(out)
    return 0


def qualitative_figure(checkpoint: str, sample: str, data: str | None = None, split: str = "test",
                       out: str | None = None) -> Path:
    import torch

    from ..data.dataset import SkeletonDataset, default_pipeline
    from ..engine.evaluate import model_from_checkpoint
    from ..engine.plots import qualitative_plot
    from ..skeleton import get_layout

    model, cfg, ck = model_from_checkpoint(checkpoint)
    if not hasattr(model, "choices"):
        raise UserError(f"{checkpoint}: not an AdaSGN checkpoint (no per-frame choices to draw)")
    path = data or cfg.data.path
    split_name = {"test": cfg.data.test_split, "train": cfg.data.train_split}.get(split, split)
    layout = get_layout(model.cfg.layout)
    kw = dict(num_frames=cfg.data.num_frames, layout=layout.name)
    run_ds = SkeletonDataset(path, split_name,
                             default_pipeline(cfg.data.dataset, cfg.data.stream, False, **kw))
    draw_ds = SkeletonDataset(path, split_name, default_pipeline(cfg.data.dataset, "joint", False, **kw))
    if sample.isdigit():
        idx = int(sample)
        if idx >= len(run_ds):
            raise UserError(f"sample index {idx} out of range ({len(run_ds)} in split {split_name})")
    elif sample in run_ds.names:
        idx = run_ds.names.index(sample)
    else:
        raise UserError(f"no sample {sample!r} in split {split_name} of {path}")
    x, label, _ = run_ds[idx]
    with torch.no_grad():
        logits, info = model(x[None])
    dec = info.decisions[0, 0].numpy()
    skel = draw_ds[idx][0].numpy()[:, :, :, 0].transpose(1, 2, 0)  # (T, V, 3) person 0
    names = list((ck.get("meta") or {}).get("class_names") or [])
    pred = int(logits.argmax(1))
    lab = lambda i: names[i] if i < len(names) else str(i)  # noqa: E731
    groups = {n: layout.groups(n) for n in layout.joint_choices}
    title = (f"{run_ds.names[idx]}: true '{lab(label)}', predicted '{lab(pred)}', "
             f"{float(info.gmacs[0]):.4f} GMACs")
    out_path = Path(out) if out else Path(checkpoint).resolve().parent.parent / \
        f"qualitative_{run_ds.names[idx]}.png"
    qualitative_plot(skel, layout.bones, dec, [c.name for c in model.choices],
                     [c.joints for c in model.choices], out_path, title=title, groups=groups)
    return out_path


def run_qualitative(args) -> int:
    print(qualitative_figure(args.checkpoint, args.sample, args.data, args.split, args.out))
    return 0
