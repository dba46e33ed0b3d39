"""The results studies on real data (issue 12 item 4): run them, or report them.

::

    python benchmarks/study.py run    [--sets msr fpha utd_mhad penn] [--seeds 1 2 3] [--jobs 2]
                                      [--alphas 1 16] [--no-streams]
                                      [--per-stage] [--device cuda] [--groups fpha-joint-s2 ..]
    python benchmarks/study.py report [--sets ...] [--seeds 1 2 3] [--doc docs/results.md] [--json]
    python benchmarks/study.py archive
    python benchmarks/study.py todo   [--sets ...] [--seeds ...] [--groups ...] [--json]

One driver for every dataset, all with the same small-data recipe (``configs/small.yaml``);
per-dataset settings are only what the data dictates (layout, 2-D vs 3-D, persons, splits), in
each set's config. ``run`` is a thin loop over the documented CLI commands, each resumable
(a finished stage -- its ``test.json`` -- is skipped, an interrupted one resumes from its last
epoch), in an order that makes partial results useful early: seed 1 of every set first, the
joint stream before bone and velocity::

    adasgn prepare <set> --raw ../shared/data/<folder> --out data/<set>.pkl     (once)
    adasgn sweep  configs/<set>.yaml name=<set>-joint-s<seed> train.seed=<seed> train.amp=bf16 --alphas A..
    adasgn recipe configs/<set>.yaml name=<set>-<stream>-s<seed> data.stream=<stream> train.seed=<seed> train.amp=bf16

``--amp`` (default ``bf16``: CPU autocast, 2.1x faster on this project's CPU with the same
inner-split accuracy, docs/results.md "Protocol") sets the training precision; ``--amp none``
trains in float32, in ``<out>/study-fp32/`` (the runs of seed 1 made before the switch).

With ``--jobs N`` (default 2) the commands run N at a time with one torch thread each (on a
2-core CPU two one-thread trainings do more work per hour than one two-thread training). Runs
live in ``<out>/study/`` (git-ignored); each command's output goes to ``<name>.log`` there.
``--per-stage`` runs every stage as its own command (``adasgn sweep ... --stages STAGE``): SGN
and the six singles of every group at once, a group's AdaSGN stages as soon as its singles
finished -- the way to fill a machine with many cores or a GPU (``--device cuda``;
benchmarks/device_study.sh is the script the lent GPU ran).

Every finished stage is copied into the **archive** (``--archive``, default
``benchmarks/results/study/<set>-<stream>-s<seed>/<stage>/``, committed): its test.json with the
training minutes and the device added, and for SGN and the recipe's AdaSGN the test scores the
three-stream fusion needs. Checkpoints stay in the runs folder, which does not outlive a
session, so an AdaSGN stage that is missing is trained with its own group's singles trained
again (those the runs folder lacks), never from other singles; an archived stage nothing needs
(SGN, the other AdaSGN stages) is not trained again. A single trained again that way keeps its
archived record (the one the group's archived AdaSGN stages started from; the same recipe and
seed on another device can differ by a sequence or two), and ``archive_kept.json`` in its run
folder holds both top-1 figures. ``archive`` copies what the runs folder has finished and the
archive lacks (or has older, a stage trained by hand since); ``report`` does that first.

``todo`` lists what ``run`` would train with the same arguments (per group: the stages missing,
and the singles a missing AdaSGN stage needs) and what those stages took in the archive, per
device: the plan for a session.

``report`` reads the archive's test.json / scores_test.npz, computes mean and standard
deviation over seeds, adds a 1-NN baseline (nearest training sequence, Euclidean distance between
the evaluation pipeline's inputs), fuses the three streams with ``adasgn ensemble``'s function,
checks the issue's targets, draws the accuracy-GMACs front per set and prints Markdown (paper
Table 1 and Table 3 layouts); with ``--doc`` it replaces each set's generated block in
docs/results.md, and, when every set is asked for, the overview block (the sets side by side,
each set's targets met / not met).
"""

from __future__ import annotations

import argparse
import heapq
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from jobs import adasgn, run_logged  # noqa: E402
from adasgn.commands.ensemble import fuse_scores  # noqa: E402
from adasgn.data.presets import get_preset  # noqa: E402
from adasgn.engine.config import load_config  # noqa: E402
from adasgn.data.dataset import SkeletonDataset  # noqa: E402
from adasgn.engine.data import load_data, run_pipeline  # noqa: E402
from adasgn.engine.plots import tradeoff_plot  # noqa: E402
from adasgn.engine.recipe import adasgn_starts_from, recipe_stages, sweep_stages  # noqa: E402
from adasgn.skeleton import get_layout  # noqa: E402


@dataclass
class StudySet:
    title: str
    config: str
    raw: str  # folder under ../shared/data
    published: list = field(default_factory=list)  # (method, top-1 %, source)
    # sgn / adasgn: minimum top-1 %; sd: max seed sd; within_sgn: AdaSGN (recipe alpha) at most
    # this many points below SGN, at any GMACs
    targets: dict = field(default_factory=dict)


