"""NTU-120-scale dry run: the pkl path against the memory-mapped store, side by side.

::

    python benchmarks/scale.py                       # 114,480 sequences (NTU-120's size)
    python benchmarks/scale.py --samples 20000       # smaller, same shape
    python benchmarks/scale.py --json out.json

1. Generates a synthetic set with NTU-120's size and shape: 114,480 sequences of 25 joints,
   lengths drawn around NTU-120's (mean about 80 frames, 20 to 300), and two persons in the
   samples of its 26 mutual classes (A050-A060, A106-A120: 21.7 % of the samples); random
   coordinates (the loader's cost does not depend on them).
2. Writes the canonical pkl (``save_pkl``) and makes the store from it (``adasgn convert``, in a
   fresh process); times both and measures their size on disk.
3. For each path and R in ``--ranks`` (default 1 2): ``torchrun --standalone --nproc_per_node R``
   runs :func:`worker` -- each rank opens the data, builds the training pipeline and a
   DataLoader with ``--workers`` workers over its DDP shards, and reads one training epoch and one
   evaluation pass (so that every page of the data is touched); the time to the first batch and
   the samples/s are reported. Meanwhile the parent samples, every 0.2 s, the proportional set size
   (PSS, ``/proc/PID/smaps_rollup``: shared pages counted once over the processes that share
   them) of every process of the torchrun tree, and keeps the peak of the sum.
4. The training pipeline alone, in one process without workers, on both paths: samples/s per
   core (the "per worker core" throughput).

Targets (issue 13): the store path's peak total PSS <= 1.3 x the store size for every R (it must
not grow with R), while the pkl path's grows about linearly with R; pipeline throughput >= 4,000
samples/s per worker core. Everything printed is measured in this run; the load average before
and after is printed with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NTU120 = 114_480
MUTUAL = set(range(50, 61)) | set(range(106, 121))  # 1-based NTU-120 action ids, 26 classes


# ---------------------------------------------------------------------------------------------
# data


def lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    """Frame counts with NTU-120's rough shape: log-normal, mean about 80, clipped to 20-300."""
    t = rng.lognormal(mean=np.log(72.0), sigma=0.45, size=n)
    return np.clip(np.round(t), 20, 300).astype(np.int64)


def generate(n: int, seed: int = 0):
    from adasgn.data.pkl import make_annotation

    rng = np.random.default_rng(seed)
    ts = lengths(n, rng)
    labels = rng.integers(0, 120, size=n)
    anns, train, test = [], [], []
    for i in range(n):
        m = 2 if int(labels[i]) + 1 in MUTUAL else 1
        kp = rng.standard_normal((m, int(ts[i]), 25, 3), dtype=np.float32)
        name = f"S{1 + i % 32:03d}C{1 + i % 3:03d}P{1 + i % 106:03d}R001A{int(labels[i]) + 1:03d}_{i}"
        anns.append(make_annotation(name, int(labels[i]), kp))
        (train if i % 2 == 0 else test).append(name)
    split = {"xsub_train": train, "xsub_val": test}
    meta = {"dataset": "ntu120", "layout": "ntu25", "synthetic_scale_benchmark": True}
    return anns, split, meta, ts


