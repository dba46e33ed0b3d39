"""``adasgn calibrate CKPT``: calibrate AdaSGN's run-time compute budget and store it."""

from __future__ import annotations

import argparse
import json

from ..engine.budget import calibrate_checkpoint
from ..errors import UserError

HELP = """Calibrate the run-time compute budget of a trained AdaSGN checkpoint. At inference the
policy logits are biased by -lambda * cost(choice) (cost = the choice's extra paper GMACs per
frame; S-1 is free) before the argmax; for each requested budget (mean GMACs per
person-sequence), lambda is found by bisection on the validation split (the mean realised GMACs
is non-increasing in lambda). The table of (lambda, mean GMACs, val top-1) points, a dense
lambda -> GMACs curve and the requested budgets are stored in the checkpoint under
"budget_calibration" (atomic write; in place unless --out). Afterwards `adasgn test/predict/bench
--budget G` and `model.set_budget(G)` use it."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="calibrate the AdaSGN compute budget of a checkpoint",
                       description=HELP)
    p.add_argument("checkpoint", help="an AdaSGN .pt checkpoint written by `adasgn train`")
    p.add_argument("--budgets", type=float, nargs="+", default=None, metavar="G",
                   help="GMACs per person-sequence (default: 5 evenly inside the reachable range)")
    p.add_argument("--out", default=None, help="write a new checkpoint here (default: in place)")
    p.add_argument("--data", default=None, help="pkl (default: the training config's)")
    p.add_argument("--split", default="val",
                   help="split to calibrate on (default: the run's held-out validation split)")
    p.add_argument("--grid", type=int, default=6,
                   help="extra table points evenly spread over the reachable range (default 6)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the stored table as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.grid < 0:
        raise UserError("--grid must be >= 0")
    try:
        table = calibrate_checkpoint(args.checkpoint, budgets=args.budgets, out=args.out,
                                     data=args.data, split=args.split, grid=args.grid,
                                     batch_size=args.batch_size)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise UserError(msg) from None
    if args.json:
        print(json.dumps(table))
        return 0
    dest = args.out or args.checkpoint
    lo, hi = table["range"]
    print(f"calibrated on {table['split']} ({table['num_samples']} samples); reachable "
          f"{lo:.4f} .. {hi:.4f} GMACs per person-sequence; stored in {dest}")
    print(f"  {'budget':>8} {'lambda':>10} {'GMACs':>8} {'error':>7} {'top-1':>7}")
    for r in table["budgets"]:
        err = 100 * (r["gmacs"] - r["budget"]) / r["budget"]
        print(f"  {r['budget']:>8.4f} {r['lambda']:>10.4g} {r['gmacs']:>8.4f} {err:>+6.1f}% "
              f"{100 * r['top1']:>6.2f}%")
    print("  table (lambda, GMACs, top-1): " + ", ".join(
        f"({p['lambda']:.3g}, {p['gmacs']:.4f}, {100 * p['top1']:.1f}%)" for p in table["points"]))
    return 0