SETS = {
    "msr": StudySet(
        "MSR Action3D, cross-subject (odd subjects train)", "configs/msr/adasgn.yaml", "msr_action3d",
        [("Lie group (SE(3)) + Fourier temporal pyramid", 89.48,
          "Vemulapalli et al., CVPR 2014 (20 actions, cross-subject)")],
        {"sgn": 90.0, "adasgn": 90.0, "sd": 1.5}),
    "fpha": StudySet(
        "FPHA (F-PHAB), the official 1:1 split", "configs/fpha.yaml", "fpha",
        [("Lie group", 82.69, "Garcia-Hernando et al., CVPR 2018 (benchmark paper)"),
         ("Gram matrix", 85.39, "Garcia-Hernando et al., CVPR 2018 (benchmark paper)"),
         ("HPEV / decoupled representation", 90.96, "Liu et al., CVPR 2020"),
         ("ST-TS-HGR-NET", 93.22, "Nguyen et al., CVPR 2019"),
         ("TCN", 95.93, "IROS 2021")],
        {"sgn": 90.96, "adasgn": 93.2}),
    "utd_mhad": StudySet(
        "UTD-MHAD skeletons, cross-subject (odd subjects train)", "configs/utd_mhad.yaml",
        "utd_mhad", [], {"adasgn": 90.0}),
    "penn": StudySet(
        "Penn Action, 2-D joints, the official train / test flag", "configs/penn.yaml",
        "penn_action", [], {"within_sgn": 1.0}),
}
STREAMS = ("joint", "bone", "velocity")


# --amp -> (the runs' folder under --out, the suffix of its doc blocks / figures, its wording)
PRECISIONS = {"bf16": ("study", "", "bf16 autocast (`train.amp=bf16`)"),
              "none": ("study-fp32", "_fp32", "float32")}


def begin(ds: str, amp: str = "bf16") -> str:
    extra = "" if amp == "bf16" else f" --amp {amp}"
    return f"<!-- BEGIN GENERATED: benchmarks/study.py report {ds}{extra} -->"


END = "<!-- END GENERATED -->"


def _out(a) -> Path:
    out = Path(a.out)
    return (out if out.is_absolute() else ROOT / out) / PRECISIONS[a.amp][0]


def sh(argv: list[str], log: Path) -> None:
    t0 = time.time()
    rc = run_logged(argv, log)
    print(f"{'done' if rc == 0 else f'FAILED (exit {rc})'} in {(time.time() - t0) / 60:.1f} min: "
          f"{' '.join(argv[1:6])} (log {log})", flush=True)
    if rc:
        raise subprocess.CalledProcessError(rc, argv)


def _pkl(ds: str) -> Path:
    return ROOT / "data" / f"{ds}.pkl"


def _archive(a) -> Path:
    root = Path(a.archive)
    return (root if root.is_absolute() else ROOT / root) / PRECISIONS[a.amp][0]


# scheduling order of the sets within a seed: the longest first (Penn's stages take the longest),
# so that the last jobs to finish are short ones
LONGEST_FIRST = ("penn", "fpha", "utd_mhad", "msr")
ADA_STAGES = ("adasgn", "rand", "fuse")  # and adasgn_a<alpha>: the stages that need the singles


@dataclass(order=True)
class Job:
    key: tuple
    group: str = field(compare=False)  # <set>-<stream>-s<seed>: one sweep / recipe run folder
    stage: str = field(compare=False)
    argv: list = field(compare=False)


def _finished(root: Path, group: str, stage: str) -> bool:
    """Whether ``root`` (the runs folder or the archive) holds the stage finished."""
    return (root / group / stage / "test.json").is_file()


def plan(a, name: str, first: list[str], later: list[str], needs: list[str]):
    """The stages of one group that ``run`` trains: (first-phase, AdaSGN-phase). A stage is
    trained when neither the runs folder has it finished nor the archive holds it; and when an
    AdaSGN stage is trained, so is every stage it starts from (``needs``: the six singles) that
    the runs folder lacks, archived or not -- the archive keeps no checkpoint."""
    out, arch = _out(a), _archive(a)
    later = [st for st in later if not _finished(out, name, st) and not _finished(arch, name, st)]
    first = [st for st in first if not _finished(out, name, st)
             and (not _finished(arch, name, st) or (later and st in needs))]
    return first, later


