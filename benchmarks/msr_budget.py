"""One trained AdaSGN, many operating points: the run-time budget sweep on MSR Action3D.

    python benchmarks/msr_budget.py runs/msr-joint-s1 [--budgets 0.02 0.04 ...] \
        [--png docs/figures/msr_budget.png] [--json docs/figures/msr_budget.json]

Takes the AdaSGN checkpoint of a finished study run (``RUN/<stage>/checkpoints/best.pt``, default stage ``adasgn``)
and evaluates the **test** split once per budget in each budget mode (``--modes``):

* ``mean``: lambda for each requested budget calibrated on the **validation** split (bisection,
  stored in a copy of the checkpoint, ``best_calibrated.pt``);
* ``sample``: every test sequence bisects its own lambda (no calibration).

Prints a Markdown table (requested budget, realised GMACs, relative error, top-1, per mode) and
draws the budget curves beside the alpha-trained points of the same run (paper Fig. 3 style).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a study run directory, e.g. runs/msr-joint-s1")
    p.add_argument("--stage", default="adasgn", help="AdaSGN stage of the run (e.g. adasgn_a0p5)")
    p.add_argument("--budgets", type=float, nargs="+",
                   default=[0.02, 0.035, 0.05, 0.065, 0.08, 0.095, 0.11])
    p.add_argument("--modes", nargs="+", default=["mean", "sample"], choices=["mean", "sample"])
    p.add_argument("--png", default=str(ROOT / "docs" / "figures" / "msr_budget.png"))
    p.add_argument("--json", default=str(ROOT / "docs" / "figures" / "msr_budget.json"))
    a = p.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from adasgn.engine.budget import budget_sweep, calibrate_checkpoint
    from adasgn.engine.plots import tradeoff_plot
    from adasgn.engine.recipe import collect_results

    run = Path(a.run)
    src = run / a.stage / "checkpoints" / "best.pt"
    rows = []
    if "mean" in a.modes:
        calibrated = run / a.stage / "checkpoints" / "best_calibrated.pt"
        shutil.copy(src, calibrated)
        calibrate_checkpoint(calibrated, budgets=a.budgets, out=str(calibrated))
        rows += budget_sweep(str(calibrated), a.budgets, split="test", mode="mean")
    if "sample" in a.modes:
        rows += budget_sweep(str(src), a.budgets, split="test", mode="sample")
    for r in rows:
        r["rel_error"] = (r["gmacs"] - r["budget"]) / r["budget"]
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps({"run": str(run), "rows": rows}, indent=2))
    res = collect_results(run)
    tradeoff_plot(res, a.png, title=f"MSR Action3D ({run.name}): alpha-trained AdaSGNs\nand {a.stage} at "
                  "run-time budgets", budget_curve=rows)
    by = {(r["mode"], r["budget"]): r for r in rows}
    head = " | ".join(f"{m}: realised GMACs | {m}: error | {m}: top-1 %" for m in a.modes)
    print(f"| requested GMACs | {head} |")
    print("|---" * (1 + 3 * len(a.modes)) + "|")
    for b in a.budgets:
        cells = " | ".join(f"{by[m, b]['gmacs']:.4f} | {100 * by[m, b]['rel_error']:+.1f} % | "
                           f"{100 * by[m, b]['top1']:.2f}" for m in a.modes)
        print(f"| {b:.3f} | {cells} |")
    print(f"\nPNG: {a.png}\nJSON: {a.json}")


if __name__ == "__main__":
    main()