def du(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return path.stat().st_size


# ---------------------------------------------------------------------------------------------
# memory of a process tree


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return out


def tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def run_monitored(cmd: list[str], env: dict) -> tuple[int, float, int, str]:
    """(return code, seconds, peak summed PSS in bytes, stdout) of ``cmd``'s process tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    peak, procs, parts = 0, 0, []
    while proc.poll() is None:
        pids = tree(proc.pid)
        each = [pss_kb(p) * 1024 for p in pids]
        if sum(each) > peak:
            peak, procs, parts = sum(each), len(pids), sorted(each, reverse=True)
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.stderr.write(err[-4000:])
    return (proc.returncode, time.perf_counter() - t0, peak,
            out + f"\n#procs {procs}\n#parts {json.dumps(parts)}\n")


# ---------------------------------------------------------------------------------------------
# one rank (run by torchrun)


def worker(args) -> None:
    import torch

    from adasgn.data.dataset import SkeletonDataset, build_loader, default_pipeline, load_source

    torch.set_num_threads(1)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    t0 = time.perf_counter()
    data = load_source(args.data)  # opened once, shared by the two splits (as training does)
    ds = SkeletonDataset(data, "xsub_train", default_pipeline("ntu120", "joint", True), seed=1)
    t_open = time.perf_counter() - t0
    test = SkeletonDataset(data, "xsub_val", default_pipeline("ntu120", "joint", False), seed=1)
    n, first = 0, None
    t1 = time.perf_counter()
    # one training epoch and one evaluation pass over this rank's shards: every sample is read
    for part, train in ((ds, True), (test, False)):
        loader = build_loader(part, batch_size=64, train=train, num_workers=args.workers,
                              seed=1, rank=rank, world_size=world)
        for x, _, _ in loader:
            if first is None:
                first = time.perf_counter() - t0
            n += x.shape[0]
    t_epoch = time.perf_counter() - t1
    print(json.dumps({"rank": rank, "open_s": t_open, "first_batch_s": first, "samples": n,
                      "epoch_s": t_epoch, "samples_per_s": n / t_epoch}), flush=True)


def pipeline_rate(path: str, count: int = 3000) -> float:
    """Samples/s of the training pipeline in this process (no workers): per core."""
    from adasgn.data.dataset import SkeletonDataset, default_pipeline

    ds = SkeletonDataset(path, "xsub_train", default_pipeline("ntu120", "joint", True), seed=1)
    idx = np.random.default_rng(0).permutation(len(ds))[:count]
    for i in idx[:100]:
        ds[(int(i), 0)]
    t0 = time.process_time()
    for i in idx:
        ds[(int(i), 0)]
    return len(idx) / (time.process_time() - t0)


# ---------------------------------------------------------------------------------------------
# driver


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    w.add_argument("--data", required=True)
    w.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=int, default=NTU120)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="runs/scale")
    ap.add_argument("--keep", action="store_true", help="keep the generated pkl and store")
    ap.add_argument("--paths", nargs="+", default=["pkl", "store"], choices=["pkl", "store"],
                    help="which paths to run (default both)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the pkl and store a --keep run left in --out")
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args(argv)
    if a.cmd == "worker":
        worker(a)
        return 0

    from adasgn.data.pkl import save_pkl

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    pkl, store = out / "scale.pkl", out / "scale.store"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "src"))
    if a.reuse and pkl.is_file() and store.is_dir():
        ts = lengths(a.samples, np.random.default_rng(0))
        t_gen = t_pkl = t_store = float("nan")
        two = float("nan")
    else:
        print(f"generating {a.samples} sequences ...", file=sys.stderr)
        t0 = time.perf_counter()
        anns, split, meta, ts = generate(a.samples)
        t_gen = time.perf_counter() - t0
        two = sum(1 for x in anns if x["keypoint"].shape[0] == 2) / len(anns)
        t0 = time.perf_counter()
        save_pkl(pkl, anns, split, meta, validate=False)
        t_pkl = time.perf_counter() - t0
        del anns
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "adasgn", "convert", str(pkl), str(store),
                        "--no-progress"], check=True, env=env, stdout=subprocess.DEVNULL)
        t_store = time.perf_counter() - t0
    sizes = {"pkl": du(pkl), "store": du(store)}
    res = {"samples": a.samples, "frames_mean": float(ts.mean()), "frames_max": int(ts.max()),
           "two_person_share": two, "generate_s": t_gen,
           "write_s": {"pkl": t_pkl, "store": t_store}, "bytes": sizes, "runs": [],
           "pipeline_samples_per_s_per_core": {}}
    for kind, path in (("pkl", pkl), ("store", store)):
        if kind not in a.paths:
            continue
        res["pipeline_samples_per_s_per_core"][kind] = pipeline_rate(str(path))
        for r in a.ranks:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={r}", str(Path(__file__).resolve()), "worker",
                   "--data", str(path), "--workers", str(a.workers)]
            rc, secs, peak, text = run_monitored(cmd, env)
            ranks = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
            procs = int(text.split("#procs", 1)[1].split()[0])
            parts = json.loads(text.split("#parts", 1)[1].strip())
            res["runs"].append({
                "path": kind, "ranks": r, "workers": a.workers, "rc": rc, "seconds": secs,
                "peak_pss_bytes": peak, "processes": procs, "peak_pss_per_process": parts,
                "peak_pss_over_data": peak / sizes[kind],
                "first_batch_s": max(x["first_batch_s"] for x in ranks) if ranks else None,
                "open_s": max(x["open_s"] for x in ranks) if ranks else None,
                "epoch_samples_per_s": sum(x["samples_per_s"] for x in ranks) if ranks else None,
            })
            print(f"{kind} R={r}: peak PSS {peak / 1e9:.2f} GB ({peak / sizes[kind]:.2f}x data), "
                  f"first batch {res['runs'][-1]['first_batch_s']:.1f} s", file=sys.stderr)
    res["loadavg"] = {"before": [round(x, 2) for x in load0],
                      "after": [round(x, 2) for x in os.getloadavg()]}
    res["cpus"] = os.cpu_count()
    print(format_table(res))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    if not a.keep:
        shutil.rmtree(store, ignore_errors=True)
        pkl.unlink(missing_ok=True)
    return 0


def format_table(res: dict) -> str:
    gb = 1e9
    lines = [
        f"{res['samples']} sequences, mean {res['frames_mean']:.1f} frames (max "
        f"{res['frames_max']}), {100 * res['two_person_share']:.1f} % two-person; load average "
        f"before {res['loadavg']['before']}, after {res['loadavg']['after']}, {res['cpus']} CPUs",
        f"{'path':<6} {'write s':>8} {'size GB':>8} {'pipeline/s/core':>16}",
    ]
    for k in ("pkl", "store"):
        rate = res["pipeline_samples_per_s_per_core"].get(k, float("nan"))
        lines.append(f"{k:<6} {res['write_s'][k]:>8.1f} {res['bytes'][k] / gb:>8.2f} "
                     f"{rate:>16.0f}")
    lines.append(f"{'path':<6} {'R':>2} {'procs':>5} {'peak PSS GB':>12} {'x data':>7} "
                 f"{'open s':>7} {'1st batch s':>11} {'epoch samples/s':>16}")
    for r in res["runs"]:
        lines.append(f"{r['path']:<6} {r['ranks']:>2} {r['processes']:>5} "
                     f"{r['peak_pss_bytes'] / gb:>12.2f} {r['peak_pss_over_data']:>7.2f} "
                     f"{r['open_s']:>7.1f} {r['first_batch_s']:>11.1f} "
                     f"{r['epoch_samples_per_s']:>16.0f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main())
