"""``adasgn complexity``: parameters and compute of a model, in both conventions."""

from __future__ import annotations

import argparse
import json

from ..data.presets import get_preset
from ..errors import UserError
from ..models import create_model
from ..models.adasgn import adasgn_complexity
from ..models.flops import sequence_complexity
from ..skeleton import get_layout

HELP = """Print parameters and compute per 20-frame person sequence:
GMACs in the paper's convention (what the AdaSGN paper calls GFLOPs; see adasgn/models/flops.py) and the
GFLOPs actually executed (torch.utils.flop_counter, 2 x MAC)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("complexity", help="parameters, paper GMACs and executed GFLOPs of a model",
                       description=HELP)
    p.add_argument("--model", choices=["sgn", "single", "adasgn"], default="sgn")
    p.add_argument("--dataset", default="ntu60",
                   help="ntu60 | ntu120 | shrec14 | shrec28 | msr | synthetic (default ntu60)")
    p.add_argument("--joints", type=int, default=None,
                   help="single model: reduced joint count (default: the full count)")
    p.add_argument("--size", choices=["big", "small"], default="big",
                   help="spatial module size (sgn/single; default big)")
    p.add_argument("--policy", default="tconv",
                   choices=["tconv", "tconv2", "lstm", "transformer", "rand", "fuse"],
                   help="adasgn policy type (default tconv)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def complexity(model: str, dataset: str, joints: int | None = None, size: str = "big",
               policy: str = "tconv") -> dict:
    try:
        preset = get_preset(dataset)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    layout = get_layout(preset.layout)
    common = dict(layout=layout.name, num_classes=preset.num_classes,
                  in_channels=preset.in_channels)
    info: dict = {"model": model, "dataset": dataset, "layout": layout.name}
    if model == "adasgn":
        info.update(adasgn_complexity(policy=policy, **common))
        return info
    options = {"size": size}
    j = layout.num_joints
    if model == "single":
        j = joints or layout.num_joints
        if j not in layout.joint_choices:
            raise UserError(f"--joints {j}: layout {layout.name} offers {list(layout.joint_choices)}")
        options["joints"] = j
    info.update(size=size, joints=j)
    info.update(sequence_complexity(create_model(model, **common, **options)))
    return info


def run(args: argparse.Namespace) -> int:
    info = complexity(args.model, args.dataset, args.joints, args.size, args.policy)
    if args.json:
        print(json.dumps(info))
        return 0
    name = args.model if args.model != "single" else f"single {info['size']}-{info['joints']}"
    print(f"{name} on {args.dataset} (layout {info['layout']})")
    print(f"  parameters          {info['params']:>12,}")
    print(f"  GMACs (paper conv.) {info['gmacs']:>12.6f}   per 20-frame person sequence")
    print(f"  GFLOPs executed     {info['gflops_executed']:>12.6f}   flop_counter, 2 x MAC, incl. matmuls")
    if "gmacs_fixed" in info:
        print(f"  fixed cost (S-1 + temporal + policy) {info['gmacs_fixed']:.9f} GMACs; "
              f"GMACs above = every frame on the full big branch; fuse {info.get('gmacs_fuse', 0):.6f}")
    for c in info.get("choices", []):
        print(f"    {c['name']:<6} joints {c['joints']:>3} {c['size']:<5} GMACs {c['gmacs']:.9f}")
    return 0
