"""Mappings between skeleton layouts: explicit joint correspondences and derived joints.

A conversion from layout ``A`` to layout ``B`` is a (V_B, V_A) matrix ``W``: every joint of ``B``
is a fixed affine combination of joints of ``A`` (``x_B = W @ x_A`` per frame and coordinate).
A row with a single 1 is a correspondence (``l_elbow <- l_elbow``); other rows are derived joints
(``spine_base <- mean(l_hip, r_hip)``). Every row sums to 1, so a conversion commutes with
translation and applies unchanged to 3-D world joints and to 2-D image joints.

::

    from adasgn.skeleton.convert import convert, conversion

    ntu = convert(keypoint, "mediapipe33", "ntu25")     # (..., 33, C) -> (..., 25, C)
    conversion("mediapipe33", "ntu25").describe()       # one line per target joint

Registered direct mappings (:func:`register_conversion`; :func:`list_conversions`):

* ``mediapipe33 -> ntu25`` (derived spine, neck, head, hands, hand tips and Kinect's narrower
  hips; the constants are measured on NTU Kinect skeletons, docs/video.md),
* ``ntu25 -> kinect20``, ``kinect20 -> utd20``, ``kinect20 -> msr20`` (correspondences),
* ``mediapipe33 -> coco17`` (correspondences), ``coco17 -> penn13`` (head = mean of the ears),
* ``hand21 <-> fpha21`` (a permutation), ``hand21 -> shrec22`` (palm = the midpoint of the wrist
  and the middle finger's base, measured on SHREC'17), ``shrec22 -> hand21``.

:func:`conversion` composes direct mappings along the shortest chain (``mediapipe33 -> kinect20``
goes through ``ntu25``). A conversion that no chain provides -- a target joint the source has
no way to produce, e.g. ``ntu25 -> coco17`` (no eyes, no ears) -- raises :class:`ConversionError`
saying what can be reached.

A joint that is missing in a frame (all its coordinates exactly 0, the library's "missing" value)
makes every target joint that uses it missing in that frame too.

:func:`similarity_align` (Umeyama's least-squares similarity transform) and
:func:`aligned_errors` compare two skeletons of the same joints up to scale, rotation and
translation (the video-vs-Kinect check of tests/test_video.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Mapping, Union

import numpy as np

from .layouts import LayoutError, get_layout

__all__ = ["Conversion", "ConversionError", "aligned_errors", "conversion", "convert",
           "list_conversions", "register_conversion", "similarity_align"]

Source = Union[str, Mapping[str, float]]


class ConversionError(LayoutError):
    """No mapping between two layouts (or an invalid mapping); the message says why."""


@dataclass(frozen=True)
class Conversion:
    """A mapping ``source -> target``: ``matrix`` (V_target, V_source), ``path`` the chain of
    layouts it composes."""

    source: str
    target: str
    matrix: np.ndarray
    path: tuple[str, ...]

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(..., V_source, C) -> (..., V_target, C) float32; missing joints propagate."""
        x = np.asarray(x)
        src = get_layout(self.source)
        if x.ndim < 2 or x.shape[-2] != src.num_joints:
            raise ConversionError(f"{self.source} -> {self.target}: expected (..., "
                                  f"{src.num_joints}, C) joints of {self.source}, got shape "
                                  f"{tuple(x.shape)}")
        x64 = x.astype(np.float64)
        out = np.einsum("ts,...sc->...tc", self.matrix, x64)
        missing = ~np.any(x64 != 0, axis=-1)  # (..., V_source)
        if missing.any():
            uses = (self.matrix != 0).astype(np.float64)  # (V_target, V_source)
            lost = np.einsum("ts,...s->...t", uses, missing.astype(np.float64)) > 0
            out[lost] = 0.0
        return out.astype(np.float32)

    __call__ = apply

    def describe(self) -> list[str]:
        """One line per target joint: ``target <- source`` or the weighted combination."""
        src, dst = get_layout(self.source), get_layout(self.target)
        lines = []
        for t in range(dst.num_joints):
            row = self.matrix[t]
            nz = np.flatnonzero(row)
            if len(nz) == 1:
                text = src.joints[nz[0]]
            else:
                text = " + ".join(f"{row[s]:.4g} {src.joints[s]}" for s in nz)
            lines.append(f"{dst.joints[t]} <- {text}")
        return lines


