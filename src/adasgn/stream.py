"""Live recognition: a streaming recognizer that does each frame's work once.

::

    from adasgn.inference import Recognizer

    rec = Recognizer.from_checkpoint("best.pt")
    live = rec.stream()                  # window from the checkpoint's dataset; or window=80,
                                         # or seconds=2.5 with fps=30
    for frame in camera:                 # (V, C) or (M, V, C) per frame
        up = live.push(frame)            # a StreamUpdate when a prediction is due, else None
        if up is not None:
            print(up)                    # label, probability, latency

**Window and sampling.** The model sees ``T`` frames (20). A window of ``W`` raw frames is
sampled at a fixed stride ``s = max(1, round(W / T))``: the ``T`` sampled frames are the accepted
frames ``r - (T-1) s, ..., r - s, r`` where ``r`` is the newest accepted frame and ``r % s == 0``.
An update is due at every sampled frame once ``T`` of them have arrived, so when the window
advances one stride, ``T - 1`` of its sampled frames are the same frames as before. The update at
frame ``r`` equals the offline test-time sampling (``UniformSample``) of the ``T * s`` frames
starting at the window's oldest sampled frame (the last ``s - 1`` of those are not sampled, so the
stream does not wait for them).

**Each frame's work once.** A sampled frame goes through the checkpoint's per-frame pipeline steps
(the streamable normalisation, the bone stream, the person slots) once, and the model's
streamer (:meth:`adasgn.models.base.SkeletonModel.streamer`, ``models/streaming.py``) computes
its features once and keeps them with the frame in a ring buffer of the last ``T`` sampled
frames; an update computes the new frame, the window's first frame again (its velocity is 0 by
definition), and for AdaSGN the frames whose decision changed (the newest frame's decision is
provisional until the next frame arrives), then the policy, the temporal module and the head
over the window. For the same window the logits equal the offline forward's (tests/test_stream.py).

**Normalisation.** The offline pipeline centres a sequence on its first frame, which in a stream
would change every cached frame when the window moves. The stream applies the checkpoint's
``data.normalize`` (:class:`adasgn.data.transforms.Normalize`: ``frame`` = each frame centred on
itself, ``origin`` = one fixed origin); for a checkpoint trained with the default ``none`` it uses
``origin`` (the stream's first frame, the rule ``adasgn prepare`` applies to a sequence).

**Bad frames** (wrong shape or joint count, NaN / Inf, no person) raise :class:`FrameError` (a
``ValueError``) from :meth:`StreamingRecognizer.push`; the frame is not used and the stream goes
on. Details and measured latencies: docs/streaming.md.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .data.transforms import build_transform
from .engine.data import run_pipeline
from .engine.metrics import RankedClasses
from .engine.run import TrainedRun, load_run
from .models.streaming import StreamFrame

__all__ = ["DATASET_TIMING", "Detection", "DetectionScore", "EventDetector", "FrameError",
           "StreamEvent", "StreamPool", "StreamUpdate", "StreamingRecognizer", "events_to_detections",
           "parse_frame_line", "score_detections"]

STATIC = "static"
# (frames per second of the sensor, typical action length in frames) per dataset preset: the
# default window and the timestamps of frames pushed without one. Approximate figures.
DATASET_TIMING = {
    "ntu60": (30.0, 80), "ntu120": (30.0, 80), "synthetic": (30.0, 70),
    "msr": (15.0, 40), "shrec14": (30.0, 60), "shrec28": (30.0, 60),
    "sfinge3d": (20.0, 40), "sfinge3d_bg": (20.0, 40),  # Leap Motion 20 fps; gestures ~43 frames
}
FALLBACK_TIMING = (30.0, 60)
# offline steps the stream replaces: it validates frames itself and samples with a fixed stride
REPLACED_STEPS = ("DropEmptyFrames", "UniformSample")


class FrameError(ValueError):
    """A frame the stream cannot use (skipped; the stream goes on)."""


@dataclass
class StreamUpdate(RankedClasses):
    """One prediction of a stream (``to_dict()`` for JSON)."""

    update: int  # 0-based count of updates of this stream
    frame: int  # index of the newest accepted frame (frames that were skipped are not counted)
    timestamp: float | None  # of the newest frame (given, or frame / fps)
    frame_indices: list[int]  # accepted-frame indices of the T sampled frames
    top: list[dict]  # [{"index", "name", "probability"}], best first
    branches: list[list[str]]  # per computed person: the branch of each sampled frame
    gmacs: float  # realised paper GMACs of the window, per person-sequence
    latency_ms: float  # push() of this frame: checks, per-frame pipeline, model, top-k
    model_ms: float  # the model part only (the streamer's window)
    computed: int  # frame features computed for this update (per person slot and branch; in a
    # StreamPool: for the whole batch of due streams)
    persons: int
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("update", "frame", "timestamp", "frame_indices", "top",
                                           "branches", "gmacs", "latency_ms", "model_ms",
                                           "computed", "persons")}
        d.update(prediction=self.name, index=self.index, probability=self.probability, **self.extra)
        return d

    def __str__(self) -> str:
        when = f"t={self.timestamp:.2f}s " if self.timestamp is not None else ""
        return (f"{when}{self.name} {100 * self.probability:.1f}% "
                f"({self.latency_ms:.2f} ms, {self.computed} frame features computed)")


def parse_frame_line(line: str) -> tuple[Any, float | None]:
    """One JSON line -> (frame array-like, timestamp or None).

    A line is a nested list (V, C) or (M, V, C), or an object with the frame under
    ``"frame"`` / ``"joints"`` / ``"keypoints"`` / ``"persons"`` and optionally ``"timestamp"`` /
    ``"t"`` (seconds). Raises :class:`FrameError` on anything else."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise FrameError(f"not a JSON value ({exc.msg} at column {exc.colno})") from None
    ts = None
    if isinstance(obj, dict):
        for k in ("timestamp", "t", "time"):
            if k in obj:
                ts = obj[k]
                break
        if ts is not None and not isinstance(ts, (int, float)):
            raise FrameError(f"timestamp must be a number, got {ts!r}")
        for k in ("frame", "joints", "keypoints", "persons"):
            if k in obj:
                return obj[k], (None if ts is None else float(ts))
        raise FrameError("a JSON object frame needs a 'frame' (or 'joints' / 'keypoints' / "
                         f"'persons') entry; got keys {sorted(obj)}")
    return obj, None


