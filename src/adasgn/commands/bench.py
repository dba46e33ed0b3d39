"""``adasgn bench``: time SGN and AdaSGN (grouped / masked) side by side on this machine."""

from __future__ import annotations

import argparse
import json
import sys

from ..bench import format_bench, format_stream_bench, run_bench, run_stream_bench
from ..errors import UserError

HELP = """Time plain SGN, AdaSGN `grouped` (each branch only on its frames) and AdaSGN `masked`
(every branch on every frame) in one process, on the same inputs and the same per-frame decisions:
warm-up, interleaved repetitions, median and IQR of ms per sample, threads pinned, CUDA
synchronised, torch.inference_mode. Decisions: the paper's alpha=4 NTU-60 CS mix by default
(--mix to change), or with --checkpoint/--data those the trained policy makes on real test
samples (optionally at --budget G). Also reports paper-convention GMACs, executed GFLOPs per
sample, speed-up ratios, achieved GFLOP/s against a matmul peak measured in the same run, and the
machine (CPU, threads, torch, load average before/after). See docs/benchmarks.md.

--stream times live recognition instead (docs/streaming.md): per-update latency at batch 1 on
the CPU of adasgn.stream (each frame's features computed once) against the model on the whole
window at every update, same model and decisions (compared), SGN and AdaSGN, at 1 and 2 threads
(--threads to choose), and the throughput of N streams batched in one forward (--pool, default
1 16 64); --json gives one object whose `stream` entry holds per model update_ms_p50,
update_ms_p99, window_ms_p50, speedup_vs_window and `pool` (per N: streams_per_s, ms_per_update)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time SGN vs AdaSGN grouped vs masked", description=HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, nargs="+", default=None, metavar="N",
                   help="torch.set_num_threads (default: torch's current value; --stream: 1 2, "
                        "several values allowed)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None, metavar="B",
                   help="default: 1 64 (and 1024 on cuda)")
    p.add_argument("--mix", default=None,
                   help="decision mix, e.g. S-1=0.4836,B-9=0.1647,B-25=0.3514 (normalised)")
    p.add_argument("--persons", type=int, default=1, choices=(1, 2),
                   help="person slots per sample, all filled (default 1)")
    p.add_argument("--reps", type=int, default=None,
                   help="repetitions per batch size (default: ~6 s worth, 15 to 300)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--checkpoint", default=None, help="an AdaSGN checkpoint (real decisions)")
    p.add_argument("--data", default=None, help="pkl whose test split feeds --checkpoint")
    p.add_argument("--budget", type=float, default=None, metavar="G",
                   help="with --checkpoint: GMACs per person-sequence to aim for")
    p.add_argument("--budget-mode", default="mean", choices=("mean", "sample"),
                   help="mean: one lambda calibrated for the mean (default); sample: every "
                        "sequence finds its own lambda and costs about the budget (no calibration)")
    p.add_argument("--no-flops", action="store_true", help="skip the executed-FLOPs count")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stream", action="store_true",
                   help="time live recognition (adasgn.stream) vs recomputing the window")
    p.add_argument("--window", type=int, default=20, metavar="FRAMES",
                   help="--stream: window in raw frames (default 20: an update every frame)")
    p.add_argument("--stream-seconds", type=float, default=3.0, metavar="S",
                   help="--stream: seconds of updates per model and thread count (default 3)")
    p.add_argument("--stream-updates", type=int, default=3000, metavar="N",
                   help="--stream: at most N timed updates per model and thread count")
    p.add_argument("--pool", type=int, nargs="+", default=[1, 16, 64], metavar="N",
                   help="--stream: the throughput of N streams batched in one forward "
                        "(StreamPool; default 1 16 64)")
    p.add_argument("--no-pool", action="store_true", help="--stream: skip the pool throughput")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.threads is not None and min(args.threads) < 1:
        raise UserError("--threads must be at least 1")
    if args.stream:
        return _run_stream(args)
    if args.threads is not None and len(args.threads) > 1:
        raise UserError("--threads takes one value (several only with --stream)")
    threads = args.threads[0] if args.threads else None
    if args.reps is not None and args.reps < 1:
        raise UserError("--reps must be at least 1")
    if args.warmup < 0:
        raise UserError("--warmup must be >= 0")
    try:
        rep = run_bench(batch_sizes=args.batch_sizes, device=args.device, threads=threads,
                        mix=args.mix, reps=args.reps, warmup=args.warmup, persons=args.persons,
                        checkpoint=args.checkpoint, data=args.data, budget=args.budget,
                        budget_mode=args.budget_mode,
                        seed=args.seed, measure_flops=not args.no_flops)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise _user_error(exc) from None
    return _emit(rep, args.json, format_bench)


def _run_stream(args: argparse.Namespace) -> int:
    if args.device != "cpu":
        raise UserError("--stream measures batch-1 latency on the CPU (--device cpu)")
    if args.stream_updates < 1 or args.stream_seconds <= 0:
        raise UserError("--stream-updates must be >= 1 and --stream-seconds > 0")
    try:
        rep = run_stream_bench(threads=args.threads, checkpoint=args.checkpoint,
                               window=args.window, target_s=args.stream_seconds,
                               min_updates=min(30, args.stream_updates),
                               max_updates=args.stream_updates, seed=args.seed,
                               pool_sizes=None if args.no_pool else args.pool)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise _user_error(exc) from None
    return _emit(rep, args.json, format_stream_bench)


def _user_error(exc: Exception) -> UserError:
    return UserError(exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc))


def _emit(rep: dict, as_json: bool, fmt) -> int:
    if as_json:
        json.dump(rep, sys.stdout)
        print()
    else:
        print(fmt(rep))
    return 0
