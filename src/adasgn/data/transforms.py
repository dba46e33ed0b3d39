"""Per-sample pipeline steps, composed by config (pyskl style).

A sample is a dict with at least ``keypoint``: float32 ``(M, T, V, C)`` (persons, frames, joints,
coordinates). Steps are small callables ``sample -> sample`` registered by name, so a pipeline is
plain data::

    pipeline = build_pipeline([
        {"type": "DropEmptyFrames"},
        {"type": "Stream", "kind": "bone", "layout": "ntu25"},
        {"type": "UniformSample", "num_frames": 20, "train": True},
        {"type": "RandomRotation", "degrees": 17},
        {"type": "FormatInput", "num_persons": 2},
    ])
    x = pipeline({"keypoint": kp, "rng": np.random.default_rng(0)})["input"]  # (C, 20, V, M)

Randomness: a random step draws from ``sample["rng"]`` (a :class:`numpy.random.Generator`) when the
sample carries one -- :class:`adasgn.data.dataset.SkeletonDataset` puts a fresh generator seeded
from (seed, epoch, index) there -- else from its own generator (``seed=`` argument of the step).

The order and the formulas follow the official AdaSGN loader (spec 5.5); the deviations are
documented on each step and in ``docs/pipeline.md``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..skeleton.layouts import Layout, get_layout

__all__ = [
    "TRANSFORMS",
    "register_transform",
    "build_transform",
    "build_pipeline",
    "Compose",
    "DropEmptyFrames",
    "Stream",
    "UniformSample",
    "RotNorm",
    "Normalize",
    "NORMALIZE_MODES",
    "RandomRotation",
    "RandomScale",
    "RandomShear",
    "RandomMirror",
    "TemporalCrop",
    "AUGMENTATIONS",
    "parse_augment",
    "FormatInput",
    "sample_indices",
    "bone_stream",
    "velocity_stream",
    "rotation_matrix",
    "rodrigues_matrix",
    "OFFICIAL_BONE_SOURCES",
]

Sample = dict

TRANSFORMS: dict[str, type] = {}


def register_transform(cls=None, *, name: str | None = None):
    """Class decorator: make a step available to :func:`build_pipeline` under its class name."""

    def deco(c):
        key = name or c.__name__
        TRANSFORMS[key] = c
        return c

    return deco(cls) if cls is not None else deco


def build_transform(cfg: Mapping[str, Any] | Callable) -> Callable:
    """One step from ``{"type": NAME, **kwargs}`` (or an already-built callable)."""
    if callable(cfg) and not isinstance(cfg, Mapping):
        return cfg
    if not isinstance(cfg, Mapping) or "type" not in cfg:
        raise ValueError(f"a pipeline step must be a dict with a 'type' key, got {cfg!r}")
    kwargs = dict(cfg)
    kind = kwargs.pop("type")
    if kind not in TRANSFORMS:
        raise KeyError(f"unknown pipeline step {kind!r}; known: {sorted(TRANSFORMS)}")
    try:
        return TRANSFORMS[kind](**kwargs)
    except TypeError as exc:
        raise TypeError(f"pipeline step {kind!r}: {exc}") from None


class Compose:
    """Apply steps in order."""

    def __init__(self, steps: Iterable[Mapping[str, Any] | Callable]):
        self.steps = [build_transform(s) for s in steps]

    def __call__(self, sample: Sample) -> Sample:
        for step in self.steps:
            sample = step(sample)
        return sample

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(s) for s in self.steps)
        return f"Compose([\n  {inner}\n])"


def build_pipeline(cfgs: Iterable[Mapping[str, Any] | Callable] | Compose | None) -> Compose:
    """A :class:`Compose` from a list of step configs (dicts with ``type``) or callables."""
    if isinstance(cfgs, Compose):
        return cfgs
    return Compose(cfgs or [])


def _rng(sample: Sample, own: np.random.Generator) -> np.random.Generator:
    rng = sample.get("rng")
    return rng if isinstance(rng, np.random.Generator) else own


def _kp(sample: Sample) -> np.ndarray:
    kp = sample["keypoint"]
    if kp.ndim != 4:
        raise ValueError(f"keypoint must be (M, T, V, C), got shape {kp.shape}")
    return kp


class _Step:
    _fields: tuple[str, ...] = ()
    # True when output frame t depends on input frame t only (and on what the sample carries),
    # so that a stream can apply the step frame by frame (adasgn.stream)
    frame_local: bool = False

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------------------------------
# 1. Drop empty frames


@register_transform
class DropEmptyFrames(_Step):
    """Drop every frame whose sum over (M, V, C) is exactly 0 (spec 5.5 step 1).

    Like the official loader this tests the *sum*, so padding and empty frames go. A sequence with
    no non-empty frame keeps one all-zero frame (the official code would crash later).
    """

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        keep = kp.sum(axis=(0, 2, 3)) != 0
        if not keep.any():
            kp = np.zeros((kp.shape[0], 1) + kp.shape[2:], dtype=kp.dtype)
        elif not keep.all():
            kp = kp[:, keep]
        sample["keypoint"] = kp
        sample["total_frames"] = kp.shape[1]
        return sample


# ---------------------------------------------------------------------------------------------
# 2. Streams (spec 4.4)

# Official NTU bone stream (spec 4.4 table, 0-based): joint -> the joint subtracted from it
# (None = the output joint is 0). The edge list is consumed reversed (see the spec).
OFFICIAL_BONE_SOURCES: dict[str, dict[int, int | None]] = {
    "ntu25": {
        0: 16, 1: 0, 2: 3, 3: None, 4: 5, 5: 6, 6: 7, 7: 22, 8: 9, 9: 10, 10: 11, 11: 24,
        12: 13, 13: 14, 14: 15, 15: None, 16: 17, 17: 18, 18: 19, 19: None, 20: 8, 21: None,
        22: 21, 23: None, 24: 23,
    },
    # SHREC edges give proper child - parent at the child; joint 0 (wrist) is 0.
    "shrec22": {
        0: None, 1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 1, 7: 6, 8: 7, 9: 8, 10: 1, 11: 10, 12: 11,
        13: 12, 14: 1, 15: 14, 16: 15, 17: 16, 18: 1, 19: 18, 20: 19, 21: 20,
    },
}  # fmt: skip


def bone_stream(kp: np.ndarray, layout: str | Layout, official: bool = False) -> np.ndarray:
    """Bones on the joint axis (axis -2): ``out[..., child, :] = x[child] - x[parent]``, root 0.

    ``official=True`` gives the official AdaSGN mapping (spec 4.4) for ``ntu25`` / ``shrec22``.
    """
    lay = get_layout(layout)
    v = kp.shape[-2]
    if v != lay.num_joints:
        raise ValueError(f"bone stream: layout {lay.name!r} has {lay.num_joints} joints, data {v}")
    out = np.zeros_like(kp)
    if official:
        if lay.name not in OFFICIAL_BONE_SOURCES:
            raise ValueError(
                f"official bone mapping exists only for {sorted(OFFICIAL_BONE_SOURCES)}, "
                f"not {lay.name!r}"
            )
        pairs = [(j, s) for j, s in OFFICIAL_BONE_SOURCES[lay.name].items() if s is not None]
    else:
        pairs = list(lay.bones)
    child = np.array([c for c, _ in pairs], dtype=np.intp)
    parent = np.array([p for _, p in pairs], dtype=np.intp)
    out[..., child, :] = kp[..., child, :] - kp[..., parent, :]
    return out


def velocity_stream(kp: np.ndarray, skip: int = 1) -> np.ndarray:
    """Spec 4.4: take every ``skip``-th frame (axis 1 of (M, T, V, C)), difference consecutive
    frames (``out[t] = x[t+1] - x[t]``) and append one all-zero frame (length kept for skip=1)."""
    if skip < 1:
        raise ValueError(f"velocity skip must be >= 1, got {skip}")
    x = kp[:, ::skip]
    out = np.zeros_like(x)
    out[:, :-1] = x[:, 1:] - x[:, :-1]
    return out


@register_transform
class Stream(_Step):
    """The input modality: ``joint`` (unchanged), ``bone`` or ``velocity`` (spec 4.4).

    ``bone`` uses the layout's (child, parent) pairs (root = 0); ``official_bone=True`` uses the
    official reversed NTU mapping instead. ``velocity`` differences consecutive frames with a zero
    frame appended (``skip`` = the official ``num_skip_frame``, default 1). Apply before sampling.
    """

    _fields = ("kind", "layout", "official_bone", "skip")
    KINDS = ("joint", "bone", "velocity")

    def __init__(self, kind: str = "joint", layout: str = "ntu25", official_bone: bool = False,
                 skip: int = 1):
        if kind not in self.KINDS:
            raise ValueError(f"unknown stream {kind!r}; choose one of {list(self.KINDS)}")
        self.kind, self.layout, self.official_bone, self.skip = kind, layout, official_bone, skip
        if kind == "bone":
            get_layout(layout)  # fail early on an unknown layout

    @property
    def frame_local(self) -> bool:  # bones are per frame; velocities need the next frame
        return self.kind != "velocity"

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        if self.kind == "bone":
            sample["keypoint"] = bone_stream(kp, self.layout, self.official_bone)
        elif self.kind == "velocity":
            sample["keypoint"] = velocity_stream(kp, self.skip)
            sample["total_frames"] = sample["keypoint"].shape[1]
        sample["stream"] = self.kind
        return sample


# ---------------------------------------------------------------------------------------------
# 3. Temporal sampling (spec 5.5 step 4)


def sample_indices(t: int, num_frames: int = 20, train: bool = False,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Frame indices of the official AdaSGN sampling of a ``t``-frame sequence.

    interval = t / num_frames; test: ``int(i * interval)``; train: ``int(i * interval + r_i / 10)``
    with ``r_i`` uniform in ``[0, int(10 * interval))``. ``t == num_frames`` returns every frame.
    Works for any ``t >= 1`` (the official code crashes for t = 1: there ``int(10 * interval)`` is
    0, and we take ``r_i = 0``).
    """
    if t < 1:
        raise ValueError(f"cannot sample from a sequence of {t} frames")
    if t == num_frames:
        return np.arange(t)
    interval = t / num_frames
    base = np.arange(num_frames) * interval
    if train:
        hi = int(10 * interval)
        if hi > 0:
            rng = rng if rng is not None else np.random.default_rng()
            base = base + rng.integers(0, hi, size=num_frames) / 10
    idx = base.astype(np.int64)  # int() truncation; all values are >= 0
    return np.minimum(idx, t - 1)


