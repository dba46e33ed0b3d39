"""The built-in quickstart dataset: procedural human motion written as genuine NTU ``.skeleton`` files.

``adasgn prepare synthetic --out synthetic.pkl [--seed S] [--num-samples N] [--raw DIR]``

1. A kinematic body model (ntu25 joints, per-subject proportions, two-bone IK for arms and legs)
   is driven by 14 procedural actions (:data:`CLASSES`): whole-body actions that even one
   averaged joint separates, fine-detail pairs near the head and hands that differ only in the
   hand orientation / small oscillations / head tilt, and two-person interactions.
2. Every sample gets a subject (P001-P040, with its own body), a setup (S001-S017: camera height
   and distance), a camera (C001-C003: view angle 0, +45, -45 degrees), speed, amplitude, idle
   frames before and after, sensor noise (joint jitter, noisier hand tips and thumbs, rare
   tracking glitches), sometimes empty leading frames and a short "ghost" body.
3. Each sample is written as a real NTU RGB+D raw file ``SsssCcccPpppRrrrAaaa.skeleton`` (CRLF,
   frame count, body count, 10-value body info line with a 64-bit body ID, 25 joints of 12
   values: x y z depthX depthY colorX colorY orientW X Y Z trackingState) -- so the xsub/xview
   splits work -- and then goes through the same reader and preprocessing as real NTU data
   (:func:`adasgn.data.prepare.prepare_ntu`). Class names go into the pkl meta.

Deterministic for a seed: sample ``k`` of class ``c`` depends only on (seed, c, k), whatever the
number of workers.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from .prepare import prepare_ntu

__all__ = [
    "CLASSES",
    "CLASS_GROUPS",
    "DEFAULT_NUM_SAMPLES",
    "generate_sequence",
    "sample_plan",
    "write_skeleton_file",
    "write_raw",
    "prepare_synthetic",
    "generate_synthetic",
    "synthetic_meta",
]

FPS = 30.0
DEFAULT_NUM_SAMPLES = 2400
NUM_SUBJECTS, NUM_SETUPS, NUM_CAMERAS, NUM_REPS = 40, 17, 3, 2

# (name, group, base duration in frames at speed 1)
_CLASS_TABLE = (
    ("walking", "easy", 75),
    ("sit down", "easy", 60),
    ("stand up", "easy", 60),
    ("jump up", "easy", 50),
    ("falling down", "easy", 55),
    ("bow", "easy", 60),
    ("brush teeth", "hard", 80),
    ("brush hair", "hard", 80),
    ("make a phone call", "hard", 80),
    ("drink water", "hard", 75),
    ("clapping", "hard", 60),
    ("rub two hands", "hard", 60),
    ("handshaking", "interaction", 75),
    ("pushing", "interaction", 55),
)
CLASSES: tuple[str, ...] = tuple(c[0] for c in _CLASS_TABLE)
CLASS_GROUPS: dict[str, str] = {c[0]: c[1] for c in _CLASS_TABLE}
_DURATION = [c[2] for c in _CLASS_TABLE]

# ntu25 joint indices
(SPINE_BASE, SPINE_MID, NECK, HEAD, L_SHOULDER, L_ELBOW, L_WRIST, L_HAND, R_SHOULDER, R_ELBOW,
 R_WRIST, R_HAND, L_HIP, L_KNEE, L_ANKLE, L_FOOT, R_HIP, R_KNEE, R_ANKLE, R_FOOT, SPINE_SHOULDER,
 L_TIP, L_THUMB, R_TIP, R_THUMB) = range(25)  # fmt: skip
_PARENT = (-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 6, 11, 10)


# ---------------------------------------------------------------------------------------------
# Small vector helpers (arrays of shape (T, 3) / (T, 3, 3))


def _norm(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-9)


def _rot(axis: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    if axis == "x":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.moveaxis(np.array(m), (0, 1), (-2, -1))


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(T,3,3) @ (3,) or (T,3) -> (T,3)."""
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, r.shape[:-1]))


def _axis_angle(axis: np.ndarray, a: np.ndarray) -> np.ndarray:
    """(T,3,3) rotations by angles ``a`` (T,) about a fixed unit ``axis`` (Rodrigues)."""
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    a = np.asarray(a)[:, None, None]
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * (kx @ kx)


