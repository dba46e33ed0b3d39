"""``adasgn extract VIDEO_OR_DIR... --out FILE.pkl``: pose estimation on videos, one pyskl pkl."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import video as vid
from ..data.files import FileLabels
from ..errors import UserError
from ..skeleton import get_layout

HELP = """Run a pose estimator on videos and write their skeletons as one canonical pyskl pkl
(docs/video.md). The default backend is MediaPipe Pose (33 body joints, layout mediapipe33; --hands:
MediaPipe Hands, one hand, layout hand21), the optional extra 'video' (pip install
'adasgn[video]': Python < 3.13, numpy < 2). One person per frame: the backend tracks the most
prominent person; others are ignored. Frames without a person, or whose person fails the
visibility gate (default: both shoulders and both hips with visibility >= 0.5; MediaPipe invents a
body on partial views and empty scenes), are dropped; each sample keeps frame_inds. Videos that
cannot be decoded or have no usable frame are skipped and reported (summary and OUT.rejects.txt).
Labels: none (label 0), --labels folder (DIR/CLASS/video.mp4), or the rules of `adasgn prepare
files`: --pattern REGEX on the path relative to DIR, or --index CSV (path,label,split[,name]).
Per video and in total: decode and pose time per frame."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extract", help="video -> skeletons (pose estimation) -> pkl",
                       description=HELP)
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR",
                   help=f"video files or folders (searched recursively for "
                        f"{', '.join(vid.VIDEO_EXTENSIONS)})")
    p.add_argument("--out", required=True, metavar="FILE.pkl", help="the pyskl pkl to write")
    p.add_argument("--hands", action="store_true",
                   help="hand landmarks (MediaPipe Hands, one hand, layout hand21) instead of "
                        "the body")
    p.add_argument("--backend", default=None, metavar="NAME|MODULE:CLASS",
                   help=f"pose backend: {', '.join(vid.list_backends())} or an importable "
                        "package.module:Class of one's own (default: mediapipe)")
    p.add_argument("--mirror", action="store_true",
                   help="the videos are mirrored (Kinect v2 colour recordings such as NTU RGB+D's "
                        "_rgb.avi): flip each frame before the pose model")
    p.add_argument("--min-visibility", type=float, default=0.5, metavar="V",
                   help="visibility gate threshold (default 0.5)")
    p.add_argument("--min-run", type=int, default=8, metavar="N",
                   help="a video needs at least N consecutive usable frames somewhere, else it "
                        "has no usable person (short spurious detections; default 8, 1 = off)")
    p.add_argument("--gate-joints", default=None, metavar="J,J,...|none",
                   help="the joints that must be visible (default: l_shoulder,r_shoulder,l_hip,"
                        "r_hip for a body, none for a hand); 'none' = every detection is used")
    g = p.add_argument_group("labels and splits")
    g.add_argument("--labels", choices=("none", "folder"), default="none",
                   help="folder: the name of the video's folder is its class (DIR/CLASS/x.mp4)")
    g.add_argument("--pattern", metavar="REGEX",
                   help="as `adasgn prepare files`: groups (?P<label>) and (?P<split>) or "
                        "(?P<subject>) with --train-subjects, optional (?P<name>)")
    g.add_argument("--train-subjects", metavar="1,3,...")
    g.add_argument("--index", metavar="CSV", help="columns path,label,split[,name]")
    g.add_argument("--first-label", type=int, default=0, metavar="N")
    g.add_argument("--classes", metavar="A,B,...|FILE",
                   help="class names (their order is the label)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _classes(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    path = Path(text)
    if path.is_file():
        return tuple(ln.strip() for ln in path.read_text().splitlines() if ln.strip())
    return tuple(c.strip() for c in text.split(",") if c.strip())


def run(args: argparse.Namespace) -> int:
    backend = args.backend or ("mediapipe-hands" if args.hands else "mediapipe")
    if args.hands and args.backend and args.backend != "mediapipe-hands":
        raise UserError("--hands selects the mediapipe-hands backend; do not give --backend too")
    if args.labels == "folder" and (args.pattern or args.index):
        raise UserError("--labels folder and --pattern / --index exclude each other")
    classes = _classes(args.classes)
    labels = None
    try:
        if args.pattern or args.index:
            subjects = (frozenset(int(s) for s in args.train_subjects.split(",") if s.strip())
                        if args.train_subjects else None)
            labels = FileLabels(pattern=args.pattern, train_subjects=subjects, index=args.index,
                                first_label=args.first_label, classes=classes)
        gate_joints = None
        if args.gate_joints is not None:
            gate_joints = () if args.gate_joints.strip().lower() == "none" else tuple(
                j.strip() for j in args.gate_joints.split(",") if j.strip())
        gate = vid.Gate(gate_joints, args.min_visibility, max(1, args.min_run))
        be = vid.get_backend(backend)
        gate.describe(be.layout)  # unknown gate joints: an error now, not after decoding
        if backend.startswith("mediapipe"):
            vid.require_video_support("mediapipe")
        vid.require_video_support("opencv")
        res = vid.extract_videos(args.inputs, args.out, backend=be, gate=gate,
                                 mirror=args.mirror, labels=labels,
                                 folder_labels=args.labels == "folder", classes=classes,
                                 progress=not args.no_progress, log=print)
    except (ValueError, KeyError) as exc:
        raise UserError(str(exc.args[0]) if exc.args else str(exc)) from None
    print(res.summary())
    who = "hand" if get_layout(be.layout).name == "hand21" else "person"
    print(f"  note: {backend} tracks one {who} per frame; any other in a video is ignored")
    if res.kept == 0:
        print(f"adasgn extract: error: no video of {res.num_files} gave a usable person; see "
              f"{res.rejects_path}", file=sys.stderr)
        return 1
    print(f"  wrote {res.out} (layout {get_layout(be.layout).name})")
    return 0
