"""Side-by-side inference timing of SGN and AdaSGN (``adasgn bench``).

In one process and one run, on the same inputs and with the same per-frame decisions (forced with
``decisions=``, so the policy still runs but every method executes the same branches), times:

* ``sgn``      -- plain SGN (big spatial module on every frame, same layout / classes);
* ``grouped``  -- AdaSGN, each branch only on the frames that chose it (the inference path);
* ``masked``   -- AdaSGN, every branch on every frame (the official computation).

Method: ``torch.set_num_threads`` pinned, ``torch.inference_mode``, warm-up calls, then ``reps``
repetitions in which the three methods are interleaved (the order rotates every repetition so
that none always runs first after another), CUDA synchronised around each call. Reported: median
and inter-quartile range of milliseconds per sample, speed-up ratios of the medians, paper-
convention GMACs (:mod:`adasgn.flops`), executed GFLOPs per sample (flop_counter), achieved
GFLOP/s and its fraction of a float32 matmul peak measured in the same run, and the machine
(CPU model, cores, threads, torch version, load average before and after).

Decisions: by default a fixed mix of choices (the paper's alpha = 4 NTU-60 CS usage, the
0.03 % remainder spread over the other choices), allotted exactly (largest remainder) over the
frames of the batch and shuffled with a fixed seed; or, with a checkpoint and a pkl, the decisions
its trained policy makes on real samples of the pkl's test split (optionally at a compute budget).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .data.presets import get_preset
from .engine.config import load_config
from .engine.run import TrainedRun, build_model, load_run
from .models import create_model
from .models.flops import executed_flops
from .skeleton import get_layout
from .stream import StreamingRecognizer, StreamPool

# paper Table 3, alpha = 4, NTU-60 cross-subject: percent of frames per choice
PAPER_MIX = {"S-1": 48.36, "B-9": 16.47, "B-25": 35.14}

__all__ = ["PAPER_MIX", "default_mix", "format_bench", "format_stream_bench", "machine_info",
           "matmul_peak_gflops", "mix_decisions", "parse_mix", "run_bench", "run_stream_bench",
           "stream_frames"]


def default_mix(choice_names: list[str]) -> dict[str, float]:
    """The paper's mix mapped onto ``choice_names`` (fractions summing to 1).

    Choices are matched by size letter and position in the joint order (S-1 = cheapest, B-9 =
    big middle, B-25 = big full), so other layouts (kinect20, shrec22) get the equivalent mix;
    the remainder (100 - sum) is spread evenly over the other choices."""
    names = list(choice_names)
    ntu = ["S-1", "B-1", "S-9", "B-9", "S-25", "B-25"]
    if len(names) == len(ntu):
        alias = dict(zip(ntu, names))
        shares = {alias[k]: v for k, v in PAPER_MIX.items()}
    else:  # any other choice count: cheapest, middle big, dearest
        shares = {names[0]: PAPER_MIX["S-1"], names[len(names) // 2]: PAPER_MIX["B-9"],
                  names[-1]: PAPER_MIX["B-25"]}
    rest = [n for n in names if n not in shares]
    left = max(100.0 - sum(shares.values()), 0.0)
    for n in rest:
        shares[n] = left / len(rest)
    total = sum(shares.values())
    return {n: shares.get(n, 0.0) / total for n in names}


def parse_mix(text: str, choice_names: list[str]) -> dict[str, float]:
    """``"S-1=0.4836,B-9=0.1647,B-25=0.3514"`` (fractions or percents; normalised) -> mix."""
    names = list(choice_names)
    mix = {n: 0.0 for n in names}
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"--mix entry {part!r} is not NAME=SHARE (e.g. S-1=0.4836)")
        k, v = part.split("=", 1)
        if k not in mix:
            raise ValueError(f"--mix: unknown choice {k!r}; this model's choices are {names}")
        try:
            mix[k] = float(v)
        except ValueError:
            raise ValueError(f"--mix: {v!r} is not a number") from None
        if mix[k] < 0:
            raise ValueError(f"--mix: negative share for {k}")
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("--mix: the shares sum to zero")
    return {n: v / total for n, v in mix.items()}


def mix_decisions(mix: dict[str, float], choice_names: list[str], n: int, m: int, t: int,
                  seed: int = 0) -> torch.Tensor:
    """(n, m, t) decisions realising ``mix`` as exactly as the frame count allows."""
    frames = n * m * t
    fr = [mix.get(c, 0.0) for c in choice_names]
    raw = [f * frames for f in fr]
    counts = [int(r) for r in raw]
    order = sorted(range(len(fr)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: frames - sum(counts)]:
        counts[i] += 1
    flat = torch.cat([torch.full((c,), a, dtype=torch.long) for a, c in enumerate(counts)])
    g = torch.Generator().manual_seed(seed)
    return flat[torch.randperm(frames, generator=g)].view(n, m, t)


# ---------------------------------------------------------------------------------------------
# machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine_info(device: torch.device) -> dict:
    info = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(device: torch.device, n: int | None = None, reps: int = 10) -> float:
    """Best-of-``reps`` float32 ``n x n @ n x n`` GFLOP/s: a practical peak for this run."""
    n = n or (4096 if device.type == "cuda" else 1024)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = float("inf")
    with torch.inference_mode():
        for i in range(reps + 2):
            _sync(device)
            t0 = time.perf_counter()
            a @ b
            _sync(device)
            if i >= 2:
                best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


# ---------------------------------------------------------------------------------------------
# the run


def _quartiles(v: list[float]) -> tuple[float, float, float]:
    if len(v) < 2:
        return v[0], v[0], v[0]
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], statistics.median(v), q[2]


def _time_interleaved(fns: dict[str, Callable[[], object]], reps: int, warmup: int,
                      device: torch.device) -> dict[str, list[float]]:
    names = list(fns)
    times = {k: [] for k in names}
    for _ in range(warmup):
        for k in names:
            fns[k]()
    _sync(device)
    for r in range(reps):
        for j in range(len(names)):
            k = names[(r + j) % len(names)]  # rotate the order every repetition
            _sync(device)
            t0 = time.perf_counter()
            fns[k]()
            _sync(device)
            times[k].append(time.perf_counter() - t0)
    return times


def _auto_reps(fns, device, target_s: float) -> int:
    t0 = time.perf_counter()
    for f in fns.values():
        f()
    _sync(device)
    per_rep = max(time.perf_counter() - t0, 1e-6)
    return int(min(300, max(15, target_s / per_rep)))


def _models(checkpoint: str | None, device: torch.device):
    """(sgn, adasgn, info dict, the run or None) -- AdaSGN random-init on ntu25, or the
    checkpoint's with an SGN of the same layout / classes."""
    if checkpoint is None:
        ada = create_model("adasgn")
        sgn = create_model("sgn")
        desc = {"adasgn": "random init, ntu25, tconv policy", "sgn": "random init, ntu25"}
        run = None
    else:
        run = load_run(checkpoint, "cpu")
        if run.kind != "adasgn":
            raise ValueError(f"{checkpoint} holds a {run.kind} model; bench --checkpoint "
                             "needs an AdaSGN checkpoint")
        ada = run.model
        c = ada.cfg
        sgn = create_model("sgn", layout=c.layout, num_classes=ada.num_classes,
                           num_frames=ada.num_frames, in_channels=ada.in_channels,
                           skip_empty_persons=c.skip_empty_persons)
        desc = {"adasgn": f"checkpoint {checkpoint} ({c.layout}, {c.policy} policy)",
                "sgn": f"random init, same layout / classes ({ada.num_joints} joints, "
                       f"{ada.num_classes} classes)"}
    return sgn.to(device).eval(), ada.to(device).eval(), desc, run