_DIRECT: dict[tuple[str, str], np.ndarray] = {}


def register_conversion(source: str, target: str, joints: Mapping[str, Source],
                        overwrite: bool = False) -> np.ndarray:
    """Register a direct mapping: ``joints[target_joint]`` is a source joint name or a dict
    ``{source_joint: weight}`` whose weights sum to 1 (an affine combination). Every target joint
    must be given. Returns the (V_target, V_source) matrix."""
    src, dst = get_layout(source), get_layout(target)
    key = (src.name, dst.name)
    if key in _DIRECT and not overwrite:
        raise ConversionError(f"a conversion {src.name} -> {dst.name} is already registered")
    missing = [j for j in dst.joints if j not in joints]
    extra = [j for j in joints if j not in dst.joints]
    if missing or extra:
        raise ConversionError(f"conversion {src.name} -> {dst.name}: "
                              + (f"target joints not given: {missing}" if missing else "")
                              + ("; " if missing and extra else "")
                              + (f"not joints of {dst.name}: {extra}" if extra else ""))
    mat = np.zeros((dst.num_joints, src.num_joints), dtype=np.float64)
    for t, name in enumerate(dst.joints):
        spec = joints[name]
        weights = {spec: 1.0} if isinstance(spec, str) else dict(spec)
        if not weights:
            raise ConversionError(f"conversion {src.name} -> {dst.name}: {name!r} has no source")
        for s, w in weights.items():
            if s not in src.joints:
                raise ConversionError(f"conversion {src.name} -> {dst.name}: {name!r} uses "
                                      f"{s!r}, not a joint of {src.name}")
            mat[t, src.index(s)] += float(w)
        if abs(mat[t].sum() - 1.0) > 1e-9:
            raise ConversionError(f"conversion {src.name} -> {dst.name}: the weights of {name!r} "
                                  f"sum to {mat[t].sum():g}, not 1 (an affine combination)")
    _DIRECT[key] = mat
    return mat


def list_conversions() -> list[tuple[str, str]]:
    """The registered direct mappings (source, target)."""
    return sorted(_DIRECT)


def _reachable(source: str) -> dict[str, tuple[str, ...]]:
    """Every layout reachable from ``source`` -> the shortest chain (breadth first)."""
    paths = {source: (source,)}
    queue = deque([source])
    while queue:
        a = queue.popleft()
        for (s, t) in sorted(_DIRECT):
            if s == a and t not in paths:
                paths[t] = paths[a] + (t,)
                queue.append(t)
    return paths


def conversion(source: str, target: str) -> Conversion:
    """The mapping ``source -> target`` (identity for the same layout; a chain of registered
    mappings otherwise). :class:`ConversionError` when there is none."""
    src, dst = get_layout(source), get_layout(target)
    if src.name == dst.name:
        return Conversion(src.name, dst.name, np.eye(src.num_joints), (src.name,))
    paths = _reachable(src.name)
    if dst.name not in paths:
        into = sorted(s for s in _reachable_into(dst.name) if s != dst.name)
        reach = sorted(p for p in paths if p != src.name)
        raise ConversionError(
            f"no mapping from {src.name} to {dst.name}: {dst.name} needs joints that {src.name} "
            f"cannot provide. From {src.name} adasgn maps to: {', '.join(reach) or 'nothing'}; "
            f"{dst.name} is reached from: {', '.join(into) or 'no layout'} "
            "(adasgn.skeleton.convert.register_conversion adds a mapping)")
    path = paths[dst.name]
    mat = np.eye(src.num_joints)
    for a, b in zip(path, path[1:]):
        mat = _DIRECT[(a, b)] @ mat
    return Conversion(src.name, dst.name, mat, path)


