"""``adasgn prepare``: raw dataset files -> one pyskl annotation pickle (the canonical format)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import prepare as prep
from ..data.synthetic import prepare_synthetic
from ..errors import DataError, UserError

DATASETS = ("ntu60", "ntu120", "shrec14", "shrec28", "msr", "synthetic")

HELP = """Convert a raw dataset into one pyskl / mmaction2 annotation pickle (docs/data.md).

  ntu60 / ntu120   --raw: folder of NTU RGB+D .skeleton files (searched recursively).
                   Denoising and centring of the official pipeline; splits xsub/xview (60) or
                   xsub/xset (120). --missing: the official missing-skeleton list (optional;
                   without it, files with no body are detected and rejected).
  shrec14/shrec28  --raw: the SHREC'17 folder with train_gestures.txt, test_gestures.txt and
                   gesture_g/finger_f/subject_s/essai_e/skeletons_world.txt.
  msr              --raw: folder of MSR Action3D aXX_sYY_eZZ_skeleton3D.txt files; cross-subject
                   split (odd subjects train).
  synthetic        the built-in procedural quickstart set (--seed, --num-samples).

Files that cannot be used are skipped and listed with the reason (summary and OUT.rejects.txt);
the exit code is non-zero only when no sample survived. The output is written atomically."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="raw dataset files -> pyskl annotation pickle",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", metavar="DATASET", choices=DATASETS,
                   help=" | ".join(DATASETS))
    p.add_argument("--raw", metavar="PATH", help="raw data folder (or, for NTU, one file)")
    p.add_argument("--out", metavar="FILE", help="output .pkl (its rejects list goes beside it)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes (default: all CPU cores)")
    p.add_argument("--missing", metavar="LIST",
                   help="NTU: file of sample names to skip (official missing-skeleton list)")
    p.add_argument("--true-frames", action="store_true",
                   help="NTU: place bodies at the frames where they were seen instead of the "
                        "official parser's contiguous interval (spec 5.1 quirk)")
    p.add_argument("--seed", type=int, default=0, help="synthetic: random seed (default 0)")
    p.add_argument("--num-samples", type=int, default=None, metavar="N",
                   help="synthetic: number of sequences")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.dataset == "synthetic":
        return int(prepare_synthetic(args) or 0)

    if not args.raw:
        raise UserError(f"{args.dataset} needs --raw PATH (the raw data folder)")
    if not args.out:
        raise UserError("--out FILE is required (the output .pkl)")
    raw = Path(args.raw)
    if not raw.exists():
        raise UserError(f"--raw {raw}: no such file or directory")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be >= 1")
    if args.missing and args.dataset not in ("ntu60", "ntu120"):
        raise UserError("--missing applies to ntu60 / ntu120 only")
    progress = not args.no_progress
    try:
        if args.dataset in ("ntu60", "ntu120"):
            if raw.is_dir() and not any(raw.rglob("*.skeleton")):
                raise UserError(f"--raw {raw}: no .skeleton files found")
            res = prep.prepare_ntu(raw, args.out, args.dataset, workers=args.workers,
                                   missing=args.missing, progress=progress,
                                   true_frames=args.true_frames)
        elif args.dataset == "msr":
            if raw.is_dir() and not any(raw.rglob("*_skeleton3D.txt")):
                raise UserError(f"--raw {raw}: no aXX_sYY_eZZ_skeleton3D.txt files found")
            res = prep.prepare_msr(raw, args.out, workers=args.workers, progress=progress)
        else:
            res = prep.prepare_shrec(raw, args.out, classes=int(args.dataset[5:]),
                                     workers=args.workers, progress=progress)
    except DataError as exc:  # a problem with the inputs as a whole (index, missing list, ...)
        raise UserError(str(exc)) from None
    print(res.summary())
    if res.kept == 0:
        print(f"adasgn prepare: error: no sample of {res.num_files} survived; see {res.rejects_path}",
              file=sys.stderr)
        return 1
    return 0