def _real_batches(run, data: str | None, sizes: list[int]):
    """Real test-split samples of the run's pkl (or ``data``): {batch size: x}."""
    rd = run.data(data)
    ds = rd.dataset("test")
    if len(ds) == 0:
        raise ValueError(f"{run.cfg.data.path}: the test split is empty")
    need = max(sizes)
    xs = [ds[i % len(ds)][0] for i in range(need)]
    full = torch.stack(xs)
    return {b: full[:b].clone() for b in sizes}, len(ds), run.cfg.data.path


def run_bench(batch_sizes: list[int] | None = None, device: str = "cpu",
              threads: int | None = None, mix: dict[str, float] | str | None = None,
              reps: int | None = None, warmup: int = 3, persons: int = 1,
              checkpoint: str | None = None, data: str | None = None,
              budget: float | None = None, budget_mode: str = "mean", seed: int = 0, target_s: float = 6.0,
              measure_flops: bool = True, peak: bool = True) -> dict:
    """Time SGN / AdaSGN grouped / AdaSGN masked; returns the report (see the module doc).

    ``reps=None`` picks, per batch size, enough repetitions for about ``target_s`` seconds
    (15 to 300). ``mix`` (fractions per choice name, or the ``--mix`` text) is ignored when a
    ``checkpoint`` provides real decisions."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but CUDA is not available")
    if threads:
        torch.set_num_threads(int(threads))
    if persons not in (1, 2):
        raise ValueError("persons must be 1 or 2")
    if budget is not None and checkpoint is None:
        raise ValueError("--budget needs --checkpoint (a trained policy to bias)")
    if data is not None and checkpoint is None:
        raise ValueError("--data needs --checkpoint")
    if batch_sizes is None:
        batch_sizes = [1, 64, 1024] if dev.type == "cuda" else [1, 64]
    batch_sizes = [int(b) for b in batch_sizes]
    if any(b < 1 for b in batch_sizes):
        raise ValueError("batch sizes must be positive")

    load_before = _loadavg()
    torch.manual_seed(seed)
    sgn, ada, desc, run = _models(checkpoint, dev)
    names = ada.choice_names
    c = ada.cfg
    v = ada.num_joints
    real = None
    lam = None
    if checkpoint is not None:
        real, n_test, pkl = _real_batches(run, data, batch_sizes)
        if budget is not None:
            ada.set_budget(budget, mode=budget_mode)
            lam = ada.budget_lambda
        mix_used = None
        decision_source = f"trained policy on the first samples of the test split of {pkl} " \
                          f"({n_test} samples, repeated when fewer than the batch)"
    else:
        mix_used = parse_mix(mix, names) if isinstance(mix, str) else (
            {n: float(mix.get(n, 0.0)) for n in names} if mix else default_mix(names))
        if isinstance(mix, dict):
            s = sum(mix_used.values())
            mix_used = {n: f / s for n, f in mix_used.items()}
        decision_source = "forced mix: " + ", ".join(
            f"{n} {100 * f:.2f}%" for n, f in mix_used.items())

    gmacs_sgn = sgn.gmacs_fixed  # paper GMACs of SGN per person-sequence
    peak_gflops = matmul_peak_gflops(dev) if peak else None

    results = {}
    for b in batch_sizes:
        g = torch.Generator().manual_seed(seed + b)
        if real is not None:
            x = real[b].to(dev)
            with torch.inference_mode():
                _, info = ada(x, mode="grouped")  # the policy decides (with the budget, if any)
            dec = info.decisions.clone()
            dec[dec < 0] = 0  # slots that are not computed: any valid index (ignored)
            m = x.shape[-1]
        else:
            m = persons
            x = torch.randn(b, c.in_channels, c.num_frames, v, m, generator=g).to(dev)
            dec = mix_decisions(mix_used, names, b, m, c.num_frames, seed=seed + b).to(dev)

        fns = {
            "sgn": lambda x=x: sgn(x),
            "grouped": lambda x=x, dec=dec: ada(x, mode="grouped", decisions=dec),
            "masked": lambda x=x, dec=dec: ada(x, mode="masked", decisions=dec),
        }
        with torch.inference_mode():
            _, info_g = ada(x, mode="grouped", decisions=dec)
            usage = ada.usage(info_g.decisions, info_g.present)
            gmacs_ada = float(info_g.gmacs.mean())
            persons_computed = float(info_g.present.sum()) / b
            flops = {}
            if measure_flops:
                for k, f in fns.items():
                    flops[k] = executed_flops(f)[0] / b / 1e9
            n_reps = reps if reps else _auto_reps(fns, dev, target_s)
            times = _time_interleaved(fns, n_reps, warmup, dev)

        row = {"batch": b, "reps": n_reps, "persons_per_sample": persons_computed}
        for k, ts in times.items():
            ms = [1e3 * t / b for t in ts]
            q1, med, q3 = _quartiles(ms)
            row[f"{k}_ms"] = med
            row[f"{k}_iqr_ms"] = q3 - q1
            row[f"{k}_q1_ms"], row[f"{k}_q3_ms"] = q1, q3
        row["speedup_grouped_vs_sgn"] = row["sgn_ms"] / row["grouped_ms"]
        row["speedup_grouped_vs_masked"] = row["masked_ms"] / row["grouped_ms"]
        row["gmacs_sgn"] = gmacs_sgn
        row["gmacs_adasgn"] = gmacs_ada
        row["gmacs_ratio_sgn_vs_adasgn"] = gmacs_sgn / gmacs_ada
        row["usage"] = usage
        for k in fns:
            if k in flops:
                row[f"gflops_exec_{k}"] = flops[k]
                rate = flops[k] / (row[f"{k}_ms"] / 1e3)
                row[f"gflops_per_s_{k}"] = rate
                if peak_gflops:
                    row[f"peak_fraction_{k}"] = rate / peak_gflops
        results[str(b)] = row

    machine = machine_info(dev)
    machine["loadavg_before"] = load_before
    machine["loadavg_after"] = _loadavg()
    return {
        "machine": machine,
        "models": desc,
        "decisions": decision_source,
        "mix": mix_used,
        "budget": budget,
        "budget_lambda": lam,
        "budget_mode": budget_mode if budget is not None else None,
        "persons": persons if real is None else None,
        "matmul_peak_gflops": peak_gflops,
        "gmacs_unit": "paper convention, per person-sequence",
        "ms_unit": "milliseconds per sample, median over repetitions",
        "batches": results,
    }


def format_bench(rep: dict) -> str:
    m = rep["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cpus_available']}/{m['cpu_count']} CPUs available, "
        f"{m['torch_threads']} torch threads, torch {m['torch']}, device {m['device']}"
        + (f" ({m['gpu']})" if m.get("gpu") else ""),
        f"load average before {m['loadavg_before']}, after {m['loadavg_after']}",
        f"models: AdaSGN {rep['models']['adasgn']}; SGN {rep['models']['sgn']}",
        f"decisions: {rep['decisions']}"
        + (f"; budget {rep['budget']:g} GMACs ("
           + (f"lambda {rep['budget_lambda']:.4g})" if rep.get("budget_lambda") is not None
              else "per-sample mode)")
           if rep.get("budget") is not None else ""),
    ]
    busy = (m.get("loadavg_before") or [0.0])[0]
    cpus = m.get("cpus_available") or m.get("cpu_count") or 1
    if (m["device"] == "cpu" and m["torch_threads"] > 1 and busy + m["torch_threads"] > cpus + 0.5
            and (m.get("omp_wait_policy") or "").upper() != "PASSIVE"):
        lines.append(f"warning: load {busy:.1f} + {m['torch_threads']} threads on {cpus} CPUs: "
                     "spinning OpenMP threads may make every op wait; rerun with "
                     "OMP_WAIT_POLICY=PASSIVE or --threads 1 (docs/benchmarks.md)")
    if rep.get("matmul_peak_gflops"):
        lines.append(f"float32 matmul peak in this run: {rep['matmul_peak_gflops']:.1f} GFLOP/s")
    head = (f"{'batch':>5} {'method':<8} {'ms/sample':>10} {'IQR':>8} {'GMACs':>8} "
            f"{'GFLOPs ex':>9} {'GFLOP/s':>8} {'of peak':>7}")
    lines.append(head)
    for b, r in rep["batches"].items():
        for k in ("sgn", "grouped", "masked"):
            g = r["gmacs_sgn"] if k == "sgn" else r["gmacs_adasgn"]
            ex = r.get(f"gflops_exec_{k}")
            rate = r.get(f"gflops_per_s_{k}")
            frac = r.get(f"peak_fraction_{k}")
            lines.append(
                f"{b:>5} {k:<8} {r[f'{k}_ms']:>10.3f} {r[f'{k}_iqr_ms']:>8.3f} {g:>8.4f} "
                + (f"{ex:>9.4f} {rate:>8.1f} {100 * frac:>6.1f}%" if ex is not None and frac
                   is not None else (f"{ex:>9.4f} {rate:>8.1f}" if ex is not None else "")))
        use = " ".join(f"{n}:{100 * f:.1f}%" for n, f in r["usage"].items() if f > 0)
        lines.append(
            f"      grouped vs SGN {r['speedup_grouped_vs_sgn']:.2f}x, vs masked "
            f"{r['speedup_grouped_vs_masked']:.2f}x (GMACs ratio SGN/AdaSGN "
            f"{r['gmacs_ratio_sgn_vs_adasgn']:.2f}); {r['reps']} reps; usage {use}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# streaming: per-update latency of adasgn.stream vs recomputing the window (bench --stream)


def stream_frames(n: int, joints: int, seed: int = 0, persons: int = 1) -> torch.Tensor:
    """(n, persons, joints, 3) smooth synthetic motion: a random pose, every joint on its own
    slow oscillation, the body drifting (a stand-in for a sensor stream; seeded)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(persons, joints, 3, generator=g) * 0.3
    amp = torch.rand(persons, joints, 3, generator=g) * 0.1
    freq = 0.5 + torch.rand(persons, joints, 3, generator=g) * 2.0  # Hz at 30 fps
    phase = torch.rand(persons, joints, 3, generator=g) * 6.2832
    t = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1) / 30.0
    drift = torch.cumsum(torch.randn(n, persons, 1, 3, generator=g) * 0.005, 0)
    return (base + amp * torch.sin(6.2832 * freq * t + phase) + drift).contiguous()


