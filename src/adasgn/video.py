"""From video to action: predict on a video file, and the overlay demo (docs/video.md).

::

    from adasgn.inference import Recognizer
    from adasgn.video import predict_video, run_demo

    rec = Recognizer.from_checkpoint("best.pt")
    result = predict_video(rec, "clip.mp4")      # extract -> convert -> predict
    print(result.prediction, result.timing)       # the Prediction; decode / pose / action seconds
    run_demo(rec, "clip.mp4", "overlay.mp4", sheet="sheet.png")

**Layouts.** The pose backend's joints (``mediapipe33`` / ``hand21``) are converted to the
checkpoint's layout with :mod:`adasgn.skeleton.convert`; when no mapping exists the error says
which layouts can be reached. :func:`backend_for` picks the built-in backend whose layout maps to
the checkpoint's (body first, then hands).

**Normalisation.** 3-D checkpoints get the world joints (metres, Kinect camera axes: x left,
y up, z away) centred as ``adasgn prepare`` centres the dataset of that layout (the centre joint of
the first frame; SHREC'17 also scaled by the wrist-to-middle-base length); 2-D checkpoints get the
image joints in pixels, y flipped, centred on the hips and scaled by the torso at the first frame
(Penn Action's rule, ``PENN_NORMALISE``) when the layout has hips and shoulders.

**Demo.** :func:`run_demo` runs the pose backend and the checkpoint's streaming recogniser
(:meth:`adasgn.inference.Recognizer.stream`) frame by frame and writes the video with the backend's
skeleton (grey), the joints the model computed that frame with -- the aggregated 1 / 9 / V-joint
skeleton of the branch the policy chose (``layout.groups(n)``: each group's mean; groups joined
where a bone joins their members), in that branch's colour -- the current label and probability,
and the per-stage time (decode, pose, action). The branch of the newest frame is the stream's
provisional decision for it. ``sheet=`` also writes a PNG contact sheet of a few frames.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from matplotlib import colormaps

from .data import video as vid
from .data.inputs import InputMismatchError
from .data.prepare import PENN_NORMALISE, Normalise
from .errors import DataError, UserError
from .inference import Prediction, Recognizer
from .skeleton import Layout, get_layout
from .skeleton.convert import ConversionError, conversion
from .stream import FrameError

__all__ = ["DemoResult", "VideoPrediction", "backend_for", "poses_to_keypoint", "predict_video",
           "run_demo"]

BUILTIN_BACKENDS = ("mediapipe", "mediapipe-hands")
_BACKEND_LAYOUT = {"mediapipe": "mediapipe33", "mediapipe-hands": "hand21"}
# what `adasgn prepare` does to each 3-D layout (data/prepare.py), after the conversion
_NORMALISE_3D = {
    "ntu25": Normalise(centre=("spine_mid",)),
    "kinect20": Normalise(centre=("spine",)), "utd20": Normalise(centre=("spine",)),
    "msr20": Normalise(centre=("spine",)), "fpha21": Normalise(centre=("wrist",)),
    "shrec22": Normalise(centre=("wrist",), unit_length=(("wrist",), ("middle_1",))),
}


def backend_for(layout: Layout | str, backend: str | None = None) -> str:
    """The backend for a checkpoint layout: ``backend`` when given (checked), else the first
    built-in whose layout maps to ``layout``. :class:`InputMismatchError` when none does."""
    lay = get_layout(layout)
    names = [backend] if backend else list(BUILTIN_BACKENDS)
    errors = []
    for name in names:
        src = _BACKEND_LAYOUT.get(name) or vid.get_backend(name).layout
        try:
            conversion(src, lay.name)
            return name
        except ConversionError as exc:
            errors.append(str(exc))
    raise InputMismatchError(f"the checkpoint's layout {lay.name} cannot be produced from video: "
                             + " | ".join(errors))


def _normaliser(layout: Layout, channels: int) -> Normalise:
    if channels == 3:
        return _NORMALISE_3D.get(layout.name, Normalise(centre=(layout.joints[layout.center],)))
    names = set(layout.joints)
    if {"l_hip", "r_hip", "l_shoulder", "r_shoulder"} <= names:
        return PENN_NORMALISE
    return Normalise(flip_y=True, centre=(layout.joints[layout.center],), coords=2)


def poses_to_keypoint(poses: vid.VideoPoses, layout: Layout | str, channels: int = 3
                      ) -> np.ndarray:
    """The usable frames of ``poses`` in ``layout``, normalised for a ``channels``-D checkpoint:
    (1, T, V, channels) float32 (module docstring). :class:`InputMismatchError` when no mapping
    exists or the channel count is not 2 or 3."""
    lay = get_layout(layout)
    if channels not in (2, 3):
        raise InputMismatchError(f"a checkpoint with {channels} input channels cannot take video "
                                 "poses (3-D world joints or 2-D image joints)")
    try:
        conv = conversion(poses.layout, lay.name)
    except ConversionError as exc:
        raise InputMismatchError(str(exc)) from None
    raw = poses.keypoint() if channels == 3 else poses.image_pixels()
    kp = conv.apply(raw)
    return _normaliser(lay, channels).apply(kp, lay, poses.name).astype(np.float32)


@dataclass
class VideoPrediction:
    """:func:`predict_video`'s result: the prediction, the poses and the stage timing."""

    prediction: Prediction
    poses: vid.VideoPoses
    timing: dict  # decode_s, pose_s, action_s, frames, usable

    def timing_line(self) -> str:
        t = self.timing
        n = max(t["frames"], 1)
        return (f"{t['frames']} frames ({t['usable']} usable); decode {1e3 * t['decode_s'] / n:.1f}"
                f" ms/frame, pose {1e3 * t['pose_s'] / n:.1f} ms/frame, action "
                f"{1e3 * t['action_s']:.1f} ms per prediction")

    def to_dict(self) -> dict:
        d = self.prediction.to_dict()
        d["video"] = {**self.timing, "layout": self.poses.layout, "backend": self.poses.backend,
                      "gate": self.poses.gate}
        return d


