"""Live recognition (``adasgn.stream``): streamed windows equal the offline forward on the same
window, per-frame decisions equal the offline decisions, the streamable normalisation, bad
frames, ``adasgn stream`` and ``adasgn bench --stream``."""

import io
import json
import sys

import numpy as np
import pytest
import torch

from adasgn.bench import run_stream_bench
from adasgn.cli import main as cli_main
from adasgn.data.dataset import default_pipeline
from adasgn.data.inputs import read_input
from adasgn.data.transforms import FormatInput, Normalize, build_pipeline
from adasgn.engine.config import ConfigError, load_config
from adasgn.inference import Recognizer
from adasgn.models import create_model
from adasgn.models.streaming import StreamFrame
from adasgn.stream import (EventDetector, FrameError, StreamingRecognizer, StreamPool,
                           StreamEvent, StreamUpdate, events_to_detections, parse_frame_line,
                           score_detections)

from test_inference import ROOT, make_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")
TOL = 1e-4


def _randomise_bn(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
    return model.eval()


def _stream(n, seed=0, persons=2, joints=25, gaps=((30, 55), (90, 1000))):
    """(n, persons, joints, 3): smooth random motion; the second person absent in ``gaps``
    (so it disappears, reappears and disappears)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.3, size=(1, persons, joints, 3))
    walk = np.cumsum(rng.normal(scale=0.03, size=(n, persons, joints, 3)), 0)
    kp = (base + walk + np.array([0.0, 0.0, 3.0])).astype(np.float32)
    for a, b in gaps:
        kp[a:b, 1:] = 0
    return kp


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream_ckpt")
    frame = ["data.normalize=frame"]
    return {
        "sgn": make_checkpoint(d / "sgn.pt", "sgn", "ntu60", overrides=frame),
        "single": make_checkpoint(d / "single.pt", "single", "ntu60",
                                  overrides=frame + ["model.joints=9", "model.size=small"]),
        "adasgn": make_checkpoint(d / "ada.pt", "adasgn", "ntu60", overrides=frame),
        "ada_bone": make_checkpoint(d / "ada_bone.pt", "adasgn", "ntu60",
                                    overrides=frame + ["data.stream=bone"], seed=3),
        "ada_plain": make_checkpoint(d / "ada_plain.pt", "adasgn", "ntu60", seed=5),
        "sgn_velocity": make_checkpoint(d / "sgn_vel.pt", "sgn", "ntu60",
                                        overrides=["data.stream=velocity"]),
    }


def _offline(rec, raw):
    """The offline test-time pipeline (the checkpoint's own) and forward on raw frames
    (T*s, M, V, C): logits (1, K), decisions or None."""
    x, _ = rec.prepare(read_input(np.ascontiguousarray(raw.transpose(1, 0, 2, 3))))
    with torch.inference_mode():
        logits, info = rec.model(x)
    return logits, info.decisions


def _check_stream(rec, kp, window, bad=()):
    """Push every frame (and the ``bad`` ones before the frames at those positions); compare
    every update with the offline pipeline on the same window. Returns the update count."""
    live = rec.stream(window)
    s, t = live.stride, live.num_frames
    accepted, checked = [], 0
    for i, frame in enumerate(kp):
        if i in bad:
            with pytest.raises(FrameError):
                live.push(bad[i])
        up = live.push(frame)
        accepted.append(frame)
        if up is None:
            continue
        assert up.frame == len(accepted) - 1
        first = up.frame - (t - 1) * s
        assert up.frame_indices == list(range(first, up.frame + 1, s))
        if first + t * s > len(kp):
            continue  # the offline window's unsampled tail is not there yet
        raw = np.stack(list(accepted) + list(kp[i + 1:]))[first:first + t * s]
        logits, dec = _offline(rec, raw)
        assert (live.last_logits - logits).abs().max().item() <= TOL
        if dec is not None:
            assert torch.equal(live.last_info.decisions, dec)
        else:
            assert live.last_info.decisions is None
        assert up.probability == pytest.approx(
            torch.softmax(logits[0].double(), 0).max().item(), abs=1e-5)
        checked += 1
    assert live.skipped == len(bad)
    return checked


@pytest.mark.parametrize("kind", ["sgn", "single", "adasgn", "ada_bone"])
def test_stream_equals_offline_window(ckpts, kind):
    rec = Recognizer.from_checkpoint(ckpts[kind])
    kp = _stream(130, seed=hash(kind) % 1000)
    assert _check_stream(rec, kp, window=20) == 130 - 19


def test_stream_with_stride_and_bad_frames(ckpts):
    rec = Recognizer.from_checkpoint(ckpts["adasgn"])
    kp = _stream(150, seed=7)
    bad = {5: np.full((2, 25, 3), np.nan, np.float32), 40: np.zeros((25, 3), np.float32),
           41: np.ones((17, 3), np.float32), 80: np.ones((2, 25, 2), np.float32),
           81: [[1, 2], [3]], 82: np.zeros((0, 25, 3), np.float32)}
    n = _check_stream(rec, kp, window=60, bad=bad)  # stride 3
    assert n == (150 - 3 * 20) // 3 + 1


def test_stream_reuses_frame_features(ckpts):
    """After the first window, an update computes the new frame and the first frame again (zero
    velocity): 2 features per person for SGN; AdaSGN adds the chosen branches of those frames and
    of frames whose decision changed, far fewer than a window's."""
    for kind, most in (("sgn", 2), ("adasgn", 8)):
        rec = Recognizer.from_checkpoint(ckpts[kind])
        live = rec.stream(20)
        ups = [u for f in _stream(60, gaps=((0, 60),)) if (u := live.push(f))]  # one person
        assert ups[0].computed >= 20
        assert all(u.computed <= most for u in ups[1:])
        if kind == "sgn":
            assert all(u.computed == 2 for u in ups[1:])


def test_stream_origin_normalisation_equals_whole_stream(ckpts):
    """A checkpoint trained without data.normalize streams with a fixed origin (the first frame's
    centre joint): equal to normalising the whole stream that way, then the model."""
    rec = Recognizer.from_checkpoint(ckpts["ada_plain"])
    live = rec.stream(20)
    assert live.normalize == "origin"
    kp = _stream(70, seed=11)
    full = Normalize("origin", "ntu25")({"keypoint": kp.transpose(1, 0, 2, 3).copy()})
    x_all = FormatInput(2)(full)["input"]  # (C, T, V, M)
    for i, f in enumerate(kp):
        up = live.push(f)
        if up is None:
            continue
        x = torch.from_numpy(x_all[:, i - 19:i + 1].copy())[None]
        with torch.inference_mode():
            logits, info = rec.model(x)
        assert (live.last_logits - logits).abs().max().item() <= TOL
        assert torch.equal(live.last_info.decisions, info.decisions)


@pytest.mark.parametrize("policy", ["tconv", "tconv2", "lstm", "transformer", "fuse"])
def test_streamer_windows_equal_forward_every_policy(policy):
    model = _randomise_bn(create_model("adasgn", policy=policy))
    _windows_equal(model)


@pytest.mark.parametrize("name,opts", [("sgn", {}), ("single", {"joints": 1, "size": "big"}),
                                       ("sgn", {"skip_empty_persons": False})])
def test_streamer_windows_equal_forward_static(name, opts):
    _windows_equal(_randomise_bn(create_model(name, **opts)))


def _windows_equal(model):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 20, 25, 2, generator=g)
    x[1, ..., 1] = 0  # one person
    x[2, :, 5:12, :, 1] = 0  # the second person leaves and comes back
    x[3, ..., 0] = 0  # only the second slot
    wins = [[StreamFrame.from_tensor(x[n, :, t].permute(2, 1, 0).contiguous())
             for t in range(20)] for n in range(4)]
    st = model.streamer()
    with torch.inference_mode():
        ref, info = model(x)
        out, got = st.window(wins)  # all four streams in one call
        again, _ = st.window(wins)  # everything cached now
    assert (out - ref).abs().max().item() <= TOL
    assert torch.equal(out, again)
    assert torch.equal(got.present, info.present)
    assert torch.allclose(got.gmacs, info.gmacs)
    if info.decisions is None:
        assert got.decisions is None
    else:
        assert torch.equal(got.decisions, info.decisions)


def test_stream_under_a_budget(ckpts):
    """A compute budget biases the decisions the same way in the stream as offline."""
    rec = Recognizer.from_checkpoint(ckpts["adasgn"])
    rec.model.set_budget_lambda(40.0)
    try:
        kp = _stream(50, seed=3)
        assert _check_stream(rec, kp, window=20) == 31
    finally:
        rec.model.set_budget_lambda(None)


def test_normalize_step():
    rng = np.random.default_rng(0)
    kp = rng.normal(size=(2, 6, 25, 3)).astype(np.float32)
    kp[1, 2] = 0
    kp[0, 4] = 0  # the first person missing: frame 4 is centred on the second
    out = Normalize("frame", "ntu25")({"keypoint": kp.copy()})["keypoint"]
    assert np.all(out[1, 2] == 0) and np.all(out[0, 4] == 0)
    for t in range(6):
        p = 1 if t == 4 else 0
        np.testing.assert_allclose(out[:, t][kp[:, t].any(axis=(1, 2))],
                                   (kp[:, t] - kp[p, t, 1])[kp[:, t].any(axis=(1, 2))], atol=1e-6)
    # per frame: a frame's output does not depend on the other frames
    one = Normalize("frame", "ntu25")({"keypoint": kp[:, 3:4].copy()})["keypoint"]
    np.testing.assert_array_equal(one[:, 0], out[:, 3])
    s = Normalize("origin", "ntu25")({"keypoint": kp.copy()})
    np.testing.assert_allclose(s["keypoint"][0, 0, 1], 0, atol=1e-7)
    np.testing.assert_allclose(s["origin"], kp[0, 0, 1])
    # a stream carries its origin: a later frame alone, with the first frame's origin
    later = Normalize("origin", "ntu25")({"keypoint": kp[:, 5:6].copy(), "origin": s["origin"]})
    np.testing.assert_array_equal(later["keypoint"][:, 0], s["keypoint"][:, 5])
    rot = Normalize("frame", "ntu25", rotate=True)({"keypoint": kp.copy()})["keypoint"]
    spine = rot[0, 0, 20] - rot[0, 0, 0]  # RotNorm: spine base -> shoulder along +z
    np.testing.assert_allclose(spine[:2], 0, atol=1e-5)
    with pytest.raises(ValueError, match="unknown normalisation"):
        Normalize("window")


def test_normalize_config_and_default_pipeline():
    assert load_config(ROOT / "configs" / "base.yaml").data.normalize == "none"
    with pytest.raises(ConfigError, match="data.normalize"):
        load_config(ROOT / "configs" / "base.yaml", ["data.normalize=sideways"])
    plain = default_pipeline("ntu60", "joint", False, rot_norm=True)
    assert plain == default_pipeline("ntu60", "joint", False, rot_norm=True, normalize="none")
    steps = default_pipeline("ntu60", "bone", True, rot_norm=True, normalize="frame")
    types = [s["type"] for s in steps]
    assert types[:2] == ["DropEmptyFrames", "Normalize"] and "RotNorm" not in types
    assert steps[1]["rotate"] is True
    build_pipeline(steps)({"keypoint": np.ones((2, 30, 25, 3), np.float32),
                           "rng": np.random.default_rng(0)})


def test_stream_window_and_refusals(ckpts):
    rec = Recognizer.from_checkpoint(ckpts["sgn"])
    live = rec.stream()  # ntu60: 80 frames at 30 fps
    assert (live.window, live.stride, live.span, live.fps) == (80, 4, 77, 30.0)
    assert rec.stream(seconds=2.0, fps=30).stride == 3
    assert rec.stream(5).stride == 1  # at least one frame per sampled frame
    with pytest.raises(ValueError, match="not both"):
        rec.stream(20, seconds=1.0)
    with pytest.raises(ValueError, match="cannot be streamed"):
        Recognizer.from_checkpoint(ckpts["sgn_velocity"]).stream()
    with pytest.raises(ValueError, match="not full"):
        live.window_input()


def test_parse_frame_line():
    frame, ts = parse_frame_line('{"frame": [[1, 2, 3]], "timestamp": 1.5}')
    assert frame == [[1, 2, 3]] and ts == 1.5
    assert parse_frame_line("[[0, 1, 2]]") == ([[0, 1, 2]], None)
    with pytest.raises(FrameError, match="JSON"):
        parse_frame_line("[[0, 1")
    with pytest.raises(FrameError, match="'frame'"):
        parse_frame_line('{"x": 1}')


def test_cli_stream_file_and_stdin(ckpts, tmp_path, capsys, monkeypatch):
    kp = _stream(45, seed=2, persons=1, gaps=())[:, 0]  # (T, V, C)
    kp[10] = np.nan
    path = tmp_path / "seq.npy"
    np.save(path, kp)
    assert cli_main(["stream", str(ckpts["adasgn"]), str(path), "--json", "--window", "20"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 45 - 1 - 19
    assert {"prediction", "probability", "latency_ms", "branches", "source_frame"} <= set(lines[0])
    assert "frame 10 skipped: frame has NaN" in err and "1 skipped" in err

    rows = [json.dumps({"frame": f.tolist(), "t": i / 30}) for i, f in enumerate(kp[11:35])]
    rows.insert(3, "[[1, 2, 3]]")  # wrong joint count
    rows.insert(5, "{oops")
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(rows) + "\n"))
    assert cli_main(["stream", str(ckpts["sgn"]), "-", "--window", "20"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 24 - 19 and "%" in out
    assert "line 4 skipped: frame has 1 joints" in err and "line 6 skipped: not a JSON" in err

    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((30, 17, 2), np.float32))
    assert cli_main(["stream", str(ckpts["sgn"]), str(bad)]) == 2
    assert "17 joints x 2 coordinates" in capsys.readouterr().err


def test_bench_stream_reports_the_figures(capsys):
    rep = run_stream_bench(threads=[1], target_s=0.05, min_updates=3, max_updates=4, warmup=1)
    for name in ("sgn", "adasgn"):
        r = rep["stream"][name]
        assert {"update_ms_p50", "update_ms_p99", "window_ms_p50", "speedup_vs_window"} <= set(r)
        b = r["by_threads"]["1"]
        assert b["decisions_mismatched"] == 0 and b["max_abs_logit_diff"] <= TOL
        assert b["speedup_vs_window"] == pytest.approx(b["window_ms_p50"] / b["update_ms_p50"])
    assert len(rep["machine"]["loadavg_before"]) == 3
    assert cli_main(["bench", "--stream", "--json", "--threads", "1", "--stream-seconds",
                     "0.05", "--stream-updates", "3", "--pool", "1", "4"]) == 0
    got = json.loads(capsys.readouterr().out)["stream"]
    for name in ("sgn", "adasgn"):
        pool = got[name]["pool"]
        assert set(pool) == {"1", "4"} and pool["4"]["streams"] == 4
        assert pool["4"]["streams_per_s"] == pytest.approx(4 / (pool["4"]["step_ms_p50"] / 1e3))
    assert cli_main(["bench", "--stream", "--json", "--threads", "1", "--stream-seconds",
                     "0.05", "--stream-updates", "3", "--no-pool"]) == 0
    assert "pool" not in json.loads(capsys.readouterr().out)["stream"]["sgn"]


def test_streaming_recognizer_from_checkpoint(ckpts):
    live = StreamingRecognizer.from_checkpoint(ckpts["single"], window=20)
    ups = [u for f in _stream(25, seed=4) if (u := live.push(f))]
    assert len(ups) == 6 and ups[0].branches == [["static"] * 20] * 2
    assert "%" in str(ups[-1]) and ups[-1].to_dict()["prediction"] == ups[-1].name


def test_pool_batches_streams_and_equals_single_streams(ckpts):
    rec = Recognizer.from_checkpoint(ckpts["adasgn"])
    pool = StreamPool(rec.run, 3, model=rec.model, window=20)
    singles = [rec.stream(20) for _ in range(3)]
    kps = [_stream(30, seed=s) for s in range(3)]
    kps[2][:, 1] = 0  # one stream with one person
    for t in range(30):
        for i in range(3):
            pool.push(i, kps[i][t])
        got = pool.flush()
        ups = [s.push(kps[i][t]) for i, s in enumerate(singles)]
        if t < 19:
            assert got == {} and ups == [None] * 3
            continue
        assert sorted(got) == [0, 1, 2]
        for i in range(3):
            assert got[i].probability == pytest.approx(ups[i].probability, abs=1e-6)
            assert got[i].branches == ups[i].branches
    with pytest.raises(ValueError, match="pending"):
        pool.push(0, kps[0][0])
        pool.push(0, kps[0][1])


def _up(t, probs):
    top = sorted(({"index": i, "name": f"c{i}", "probability": p} for i, p in probs.items()),
                 key=lambda e: -e["probability"])
    return StreamUpdate(update=0, frame=t, timestamp=t / 10, frame_indices=[], top=top,
                        branches=[], gmacs=0.0, latency_ms=0.0, model_ms=0.0, computed=0,
                        persons=1)


def test_event_detector_hysteresis_and_min_duration():
    det = EventDetector(start=0.6, end=0.4, min_duration=0.25)
    seq = ([{0: 0.3, 1: 0.2}] * 3 + [{1: 0.7}] * 2 + [{1: 0.3}]  # too short: dropped
           + [{2: 0.8}] + [{2: 0.5}] * 4 + [{2: 0.2, 1: 0.65}] + [{1: 0.9}] * 4)
    events = [e for t, p in enumerate(seq) for e in det.update(_up(t, p))]
    events += det.close(1.6)
    assert [(e.kind, e.label) for e in events] == [("start", 2), ("end", 2), ("start", 1),
                                                   ("end", 1)]
    assert events[0].start == pytest.approx(0.6) and events[1].end == pytest.approx(1.1)
    assert events[1].peak == pytest.approx(0.8)
    with pytest.raises(ValueError):
        EventDetector(start=0.3, end=0.5)


def test_event_detector_ignores_a_background_class():
    det = EventDetector(start=0.6, end=0.4, ignore=(0,))
    seq = [{0: 0.9}] * 3 + [{1: 0.8}] * 2 + [{0: 0.7, 1: 0.3}] + [{0: 0.95}] * 2
    events = [e for t, p in enumerate(seq) for e in det.update(_up(t, p))] + det.close(0.8)
    assert [(e.kind, e.label) for e in events] == [("start", 1), ("end", 1)]
    assert events[1].end == pytest.approx(0.5)


def test_score_detections_protocol():
    truth = [(3, 50, 90), (5, 150, 180), (3, 240, 270)]
    det = [(3, 35, 95),     # starts 15 frames early: inside the 20-frame margin -> correct
           (5, 120, 160),   # 30 frames early: too early -> false positive, gesture missed
           (3, 250, 300),   # starts inside -> correct
           (7, 400, 410)]   # nothing there -> false positive
    s = score_detections(truth, det, margin=20, length=420)
    assert (s.truth, s.correct, s.false) == (3, 2, 2)
    assert s.detection_rate == pytest.approx(2 / 3) and s.false_per_gesture == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))
    # Jaccard per class: 3 -> (41 + 21) / (61 + 61); 5 -> 11 / 61; 7 -> 0
    want = ((41 + 21) / (61 + 61) + 11 / 61 + 0.0) / 3
    assert s.jaccard == pytest.approx(want)
    # one detection matches one gesture only; labels must match
    s = score_detections([(1, 10, 40), (1, 45, 60)], [(1, 30, 60), (2, 10, 40)], margin=20)
    assert (s.correct, s.false) == (1, 1)
    tot = s.add(score_detections(truth, det, margin=20))
    assert (tot.truth, tot.correct, tot.false) == (5, 3, 3)