def groups(a) -> list[tuple[str, str, list[str], list[str], tuple]]:
    """(group, the sweep / recipe argv without --stages, the first-phase stages to train (SGN,
    singles), the AdaSGN stages to train, its priority) for every (set, stream, seed) asked for
    that has a stage to train (``plan``)."""
    out = _out(a)
    common = ["train.threads=1", f"train.amp={a.amp}", f"out_dir={out}", *a.overrides, "--no-progress"]
    if a.device:
        common.insert(0, f"train.device={a.device}")
    left, seen = [], set()
    streams = STREAMS if a.streams else ("joint",)
    for seed in a.seeds:
        for ds in a.sets:
            cfg = load_config(ROOT / SETS[ds].config, [f"data.path={_pkl(ds)}"])
            layout = get_layout(get_preset(ds).layout)
            for stream in streams:
                name = f"{ds}-{stream}-s{seed}"
                seen.add(name)
                if a.groups and name not in a.groups:
                    continue
                base = [f"name={name}", f"train.seed={seed}", f"data.path={_pkl(ds)}", *common]
                if stream == "joint":
                    argv = adasgn("sweep", SETS[ds].config, *base, "--alphas", *map(str, a.alphas))
                    stages = sweep_stages(cfg, list(a.alphas), True, layout)
                else:
                    argv = adasgn("recipe", SETS[ds].config, f"data.stream={stream}", *base)
                    stages = recipe_stages(cfg, layout)
                later = [st for st in stages if st.startswith(ADA_STAGES)]
                first, later = plan(a, name, [st for st in stages if st not in later], later,
                                    adasgn_starts_from(cfg, layout))
                if not first + later:
                    continue  # done: finished here or archived, on whatever machine it ran
                prio = (stream != "joint", seed, LONGEST_FIRST.index(ds) if ds in LONGEST_FIRST else 9)
                left.append((name, argv, first, later, prio))
    if a.groups and set(a.groups) - seen:
        sys.exit(f"--groups {' '.join(sorted(set(a.groups) - seen))}: not among the groups of "
                 f"--sets / --seeds / streams asked for ({', '.join(sorted(seen))})")
    return sorted(left, key=lambda g: g[4][:2])  # the joint stream first, then seed by seed


def jobs(a, planned=None) -> list[tuple[str, list[str]]]:
    """One command per (set, stream, seed): the group's stages to train in one process (what
    ``--jobs`` runs at a time unless ``--per-stage``); ``planned``: ``groups(a)`` if computed."""
    return [(name, argv + ["--stages", *first, *later])
            for name, argv, first, later, _ in (groups(a) if planned is None else planned)]


def archive_stage(run_dir: Path, dest: Path) -> None:
    """Copy what the report needs of a finished stage into the committed archive: test.json
    (with the training minutes and the device added) and, for SGN and the recipe's AdaSGN (the
    three-stream fusion), scores_test.npz. Checkpoints stay in the runs folder."""
    rep = json.loads((run_dir / "test.json").read_text())
    rep["train_minutes"] = _minutes(run_dir)
    env = run_dir / "env.json"
    if env.is_file():
        rep["device"] = json.loads(env.read_text()).get("device")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "test.json").write_text(json.dumps(rep, indent=1))
    if run_dir.name in ("sgn", "adasgn") and (run_dir / "scores_test.npz").is_file():
        shutil.copy(run_dir / "scores_test.npz", dest / "scores_test.npz")


# in a stage's run folder: trained again only for its checkpoints (a missing AdaSGN stage of its
# group starts from it), so its archived record is kept -- the one the group's archived AdaSGN
# stages started from; the file holds both top-1 figures
KEPT = "archive_kept.json"


def settle(a, group: str, stage: str) -> bool:
    """A stage ``run`` trained has finished: archive it (True), or, if the archive holds it
    already (a single trained again for its checkpoints), keep the archived record and write
    both top-1 figures to ``KEPT`` in the run folder (False)."""
    run_dir, dest = _out(a) / group / stage, _archive(a) / group / stage
    if not _finished(_archive(a), group, stage):
        archive_stage(run_dir, dest)
        return True
    old = json.loads((dest / "test.json").read_text())
    new = json.loads((run_dir / "test.json").read_text())
    (run_dir / KEPT).write_text(json.dumps({"archived_top1": old.get("top1"),
                                            "archived_device": old.get("device"),
                                            "this_run_top1": new.get("top1")}, indent=1))
    return False


def archive(a) -> int:
    """Archive every finished stage under the runs folder that the archive lacks or has older
    (a stage trained by hand since), but for a stage ``settle`` kept the archived record of."""
    out, arch = _out(a), _archive(a)
    n = 0
    for p in sorted(out.glob("*/*/test.json")):
        dest = arch / p.parent.parent.name / p.parent.name
        if not (dest / "test.json").is_file() or (
                (dest / "test.json").stat().st_mtime < p.stat().st_mtime
                and not (p.parent / KEPT).is_file()):
            archive_stage(p.parent, dest)
            n += 1
    return n


def run(a) -> None:
    for ds in a.sets:
        if not _pkl(ds).is_file():
            subprocess.run(adasgn("prepare", ds, "--raw", str(Path(a.shared) / SETS[ds].raw),
                                  "--out", str(_pkl(ds)), "--no-progress"), check=True, cwd=ROOT)
    out = _out(a)
    out.mkdir(parents=True, exist_ok=True)
    if not a.per_stage:
        planned = groups(a)
        todo = jobs(a, planned)
        with ThreadPoolExecutor(max_workers=a.jobs) as pool:
            futures = [pool.submit(sh, argv, out / f"{name}.log") for name, argv in todo]
        failed = [name for (name, _), fut in zip(todo, futures) if fut.exception() is not None]
        for name, _, first, later, _ in planned:
            for st in first + later:
                if _finished(out, name, st):
                    settle(a, name, st)
    else:
        failed = run_per_stage(a, out)
    print(f"archived {archive(a)} stage(s) into {_archive(a)}", flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see their logs in {out})")


