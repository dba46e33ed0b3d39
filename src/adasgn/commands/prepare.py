"""``adasgn prepare``: raw dataset files -> one pyskl annotation pickle (the canonical format)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import files as fil
from ..data import prepare as prep
from ..data.synthetic import prepare_synthetic
from ..errors import DataError, UserError
from ..skeleton import get_layout

DATASETS = ("ntu60", "ntu120", "shrec14", "shrec28", "msr", "fpha", "utd_mhad", "penn", "sfinge3d",
            "files", "synthetic")

HELP = """Convert a raw dataset into one pyskl / mmaction2 annotation pickle (docs/data.md).

  ntu60 / ntu120   --raw: folder of NTU RGB+D .skeleton files (searched recursively).
                   Denoising and centring of the official pipeline; splits xsub/xview (60) or
                   xsub/xset (120). --missing: the official missing-skeleton list (optional;
                   without it, files with no body are detected and rejected).
  shrec14/shrec28  --raw: the SHREC'17 folder with train_gestures.txt, test_gestures.txt and
                   gesture_g/finger_f/subject_s/essai_e/skeletons_world.txt.
  msr              --raw: folder of MSR Action3D aXX_sYY_eZZ_skeleton3D.txt files; cross-subject
                   split (odd subjects train).
  fpha             --raw: the F-PHAB folder (Subject_S/<action>/<n>/skeleton.txt and the official
                   data_split_action_recognition.txt): 21 hand joints, mm -> metres, 1:1 split.
  utd_mhad         --raw: folder of UTD-MHAD aA_sS_tT_skeleton.mat files (needs scipy: extra
                   "mat"); cross-subject split (odd subjects train).
  penn             --raw: folder of Penn Action NNNN.mat label files (needs scipy); 13 2-D joints,
                   official train/test flag. --visibility drop | zero | channel (default drop).
  sfinge3d         --raw: the SFINGE3D folder (or its Dictionary/): the 468 segmented gestures
                   Dictionary/1..13/N.txt, Leap Motion 20 joints (layout leap20), origin = the
                   palm of the first frame; splits all (every gesture: the benchmark trains on
                   the dictionary, tests on Sequences/) and xfile_train / xfile_val (12 of the
                   36 files per class test, seeded). Long sequences: benchmarks/sfinge_online.py.
  files            --raw: a folder of your own sequence files (.npy .npz .mat .json .csv .txt),
                   one sequence per file: --layout, --axes, labels and splits from --pattern
                   (+ --train-subjects) or --index CSV (path,label,split[,name]). See
                   docs/data.md "Your own dataset".
  synthetic        the built-in procedural quickstart set (--seed, --num-samples).

Files that cannot be used are skipped and listed with the reason (summary and OUT.rejects.txt);
the exit code is non-zero only when no sample survived. The output is written atomically."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="raw dataset files -> pyskl annotation pickle",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", metavar="DATASET", choices=DATASETS,
                   help=" | ".join(DATASETS))
    p.add_argument("--raw", metavar="PATH", help="raw data folder (or, for NTU, one file)")
    p.add_argument("--out", metavar="FILE",
                   help="output .pkl, or a directory NAME.store for a memory-mapped store "
                        "(docs/data.md); its rejects list goes beside it")
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
    p.add_argument("--visibility", choices=prep.PENN_VISIBILITY, default="drop",
                   help="penn: drop (C=2, every annotated joint kept; default), zero (C=2, "
                        "invisible joints set to 0) or channel (C=3: x, y, visibility)")
    g = p.add_argument_group("files: reading (one sequence per file)")
    g.add_argument("--layout", metavar="NAME|YAML", help="built-in layout name or a layout YAML")
    g.add_argument("--axes", metavar="AXES", default="T,V,C",
                   help="axis order of each array, e.g. T,V,C (default), V,C,T, M,T,V,C; tables: "
                        "rows are T, the rest is flattened in the columns")
    g.add_argument("--key", metavar="K[,K2...]",
                   help=".npz / .mat / .json variable; several are stacked as the C axis")
    g.add_argument("--mask-key", metavar="K", help="variable without C: joints where it is 0 become 0")
    g.add_argument("--columns", metavar="A:B", help="tables: the column range to use, e.g. 1: "
                                                    "(drop a frame-index column)")
    g.add_argument("--channels", type=int, metavar="C", help="tables with an M axis: channels per joint")
    g.add_argument("--ext", metavar="EXT[,EXT]", help="only files with these extensions (e.g. mat)")
    g = p.add_argument_group("files: labels and splits")
    g.add_argument("--pattern", metavar="REGEX",
                   help="searched in each path relative to --raw: groups (?P<label>), "
                        "(?P<subject>) or (?P<split>), optional (?P<name>)")
    g.add_argument("--train-subjects", metavar="1,3,...",
                   help="subjects of the training split (xsub_train; the others: xsub_val)")
    g.add_argument("--index", metavar="CSV", help="index with columns path,label,split[,name]")
    g.add_argument("--first-label", type=int, default=0, metavar="N",
                   help="integer labels start at N (e.g. 1 for a01 ... a27); default 0")
    g.add_argument("--classes", metavar="A,B,...|FILE",
                   help="class names (comma list or a file, one a line): their order is the label")
    g.add_argument("--name", metavar="NAME", default="custom", help="dataset name in meta")
    g = p.add_argument_group("files: normalisation (the built-in sets use the same step)")
    g.add_argument("--scale", type=float, default=1.0, metavar="F",
                   help="multiply coordinates (0.001: millimetres -> metres)")
    g.add_argument("--flip-y", action="store_true", help="negate y (image coordinates -> y up)")
    g.add_argument("--centre", metavar="J[+J]", help="origin: the mean of these joints at the first frame")
    g.add_argument("--unit-length", metavar="A[+A]:B[+B]",
                   help="divide by the distance between two joint groups at the first frame")
    g.add_argument("--drop-zero-frames", action="store_true", help="drop frames where every joint is 0")
    g.add_argument("--coords", type=int, metavar="N",
                   help="the first N channels are coordinates (others, e.g. visibility, are "
                        "left as they are)")
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
    if args.dataset == "files":
        return _run_files(args, raw, progress)
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
        elif args.dataset == "fpha":
            if not any(raw.rglob("skeleton.txt")):
                raise UserError(f"--raw {raw}: no Subject_S/<action>/<n>/skeleton.txt files found")
            res = prep.prepare_fpha(raw, args.out, workers=args.workers, progress=progress)
        elif args.dataset == "utd_mhad":
            if raw.is_dir() and not any(raw.rglob("*_skeleton.mat")):
                raise UserError(f"--raw {raw}: no aA_sS_tT_skeleton.mat files found")
            res = prep.prepare_utd(raw, args.out, workers=args.workers, progress=progress)
        elif args.dataset == "sfinge3d":
            if not any(raw.glob("*/*.txt")) and not any(raw.glob("Dictionary/*/*.txt")):
                raise UserError(f"--raw {raw}: no Dictionary/<class>/<n>.txt files found")
            res = prep.prepare_sfinge3d(raw, args.out, workers=args.workers, progress=progress)
        elif args.dataset == "penn":
            if raw.is_dir() and not any(raw.rglob("*.mat")):
                raise UserError(f"--raw {raw}: no .mat files found")
            res = prep.prepare_penn(raw, args.out, workers=args.workers, progress=progress,
                                    visibility=args.visibility)
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


