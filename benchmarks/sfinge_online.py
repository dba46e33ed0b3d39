"""Online gesture detection on SFINGE3D's 72 long sequences (and an MSR Action3D check).

SFINGE3D (docs/results.md, "Online recognition")::

    python benchmarks/sfinge_online.py sfinge --raw ../shared/data/sfinge3d --out runs/sfinge-online
    python benchmarks/sfinge_online.py msr --pkl data/msr.pkl --out runs/msr-online

Both are resumable (a finished training, stream or fold is not redone) and write a small
``summary.json`` in ``--out`` (and print a markdown table).

SFINGE3D protocol (our choices, documented in docs/results.md):

* the 72 sequences are split into ``--folds`` folds (seeded); for fold k the model trains on the
  whole dictionary (468 gestures) plus, from the *other* folds' sequences, their annotated
  gestures and a **no-gesture class** (windows between the gestures, away from them by
  ``GAP`` frames); it is tested on fold k's sequences only, so every sequence is streamed by a
  model that never saw it;
* training: the paper's recipe (``adasgn recipe``: SGN, the six singles, AdaSGN from them) on
  a short schedule, ``data.normalize=frame``; epochs are chosen on validation data carved from
  the training part (``data.val_fraction``), never on the long sequences;
* streaming: ``StreamingRecognizer`` (window ``WINDOW`` frames at 20 fps, stride 2) +
  ``EventDetector`` (the no-gesture class begins no event); the detector's parameters (start /
  end thresholds, minimum duration, start lag) are chosen on the *training* folds' sequences
  (best F1), then applied to the test fold;
* scoring: :func:`adasgn.stream.score_detections` (the dataset's rule: label right, detected
  start inside the gesture's window with a 20-frame margin before it; frame-level Jaccard).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from adasgn.data.classes import MSR_CLASSES, SFINGE3D_BG_CLASSES
from adasgn.data.pkl import load_pkl, save_pkl
from adasgn.data.prepare import SFINGE3D_NORMALISE, prepare_sfinge3d
from adasgn.data.readers import read_sfinge3d, read_sfinge3d_gt
from adasgn.stream import (DetectionScore, EventDetector, StreamUpdate, StreamingRecognizer,
                           events_to_detections, score_detections)

ROOT = Path(__file__).resolve().parents[1]
FPS = 20.0
WINDOW = 40  # raw frames (2 s; the dictionary's median gesture is 43 frames): stride 2
MARGIN = 20  # frames before a gesture's start where a detection still counts (the dataset's)
GAP = 10  # no-gesture windows keep this many frames away from any annotated gesture
BG_LEN, BG_STEP = 40, 20  # no-gesture training windows: length, step
BACKGROUND = len(SFINGE3D_BG_CLASSES) - 1
GRID = {"start": (0.5, 0.6, 0.7, 0.8, 0.9), "end": (0.3, 0.5), "min_duration": (0.0, 0.1, 0.2, 0.4),
        "lag": (0, 10, 20, 30)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- data


def seq_folds(ids: list[int], folds: int, seed: int = 0) -> list[list[int]]:
    perm = np.random.default_rng(seed).permutation(sorted(ids))
    return [sorted(int(i) for i in perm[k::folds]) for k in range(folds)]


def background_spans(gestures, length: int, gap: int = GAP) -> list[tuple[int, int]]:
    """Frames [a, b) away from every annotated gesture by ``gap``."""
    busy = np.zeros(length, dtype=bool)
    for g in gestures:
        busy[max(0, g.start - gap):min(length, g.end + 1 + gap)] = True
    spans, a = [], None
    for t in range(length + 1):
        free = t < length and not busy[t]
        if free and a is None:
            a = t
        elif not free and a is not None:
            spans.append((a, t))
            a = None
    return spans


def cut_segments(raw: Path, ids: list[int], gt: dict) -> list[dict]:
    """Annotated gestures and no-gesture windows of the sequences ``ids`` as pkl samples."""
    out = []
    for sid in ids:
        xyz = read_sfinge3d(raw / "Sequences" / f"{sid}.txt")
        n = len(xyz)
        pieces = [(g.label, g.start, min(g.end, n - 1), f"seq{sid}/g{k}")
                  for k, g in enumerate(gt[sid])]
        for a, b in background_spans(gt[sid], n):
            for s in range(a, b - BG_LEN + 1, BG_STEP):
                pieces.append((BACKGROUND, s, s + BG_LEN - 1, f"seq{sid}/bg{s}"))
        for label, s, e, name in pieces:
            kp = SFINGE3D_NORMALISE.apply(xyz[s:e + 1][None], "leap20", name)
            out.append({"frame_dir": name, "label": int(label), "total_frames": int(kp.shape[1]),
                        "keypoint": kp})
    return out


def fold_pkl(path: Path, dictionary: dict, raw: Path, train_ids, test_ids, gt) -> None:
    if path.is_file():
        return
    train = [dict(a) for a in dictionary["annotations"]] + cut_segments(raw, train_ids, gt)
    test = cut_segments(raw, test_ids, gt)
    meta = {"dataset": "sfinge3d_bg", "layout": "leap20", "num_classes": len(SFINGE3D_BG_CLASSES),
            "class_names": list(SFINGE3D_BG_CLASSES),
            "split": f"train: dictionary + sequences {train_ids}; test: sequences {test_ids}"}
    split = {"train": [a["frame_dir"] for a in train], "test": [a["frame_dir"] for a in test]}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_pkl(path, train + test, split, meta, validate=False)
    counts = np.bincount([a["label"] for a in train], minlength=len(SFINGE3D_BG_CLASSES))
    log(f"{path}: train {len(train)} (no-gesture {counts[BACKGROUND]}), test {len(test)}")


# ------------------------------------------------------------------------------- training


def adasgn(*args) -> None:
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    cmd = [sys.executable, "-m", "adasgn", *map(str, args)]
    log(" ".join(cmd[2:]))
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def train_recipe(config: str, name: str, overrides: list[str], out_root: Path) -> None:
    if (out_root / name / "adasgn" / "test.json").is_file():
        return
    adasgn("recipe", config, f"name={name}", f"out_dir={out_root}", *overrides, "--no-progress")


# ------------------------------------------------------------------------------- streaming


def stream_sequence(live: StreamingRecognizer, frames: np.ndarray) -> dict:
    """Every update of one sequence: frame, class probabilities, GMACs, features, latency."""
    live.reset()
    frame, probs, gmacs, computed, lat = [], [], [], [], []
    k = len(live.class_names)
    for i in range(len(frames)):
        up = live.push(frames[i], timestamp=i / live.fps)
        if up is None:
            continue
        p = np.zeros(k, dtype=np.float32)
        for e in up.top:
            p[e["index"]] = e["probability"]
        frame.append(up.frame)
        probs.append(p)
        gmacs.append(up.gmacs)
        computed.append(up.computed)
        lat.append(up.latency_ms)
    return {"frame": np.array(frame), "probs": np.array(probs).reshape(-1, k),
            "gmacs": np.array(gmacs), "computed": np.array(computed), "latency": np.array(lat),
            "length": len(frames)}


def cached_streams(ckpt: Path, cache: Path, sequences: dict[int, np.ndarray], window: int,
                   fps: float) -> dict[int, dict]:
    if cache.is_file():
        z = np.load(cache, allow_pickle=True)
        return z["streams"].item()
    torch.set_num_threads(1)
    live = StreamingRecognizer.from_checkpoint(ckpt, window=window, fps=fps, topk=1000)
    out = {}
    t0 = time.perf_counter()
    for sid, frames in sequences.items():
        out[sid] = stream_sequence(live, frames)
    log(f"streamed {len(out)} sequences with {ckpt} in {time.perf_counter() - t0:.1f} s")
    np.savez(cache, streams=np.array(out, dtype=object))
    return out


def replay(stream: dict, names: list, params: dict, fps: float, ignore: tuple) -> list:
    """The EventDetector on stored updates -> detections (label, start, end)."""
    det = EventDetector(params["start"], min(params["end"], params["start"]),
                        params["min_duration"], ignore=ignore)
    events = []
    order = np.argsort(-stream["probs"], axis=1)
    for u, f in enumerate(stream["frame"]):
        p = stream["probs"][u]
        top = [{"index": int(i), "name": names[int(i)], "probability": float(p[i])}
               for i in order[u]]
        up = StreamUpdate(update=u, frame=int(f), timestamp=f / fps, frame_indices=[], top=top,
                          branches=[], gmacs=0.0, latency_ms=0.0, model_ms=0.0, computed=0,
                          persons=1)
        events += det.update(up)
    events += det.close((stream["length"] - 1) / fps)
    return [(d.label, d.start, d.end) for d in
            events_to_detections(events, fps, params["lag"], stream["length"] - 1)]


def score(streams: dict, truth: dict, names: list, params: dict, fps: float, ignore: tuple,
          margin: int) -> DetectionScore:
    total = DetectionScore()
    for sid, st in streams.items():
        total = total.add(score_detections(truth[sid], replay(st, names, params, fps, ignore),
                                           margin=margin, length=st["length"]))
    return total


def choose_params(streams, truth, names, fps, ignore, margin) -> tuple[dict, dict]:
    best, best_s = None, None
    for vals in itertools.product(*GRID.values()):
        params = dict(zip(GRID, vals))
        if params["end"] > params["start"]:
            continue
        s = score(streams, truth, names, params, fps, ignore, margin)
        if best_s is None or s.f1 > best_s.f1 + 1e-12:
            best, best_s = params, s
    return best, best_s.to_dict()


def stream_stats(streams: dict) -> dict:
    g = np.concatenate([s["gmacs"] for s in streams.values()])
    c = np.concatenate([s["computed"] for s in streams.values()])
    lat = np.concatenate([s["latency"] for s in streams.values()])
    return {"updates": int(len(g)), "gmacs_per_update": float(g.mean()),
            "features_per_update": float(c[1:].mean()) if len(c) > 1 else float(c.mean()),
            "latency_p50_ms": float(np.median(lat)), "latency_p99_ms": float(np.percentile(lat, 99))}


# ------------------------------------------------------------------------------- SFINGE3D


def run_sfinge(args) -> dict:
    raw, out = Path(args.raw), Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    dict_pkl = out / "dictionary.pkl"
    if not dict_pkl.is_file():
        prepare_sfinge3d(raw, dict_pkl, workers=1, progress=False)
    dictionary = load_pkl(dict_pkl)
    gt = read_sfinge3d_gt(raw / "Sequences" / "sequencesGT.csv")
    folds = seq_folds(list(gt), args.folds, args.seed)
    seqs = {sid: read_sfinge3d(raw / "Sequences" / f"{sid}.txt") for sid in gt}
    truth = {sid: [(g.label, g.start, min(g.end, len(seqs[sid]) - 1)) for g in gs]
             for sid, gs in gt.items()}
    names = list(SFINGE3D_BG_CLASSES)
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    summary.update(protocol={"folds": folds, "window": WINDOW, "fps": FPS, "margin": MARGIN,
                             "gap": GAP, "background_windows": [BG_LEN, BG_STEP], "grid": GRID,
                             "epochs": args.epochs, "single_epochs": args.single_epochs,
                             "sgn_epochs": args.sgn_epochs})
    run_folds = args.fold if args.fold is not None else list(range(args.folds))
    for k in run_folds:
        test_ids = folds[k]
        train_ids = sorted(i for j, f in enumerate(folds) if j != k for i in f)
        pkl = out / f"fold{k}" / "data.pkl"
        fold_pkl(pkl, dictionary, raw, train_ids, test_ids, gt)
        m = args.epochs
        if not args.no_train:
            train_recipe("configs/sfinge3d.yaml", f"fold{k}", [
                "data.dataset=sfinge3d_bg", f"data.path={pkl}", "data.train_split=train",
                "data.test_split=test", "train.threads=1", f"train.epochs={m}",
                f"train.milestones=[{int(m * 0.6)},{int(m * 0.85)}]",
                f"recipe.single_epochs={args.single_epochs}",
                f"recipe.single_milestones=[{int(args.single_epochs * 0.7)}]",
                f"recipe.sgn_epochs={args.sgn_epochs}",
                f"recipe.sgn_milestones=[{int(args.sgn_epochs * 0.7)}]",
                f"recipe.transform_freeze={max(1, args.single_epochs // 3)}",
                f"recipe.freeze_epochs={max(1, m // 4)}", "recipe.sgn_as_full_big=true"], out)
        for model in args.models:
            key = f"fold{k}/{model}"
            run = out / f"fold{k}" / model
            if key in summary.get("folds", {}) or not (run / "test.json").is_file():
                continue
            streams = cached_streams(run / "checkpoints" / "best.pt", run / "streams.npz",
                                     seqs, WINDOW, FPS)
            tr = {i: streams[i] for i in train_ids}
            te = {i: streams[i] for i in test_ids}
            params, train_score = choose_params(tr, truth, names, FPS, (BACKGROUND,), MARGIN)
            test_score = score(te, truth, names, params, FPS, (BACKGROUND,), MARGIN)
            offline = json.loads((run / "test.json").read_text())
            summary.setdefault("folds", {})[key] = {
                "params": params, "train": train_score, "test": test_score.to_dict(),
                "test_counts": [test_score.truth, test_score.correct, test_score.false,
                                test_score.jaccard_sum, test_score.jaccard_n],
                "offline_top1_test_segments": offline["top1"],
                "selected_epoch": offline.get("selected_epoch"),
                "epochs": yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"],
                **stream_stats(te)}
            summary_path.write_text(json.dumps(summary, indent=1))
            log(f"{key}: {params} test {test_score.to_dict()}")
    summary["total"] = total_rows(summary, args.folds)
    summary_path.write_text(json.dumps(summary, indent=1))
    print(table(summary))
    return summary


def total_rows(summary: dict, folds: int) -> dict:
    rows = {}
    for model in ("sgn", "adasgn"):
        fs = [summary.get("folds", {}).get(f"fold{k}/{model}") for k in range(folds)]
        fs = [f for f in fs if f]
        if not fs:
            continue
        s = DetectionScore()
        for f in fs:
            s = s.add(DetectionScore(*f["test_counts"]))
        w = [f["updates"] for f in fs]
        rows[model] = {**s.to_dict(), "folds": len(fs),
                       "gmacs_per_update": float(np.average([f["gmacs_per_update"] for f in fs], weights=w)),
                       "features_per_update": float(np.average([f["features_per_update"] for f in fs], weights=w)),
                       "latency_p50_ms": float(np.median([f["latency_p50_ms"] for f in fs])),
                       "offline_top1_test_segments": float(np.mean([f["offline_top1_test_segments"] for f in fs]))}
    return rows


def table(summary: dict) -> str:
    lines = ["| model | folds | gestures | detected | detection rate | false positives | FP / gesture "
             "| F1 | Jaccard | segments top-1 | GMACs / update | features / update | update p50 ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, r in summary.get("total", {}).items():
        lines.append(f"| {model} | {r['folds']} | {r['gestures']} | {r['correct']} | "
                     f"{100 * r['detection_rate']:.1f} % | {r['false_positives']} | "
                     f"{r['false_per_gesture']:.2f} | {r['f1']:.3f} | {r['jaccard']:.3f} | "
                     f"{100 * r['offline_top1_test_segments']:.1f} % | {r['gmacs_per_update']:.4f} | "
                     f"{r['features_per_update']:.2f} | {r['latency_p50_ms']:.2f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- MSR Action3D


def concat_streams(data: dict, split: str, per_stream: int, seed: int) -> list[tuple]:
    """Sequences of ``split`` in a seeded order, ``per_stream`` at a time, end to end ->
    [(frames (T, 1, V, C), truth [(label, start, end)])]."""
    anns = {a["frame_dir"]: a for a in data["annotations"]}
    names = list(np.random.default_rng(seed).permutation(sorted(data["split"][split])))
    out = []
    for i in range(0, len(names), per_stream):
        parts, truth, t = [], [], 0
        for n in names[i:i + per_stream]:
            kp = anns[n]["keypoint"][:1].transpose(1, 0, 2, 3)  # (T, 1, V, C)
            parts.append(kp)
            truth.append((int(anns[n]["label"]), t, t + len(kp) - 1))
            t += len(kp)
        out.append((np.concatenate(parts), truth))
    return out


def run_msr(args) -> dict:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    pkl = Path(args.pkl).resolve()
    m = args.epochs
    sched = [f"data.path={pkl}", "data.normalize=frame", "train.threads=1", f"train.epochs={m}",
             f"train.milestones=[{int(m * 0.6)},{int(m * 0.85)}]"]
    if "adasgn" in args.models:  # the recipe (SGN, singles, AdaSGN)
        train_recipe("configs/msr/adasgn.yaml", "models", sched + [
            f"recipe.single_epochs={args.single_epochs}",
            f"recipe.single_milestones=[{int(args.single_epochs * 0.7)}]",
            f"recipe.transform_freeze={max(1, args.single_epochs // 3)}",
            f"recipe.freeze_epochs={max(1, m // 4)}", "recipe.sgn_as_full_big=true"], out)
    elif not (out / "models" / "sgn" / "test.json").is_file():
        adasgn("train", "configs/msr/sgn.yaml", "name=models/sgn", f"out_dir={out}", *sched,
               "--no-progress")
    data = load_pkl(pkl)
    train = concat_streams(data, "xsub_train", args.per_stream, args.seed)
    test = concat_streams(data, "xsub_val", args.per_stream, args.seed)
    seqs = {i: f for i, (f, _) in enumerate(train + test)}
    truth = {i: t for i, (_, t) in enumerate(train + test)}
    tr_ids, te_ids = range(len(train)), range(len(train), len(train) + len(test))
    fps = 15.0
    summary = {"protocol": {"per_stream": args.per_stream, "train_streams": len(train),
                            "test_streams": len(test), "window": 40, "fps": fps,
                            "margin": args.margin, "grid": GRID}}
    for model in args.models:
        run = out / "models" / model
        streams = cached_streams(run / "checkpoints" / "best.pt", run / "streams.npz", seqs, 40, fps)
        names = list(MSR_CLASSES)
        params, train_score = choose_params({i: streams[i] for i in tr_ids}, truth, names, fps,
                                            (), args.margin)
        s = score({i: streams[i] for i in te_ids}, truth, names, params, fps, (), args.margin)
        offline = json.loads((run / "test.json").read_text())
        summary[model] = {"params": params, "train": train_score, "test": s.to_dict(),
                          "offline_top1": offline["top1"], **stream_stats({i: streams[i] for i in te_ids})}
        log(f"msr {model}: {params} test {s.to_dict()}")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sfinge")
    p.add_argument("--raw", required=True, help="the SFINGE3D folder (Dictionary/, Sequences/)")
    p.add_argument("--out", default="runs/sfinge-online")
    p.add_argument("--folds", type=int, default=2)
    p.add_argument("--fold", type=int, nargs="*", default=None, help="only these folds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--single-epochs", type=int, default=12)
    p.add_argument("--sgn-epochs", type=int, default=12, help="SGN (x0.1 at 70 %%)")
    p.add_argument("--models", nargs="*", default=["sgn", "adasgn"])
    p.add_argument("--no-train", action="store_true", help="score the finished models only")
    p = sub.add_parser("msr")
    p.add_argument("--pkl", default="data/msr.pkl")
    p.add_argument("--out", default="runs/msr-online")
    p.add_argument("--per-stream", type=int, default=5, help="sequences per long stream")
    p.add_argument("--margin", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--single-epochs", type=int, default=12)
    p.add_argument("--models", nargs="*", default=["sgn"], help="sgn, or sgn adasgn (the recipe)")
    args = ap.parse_args(argv)
    (run_sfinge if args.cmd == "sfinge" else run_msr)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
