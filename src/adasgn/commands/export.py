"""``adasgn export CKPT out.onnx``: export a checkpoint to ONNX (optional extra ``export``)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ..engine.run import load_run
from ..errors import UserError
from ..export import export_checkpoint, load_onnx

HELP = """Export a trained checkpoint to one ONNX file (dynamic batch; input x of shape
(N, C, T, V, M)). SGN / single: output logits. AdaSGN: extra input choice_bias (A,) added to the
policy logits before the argmax (zeros = the trained policy), outputs logits and decisions
(N, M, T); each branch runs inside the graph only on the frames that chose it, so the savings
survive export. Run it with adasgn.export.load_onnx(path).run(x) (onnxruntime), which also
reports the realised GMACs. With --check, the exported graph is compared with PyTorch on random
inputs (max abs logits difference). Needs: pip install "adasgn[export]" (onnx, onnxruntime).
Design: docs/export.md."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX", description=HELP)
    p.add_argument("checkpoint", help="a .pt checkpoint written by `adasgn train`")
    p.add_argument("out", help="the .onnx file to write")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--check", action="store_true",
                   help="verify parity with PyTorch under onnxruntime (needs onnxruntime)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        rep = export_checkpoint(args.checkpoint, args.out, opset=args.opset)
        if args.check:
            rep["max_abs_diff"] = check_parity(args.checkpoint, args.out)
    except ImportError as exc:
        raise UserError(str(exc)) from None
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(rep))
        return 0
    line = (f"exported {rep['model']} {rep['checkpoint']} -> {rep['onnx']} "
            f"({rep['bytes'] / 1e6:.1f} MB, opset {rep['opset']}, input x "
            f"{tuple(rep['input'])})")
    if "max_abs_diff" in rep:
        line += f"; onnxruntime vs PyTorch max abs logits diff {rep['max_abs_diff']:.2e}"
    print(line)
    return 0


def check_parity(checkpoint: str, onnx_path: str, batch: int = 8, seed: int = 0) -> float:
    """Max abs logits difference, PyTorch vs onnxruntime, on random inputs with empty slots."""
    model = load_run(checkpoint).model
    runner = load_onnx(onnx_path)
    shape = runner.session.get_inputs()[0].shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *[int(s) for s in shape[1:]], generator=g)
    if x.shape[-1] > 1:
        x[::2, ..., 1:] = 0  # every other sample with empty person slots
    with torch.no_grad():
        ref, _ = model(x)
    got = runner.run(x.numpy())[0]
    return float(np.abs(got - ref.numpy()).max())
