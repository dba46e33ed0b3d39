"""From video to skeletons: ``adasgn extract`` -- pose estimation on video files, one pyskl pkl out.

::

    from adasgn.data.video import extract_video, get_backend

    poses = extract_video("clip.mp4")                  # the default backend: MediaPipe Pose
    poses.keypoint(), poses.valid.mean(), poses.timing  # (1, T, 33, 3) metres; kept share; s

**Backends** (:class:`PoseBackend`, registered by name with :func:`register_backend`): per video
``open(info)`` then ``estimate(frame)`` for every decoded frame (RGB uint8 (H, W, 3)), which
returns a :class:`PoseFrame` -- ``world`` (V, 3) metres in camera-aligned axes, x right, y down,
z away from the camera (OpenCV's camera axes; any origin), ``image`` (V, 2) in [0, 1] of the
frame's width and height (x right, y down), ``visibility`` (V,) in [0, 1] -- or ``None`` when
there is no person; then ``close()``. The backend names its layout (``layout``). Built in:
``mediapipe`` (MediaPipe Pose, ``model_complexity=1``, the only MediaPipe pose model that runs
without a download; layout ``mediapipe33``) and ``mediapipe-hands`` (MediaPipe Hands, one hand;
``hand21``). A backend of one's own (an ONNX model, ...) is a class with those three methods:
``register_backend("mine", MyBackend)`` or, on the command line, ``--backend pkg.module:MyBackend``.
MediaPipe and OpenCV are the optional extra ``video`` (``pip install 'adasgn[video]'``, Python <
3.13, numpy < 2); they are imported only when a video is decoded or a MediaPipe backend opened.

**Frames kept.** A frame is *usable* when the backend found a person and the person passes the
visibility gate (:class:`Gate`: by default both shoulders and both hips with visibility >= 0.5;
MediaPipe invents a plausible body on partial views and even on empty scenes, with the hips at
visibility ~0). Frames that are not usable are **dropped** (as ``adasgn prepare`` drops all-zero
frames); ``frame_inds`` in each sample keeps the video frame index of every kept frame. A video
with no usable frame, and a file that cannot be decoded, is reported and skipped (summary and
``OUT.rejects.txt``), never silently.

**Coordinates written** (``keypoint`` (1, T, V, 3)): the backend's world joints in the library's
axes -- Kinect / NTU camera space: x to the camera's left, y up, z away from the camera, metres
(x and y negated from the backend's) -- with the backend's origin (MediaPipe: the hip midpoint of
every frame, so the global translation of the person is not kept). Also per sample:
``keypoint_score`` (1, T, V) visibility, ``image_keypoint`` (1, T, V, 2) pixels, ``img_shape``
(H, W), ``fps``, ``frame_inds``, ``video_frames``. ``mirror=True`` flips each frame horizontally
before the backend, for videos that are a mirror image of the scene (Kinect v2 colour streams such
as NTU RGB+D's ``_rgb.avi``; otherwise left and right swap and the 3-D skeleton is a reflection):
the world joints are then those of the true scene, the image joints still the file's pixels.

Only one person per frame: MediaPipe Pose tracks the most prominent person and ignores others.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from ..errors import DataError, UserError
from ..skeleton import get_layout
from .files import FileLabels, _label_map, match_path, read_index
from .pkl import save_pkl
from .prepare import PrepareResult, Reject, _write_rejects

__all__ = ["Gate", "PoseBackend", "PoseFrame", "VideoInfo", "VideoPoses", "VIDEO_EXTENSIONS",
           "ExtractResult", "extract_video", "extract_videos", "get_backend", "is_video",
           "list_backends", "open_video", "register_backend", "require_video_support",
           "to_library_axes"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
INSTALL_HINT = ("pose extraction needs the optional extra 'video' (MediaPipe 0.10.21 and OpenCV, "
                "Python < 3.13, numpy < 2): pip install 'adasgn[video]' in an environment of its "
                "own (docs/video.md)")
# MediaPipe's axes (x right, y down, z away) -> Kinect / NTU camera space (x left, y up, z away):
# a rotation by 180 degrees about z, so handedness is kept
_TO_LIBRARY = np.array([-1.0, -1.0, 1.0], dtype=np.float32)


def require_video_support(what: str = "opencv") -> None:
    """Raise :class:`UserError` with the install hint when OpenCV (or MediaPipe) is missing."""
    try:
        if what == "mediapipe":
            import mediapipe  # noqa: F401
        else:
            import cv2  # noqa: F401
    except ImportError as exc:
        raise UserError(f"{INSTALL_HINT} ({exc})") from None


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def to_library_axes(world: np.ndarray) -> np.ndarray:
    """Backend world axes (x right, y down, z away) -> the library's (x left, y up, z away)."""
    return (np.asarray(world, dtype=np.float32) * _TO_LIBRARY).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# backends