def test_events_to_detections_frames_and_lag():
    evs = [StreamEvent("start", 2, "c2", 1.0, None, 0.8), StreamEvent("end", 2, "c2", 1.0, 2.0, 0.9),
           StreamEvent("start", 1, "c1", 3.0, None, 0.7)]
    got = events_to_detections(evs, fps=20, lag=10, last_frame=99)
    assert [(d.label, d.start, d.end) for d in got] == [(2, 10, 40), (1, 50, 99)]


def test_cli_stream_events(ckpts, tmp_path, capsys):
    kp = _stream(60, seed=2, persons=1, gaps=())[:, 0]
    path = tmp_path / "seq.npy"
    np.save(path, kp)
    # thresholds 0 / 0: the first update starts an event of its top class
    assert cli_main(["stream", str(ckpts["sgn"]), str(path), "--window", "20", "--events",
                     "--event-start", "0", "--event-end", "0"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("frame 19: start t=") and lines[-1].split(": ")[1].startswith("end")
    assert all(": start " in x or ": end " in x for x in lines) and "updates" in err
    assert cli_main(["stream", str(ckpts["sgn"]), str(path), "--window", "20", "--events",
                     "--json", "--event-start", "0", "--event-end", "0"]) == 0
    evs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert evs[0]["event"] == "start" and evs[-1]["event"] == "end"
    assert {"label", "name", "start", "end", "peak", "source_frame"} <= set(evs[0])
    # every class ignored: no event at all
    names = ",".join(str(i) for i in range(60))
    assert cli_main(["stream", str(ckpts["sgn"]), str(path), "--window", "20", "--events",
                     "--event-start", "0", "--event-end", "0", "--ignore", names]) == 0
    assert capsys.readouterr().out == ""
    assert cli_main(["stream", str(ckpts["sgn"]), str(path), "--events", "--ignore", "nope"]) == 2


def test_cli_stream_plays_msr_files_back_to_back(shared_data, tmp_path, capsys):
    """`adasgn stream CKPT f1 f2 f3`: segmented MSR Action3D sequences as one long stream (the
    online check on body data); every frame of every file is pushed once, in order, and each
    update names the file of its newest frame."""
    raw = shared_data / "msr_action3d"
    if not raw.is_dir():
        pytest.skip("msr_action3d not in the shared data")
    files = [raw / n for n in ("a01_s01_e01_skeleton3D.txt", "a05_s02_e02_skeleton3D.txt",
                               "a12_s03_e01_skeleton3D.txt")]
    lengths = [read_input(f).keypoint.shape[1] for f in files]
    ck = make_checkpoint(tmp_path / "msr.pt", "adasgn", "msr", overrides=["data.normalize=frame"])
    args = ["stream", str(ck), *map(str, files), "--json", "--window", "20"]
    assert cli_main(args) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(x) for x in out.splitlines()]
    total = sum(lengths)
    assert len(lines) == total - 19 and f"{total} frames" in err
    assert f"{files[1].name} {lengths[0]}" in err and f"{files[2].name} {lengths[0] + lengths[1]}" in err
    by_file = {}
    for x in lines:
        by_file.setdefault(x["source_file"], []).append(x["source_frame"])
    assert by_file[files[1].name][0] == lengths[0] and by_file[files[2].name][-1] == total - 1
    assert cli_main(["stream", str(ck), str(files[0]), "-"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