def run_per_stage(a, out: Path) -> list[str]:
    """Every stage its own process, ``--jobs`` at a time: SGN and the singles of every group are
    ready at once, a group's AdaSGN stages once its singles finished; joint stream first, then
    seed by seed. Only the stages ``plan`` names are started; each one is settled (archived, or
    its archived record kept) when done."""
    ready: list[Job] = []
    waiting = {}  # group -> (first-phase stages still to finish, its AdaSGN jobs)
    failed = []
    for name, argv, first, later, prio in groups(a):
        def job(stage, phase):
            return Job((*prio, -phase, stage), name, stage, argv + ["--stages", stage])
        ready += [job(st, 0) for st in first]
        if first:
            waiting[name] = (set(first), [job(st, 1) for st in later])
        else:
            ready += [job(st, 1) for st in later]
    heapq.heapify(ready)
    running = {}
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        while ready or running:
            while ready and len(running) < a.jobs:
                j = heapq.heappop(ready)
                running[pool.submit(sh, j.argv, out / f"{j.group}.{j.stage}.log")] = j
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                j = running.pop(fut)
                if fut.exception() is not None:
                    failed.append(f"{j.group}/{j.stage}")
                    waiting.pop(j.group, None)  # its AdaSGN stages cannot start
                    continue
                settle(a, j.group, j.stage)
                if j.group in waiting:
                    left, later = waiting[j.group]
                    left.discard(j.stage)
                    if not left:
                        for x in waiting.pop(j.group)[1]:
                            heapq.heappush(ready, x)
    return failed


def _set_of(group: str) -> str:
    """The set of a group folder name <set>-<stream>-s<seed> (set names hold no '-')."""
    return group.split("-")[0]


def todo(a) -> dict:
    """What ``run`` would train with these arguments (``plan``: per group, the stages to train,
    and how many of them the archive holds already -- singles trained again for their
    checkpoints) and the training minutes the same (set, stage) took in the archive: the median
    per device (the CPU: one torch thread; the GPU: about 15 stages sharing it). A stage never
    run on a device counts as unknown there (None)."""
    arch = _archive(a)
    took: dict = {}  # (set, stage, device) -> [minutes]
    for p in arch.glob("*/*/test.json"):
        r = json.loads(p.read_text())
        if r.get("train_minutes") is not None:
            took.setdefault((_set_of(p.parent.parent.name), p.parent.name, _device(r)),
                            []).append(r["train_minutes"])
    rows = []
    for name, _, first, later, _ in groups(a):
        stages = first + later
        row = {"group": name, "stages": len(stages),
               "again": sum(_finished(arch, name, st) for st in stages)}
        for dev in ("CPU", "GPU"):
            m = [took.get((_set_of(name), st, dev)) for st in stages]
            row[f"{dev.lower()}_minutes"] = (None if None in m
                                             else round(sum(float(np.median(x)) for x in m), 1))
        rows.append(row)
    total = {k: (None if any(r[k] is None for r in rows) else round(sum(r[k] for r in rows), 1))
             for k in ("cpu_minutes", "gpu_minutes")}
    return {"groups": rows, "stages": sum(r["stages"] for r in rows), **total}


