"""``adasgn stream CKPT SOURCE``: live recognition on a long sequence or on frames from stdin."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..data.inputs import read_input
from ..errors import UserError
from ..inference import Recognizer
from .predict import recognizer_from_args
from ..stream import EventDetector, FrameError, StreamEvent, parse_frame_line

# class names a stream's events skip by default (a background class of the checkpoint)
BACKGROUND_NAMES = ("no gesture", "background", "no action", "none")

HELP = """Run a trained checkpoint on a stream of skeleton frames and print one line per update
(label, probability, latency). SOURCE: a long sequence file (any input `adasgn predict` reads: NTU
.skeleton, MSR, SHREC'17 skeletons_world.txt, SFINGE3D .txt, pyskl .pkl with --name/--index; a
.npy is read time-major, (T, V, C) or (T, M, V, C)); several files are played back to back as one
stream (e.g. segmented MSR Action3D sequences: the file boundaries are the true cut points, listed
on stderr; with --json each update names the file of its newest frame); or `-` for JSON lines on
stdin, one frame per line: a nested list (V, C) or (M, V, C), or an object {"frame": [...],
"timestamp": seconds}. The window
(--window frames or --seconds, default from the checkpoint's dataset) is sampled to the model's
20 frames at a fixed stride; every frame's features are computed once (docs/streaming.md). Bad
frames (wrong joint count, NaN, no person, unparsable lines) are reported on stderr and skipped;
the stream goes on. --realtime paces a file's frames at --fps. --events prints the action events
instead (start / end lines with the label, from the EventDetector: --event-start, --event-end,
--min-duration; a checkpoint's "no gesture" class begins no event, --ignore names others)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stream", help="live recognition on a frame stream", description=HELP)
    p.add_argument("checkpoint", help="a .pt checkpoint written by `adasgn train`")
    p.add_argument("source", nargs="+",
                   help="a sequence file (several: played back to back), or - for JSON lines on stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per update")
    p.add_argument("--window", type=int, default=None, metavar="FRAMES",
                   help="window in raw frames (default: from the checkpoint's dataset)")
    p.add_argument("--seconds", type=float, default=None, metavar="S",
                   help="window in seconds (x --fps) instead of --window")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate: timestamps, --seconds, --realtime (default: the dataset's)")
    p.add_argument("--realtime", action="store_true",
                   help="feed a file's frames at --fps (as a sensor would) instead of at once")
    p.add_argument("--normalize", default=None, choices=("frame", "origin"),
                   help="override the checkpoint's normalisation (default: its data.normalize; "
                        "origin for checkpoints trained without one)")
    p.add_argument("--topk", type=int, default=5, metavar="K")
    p.add_argument("--budget", type=float, default=None, metavar="G",
                   help="AdaSGN: GMACs per person-sequence to aim for (calibrated checkpoint)")
    p.add_argument("--budget-mode", default="mean", choices=("mean", "sample"))
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--name", default=None, metavar="FRAME_DIR", help="pyskl .pkl: the sample")
    p.add_argument("--index", type=int, default=None, metavar="I", help="pyskl .pkl: position")
    g = p.add_argument_group("events (--events: start / end lines instead of one line per update)")
    g.add_argument("--events", action="store_true",
                   help="print action events (start, end, label) from the EventDetector")
    g.add_argument("--event-start", type=float, default=0.6, metavar="P",
                   help="an event begins when a class is the top class with probability >= P")
    g.add_argument("--event-end", type=float, default=0.4, metavar="P",
                   help="it ends at the first update where its probability is below P (<= start)")
    g.add_argument("--min-duration", type=float, default=0.0, metavar="S",
                   help="report an event once it has lasted S seconds (shorter ones dropped)")
    g.add_argument("--ignore", default=None, metavar="NAME[,NAME]",
                   help="classes (names or indices) that begin no event; default: a class named "
                        "'no gesture' / 'background' if the checkpoint has one")
    p.set_defaults(func=run)


def _ignored(spec: str | None, names: list[str]) -> tuple[int, ...]:
    if spec is None:
        return tuple(i for i, n in enumerate(names) if n.strip().lower() in BACKGROUND_NAMES)
    out = []
    for tok in (t.strip() for t in spec.split(",")):
        if not tok:
            continue
        if tok.isdigit() and int(tok) < len(names):
            out.append(int(tok))
        elif tok in names:
            out.append(names.index(tok))
        else:
            raise UserError(f"--ignore {tok!r}: not a class of the checkpoint (names or indices "
                            f"0..{len(names) - 1})")
    return tuple(out)


def _event_line(ev: StreamEvent, n: int, what: str, as_json: bool) -> str:
    if as_json:
        return json.dumps({"event": ev.kind, **ev.to_dict(), "source_" + what: n})
    if ev.kind == "start":
        return f"{what} {n}: start t={ev.start:.2f}s {ev.name} (peak {100 * ev.peak:.1f}%)"
    end = f"{ev.end:.2f}s" if ev.end is not None else "end of stream"
    return (f"{what} {n}: end   t={ev.start:.2f}s-{end} {ev.name} "
            f"(peak {100 * ev.peak:.1f}%)")


def _file_frames(rec: Recognizer, source: str, name: str | None,
                 index: int | None) -> np.ndarray:
    """A file's frames, time first: (T, M, V, C) or (T, V, C), checked against the checkpoint
    once (joints, coordinates, layout) so that a wrong file fails with one message."""
    path = Path(source)
    if path.suffix.lower() == ".npy" and path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError:  # an object array (the NTU txt2npy dict): read like predict does
            arr = None
        if arr is not None:
            if arr.ndim not in (3, 4) or not np.issubdtype(arr.dtype, np.number):
                raise UserError(f"{path}: a stream .npy must be a numeric (T, V, C) or "
                                f"(T, M, V, C) array, got {arr.dtype} {tuple(arr.shape)}")
            v, c = arr.shape[-2:]
            if (v, c) != (rec.layout.num_joints, rec.in_channels):
                raise UserError(f"checkpoint expects {rec.expects}; {path.name} has {v} joints x "
                                f"{c} coordinates (shape {tuple(arr.shape)} read as "
                                f"{'(T, V, C)' if arr.ndim == 3 else '(T, M, V, C)'})")
            return arr
    inp = read_input(source, name=name, index=index)
    rec.check(inp)
    return np.ascontiguousarray(inp.keypoint.transpose(1, 0, 2, 3))  # (T, M, V, C)


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    """Files of (T, V, C) or (T, M, V, C) frames -> one (T, M, V, C) stream (person slots padded
    with zeros to the most any file has)."""
    parts = [p[:, None] if p.ndim == 3 else p for p in parts]
    m = max(p.shape[1] for p in parts)
    return np.concatenate([np.pad(p, ((0, 0), (0, m - p.shape[1]), (0, 0), (0, 0))) for p in parts])


def _frames(args: argparse.Namespace, rec: Recognizer, fps: float,
            starts: list[tuple[int, str]]) -> Iterator[tuple[int, object, float | None]]:
    """(line / frame number, frame or an exception to report, timestamp); ``starts`` gets each
    file's first frame number and name."""
    if args.source == "-":
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                frame, ts = parse_frame_line(line)
            except FrameError as exc:
                yield n, exc, None
                continue
            yield n, frame, ts
        return
    parts = [_file_frames(rec, src, args.name, args.index) for src in args.source]
    n = 0
    for src, part in zip(args.source, parts):
        starts.append((n, Path(src).name))
        n += len(part)
    frames = parts[0] if len(parts) == 1 else _concat(parts)
    if len(parts) > 1:
        print("adasgn stream: " + f"{len(parts)} files back to back, first frames: "
              + ", ".join(f"{name} {i}" for i, name in starts), file=sys.stderr)
    start = time.perf_counter()
    for i in range(len(frames)):
        if args.realtime:
            wait = start + i / fps - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        yield i, frames[i], None


def run(args: argparse.Namespace) -> int:
    if "-" in args.source:
        if len(args.source) > 1:
            raise UserError("`-` (frames on stdin) cannot be combined with files")
        args.source = "-"
    rec = recognizer_from_args(args)
    try:
        topk = args.topk
        if args.events:  # the detector follows the open event's class: every class's probability
            topk = max(topk, len(rec.class_names))
        live = rec.stream(args.window, seconds=args.seconds, fps=args.fps,
                          normalize=args.normalize, topk=topk)
        detector = None
        if args.events:
            detector = EventDetector(args.event_start, args.event_end, args.min_duration,
                                     ignore=_ignored(args.ignore, list(rec.class_names)))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise UserError(str(exc)) from None
    what = "line" if args.source == "-" else "frame"
    last_t = None
    latencies = []
    starts: list[tuple[int, str]] = []  # (first frame, file name) of each file
    try:
        for n, frame, ts in _frames(args, rec, live.fps, starts):
            if isinstance(frame, Exception):
                print(f"adasgn stream: {what} {n} skipped: {frame}", file=sys.stderr)
                live.skipped += 1
                continue
            try:
                up = live.push(frame, ts)
            except FrameError as exc:
                print(f"adasgn stream: {what} {n} skipped: {exc}", file=sys.stderr)
                continue
            if up is None:
                continue
            latencies.append(up.latency_ms)
            if detector is not None:
                last_t = up.timestamp
                for ev in detector.update(up):
                    print(_event_line(ev, n, what, args.json), flush=True)
                continue
            if args.json:
                extra = {"source_" + what: n}
                if len(starts) > 1:
                    extra["source_file"] = next(name for i, name in reversed(starts) if i <= n)
                print(json.dumps({**up.to_dict(), **extra}), flush=True)
            else:
                print(f"{what} {n}: {up}", flush=True)
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (FileNotFoundError, ValueError, KeyError, IndexError, TypeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise UserError(msg) from None
    if detector is not None:
        for ev in detector.close(last_t):
            print(_event_line(ev, live.frames - 1, what, args.json), flush=True)
    lat = sorted(latencies)
    summary = (f"adasgn stream: {live.frames} frames, {live.updates} updates, {live.skipped} "
               f"skipped; window {live.window} frames (stride {live.stride}), normalisation "
               f"{live.normalize}")
    if lat:
        summary += (f"; update latency median {lat[len(lat) // 2]:.2f} ms, max "
                    f"{lat[-1]:.2f} ms")
    elif live.frames:
        summary += f"; no update: a window needs {live.span} frames"
    print(summary, file=sys.stderr)
    return 0