class StreamingRecognizer:
    """A trained checkpoint on a live stream of frames (see the module docstring).

    ``StreamingRecognizer(run, model=None, window=None, seconds=None, fps=None,
    normalize=None, topk=5)``: ``run`` a :class:`~adasgn.engine.run.TrainedRun`; ``model`` the
    (evaluation-mode) model to use, default the run's; ``window`` in raw frames, or ``seconds`` x
    ``fps``; ``normalize`` overrides the normalisation (``frame`` / ``origin``).
    :meth:`adasgn.inference.Recognizer.stream` builds one from a recogniser."""

    def __init__(self, run: TrainedRun, model=None, *, window: int | None = None,
                 seconds: float | None = None, fps: float | None = None,
                 normalize: str | None = None, topk: int = 5,
                 class_names: list[str] | None = None, budget: float | None = None,
                 streamer=None):
        self.run = run
        self.model = (model if model is not None else run.model).eval()
        self.model.make_deterministic()
        self.class_names = list(class_names or run.class_names)
        self.layout = run.layout
        self.num_frames = int(self.model.num_frames)
        self.in_channels = int(self.model.in_channels)
        self.num_persons = int(run.num_persons)
        self.budget = budget
        self.topk = max(1, int(topk))
        default_fps, default_len = DATASET_TIMING.get(run.dataset, FALLBACK_TIMING)
        self.fps = float(fps) if fps else default_fps
        if self.fps <= 0 or not math.isfinite(self.fps):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        if window is not None and seconds is not None:
            raise ValueError("give the window in frames or in seconds, not both")
        if seconds is not None:
            if not seconds > 0:
                raise ValueError(f"window seconds must be positive, got {seconds!r}")
            window = int(round(seconds * self.fps))
        if window is None:
            window = default_len
        if int(window) < 1:
            raise ValueError(f"window must be at least 1 frame, got {window!r}")
        t = self.num_frames
        self.stride = max(1, int(round(int(window) / t)))
        self.window = t * self.stride  # the offline window that the updates equal
        self.span = (t - 1) * self.stride + 1  # raw frames from the oldest sampled to the newest
        self.normalize, self.steps = self._frame_steps(normalize)
        self.streamer = streamer if streamer is not None else self.model.streamer()
        self.reset()

    # -------------------------------------------------------------- construction
    @classmethod
    def from_checkpoint(cls, path, device: str | torch.device = "cpu", **kwargs):
        return cls(load_run(path, device), **kwargs)

    def _frame_steps(self, normalize: str | None) -> tuple[str, list]:
        """The checkpoint's test-time steps that a stream applies frame by frame."""
        cfg = copy.deepcopy(self.run.cfg)
        mode = normalize or cfg.data.normalize
        if mode == "none":
            mode = "origin"  # the rule adasgn prepare applies: the first frame's centre joint
        cfg.data.normalize = mode
        steps = []
        for spec in run_pipeline(cfg, self.layout.name, train=False, num_persons=self.num_persons):
            if spec["type"] in REPLACED_STEPS:
                continue
            step = build_transform(spec)
            if not step.frame_local:
                raise ValueError(f"{self.run.path}: the test-time step {step!r} needs more than "
                                 "one frame at a time and cannot be streamed (the velocity "
                                 "stream is not supported; joint and bone streams are)")
            steps.append(step)
        return mode, steps

    def reset(self) -> None:
        """Forget every frame (a new stream; the origin is taken again from the next frame)."""
        self.frames = 0  # accepted frames
        self.skipped = 0  # frames refused with a FrameError
        self.updates = 0
        self._ring: deque[StreamFrame] = deque(maxlen=self.num_frames)
        self._indices: deque[int] = deque(maxlen=self.num_frames)
        self._carry: dict = {}  # what the normalisation keeps for the whole stream (origin)

    # -------------------------------------------------------------- frames
    def check(self, frame: Any) -> np.ndarray:
        """One frame as float32 (M, V, C); :class:`FrameError` when it cannot be used."""
        if isinstance(frame, torch.Tensor):
            frame = frame.detach().cpu().numpy()
        try:
            arr = np.asarray(frame, dtype=np.float32)
        except (TypeError, ValueError):
            raise FrameError("frame is not a numeric (V, C) or (M, V, C) array (ragged lists or "
                             "non-numbers)") from None
        if arr.ndim == 2:
            arr = arr[None]
        v, c = self.layout.num_joints, self.in_channels
        if arr.ndim != 3:
            raise FrameError(f"frame must be (V={v}, C={c}) or (M, V={v}, C={c}); got shape "
                             f"{tuple(arr.shape)}")
        if arr.shape[0] == 0:
            raise FrameError("frame has no person")
        if arr.shape[1] != v:
            raise FrameError(f"frame has {arr.shape[1]} joints; the checkpoint expects {v} "
                             f"(layout {self.layout.name}); shape {tuple(arr.shape)}")
        if arr.shape[2] != c:
            raise FrameError(f"frame has {arr.shape[2]} coordinates per joint; the checkpoint "
                             f"expects {c}; shape {tuple(arr.shape)}")
        if not np.isfinite(arr).all():
            raise FrameError("frame has NaN or Inf coordinates")
        if arr.sum() == 0:  # the rule of DropEmptyFrames
            raise FrameError("frame has no person (every coordinate is zero)")
        return arr

    def push(self, frame: Any, timestamp: float | None = None) -> StreamUpdate | None:
        """Add one frame ((V, C) or (M, V, C)); a :class:`StreamUpdate` when a prediction is due.

        Raises :class:`FrameError` for a frame that cannot be used; the stream is unchanged."""
        t0 = time.perf_counter()
        if not self.ingest(frame):
            return None
        t1 = time.perf_counter()
        with torch.inference_mode():
            logits, info = self.streamer.window([list(self._ring)])
        return self.make_update(logits, info, 0, timestamp, t0, time.perf_counter() - t1)

    def ingest(self, frame: Any) -> bool:
        """Check and add one frame; True when an update is due (the window is full and the
        frame was sampled). :meth:`push` = ``ingest`` + the model + :meth:`make_update`;
        :class:`StreamPool` runs the model for many streams at once."""
        try:
            kp = self.check(frame)
        except FrameError:
            self.skipped += 1
            raise
        r = self.frames
        self.frames += 1
        if r % self.stride:
            return False  # between two sampled frames: counted, not needed
        sample = {"keypoint": kp[:, None], "label": -1, **self._carry}
        for step in self.steps:
            sample = step(sample)
        for k in ("origin", "origin_rotation"):
            if k in sample:
                self._carry[k] = sample[k]
        x = sample["input"][:, 0]  # (C, V, M)
        nonzero = tuple(bool(b) for b in x.any(axis=(0, 1)))
        pos = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 1, 0)))  # (M, V, C)
        self._ring.append(StreamFrame(pos, nonzero))
        self._indices.append(r)
        self._computed0 = self.streamer.computed
        return len(self._ring) == self.num_frames

    @property
    def window_frames(self) -> list[StreamFrame]:
        return list(self._ring)

    def make_update(self, logits: torch.Tensor, info, row: int, timestamp: float | None,
                    t0: float, model_s: float) -> StreamUpdate:
        """The :class:`StreamUpdate` of row ``row`` of a streamer's output."""
        r = self._indices[-1]
        prob = torch.softmax(logits[row].double(), 0)
        k = min(self.topk, prob.numel())
        p, idx = torch.topk(prob, k)
        top = [{"index": int(i), "name": self.class_names[int(i)], "probability": float(q)}
               for q, i in zip(p.tolist(), idx.tolist())]
        present = info.present[row].tolist()
        if info.decisions is not None:
            names = self.model.choice_names
            dec = info.decisions[row].tolist()
            branches = [["all" if d < 0 else names[d] for d in dec[j]]
                        for j in range(len(present)) if present[j]]
        else:
            branches = [[STATIC] * self.num_frames for j in present if j]
        up = StreamUpdate(
            update=self.updates, frame=r,
            timestamp=float(timestamp) if timestamp is not None else r / self.fps,
            frame_indices=list(self._indices), top=top, branches=branches,
            gmacs=float(info.gmacs[row]), latency_ms=1e3 * (time.perf_counter() - t0),
            model_ms=1e3 * model_s, computed=self.streamer.computed - self._computed0,
            persons=len(branches))
        self.updates += 1
        self.last_logits, self.last_info = logits[row:row + 1], info
        return up

    # -------------------------------------------------------------- the offline reference
    def window_input(self) -> torch.Tensor:
        """The current window as the model input (1, C, T, V, M): ``model(x)`` on it gives the
        offline logits of the window (what every update equals)."""
        if len(self._ring) < self.num_frames:
            raise ValueError(f"the window is not full yet ({len(self._ring)} of "
                             f"{self.num_frames} sampled frames)")
        pos = torch.stack([f.pos for f in self._ring])  # (T, M, V, C)
        return pos.permute(3, 0, 2, 1).unsqueeze(0).contiguous()

    def describe(self) -> dict:
        return {"window": self.window, "stride": self.stride, "span": self.span,
                "num_frames": self.num_frames, "fps": self.fps, "normalize": self.normalize,
                "steps": [repr(s) for s in self.steps], "model": self.run.kind,
                "persons": self.num_persons}


