"""GPU readiness check, runnable on whatever device is there (CUDA if present, else the CPU).

::

    python benchmarks/gpu_check.py                 # full: bench at batch 1 / 64 / 1024
    python benchmarks/gpu_check.py --quick --json  # what CI runs on the CPU (seconds)

Checks, each reported with what was measured:

1. ``grouped == masked``: AdaSGN's grouped execution (each branch only on its frames) gives the
   masked (all branches) logits for the same decisions, on this device (max abs difference).
2. bf16 autocast training: a few optimizer steps of SGN and AdaSGN on a tiny fixed set under
   ``torch.autocast(device, bfloat16)``; the loss must stay finite and go down.
3. ``adasgn bench`` (SGN vs AdaSGN grouped vs masked) at batch 1, 64 and 1024 (``--quick``: 1, 8).
4. A one-process DDP training step (NCCL on CUDA, gloo on the CPU) through
   ``DistributedDataParallel``.
5. Resume: the random-number state saved in a checkpoint, loaded back onto this device (as the
   trainer loads a checkpoint to resume), restores the same random stream. On CUDA this failed
   until 2026-12-04 (``RNG state must be a torch.ByteTensor``: every resumed GPU run crashed).

Exit code 0 when every check passes. The CPU path runs in CI so that the code stays covered;
figures from a GPU go to docs/benchmarks.md with the device named.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the adasgn command does (docs/architecture.md)

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_grouped_equals_masked(dev: torch.device) -> dict:
    from adasgn.models import create_model

    torch.manual_seed(0)
    model = create_model("adasgn", num_classes=60).to(dev).eval()
    x = torch.randn(16, 3, 20, 25, 2, device=dev)
    x[::3, ..., 1] = 0  # empty second persons
    dec = torch.randint(model.num_choices, (16, 2, 20), device=dev)
    with torch.no_grad():
        g, _ = model(x, mode="grouped", decisions=dec)
        m, _ = model(x, mode="masked", decisions=dec)
    diff = float((g - m).abs().max())
    return {"ok": diff < 1e-4, "max_abs_diff": diff}


def _tiny_set(dev, n=32, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 20, 25, 1, generator=g) * 0.1
    y = torch.arange(n) % classes
    phase = torch.linspace(0, 6.28, 20)
    for c in range(classes):  # class c moves the upper joints with frequency c + 1
        x[y == c, 1, :, 12:, 0] += torch.sin((c + 1) * phase)[:, None]
    return x.to(dev), y.to(dev)


def check_bf16_training(dev: torch.device, steps: int = 12) -> dict:
    from adasgn.models import create_model
    from adasgn.models.losses import build_criterion

    out = {}
    for name in ("sgn", "adasgn"):
        torch.manual_seed(0)
        model = create_model(name, num_classes=4).to(dev).train()
        crit = build_criterion(model, alpha=1.0, warm_epochs=0)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x, y = _tiny_set(dev)
        losses = []
        for _ in range(steps):
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                logits, info = model(x)
            loss, _ = crit(logits.float(), info, y, 10)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        finite = all(torch.isfinite(torch.tensor(losses)).tolist())
        first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
        out[name] = {"ok": finite and last < first, "loss_first3": first, "loss_last3": last}
    out["ok"] = all(v["ok"] for v in out.values() if isinstance(v, dict))
    return out


def check_bench(dev: torch.device, quick: bool) -> dict:
    from adasgn.bench import run_bench

    sizes = [1, 8] if quick else [1, 64, 1024]
    rep = run_bench(batch_sizes=sizes, device=dev.type, reps=3 if quick else None,
                    warmup=1 if quick else 3, measure_flops=not quick, peak=not quick,
                    target_s=2.0)
    rows = {b: {k: r[k] for k in ("sgn_ms", "grouped_ms", "masked_ms", "speedup_grouped_vs_sgn",
                                  "speedup_grouped_vs_masked")}
            for b, r in rep["batches"].items()}
    return {"ok": all(r["grouped_ms"] > 0 for r in rows.values()), "batches": rows,
            "machine": rep["machine"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_ddp_step(dev: torch.device) -> dict:
    import torch.distributed as dist

    from adasgn.models import create_model
    from adasgn.models.losses import build_criterion

    backend = "nccl" if dev.type == "cuda" else "gloo"
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(_free_port()))
    dist.init_process_group(backend, rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        model = create_model("adasgn", num_classes=4).to(dev).train()
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index or 0] if dev.type == "cuda" else None,
            find_unused_parameters=model.conditional)
        crit = build_criterion(model, alpha=1.0, warm_epochs=0)
        opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
        x, y = _tiny_set(dev, n=8)
        before = [p.detach().clone() for p in model.parameters()]
        logits, info = ddp(x)
        loss, _ = crit(logits, info, y, 10)
        opt.zero_grad()
        loss.backward()
        opt.step()
        changed = sum(int(not torch.equal(a, p)) for a, p in zip(before, model.parameters()))
        return {"ok": bool(torch.isfinite(loss)) and changed > 0, "backend": backend,
                "loss": float(loss), "parameters_updated": changed}
    finally:
        dist.destroy_process_group()


def check_resume(dev: torch.device, tmp: Path) -> dict:
    from adasgn.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state

    torch.manual_seed(0)
    path = tmp / "rng.pt"
    save_checkpoint({"rng": rng_state()}, path)
    want = torch.rand(4)
    try:
        set_rng_state(load_checkpoint(path, map_location=dev)["rng"])
    except Exception as exc:  # noqa: BLE001 -- reported, not raised
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    got = torch.rand(4)
    return {"ok": bool(torch.equal(want, got)), "same_stream": bool(torch.equal(want, got))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small bench (CI on the CPU)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    dev = _device()
    t0 = time.perf_counter()
    res = {"device": str(dev), "torch": torch.__version__,
           "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}
    for name, fn in (("grouped_equals_masked", lambda: check_grouped_equals_masked(dev)),
                     ("bf16_training", lambda: check_bf16_training(dev)),
                     ("bench", lambda: check_bench(dev, a.quick)),
                     ("ddp_step", lambda: check_ddp_step(dev))):
        res[name] = fn()
    with tempfile.TemporaryDirectory() as tmp:
        res["resume"] = check_resume(dev, Path(tmp))
    res["ok"] = all(res[k]["ok"] for k in ("grouped_equals_masked", "bf16_training", "bench",
                                           "ddp_step", "resume"))
    res["seconds"] = time.perf_counter() - t0
    if a.json:
        print(json.dumps(res))
    else:
        print(f"device {res['device']} {res['gpu'] or ''} torch {res['torch']}")
        g = res["grouped_equals_masked"]
        print(f"grouped == masked: max abs diff {g['max_abs_diff']:.2e} -> {g['ok']}")
        for n in ("sgn", "adasgn"):
            b = res["bf16_training"][n]
            print(f"bf16 training {n}: loss {b['loss_first3']:.3f} -> {b['loss_last3']:.3f} "
                  f"-> {b['ok']}")
        for bs, r in res["bench"]["batches"].items():
            print(f"bench batch {bs}: SGN {r['sgn_ms']:.3f} ms/sample, grouped "
                  f"{r['grouped_ms']:.3f}, masked {r['masked_ms']:.3f} (grouped vs SGN "
                  f"{r['speedup_grouped_vs_sgn']:.2f}x)")
        d = res["ddp_step"]
        print(f"DDP step ({d['backend']}): loss {d['loss']:.3f}, {d['parameters_updated']} "
              f"parameter tensors updated -> {d['ok']}")
        r = res["resume"]
        print(f"resume (RNG state loaded onto {dev}): {r.get('error') or 'same stream'} -> {r['ok']}")
        print(f"all ok: {res['ok']} ({res['seconds']:.1f} s)")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main())