@dataclass
class PoseFrame:
    """One person in one frame, as a backend reports it (see the module docstring)."""

    world: np.ndarray  # (V, 3) metres: x right, y down, z away from the camera
    image: np.ndarray  # (V, 2) in [0, 1] of the frame's width / height
    visibility: np.ndarray  # (V,) in [0, 1]


@dataclass
class VideoInfo:
    """What is known about a video before its frames are read."""

    name: str
    fps: float
    frames: int  # as the container reports it (0 = unknown)
    width: int
    height: int


class PoseBackend:
    """The backend interface (subclassing is optional: any object with these members works).

    ``name``; ``layout`` (a registered layout name); ``open(info)`` before the first frame of a
    video (reset any tracking); ``estimate(frame_rgb) -> PoseFrame | None``; ``close()``."""

    name = "base"
    layout = "mediapipe33"

    def open(self, info: VideoInfo) -> None:  # noqa: B027 - optional hook
        """Start a new video."""

    def estimate(self, frame: np.ndarray) -> PoseFrame | None:
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model."""

    def describe(self) -> str:
        return self.name


class _MediaPipeSolution(PoseBackend):
    """What the MediaPipe backends share: the solution object made on :meth:`open` (which
    resets its tracking) from ``self.options``, and closed on :meth:`close`."""

    def _solution(self, mp):
        raise NotImplementedError

    def open(self, info: VideoInfo) -> None:
        require_video_support("mediapipe")
        import mediapipe as mp

        self.close()
        self._model = self._solution(mp)(**self.options)

    def close(self) -> None:
        if getattr(self, "_model", None) is not None:
            self._model.close()
            self._model = None


class MediaPipePose(_MediaPipeSolution):
    """MediaPipe Pose (BlazePose GHUM), ``model_complexity=1``: the model bundled with the wheel
    (complexities 0 and 2 download their model on first use, so they are refused). One person;
    deterministic; video mode (tracking between frames, reset by :meth:`open`)."""

    name = "mediapipe"
    layout = "mediapipe33"

    def __init__(self, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, smooth: bool = True,
                 model_complexity: int = 1):
        if int(model_complexity) != 1:
            raise UserError("mediapipe backend: only model_complexity=1 runs offline (0 and 2 "
                            "download a model)")
        self.options = dict(static_image_mode=False, model_complexity=1,
                            smooth_landmarks=bool(smooth), enable_segmentation=False,
                            min_detection_confidence=float(min_detection_confidence),
                            min_tracking_confidence=float(min_tracking_confidence))
        self._model = None

    def _solution(self, mp):
        return mp.solutions.pose.Pose

    def estimate(self, frame: np.ndarray) -> PoseFrame | None:
        res = self._model.process(frame)
        if res.pose_landmarks is None or res.pose_world_landmarks is None:
            return None
        img = res.pose_landmarks.landmark
        world = res.pose_world_landmarks.landmark
        return PoseFrame(np.array([(p.x, p.y, p.z) for p in world], dtype=np.float32),
                         np.array([(p.x, p.y) for p in img], dtype=np.float32),
                         np.array([p.visibility for p in img], dtype=np.float32))

    def describe(self) -> str:
        return (f"mediapipe Pose (model_complexity=1, detection >= "
                f"{self.options['min_detection_confidence']:g}, tracking >= "
                f"{self.options['min_tracking_confidence']:g})")


class MediaPipeHands(_MediaPipeSolution):
    """MediaPipe Hands, one hand per frame (the first detected); ``visibility`` of every joint is
    the handedness score (Hands reports no per-joint visibility)."""

    name = "mediapipe-hands"
    layout = "hand21"

    def __init__(self, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5):
        self.options = dict(static_image_mode=False, max_num_hands=1, model_complexity=1,
                            min_detection_confidence=float(min_detection_confidence),
                            min_tracking_confidence=float(min_tracking_confidence))
        self._model = None

    def _solution(self, mp):
        return mp.solutions.hands.Hands

    def estimate(self, frame: np.ndarray) -> PoseFrame | None:
        res = self._model.process(frame)
        if not res.multi_hand_landmarks or not res.multi_hand_world_landmarks:
            return None
        img = res.multi_hand_landmarks[0].landmark
        world = res.multi_hand_world_landmarks[0].landmark
        score = float(res.multi_handedness[0].classification[0].score) \
            if res.multi_handedness else 1.0
        return PoseFrame(np.array([(p.x, p.y, p.z) for p in world], dtype=np.float32),
                         np.array([(p.x, p.y) for p in img], dtype=np.float32),
                         np.full(len(world), score, dtype=np.float32))

    def describe(self) -> str:
        return "mediapipe Hands (one hand, model_complexity=1)"


_BACKENDS: dict[str, Callable[..., Any]] = {}


def register_backend(name: str, factory: Callable[..., Any], overwrite: bool = False) -> None:
    """Make ``factory(**options)`` (a class or a function returning a backend) known as ``name``."""
    if name in _BACKENDS and not overwrite:
        raise ValueError(f"pose backend {name!r} is already registered")
    _BACKENDS[name] = factory


def list_backends() -> list[str]:
    return sorted(_BACKENDS)


def get_backend(spec: str | Any = "mediapipe", **options) -> Any:
    """A backend: a registered name, ``package.module:attribute`` (a class or factory, imported
    on demand), or an object that already is one (returned as it is)."""
    if not isinstance(spec, str):
        return spec
    if spec in _BACKENDS:
        return _BACKENDS[spec](**options)
    if ":" in spec:
        mod, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"pose backend {spec!r}: cannot import it ({exc})") from None
        return factory(**options)
    raise UserError(f"unknown pose backend {spec!r}; registered: {list_backends()} (or give "
                    "package.module:Class)")


register_backend("mediapipe", MediaPipePose)
register_backend("mediapipe-hands", MediaPipeHands)


# ---------------------------------------------------------------------------------------------
# the visibility gate


@dataclass(frozen=True)
class Gate:
    """A detected person is usable when every gate joint has visibility >= ``min_visibility``;
    a video must have at least ``min_run`` consecutive such frames somewhere (else none of its
    frames is usable).

    ``joints`` are names of the backend's layout; ``None`` = the default for the layout (a body:
    both shoulders and both hips -- a torso in view; a hand: none, the detection suffices);
    ``()`` = no visibility gate. ``min_run``: a video whose longest run is shorter shows no real
    person (on the mirrored empty pool scene MediaPipe reports a small "person" with visible hips
    for 6 frames)."""

    joints: tuple[str, ...] | None = None
    min_visibility: float = 0.5
    min_run: int = 8

    DEFAULTS = {"mediapipe33": ("l_shoulder", "r_shoulder", "l_hip", "r_hip"), "hand21": ()}

    def resolve(self, layout: str) -> tuple[int, ...]:
        lay = get_layout(layout)
        names = self.joints if self.joints is not None else self.DEFAULTS.get(lay.name, ())
        return tuple(lay.index(j) for j in names)

    def describe(self, layout: str) -> str:
        lay = get_layout(layout)
        idx = self.resolve(layout)
        run = f", >= {self.min_run} such frames in a row" if self.min_run > 1 else ""
        if not idx:
            return f"a detected person (no visibility gate){run}"
        return (f"visibility >= {self.min_visibility:g} at "
                + ", ".join(lay.joints[i] for i in idx) + run)

    def runs(self, ok: np.ndarray) -> np.ndarray:
        """``ok`` (N,) bool, or all False when its longest run is shorter than ``min_run``."""
        ok = np.asarray(ok, bool).copy()
        if self.min_run <= 1 or not ok.any():
            return ok
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
        if int((edges[1::2] - edges[::2]).max()) < self.min_run:
            ok[:] = False
        return ok


# ---------------------------------------------------------------------------------------------
# decoding


class VideoReader:
    """Frames of a video file (or a camera index) through OpenCV, as RGB uint8 arrays."""

    def __init__(self, source: str | os.PathLike | int):
        require_video_support("opencv")
        import cv2

        self._cv2 = cv2
        self.source = source
        self._cap = cv2.VideoCapture(source if isinstance(source, int) else os.fspath(source))
        if not self._cap.isOpened():
            self._cap.release()
            what = f"camera {source}" if isinstance(source, int) else f"{source}"
            raise DataError(f"{what}: cannot open the video (not a video file OpenCV can decode)",
                            "unreadable video")
        name = f"camera{source}" if isinstance(source, int) else Path(source).stem
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.info = VideoInfo(name, fps if fps > 0 else 30.0,
                              max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
                              int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                              int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))

    def read(self) -> np.ndarray | None:
        """The next frame as RGB (H, W, 3) uint8, or None at the end."""
        ok, frame = self._cap.read()
        if not ok or frame is None:
            return None
        return self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            f = self.read()
            if f is None:
                return
            yield f

    def close(self) -> None:
        self._cap.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_video(source: str | os.PathLike | int) -> VideoReader:
    """A :class:`VideoReader` (``DataError`` "unreadable video" when it cannot be opened)."""
    return VideoReader(source)


class FrameSource:
    """Frames from any iterable of RGB arrays (a fake camera in tests, a generator of one's own)."""

    def __init__(self, frames: Iterable[np.ndarray], name: str = "frames", fps: float = 30.0):
        self._it = iter(frames)
        self.info = VideoInfo(name, float(fps), 0, 0, 0)

    def read(self) -> np.ndarray | None:
        f = next(self._it, None)
        if f is not None and not self.info.width:
            self.info.height, self.info.width = int(f.shape[0]), int(f.shape[1])
        return f

    def __iter__(self):
        while True:
            f = self.read()
            if f is None:
                return
            yield f

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def flip_frame(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


# ---------------------------------------------------------------------------------------------
# one video


@dataclass
class VideoPoses:
    """Every decoded frame of one video: the backend's output, and which frames are usable."""

    name: str
    layout: str
    fps: float
    width: int
    height: int
    world: np.ndarray  # (N, V, 3) backend axes (zeros where no person)
    image: np.ndarray  # (N, V, 2) in [0, 1] of the original frame
    visibility: np.ndarray  # (N, V)
    detected: np.ndarray  # (N,) bool: the backend reported a person
    valid: np.ndarray  # (N,) bool: detected and passing the gate (visibility and run length)
    timing: dict = field(default_factory=dict)  # decode_s, pose_s, frames
    backend: str = ""
    gate: str = ""

    @property
    def frames(self) -> int:
        return int(len(self.valid))

    @property
    def usable(self) -> int:
        return int(self.valid.sum())

    def keypoint(self) -> np.ndarray:
        """(1, T, V, 3) float32 of the usable frames, in the library's axes (module docstring)."""
        return to_library_axes(self.world[self.valid])[None]

    def image_pixels(self) -> np.ndarray:
        """(1, T, V, 2) float32 pixel coordinates of the usable frames."""
        scale = np.array([max(self.width, 1), max(self.height, 1)], dtype=np.float32)
        return (self.image[self.valid] * scale).astype(np.float32)[None]

    def annotation(self, name: str | None = None, label: int = 0) -> dict:
        """The pyskl annotation of the usable frames (``frame_dir`` ``name``)."""
        if not self.usable:
            raise DataError(self.no_person_message(), "no usable person")
        return {"frame_dir": name or self.name, "label": int(label),
                "total_frames": self.usable, "keypoint": self.keypoint(),
                "keypoint_score": self.visibility[self.valid][None].astype(np.float32),
                "image_keypoint": self.image_pixels(),
                "img_shape": (int(self.height), int(self.width)), "fps": float(self.fps),
                "frame_inds": np.flatnonzero(self.valid).astype(np.int32),
                "video_frames": self.frames}

    def no_person_message(self, with_name: bool = True) -> str:
        head = f"{self.name}: " if with_name else ""
        if self.frames == 0:
            return f"{head}no frame could be decoded"
        return (f"{head}no usable person: {self.frames} frames decoded, a person detected "
                f"in {int(self.detected.sum())}, none usable (gate: {self.gate})")

    def timing_line(self) -> str:
        t = self.timing
        n = max(t.get("frames", self.frames), 1)
        dec, pose = t.get("decode_s", 0.0), t.get("pose_s", 0.0)
        return (f"decode {1e3 * dec / n:.1f} ms/frame ({n / dec if dec else float('inf'):.0f} "
                f"fps), pose {1e3 * pose / n:.1f} ms/frame ({n / pose if pose else float('inf'):.1f}"
                " fps)")


def estimate_frames(source, backend, gate: Gate = Gate(), mirror: bool = False,
                    bar: tqdm | None = None, on_frame: Callable | None = None) -> VideoPoses:
    """Run ``backend`` on every frame of ``source`` (a :class:`VideoReader` / :class:`FrameSource`:
    ``info`` and ``read()``); ``on_frame(index, rgb, PoseFrame | None, usable)`` is called per
    frame (the demo draws with it)."""
    info = source.info
    lay = get_layout(backend.layout)
    v = lay.num_joints
    gate_idx = gate.resolve(lay.name)
    worlds, images, vis, det, ok = [], [], [], [], []
    decode_s = pose_s = 0.0
    backend.open(info)
    try:
        i = 0
        while True:
            t0 = time.perf_counter()
            frame = source.read()
            t1 = time.perf_counter()
            if frame is None:
                break
            decode_s += t1 - t0
            pf = backend.estimate(flip_frame(frame) if mirror else frame)
            pose_s += time.perf_counter() - t1
            if pf is not None:
                w = np.asarray(pf.world, dtype=np.float32).reshape(v, 3)
                im = np.asarray(pf.image, dtype=np.float32).reshape(v, 2)
                vi = np.asarray(pf.visibility, dtype=np.float32).reshape(v)
                if mirror:  # world: the true (unmirrored) scene; image: the file's pixels
                    im = np.stack([1.0 - im[:, 0], im[:, 1]], axis=1)
                finite = np.isfinite(w).all() and np.isfinite(im).all()
                usable = bool(finite and all(vi[j] >= gate.min_visibility for j in gate_idx))
                if not finite:
                    w, im = np.zeros((v, 3), np.float32), np.zeros((v, 2), np.float32)
                    vi = np.zeros(v, np.float32)
            else:
                w, im, vi = np.zeros((v, 3), np.float32), np.zeros((v, 2), np.float32), \
                    np.zeros(v, np.float32)
                usable = False
            worlds.append(w)
            images.append(im)
            vis.append(vi)
            det.append(pf is not None)
            ok.append(usable)
            if on_frame is not None:
                on_frame(i, frame, pf if pf is None else PoseFrame(w, im, vi), usable)
            if bar is not None:
                bar.update(1)
            i += 1
    finally:
        backend.close()
    n = len(ok)
    return VideoPoses(
        name=info.name, layout=lay.name, fps=info.fps, width=info.width, height=info.height,
        world=np.asarray(worlds, np.float32).reshape(n, v, 3),
        image=np.asarray(images, np.float32).reshape(n, v, 2),
        visibility=np.asarray(vis, np.float32).reshape(n, v),
        detected=np.asarray(det, bool), valid=gate.runs(np.asarray(ok, bool)),
        timing={"decode_s": decode_s, "pose_s": pose_s, "frames": n},
        backend=getattr(backend, "describe", lambda: str(backend))(),
        gate=gate.describe(lay.name))


def extract_video(path: str | os.PathLike, backend: Any = "mediapipe", gate: Gate = Gate(),
                  mirror: bool = False, progress: bool = False) -> VideoPoses:
    """Decode ``path`` and run the pose backend on every frame (see the module docstring)."""
    be = get_backend(backend)
    with open_video(path) as reader:
        bar = tqdm(total=reader.info.frames or None, desc=reader.info.name, unit="frame",
                   file=sys.stderr, disable=not progress, leave=False, mininterval=0.5)
        try:
            poses = estimate_frames(reader, be, gate, mirror, bar)
        finally:
            bar.close()
    if poses.frames == 0:
        raise DataError(f"{path}: no frame could be decoded", "unreadable video")
    return poses


# ---------------------------------------------------------------------------------------------
# many videos -> one pkl


def collect_videos(inputs: Sequence[str | os.PathLike]) -> list[tuple[Path, str]]:
    """(file, path relative to the folder given) of every video under the inputs (files as given,
    folders searched recursively), in order."""
    out: list[tuple[Path, str]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and is_video(q))
            if not found:
                raise UserError(f"{p}: no video file ({', '.join(VIDEO_EXTENSIONS)}) found")
            out.extend((q, q.relative_to(p).as_posix()) for q in found)
        elif p.is_file():
            out.append((p, p.name))
        else:
            raise UserError(f"{p}: no such file or directory")
    return out


@dataclass
class ExtractResult(PrepareResult):
    """:class:`PrepareResult` plus the per-video poses summary and the stage timing."""

    videos: list[dict] = field(default_factory=list)
    timing: dict = field(default_factory=dict)

    def summary(self) -> str:
        lines = [super().summary().replace("prepare video", "extract")]
        t = self.timing
        n = max(t.get("frames", 0), 1)
        if t.get("frames"):
            lines.append(f"  timing: {t['frames']} frames; decode {1e3 * t['decode_s'] / n:.1f} "
                         f"ms/frame, pose {1e3 * t['pose_s'] / n:.1f} ms/frame "
                         f"({n / max(t['pose_s'], 1e-9):.1f} fps)")
        return "\n".join(lines)


def _labels_for(files: list[tuple[Path, str]], labels: FileLabels | None, folder: bool,
                classes: Sequence[str] | None = None) -> tuple[list[tuple[Path, str, str, Any, list]], list[Reject], list | None]:
    """(path, rel, name, label int, splits) per file, the rejects, the class names."""
    rejects: list[Reject] = []
    rows: list[tuple[Path, str, str, str, list]] = []
    if labels is not None and labels.index is not None:
        by_path = {}
        for row in read_index(labels.index):
            by_path[row["path"]] = row
        for p, rel in files:
            row = by_path.get(rel) or by_path.get(p.name) or by_path.get(str(p))
            if row is None:
                rejects.append(Reject(rel, f"not listed in the index {labels.index}", "unlisted"))
                continue
            splits = [s.strip() for s in row["split"].split(";") if s.strip()]
            rows.append((p, rel, row.get("name") or Path(rel).with_suffix("").as_posix(),
                         row["label"], splits))
    elif labels is not None:
        rx = re.compile(labels.pattern)
        for p, rel in files:
            got = match_path(rel, rx, labels)
            if isinstance(got, Reject):
                rejects.append(got)
                continue
            g, splits = got
            rows.append((p, rel, g.get("name") or Path(rel).with_suffix("").as_posix(),
                         g["label"] or "", splits))
    elif folder:
        for p, rel in files:
            parent = Path(rel).parent.as_posix()
            if parent in ("", "."):
                rejects.append(Reject(rel, "--labels folder: the video is not in a class folder "
                                           "(DIR/CLASS/video)", "bad name"))
                continue
            rows.append((p, rel, Path(rel).with_suffix("").as_posix(), parent.split("/")[-1], []))
    else:
        return ([(p, rel, Path(rel).with_suffix("").as_posix(), 0, []) for p, rel in files],
                rejects, None)
    lmap, names = _label_map([r[3] for r in rows], labels if labels is not None
                             else _FolderLabels(tuple(classes) if classes else None))
    out = []
    for p, rel, name, raw, splits in rows:
        lab = lmap[raw]
        if isinstance(lab, str):
            rejects.append(Reject(rel, lab, "unknown class"))
            continue
        out.append((p, rel, name, lab, splits))
    return out, rejects, names


@dataclass
class _FolderLabels:
    """The label options of the folder mode (class names: given, or the folders sorted)."""

    classes: tuple[str, ...] | None = None
    first_label: int = 0


def extract_videos(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *,
                   backend: Any = "mediapipe", gate: Gate = Gate(), mirror: bool = False,
                   labels: FileLabels | None = None, folder_labels: bool = False,
                   classes: Sequence[str] | None = None, progress: bool = True,
                   log: Callable[[str], None] | None = None) -> ExtractResult:
    """Every video under ``inputs`` -> one pyskl pkl at ``out`` (module docstring). Labels: from
    ``labels`` (a :class:`~adasgn.data.files.FileLabels`: regex or index CSV, the rules of
    ``adasgn prepare files``), the class folder (``folder_labels``: DIR/CLASS/video), or none
    (label 0). ``OUT.rejects.txt`` lists the videos skipped."""
    t0 = time.perf_counter()
    files = collect_videos(inputs)
    if labels is not None and classes and not labels.classes:
        labels.classes = tuple(classes)
    tasks, rejects, class_names = _labels_for(files, labels, folder_labels, classes)
    be = get_backend(backend)
    samples, split, videos, seen = [], {}, [], set()
    total = {"decode_s": 0.0, "pose_s": 0.0, "frames": 0}
    bar = tqdm(total=None, desc="extract", unit="frame", file=sys.stderr, disable=not progress,
               mininterval=0.5, leave=False)
    try:
        for p, rel, name, lab, splits in tasks:
            if name in seen:
                rejects.append(Reject(rel, f"duplicate sample name {name!r}", "duplicate"))
                continue
            try:
                with open_video(p) as reader:
                    poses = estimate_frames(reader, be, gate, mirror, bar)
            except DataError as exc:
                msg = str(exc)
                for head in (f"{p}: ", f"{rel}: "):
                    msg = msg[len(head):] if msg.startswith(head) else msg
                rejects.append(Reject(rel, msg, exc.kind))
                continue
            for k in total:
                total[k] += poses.timing[k]
            info = {"video": rel, "frames": poses.frames, "detected": int(poses.detected.sum()),
                    "usable": poses.usable, "fps": poses.fps, "timing": poses.timing_line()}
            videos.append(info)
            if log is not None:
                log(f"{rel}: {poses.frames} frames, person in {int(poses.detected.sum())}, usable "
                    f"{poses.usable} ({100 * poses.usable / max(poses.frames, 1):.0f} %); "
                    f"{poses.timing_line()}")
            if poses.frames == 0:
                rejects.append(Reject(rel, "no frame could be decoded", "unreadable video"))
                continue
            if not poses.usable:
                rejects.append(Reject(rel, poses.no_person_message(False), "no usable person"))
                continue
            seen.add(name)
            samples.append(poses.annotation(name, lab))
            for s in splits:
                split.setdefault(s, []).append(name)
    finally:
        bar.close()
    layout = get_layout(be.layout).name
    top = max((s["label"] for s in samples), default=-1) + 1
    meta = {"dataset": "video", "layout": layout, "source": [str(i) for i in inputs],
            "num_classes": len(class_names) if class_names else top,
            "class_names": list(class_names) if class_names else None,
            "backend": getattr(be, "describe", lambda: str(be))(),
            "gate": gate.describe(layout), "missing_frames": "dropped (frame_inds keeps the rest)",
            "axes": "x left, y up, z away from the camera (metres)", "mirror": bool(mirror),
            "persons": "one per frame (the backend tracks one)",
            "labels": (f"index {labels.index}" if labels is not None and labels.index is not None
                       else f"pattern {labels.pattern}" if labels is not None
                       else "folder" if folder_labels else "none (label 0)")}
    out = Path(out)
    rejects_path = _write_rejects(out, rejects)
    res = ExtractResult("video", None, rejects_path, len(files), len(samples), list(rejects),
                        {k: len(v) for k, v in split.items()}, videos=videos, timing=total)
    if samples:
        save_pkl(out, samples, split, meta)
        res.out = out
    res.seconds = time.perf_counter() - t0
    return res