def _joints(text: str) -> tuple:
    return tuple(int(j) if j.strip().isdigit() else j.strip() for j in text.split("+") if j.strip())


def _run_files(args: argparse.Namespace, raw: Path, progress: bool) -> int:
    """``prepare files``: the generic import of a folder of sequence files."""
    if not raw.is_dir():
        raise UserError(f"--raw {raw}: expected a folder of sequence files")
    if not args.layout:
        raise UserError("files needs --layout NAME|YAML (a built-in layout or a layout file)")
    try:
        get_layout(args.layout)  # a known name, or a valid YAML file (registered)
        layout = args.layout
    except (KeyError, ValueError) as exc:
        raise UserError(f"--layout {args.layout}: {exc.args[0] if exc.args else exc}") from None
    try:
        axes = fil.parse_axes(args.axes)
        columns = None
        if args.columns:
            a, sep, b = args.columns.partition(":")
            if not sep:
                raise ValueError(f"--columns {args.columns!r}: expected A:B (e.g. 1:)")
            columns = (int(a) if a.strip() else None, int(b) if b.strip() else None)
        fmt = fil.FileFormat(axes=axes, keys=tuple(k for k in (args.key or "").split(",") if k),
                             mask_key=args.mask_key, columns=columns, channels=args.channels)
        classes = None
        if args.classes:
            cpath = Path(args.classes)
            classes = tuple(ln.strip() for ln in cpath.read_text().splitlines() if ln.strip()) \
                if cpath.is_file() else tuple(c.strip() for c in args.classes.split(","))
        subjects = None
        if args.train_subjects:
            subjects = frozenset(int(s) for s in args.train_subjects.split(",") if s.strip())
        labels = fil.FileLabels(pattern=args.pattern, train_subjects=subjects, index=args.index,
                                first_label=args.first_label, classes=classes)
        unit = ()
        if args.unit_length:
            a, sep, b = args.unit_length.partition(":")
            if not sep:
                raise ValueError(f"--unit-length {args.unit_length!r}: expected A:B (joint "
                                 "groups, e.g. l_shoulder+r_shoulder:l_hip+r_hip)")
            unit = (_joints(a), _joints(b))
        norm = prep.Normalise(scale=args.scale, flip_y=args.flip_y,
                              centre=_joints(args.centre) if args.centre else (),
                              unit_length=unit, drop_zero_frames=args.drop_zero_frames,
                              coords=args.coords)
        exts = tuple("." + e.strip().lstrip(".") for e in args.ext.split(",")) if args.ext \
            else fil.EXTENSIONS
        res = fil.prepare_files(raw, args.out, layout=layout, fmt=fmt, labels=labels, norm=norm,
                                extensions=exts, dataset=args.name, workers=args.workers,
                                progress=progress)
    except (ValueError, KeyError) as exc:  # DataError (a ValueError) included: the inputs as a whole
        raise UserError(str(exc.args[0]) if exc.args else str(exc)) from None
    print(res.summary())
    if res.unlisted:
        print(f"  note: {res.unlisted} files under --raw are not in --index (ignored)")
    if res.kept == 0:
        print(f"adasgn prepare: error: no sample of {res.num_files} survived; see {res.rejects_path}",
              file=sys.stderr)
        return 1
    return 0