def todo_text(t: dict) -> str:
    def f(x):
        return "?" if x is None else f"{x:.1f}"
    lines = [f"{'group':24s} {'stages':>6s} {'again':>8s} {'CPU min':>8s} {'GPU min':>8s}"]
    lines += [f"{r['group']:24s} {r['stages']:6d} {r['again']:8d} {f(r['cpu_minutes']):>8s} "
              f"{f(r['gpu_minutes']):>8s}" for r in t["groups"]]
    lines.append(f"{'total':24s} {t['stages']:6d} {'':8s} {f(t['cpu_minutes']):>8s} {f(t['gpu_minutes']):>8s}")
    lines.append("(stages: to train; again: of those, archived already -- singles an AdaSGN stage "
                 "starts from; training minutes summed over the stages, medians of the archive's runs "
                 "of the same set and stage: CPU = one torch thread each, GPU = ~15 stages sharing "
                 "one; ? = never run there)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- report


def _load(out: Path, ds: str, stream: str, seeds) -> dict:
    """stage -> list of test reports over the seeds that finished it."""
    res: dict = {}
    for seed in seeds:
        for p in sorted((out / f"{ds}-{stream}-s{seed}").glob("*/test.json")):
            r = json.loads(p.read_text())
            res.setdefault(p.parent.name, []).append(r)
    return res


def _device(r: dict) -> str:
    """Where a run trained: "GPU" or "CPU" (older archives: not recorded)."""
    d = str(r.get("device") or "")
    return "GPU" if d.startswith("cuda") else "CPU" if d == "cpu" else "an unrecorded device"


def _devices(streams: dict) -> str:
    n = Counter(_device(r) for v in streams.values() for rs in v.values() for r in rs)
    if not n:
        return ""
    return ", " + " and ".join(f"{c} runs on the {d}" if d in ("GPU", "CPU") else f"{c} on {d}"
                               for d, c in sorted(n.items()))


def _sd(values) -> float:
    """Sample standard deviation over seeds; 0 for a single run."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _ms(values, digits: int = 2) -> str:
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return "--"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"


def _epochs(runs: list) -> str:
    return " / ".join(str(r.get("selected_epoch", "?")) for r in sorted(runs, key=lambda r: r.get("seed", 0)))


def _minutes(run_dir: str) -> float:
    p = Path(run_dir) / "metrics.jsonl"
    if not p.is_file():
        return float("nan")
    return sum(json.loads(x).get("time_s", 0.0) for x in p.read_text().splitlines() if x.strip()) / 60


def nearest_neighbour(ds: str) -> dict:
    """1-NN on the evaluation pipeline's inputs (20 uniformly sampled frames, the set's
    normalisation): each test sequence takes the label of the nearest training sequence."""
    cfg = load_config(ROOT / SETS[ds].config, [f"data.path={_pkl(ds)}", "data.val_fraction=0.0",
                                               "train.select_on=test"])
    rd = load_data(cfg)
    pipe = run_pipeline(cfg, rd.layout.name, train=False)

    def matrix(split):  # the pkl's split (FPHA's is called "train" / "val": not the run's roles)
        d = SkeletonDataset(rd.source, split, pipe)
        x = np.stack([d[i][0].numpy().reshape(-1) for i in range(len(d))]).astype(np.float64)
        return x, np.asarray(d.labels)

    xtr, ytr = matrix(cfg.data.train_split)
    xte, yte = matrix(cfg.data.test_split)
    d2 = (xte ** 2).sum(1)[:, None] - 2 * xte @ xtr.T + (xtr ** 2).sum(1)[None, :]
    pred = ytr[d2.argmin(1)]
    return {"top1": float((pred == yte).mean()), "n_train": len(ytr), "n_test": len(yte)}


def front(points: list[tuple[float, float]]):
    """The singles' accuracy-GMACs front: for a cost g, the best accuracy of a single at <= g."""
    def best_at(g: float) -> float:
        ok = [acc for cost, acc in points if cost <= g + 1e-12]
        return max(ok) if ok else -np.inf
    return best_at


def _choice(size: str, joints: int) -> str:
    """small, 9 -> S-9 (the paper's shorthand, as ``Choice.name``)."""
    return f"{size[0].upper()}-{joints}"


def _choices(ds: str) -> list[str]:
    return [_choice(s, j) for j in get_layout(get_preset(ds).layout).joint_choices for s in ("small", "big")]


