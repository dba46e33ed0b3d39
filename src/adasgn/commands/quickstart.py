"""``adasgn quickstart``: the whole system on the built-in synthetic dataset, in minutes on a CPU."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..data.pkl import load_pkl
from ..data.synthetic import generate_synthetic
from ..engine.config import load_config
from ..engine.plots import tradeoff_plot
from ..engine.recipe import run_recipe

HELP = """Generate the built-in synthetic dataset (genuine NTU .skeleton files through the real NTU
reader and preprocessing), train SGN, the cheaper single models, then AdaSGN initialised from them
(the paper's recipe, with a short schedule), evaluate everything once on the test split, print an
accuracy / GMACs table with the AdaSGN action usage and the compute it spends on easy vs
fine-detail classes, and write the trade-off PNG. Re-running continues where it stopped."""

# The short schedule of the quickstart (everything else: configs/base.yaml defaults, spec 4.1).
QUICKSTART = {
    "name": "quickstart",
    "data": {"dataset": "synthetic", "train_split": "xsub_train", "test_split": "xsub_val",
             "val_fraction": 0.1, "workers": 0},
    "train": {"epochs": 10, "milestones": [7, 9], "batch_size": 32, "seed": 1},
    "model": {"name": "adasgn"},
    "adasgn": {"alpha": 2.0, "warm_epochs": 2},
    "recipe": {"single_epochs": 8, "single_milestones": [6], "transform_freeze": 3,
               "freeze_epochs": 4, "with_sgn": True, "sgn_as_full_big": True},
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="generate synthetic data, train SGN + AdaSGN, report",
                       description=HELP)
    p.add_argument("--out", default="runs", help="runs directory (default runs/)")
    p.add_argument("--data", default="data/synthetic.pkl", help="synthetic pkl (made if missing)")
    p.add_argument("--num-samples", type=int, default=2400, help="synthetic sequences to generate")
    p.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    p.add_argument("--epochs", type=int, default=None, help="AdaSGN epochs (default 10)")
    p.add_argument("--single-epochs", type=int, default=None, help="SGN / single epochs (default 8)")
    p.add_argument("--alpha", type=float, default=None, help="efficiency weight (default 2)")
    p.add_argument("--json", action="store_true", help="also print the summary as JSON")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _make_data(args) -> None:
    path = Path(args.data)
    if path.is_file():
        print(f"[quickstart] using existing {path}", file=sys.stderr)
        return
    print(f"[quickstart] generating {args.num_samples} synthetic sequences -> {path}", file=sys.stderr)
    res = generate_synthetic(path, num_samples=args.num_samples, seed=args.seed,
                             progress=not args.no_progress)
    if res.out is None:
        raise SystemExit("[quickstart] synthetic data generation failed")


def group_gmacs(run_dir: Path, pkl: str) -> dict:
    """Mean realised GMACs per class group (easy / hard / interaction) on the test split."""
    z = np.load(run_dir / "scores_test.npz")
    meta = load_pkl(pkl).get("meta") or {}
    groups = meta.get("class_groups")
    if not groups:
        return {}
    out = {}
    for g in sorted(set(groups)):
        m = np.array([groups[int(lab)] == g for lab in z["labels"]])
        if m.any():
            out[g] = {"gmacs": float(z["gmacs"][m].mean()),
                      "top1": float((z["scores"][m].argmax(1) == z["labels"][m]).mean())}
    return out


def run(args: argparse.Namespace) -> int:
    t0 = time.time()
    _make_data(args)
    spec = json.loads(json.dumps(QUICKSTART))
    spec["out_dir"] = args.out
    spec["data"]["path"] = args.data
    if args.epochs:
        spec["train"]["epochs"] = args.epochs
    if args.single_epochs:
        spec["recipe"]["single_epochs"] = args.single_epochs
    if args.alpha is not None:
        spec["adasgn"]["alpha"] = args.alpha
    cfg = load_config(data=spec)
    res = run_recipe(cfg, progress=not args.no_progress)
    png = tradeoff_plot(res, cfg.run_dir / "tradeoff.png",
                        title="quickstart (synthetic NTU-format data): accuracy vs compute")
    sgn, ada = res["sgn"], res["adasgn"]
    lines = [f"{'model':<14} {'top-1 %':>8} {'GMACs':>8} {'vs SGN':>7}"]
    for k, r in res.items():
        lines.append(f"{k:<14} {100 * r['top1']:>8.2f} {r['gmacs']:>8.4f} "
                     f"{r['gmacs'] / sgn['gmacs']:>6.0%}")
    usage = ada.get("usage") or {}
    groups = group_gmacs(cfg.run_dir / "adasgn", args.data)
    print("\n".join(lines))
    print("AdaSGN action usage (share of frames): "
          + "  ".join(f"{k} {100 * v:.1f}%" for k, v in usage.items()))
    if groups:
        print("AdaSGN compute by class group: " + "  ".join(
            f"{g}: {v['gmacs']:.4f} GMACs ({100 * v['top1']:.1f}% top-1)" for g, v in groups.items()))
    print(f"accuracy gap AdaSGN - SGN: {100 * (ada['top1'] - sgn['top1']):+.2f} points at "
          f"{ada['gmacs'] / sgn['gmacs']:.0%} of SGN's GMACs")
    print(f"trade-off curve: {png}")
    elapsed = time.time() - t0
    print(f"total time {elapsed / 60:.1f} min")
    summary = {"sgn": {k: sgn[k] for k in ("top1", "gmacs")},
               "adasgn": {k: ada[k] for k in ("top1", "gmacs")}, "usage": usage,
               "groups": groups, "png": str(png), "minutes": round(elapsed / 60, 2),
               "stages": {k: {"top1": r["top1"], "gmacs": r["gmacs"]} for k, r in res.items()}}
    (cfg.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if args.json:
        print(json.dumps(summary))
    return 0