def predict_video(rec: Recognizer, path: str | os.PathLike, *, backend: str | None = None,
                  gate: vid.Gate = vid.Gate(), mirror: bool = False, topk: int = 5,
                  progress: bool = False) -> VideoPrediction:
    """Extract the poses of ``path``, convert them to the checkpoint's layout and predict."""
    name = backend_for(rec.layout, backend)
    poses = vid.extract_video(path, name, gate, mirror, progress)
    if not poses.usable:
        raise DataError(poses.no_person_message(), "no usable person")
    kp = poses_to_keypoint(poses, rec.layout, rec.in_channels)
    t0 = time.perf_counter()
    p = rec.predict(kp, layout=rec.layout.name, topk=topk)
    action_s = time.perf_counter() - t0
    p.source = Path(path).name
    timing = {**poses.timing, "action_s": action_s, "usable": poses.usable}
    return VideoPrediction(p, poses, timing)


# ---------------------------------------------------------------------------------------------
# drawing (OpenCV, the optional extra, imported where it is used)


def branch_colours(n: int) -> list[tuple[int, int, int]]:
    """RGB colours of ``n`` branches (viridis, as the qualitative figures of engine/plots.py)."""
    cmap = colormaps["viridis"]
    return [tuple(int(255 * c) for c in cmap(x)[:3]) for x in np.linspace(0.1, 0.9, max(n, 1))]


def group_edges(layout: Layout, n: int) -> list[tuple[int, int]]:
    """Pairs of groups of ``layout.groups(n)`` joined by a bone between their members."""
    groups = layout.groups(n)
    owner = {j: k for k, g in enumerate(groups) for j in g}
    return sorted({tuple(sorted((owner[c], owner[p]))) for c, p in layout.bones
                   if owner[c] != owner[p]})


def aggregated(points: np.ndarray, layout: Layout, n: int) -> np.ndarray:
    """(n, 2): each group's mean of the (V, 2) points."""
    return np.stack([points[list(g)].mean(0) for g in layout.groups(n)])


def _draw(cv2, img: np.ndarray, src_layout: Layout, src_px: np.ndarray | None,
          dst_layout: Layout, dst_px: np.ndarray | None, joints: int | None,
          colour: tuple, scale: float) -> None:
    th = max(1, int(round(2 * scale)))
    if src_px is not None:
        for c, p in src_layout.bones:
            cv2.line(img, tuple(int(v) for v in src_px[c]), tuple(int(v) for v in src_px[p]),
                     (200, 200, 200), th, cv2.LINE_AA)
    if dst_px is not None and joints is not None:
        pts = aggregated(dst_px, dst_layout, joints)
        for a, b in group_edges(dst_layout, joints):
            cv2.line(img, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), colour,
                     th + 1, cv2.LINE_AA)
        r = max(3, int(round((9 if joints <= 1 else 6 if joints <= 11 else 4) * scale)))
        for q in pts:
            cv2.circle(img, tuple(int(v) for v in q), r, colour, -1, cv2.LINE_AA)