def section(a, ds: str, out: Path) -> tuple[list[str], dict]:
    st = SETS[ds]
    streams = {s: _load(out, ds, s, a.seeds) for s in STREAMS}
    joint = streams["joint"]
    full = get_layout(get_preset(ds).layout).num_joints
    seeds_done = sorted({r["seed"] for rs in joint.values() for r in rs if "seed" in r})
    summary: dict = {"set": ds, "seeds": seeds_done}
    lines = [begin(ds, a.amp), "", f"Seeds finished: {seeds_done or 'none'}; mean ± sd over seeds; the test "
             "split evaluated once per run, with the checkpoint chosen on validation data carved "
             f"from the training split; trained with {PRECISIONS[a.amp][2]}"
             f"{_devices(streams)}.", ""]
    if not joint:
        return lines + ["No finished run yet.", "", END], summary
    acc = {k: [100 * r["top1"] for r in v] for k, v in joint.items()}
    gm = {k: float(np.mean([r["gmacs"] for r in v])) for k, v in joint.items()}
    mean = {k: float(np.mean(v)) for k, v in acc.items()}
    summary["stages"] = {k: {"top1": mean[k], "top1_sd": _sd(acc[k]), "gmacs": gm[k], "runs": len(acc[k])}
                         for k in acc}
    nn = nearest_neighbour(ds) if a.nn else None
    lines += ["#### SGN and single models (paper Table 1 layout), joint stream", "",
              "| model | #joints | size | top-1 % | GMACs | runs | selected epochs |",
              "|---|---|---|---|---|---|---|"]
    if nn:
        summary["nn"] = nn
        lines.append(f"| 1-NN (raw joints) | {full} | -- | {100 * nn['top1']:.2f} | 0 | 1 | -- |")
    if "sgn" in joint:
        lines.append(f"| SGN | {full} | big | {_ms(acc['sgn'])} | {gm['sgn']:.4f} | {len(acc['sgn'])} | "
                     f"{_epochs(joint['sgn'])} |")
    singles = []
    for size in ("small", "big"):
        for j in sorted({int(k[len(f'single_{size}'):]) for k in joint if k.startswith(f"single_{size}")},
                        reverse=True):
            k = f"single_{size}{j}"
            singles.append((gm[k], mean[k]))
            summary["stages"][k]["name"] = _choice(size, j)
            lines.append(f"| SGN* | {j} | {size} | {_ms(acc[k])} | {gm[k]:.4f} | {len(acc[k])} | "
                         f"{_epochs(joint[k])} |")
    choices = _choices(ds)
    ada = sorted((k for k in joint if k.startswith("adasgn") or k in ("rand", "fuse")),
                 key=lambda k: (k in ("rand", "fuse"), joint[k][0].get("alpha") or 0, k))
    lines += ["", "#### AdaSGN (paper Table 3 layout), joint stream", "",
              "| alpha | top-1 % | GMACs | " + " | ".join(choices) + " | runs | selected epochs |",
              "|---|---|---|" + "---|" * len(choices) + "---|---|"]
    for k in ada:
        runs = joint[k]
        use = {c: np.mean([100 * (r.get("usage") or {}).get(c, 0.0) for r in runs]) for c in choices}
        label = k if k in ("rand", "fuse") else f"{runs[0]['alpha']:g}" + (" (recipe)" if k == "adasgn" else "")
        lines.append(f"| {label} | {_ms(acc[k])} | {_ms([r['gmacs'] for r in runs], 4)} | "
                     + " | ".join(f"{use[c]:.1f}" for c in choices) + f" | {len(runs)} | {_epochs(runs)} |")
    # three streams
    lines += ["", "#### One and three streams", "",
              "| model | joint | bone | velocity | 3s fused (equal weights) | GMACs 1s / 3s | seeds |",
              "|---|---|---|---|---|---|---|"]
    for model, stage in (("SGN", "sgn"), ("AdaSGN", "adasgn")):
        accs = {s: [100 * r["top1"] for r in streams[s].get(stage, [])] for s in STREAMS}
        fused, g1, g3 = [], [], []
        for seed in a.seeds:
            paths = [out / f"{ds}-{s}-s{seed}" / stage / "scores_test.npz" for s in STREAMS]
            if all(p.is_file() for p in paths):
                rep = fuse_scores([str(p) for p in paths])
                fused.append(100 * rep["top1"])
                g3.append(rep["gmacs_sum"] or 0.0)
                g1.append(float(np.load(paths[0])["gmacs"].mean()))
        cost = f"{np.mean(g1):.4f} / {np.mean(g3):.4f}" if fused else "--"
        if fused:
            summary.setdefault("fused", {})[stage] = {
                "top1": float(np.mean(fused)), "top1_sd": _sd(fused), "gmacs": float(np.mean(g3)),
                "seeds": len(fused)}
        lines.append(f"| {model} | {_ms(accs['joint'])} | {_ms(accs['bone'])} | {_ms(accs['velocity'])} | "
                     f"{_ms(fused)} | {cost} | {len(fused)} |")
    if st.published:
        lines += ["", "Published figures on this protocol (pose only, as reported by their authors):", ""]
        lines += [f"* {m}: {v:.2f} % ({src})" for m, v, src in st.published]
    lines += targets(st, mean, gm, acc, joint, singles, nn, summary)
    # run time
    for dev in sorted({_device(r) for v in streams.values() for rs in v.values() for r in rs}):
        per = [(s, k, float(np.nanmean(m)), len(m)) for s in STREAMS for k, v in sorted(streams[s].items())
               if (m := [r.get("train_minutes", np.nan) for r in v if _device(r) == dev])]
        total = sum(m * n for _, _, m, n in per)
        lines += ["", f"Training time on {dev} (epochs' time_s in metrics.jsonl): {total:.0f} min over "
                  f"{sum(n for *_, n in per)} runs; per stage (mean over its runs there): "
                  + ", ".join(f"{s}/{k} {m:.1f}" for s, k, m, _ in per) + "."]
    agg = {k: {"top1": mean[k] / 100, "top1_std": summary["stages"][k]["top1_sd"] / 100,
               "gmacs": gm[k], "gmacs_std": _sd([r["gmacs"] for r in joint[k]]), "n": len(joint[k]),
               **({"alpha": joint[k][0]["alpha"]} if joint[k][0].get("alpha") is not None else {})}
           for k in joint}
    png = tradeoff_plot(agg, ROOT / "docs" / "figures" / f"{ds}_tradeoff{PRECISIONS[a.amp][1]}.png",
                        title=f"{st.title}\naccuracy vs compute (mean ± sd over seeds)")
    lines += ["", f"![{ds} trade-off]({png.relative_to(ROOT / 'docs').as_posix()})", "", END]
    return lines, summary