def _random_run(model: str, dataset: str = "ntu60") -> TrainedRun:
    cfg = load_config(None, [f"model.name={model}", f"data.dataset={dataset}"])
    preset = get_preset(dataset)
    layout = get_layout(preset.layout)
    net = build_model(cfg, layout, preset.num_classes, preset.in_channels).eval()
    names = [str(i) for i in range(preset.num_classes)]
    return TrainedRun(Path(f"random-init-{model}"), {}, cfg, net, preset, layout, names,
                      torch.device("cpu"))


def _stream_runs(checkpoint: str | None) -> tuple[dict[str, TrainedRun], dict[str, str]]:
    """{"sgn": run, "adasgn": run}: random init on ntu25 (NTU-60 classes), or the checkpoint's
    AdaSGN with a random-init SGN of the same layout / classes / pipeline."""
    if checkpoint is None:
        return ({"sgn": _random_run("sgn"), "adasgn": _random_run("adasgn")},
                {"sgn": "random init, ntu25, NTU-60 classes",
                 "adasgn": "random init, ntu25, NTU-60 classes, tconv policy"})
    run = load_run(checkpoint, "cpu")
    if run.kind != "adasgn":
        raise ValueError(f"{checkpoint} holds a {run.kind} model; bench --stream --checkpoint "
                         "needs an AdaSGN checkpoint")
    ada = run.model
    cfg = copy.deepcopy(run.cfg)
    cfg.model.name = "sgn"
    sgn = create_model("sgn", layout=ada.cfg.layout, num_classes=ada.num_classes,
                       num_frames=ada.num_frames, in_channels=ada.in_channels,
                       skip_empty_persons=ada.cfg.skip_empty_persons).eval()
    sgn_run = dataclasses.replace(run, cfg=cfg, model=sgn, _data={})
    return ({"sgn": sgn_run, "adasgn": run},
            {"sgn": f"random init, same layout / classes as {checkpoint}",
             "adasgn": f"checkpoint {checkpoint} ({ada.cfg.layout}, {ada.cfg.policy} policy)"})


