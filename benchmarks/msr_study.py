"""The MSR Action3D study (issue: real data, end to end): run it, or report it.

    python benchmarks/msr_study.py run    [--seeds 1 2 3] [--alphas 0.5 1 2 8] [--out runs]
    python benchmarks/msr_study.py report [--seeds 1 2 3] [--out runs] [--doc docs/results.md]

``run`` is a thin loop over the documented CLI commands (each resumable; finished stages are
skipped), in this order so that partial results are useful early:

    adasgn prepare msr --raw ../shared/data/msr_action3d --out data/msr.pkl
    for seed:  adasgn sweep  configs/msr/adasgn.yaml name=msr-joint-s<seed> train.seed=<seed> --alphas 0.5 1 2 8
    for seed, stream in bone velocity:
               adasgn recipe configs/msr/adasgn.yaml name=msr-<stream>-s<seed> data.stream=<stream> train.seed=<seed>

With ``--jobs N`` (default 2) the commands run N at a time, each with ``train.threads=1``: on the
2-core CPU two one-thread trainings finish 1.4x more work per hour than one two-thread training
(these models are small; a single training does not keep two cores busy). Each command's output
goes to ``<out>/<name>.log``.

``report`` reads the finished runs' test.json / scores_test.npz, computes mean and standard
deviation over seeds, fuses the three streams (3s-SGN, 3s-AdaSGN) with ``adasgn ensemble``'s
function, draws the trade-off PNG (paper Fig. 3 on MSR) and prints Markdown tables (paper Table 1
and Table 3 layouts) -- with ``--doc`` it replaces the generated block of docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHOICES = ["S-1", "B-1", "S-9", "B-9", "S-20", "B-20"]
BEGIN, END = "<!-- BEGIN GENERATED: benchmarks/msr_study.py report -->", "<!-- END GENERATED -->"


def sh(*args: str, log: Path | None = None) -> None:
    print("+", " ".join(args), flush=True)
    if log is None:
        subprocess.run(args, check=True, cwd=ROOT)
        return
    t0 = time.time()
    with open(log, "a") as f:
        rc = subprocess.run(args, check=False, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    print(f"{'done' if rc == 0 else f'FAILED (exit {rc})'} in {(time.time() - t0) / 60:.1f} min: "
          f"{' '.join(args[:4])} (log {log})", flush=True)
    if rc:
        raise subprocess.CalledProcessError(rc, args)


def run(a) -> None:
    data = ROOT / "data" / "msr.pkl"
    if not data.is_file():
        sh("adasgn", "prepare", "msr", "--raw", str(a.raw), "--out", str(data), "--no-progress")
    out = Path(a.out) if Path(a.out).is_absolute() else ROOT / a.out
    out.mkdir(parents=True, exist_ok=True)
    common = [f"out_dir={a.out}", f"data.path={data}"]
    if a.jobs > 1:
        common.append("train.threads=1")
    jobs = []  # (name, argv)
    for seed in a.seeds:
        name = f"msr-joint-s{seed}"
        jobs.append((name, ["adasgn", "sweep", "configs/msr/adasgn.yaml", f"name={name}", f"train.seed={seed}",
                            *common, "--alphas", *map(str, a.alphas), "--no-progress"]))
    for seed in a.seeds:
        for stream in ("bone", "velocity"):
            name = f"msr-{stream}-s{seed}"
            jobs.append((name, ["adasgn", "recipe", "configs/msr/adasgn.yaml", f"name={name}",
                                f"data.stream={stream}", f"train.seed={seed}", *common, "--no-progress"]))
    if a.jobs <= 1:
        for _, argv in jobs:
            sh(*argv)
        return
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(sh, *argv, log=out / f"{name}.log") for name, argv in jobs]
    failed = [name for (name, _), fut in zip(jobs, futures) if fut.exception() is not None]
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see their logs in {out})")


def _load(out: Path, stream: str, seeds) -> dict:
    """stage -> list of test reports over the seeds that finished it."""
    res: dict = {}
    for seed in seeds:
        root = out / f"msr-{stream}-s{seed}"
        for p in sorted(root.glob("*/test.json")):
            r = json.loads(p.read_text())
            r["_dir"] = str(p.parent)
            res.setdefault(p.parent.name, []).append(r)
    return res


def _ms(values, digits: int = 2) -> str:
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return "--"
    return (f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1
            else f"{v.mean():.{digits}f}")


def _epochs(runs: list) -> str:
    """The epochs the validation split selected (0-based), in seed order."""
    return " / ".join(str(r.get("selected_epoch", "?")) for r in sorted(runs, key=lambda r: r.get("seed", 0)))


def _train_minutes(run_dir: str) -> float:
    """Training + validation time of one stage (sum of the epochs' time_s in metrics.jsonl)."""
    p = Path(run_dir) / "metrics.jsonl"
    if not p.is_file():
        return float("nan")
    return sum(json.loads(x).get("time_s", 0.0) for x in p.read_text().splitlines() if x.strip()) / 60


def _targets(joint: dict) -> list[str]:
    """The issue's three targets, checked on the seed means (what the tables show)."""
    if "sgn" not in joint:
        return []
    acc = {k: np.mean([100 * r["top1"] for r in v]) for k, v in joint.items()}
    g = {k: np.mean([r["gmacs"] for r in v]) for k, v in joint.items()}
    sgn_acc, sgn_g = acc["sgn"], g["sgn"]
    out = ["", "### Targets (on the means over seeds)", "",
           f"* SGN >= 80 %: **{sgn_acc:.2f} %** -- {'met' if sgn_acc >= 80 else 'NOT met'}."]
    ada = {k: v for k, v in acc.items() if k.startswith("adasgn")}
    ok = [k for k in ada if sgn_acc - ada[k] <= 1.5 and g[k] <= 0.5 * sgn_g]
    best = max(ok or ada, key=lambda k: (ada[k], -g[k])) if ada else None
    if best:
        alpha = joint[best][0].get("alpha")
        out.append(f"* an AdaSGN within 1.5 points of SGN at <= 50 % of its GMACs: alpha {alpha:g} "
                   f"**{ada[best]:.2f} %** ({ada[best] - sgn_acc:+.2f} points) at **{g[best]:.4f}** "
                   f"GMACs ({100 * g[best] / sgn_g:.1f} % of SGN's) -- "
                   f"{'met' if best in ok else 'NOT met'}; settings meeting it: "
                   + (", ".join(f"alpha {joint[k][0].get('alpha'):g}" for k in sorted(
                       ok, key=lambda k: joint[k][0].get("alpha") or 0)) or "none") + ".")
    if "rand" in acc and ada:
        beat = [k for k in ada if ada[k] > acc["rand"] and g[k] <= g["rand"]]
        out.append(f"* adaptive beats rand at similar or lower GMACs: rand **{acc['rand']:.2f} %** at "
                   f"{g['rand']:.4f} GMACs; AdaSGN settings above it at no more GMACs: "
                   + (", ".join(f"alpha {joint[k][0].get('alpha'):g} ({ada[k]:.2f} % at {g[k]:.4f})"
                                for k in sorted(beat, key=lambda k: joint[k][0].get("alpha") or 0))
                      or "none") + f" -- {'met' if beat else 'NOT met'}.")
    return out


def _times(out: Path, seeds, streams: dict) -> list[str]:
    """Training time per stage and per run (from metrics.jsonl), mean over seeds; ``streams``:
    stream -> what :func:`_load` returned for it."""
    lines = ["", "### Run time (training + validation epochs, minutes, mean over seeds)", ""]
    total = {}
    rows = []
    for stream, res in streams.items():
        for stage, runs in sorted(res.items()):
            mins = [_train_minutes(r["_dir"]) for r in runs]
            rows.append((stream, stage, float(np.nanmean(mins)), len(mins)))
        for seed in seeds:
            root = out / f"msr-{stream}-s{seed}"
            if root.is_dir():
                t = sum(_train_minutes(str(d)) for d in root.iterdir() if (d / "test.json").is_file())
                total.setdefault(stream, []).append(t)
    lines += ["| stream | stage | minutes | runs |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {m:.1f} | {n} |" for a, b, m, n in rows]
    lines += ["", "Per seed: " + "; ".join(f"{k} {_ms(v, 1)} min" for k, v in total.items())
              + f"; all runs together {sum(sum(v) for v in total.values()):.0f} min."]
    return lines


def _agg(runs: list) -> dict:
    acc = [100 * r["top1"] for r in runs]
    g = [r["gmacs"] for r in runs]
    out = {"top1": float(np.mean(acc)) / 100, "top1_std": (float(np.std(acc, ddof=1)) / 100
                                                            if len(acc) > 1 else 0.0),
           "gmacs": float(np.mean(g)), "gmacs_std": float(np.std(g, ddof=1)) if len(g) > 1 else 0.0,
           "n": len(runs)}
    if runs and runs[0].get("alpha") is not None:
        out["alpha"] = runs[0]["alpha"]
    return out


def report(a) -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from adasgn.commands.ensemble import fuse_scores
    from adasgn.engine.plots import tradeoff_plot

    out = Path(a.out)
    streams = {s: _load(out, s, a.seeds) for s in ("joint", "bone", "velocity")}
    joint = streams["joint"]
    lines = [BEGIN, ""]
    seeds_done = sorted({r["seed"] for rs in joint.values() for r in rs if "seed" in r})
    lines.append(f"Seeds finished: {seeds_done or 'none'}; mean ± standard deviation over seeds; "
                 "test split evaluated once per run with the checkpoint chosen on validation.")
    lines.append("")
    # Table 1 layout: SGN and single models
    lines += ["### SGN and single models (paper Table 1 layout), joint stream", "",
              "| model | #joints | size | top-1 % | GMACs | runs | selected epochs |",
              "|---|---|---|---|---|---|---|"]
    if "sgn" in joint:
        r = joint["sgn"]
        lines.append(f"| SGN | 20 | big | {_ms([100 * x['top1'] for x in r])} | "
                     f"{np.mean([x['gmacs'] for x in r]):.4f} | {len(r)} | {_epochs(r)} |")
    for size in ("small", "big"):
        for j in (20, 9, 1):
            key = f"single_{size}{j}"
            if key in joint:
                r = joint[key]
                lines.append(f"| SGN* | {j} | {size} | {_ms([100 * x['top1'] for x in r])} | "
                             f"{np.mean([x['gmacs'] for x in r]):.4f} | {len(r)} | {_epochs(r)} |")
    # Table 3 layout: AdaSGN per alpha + rand + fuse
    lines += ["", "### AdaSGN (paper Table 3 layout), joint stream", "",
              "| alpha | top-1 % | GMACs | " + " | ".join(CHOICES) + " | runs | selected epochs |",
              "|---|---|---|" + "---|" * len(CHOICES) + "---|---|"]
    ada = sorted(((k, v) for k, v in joint.items() if k.startswith("adasgn") or k in ("rand", "fuse")),
                 key=lambda kv: (kv[0] in ("rand", "fuse"), kv[1][0].get("alpha") or 0, kv[0]))
    for k, runs in ada:
        use = {c: np.mean([100 * (r.get("usage") or {}).get(c, 0.0) for r in runs]) for c in CHOICES}
        label = k if k in ("rand", "fuse") else f"{runs[0]['alpha']:g}"
        lines.append(f"| {label} | {_ms([100 * r['top1'] for r in runs])} | "
                     f"{_ms([r['gmacs'] for r in runs], 4)} | "
                     + " | ".join(f"{use[c]:.2f}" for c in CHOICES) + f" | {len(runs)} | {_epochs(runs)} |")
    # three streams
    lines += ["", "### One and three streams", "",
              "| model | joint | bone | velocity | 3s fused (equal weights) | GMACs 1s / 3s | seeds |",
              "|---|---|---|---|---|---|---|"]
    for model, stage in (("SGN", "sgn"), ("AdaSGN", "adasgn")):
        accs = {s: [100 * r["top1"] for r in streams[s].get(stage, [])] for s in streams}
        fused, g1, g3 = [], [], []
        for seed in a.seeds:
            paths = [out / f"msr-{s}-s{seed}" / stage / "scores_test.npz" for s in streams]
            if all(p.is_file() for p in paths):
                rep = fuse_scores([str(p) for p in paths])
                fused.append(100 * rep["top1"])
                g3.append(rep["gmacs_sum"] or 0.0)
                g1.append(float(np.load(paths[0])["gmacs"].mean()))
        lines.append(f"| {model} | {_ms(accs['joint'])} | {_ms(accs['bone'])} | "
                     f"{_ms(accs['velocity'])} | {_ms(fused)} | "
                     f"{(np.mean(g1) if g1 else float('nan')):.4f} / "
                     f"{(np.mean(g3) if g3 else float('nan')):.4f} | {len(fused)} |")
    lines += _targets(joint)
    lines += _times(out, a.seeds, streams)
    # figure
    agg = {k: _agg(v) for k, v in joint.items()}
    if agg:
        png = tradeoff_plot(agg, ROOT / "docs" / "figures" / "msr_tradeoff.png",
                            title="MSR Action3D cross-subject: accuracy vs compute (mean ± sd over seeds)")
        lines += ["", f"![trade-off]({png.relative_to(ROOT / 'docs').as_posix()})"]
    lines += ["", END]
    text = "\n".join(lines)
    if a.doc:
        doc = Path(a.doc)
        body = doc.read_text() if doc.is_file() else f"# Results\n\n{BEGIN}\n{END}\n"
        if BEGIN in body and END in body:
            body = body[: body.index(BEGIN)] + text + body[body.index(END) + len(END):]
        else:
            body += "\n" + text + "\n"
        doc.write_text(body)
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["run", "report"])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--alphas", type=float, nargs="+", default=[0.5, 1, 2, 8],
                   help="besides the recipe's own alpha (configs/msr/adasgn.yaml: 4)")
    p.add_argument("--out", default="runs")
    p.add_argument("--jobs", type=int, default=2, help="commands run at once, one torch thread each")
    p.add_argument("--raw", default=str(ROOT.parent / "shared" / "data" / "msr_action3d"))
    p.add_argument("--doc", default=None)
    a = p.parse_args()
    if a.action == "run":
        run(a)
    else:
        print(report(a))


if __name__ == "__main__":
    main()
