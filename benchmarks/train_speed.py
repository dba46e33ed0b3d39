"""Training throughput of SGN and AdaSGN (masked: every branch on every frame) on this machine.

    python benchmarks/train_speed.py [--threads 2] [--steps 12] [--warmup 3] [--batch 64] [--json]

One training step = forward, loss (label-smoothed cross-entropy; AdaSGN adds the efficiency loss
with alpha = 4 as `adasgn train` does), backward and an Adam step, in train mode, on a batch of
shape (64, 3, 20, 25, 2) -- as NTU is fed to the official code. Two inputs:

* ``one person``: the second person slot is all zero (single-person samples -- most of NTU; the
  official code still computes the empty slot, adasgn skips it);
* ``two persons``: both slots filled.

Prints the median over ``--steps`` steps (after ``--warmup``) of training samples/s, with the
inter-quartile range, per model and input; the two models are interleaved step by step. The
official code's figures on the 2-core reference machine are 26.5 samples/s (SGN) and 15.6 (AdaSGN,
masked); the issue's target is at least 2x those.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

OFFICIAL = {"sgn": 26.5, "adasgn": 15.6}  # samples/s, official code on the reference machine


def build(name: str):
    from adasgn.models import create_model

    return create_model(name, num_classes=60).train()


def make_step(model, name: str, amp: str = "none"):
    from adasgn.engine.evaluate import autocast
    from adasgn.models.losses import build_criterion

    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    criterion = build_criterion(model, alpha=4.0, warm_epochs=5)
    model.set_epoch(10)

    def step(x, y):
        with autocast(torch.device("cpu"), amp):  # what train.amp does
            logits, info = model(x)  # training mode: AdaSGN runs masked
            loss, _ = criterion(logits.float(), info, y, 10)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--amp", choices=["none", "bf16"], default="none",
                    help="bf16: forward and loss under CPU bf16 autocast (train.amp=bf16)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_before = os.getloadavg()
    n = args.batch
    y = torch.randint(0, 60, (n,))
    two = torch.randn(n, 3, 20, 25, 2)
    one = two.clone()
    one[..., 1] = 0.0
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__, "batch": n, "amp": args.amp,
           "steps": args.steps, "official": OFFICIAL, "results": {}}
    for label, x in (("one person", one), ("two persons", two)):
        steps = {k: make_step(build(k), k, args.amp) for k in ("sgn", "adasgn")}
        times = {k: [] for k in steps}
        for _ in range(args.warmup):
            for f in steps.values():
                f(x, y)
        for i in range(args.steps):
            for j, k in enumerate(list(steps)[i % 2:] + list(steps)[:i % 2]):
                t0 = time.perf_counter()
                steps[k](x, y)
                times[k].append(time.perf_counter() - t0)
        res = {}
        for k, ts in times.items():
            rates = [n / t for t in ts]
            q = statistics.quantiles(rates, n=4, method="inclusive")
            res[k] = {"samples_per_s": statistics.median(rates), "iqr": q[2] - q[0],
                      "vs_official": statistics.median(rates) / OFFICIAL[k]}
        out["results"][label] = res
    out["loadavg_before"] = [round(v, 2) for v in load_before]
    out["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"training samples/s (batch {n}, {out['threads']} threads, torch {out['torch']}, "
          f"median of {args.steps} steps; load {out['loadavg_before']} -> {out['loadavg_after']})")
    for label, res in out["results"].items():
        for k, r in res.items():
            print(f"  {label:<12} {k:<7} {r['samples_per_s']:7.1f}  (IQR {r['iqr']:.1f})  "
                  f"{r['vs_official']:.2f}x the official {OFFICIAL[k]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
