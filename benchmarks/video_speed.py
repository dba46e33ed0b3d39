"""Per-stage speed from video to action: decode, pose (MediaPipe Pose), action (AdaSGN).

    python benchmarks/video_speed.py [--clips NAME ...] [--checkpoint CKPT] [--threads 1]

Runs in the video environment (the optional extra 'video'; docs/video.md). For every shared clip
in ../shared/data/video (or $ADASGN_SHARED_DATA/video): frames decoded with OpenCV, the pose
backend on every frame, then the action stage two ways on the frames that passed the gate --
the streaming recogniser (``Recognizer.stream``: one ``push`` per frame, what ``adasgn demo``
does) and one offline prediction of the whole clip (``Recognizer.predict``, what ``adasgn predict``
does) spread over its frames. Prints ms per frame and frames per second per stage, and the action
stage's share of the pose stage (the target: under 5 %). Without --checkpoint an untrained AdaSGN
NTU-60 checkpoint is built in a temporary folder (the cost does not depend on the weights, only
on the branches the policy picks). The load average is printed: quote figures from a quiet
machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from adasgn.data import video as vid
from adasgn.data.presets import get_preset
from adasgn.engine.config import load_config
from adasgn.engine.run import build_model
from adasgn.inference import Recognizer
from adasgn.skeleton import get_layout
from adasgn.skeleton.convert import conversion
from adasgn.stream import FrameError
from adasgn.video import poses_to_keypoint

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("S001C001P001R001A001_rgb.avi", "demo_skeleton.mp4", "demo.mp4",
         "test_video_structuralize.mp4", "part_0.mp4", "test.avi")


def untrained_checkpoint(path: Path) -> Path:
    cfg = load_config(ROOT / "configs" / "base.yaml", ["model.name=adasgn", "data.dataset=ntu60"])
    preset = get_preset("ntu60")
    net = build_model(cfg, get_layout(preset.layout), preset.num_classes, preset.in_channels)
    torch.save({"format": "adasgn-checkpoint-1", "model": net.state_dict(),
                "config": cfg.to_dict(), "epoch": 0,
                "meta": {"dataset": "ntu60", "layout": preset.layout, "model": "adasgn",
                         "class_names": [f"class{i}" for i in range(preset.num_classes)]}}, path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", default=list(CLIPS))
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the action stage")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base = Path(os.environ.get("ADASGN_SHARED_DATA", ROOT.parent / "shared" / "data")) / "video"
    tmp = tempfile.TemporaryDirectory()
    ckpt = args.checkpoint or untrained_checkpoint(Path(tmp.name) / "ada.pt")
    rec = Recognizer.from_checkpoint(ckpt)
    conv = conversion("mediapipe33", rec.layout.name)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; torch "
          f"{torch.__version__}, {args.threads} torch thread(s); checkpoint: {rec.kind} "
          f"{rec.layout.name}")
    print(f"{'clip':32s} {'frames':>6s} {'usable':>6s} {'decode ms':>9s} {'pose ms':>8s} "
          f"{'pose fps':>8s} {'stream ms':>9s} {'offline ms':>10s} {'action/pose':>11s}")
    totals = {"frames": 0, "decode": 0.0, "pose": 0.0, "stream": 0.0, "stream_frames": 0}
    for name in args.clips:
        path = base / name
        if not path.is_file():
            print(f"{name}: not found under {base}", file=sys.stderr)
            continue
        poses = vid.extract_video(path, "mediapipe", mirror=name.endswith("_rgb.avi"))
        n = poses.frames
        dec, pose = poses.timing["decode_s"] / n, poses.timing["pose_s"] / n
        stream_ms = offline_ms = float("nan")
        if poses.usable:
            frames = conv.apply(poses.keypoint()[0])
            live = rec.stream(fps=poses.fps)
            t0 = time.perf_counter()
            for f in frames:
                try:
                    live.push(f)
                except FrameError:
                    pass
            stream_ms = 1e3 * (time.perf_counter() - t0) / len(frames)
            kp = poses_to_keypoint(poses, rec.layout, rec.in_channels)
            t0 = time.perf_counter()
            rec.predict(kp, layout=rec.layout.name)
            offline_ms = 1e3 * (time.perf_counter() - t0) / len(frames)
            totals["stream"] += stream_ms * len(frames)
            totals["stream_frames"] += len(frames)
        totals["frames"] += n
        totals["decode"] += dec * n
        totals["pose"] += pose * n
        share = f"{100 * stream_ms / (1e3 * pose):.2f} %" if poses.usable else "-"
        print(f"{name:32s} {n:6d} {poses.usable:6d} {1e3 * dec:9.2f} {1e3 * pose:8.2f} "
              f"{1 / pose:8.1f} {stream_ms:9.3f} {offline_ms:10.3f} {share:>11s}")
    if totals["frames"]:
        pose_ms = 1e3 * totals["pose"] / totals["frames"]
        stream_ms = totals["stream"] / max(totals["stream_frames"], 1)
        print(f"{'all':32s} {totals['frames']:6d} {'':6s} "
              f"{1e3 * totals['decode'] / totals['frames']:9.2f} {pose_ms:8.2f} "
              f"{1e3 / pose_ms:8.1f} {stream_ms:9.3f} {'':10s} {100 * stream_ms / pose_ms:9.2f} %")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