def _pct(v: list[float], q: float) -> float:
    s = sorted(v)
    if not s:
        return float("nan")
    i = (len(s) - 1) * q / 100.0
    lo = int(i)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)


def _stream_one(run: TrainedRun, frames: torch.Tensor, window: int | None, target_s: float,
                 min_updates: int, max_updates: int, warmup: int, chunk: int = 25) -> dict:
    """Chunks of ``chunk`` updates: the stream's push() of each update's frame (timed), then the
    model on each of those windows (timed), so that each method runs back to back (its weights
    warm, like a process doing only that) while load drift on a shared machine hits both alike.
    Same model; the decisions and logits of the two are compared."""
    live = StreamingRecognizer(run, window=window)
    model = live.model
    chunk = max(1, min(chunk, max_updates + warmup))
    upd, mod, win = [], [], []
    mismatched, max_diff = 0, 0.0
    counts: dict[str, int] = {}
    computed = calls = 0
    i, warm = 0, warmup
    deadline = None
    with torch.inference_mode():
        while len(upd) < max_updates:
            if deadline is not None and time.perf_counter() > deadline and len(upd) >= min_updates:
                break
            block = []
            while len(block) < chunk:
                c0, k0 = live.streamer.computed, live.streamer.calls
                up = live.push(frames[i % len(frames)])
                i += 1
                if up is not None:
                    block.append((up, live.streamer.computed - c0, live.streamer.calls - k0,
                                  live.window_input(), live.last_logits, live.last_info))
            timed = []
            for _, _, _, x, _, _ in block:
                t0 = time.perf_counter()
                out = model(x)
                timed.append((1e3 * (time.perf_counter() - t0), out))
            for (up, c, k, _, logits_s, info_s), (ms, (logits, info)) in zip(block, timed):
                if warm > 0:
                    warm -= 1
                    continue
                upd.append(up.latency_ms)
                mod.append(up.model_ms)
                win.append(ms)
                computed += c
                calls += k
                max_diff = max(max_diff, float((logits_s - logits).abs().max()))
                if info.decisions is not None:
                    if not torch.equal(info.decisions, info_s.decisions):
                        mismatched += 1
                    for names in up.branches:
                        for b in names:
                            counts[b] = counts.get(b, 0) + 1
            if deadline is None and warm == 0:
                deadline = time.perf_counter() + target_s
    n = len(upd)
    total = max(sum(counts.values()), 1)
    return {
        "updates": n, "stride": live.stride, "window": live.window,
        "update_ms_p50": _pct(upd, 50), "update_ms_p99": _pct(upd, 99),
        "update_model_ms_p50": _pct(mod, 50),
        "window_ms_p50": _pct(win, 50), "window_ms_p99": _pct(win, 99),
        "speedup_vs_window": _pct(win, 50) / _pct(upd, 50),
        "features_per_update": computed / max(n, 1), "kernel_calls_per_update": calls / max(n, 1),
        "decisions_mismatched": mismatched, "max_abs_logit_diff": max_diff,
        "usage": {k: v / total for k, v in sorted(counts.items())},
    }