def _smooth(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _envelope(u: np.ndarray, rise: float = 0.2, fall: float = 0.2) -> np.ndarray:
    """0 outside the action, rises over the first ``rise`` of it, falls over the last ``fall``."""
    inside = (u > 0) & (u < 1)
    return np.where(inside, np.minimum(_smooth(u / rise), _smooth((1 - u) / fall)), 0.0)


def _two_bone(root: np.ndarray, target: np.ndarray, l1: float, l2: float,
              pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-bone IK: (middle joint, end joint) reaching towards ``target``, bending to ``pole``."""
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    n = d / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(l1 - l2) + 1e-3, (l1 + l2) * 0.999)
    end = root + n * dist
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = np.sqrt(np.maximum(l1 * l1 - a * a, 0.0))
    p = pole - np.sum(pole * n, axis=-1, keepdims=True) * n
    p = _norm(p)
    return root + n * a + p * h, end


# ---------------------------------------------------------------------------------------------
# Bodies


@dataclass
class Body:
    """Segment lengths of one subject (metres)."""

    pelvis_h: float
    spine1: float
    spine2: float
    neck: float
    head: float
    shoulder_w: float
    upper_arm: float
    forearm: float
    hand: float
    tip: float
    thumb: float
    hip_w: float
    thigh: float
    shank: float
    foot: float
    ankle_h: float


def subject_body(seed: int, subject: int) -> Body:
    """Deterministic body proportions of subject ``subject`` (height and per-segment variation)."""
    rng = np.random.default_rng([int(seed), 7, int(subject)])
    s = float(np.clip(rng.normal(1.0, 0.06), 0.86, 1.14))
    j = lambda: float(np.clip(rng.normal(1.0, 0.04), 0.9, 1.1))  # noqa: E731
    thigh, shank = 0.43 * s * j(), 0.41 * s * j()
    ankle_h = 0.08 * s
    return Body(
        pelvis_h=thigh + shank + ankle_h - 0.02, spine1=0.25 * s * j(), spine2=0.21 * s * j(),
        neck=0.07 * s * j(), head=0.13 * s * j(), shoulder_w=0.18 * s * j(),
        upper_arm=0.28 * s * j(), forearm=0.25 * s * j(), hand=0.075 * s, tip=0.07 * s * j(),
        thumb=0.055 * s, hip_w=0.085 * s * j(), thigh=thigh, shank=shank, foot=0.13 * s * j(),
        ankle_h=ankle_h,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Pose -> joints


class Pose:
    """Per-frame controls of one person in the scene frame (y up, ground y = 0).

    The body's own frame: x = its right, y = up, z = its back (it faces -z at yaw 0). Targets
    (wrists, ankles) and hand directions are in the scene frame; ``*_w`` blend them with the
    default (hanging arms, feet under the hips, hands along the forearm).
    """

    def __init__(self, body: Body, t: int, x: float = 0.0, z: float = 0.0, yaw: float = 0.0):
        self.body, self.T = body, t
        self.pelvis = np.tile([x, body.pelvis_h, z], (t, 1)).astype(np.float64)
        self.yaw = np.full(t, float(yaw))
        self.pitch = np.zeros(t)  # torso forward bend (rad)
        self.roll = np.zeros(t)  # torso side lean
        self.head_pitch = np.zeros(t)  # nod (down > 0)
        self.head_roll = np.zeros(t)
        self.wrist = np.zeros((2, t, 3))  # [left, right] targets
        self.wrist_w = np.zeros((2, t))
        self.hand_dir = np.zeros((2, t, 3))
        self.thumb_dir = np.zeros((2, t, 3))
        self.tip_dir = np.zeros((2, t, 3))
        self.hand_w = np.zeros((2, t))
        self.ankle = np.zeros((2, t, 3))
        self.ankle_w = np.zeros((2, t))
        self.arm_swing = np.zeros((2, t))  # forward (+) / backward hanging-arm swing (m)
        self.knee_out = 0.15
        self.fall: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # pivot, axis, angle

    # frames of the torso and the head --------------------------------------------------------
    def r_yaw(self) -> np.ndarray:
        return _rot("y", self.yaw)

    def r_torso(self) -> np.ndarray:
        return self.r_yaw() @ _rot("x", -self.pitch) @ _rot("z", -self.roll)

    def r_head(self) -> np.ndarray:
        return self.r_torso() @ _rot("x", -self.head_pitch) @ _rot("z", -self.head_roll)

    def joints_core(self) -> dict[str, np.ndarray]:
        b = self.body
        ry, rt, rh = self.r_yaw(), self.r_torso(), self.r_head()
        r_low = self.r_yaw() @ _rot("x", -0.5 * self.pitch) @ _rot("z", -0.5 * self.roll)
        p = self.pelvis
        mid = p + _apply(r_low, np.array([0.0, b.spine1, 0.0]))
        ss = mid + _apply(rt, np.array([0.0, b.spine2, 0.0]))
        neck = ss + _apply(rh, np.array([0.0, b.neck, 0.0]))
        head = neck + _apply(rh, np.array([0.0, b.head, -0.01]))
        return {"pelvis": p, "mid": mid, "ss": ss, "neck": neck, "head": head, "ry": ry, "rt": rt}

    def joints(self) -> np.ndarray:
        """(T, 25, 3) joint positions in the scene frame."""
        b, t = self.body, self.T
        c = self.joints_core()
        ry, rt = c["ry"], c["rt"]
        out = np.zeros((t, 25, 3))
        out[:, SPINE_BASE], out[:, SPINE_MID], out[:, SPINE_SHOULDER] = c["pelvis"], c["mid"], c["ss"]
        out[:, NECK], out[:, HEAD] = c["neck"], c["head"]
        fwd = _apply(ry, np.array([0.0, 0.0, -1.0]))
        right = _apply(ry, np.array([1.0, 0.0, 0.0]))
        up = np.array([0.0, 1.0, 0.0])
        for side, (sh, el, wr, ha, tip, th) in enumerate((
            (L_SHOULDER, L_ELBOW, L_WRIST, L_HAND, L_TIP, L_THUMB),
            (R_SHOULDER, R_ELBOW, R_WRIST, R_HAND, R_TIP, R_THUMB),
        )):
            sgn = -1.0 if side == 0 else 1.0
            shoulder = c["ss"] + _apply(rt, np.array([sgn * b.shoulder_w, -0.035, 0.0]))
            reach = b.upper_arm + b.forearm
            hang = (shoulder + right * (sgn * 0.05) - up * (0.96 * reach)
                    + fwd * (0.03 + self.arm_swing[side][:, None]))
            w = self.wrist_w[side][:, None]
            target = (1 - w) * hang + w * self.wrist[side]
            pole = _norm((1 - w) * (right * sgn * 0.3 - fwd) + w * (right * sgn - up * 0.6 - fwd * 0.1))
            elbow, wrist = _two_bone(shoulder, target, b.upper_arm, b.forearm, pole)
            fore = _norm(wrist - elbow)
            hw = self.hand_w[side][:, None]
            hdir = _norm((1 - hw) * fore + hw * self.hand_dir[side])
            tdir = _norm((1 - hw) * fore + hw * self.tip_dir[side])
            thdir = _norm((1 - hw) * _norm(fore * 0.4 + fwd - right * sgn * 0.3)
                          + hw * self.thumb_dir[side])
            hand = wrist + hdir * b.hand
            out[:, sh], out[:, el], out[:, wr], out[:, ha] = shoulder, elbow, wrist, hand
            out[:, tip] = hand + tdir * b.tip
            out[:, th] = wrist + _norm(hdir * 0.5 + thdir) * b.thumb
        for side, (hp, kn, an, ft) in enumerate((
            (L_HIP, L_KNEE, L_ANKLE, L_FOOT), (R_HIP, R_KNEE, R_ANKLE, R_FOOT),
        )):
            sgn = -1.0 if side == 0 else 1.0
            hip = c["pelvis"] + _apply(ry @ _rot("z", -0.3 * self.roll),
                                       np.array([sgn * b.hip_w, -0.06, 0.0]))
            under = hip.copy()
            under[:, 1] = b.ankle_h
            under = under + fwd * 0.02
            w = self.ankle_w[side][:, None]
            target = (1 - w) * under + w * self.ankle[side]
            knee, ankle = _two_bone(hip, target, b.thigh, b.shank,
                                    _norm(fwd + right * sgn * self.knee_out))
            out[:, hp], out[:, kn], out[:, an] = hip, knee, ankle
            out[:, ft] = ankle + fwd * b.foot - up * 0.05
        if self.fall is not None:
            pivot, axis, angle = self.fall
            r = _axis_angle(axis, angle)
            out = np.einsum("tij,tvj->tvi", r, out - pivot) + pivot
            low = out[:, :, 1].min(axis=1)
            out[:, :, 1] += np.maximum(0.02 - low, 0.0)[:, None]
        return out

    # helpers for actions ----------------------------------------------------------------------
    def set_hand(self, side: int, w: np.ndarray, target: np.ndarray, hand_dir, tip_dir=None,
                 thumb_dir=None) -> None:
        self.wrist[side] = target
        self.wrist_w[side] = w
        self.hand_w[side] = w
        self.hand_dir[side] = np.broadcast_to(hand_dir, (self.T, 3))
        self.tip_dir[side] = np.broadcast_to(hand_dir if tip_dir is None else tip_dir, (self.T, 3))
        self.thumb_dir[side] = np.broadcast_to(
            np.array([0.0, 1.0, 0.0]) if thumb_dir is None else thumb_dir, (self.T, 3))


# ---------------------------------------------------------------------------------------------
# Actions: each fills the Pose objects of one sample


@dataclass
class Ctx:
    rng: np.random.Generator
    T: int
    u: np.ndarray  # action progress, 0 before and 1 after the action window
    t: np.ndarray  # seconds
    amp: float
    speed: float
    bodies: list[Body]


def _in_body(pose: Pose, v: Sequence[float]) -> np.ndarray:
    """A direction given in the body (yaw) frame, in scene coordinates."""
    return _apply(pose.r_yaw(), np.asarray(v, dtype=np.float64))


def _osc(ctx: Ctx, hz: float, phase: float | None = None) -> np.ndarray:
    ph = ctx.rng.uniform(0, 2 * np.pi) if phase is None else phase
    return np.sin(2 * np.pi * hz * ctx.speed * ctx.t + ph)


def _act_walk(ctx: Ctx) -> list[Pose]:
    b = ctx.bodies[0]
    heading = ctx.rng.choice([0.0, 180.0, 90.0, -90.0, 45.0, -45.0, 135.0, -135.0])
    heading = math.radians(heading + ctx.rng.uniform(-15, 15))
    p = Pose(b, ctx.T, yaw=heading)
    v = ctx.rng.uniform(0.55, 0.9) * ctx.speed  # m/s
    moving = (ctx.u > 0) & (ctx.u < 1)
    dt = 1.0 / FPS
    ramp = _envelope(ctx.u, 0.12, 0.12)
    dist = np.cumsum(ramp * v * dt)
    fwd = np.array([-math.sin(heading), 0.0, -math.cos(heading)])
    p.pelvis = p.pelvis + dist[:, None] * fwd
    stride = 0.55 * (b.thigh + b.shank) / 0.84 * ctx.amp
    phase = np.cumsum(ramp * v * dt) / stride * 2 * np.pi  # one leg cycle per stride
    for side, off in ((0, 0.0), (1, np.pi)):
        ph = phase + off
        lateral = _in_body(p, [(-1 if side == 0 else 1) * b.hip_w, 0, 0])
        along = fwd * (0.5 * stride * np.sin(ph))[:, None] * ramp[:, None]
        lift = 0.09 * np.maximum(np.cos(ph), 0) * ramp
        tgt = p.pelvis + lateral + along
        tgt[:, 1] = b.ankle_h + lift
        p.ankle[side], p.ankle_w[side] = tgt, np.where(moving, 1.0, 0.0) * ramp
        p.arm_swing[1 - side] = 0.18 * ctx.amp * np.sin(ph) * ramp
    p.pelvis[:, 1] += -0.025 * np.abs(np.sin(phase)) * ramp
    p.pitch += 0.06 * ramp
    return [p]


def _act_sit(ctx: Ctx, reverse: bool = False) -> list[Pose]:
    b = ctx.bodies[0]
    p = Pose(b, ctx.T)
    s = _smooth((1 - ctx.u) if reverse else ctx.u)  # 0 standing, 1 seated
    seat_h = ctx.rng.uniform(0.42, 0.5) * b.pelvis_h / 0.92
    back = ctx.rng.uniform(0.18, 0.26)
    p.pelvis[:, 1] = b.pelvis_h + (seat_h - b.pelvis_h) * s
    p.pelvis[:, 2] += back * s
    lean = np.sin(np.pi * np.clip(s, 0, 1)) * 0.55 * ctx.amp  # leaning forward while moving
    p.pitch = lean + 0.08 * s
    p.head_pitch = -0.3 * lean
    for side in (0, 1):
        sgn = -1 if side == 0 else 1
        tgt = np.tile([sgn * (b.hip_w + 0.02), b.ankle_h, -0.06], (ctx.T, 1))
        p.ankle[side], p.ankle_w[side] = tgt, np.ones(ctx.T)
        # hands come to rest on the thighs when seated
        thigh = np.stack([np.full(ctx.T, sgn * (b.hip_w + 0.03)), p.pelvis[:, 1] + 0.08,
                          p.pelvis[:, 2] - 0.28], axis=1)
        p.set_hand(side, 0.9 * s ** 2, thigh, _in_body(p, [0, -0.3, -1]))
    return [p]


def _act_jump(ctx: Ctx) -> list[Pose]:
    b = ctx.bodies[0]
    p = Pose(b, ctx.T)
    n_jumps = 1 + int(ctx.rng.random() < 0.4)
    u = ctx.u
    h = ctx.rng.uniform(0.18, 0.32) * ctx.amp
    # each jump: crouch (0-0.35), flight (0.35-0.7), landing crouch (0.7-1)
    k = np.clip(u * n_jumps, 0, n_jumps - 1e-9)
    v = np.where((u > 0) & (u < 1), k - np.floor(k), 0.0)
    crouch = 0.14 * (np.sin(np.pi * np.clip(v / 0.35, 0, 1)) ** 2
                     + np.sin(np.pi * np.clip((v - 0.7) / 0.3, 0, 1)) ** 2)
    fl = np.clip((v - 0.35) / 0.35, 0, 1)
    flight = np.where((v > 0.35) & (v < 0.7), 4 * h * fl * (1 - fl), 0.0)
    p.pelvis[:, 1] += flight - crouch
    p.pitch = 1.6 * crouch
    for side in (0, 1):
        sgn = -1 if side == 0 else 1
        tgt = np.tile([sgn * b.hip_w, b.ankle_h, 0.0], (ctx.T, 1))
        tgt[:, 1] += np.maximum(flight - 0.02, 0) * 0.9
        p.ankle[side], p.ankle_w[side] = tgt, np.ones(ctx.T)
        p.arm_swing[side] = -2.0 * crouch + 2.0 * flight
    return [p]


def _act_fall(ctx: Ctx) -> list[Pose]:
    b = ctx.bodies[0]
    p = Pose(b, ctx.T)
    s = np.clip(ctx.u, 0, 1) ** 2  # accelerating
    direction = ctx.rng.choice(["forward", "backward", "left", "right"])
    axis = {"forward": [-1.0, 0, 0], "backward": [1.0, 0, 0], "left": [0, 0, 1.0],
            "right": [0, 0, -1.0]}[direction]
    p.pelvis[:, 1] -= 0.25 * _smooth(ctx.u * 1.5)  # knees give way first
    p.pitch = 0.3 * _smooth(ctx.u * 1.5) if direction == "forward" else p.pitch
    for side in (0, 1):
        sgn = -1 if side == 0 else 1
        tgt = np.tile([sgn * b.hip_w, b.ankle_h, 0.0], (ctx.T, 1))
        p.ankle[side], p.ankle_w[side] = tgt, np.ones(ctx.T)
        p.arm_swing[side] = 0.4 * np.sin(np.pi * np.clip(ctx.u * 1.3, 0, 1))  # arms out
    angle = ctx.rng.uniform(1.25, 1.5) * s
    p.fall = (np.array([0.0, 0.0, 0.0]), np.array(axis), angle)
    return [p]


def _act_bow(ctx: Ctx) -> list[Pose]:
    b = ctx.bodies[0]
    p = Pose(b, ctx.T)
    env = _envelope(ctx.u, 0.3, 0.3)
    depth = ctx.rng.uniform(0.6, 1.0) * ctx.amp
    p.pitch = depth * env
    p.head_pitch = 0.15 * env
    p.pelvis[:, 2] += 0.08 * env * depth
    return [p]


# The four head-region classes come in two pairs that share their carrier motion exactly: the
# same wrist target distribution (pair "mouth": in front of the mouth; pair "side": beside the
# head) and the same class-independent wrist tremble (random axis, 1-3.5 Hz, 0.5-2 cm). Within a
# pair only the hand's internal configuration (directions of hand, fingertip and thumb, finger
# motion) and a small head motion differ: invisible once the hand joints are averaged together.
_PAIR_OFFSET = {"mouth": [0.06, -0.14, -0.10], "side": [0.10, -0.08, -0.01]}


def _head_action(ctx: Ctx, pair: str, hand_dir, thumb_dir, tip_dir=None,
                 extra: Callable[[Pose, np.ndarray], None] | None = None) -> list[Pose]:
    """Right hand to the pair's point near the head (head frame, jittered), with a shared
    tremble; hand/tip/thumb directions (head frame; arrays (T, 3) or 3-vectors) and an optional
    ``extra(pose, env)`` (head motion) are class-specific."""
    b = ctx.bodies[0]
    p = Pose(b, ctx.T)
    env = _envelope(ctx.u, 0.22, 0.2)
    p.head_pitch += 0.03 * ctx.rng.standard_normal() * env
    if extra is not None:
        extra(p, env)
    off = np.asarray(_PAIR_OFFSET[pair], dtype=np.float64) + ctx.rng.normal(0, 0.015, 3)
    axis = _norm(ctx.rng.normal(size=3))
    tremble = ctx.rng.uniform(0.005, 0.02) * _osc(ctx, ctx.rng.uniform(1.0, 3.5))
    off = off + (tremble * env)[:, None] * axis
    rh = p.r_head()
    head = p.joints_core()["head"]
    tgt = head + np.einsum("tij,tj->ti", rh, off)
    d = lambda v: _norm(np.einsum("tij,tj->ti", rh, np.broadcast_to(np.asarray(v, float), (ctx.T, 3))))  # noqa: E731
    p.set_hand(1, env, tgt, d(hand_dir), d(tip_dir if tip_dir is not None else hand_dir),
               d(thumb_dir))
    return [p]


def _wag(ctx: Ctx, base, perp, hz: float, amp: float) -> np.ndarray:
    """A direction oscillating around ``base`` towards ``perp`` (T, 3)."""
    return _norm(np.asarray(base, float) + (amp * _osc(ctx, hz))[:, None] * np.asarray(perp, float))


def _act_brush_teeth(ctx: Ctx) -> list[Pose]:
    # fingers point across the mouth; the brushing is a fast wag of hand and fingertips
    hz = ctx.rng.uniform(2.6, 3.6)
    wag = _wag(ctx, [-0.85, 0.3, -0.2], [0.0, 0.3, -1.0], hz, 0.45 * ctx.amp)
    return _head_action(ctx, "mouth", wag, [0.0, 1.0, -0.2], tip_dir=wag)


def _act_drink(ctx: Ctx) -> list[Pose]:
    # fingers wrap the cup (tips curl back), the thumb tilts back with each sip, head tilts back
    n_sips = 1 + int(ctx.rng.random() < 0.5)
    sip = np.sin(np.pi * np.clip((ctx.u - 0.2) / 0.6, 0, 1) * n_sips) ** 2

    def extra(p, env):
        p.head_pitch += -0.2 * sip * env * ctx.amp

    tilt = sip[:, None] * 0.8
    thumb = np.array([0.0, 1.0, 0.0]) * (1 - tilt) + np.array([0.0, 0.3, 0.9]) * tilt
    return _head_action(ctx, "mouth", [-0.9, 0.05, -0.3], thumb, tip_dir=[-0.3, -0.2, 0.9],
                        extra=extra)


def _act_brush_hair(ctx: Ctx) -> list[Pose]:
    # fingers point up and back over the head; strokes are a slow front-back wag of the hand
    hz = ctx.rng.uniform(1.1, 1.7)
    wag = _wag(ctx, [-0.3, 0.8, 0.35], [0.0, -0.3, 1.0], hz, 0.6 * ctx.amp)

    def extra(p, env):
        p.head_roll += -0.07 * env  # head tilts away from the brush

    return _head_action(ctx, "side", wag, [0.0, 0.0, -1.0], tip_dir=wag, extra=extra)


def _act_phone(ctx: Ctx) -> list[Pose]:
    # fingers up along the head, thumb forward, still hand; head leans in and nods (talking)
    def extra(p, env):
        p.head_roll += 0.08 * env
        p.head_pitch += 0.05 * _osc(ctx, 1.2) * env

    return _head_action(ctx, "side", [-0.1, 0.95, 0.1], [0.0, 0.2, -1.0],
                        tip_dir=[-0.25, 0.9, 0.0], extra=extra)


def _two_hands(ctx: Ctx, clap: bool) -> list[Pose]:
    b = ctx.bodies[0]
    p = Pose(b, ctx.T)
    env = _envelope(ctx.u, 0.25, 0.2)
    hz = ctx.rng.uniform(2.0, 3.0)
    c = p.joints_core()["ss"] + np.array([0.0, -0.22, -0.3]) + ctx.rng.normal(0, 0.015, 3)
    if clap:
        sep = 0.035 + 0.09 * ctx.amp * (0.5 + 0.5 * _osc(ctx, hz))
        slide = np.zeros(ctx.T)
    else:
        sep = np.full(ctx.T, 0.04)
        slide = 0.03 * ctx.amp * _osc(ctx, hz)
    for side in (0, 1):
        sgn = -1 if side == 0 else 1
        tgt = c + np.stack([sgn * (sep / 2 + 0.04), sgn * slide, -sgn * 0.5 * slide], 1)
        p.set_hand(side, env, tgt, [-sgn * 0.35, 0.55, -0.75], thumb_dir=[0.0, 0.8, 0.5])
    return [p]


def _act_handshake(ctx: Ctx) -> list[Pose]:
    d = ctx.rng.uniform(1.1, 1.4)
    a = Pose(ctx.bodies[0], ctx.T, x=-d / 2, yaw=-math.pi / 2 + ctx.rng.normal(0, 0.1))
    bb = Pose(ctx.bodies[1], ctx.T, x=d / 2, yaw=math.pi / 2 + ctx.rng.normal(0, 0.1))
    env = _envelope(ctx.u, 0.3, 0.25)
    step = 0.12 * _envelope(ctx.u, 0.2, 0.15)
    a.pelvis[:, 0] += step
    bb.pelvis[:, 0] -= step
    hz = ctx.rng.uniform(1.5, 2.5)
    h = 0.5 * (a.body.pelvis_h + bb.body.pelvis_h) + 0.08
    meet = np.stack([np.zeros(ctx.T), h + 0.035 * ctx.amp * _osc(ctx, hz) * env,
                     np.full(ctx.T, 0.0)], 1)
    for pose, sgn in ((a, -1.0), (bb, 1.0)):
        tgt = meet + np.array([sgn * 0.05, 0.0, 0.0])
        pose.set_hand(1, env, tgt, np.array([-sgn, 0.0, 0.0]), thumb_dir=[0.0, 1.0, 0.0])
        pose.pitch += 0.08 * env
    return [a, bb]


def _act_push(ctx: Ctx) -> list[Pose]:
    d = ctx.rng.uniform(1.0, 1.3)
    a = Pose(ctx.bodies[0], ctx.T, x=-d / 2, yaw=-math.pi / 2 + ctx.rng.normal(0, 0.1))
    bb = Pose(ctx.bodies[1], ctx.T, x=d / 2, yaw=math.pi / 2 + ctx.rng.normal(0, 0.1))
    u = ctx.u
    approach = _smooth(u / 0.45)
    a.pelvis[:, 0] += 0.35 * approach
    hit = _smooth((u - 0.4) / 0.3)
    shove = ctx.rng.uniform(0.3, 0.6) * ctx.amp
    bb.pelvis[:, 0] += shove * hit
    bb.pitch = -0.25 * np.sin(np.pi * np.clip((u - 0.4) / 0.45, 0, 1))
    bb.arm_swing += 0.25 * np.sin(np.pi * np.clip((u - 0.4) / 0.45, 0, 1))
    jb = bb.joints()
    env = _envelope(u, 0.35, 0.3)
    a.pitch += 0.25 * env
    for side, joint in ((0, R_SHOULDER), (1, L_SHOULDER)):  # A faces B: A's left meets B's right
        tgt = jb[:, joint] + np.array([-0.06, -0.08, 0.0])
        a.set_hand(side, env, tgt, np.array([1.0, 0.6, 0.0]), thumb_dir=[0.0, 1.0, 0.0])
    return [a, bb]


_ACTIONS: list[Callable[[Ctx], list[Pose]]] = [
    _act_walk, _act_sit, lambda c: _act_sit(c, reverse=True), _act_jump, _act_fall, _act_bow,
    _act_brush_teeth, _act_brush_hair, _act_phone, _act_drink,
    lambda c: _two_hands(c, True), lambda c: _two_hands(c, False),
    _act_handshake, _act_push,
]  # fmt: skip
assert len(_ACTIONS) == len(CLASSES)


# ---------------------------------------------------------------------------------------------
# One sample: scene -> camera -> noisy Kinect joints


@dataclass
class SampleSpec:
    index: int  # global index (deterministic order)
    label: int  # 0-based
    setup: int
    camera: int
    subject: int
    rep: int
    seed: int

    @property
    def name(self) -> str:
        return (f"S{self.setup:03d}C{self.camera:03d}P{self.subject:03d}"
                f"R{self.rep:03d}A{self.label + 1:03d}")


def sample_plan(num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0) -> list[SampleSpec]:
    """Balanced classes; unique (setup, camera, subject, replication) per class, seeded."""
    k = len(CLASSES)
    combos = NUM_SETUPS * NUM_CAMERAS * NUM_SUBJECTS * NUM_REPS
    per_class = [num_samples // k + (1 if c < num_samples % k else 0) for c in range(k)]
    if max(per_class) > combos:
        raise ValueError(f"at most {combos * k} synthetic samples (got {num_samples})")
    plan = []
    for c in range(k):
        rng = np.random.default_rng([int(seed), 11, c])
        for i, code in enumerate(rng.choice(combos, per_class[c], replace=False).tolist()):
            code, rep = divmod(code, NUM_REPS)
            code, subj = divmod(code, NUM_SUBJECTS)
            setup, cam = divmod(code, NUM_CAMERAS)
            plan.append(SampleSpec(len(plan), c, setup + 1, cam + 1, subj + 1, rep + 1, int(seed)))
    plan.sort(key=lambda s: s.name)
    return plan


_VIEW_YAW = {1: 0.0, 2: 45.0, 3: -45.0}


def generate_sequence(spec: SampleSpec) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Joint positions of one sample in camera coordinates.

    Returns (bodies, states): per body an array (T, 25, 3) in metres (Kinect camera space:
    x to the camera's left = subject's right when facing it, y up, z depth) with NaN rows for
    frames where the body is absent, and per body the tracking states (T, 25).
    """
    rng = np.random.default_rng([spec.seed, 1, spec.label, spec.index, spec.subject])
    setup_rng = np.random.default_rng([spec.seed, 3, spec.setup])
    cam_h, cam_dist = setup_rng.uniform(0.65, 1.05), setup_rng.uniform(2.5, 3.3)
    speed = rng.uniform(0.75, 1.35)
    amp = rng.uniform(0.75, 1.25)
    dur = max(20, int(round(_DURATION[spec.label] / speed)))
    pre, post = int(rng.integers(5, 25)), int(rng.integers(5, 25))
    t_total = pre + dur + post
    frame = np.arange(t_total)
    u = np.clip((frame - pre) / dur, 0.0, 1.0)
    # mild time warp (people do not move at a constant pace)
    w = rng.uniform(-0.06, 0.06)
    u = np.clip(u + w * np.sin(2 * np.pi * u), 0.0, 1.0)
    two = CLASS_GROUPS[CLASSES[spec.label]] == "interaction"
    bodies = [subject_body(spec.seed, spec.subject)]
    if two:
        other = int((spec.subject + rng.integers(1, NUM_SUBJECTS)) % NUM_SUBJECTS) + 1
        bodies.append(subject_body(spec.seed, other))
    ctx = Ctx(rng, t_total, u, frame / FPS, amp, speed, bodies)
    poses = _ACTIONS[spec.label](ctx)

    # idle motion: sway and breathing, different per person
    for p in poses:
        ph = rng.uniform(0, 2 * np.pi, 3)
        tt = frame / FPS
        p.pelvis[:, 0] += 0.01 * np.sin(2 * np.pi * 0.23 * tt + ph[0])
        p.pelvis[:, 2] += 0.008 * np.sin(2 * np.pi * 0.17 * tt + ph[1])
        p.pitch += 0.015 * np.sin(2 * np.pi * 0.3 * tt + ph[2])
        p.head_pitch += 0.03 * np.sin(2 * np.pi * 0.2 * tt + ph[1])

    scene = [p.joints() for p in poses]
    # camera: view angle about the vertical axis, distance, height, slight tilt
    yaw = math.radians(_VIEW_YAW[spec.camera] + rng.uniform(-10, 10))
    tilt = math.radians(setup_rng.uniform(-4, 4) + rng.uniform(-1, 1))
    r = _rot("x", np.array([tilt]))[0] @ _rot("y", np.array([yaw]))[0]
    offset = np.array([rng.uniform(-0.3, 0.3), -cam_h, cam_dist + rng.uniform(-0.3, 0.3)])
    # the scene faces -z (towards the camera); Kinect z grows away from the camera
    out, states = [], []
    for j in scene:
        # Kinect camera space: x = the camera's left (the subject's right when facing it), y up,
        # z = depth; the camera looks along +z of the scene, at the subject's front
        cam = j @ r.T + offset
        # sensor noise: white jitter, a slow drift, noisier hand tips / thumbs, rare glitches
        sigma = rng.uniform(0.003, 0.007)
        noise = rng.normal(0, sigma, cam.shape)
        noise[:, [L_TIP, L_THUMB, R_TIP, R_THUMB]] *= 2.0
        drift = np.cumsum(rng.normal(0, 0.0015, (cam.shape[0], 1, 3)), axis=0)
        drift -= drift.mean(0)
        cam = cam + noise + drift
        st = np.full(cam.shape[:2], 2, dtype=np.int64)
        glitch = rng.random(cam.shape[:2]) < 0.004
        if glitch.any():
            cam[glitch] += rng.normal(0, 0.05, (int(glitch.sum()), 3))
            st[glitch] = 1
        out.append(cam)
        states.append(st)
    return out, states


# ---------------------------------------------------------------------------------------------
# NTU .skeleton writer

_JOINT_FMT = " ".join(["%.7g"] * 3 + ["%g"] * 9) + "\r\n"  # the state is integral
_BLOCK_FMT_TAIL = "25\r\n" + _JOINT_FMT * 25
# the common case (every joint tracked): the state is written literally, 25 values fewer to format
_BLOCK_FMT_TRACKED = "25\r\n" + (" ".join(["%.7g"] * 3 + ["%g"] * 8) + " 2\r\n") * 25
_LEAF = np.zeros(25, dtype=bool)
_LEAF[[HEAD, L_TIP, L_THUMB, R_TIP, R_THUMB, L_FOOT, R_FOOT]] = True


def _pixels(xyz: np.ndarray) -> np.ndarray:
    """depthX, depthY, colorX, colorY of camera points (Kinect v2-like intrinsics)."""
    z = np.maximum(xyz[..., 2], 0.3)
    x, y = xyz[..., 0] / z, xyz[..., 1] / z
    return np.stack([256.0 + 366.0 * x, 208.5 - 366.0 * y,
                     960.0 + 1060.0 * (x + 0.054 / z), 567.8 - 1060.0 * y], -1)


def _orientations(xyz: np.ndarray) -> np.ndarray:
    """Quaternions (w, x, y, z) turning +y onto each joint's bone direction (leaves: 0)."""
    par = np.array([p if p >= 0 else 1 for p in _PARENT])
    d = _norm(xyz - xyz[..., par, :])
    y = np.array([0.0, 1.0, 0.0])
    q = np.concatenate([1.0 + d[..., 1:2], np.cross(np.broadcast_to(y, d.shape), d)], -1)
    q = _norm(q)
    q[..., _LEAF, :] = 0.0
    return q


def write_skeleton_file(path: str | Path, bodies: Sequence[np.ndarray],
                        states: Sequence[np.ndarray] | None = None,
                        body_ids: Sequence[int] | None = None, empty_lead: int = 0) -> None:
    """Write a genuine NTU RGB+D raw ``.skeleton`` file (CRLF).

    ``bodies``: per body (T, 25, 3) camera coordinates, NaN rows where the body is absent in a
    frame; ``empty_lead`` frames with zero bodies are written first.
    """
    if not bodies:
        raise ValueError("at least one body")
    t = bodies[0].shape[0]
    nb = len(bodies)
    ids = list(body_ids) if body_ids is not None else [72057594037927936 + 1000 + k for k in range(nb)]
    rows = []
    present = []
    for k, xyz in enumerate(bodies):
        st = states[k] if states is not None else np.full(xyz.shape[:2], 2)
        ok = ~np.isnan(xyz).any(axis=(1, 2))
        full = np.concatenate([np.nan_to_num(xyz), _pixels(np.nan_to_num(xyz)),
                               _orientations(np.nan_to_num(xyz)), st[..., None]], -1)  # (T,25,12)
        tracked = np.all(st == 2, axis=1)
        lean = np.clip(np.nan_to_num(xyz[:, SPINE_SHOULDER, :2] - xyz[:, SPINE_BASE, :2]), -1, 1)
        rows.append((full.reshape(t, 300), lean, ok, tracked, full[..., :11].reshape(t, 275)))
        present.append(ok)
    lines = [f"{t + empty_lead}\r\n"] + ["0\r\n"] * empty_lead
    for f in range(t):
        here = [k for k in range(nb) if present[k][f]]
        lines.append(f"{len(here)}\r\n")
        for k in here:
            full, lean, _, tracked, short = rows[k]
            head = f"{ids[k]} 0 1 1 1 1 0 {lean[f, 0]:.7g} {lean[f, 1]:.7g} 2\r\n"
            if tracked[f]:
                lines.append(head + _BLOCK_FMT_TRACKED % tuple(short[f].tolist()))
            else:
                lines.append(head + _BLOCK_FMT_TAIL % tuple(full[f].tolist()))
    Path(path).write_bytes("".join(lines).encode("ascii"))


def _write_one(args: tuple[SampleSpec, str]) -> str:
    spec, out_dir = args
    bodies, states = generate_sequence(spec)
    rng = np.random.default_rng([spec.seed, 5, spec.index])
    ids = [72057594037927936 + int(rng.integers(1000, 99999)) * 10 + k for k in range(len(bodies))]
    order = rng.permutation(len(bodies)).tolist()  # NTU files list bodies in any order
    bodies = [bodies[k] for k in order]
    states = [states[k] for k in order]
    ids = [ids[k] for k in order]
    if rng.random() < 0.03:  # a short ghost detection (removed by the NTU denoising)
        t = bodies[0].shape[0]
        g = np.full((t, 25, 3), np.nan)
        n = int(rng.integers(3, 10))
        s0 = int(rng.integers(0, max(1, t - n)))
        g[s0:s0 + n] = (np.array([rng.uniform(-1, 1), rng.uniform(-0.5, 0.5), rng.uniform(2, 4)])
                        + rng.normal(0, 0.2, (n, 25, 3)))
        bodies.append(g)
        states.append(np.ones((t, 25), dtype=np.int64))
        ids.append(ids[0] + 7)
    lead = int(rng.integers(1, 5)) if rng.random() < 0.1 else 0
    path = Path(out_dir) / f"{spec.name}.skeleton"
    write_skeleton_file(path, bodies, states, ids, empty_lead=lead)
    return path.name


def write_raw(out_dir: str | Path, num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0,
              workers: int | None = None, progress: bool = False) -> list[Path]:
    """Write ``num_samples`` synthetic NTU ``.skeleton`` files into ``out_dir``; their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = sample_plan(num_samples, seed)
    jobs = [(s, str(out_dir)) for s in plan]
    workers = _workers(workers)
    if workers <= 1 or len(jobs) < 64:
        it = map(_write_one, jobs)
        names = list(_progress(it, len(jobs), progress))
    else:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ctx.Pool(workers) as pool:
            names = list(_progress(pool.imap(_write_one, jobs, chunksize=32), len(jobs), progress))
    return [out_dir / n for n in names]


def _workers(workers: int | None) -> int:
    if workers is None or workers <= 0:
        return max(1, min(os.cpu_count() or 1, 8))
    return int(workers)


def _progress(it, total: int, on: bool):
    if not on:
        return it
    return tqdm(it, total=total, desc="synthetic: writing .skeleton files", unit="file")


# ---------------------------------------------------------------------------------------------
# Whole dataset


def synthetic_meta(seed: int, num_samples: int) -> dict:
    """The pkl meta entries of the synthetic set (class names and their easy/hard groups)."""
    return {
        "dataset": "synthetic",
        "layout": "ntu25",
        "class_names": list(CLASSES),
        "class_groups": [CLASS_GROUPS[c] for c in CLASSES],
        "synthetic": {"seed": int(seed), "num_samples": int(num_samples),
                      "generator": "adasgn.data.synthetic"},
    }


def generate_synthetic(out: str | Path, num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0,
                       workers: int | None = None, raw: str | Path | None = None,
                       progress: bool = False, keep_raw: bool | None = None):
    """Write the raw files (into ``raw``, kept, or a temporary folder beside ``out``, removed)
    and run the NTU preprocessing on them (:func:`adasgn.data.prepare.prepare_ntu`, NTU-60
    rules: denoising, centring, xsub/xview splits); the pkl gets the synthetic meta.
    Returns the :class:`~adasgn.data.prepare.PrepareResult`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    keep_raw = (raw is not None) if keep_raw is None else keep_raw
    raw_dir = Path(raw) if raw is not None else Path(
        tempfile.mkdtemp(prefix=".synthetic-raw-", dir=out.parent))
    t0 = time.perf_counter()
    try:
        files = write_raw(raw_dir, num_samples, seed, workers, progress)
        t_gen = time.perf_counter() - t0
        result = prepare_ntu(sorted(files), out, dataset="ntu60", workers=_workers(workers),
                             progress=progress, meta=synthetic_meta(seed, num_samples))
    finally:
        if not keep_raw:
            shutil.rmtree(raw_dir, ignore_errors=True)
    if progress:
        print(f"synthetic: wrote {len(files)} .skeleton files in {t_gen:.1f} s"
              + (f" (kept in {raw_dir})" if keep_raw else "")
              + f"; generate + prepare {time.perf_counter() - t0:.1f} s")
    return result


def prepare_synthetic(args) -> int:
    """Entry point of ``adasgn prepare synthetic`` (``args.out`` (default
    ``data/synthetic.pkl``), ``args.seed``, ``args.num_samples``, ``args.workers``, optional
    ``args.raw`` (keep the raw files there), ``args.no_progress``). Returns the exit code."""
    n = getattr(args, "num_samples", None) or DEFAULT_NUM_SAMPLES
    seed = getattr(args, "seed", None)
    out = getattr(args, "out", None) or "data/synthetic.pkl"
    result = generate_synthetic(out, int(n), 0 if seed is None else int(seed),
                                getattr(args, "workers", None), getattr(args, "raw", None),
                                progress=not getattr(args, "no_progress", False))
    summary = getattr(result, "summary", None)
    if callable(summary):
        print(summary())
    return 0 if getattr(result, "out", out) is not None else 1