# ---------------------------------------------------------------------------------------------
# many streams: their due updates in one batched forward


class StreamPool:
    """``n`` streams of one checkpoint sharing one model and one streamer: frames are pushed per
    stream, and :meth:`flush` runs the model once for every stream whose update is due (the new
    frames' features of all streams in one kernel call per branch, one policy / temporal / head
    call for all windows).

    ::

        pool = StreamPool(rec.run, 64, model=rec.model, window=20)
        for frames in camera_batches:            # one frame per stream
            for i, f in enumerate(frames):
                pool.push(i, f)
            for i, up in pool.flush().items():   # {stream index: StreamUpdate}
                ...
    """

    def __init__(self, run: TrainedRun, n: int, model=None, **kwargs):
        if n < 1:
            raise ValueError(f"a pool needs at least one stream, got {n}")
        first = StreamingRecognizer(run, model, **kwargs)
        self.streams = [first] + [StreamingRecognizer(run, first.model, streamer=first.streamer,
                                                      **kwargs) for _ in range(n - 1)]
        self.streamer = first.streamer
        self._due: list[tuple[int, float | None, float]] = []

    def __len__(self) -> int:
        return len(self.streams)

    def push(self, i: int, frame: Any, timestamp: float | None = None) -> bool:
        """Add a frame to stream ``i``; True when its update is due at the next :meth:`flush`.
        Raises :class:`FrameError` for an unusable frame (the stream is unchanged)."""
        t0 = time.perf_counter()
        if not self.streams[i].ingest(frame):
            return False
        if any(j == i for j, _, _ in self._due):
            raise ValueError(f"stream {i} has an update pending: flush() before its next frame")
        self._due.append((i, timestamp, t0))
        return True

    def flush(self) -> dict[int, StreamUpdate]:
        """Run the model once for every stream with a due update: {stream index: update}."""
        if not self._due:
            return {}
        due, self._due = self._due, []
        t1 = time.perf_counter()
        with torch.inference_mode():
            logits, info = self.streamer.window([self.streams[i].window_frames for i, _, _ in due])
        model_s = time.perf_counter() - t1
        return {i: self.streams[i].make_update(logits, info, row, ts, t0, model_s)
                for row, (i, ts, t0) in enumerate(due)}


