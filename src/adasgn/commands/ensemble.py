"""``adasgn ensemble SCORES...``: fuse per-sample scores of several streams (3s-SGN / 3s-AdaSGN)."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ..engine.evaluate import test_checkpoint
from ..engine.metrics import classification_report
from ..errors import UserError

HELP = """Fuse the per-sample scores saved by `adasgn test` / `adasgn train` (scores_test.npz) of
several streams (joint, bone, velocity); a checkpoint (.pt) given instead is evaluated on its
test split first (as `adasgn test` does). Samples are matched by name, never by file order. Scores are
turned into probabilities (softmax) and averaged with the given weights (default: equal, the paper's
"average their classification scores"). Compute adds up over streams."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ensemble", help="fuse stream scores", description=HELP)
    p.add_argument("scores", nargs="+", help=".npz score files or .pt checkpoints (one per stream)")
    p.add_argument("--weights", type=float, nargs="+", default=None,
                   help="one weight per file (default equal)")
    p.add_argument("--fuse", choices=["prob", "logit"], default="prob",
                   help="average softmax probabilities (default) or raw logits")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def fuse_scores(paths: list[str], weights: list[float] | None = None, fuse: str = "prob") -> dict:
    if weights is not None and len(weights) != len(paths):
        raise UserError(f"{len(weights)} weights for {len(paths)} score files")
    weights = weights or [1.0] * len(paths)
    loaded = []
    for p in paths:
        if str(p).endswith(".pt"):  # a trained run: its test-split scores, through the seam
            try:
                p = test_checkpoint(p, measure_flops=False, progress=False)["scores_path"]
            except (FileNotFoundError, ValueError, KeyError) as exc:
                raise UserError(str(exc)) from None
        try:
            z = np.load(p, allow_pickle=False)
            loaded.append({k: z[k] for k in z.files})
        except (OSError, ValueError) as exc:
            raise UserError(f"{p}: not a score file ({exc})") from None
        for key in ("names", "scores", "labels"):
            if key not in loaded[-1]:
                raise UserError(f"{p}: missing array {key!r}")
    ref = loaded[0]
    order = {n: i for i, n in enumerate(ref["names"].tolist())}
    total = np.zeros_like(ref["scores"], dtype=np.float64)
    gmacs = 0.0
    for p, z, w in zip(paths, loaded, weights):
        names = z["names"].tolist()
        if set(names) != set(order):
            raise UserError(f"{p}: its samples differ from {paths[0]}'s")
        idx = np.array([order[n] for n in names])
        s = z["scores"].astype(np.float64)
        if fuse == "prob":
            s = np.exp(s - s.max(1, keepdims=True))
            s /= s.sum(1, keepdims=True)
        total[idx] += w * s
        if "gmacs" in z:
            gmacs += float(np.mean(z["gmacs"]))
    rep = classification_report(total, ref["labels"], total.shape[1])
    rep.pop("per_class")
    rep["streams"] = len(paths)
    rep["weights"] = weights
    rep["gmacs_sum"] = gmacs if gmacs else None
    return rep


def run(args: argparse.Namespace) -> int:
    rep = fuse_scores(args.scores, args.weights, args.fuse)
    if args.json:
        print(json.dumps(rep))
    else:
        print(f"{rep['streams']} streams, weights {rep['weights']}: top-1 {100 * rep['top1']:.2f}%  "
              f"top-5 {100 * rep['top5']:.2f}%  ({rep['num_samples']} samples)")
    return 0