def targets(st, mean, gm, acc, joint, singles, nn, summary) -> list[str]:
    out = ["", "#### Targets (on the seed means)", ""]
    checks, names = {}, []  # key -> met (the JSON summary); (what the target says, met)
    t = st.targets
    for key, label in (("sgn", "SGN"), ("adasgn", "AdaSGN (recipe alpha)")):
        if key in t and key in mean:
            checks[f"{key}>={t[key]}"] = mean[key] >= t[key]
            names.append((f"{label.split()[0]} >= {t[key]} %", mean[key] >= t[key]))
            out.append(f"* {label} >= {t[key]} %: **{mean[key]:.2f} %** -- "
                       f"{'met' if mean[key] >= t[key] else 'NOT met'}.")
    if "sd" in t:
        sds = {k: float(np.std(acc[k], ddof=1)) for k in ("sgn", "adasgn") if len(acc.get(k, [])) > 1}
        if sds:
            ok = all(v <= t["sd"] for v in sds.values())
            checks["sd"] = ok
            names.append((f"seed sd <= {t['sd']:g}", ok))
            out.append(f"* seed sd <= {t['sd']} points: " + ", ".join(f"{k} {v:.2f}" for k, v in sds.items())
                       + f" -- {'met' if ok else 'NOT met'}.")
    if "within_sgn" in t and "sgn" in mean and "adasgn" in mean:
        ok = mean["adasgn"] >= mean["sgn"] - t["within_sgn"]
        checks["within_sgn"] = ok
        names.append((f"AdaSGN within {t['within_sgn']:g} point of SGN", ok))
        out.append(f"* AdaSGN (recipe alpha) within {t['within_sgn']:g} point of SGN: **{mean['adasgn']:.2f} %** "
                   f"vs {mean['sgn']:.2f} % ({mean['adasgn'] - mean['sgn']:+.2f}) -- {'met' if ok else 'NOT met'}.")
    ada = [k for k in mean if k.startswith("adasgn")]
    if "sgn" in mean and ada:
        ok = [k for k in ada if mean[k] >= mean["sgn"] - 1 and gm[k] <= 0.5 * gm["sgn"]]
        checks["within1_at_half"] = bool(ok)
        names.append(("within 1 point of SGN at <= 50 % of its GMACs", bool(ok)))
        out.append("* AdaSGN within 1 point of SGN or better at <= 50 % of its GMACs: "
                   + (", ".join(f"alpha {joint[k][0]['alpha']:g} {mean[k]:.2f} % at "
                                f"{100 * gm[k] / gm['sgn']:.0f} %" for k in ok) or "none")
                   + f" (SGN {mean['sgn']:.2f} % at {gm['sgn']:.4f}) -- {'met' if ok else 'NOT met'}.")
    if "rand" in mean and ada:
        beat = [k for k in ada if mean[k] > mean["rand"] and gm[k] <= gm["rand"]]
        checks["beats_rand"] = bool(beat)
        names.append(("adaptive beats rand", bool(beat)))
        out.append(f"* adaptive beats rand ({mean['rand']:.2f} % at {gm['rand']:.4f}) at equal or lower "
                   "GMACs: " + (", ".join(f"alpha {joint[k][0]['alpha']:g} ({mean[k]:.2f} % at {gm[k]:.4f})"
                                         for k in beat) or "none") + f" -- {'met' if beat else 'NOT met'}.")
    if len(singles) == 6 and ada:
        best_at = front(singles)
        on = {k: mean[k] - best_at(gm[k]) for k in ada}
        checks["on_front"] = {k: v >= 0 for k, v in on.items()}
        above = sorted(joint[k][0]["alpha"] for k, v in on.items() if v >= 0)
        every = len(above) == len(on)
        names.append(("on or above the singles' front for every alpha"
                      + (f" (alpha {', '.join(f'{x:g}' for x in above)} on it)" if above and not every
                         else ""), every))
        out.append("* AdaSGN on or above the singles' front (its accuracy minus the best single at "
                   "no more GMACs): " + ", ".join(f"alpha {joint[k][0]['alpha']:g} {v:+.2f}"
                                                 for k, v in sorted(on.items(), key=lambda kv: joint[kv[0]][0]['alpha']))
                   + f" -- {'met' if all(v >= 0 for v in on.values()) else 'NOT met for all'}.")
    if nn and "sgn" in mean:
        out.append(f"* 1-NN baseline {100 * nn['top1']:.2f} %; SGN {mean['sgn'] - 100 * nn['top1']:+.2f} points"
                   + (f", AdaSGN {mean['adasgn'] - 100 * nn['top1']:+.2f}" if "adasgn" in mean else "") + ".")
    summary["targets"] = checks
    summary["target_names"] = names
    return out