# ---------------------------------------------------------------------------------------------
# online events: start / end / label from the updates


@dataclass
class StreamEvent:
    kind: str  # "start" | "end"
    label: int
    name: str
    start: float  # timestamp of the first update above the start threshold
    end: float | None  # the update where it fell below the end threshold (kind "end")
    peak: float  # highest probability of the label during the event so far

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class EventDetector:
    """Action events from a stream's updates, with hysteresis and a minimum duration.

    An event of label ``c`` begins when ``c`` is the top class with probability >= ``start``; it
    lasts while the probability of ``c`` stays >= ``end`` (``end <= start``: hysteresis) and ends
    at the first update below. It is reported (``"start"``) once it has lasted ``min_duration``
    seconds (timestamps of the updates), and ``"end"`` when it ends; shorter ones are dropped.
    ``update(up)`` returns the events of this update (usually none)."""

    def __init__(self, start: float = 0.6, end: float = 0.4, min_duration: float = 0.0,
                 ignore: tuple = ()):
        """``ignore``: class indices that never begin an event (a background / no-gesture
        class); while one of them is the top class an open event still ends by ``end``."""
        if not 0 <= end <= start <= 1:
            raise ValueError(f"need 0 <= end <= start <= 1, got start={start}, end={end}")
        self.start, self.end, self.min_duration = float(start), float(end), float(min_duration)
        self.ignore = frozenset(int(i) for i in ignore)
        self.active: StreamEvent | None = None
        self.confirmed = False

    def update(self, up: StreamUpdate) -> list[StreamEvent]:
        t = float(up.timestamp if up.timestamp is not None else up.frame)
        out: list[StreamEvent] = []
        ev = self.active
        if ev is not None:
            p = next((e["probability"] for e in up.top if e["index"] == ev.label), 0.0)
            if p >= self.end:
                ev.peak = max(ev.peak, p)
                if not self.confirmed and t - ev.start >= self.min_duration:
                    self.confirmed = True
                    out.append(StreamEvent("start", ev.label, ev.name, ev.start, None, ev.peak))
                return out
            if self.confirmed:
                out.append(StreamEvent("end", ev.label, ev.name, ev.start, t, ev.peak))
            self.active, self.confirmed = None, False
        if up.probability >= self.start and up.index not in self.ignore:
            self.active = StreamEvent("start", up.index, up.name, t, None, up.probability)
            if self.min_duration <= 0:
                self.confirmed = True
                out.append(StreamEvent("start", up.index, up.name, t, None, up.probability))
        return out

    def close(self, t: float | None = None) -> list[StreamEvent]:
        """End the open event (the stream ended)."""
        ev, self.active = self.active, None
        confirmed, self.confirmed = self.confirmed, False
        if ev is None or not confirmed:
            return []
        return [StreamEvent("end", ev.label, ev.name, ev.start, t, ev.peak)]