def _pool_one(run: TrainedRun, n: int, frames: torch.Tensor, target_s: float,
              warmup: int = 2, min_steps: int = 3) -> dict:
    """``n`` streams in a :class:`~adasgn.stream.StreamPool`, every stream due at every step: the
    time of a step (n pushes + one flush)."""
    pool = StreamPool(run, n, window=run.model.num_frames)
    offs = [(7 * i) % len(frames) for i in range(n)]
    times, step = [], 0
    t_end = None
    with torch.inference_mode():
        while len(times) < min_steps or time.perf_counter() < t_end:
            t0 = time.perf_counter()
            for i in range(n):
                pool.push(i, frames[(offs[i] + step) % len(frames)])
            ups = pool.flush()
            dt = time.perf_counter() - t0
            step += 1
            if not ups:
                continue  # filling the windows
            if warmup > 0:
                warmup -= 1
                t_end = time.perf_counter() + target_s
                continue
            times.append(dt)
    med = _pct(times, 50)
    # every stream gets one update per step: stream updates served per second
    return {"streams": n, "steps": len(times), "step_ms_p50": 1e3 * med,
            "ms_per_update": 1e3 * med / n, "streams_per_s": n / med}


def run_stream_bench(threads: list[int] | None = None, checkpoint: str | None = None,
                     window: int | None = 20, target_s: float = 3.0, min_updates: int = 30,
                     max_updates: int = 3000, warmup: int = 10, seed: int = 0,
                     pool_sizes: list[int] | None = None, pool_s: float = 1.0) -> dict:
    """Per-update latency at batch 1 on the CPU: :class:`~adasgn.stream.StreamingRecognizer`
    (each frame's work once) vs the model on the whole window at every update, for SGN and
    AdaSGN, at each thread count; the decisions and logits of both are compared. With
    ``pool_sizes`` also the throughput of N streams batched in a :class:`~adasgn.stream.
    StreamPool` (at the first thread count, about ``pool_s`` seconds each).

    ``window`` (raw frames) sets the stride (20: an update at every frame); per update the work
    does not depend on it. About ``target_s`` seconds of updates per model and thread count."""
    threads = [int(t) for t in (threads or [1, 2])]
    if any(t < 1 for t in threads):
        raise ValueError("thread counts must be at least 1")
    before_threads = torch.get_num_threads()
    load_before = _loadavg()
    torch.manual_seed(seed)
    runs, desc = _stream_runs(checkpoint)
    out: dict[str, dict] = {}
    try:
        for name, run in runs.items():
            frames = stream_frames(600, run.layout.num_joints, seed=seed)
            by = {}
            for th in threads:
                torch.set_num_threads(th)
                by[str(th)] = _stream_one(run, frames, window, target_s, min_updates,
                                          max_updates, warmup)
            first = by[str(threads[0])]
            out[name] = {**{k: first[k] for k in ("update_ms_p50", "update_ms_p99",
                                                  "window_ms_p50", "speedup_vs_window")},
                         "threads": threads[0], "by_threads": by}
            if pool_sizes:
                torch.set_num_threads(threads[0])
                out[name]["pool"] = {str(k): _pool_one(run, int(k), frames, pool_s)
                                     for k in pool_sizes}
    finally:
        torch.set_num_threads(before_threads)
    machine = machine_info(torch.device("cpu"))
    machine["torch_threads"] = threads
    machine["loadavg_before"] = load_before
    machine["loadavg_after"] = _loadavg()
    return {"machine": machine, "models": desc, "batch": 1, "persons": 1,
            "ms_unit": "milliseconds per update (one stream, batch 1); update = push() of the "
                       "frame that completes it (checks, per-frame pipeline, model, top-k); "
                       "window = the model forward on the whole window",
            "stream": out}


