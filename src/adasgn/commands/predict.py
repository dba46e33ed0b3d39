"""``adasgn predict CKPT INPUT...``: classify skeleton files with a trained checkpoint."""

from __future__ import annotations

import argparse
import json
import sys

import torch

from ..data.video import Gate, is_video
from ..errors import UserError
from ..inference import Recognizer
from ..video import predict_video

HELP = """Classify skeleton sequences with a trained checkpoint. INPUT: a raw NTU RGB+D .skeleton,
an MSR Action3D aXX_sYY_eZZ_skeleton3D.txt, a SHREC'17 skeletons_world.txt, a SFINGE3D .txt
(140 values a line), a .npy of shape
(T, V, C) or (M, T, V, C), or a pyskl .pkl (with --name / --index when it holds several samples).
Files are read and normalised exactly as `adasgn prepare` does, then go through the checkpoint's
test-time pipeline. Prints, per input, the top-K classes with probabilities, the branch AdaSGN
chose for the sampled frames ("static" for SGN / single models), the realised GMACs (paper
convention, per person-sequence) and the latency (model forward; total incl. reading). Inputs
that do not fit the checkpoint (joint count, 2-D vs 3-D, layout) are reported with what was
expected and what was found; the other inputs are still predicted (exit code 2 if any failed).
A video file (.mp4, .avi, ...) goes through pose extraction first (`adasgn extract`, the optional
extra 'video'; docs/video.md), then its joints are converted to the checkpoint's layout when a
mapping exists (an error says which layouts can be reached otherwise)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify skeleton files with a checkpoint", description=HELP)
    p.add_argument("checkpoint", help="a .pt checkpoint written by `adasgn train`")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="skeleton file(s)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (a list for several inputs)")
    p.add_argument("--budget", type=float, default=None, metavar="G",
                   help="AdaSGN: mean GMACs per person-sequence to aim for (calibrated checkpoint)")
    p.add_argument("--budget-mode", default="mean", choices=("mean", "sample"),
                   help="mean: one lambda calibrated for the mean (default); sample: every "
                        "sequence finds its own lambda and costs about the budget (no calibration)")
    p.add_argument("--topk", type=int, default=5, metavar="K", help="classes to list (default 5)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--name", default=None, metavar="FRAME_DIR",
                   help="pyskl .pkl input: the sample to classify")
    p.add_argument("--index", type=int, default=None, metavar="I",
                   help="pyskl .pkl input: the sample at this position")
    p.add_argument("--layout", default=None,
                   help="declare the layout of .npy / .pkl inputs (checked against the checkpoint)")
    p.add_argument("--mirror", action="store_true",
                   help="video inputs: the video is mirrored (Kinect v2 colour recordings)")
    p.add_argument("--backend", default=None, metavar="NAME|MODULE:CLASS",
                   help="video inputs: the pose backend (default: the built-in one whose layout "
                        "maps to the checkpoint's)")
    p.set_defaults(func=run)


def recognizer_from_args(args: argparse.Namespace, device: str = "cpu") -> Recognizer:
    """The checks and the Recognizer that `predict` and `stream` share (--topk, --threads,
    --budget, --budget-mode), with user errors as one line."""
    if args.topk < 1:
        raise UserError("--topk must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return Recognizer.from_checkpoint(args.checkpoint, device=device, budget=args.budget,
                                          budget_mode=args.budget_mode)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    rec = recognizer_from_args(args, args.device)
    results, failed = [], 0
    for item in args.inputs:
        video = None
        try:
            if is_video(item):
                video = predict_video(rec, item, backend=args.backend, gate=Gate(),
                                      mirror=args.mirror, topk=args.topk)
                p = video.prediction
            else:
                p = rec.predict(item, name=args.name, index=args.index, layout=args.layout,
                                topk=args.topk)
        except (FileNotFoundError, ValueError, KeyError, IndexError, TypeError, UserError) as exc:
            failed += 1
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            results.append({"input": item, "error": msg})
            if not args.json:
                print(f"adasgn predict: error: {msg}", file=sys.stderr)
            continue
        d = p.to_dict() if video is None else video.to_dict()
        d["input"] = item
        results.append(d)
        if not args.json:
            print(p)
            if video is not None:
                print(f"  video: {video.timing_line()}")
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results))
    return 2 if failed else 0