# ---------------------------------------------------------------------------------------------
# scoring online detections against annotated segments (SFINGE3D's protocol)


@dataclass(frozen=True)
class Detection:
    """A detected (or annotated) segment: label and frames ``start..end`` inclusive."""

    label: int
    start: int
    end: int


def events_to_detections(events: list[StreamEvent], fps: float, lag: int = 0,
                         last_frame: int | None = None) -> list[Detection]:
    """Paired start / end :class:`StreamEvent` s (timestamps in seconds, ``frame / fps``) ->
    :class:`Detection` s in frames. ``lag`` frames are subtracted from the start (the update
    that starts an event sees the gesture from its window's beginning); an event still open
    ends at ``last_frame``."""
    def start_frame(ev: StreamEvent) -> int:
        return max(0, int(round(ev.start * fps)) - int(lag))

    out, open_ = [], None
    for ev in events:
        if ev.kind == "start":
            open_ = ev
        elif open_ is not None:
            end = ev.end if ev.end is not None else (last_frame or 0) / fps
            s = start_frame(open_)
            out.append(Detection(ev.label, s, max(s, int(round(end * fps)))))
            open_ = None
    if open_ is not None:
        s = start_frame(open_)
        out.append(Detection(open_.label, s, max(s, int(last_frame or s))))
    return out


