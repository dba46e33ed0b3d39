"""Offline accuracy of the default normalisation against the streamable one (issue 14 item 2).

::

    python benchmarks/norm_study.py run [--seeds 1 2 3] [--jobs 2]     # resumable
    python benchmarks/norm_study.py report [--seeds 1 2 3]

SGN on MSR Action3D (configs/msr/sgn.yaml, odd subjects train) and on SFINGE3D's segmented
gestures (configs/sfinge3d.yaml, seeded file split), each with ``data.normalize=none`` (the
offline default: the sequence as prepared, centred on its first frame) and
``data.normalize=frame`` (every frame centred on itself: what a stream can use,
docs/streaming.md). Model selection on the held-out validation part of the training split; the
test split evaluated once per run. Needs ``data/msr.pkl`` and ``data/sfinge3d.pkl`` (``adasgn
prepare msr|sfinge3d``). Runs live in ``runs/norm-study/`` (git-ignored); a finished run (its
``test.json``) is not redone.
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jobs import adasgn, run_logged

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "norm-study"
SETS = {"msr": ("configs/msr/sgn.yaml", []),
        "sfinge3d": ("configs/sfinge3d.yaml", ["model.name=sgn"])}
NORMS = ("none", "frame")


def _name(ds: str, norm: str, seed: int) -> str:
    return f"{ds}-{norm}-s{seed}"


def _job(ds: str, norm: str, seed: int) -> str:
    name = _name(ds, norm, seed)
    if (OUT / name / "test.json").is_file():
        return f"{name}: done earlier"
    cfg, extra = SETS[ds]
    rc = run_logged(adasgn("train", str(ROOT / cfg), *extra, f"data.normalize={norm}",
                           f"train.seed={seed}", "train.threads=1", f"out_dir={OUT}", f"name={name}",
                           "--resume", "--no-progress"), OUT / f"{name}.log")
    return f"{name}: rc {rc}"


def run(seeds, jobs: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tasks = [(ds, n, s) for s in seeds for ds in SETS for n in NORMS]
    with ThreadPoolExecutor(jobs) as ex:
        for msg in ex.map(lambda t: _job(*t), tasks):
            print(msg, flush=True)


def report(seeds) -> str:
    lines = ["| data | normalisation | top-1 % (mean +- sd) | seeds | selected epochs |",
             "|---|---|---|---|---|"]
    for ds in SETS:
        for norm in NORMS:
            res = [json.loads((OUT / _name(ds, norm, s) / "test.json").read_text())
                   for s in seeds if (OUT / _name(ds, norm, s) / "test.json").is_file()]
            if not res:
                continue
            acc = [100 * r["top1"] for r in res]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            lines.append(f"| {ds} | {norm} | {statistics.mean(acc):.2f} +- {sd:.2f} "
                         f"({' / '.join(f'{a:.2f}' for a in acc)}) | {len(acc)} | "
                         f"{', '.join(str(r['selected_epoch']) for r in res)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=("run", "report"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    if a.cmd == "run":
        run(a.seeds, a.jobs)
    print(report(a.seeds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
