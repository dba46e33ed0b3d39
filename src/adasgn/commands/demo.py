"""``adasgn demo CKPT VIDEO --out overlay.mp4`` (or ``--camera N``): the live overlay demo."""

from __future__ import annotations

import argparse

import torch

from ..data.video import Gate
from ..errors import UserError
from ..inference import Recognizer
from ..video import run_demo

HELP = """Run pose estimation and a trained checkpoint's streaming recogniser on a video (or a
camera) frame by frame and write the video with the skeleton drawn, the current label and
probability, the joints the model computed each frame with (the aggregated 1 / 9 / V-joint
skeleton of the branch AdaSGN chose, in that branch's colour) and the per-stage time (decode,
pose, action). Needs the optional extra 'video' (docs/video.md). --sheet also writes a PNG contact
sheet of a few frames."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="video in, overlay video out (pose + action)",
                       description=HELP)
    p.add_argument("checkpoint", help="a .pt checkpoint written by `adasgn train`")
    p.add_argument("video", nargs="?", default=None, help="a video file (or give --camera N)")
    p.add_argument("--camera", type=int, default=None, metavar="N",
                   help="read OpenCV camera N instead of a file (stop with --max-frames or Ctrl-C)")
    p.add_argument("--out", default=None, metavar="FILE.mp4", help="the overlay video to write")
    p.add_argument("--sheet", default=None, metavar="FILE.png",
                   help="also write a contact sheet of a few frames")
    p.add_argument("--sheet-frames", type=int, default=4, metavar="K")
    p.add_argument("--window", type=int, default=None, metavar="FRAMES",
                   help="stream window in frames (default: from the checkpoint's dataset)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate (default: the video's)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N")
    p.add_argument("--max-size", type=int, default=960, metavar="PX",
                   help="downscale the written frames to this longer side (default 960; 0 = off)")
    p.add_argument("--mirror", action="store_true",
                   help="the video is mirrored (Kinect v2 colour recordings)")
    p.add_argument("--backend", default=None, metavar="NAME|MODULE:CLASS")
    p.add_argument("--budget", type=float, default=None, metavar="G",
                   help="AdaSGN: GMACs per person-sequence to aim for (calibrated checkpoint)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.video is None) == (args.camera is None):
        raise UserError("give a video file or --camera N (one of them)")
    if args.out is None and args.sheet is None and args.camera is None:
        raise UserError("give --out FILE.mp4 and/or --sheet FILE.png")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        rec = Recognizer.from_checkpoint(args.checkpoint, budget=args.budget)
        res = run_demo(rec, args.camera if args.camera is not None else args.video, args.out,
                       backend=args.backend, gate=Gate(), mirror=args.mirror,
                       window=args.window, fps=args.fps, max_frames=args.max_frames,
                       max_size=args.max_size, sheet=args.sheet, sheet_frames=args.sheet_frames)
    except (ValueError, KeyError) as exc:
        raise UserError(str(exc.args[0]) if exc.args else str(exc)) from None
    print(f"demo: {res.timing_line()}")
    if res.out is not None:
        print(f"  wrote {res.out} ({res.size[0]}x{res.size[1]}, {res.frames} frames)")
    if res.sheet is not None:
        print(f"  wrote {res.sheet}")
    return 0