def _text(cv2, img: np.ndarray, lines: list[str], scale: float) -> None:
    th = max(1, int(round(2 * scale)))
    fs = 0.5 * scale
    y = int(22 * scale)
    for text in lines:
        cv2.putText(img, text, (int(8 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0),
                    th + 2, cv2.LINE_AA)
        cv2.putText(img, text, (int(8 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, fs,
                    (255, 255, 255), th, cv2.LINE_AA)
        y += int(20 * scale)


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote and measured."""

    out: Path | None
    sheet: Path | None
    frames: int
    usable: int
    updates: int
    size: tuple[int, int]  # (width, height) of the written video
    timing: dict = field(default_factory=dict)  # decode_s, pose_s, action_s, draw_s
    labels: list = field(default_factory=list)  # per frame: (label, probability, branch) or None

    def timing_line(self) -> str:
        t, n = self.timing, max(self.frames, 1)
        return (f"{self.frames} frames ({self.usable} usable, {self.updates} predictions): decode "
                f"{1e3 * t['decode_s'] / n:.1f} ms/frame, pose {1e3 * t['pose_s'] / n:.1f} "
                f"ms/frame, action {1e3 * t['action_s'] / n:.2f} ms/frame, draw+write "
                f"{1e3 * t['draw_s'] / n:.1f} ms/frame")


def run_demo(rec: Recognizer, source: str | os.PathLike | int | Iterable[np.ndarray],
             out: str | os.PathLike | None, *, backend: str | None = None,
             gate: vid.Gate = vid.Gate(), mirror: bool = False, window: int | None = None,
             fps: float | None = None, max_frames: int | None = None, max_size: int = 960,
             sheet: str | os.PathLike | None = None, sheet_frames: int = 4,
             progress: bool = False) -> DemoResult:
    """The overlay demo (module docstring). ``source``: a video file, a camera index, or an
    iterable of RGB frames (H, W, 3) uint8. ``out``: the MP4 to write (None: no video)."""
    vid.require_video_support("opencv")
    import cv2

    name = backend_for(rec.layout, backend)
    be = vid.get_backend(name)
    src_layout = get_layout(be.layout)
    dst_layout = rec.layout
    conv = conversion(src_layout.name, dst_layout.name)
    if isinstance(source, (str, os.PathLike, int)) and not isinstance(source, bool):
        reader = vid.open_video(source)
    else:
        reader = vid.FrameSource(source, "frames", fps or 30.0)
    info = reader.info
    live = rec.stream(window=window, fps=fps or info.fps)
    gate_idx = gate.resolve(src_layout.name)
    colours = branch_colours(len(rec.model.choices) or 1)
    names = rec.model.choice_names
    writer = None
    size = (0, 0)
    t = {"decode_s": 0.0, "pose_s": 0.0, "action_s": 0.0, "draw_s": 0.0}
    frames = usable = updates = 0
    labels: list = []
    sheet_imgs: list[tuple[int, np.ndarray, list]] = []
    current = None  # (name, probability, branch index or None)
    scale2d = None  # 2-D checkpoints: the torso length of the first usable frame
    be.open(info)
    try:
        while max_frames is None or frames < max_frames:
            t0 = time.perf_counter()
            frame = reader.read()
            t1 = time.perf_counter()
            if frame is None:
                break
            t["decode_s"] += t1 - t0
            pf = be.estimate(vid.flip_frame(frame) if mirror else frame)
            t2 = time.perf_counter()
            t["pose_s"] += t2 - t1
            h, w = frame.shape[:2]
            src_px = dst_px = None
            ok = False
            if pf is not None:
                wld = np.asarray(pf.world, np.float32).reshape(-1, 3)
                im = np.asarray(pf.image, np.float32).reshape(-1, 2)
                vis = np.asarray(pf.visibility, np.float32).reshape(-1)
                if mirror:  # as data/video.py: the true scene's world, the file's pixels
                    im = np.stack([1.0 - im[:, 0], im[:, 1]], axis=1)
                src_px = im * np.array([w, h], np.float32)
                dst_px = conv.apply(src_px)
                ok = bool(np.isfinite(wld).all() and all(vis[j] >= gate.min_visibility
                                                          for j in gate_idx))
            if ok:
                usable += 1
                if rec.in_channels == 3:
                    joint_in = conv.apply(vid.to_library_axes(wld))
                else:
                    joint_in = dst_px * np.array([1.0, -1.0], np.float32)
                    if scale2d is None:
                        scale2d = _torso(joint_in, dst_layout) or float(h)
                    joint_in = joint_in / scale2d
                try:
                    up = live.push(joint_in)
                except FrameError:
                    up = None
                if up is not None:
                    updates += 1
                    branch = None
                    if up.branches and up.branches[0] and up.branches[0][-1] in names:
                        branch = names.index(up.branches[0][-1])
                    current = (up.name, up.probability, branch)
            t3 = time.perf_counter()
            t["action_s"] += t3 - t2
            # draw
            img = frame.copy()
            joints, colour = None, (255, 255, 255)
            if ok and current is not None:
                if current[2] is not None:
                    joints = rec.model.choices[current[2]].joints
                    colour = colours[current[2]]
                else:
                    joints = dst_layout.num_joints
            elif ok:
                joints = dst_layout.num_joints
                colour = (160, 160, 160)
            s = max(h, w) / 640.0
            lines = []
            if current is not None:
                bname = names[current[2]] if current[2] is not None else "static"
                lines.append(f"{current[0]} {100 * current[1]:.0f}%")
                lines.append(f"branch {bname} ({joints or dst_layout.num_joints} joints)"
                             if ok else "no usable person")
            else:
                lines.append(f"warming up: {live.frames}/{live.span} frames" if ok or pf
                             else "no person")
            n = frames + 1
            lines.append(f"decode {1e3 * t['decode_s'] / n:.0f} ms  pose {1e3 * t['pose_s'] / n:.0f}"
                         f" ms  action {1e3 * t['action_s'] / n:.1f} ms")
            _draw(cv2, img, src_layout, src_px, dst_layout, dst_px if ok else None, joints,
                  colour, s)
            if sheet is not None and current is not None and ok:
                sheet_imgs.append((frames, _crop(img, src_px), lines[:2]))
                if len(sheet_imgs) > 4 * sheet_frames:  # keep memory bounded: thin out evenly
                    sheet_imgs = sheet_imgs[::2]
            _text(cv2, img, lines, s)
            big = max(h, w)
            if max_size and big > max_size:
                f = max_size / big
                img = cv2.resize(img, (int(round(w * f)) // 2 * 2, int(round(h * f)) // 2 * 2),
                                 interpolation=cv2.INTER_AREA)
            if out is not None:
                if writer is None:
                    size = (img.shape[1], img.shape[0])
                    Path(out).parent.mkdir(parents=True, exist_ok=True)
                    writer = cv2.VideoWriter(os.fspath(out), cv2.VideoWriter_fourcc(*"mp4v"),
                                             float(fps or info.fps), size)
                    if not writer.isOpened():
                        raise UserError(f"{out}: OpenCV cannot write an MP4 video here")
                writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            else:
                size = (img.shape[1], img.shape[0])
            labels.append(None if current is None else
                          (current[0], current[1], None if current[2] is None
                           else names[current[2]]))
            t["draw_s"] += time.perf_counter() - t3
            frames += 1
            if progress and frames % 25 == 0:
                print(f"  frame {frames}", file=sys.stderr)
    finally:
        be.close()
        reader.close()
        if writer is not None:
            writer.release()
    sheet_path = None
    if sheet is not None and sheet_imgs:
        sheet_path = _contact_sheet(cv2, sheet_imgs, sheet, sheet_frames)
    return DemoResult(Path(out) if out is not None and writer is not None else None, sheet_path,
                      frames, usable, updates, size, t, labels)


def _torso(px: np.ndarray, layout: Layout) -> float | None:
    names = layout.joints
    need = ("l_hip", "r_hip", "l_shoulder", "r_shoulder")
    if not all(j in names for j in need):
        return None
    hips = px[[layout.index("l_hip"), layout.index("r_hip")]].mean(0)
    sh = px[[layout.index("l_shoulder"), layout.index("r_shoulder")]].mean(0)
    d = float(np.linalg.norm(sh - hips))
    return d if d > 0 else None


def _crop(img: np.ndarray, px: np.ndarray | None, margin: float = 0.25) -> np.ndarray:
    """The region around the person (a square-ish box with a margin), for the contact sheet."""
    h, w = img.shape[:2]
    if px is None:
        return img.copy()
    lo, hi = px.min(0), px.max(0)
    size = max(hi - lo) * (1 + 2 * margin)
    size = max(size, 0.2 * min(h, w))
    cx, cy = (lo + hi) / 2
    x0, y0 = int(max(0, cx - size / 2)), int(max(0, cy - size / 2))
    x1, y1 = int(min(w, cx + size / 2)), int(min(h, cy + size / 2))
    return img[y0:y1, x0:x1].copy()


def _contact_sheet(cv2, imgs: list[tuple[int, np.ndarray, list]], path, k: int,
                   width: int = 240):
    pick = np.linspace(0, len(imgs) - 1, min(k, len(imgs))).round().astype(int)
    tiles = []
    for i in pick:
        index, img, lines = imgs[i]
        f = width / img.shape[1]
        tile = cv2.resize(img, (width, max(1, int(round(img.shape[0] * f)))),
                          interpolation=cv2.INTER_AREA)
        _text(cv2, tile, [f"frame {index}", *lines], 0.6)
        tiles.append(tile)
    hmax = max(x.shape[0] for x in tiles)
    tiles = [np.pad(x, ((0, hmax - x.shape[0]), (0, 0), (0, 0))) for x in tiles]
    sheet = np.concatenate(tiles, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(os.fspath(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise UserError(f"{path}: cannot write the PNG")
    return path