def format_stream_bench(rep: dict) -> str:
    m = rep["machine"]
    lines = [f"machine: {m['cpu']}, {m['cpus_available']}/{m['cpu_count']} CPUs available, "
             f"torch {m['torch']}, OMP_WAIT_POLICY={m.get('omp_wait_policy')}",
             f"load average before {m['loadavg_before']}, after {m['loadavg_after']}",
             f"models: AdaSGN {rep['models']['adasgn']}; SGN {rep['models']['sgn']}",
             f"{'model':<7} {'threads':>7} {'update p50':>10} {'p99':>7} {'window p50':>10} "
             f"{'speedup':>7} {'feat/upd':>8} {'updates':>7}  decisions"]
    for name, r in rep["stream"].items():
        for th, b in r["by_threads"].items():
            same = ("same" if b["decisions_mismatched"] == 0 else
                    f"{b['decisions_mismatched']} windows differ")
            lines.append(f"{name:<7} {th:>7} {b['update_ms_p50']:>10.3f} {b['update_ms_p99']:>7.3f} "
                         f"{b['window_ms_p50']:>10.3f} {b['speedup_vs_window']:>6.1f}x "
                         f"{b['features_per_update']:>8.2f} {b['updates']:>7}  {same}, logits "
                         f"max diff {b['max_abs_logit_diff']:.1e}")
        use = r["by_threads"][str(r["threads"])]["usage"]
        if use and list(use) != ["static"]:
            lines.append("        branches: " + " ".join(f"{k}:{100 * v:.0f}%"
                                                      for k, v in use.items()))
        for k, pr in r.get("pool", {}).items():
            lines.append(f"        pool of {k:>3} streams ({r['threads']} thread): "
                         f"{pr['ms_per_update']:.3f} ms per update, "
                         f"{pr['streams_per_s']:.0f} updates/s")
    return "\n".join(lines)