def _reachable_into(target: str) -> set[str]:
    out, queue = {target}, deque([target])
    while queue:
        b = queue.popleft()
        for (s, t) in _DIRECT:
            if t == b and s not in out:
                out.add(s)
                queue.append(s)
    return out


def convert(x: np.ndarray, source: str, target: str) -> np.ndarray:
    """``conversion(source, target).apply(x)``: (..., V_source, C) -> (..., V_target, C)."""
    return conversion(source, target).apply(x)


# ---------------------------------------------------------------------------------------------
# similarity alignment (Umeyama 1991), for comparing skeletons from different sensors


def similarity_align(src: np.ndarray, dst: np.ndarray, scale: bool = True
                     ) -> tuple[float, np.ndarray, np.ndarray]:
    """The similarity ``(s, R, t)`` minimising ``sum |s R src_i + t - dst_i|^2`` over points
    (N, D) (a proper rotation: ``det R = +1``, no reflection). ``scale=False`` fixes s = 1."""
    a = np.asarray(src, dtype=np.float64).reshape(-1, np.shape(src)[-1])
    b = np.asarray(dst, dtype=np.float64).reshape(-1, np.shape(dst)[-1])
    if a.shape != b.shape or len(a) < a.shape[1]:
        raise ValueError(f"similarity_align: need two equal (N >= D, D) point sets, got "
                         f"{a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    ac, bc = a - mu_a, b - mu_b
    cov = bc.T @ ac / len(a)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(len(sig))
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0  # the nearest proper rotation
    rot = u @ np.diag(d) @ vt
    var_a = (ac ** 2).sum() / len(a)
    s = float((sig * d).sum() / var_a) if scale and var_a > 0 else 1.0
    t = mu_b - s * rot @ mu_a
    return s, rot, t


def aligned_errors(src: np.ndarray, dst: np.ndarray, scale: bool = True
                   ) -> tuple[np.ndarray, tuple[float, np.ndarray, np.ndarray]]:
    """Per-point distances after one similarity alignment of all of ``src`` onto ``dst``
    (arrays (..., D) of the same shape); returns ``(errors (...), (s, R, t))``."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    s, rot, t = similarity_align(src, dst, scale)
    moved = s * src @ rot.T + t
    return np.linalg.norm(moved - dst, axis=-1), (s, rot, t)


# ---------------------------------------------------------------------------------------------
# Built-in mappings


def _mean(*joints: str) -> dict[str, float]:
    return {j: 1.0 / len(joints) for j in joints}


def _mix(*parts: tuple[float, Mapping[str, float]]) -> dict[str, float]:
    """sum_k w_k * combination_k (the weights of each combination sum to 1, so do the w_k)."""
    out: dict[str, float] = {}
    for w, comb in parts:
        for j, v in comb.items():
            out[j] = out.get(j, 0.0) + w * v
    return out


_HIPS, _SHOULDERS, _EARS = _mean("l_hip", "r_hip"), _mean("l_shoulder", "r_shoulder"), \
    _mean("l_ear", "r_ear")
# Kinect v2's own skeleton, measured on the NTU skeletons S001C001P001R001A012 / A058 (not the
# A001 recording that tests the mapping): the spine middle sits at 0.57 of the way from the spine
# base to the spine shoulder, the neck at 0.35 of the way from the spine shoulder to the head, and
# the hips 11 cm apart (MediaPipe's 22 cm: half as far from the pelvis centre).
_SPINE_MID_AT, _NECK_AT, _HIP_SPREAD = 0.57, 0.35, 0.5


def _mp_side(s: str) -> dict[str, Source]:
    hand = _mean(f"{s}_index", f"{s}_pinky")  # the knuckles' midpoint (MediaPipe's pose points)
    return {
        f"{s}_shoulder": f"{s}_shoulder", f"{s}_elbow": f"{s}_elbow", f"{s}_wrist": f"{s}_wrist",
        f"{s}_hand": hand,
        # the finger tips: as far again beyond the knuckles' midpoint as it is from the wrist
        f"{s}_hand_tip": _mix((2.0, hand), (-1.0, {f"{s}_wrist": 1.0})),
        f"{s}_thumb": f"{s}_thumb",
        f"{s}_hip": _mix((1 - _HIP_SPREAD, _HIPS), (_HIP_SPREAD, {f"{s}_hip": 1.0})),
        f"{s}_knee": f"{s}_knee", f"{s}_ankle": f"{s}_ankle", f"{s}_foot": f"{s}_foot_index",
    }


register_conversion("mediapipe33", "ntu25", {
    "spine_base": _HIPS,
    "spine_mid": _mix((1 - _SPINE_MID_AT, _HIPS), (_SPINE_MID_AT, _SHOULDERS)),
    "spine_shoulder": _SHOULDERS,
    "neck": _mix((1 - _NECK_AT, _SHOULDERS), (_NECK_AT, _EARS)),
    "head": _EARS,
    **_mp_side("l"), **_mp_side("r"),
})

_LIMBS = [f"{s}_{j}" for s in "lr" for j in ("shoulder", "elbow", "wrist", "hand", "hip", "knee",
                                             "ankle", "foot")]
register_conversion("ntu25", "kinect20", {
    "hip_center": "spine_base", "spine": "spine_mid", "shoulder_center": "spine_shoulder",
    "head": "head", **{j: j for j in _LIMBS}})
register_conversion("kinect20", "utd20", {j: j for j in get_layout("utd20").joints})
register_conversion("kinect20", "msr20", {
    **{j: j for j in get_layout("msr20").joints if j != "neck"}, "neck": "shoulder_center"})

register_conversion("mediapipe33", "coco17", {j: j for j in get_layout("coco17").joints})
register_conversion("coco17", "penn13", {
    "head": _EARS, **{j: j for j in get_layout("penn13").joints if j != "head"}})

# hands: MediaPipe's thumb CMC / MCP / IP are FPHA's thumb MCP / PIP / DIP and SHREC's thumb
# base / first / second joint; the other fingers correspond joint for joint.
_HAND_FPHA = {"wrist": "wrist", "thumb_mcp": "thumb_cmc", "thumb_pip": "thumb_mcp",
              "thumb_dip": "thumb_ip", "thumb_tip": "thumb_tip",
              **{f"{f}_{p}": f"{f}_{p}" for f in ("index", "middle", "ring", "pinky")
                 for p in ("mcp", "pip", "dip", "tip")}}
register_conversion("hand21", "fpha21", _HAND_FPHA)
register_conversion("fpha21", "hand21", {v: k for k, v in _HAND_FPHA.items()})
_HAND_SHREC = {"wrist": "wrist", "thumb_1": "thumb_cmc", "thumb_2": "thumb_mcp",
               "thumb_3": "thumb_ip", "thumb_tip": "thumb_tip",
               **{f"{s}_{k}": f"{f}_{p}" for s, f in (("index", "index"), ("middle", "middle"),
                                                       ("ring", "ring"), ("little", "pinky"))
                  for k, p in (("1", "mcp"), ("2", "pip"), ("3", "dip"), ("tip", "tip"))}}
# SHREC'17's palm: the wrist-to-middle-base midpoint (6.5 mm median error on 20 SHREC sequences)
register_conversion("hand21", "shrec22", {**_HAND_SHREC, "palm": _mean("wrist", "middle_mcp")})
register_conversion("shrec22", "hand21", {v: k for k, v in _HAND_SHREC.items()})