def overview(summaries: list[dict], amp: str = "bf16") -> list[str]:
    """The four studies side by side (joint stream; 3s: the three-stream fusion) and every set's
    targets, from ``section``'s summaries: the doc's first table."""
    def ms(x):
        return f"{x['top1']:.2f} ± {x['top1_sd']:.2f}"
    lines = [begin("overview", amp), "",
             "Mean ± sd over the seeds finished (top-1 %, test split evaluated once per run), GMACs "
             "per sequence after `@`; joint stream unless 3s (the three streams fused).", "",
             "| set | seeds | 1-NN | SGN | best single | AdaSGN (recipe alpha) | rand | 3s SGN | 3s AdaSGN |",
             "|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for sm in summaries:
        stg, ds = sm.get("stages"), sm["set"]
        if not stg or "sgn" not in stg:
            continue
        singles = [k for k in stg if k.startswith("single_")]
        best = max(singles, key=lambda k: stg[k]["top1"]) if singles else None
        fused = sm.get("fused", {})

        def cell(x, ref=None):
            if x is None:
                return "--"
            share = f" ({100 * x['gmacs'] / ref:.0f} %)" if ref else ""
            return f"{ms(x)} @ {x['gmacs']:.4f}{share}"
        row = [ds, str(len(sm["seeds"])), f"{100 * sm['nn']['top1']:.2f}" if sm.get("nn") else "--",
               cell(stg["sgn"]), f"{stg[best]['name']} {cell(stg[best])}" if best else "--",
               cell(stg.get("adasgn"), stg["sgn"]["gmacs"]), cell(stg.get("rand")),
               cell(fused.get("sgn")), cell(fused.get("adasgn"), (fused.get("sgn") or {}).get("gmacs"))]
        lines.append("| " + " | ".join(row) + " |")
        names = sm.get("target_names", [])
        met = [n for n, ok in names if ok]
        missed = [n for n, ok in names if not ok]
        verdicts.append(f"* {ds}: met {len(met)} of {len(names)}"
                        + (f" ({'; '.join(met)})" if met else "")
                        + (f"; NOT met: {'; '.join(missed)}" if missed else "") + ".")
    lines += ["", "(%): GMACs as a share of SGN's (3s: of SGN's three streams). Targets (issue 12; "
              "each set's section gives the figures):", "", *verdicts, "", END]
    return lines


def report(a) -> str:
    archive(a)  # what the runs folder has finished and the archive lacks
    out = _archive(a)
    texts, summaries = [], []
    for ds in a.sets:
        lines, summary = section(a, ds, out)
        texts.append((ds, "\n".join(lines)))
        summaries.append(summary)
    if set(a.sets) == set(SETS):  # every set: the overview block too
        texts.insert(0, ("overview", "\n".join(overview(summaries, a.amp))))
    if a.doc:
        doc = Path(a.doc)
        body = doc.read_text()
        for ds, text in texts:
            if begin(ds, a.amp) in body:
                i = body.index(begin(ds, a.amp))
                body = body[:i] + text + body[body.index(END, i) + len(END):]
            elif ds in SETS:  # the overview goes only where the doc has its block
                body += f"\n## {SETS[ds].title}\n\n{text}\n"
        doc.write_text(body)
    if a.json:
        return json.dumps(summaries, indent=2)
    return "\n\n".join(f"### {SETS[ds].title if ds in SETS else 'All sets'}\n\n{t}" for ds, t in texts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["run", "report", "archive", "todo"])
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--alphas", type=float, nargs="+", default=[1, 16],
                   help="besides the recipe's own alpha (configs/small.yaml)")
    p.add_argument("--no-streams", dest="streams", action="store_false",
                   help="joint stream only (no bone / velocity recipes)")
    p.add_argument("--groups", nargs="+", default=None, metavar="SET-STREAM-sSEED",
                   help="run only these groups of the sets / seeds / streams asked for "
                        "(e.g. fpha-joint-s2 msr-bone-s3)")
    p.add_argument("--amp", choices=list(PRECISIONS), default="bf16",
                   help="training precision (default bf16: CPU autocast, 2.1x faster here with the "
                        "same inner-split accuracy; none = float32, runs in <out>/study-fp32)")
    p.add_argument("--out", default="runs")
    p.add_argument("--jobs", type=int, default=2, help="commands run at once, one torch thread each")
    p.add_argument("--per-stage", action="store_true",
                   help="one process per stage instead of per sweep / recipe: more parallel work "
                        "(SGN and the singles at once, a group's AdaSGN stages once its singles "
                        "finished) for a machine with many cores or a GPU")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="train.device of every run (default: the config's, auto)")
    p.add_argument("--overrides", nargs="+", default=[], metavar="KEY=VALUE",
                   help="appended to every command (a smoke test: train.epochs=2 ...); the study "
                        "itself uses none")
    p.add_argument("--archive", default="benchmarks/results",
                   help="the committed archive of finished stages (test.json, SGN / AdaSGN test "
                        "scores) that report reads: the runs folder is not kept")
    p.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--doc", default=None)
    p.add_argument("--no-nn", dest="nn", action="store_false", help="skip the 1-NN baseline")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.action == "run":
        run(a)
    elif a.action == "archive":
        print(f"archived {archive(a)} stage(s) into {_archive(a)}")
    elif a.action == "todo":
        t = todo(a)
        print(json.dumps(t, indent=1) if a.json else todo_text(t))
    else:
        print(report(a))


if __name__ == "__main__":
    main()
