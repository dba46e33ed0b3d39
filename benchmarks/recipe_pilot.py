"""Choosing the small-data recipe on training data only (issue 12 item 3).

::

    python benchmarks/recipe_pilot.py run [--sets msr utd_mhad fpha] [--jobs 2]   # resumable
    python benchmarks/recipe_pilot.py report [--json]
    python benchmarks/recipe_pilot.py adasgn --sets msr [--ada-variants a16 ...]  # the AdaSGN stage, per variant
    python benchmarks/recipe_pilot.py report-adasgn --sets msr
    python benchmarks/recipe_pilot.py select-adasgn   # which epoch to keep after unfreezing
    python benchmarks/recipe_pilot.py forced --sets msr   # each AdaSGN forced onto one branch

Every decision of ``configs/small.yaml`` -- which augmentations are on, which epoch is kept --
is made here, on an **inner split of each dataset's training split**; the real test split is
never read. Inner splits (written to ``data/pilot/<set>.pkl``):

* MSR Action3D: training subjects 1, 3, 5 -> inner train, 7, 9 -> inner test (cross-subject, like
  the real protocol);
* UTD-MHAD: training subjects 1, 3 -> inner train, 5, 7 -> inner test;
* FPHA: the 600 training sequences halved at random per class (seeded), like the official 1:1
  split.

Each variant trains SGN with the schedule of ``configs/small.yaml`` (60 epochs, x0.1 at 30 / 45 /
55, batch 32), 10 % of the inner train held out as validation, and ``train.monitor=[test]``: the
inner test is evaluated at every epoch and logged, never selected on. So one run answers two
questions: (1) does an augmentation help (inner-test accuracy of the last epoch), (2) which
selection rule (``train.select``: earliest best top-1, top-1 with a loss tie-break, lowest loss,
last epoch) picks the better epoch, each rule replayed on the validation curve and scored on the
inner-test curve.

Variants: ``none`` and ``all`` (rotate, scale, shear, mirror, crop together, with the default
strengths of ``adasgn.data.dataset.augment_steps``), each also with ``data.normalize=frame``
(``frame``, ``frame_all``: every frame centred on itself, the streamable normalisation) on every
set; then ``all`` with one augmentation left out (``no_crop`` ...) on the sets of
``--single-sets`` (default MSR): does each step help within the combination? Runs live in
``runs/recipe-pilot/`` (git-ignored); a finished run (its ``test.json``) is not redone.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from adasgn.data.pkl import load_pkl, save_pkl  # noqa: E402
from adasgn.engine.config import load_config  # noqa: E402
from adasgn.engine.data import load_data  # noqa: E402
from adasgn.engine.run import load_run  # noqa: E402
from adasgn.engine.recipe import single_stages  # noqa: E402
from adasgn.engine.trainer import selection_key  # noqa: E402
from jobs import adasgn, run_logged  # noqa: E402

OUT = ROOT / "runs" / "recipe-pilot"
PILOT = ROOT / "data" / "pilot"
SETS = {  # set -> (config, extra overrides, source pkl, training split)
    "msr": ("configs/msr/sgn.yaml", [], "data/msr.pkl", "xsub_train"),
    "utd_mhad": ("configs/utd_mhad.yaml", ["model.name=sgn", "model.options={}"], "data/utd_mhad.pkl", "xsub_train"),
    "fpha": ("configs/fpha.yaml", ["model.name=sgn"], "data/fpha.pkl", "train"),
}
ALL = ["crop", "mirror", "rotate", "scale", "shear"]
VARIANTS = {"none": [], "all": ALL, "frame": [], "frame_all": ALL,
            "frame_recipe": ["scale", "shear", "crop"],  # configs/small.yaml's final choice
            "frame_recipe_bf16": ["scale", "shear", "crop"],  # the same under CPU bf16 autocast
            **{f"no_{a}": [b for b in ALL if b != a] for a in ALL}}  # leave one out
BROAD = ("none", "all", "frame", "frame_all", "frame_recipe")  # tried on every set
# the normalisation of every variant is explicit: configs/small.yaml's own may change
EXTRA = {v: ["data.normalize=frame" if v.startswith("frame") else "data.normalize=none"] for v in VARIANTS}
EXTRA["frame_recipe_bf16"].append("train.amp=bf16")
SCHEDULE = ["train.epochs=60", "train.milestones=[30,45,55]", "train.batch_size=32",
            "data.val_fraction=0.1"]
RULES = ("top1", "top1_loss", "loss", "last")


def _subject(name: str) -> int:
    m = re.search(r"_s(\d+)_", name)
    if not m:
        raise ValueError(f"no subject in {name!r}")
    return int(m.group(1))


def inner_split(ds: str) -> Path:
    """Write (once) the inner pkl of ``ds``: splits inner_train / inner_test of its training split."""
    out = PILOT / f"{ds}.pkl"
    if out.is_file():
        return out
    _, _, src, train_split = SETS[ds]
    data = load_pkl(ROOT / src)
    names = list(data["split"][train_split])
    if ds == "msr":
        inner = [n for n in names if _subject(n) in (1, 3, 5)]
    elif ds == "utd_mhad":
        inner = [n for n in names if _subject(n) in (1, 3)]
    else:  # half of every class, seeded
        label = {a["frame_dir"]: a["label"] for a in data["annotations"]}
        rng = np.random.default_rng(0)
        inner = []
        for c in sorted({label[n] for n in names}):
            members = [n for n in names if label[n] == c]
            rng.shuffle(members)
            inner += members[: (len(members) + 1) // 2]
    keep = set(names)
    inner_set = set(inner)
    anns = [a for a in data["annotations"] if a["frame_dir"] in keep]
    PILOT.mkdir(parents=True, exist_ok=True)
    save_pkl(out, anns, {"inner_train": [n for n in names if n in inner_set],
                         "inner_test": [n for n in names if n not in inner_set]},
             {**data["meta"], "note": f"recipe pilot: inner split of {src}:{train_split}"})
    return out


def _name(ds: str, variant: str, seed: int) -> str:
    return f"{ds}-{variant}-s{seed}"


def _job(ds: str, variant: str, seed: int) -> str:
    name = _name(ds, variant, seed)
    if (OUT / name / "test.json").is_file():
        return f"{name}: done earlier"
    cfg, extra, _, _ = SETS[ds]
    aug = "[" + ",".join(VARIANTS[variant]) + "]"
    rc = run_logged(adasgn("train", str(ROOT / cfg), *extra, *SCHEDULE, *EXTRA[variant],
                           *_inner(ds, seed), f"data.augment={aug}", f"name={name}", "--resume",
                           "--no-progress"), OUT / f"{name}.log")
    return f"{name}: rc {rc}"


def _inner(ds: str, seed: int) -> list[str]:
    """Overrides that train on the inner split of ``ds`` and log its inner test every epoch."""
    return [f"data.path={PILOT / (ds + '.pkl')}", "data.train_split=inner_train",
            "data.test_split=inner_test", "train.monitor=[test]", f"train.seed={seed}",
            "train.threads=1", f"out_dir={OUT}"]


def run(sets, variants, seeds, jobs: int, single_sets) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for ds in sets:
        inner_split(ds)
    # the broad question first (none / all, with and without per-frame centring, on every set),
    # then leave-one-out on the sets in --single-sets (2 cores: each run takes minutes)
    tasks = [(ds, v, s) for s in seeds for v in variants if v in BROAD for ds in sets]
    tasks += [(ds, v, s) for s in seeds for v in variants if v not in BROAD
              for ds in sets if ds in single_sets]
    with ThreadPoolExecutor(jobs) as ex:
        for msg in ex.map(lambda t: _job(*t), tasks):
            print(msg, flush=True)


# the AdaSGN pilot: the policy's initialisation, and uniform exploration in the frozen phase
# and the efficiency loss's weight (alpha, against the recipe's 4), the temporal module and head
# taken from the full-joint big single instead of trained from scratch (``adasgn.take_temporal``),
# the auxiliary loss of every branch alone (``branch_loss``)
ADA_VARIANTS = {
    "random": ["model.options={policy_init: random}"],
    "zero": ["model.options={policy_init: zero}"],
    "explore": ["model.options={policy_init: random, explore_epochs: 15}"],
    "a1": ["model.options={policy_init: random}", "adasgn.alpha=1"],
    "a16": ["model.options={policy_init: random}", "adasgn.alpha=16"],
    "temporal": ["model.options={policy_init: random}", "adasgn.take_temporal=true"],
    # every branch alone through the shared temporal module and head as an auxiliary loss
    "branch": ["model.options={policy_init: random, branch_loss: 1.0}"],
    "branch_a16": ["model.options={policy_init: random, branch_loss: 1.0}", "adasgn.alpha=16"],
    "branch_zero": ["model.options={policy_init: zero, branch_loss: 1.0}"],
    "temporal_branch": ["model.options={policy_init: random, branch_loss: 1.0}",
                        "adasgn.take_temporal=true"],
    # the recipe's AdaSGN stage (temporal) under CPU bf16 autocast, from the same fp32 singles
    "temporal_bf16": ["model.options={policy_init: random}", "adasgn.take_temporal=true",
                      "train.amp=bf16"],
    # every branch usable through the shared module (branch_loss) and, with --policy-fraction,
    # a policy that picks among them on held-out sequences
    "temporal_branch_bf16": ["model.options={policy_init: random, branch_loss: 1.0}",
                             "adasgn.take_temporal=true", "train.amp=bf16"],
    # the temporal module and head from the single with the lowest validation loss instead of the
    # full big one (adasgn.take_temporal=best): on MSR / UTD-MHAD the small 9-joint single is the
    # best model, and a policy started from the full big single's temporal module settles on
    # S-1 + B-full (docs/results.md, "The AdaSGN part")
    "temporal_best_bf16": ["model.options={policy_init: random}", "adasgn.take_temporal=best",
                           "train.amp=bf16"],
    # ... from the small single of the middle joint choice (S-9 / S-11 / S-7), the best single on
    # every inner split
    "temporal_smid_bf16": ["model.options={policy_init: random}", "adasgn.take_temporal=2",
                           "train.amp=bf16"],
}


def _ada_root(ds: str, seed: int, amp: str = "none", policy_fraction: float = 0.0) -> str:
    """The AdaSGN pilot's folder under OUT (float32 singles: no suffix, the first runs; a
    policy part of the training split: ``-pf<percent>``, its singles trained without it)."""
    return (f"{ds}-ada-s{seed}" + ("" if amp == "none" else f"-{amp}")
            + (f"-pf{round(100 * policy_fraction)}" if policy_fraction else ""))


def run_adasgn(ds: str, seed: int, jobs: int, variants=tuple(ADA_VARIANTS), amp: str = "none",
               policy_fraction: float = 0.0) -> None:
    """The AdaSGN part of the recipe on the inner split of ``ds``: the six singles once (the
    recipe's singles stage, ``jobs`` at a time, in precision ``amp``; ``none`` = float32, as the
    pilot's first runs), then AdaSGN from them once per variant, side by side; every stage logs
    the inner test (``train.monitor``). ``policy_fraction``: ``data.policy_fraction`` for every
    stage (the singles never see the policy's part). Resumable like the rest."""
    inner_split(ds)
    root = _ada_root(ds, seed, amp, policy_fraction)
    ada_cfg = str(ROOT / ("configs/msr/adasgn.yaml" if ds == "msr" else SETS[ds][0]))
    inner = [*_inner(ds, seed), f"data.policy_fraction={policy_fraction}"]
    cfg = load_config(ada_cfg, [f"name={root}", *inner])
    OUT.mkdir(parents=True, exist_ok=True)
    stages = [st for st, _, _ in single_stages(cfg)]

    def single(stage: str) -> None:  # adasgn recipe --stages: resumable, one process each
        run_logged(adasgn("recipe", ada_cfg, f"name={root}", *inner, f"train.amp={amp}",
                          "--stages", stage, "--no-progress"), OUT / f"{root}-{stage}.log", check=True)

    with ThreadPoolExecutor(jobs) as ex:
        list(ex.map(single, stages))
    singles = [str(OUT / root / st / "checkpoints" / "best.pt") for st in stages]

    def one(variant: str) -> None:
        name = f"{root}/adasgn_{'init_' if variant in ('random', 'zero', 'explore') else ''}{variant}"
        if (OUT / name / "test.json").is_file():
            return
        run_logged(adasgn("train", ada_cfg, f"name={name}", "model.name=adasgn",
                          *ADA_VARIANTS[variant], f"adasgn.pretrained=[{','.join(singles)}]",
                          f"train.freeze_epochs={cfg.recipe.freeze_epochs}", *inner,
                          "--resume", "--no-progress"), OUT / f"{root}-{variant}.log", check=True)

    with ThreadPoolExecutor(jobs) as ex:
        list(ex.map(one, variants))


def report_adasgn(ds: str, seed: int, amp: str = "none", policy_fraction: float = 0.0) -> None:
    root = OUT / _ada_root(ds, seed, amp, policy_fraction)
    print(f"\nAdaSGN pilot on the inner split of {ds} (seed {seed}): inner-test top-1 % and GMACs "
          "(last epoch / mean of the last 5; and with select=loss replayed)")
    for d in sorted(p.parent for p in root.glob("*/test.json")):
        rows = curves(d)
        by_epoch = {r["epoch"]: r for r in rows}
        start = json.loads((d / "test.json").read_text()).get("selectable_from", 0)  # frozen phase
        sel = replay([r for r in rows if r["epoch"] >= start], "loss")
        print(f"  {d.name:22s} {100 * rows[-1]['test_top1']:6.2f} / "
              f"{100 * statistics.mean(r['test_top1'] for r in rows[-5:]):6.2f}   "
              f"select=loss {100 * by_epoch[sel]['test_top1']:6.2f} (epoch {sel})   "
              f"GMACs {rows[-1]['test_gmacs']:.4f}"
              + (f"   usage {' '.join(f'{k} {100 * v:.0f}' for k, v in rows[-1].get('val_usage', {}).items())}"
                 if d.name.startswith("adasgn") else ""))


def select_adasgn(sets, seed: int) -> None:
    """Which epoch to keep after unfreezing (``adasgn.select_after_decay``): the lowest validation
    loss from the end of the frozen phase, against the same rule from the first LR decay of
    ``configs/small.yaml`` and the last epoch, replayed on every finished run of the AdaSGN pilot
    and scored on its inner-test curve."""
    decay = min(load_config(str(ROOT / "configs" / "small.yaml")).train.milestones)
    print(f"\nSelection after unfreezing, replayed on the AdaSGN pilot runs (seed {seed}): inner-test "
          f"top-1 % (GMACs, epoch kept) with select=loss from the frozen phase's end, from epoch "
          f"{decay} (the first LR decay), and the last epoch")
    gains: dict = {"adasgn": [], "single": []}
    for ds in sets:
        for d in sorted(p.parent for p in (OUT / _ada_root(ds, seed)).glob("*/test.json")):
            rows = curves(d)
            by_epoch = {r["epoch"]: r for r in rows}
            start = json.loads((d / "test.json").read_text()).get("selectable_from", 0)
            picks = [replay([r for r in rows if r["epoch"] >= start], "loss"),
                     replay([r for r in rows if r["epoch"] >= max(start, decay)], "loss"),
                     rows[-1]["epoch"]]
            acc = [100 * by_epoch[e]["test_top1"] for e in picks]
            gains["adasgn" if d.name.startswith("adasgn") else "single"].append(acc[1] - acc[0])
            print(f"  {ds:8s} {d.name:24s} " + "   ".join(
                f"{a:6.2f} ({by_epoch[e].get('test_gmacs', float('nan')):.4f}, e{e})"
                for a, e in zip(acc, picks)))
    for kind, g in gains.items():
        if g:
            print(f"  {kind}: from epoch {decay} minus from the frozen phase's end, over {len(g)} runs: "
                  f"mean {statistics.mean(g):+.2f} points, {sum(x > 0 for x in g)} better, "
                  f"{sum(x < 0 for x in g)} worse")


def forced_branches(ds: str, seed: int, amp: str = "none", policy_fraction: float = 0.0) -> None:
    """Each trained AdaSGN of the pilot with its decisions forced onto one branch for every frame:
    inner-test top-1 % per branch, through the model's own shared temporal module and head.
    A branch the shared module never learnt is near chance here."""
    root = OUT / _ada_root(ds, seed, amp, policy_fraction)
    print(f"\nAdaSGN pilot on the inner split of {ds} (seed {seed}): inner-test top-1 % with every "
          "frame forced onto one branch (the selected checkpoint), and with the policy deciding")
    for d in sorted(p.parent for p in root.glob("adasgn_*/test.json")):
        run = load_run(d / "checkpoints" / "best.pt")
        data = load_data(run.cfg)
        model = run.model.eval()
        keys = ["policy", *range(model.num_choices)]
        hits = dict.fromkeys(keys, 0)
        total = 0
        with torch.inference_mode():
            for x, y, _ in data.loader("test"):
                total += len(y)
                for k in keys:
                    logits, _ = model(x) if k == "policy" else model(x, decisions=k)
                    hits[k] += int((logits.argmax(1) == y).sum())
        names = ["policy", *model.choice_names]
        print(f"  {d.name:22s} " + "  ".join(f"{n} {100 * hits[k] / max(total, 1):5.1f}"
                                             for n, k in zip(names, keys)))


def curves(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]


def replay(rows: list[dict], rule: str) -> int:
    """The epoch ``train.select=rule`` keeps, replayed on the logged validation curve."""
    best, epoch = (-math.inf, -math.inf), -1
    for r in rows:
        if "val_top1" not in r:
            continue
        key = selection_key(rule, r["val_top1"], r["val_loss"], r["epoch"])
        if key > best:
            best, epoch = key, r["epoch"]
    return epoch


def summarize(sets, variants, seeds) -> dict:
    out: dict = {}
    for ds in sets:
        for v in variants:
            for s in seeds:
                d = OUT / _name(ds, v, s)
                if not (d / "test.json").is_file():
                    continue
                rows = curves(d)
                by_epoch = {r["epoch"]: r for r in rows}
                res = {rule: 100 * by_epoch[replay(rows, rule)]["test_top1"] for rule in RULES}
                res["selected"] = {rule: replay(rows, rule) for rule in RULES}
                res["mean_last5"] = 100 * statistics.mean(r["test_top1"] for r in rows[-5:])
                res["best_possible"] = 100 * max(r["test_top1"] for r in rows)
                out.setdefault(ds, {}).setdefault(v, {})[s] = res
    return out


def report(sets, variants, seeds, as_json: bool) -> None:
    res = summarize(sets, variants, seeds)
    if as_json:
        print(json.dumps(res, indent=2))
        return
    print("Inner-test top-1 % (inner splits of the training data; the real test split unused)\n")
    print("| set | variant | seeds | last epoch | mean of last 5 | " + " | ".join(
        f"select={r}" for r in RULES[:3]) + " | epochs kept (top1 / top1_loss / loss) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for ds, per in res.items():
        for v, runs in per.items():
            def m(key):
                return statistics.mean(r[key] for r in runs.values())
            kept = " ; ".join(f"{r['selected']['top1']} / {r['selected']['top1_loss']} / "
                              f"{r['selected']['loss']}" for r in runs.values())
            print(f"| {ds} | {v} | {len(runs)} | {m('last'):.2f} | {m('mean_last5'):.2f} | "
                  + " | ".join(f"{m(r):.2f}" for r in RULES[:3]) + f" | {kept} |")
    # the two decisions, averaged over the sets that finished every variant
    full = [ds for ds, per in res.items() if "none" in per]
    if not full:
        return
    print(f"\nMean over {', '.join(full)} (gain over none, points; last epoch / mean of the last 5):")
    base = {ds: statistics.mean(r["last"] for r in res[ds]["none"].values()) for ds in full}
    base5 = {ds: statistics.mean(r["mean_last5"] for r in res[ds]["none"].values()) for ds in full}
    variants = [v for v in variants if all(v in res[ds] for ds in full)]
    for v in variants:
        gains = [statistics.mean(r["last"] for r in res[ds][v].values()) - base[ds] for ds in full]
        g5 = [statistics.mean(r["mean_last5"] for r in res[ds][v].values()) - base5[ds] for ds in full]
        print(f"  {v:9s} {statistics.mean(gains):+6.2f} / {statistics.mean(g5):+6.2f}   per set: "
              + ", ".join(f"{ds} {g:+.2f} / {h:+.2f}" for ds, g, h in zip(full, gains, g5)))
    loo = [(ds, v) for ds, per in res.items() for v in per if v.startswith("no_") and "all" in per]
    if loo:
        print("\nLeave one out: what each step adds to 'all' (all minus all-without-it, points; "
              "last epoch / mean of the last 5 epochs):")
        for ds, v in loo:
            a, b = res[ds]["all"], res[ds][v]
            d_last = statistics.mean(r["last"] for r in a.values()) - statistics.mean(r["last"] for r in b.values())
            d_5 = (statistics.mean(r["mean_last5"] for r in a.values())
                   - statistics.mean(r["mean_last5"] for r in b.values()))
            print(f"  {ds:8s} {v[3:]:8s} {d_last:+6.2f} / {d_5:+6.2f}")
    print("\nSelection rules, inner-test top-1 averaged over every finished run:")
    allruns = [r for per in res.values() for runs in per.values() for r in runs.values()]
    for rule in RULES:
        print(f"  {rule:10s} {statistics.mean(r[rule] for r in allruns):6.2f}")
    print(f"  {'best (oracle)':10s} {statistics.mean(r['best_possible'] for r in allruns):6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["run", "report", "adasgn", "report-adasgn", "select-adasgn",
                                     "forced"])
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1])
    ap.add_argument("--single-sets", nargs="+", default=["msr"], choices=list(SETS),
                    help="sets on which each augmentation is also left out of the combination")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--ada-variants", nargs="+", default=list(ADA_VARIANTS), choices=list(ADA_VARIANTS),
                    help="AdaSGN variants of the `adasgn` action")
    ap.add_argument("--singles-amp", choices=["none", "bf16"], default="none",
                    help="precision of the `adasgn` action's singles (none = float32, the pilot's "
                         "first runs; bf16: in <set>-ada-s<seed>-bf16/, twice as fast here)")
    ap.add_argument("--policy-fraction", type=float, default=0.0,
                    help="data.policy_fraction of the `adasgn` action's stages (singles included): "
                         "the policy learns only from that part of the inner train; in "
                         "<set>-ada-s<seed>[-bf16]-pf<percent>/")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.what == "run":
        run(a.sets, a.variants, a.seeds, a.jobs, a.single_sets)
    elif a.what == "adasgn":
        for ds in a.sets:
            run_adasgn(ds, a.seeds[0], a.jobs, a.ada_variants, a.singles_amp, a.policy_fraction)
    elif a.what == "report-adasgn":
        for ds in a.sets:
            report_adasgn(ds, a.seeds[0], a.singles_amp, a.policy_fraction)
    elif a.what == "select-adasgn":
        select_adasgn(a.sets, a.seeds[0])
    elif a.what == "forced":
        for ds in a.sets:
            forced_branches(ds, a.seeds[0], a.singles_amp, a.policy_fraction)
    else:
        report(a.sets, a.variants, a.seeds, a.json)


if __name__ == "__main__":
    main()
