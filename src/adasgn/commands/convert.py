"""``adasgn convert IN OUT``: canonical pkl <-> memory-mapped sample store."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ..data.store import is_store, store_from_pkl, store_to_pkl
from ..errors import DataError, UserError

HELP = """Convert between the canonical pkl (the exchange format) and a memory-mapped sample store
(a directory of .npy files: one contiguous array of every frame, plus offsets, shapes, labels,
names, splits and meta; docs/data.md). A store is read by every DataLoader worker and DDP rank of
a node through the same page-cache pages, instead of each process unpickling its own copy.
`adasgn convert data.pkl data.store [--dtype float16]` makes a store; `adasgn convert
data.store data.pkl` gives the pkl back (exact for float32 stores). Writes are atomic. Training
configs take a store wherever they take a pkl (data.path=data.store)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="pkl <-> memory-mapped store", description=HELP)
    p.add_argument("input", help="a .pkl or a .store directory")
    p.add_argument("output", help="the .store directory (from a pkl) or .pkl (from a store)")
    p.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                   help="keypoint dtype of a new store (float16 halves the size; not exact)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    src = Path(args.input)
    if not src.exists():
        raise UserError(f"{src}: no such file or directory")
    t0 = time.perf_counter()
    try:
        if is_store(src):
            out = store_to_pkl(src, args.output)
        else:
            bar = tqdm(desc="convert", unit="sample", file=sys.stderr, disable=args.no_progress)

            def progress(i: int, n: int) -> None:
                bar.total = n
                bar.update(i - bar.n)

            out = store_from_pkl(src, args.output, dtype=args.dtype, progress=progress)
            bar.close()
    except DataError as exc:
        raise UserError(str(exc)) from None
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0