@dataclass
class DetectionScore:
    """Totals over sequences: ``truth`` annotated gestures, ``correct`` detected (label right,
    start inside the window with the margin), ``false`` detections matching no gesture;
    ``jaccard``: mean over (sequence, class) pairs, see :func:`score_detections`."""

    truth: int = 0
    correct: int = 0
    false: int = 0
    jaccard_sum: float = 0.0
    jaccard_n: int = 0

    @property
    def detections(self) -> int:
        return self.correct + self.false

    @property
    def detection_rate(self) -> float:
        return self.correct / self.truth if self.truth else 0.0

    @property
    def false_per_gesture(self) -> float:
        return self.false / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        d = 2 * self.correct + self.false + (self.truth - self.correct)
        return 2 * self.correct / d if d else 0.0

    @property
    def jaccard(self) -> float:
        return self.jaccard_sum / self.jaccard_n if self.jaccard_n else 0.0

    def add(self, other: "DetectionScore") -> "DetectionScore":
        return DetectionScore(self.truth + other.truth, self.correct + other.correct,
                              self.false + other.false, self.jaccard_sum + other.jaccard_sum,
                              self.jaccard_n + other.jaccard_n)

    def to_dict(self) -> dict:
        return {"gestures": self.truth, "correct": self.correct, "false_positives": self.false,
                "detection_rate": self.detection_rate, "false_per_gesture": self.false_per_gesture,
                "f1": self.f1, "jaccard": self.jaccard}


def score_detections(truth: list, detected: list, margin: int = 20,
                     length: int | None = None) -> DetectionScore:
    """Score one sequence's detections (label, start, end; frames inclusive).

    A gesture counts as detected when a detection of its label starts inside its window, from
    ``margin`` frames before its start to its end (the rule the SFINGE3D dataset states); each
    detection matches at most one gesture and each gesture one detection (in time order, the
    earliest unmatched gesture first). Unmatched detections are false positives.

    Jaccard index (frame level, ChaLearn LAP's definition): for every class in the truth or the
    detections, ``|A & B| / |A | B|`` of the frames annotated (A) and detected (B) with it; a
    class only detected scores 0. Summed with the count of classes, so that
    :class:`DetectionScore` averages over every (sequence, class) pair."""
    truth = [Detection(*t) for t in truth]
    detected = sorted((Detection(*d) for d in detected), key=lambda d: d.start)
    used = [False] * len(truth)
    correct = false = 0
    for d in detected:
        hit = next((i for i, t in enumerate(truth) if not used[i] and t.label == d.label
                    and t.start - margin <= d.start <= t.end), None)
        if hit is None:
            false += 1
        else:
            used[hit] = True
            correct += 1
    n = max([length or 0] + [s.end + 1 for s in truth + detected])
    jac, classes = 0.0, sorted({s.label for s in truth + detected})
    for c in classes:
        a = np.zeros(n, dtype=bool)
        b = np.zeros(n, dtype=bool)
        for t in truth:
            if t.label == c:
                a[t.start:t.end + 1] = True
        for d in detected:
            if d.label == c:
                b[d.start:d.end + 1] = True
        union = int((a | b).sum())
        jac += int((a & b).sum()) / union if union else 0.0
    return DetectionScore(len(truth), correct, false, jac, len(classes))