@register_transform
class UniformSample(_Step):
    """Sample ``num_frames`` frames: one random frame per segment (train) or uniform (test).

    Spec 5.5 step 4, including t < num_frames (frames repeat) and t = 1. ``seed`` seeds the step's
    own generator, used only when the sample carries no ``rng``.
    """

    _fields = ("num_frames", "train")

    def __init__(self, num_frames: int = 20, train: bool = False, seed: int | None = None):
        self.num_frames, self.train = int(num_frames), bool(train)
        self._own = np.random.default_rng(seed)

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        t = kp.shape[1]
        if t == 0:
            sample["keypoint"] = np.zeros((kp.shape[0], self.num_frames) + kp.shape[2:], kp.dtype)
            sample["frame_inds"] = np.zeros(self.num_frames, dtype=np.int64)
            return sample
        idx = sample_indices(t, self.num_frames, self.train, _rng(sample, self._own))
        sample["keypoint"] = kp[:, idx]
        sample["frame_inds"] = idx
        return sample


# ---------------------------------------------------------------------------------------------
# 4. Rotations (spec 5.5 steps 5 and 6)


def rodrigues_matrix(axis: np.ndarray, theta: float) -> np.ndarray:
    """Euler-Rodrigues matrix of the counter-clockwise rotation by ``theta`` about ``axis``
    (applied to column vectors: ``R @ p``)."""
    axis = np.asarray(axis, dtype=np.float64)
    n = np.linalg.norm(axis)
    if n < 1e-12 or abs(theta) < 1e-12:
        return np.eye(3)
    axis = axis / n
    a = math.cos(theta / 2.0)
    b, c, d = -axis * math.sin(theta / 2.0)
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array([
        [aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
        [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
        [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc],
    ])  # fmt: skip


def _angle_between(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu < 1e-12 or nv < 1e-12:
        return 0.0
    return float(np.arccos(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0)))


@register_transform
class RotNorm(_Step):
    """View normalisation (spec 5.5 step 5; official: NTU-60 cross-view only, train and test).

    From person 0 at frame ``frame`` (default: the first frame): (a) rotate so that joint
    ``bottom`` -> ``top`` (ntu25: spine base -> spine shoulder) is parallel to +z, then (b) rotate
    the ``top`` -> ``side`` vector (ntu25: joint 5, the left elbow as in the official code) with
    its z zeroed onto +x. Both rotations apply to every frame of every person. A degenerate frame
    (zero vectors) leaves the sample unchanged.
    """

    _fields = ("bottom", "top", "side", "frame")

    def __init__(self, layout: str | None = "ntu25", bottom: int | None = None,
                 top: int | None = None, side: int | None = None, frame: int = 0):
        defaults = {"ntu25": (0, 20, 5)}
        if None in (bottom, top, side):
            lay = get_layout(layout) if layout is not None else None
            if lay is None or lay.name not in defaults:
                raise ValueError(
                    "RotNorm needs bottom/top/side joints for layouts other than ntu25"
                )
            d = defaults[lay.name]
            bottom = d[0] if bottom is None else bottom
            top = d[1] if top is None else top
            side = d[2] if side is None else side
        self.bottom, self.top, self.side, self.frame = int(bottom), int(top), int(side), int(frame)

    def matrix(self, kp: np.ndarray) -> np.ndarray:
        """The combined 3x3 rotation (column-vector convention) for a (M, T, V, 3) array."""
        f = kp[0, min(self.frame, kp.shape[1] - 1)].astype(np.float64)
        z, x = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
        v = f[self.top] - f[self.bottom]
        r1 = rodrigues_matrix(np.cross(v, z), _angle_between(v, z))
        f1 = f @ r1.T
        w = f1[self.side] - f1[self.top]
        w[2] = 0.0
        r2 = rodrigues_matrix(np.cross(w, x), _angle_between(w, x))
        return r2 @ r1

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        if kp.shape[-1] != 3:
            raise ValueError(f"RotNorm needs 3-D coordinates, got C={kp.shape[-1]}")
        r = self.matrix(kp)
        sample["keypoint"] = (kp.astype(np.float64) @ r.T).astype(kp.dtype)
        return sample


def rotation_matrix(ax: float, ay: float, az: float, degrees: bool = True) -> np.ndarray:
    """The official random-rotation matrix R = Rz . Ry . Rx (spec 5.5 step 6), for row vectors:
    a joint ``p`` becomes ``p @ R``."""
    if degrees:
        ax, ay, az = (math.radians(a) for a in (ax, ay, az))
    cx, sx, cy, sy, cz, sz = (math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay),
                              math.cos(az), math.sin(az))  # fmt: skip
    rx = np.array([[1, 0, 0], [0, cx, sx], [0, -sx, cx]])
    ry = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    rz = np.array([[cz, sz, 0], [-sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


@register_transform
class RandomRotation(_Step):
    """Random rotation (spec 5.5 step 6; official: all NTU configs, training only).

    Three independent **integer** angles in [-degrees, degrees] (inclusive) for z, y and x, drawn
    in that order; every joint row vector becomes ``p @ R`` with R = Rz . Ry . Rx. No scaling, no
    translation. The angles (x, y, z) are stored in ``sample["rotation_deg"]``.

    2-D data (C=2: x, y in the image plane) is rotated in that plane only: the z angle (the
    same draw), x and y angles 0 -- a rotation out of the plane has no 2-D meaning.
    """

    _fields = ("degrees",)

    def __init__(self, degrees: int = 17, seed: int | None = None):
        self.degrees = int(degrees)
        self._own = np.random.default_rng(seed)

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        if kp.shape[-1] not in (2, 3):
            raise ValueError(f"RandomRotation needs 2-D or 3-D coordinates, got C={kp.shape[-1]}")
        rng = _rng(sample, self._own)
        az, ay, ax = (int(a) for a in rng.integers(-self.degrees, self.degrees + 1, size=3))
        if kp.shape[-1] == 2:
            ax = ay = 0
            r = rotation_matrix(0, 0, az)[:2, :2]
        else:
            r = rotation_matrix(ax, ay, az)
        sample["keypoint"] = (kp.astype(np.float64) @ r).astype(kp.dtype)
        sample["rotation_deg"] = (ax, ay, az)
        return sample


# ---------------------------------------------------------------------------------------------
# 4a. Augmentations for small data sets (data.augment; docs/pipeline.md "Augmentation")
#
# Each one is linear in the coordinates (or a choice of frames), so it applies equally to joint
# positions, bones (child - parent) and velocities (differences of frames) and may run after the
# stream. 2-D data (C = 2) is transformed in its plane.


@register_transform
class RandomScale(_Step):
    """Scale each axis by its own factor drawn uniformly from [1 - ``scale``, 1 + ``scale``]
    (an anisotropic scaling: people of other builds, other camera distances)."""

    _fields = ("scale",)

    def __init__(self, scale: float = 0.1, seed: int | None = None):
        self.scale = float(scale)
        self._own = np.random.default_rng(seed)

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        f = _rng(sample, self._own).uniform(1 - self.scale, 1 + self.scale, size=kp.shape[-1])
        sample["keypoint"] = (kp * f).astype(kp.dtype)
        return sample


@register_transform
class RandomShear(_Step):
    """A random shear: ``p @ S`` with S = identity plus off-diagonal terms drawn uniformly from
    [-``shear``, ``shear``] (the augmentation of the skeleton literature, e.g. Rao et al. 2021)."""

    _fields = ("shear",)

    def __init__(self, shear: float = 0.1, seed: int | None = None):
        self.shear = float(shear)
        self._own = np.random.default_rng(seed)

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        c = kp.shape[-1]
        s = np.eye(c) + _rng(sample, self._own).uniform(-self.shear, self.shear, size=(c, c)) * (1 - np.eye(c))
        sample["keypoint"] = (kp.astype(np.float64) @ s).astype(kp.dtype)
        return sample


@register_transform
class RandomMirror(_Step):
    """With probability ``p``, mirror left and right: negate the lateral axis (``axis``: x in
    Kinect and image coordinates) and swap the layout's left / right joints
    (:attr:`Layout.mirror_pairs`), so that a mirrored left-hand wave is a right-hand wave with the
    joints where the layout says. A layout without left / right joints (a hand) is only
    reflected -- a right hand then looks like a left hand."""

    _fields = ("layout", "p", "axis")

    def __init__(self, layout: str | Layout, p: float = 0.5, axis: int = 0, seed: int | None = None):
        self._layout = layout if isinstance(layout, Layout) else get_layout(layout)
        self.layout, self.p, self.axis = self._layout.name, float(p), int(axis)
        perm = np.arange(self._layout.num_joints)
        for a, b in self._layout.mirror_pairs:
            perm[a], perm[b] = b, a
        self._perm = perm
        self._own = np.random.default_rng(seed)

    def __call__(self, sample: Sample) -> Sample:
        if _rng(sample, self._own).random() >= self.p:
            sample["mirrored"] = False
            return sample
        kp = _kp(sample)
        if kp.shape[2] != len(self._perm):
            raise ValueError(f"RandomMirror: layout {self.layout} has {len(self._perm)} joints, "
                             f"the sample {kp.shape[2]}")
        out = kp[:, :, self._perm]  # fancy indexing: a new array
        out[..., self.axis] *= -1
        sample["keypoint"] = out
        sample["mirrored"] = True
        return sample


@register_transform
class TemporalCrop(_Step):
    """Keep a random contiguous part of the sequence, ``ratio`` in [``min_ratio``, 1] of its
    frames (before the sampling to ``num_frames``: the action is then seen faster or slower and
    shifted in time -- crop and speed change in one step)."""

    _fields = ("min_ratio",)

    def __init__(self, min_ratio: float = 0.8, seed: int | None = None):
        if not 0 < min_ratio <= 1:
            raise ValueError(f"TemporalCrop: min_ratio must be in (0, 1], got {min_ratio}")
        self.min_ratio = float(min_ratio)
        self._own = np.random.default_rng(seed)

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        t = kp.shape[1]
        rng = _rng(sample, self._own)
        n = max(1, int(round(t * rng.uniform(self.min_ratio, 1.0))))
        start = int(rng.integers(0, t - n + 1)) if t > n else 0
        sample["keypoint"] = kp[:, start:start + n]
        sample["crop"] = (start, n)
        return sample


# the names data.augment takes, in the order the pipeline applies them (crop before the stream)
AUGMENTATIONS = ("crop", "mirror", "rotate", "scale", "shear")


def parse_augment(items: Sequence[str]) -> dict[str, float | None]:
    """``["rotate:15", "mirror"]`` -> ``{"rotate": 15.0, "mirror": None}`` (None = the step's
    default strength); a ValueError names an unknown augmentation or a bad value."""
    if isinstance(items, str):
        raise ValueError(f"data.augment must be a list of names, not the string {items!r}")
    out: dict[str, float | None] = {}
    for item in items:
        name, _, value = str(item).partition(":")
        name = name.strip()
        if name not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(AUGMENTATIONS)} "
                             "(each as name or name:value)")
        try:
            out[name] = float(value) if value.strip() else None
        except ValueError:
            raise ValueError(f"augmentation {item!r}: the value after ':' must be a number") from None
    return out


# ---------------------------------------------------------------------------------------------
# 4b. Normalisation a stream can apply frame by frame (data.normalize, docs/streaming.md)

NORMALIZE_MODES = ("none", "frame", "origin")


@register_transform
class Normalize(_Step):
    """Centring (and optionally view normalisation) that does not depend on a window's first frame.

    * ``mode="frame"``: every frame is centred on its own centre joint (the layout's ``center``
      joint of the first person present in that frame), so a frame's model input depends on that
      frame only. Translation of the whole body is removed; the motion of the joints relative to
      the centre (and velocities of those) is kept.
    * ``mode="origin"``: every frame is moved by one fixed origin, the centre joint of the first
      present person in the first non-empty frame -- for a whole sequence the rule ``adasgn
      prepare`` applies; a stream keeps the origin of its first frame.
    * ``mode="none"``: the identity.

    ``rotate=True`` also applies :class:`RotNorm`'s view normalisation (its joints, from person 0)
    after centring: each frame's own rotation (``frame``) or the first frame's (``origin``).
    Person slots that are all zero in a frame stay zero. In ``origin`` mode the origin (C,) and
    rotation (3, 3) used are written to ``sample["origin"]`` / ``sample["origin_rotation"]``, and
    taken from there when the sample already carries them (that is how a stream keeps its own).
    """

    _fields = ("mode", "layout", "rotate")
    frame_local = True

    def __init__(self, mode: str = "frame", layout: str = "ntu25", rotate: bool = False):
        if mode not in NORMALIZE_MODES:
            raise ValueError(f"unknown normalisation {mode!r}; choose one of {list(NORMALIZE_MODES)}")
        self.mode, self.layout, self.rotate = mode, layout, bool(rotate)
        self.center = get_layout(layout).center
        self._rot = RotNorm(layout) if self.rotate else None

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        if self.mode == "none":
            return sample
        m, t = kp.shape[:2]
        present = np.any(kp != 0, axis=(2, 3))  # (M, T)
        mask = present[:, :, None, None].astype(kp.dtype)
        if self.mode == "frame":
            first = np.argmax(present, axis=0)  # (T,) first present person of each frame
            origin = kp[first, np.arange(t), self.center]  # (T, C)
            out = (kp - origin[None, :, None, :]) * mask
            if self._rot is not None:
                for i in range(t):
                    r = self._rot.matrix(out[:, i:i + 1])
                    out[:, i] = (out[:, i].astype(np.float64) @ r.T).astype(kp.dtype)
            sample["keypoint"] = out
            return sample
        frames = np.flatnonzero(present.any(axis=0))
        t0 = int(frames[0]) if len(frames) else 0
        origin = sample.get("origin")
        if origin is None:
            origin = kp[int(np.argmax(present[:, t0])), t0, self.center].copy()
        out = (kp - np.asarray(origin, dtype=kp.dtype)) * mask
        sample["origin"] = origin
        if self._rot is not None:
            r = sample.get("origin_rotation")
            if r is None:
                r = self._rot.matrix(out[:, t0:t0 + 1])
            out = (out.astype(np.float64) @ np.asarray(r).T).astype(kp.dtype)
            sample["origin_rotation"] = r
        sample["keypoint"] = out
        return sample


# ---------------------------------------------------------------------------------------------
# 5. Model input


@register_transform
class FormatInput(_Step):
    """(M0, T, V, C) -> float32 (C, T, V, M) with exactly ``num_persons`` slots in ``"input"``.

    Extra persons are dropped (the first ones are kept: NTU preprocessing orders actors by
    motion); missing slots are all zero, which the models skip. ``channels`` keeps the first
    coordinates only (the official loader keeps 3).
    """

    _fields = ("num_persons", "channels")
    frame_local = True

    def __init__(self, num_persons: int = 2, channels: int | None = None):
        self.num_persons = int(num_persons)
        self.channels = channels

    def __call__(self, sample: Sample) -> Sample:
        kp = _kp(sample)
        if self.channels is not None:
            kp = kp[..., : self.channels]
        m0, t, v, c = kp.shape
        out = np.zeros((c, t, v, self.num_persons), dtype=np.float32)
        m = min(m0, self.num_persons)
        out[..., :m] = kp[:m].transpose(3, 1, 2, 0)
        sample["input"] = out
        return sample
