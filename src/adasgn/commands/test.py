"""``adasgn test CKPT``: evaluate a checkpoint on a split of its dataset."""

from __future__ import annotations

import argparse
import json

from ..engine.evaluate import test_checkpoint
from ..errors import UserError

HELP = """Evaluate a trained checkpoint: top-1/top-5, mean and per-class accuracy, realised compute
(GMACs in the paper's convention and GFLOPs actually executed, per sample), the AdaSGN action-usage
table (paper Table 3 columns), and per-sample scores saved as .npz (input to `adasgn ensemble`)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("test", help="evaluate a checkpoint", description=HELP)
    p.add_argument("checkpoint", help="a .pt checkpoint written by `adasgn train`")
    p.add_argument("--data", default=None, help="pkl to evaluate on (default: the training config's)")
    p.add_argument("--split", default="test", help="test | val | train | any split name in the pkl")
    p.add_argument("--scores", default=None, help="where to save per-sample scores (.npz)")
    p.add_argument("--budget", type=float, default=None,
                   help="AdaSGN: mean GMACs per person-sequence to aim for (needs a calibrated checkpoint)")
    p.add_argument("--budget-mode", default="mean", choices=("mean", "sample"),
                   help="mean: one lambda calibrated for the mean (default); sample: every "
                        "sequence finds its own lambda and costs about the budget (no calibration)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--no-flops", action="store_true", help="skip measuring executed FLOPs")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        rep = test_checkpoint(args.checkpoint, data=args.data, split=args.split, scores=args.scores,
                              budget=args.budget, budget_mode=args.budget_mode, batch_size=args.batch_size,
                              measure_flops=not args.no_flops, progress=not args.no_progress)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps({k: v for k, v in rep.items() if k != "per_class"} | {"per_class": rep["per_class"]}))
        return 0
    print(format_report(rep))
    return 0


def format_report(rep: dict) -> str:
    lines = [f"{rep['name']} ({rep['model']}) on {rep['dataset']} / {rep['split']}: "
             f"{rep['num_samples']} samples",
             f"  top-1 {100 * rep['top1']:.2f}%   top-5 {100 * rep['top5']:.2f}%   "
             f"mean class {100 * rep['mean_class_acc']:.2f}%",
             f"  GMACs (paper convention, per person-sequence) {rep['gmacs']:.4f}"]
    if rep.get("gflops_executed") is not None:
        lines.append(f"  GFLOPs executed (flop_counter, 2 x MAC, per sample) {rep['gflops_executed']:.4f}")
    if rep.get("usage"):
        cols = "  ".join(f"{k}:{100 * v:5.2f}%" for k, v in rep["usage"].items())
        lines.append(f"  action usage  {cols}")
    names = rep.get("class_names") or []
    worst = sorted((a, i) for i, a in enumerate(rep["per_class"]) if a is not None)[:5]
    if worst:
        lines.append("  weakest classes: " + ", ".join(
            f"{names[i] if i < len(names) else i} {100 * a:.0f}%" for a, i in worst))
    if rep.get("scores_path"):
        lines.append(f"  scores saved to {rep['scores_path']}")
    return "\n".join(lines)
