"""Skeleton layouts: joint names, bones and the joint groupings AdaSGN uses.

This module is the single home of every joint layout. A layout knows

* its joint names (index = joint id, 0-based),
* its kinematic tree: ``parents[j]`` is the parent of joint ``j`` (``-1`` for the root), so every
  bone is ``child -> parent``,
* its joint-aggregation groupings: for each reduced joint count ``n`` a list of ``n`` groups, each a
  set of original joints that are averaged with equal weight (the initial value of AdaSGN's
  transformation matrices). The full joint count is implicit (identity).

Built-in layouts: ``ntu25``, ``kinect20``, ``msr20``, ``shrec22``, ``coco17``, ``fpha21``,
``utd20``, ``penn13``, ``mediapipe33``, ``hand21``, ``leap20``. Mappings between layouts:
:mod:`adasgn.skeleton.convert`. A user layout comes
from a small YAML file (see :func:`load_layout_yaml`) and is registered with
:func:`register_layout` -- no code change needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import yaml

__all__ = [
    "Layout",
    "LayoutError",
    "get_layout",
    "list_layouts",
    "register_layout",
    "load_layout_yaml",
]


class LayoutError(ValueError):
    """An invalid skeleton layout; the message names the problem."""


@dataclass(frozen=True)
class Layout:
    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    groupings: Mapping[int, tuple[tuple[int, ...], ...]] = field(default_factory=dict)
    center: int = 0
    description: str = ""

    # ------------------------------------------------------------------ construction
    def __post_init__(self) -> None:
        _validate(self)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def joint_choices(self) -> tuple[int, ...]:
        """Joint counts AdaSGN chooses from, ascending; the last is the full count."""
        return tuple(sorted(set(self.groupings) | {self.num_joints}))

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs, one per non-root joint."""
        return tuple((c, p) for c, p in enumerate(self.parents) if p >= 0)

    def groups(self, n: int) -> tuple[tuple[int, ...], ...]:
        """The ``n`` joint groups for joint count ``n`` (identity for the full count)."""
        if n == self.num_joints:
            return tuple((j,) for j in range(n))
        if n not in self.groupings:
            raise KeyError(
                f"layout {self.name!r} has no grouping for {n} joints; "
                f"available: {list(self.joint_choices)}"
            )
        return self.groupings[n]

    def aggregation_matrix(self, n: int) -> np.ndarray:
        """(V, n) matrix M with ``x_reduced = x @ M``: column k averages group k equally."""
        mat = np.zeros((self.num_joints, n), dtype=np.float32)
        for k, group in enumerate(self.groups(n)):
            mat[list(group), k] = 1.0 / len(group)
        return mat

    @property
    def mirror_pairs(self) -> tuple[tuple[int, int], ...]:
        """(left, right) joint index pairs, found by name: ``l_x`` / ``r_x`` or ``x_l`` / ``x_r``.
        Left-right mirroring swaps them (``RandomMirror``); a hand layout has none."""
        pairs = []
        for i, name in enumerate(self.joints):
            if name.startswith("l_"):
                other = "r_" + name[2:]
            elif name.endswith("_l"):
                other = name[:-2] + "_r"
            else:
                continue
            if other in self.joints:
                pairs.append((i, self.joints.index(other)))
        return tuple(pairs)

    def index(self, joint: str | int) -> int:
        if isinstance(joint, (int, np.integer)):
            if not 0 <= int(joint) < self.num_joints:
                raise LayoutError(f"layout {self.name!r}: joint index {joint} out of range")
            return int(joint)
        try:
            return self.joints.index(joint)
        except ValueError:
            raise LayoutError(f"layout {self.name!r}: unknown joint {joint!r}") from None


def _validate(layout: Layout) -> None:
    name = layout.name
    v = len(layout.joints)
    if v == 0:
        raise LayoutError(f"layout {name!r}: no joints")
    if len(set(layout.joints)) != v:
        dup = sorted({j for j in layout.joints if layout.joints.count(j) > 1})
        raise LayoutError(f"layout {name!r}: duplicate joint names {dup}")
    if len(layout.parents) != v:
        raise LayoutError(
            f"layout {name!r}: {len(layout.parents)} parents for {v} joints (need one per joint)"
        )
    for j, p in enumerate(layout.parents):
        if not -1 <= p < v:
            raise LayoutError(f"layout {name!r}: parent {p} of joint {layout.joints[j]!r} is unknown")
        if p == j:
            raise LayoutError(f"layout {name!r}: joint {layout.joints[j]!r} is its own parent (cycle)")
    # cycle check: walk up from every joint
    for j in range(v):
        seen = [j]
        p = layout.parents[j]
        while p >= 0:
            if p in seen:
                cyc = " -> ".join(layout.joints[k] for k in seen[seen.index(p):] + [p])
                raise LayoutError(f"layout {name!r}: cycle in parents: {cyc}")
            seen.append(p)
            p = layout.parents[p]
    if not 0 <= layout.center < v:
        raise LayoutError(f"layout {name!r}: centre joint {layout.center} out of range")
    for n, groups in layout.groupings.items():
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise LayoutError(f"layout {name!r}: grouping key {n!r} must be a positive joint count")
        if n >= v:
            raise LayoutError(
                f"layout {name!r}: grouping for {n} joints must reduce the {v} joints "
                "(the full count is the implicit identity)"
            )
        if len(groups) != n:
            raise LayoutError(f"layout {name!r}: grouping {n} has {len(groups)} groups, expected {n}")
        owner: dict[int, int] = {}
        for k, group in enumerate(groups):
            if len(group) == 0:
                raise LayoutError(f"layout {name!r}: grouping {n}, group {k} is empty")
            for j in group:
                if not 0 <= j < v:
                    raise LayoutError(f"layout {name!r}: grouping {n}, group {k}: unknown joint {j}")
                if j in owner:
                    raise LayoutError(
                        f"layout {name!r}: grouping {n}: joint {layout.joints[j]!r} is in two groups "
                        f"({owner[j]} and {k})"
                    )
                owner[j] = k
        missing = [layout.joints[j] for j in range(v) if j not in owner]
        if missing:
            raise LayoutError(f"layout {name!r}: grouping {n}: joints in no group: {missing}")


# ---------------------------------------------------------------------------------------------
# Building layouts from names


def make_layout(
    name: str,
    joints: Sequence[str],
    parents: Sequence[str | int | None],
    groupings: Mapping[int, Iterable[Iterable[str | int]]] | None = None,
    center: str | int = 0,
    description: str = "",
) -> Layout:
    """Build a layout where parents / groups may be given as joint names or indices."""
    joints = tuple(str(j) for j in joints)

    def idx(j: str | int | None, what: str) -> int:
        if j is None or (isinstance(j, (int, np.integer)) and int(j) == -1):
            return -1
        if isinstance(j, (int, np.integer)):
            if not 0 <= int(j) < len(joints):
                raise LayoutError(f"layout {name!r}: {what}: unknown joint index {j}")
            return int(j)
        if j not in joints:
            raise LayoutError(f"layout {name!r}: {what}: unknown joint {j!r}")
        return joints.index(j)

    if len(parents) != len(joints):
        raise LayoutError(
            f"layout {name!r}: {len(parents)} parents for {len(joints)} joints (need one per joint)"
        )
    par = tuple(idx(p, f"parent of {joints[i]!r}") for i, p in enumerate(parents))
    grp: dict[int, tuple[tuple[int, ...], ...]] = {}
    for n, groups in (groupings or {}).items():
        try:
            n_int = int(n)
        except (TypeError, ValueError):
            raise LayoutError(f"layout {name!r}: grouping key {n!r} must be a joint count") from None
        grp[n_int] = tuple(
            tuple(idx(j, f"grouping {n_int}, group {k}") for j in group)
            for k, group in enumerate(groups)
        )
    return Layout(name, joints, par, grp, idx(center, "centre"), description)


_REGISTRY: dict[str, Layout] = {}


def register_layout(layout: Layout, overwrite: bool = False) -> Layout:
    if layout.name in _REGISTRY and not overwrite:
        raise LayoutError(f"layout {layout.name!r} is already registered")
    _REGISTRY[layout.name] = layout
    return layout


def list_layouts() -> list[str]:
    return sorted(_REGISTRY)


def get_layout(name: str | Layout) -> Layout:
    """A registered layout by name, or a path to a YAML layout file (loaded and registered)."""
    if isinstance(name, Layout):
        return name
    if name in _REGISTRY:
        return _REGISTRY[name]
    if str(name).endswith((".yaml", ".yml")) and Path(name).is_file():
        lay = load_layout_yaml(name)
        return register_layout(lay, overwrite=True)
    raise KeyError(f"unknown layout {name!r}; registered: {list_layouts()} (or give a .yaml file)")


def load_layout_yaml(path: str | Path) -> Layout:
    """Read a layout from YAML::

        name: myhand
        joints: [wrist, thumb, index]
        parents: [null, wrist, wrist]     # names, indices or null for the root
        groupings:                        # optional; full joint count is implicit
          1: [[wrist, thumb, index]]
        center: wrist                     # optional, default joint 0
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise LayoutError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: expected a mapping with keys name, joints, parents")
    for key in ("name", "joints", "parents"):
        if key not in data:
            raise LayoutError(f"{path}: missing key {key!r}")
    try:
        return make_layout(
            str(data["name"]),
            data["joints"],
            data["parents"],
            data.get("groupings") or {},
            data.get("center", 0),
            data.get("description", ""),
        )
    except LayoutError as exc:
        raise LayoutError(f"{path}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Built-in layouts

_KINECT_V2 = (
    "spine_base", "spine_mid", "neck", "head",
    "l_shoulder", "l_elbow", "l_wrist", "l_hand",
    "r_shoulder", "r_elbow", "r_wrist", "r_hand",
    "l_hip", "l_knee", "l_ankle", "l_foot",
    "r_hip", "r_knee", "r_ankle", "r_foot",
    "spine_shoulder", "l_hand_tip", "l_thumb", "r_hand_tip", "r_thumb",
)  # fmt: skip

register_layout(make_layout(
    "ntu25",
    _KINECT_V2,
    # Kinect v2 SDK hierarchy (hand tip -> hand, thumb -> wrist), rooted at the spine base.
    [None, "spine_base", "spine_shoulder", "neck",
     "spine_shoulder", "l_shoulder", "l_elbow", "l_wrist",
     "spine_shoulder", "r_shoulder", "r_elbow", "r_wrist",
     "spine_base", "l_hip", "l_knee", "l_ankle",
     "spine_base", "r_hip", "r_knee", "r_ankle",
     "spine_mid", "l_hand", "l_wrist", "r_hand", "r_wrist"],
    {
        # spec 2.3, the official 25 -> 9 grouping (0-based)
        9: [[0, 1, 12, 16], [2, 4, 8, 20], [3], [5], [6, 7, 21, 22], [9], [10, 11, 23, 24],
            [13, 14, 15], [17, 18, 19]],
        1: [list(range(25))],
    },
    center="spine_mid",
    description="NTU RGB+D / Kinect v2 (25 joints)",
))  # fmt: skip

_KINECT_V1 = (
    "hip_center", "spine", "shoulder_center", "head",
    "l_shoulder", "l_elbow", "l_wrist", "l_hand",
    "r_shoulder", "r_elbow", "r_wrist", "r_hand",
    "l_hip", "l_knee", "l_ankle", "l_foot",
    "r_hip", "r_knee", "r_ankle", "r_foot",
)  # fmt: skip

# The Kinect v1 skeleton by joint name -- its tree (rooted at the hip centre) and the NTU 9-group
# scheme transferred to it: lower torso, shoulder girdle, head, each elbow, each wrist+hand, each
# leg. kinect20 (the SDK order) and utd20 (UTD-MHAD's order) list the same joints in two orders.
_KINECT_V1_PARENT = {
    "hip_center": None, "spine": "hip_center", "shoulder_center": "spine", "head": "shoulder_center",
    "l_shoulder": "shoulder_center", "l_elbow": "l_shoulder", "l_wrist": "l_elbow", "l_hand": "l_wrist",
    "r_shoulder": "shoulder_center", "r_elbow": "r_shoulder", "r_wrist": "r_elbow", "r_hand": "r_wrist",
    "l_hip": "hip_center", "l_knee": "l_hip", "l_ankle": "l_knee", "l_foot": "l_ankle",
    "r_hip": "hip_center", "r_knee": "r_hip", "r_ankle": "r_knee", "r_foot": "r_ankle",
}  # fmt: skip
_KINECT_V1_GROUPS9 = [
    ["hip_center", "spine", "l_hip", "r_hip"], ["shoulder_center", "l_shoulder", "r_shoulder"],
    ["head"], ["l_elbow"], ["l_wrist", "l_hand"], ["r_elbow"], ["r_wrist", "r_hand"],
    ["l_knee", "l_ankle", "l_foot"], ["r_knee", "r_ankle", "r_foot"],
]  # fmt: skip

register_layout(make_layout(
    "kinect20",
    _KINECT_V1,
    [_KINECT_V1_PARENT[j] for j in _KINECT_V1],
    {9: _KINECT_V1_GROUPS9, 1: [list(_KINECT_V1)]},
    center="spine",
    description="Kinect v1 SDK order (20 joints)",
))  # fmt: skip

_MSR = (
    "l_shoulder", "r_shoulder", "neck", "spine", "l_hip", "r_hip", "hip_center",
    "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hand", "r_hand",
    "l_knee", "r_knee", "l_ankle", "r_ankle", "l_foot", "r_foot", "head",
)  # fmt: skip

register_layout(make_layout(
    "msr20",
    _MSR,
    # chain from shared/data/README.md: 19-2, 2-0, 2-1, 2-3, 3-6, 6-4, 6-5, 0-7, 7-9, 9-11,
    # 1-8, 8-10, 10-12, 4-13, 13-15, 15-17, 5-14, 14-16, 16-18; rooted at the hip centre
    ["neck", "neck", "spine", "hip_center", "hip_center", "hip_center", None,
     "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
     "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "neck"],
    {
        # Same body-part scheme as NTU's official 25 -> 9 grouping: lower torso (spine, hip
        # centre, both hips), shoulder girdle (neck, both shoulders), head, each elbow, each
        # wrist+hand, each leg (knee, ankle, foot).
        9: [["spine", "hip_center", "l_hip", "r_hip"], ["neck", "l_shoulder", "r_shoulder"],
            ["head"], ["l_elbow"], ["l_wrist", "l_hand"], ["r_elbow"], ["r_wrist", "r_hand"],
            ["l_knee", "l_ankle", "l_foot"], ["r_knee", "r_ankle", "r_foot"]],
        1: [list(_MSR)],
    },
    center="spine",
    description="MSR Action3D skeleton order (20 joints)",
))  # fmt: skip

_SHREC = (
    "wrist", "palm",
    "thumb_1", "thumb_2", "thumb_3", "thumb_tip",
    "index_1", "index_2", "index_3", "index_tip",
    "middle_1", "middle_2", "middle_3", "middle_tip",
    "ring_1", "ring_2", "ring_3", "ring_tip",
    "little_1", "little_2", "little_3", "little_tip",
)  # fmt: skip

register_layout(make_layout(
    "shrec22",
    _SHREC,
    # DHG / SHREC'17 documentation: the thumb hangs off the wrist, the four fingers off the palm
    [None, "wrist", "wrist", "thumb_1", "thumb_2", "thumb_3",
     "palm", "index_1", "index_2", "index_3",
     "palm", "middle_1", "middle_2", "middle_3",
     "palm", "ring_1", "ring_2", "ring_3",
     "palm", "little_1", "little_2", "little_3"],
    {
        # spec 2.3: column k averages joints {2k, 2k+1}
        11: [[2 * k, 2 * k + 1] for k in range(11)],
        1: [list(range(22))],
    },
    center="wrist",
    description="SHREC'17 / DHG hand (22 joints)",
))  # fmt: skip

_COCO = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear",
    "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)  # fmt: skip

register_layout(make_layout(
    "coco17",
    _COCO,
    [None, "nose", "nose", "l_eye", "r_eye",
     "nose", "nose", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
     "l_shoulder", "r_shoulder", "l_hip", "r_hip", "l_knee", "r_knee"],
    {
        # hips, shoulders, face, each elbow, each wrist, each leg (knee + ankle)
        9: [["l_hip", "r_hip"], ["l_shoulder", "r_shoulder"],
            ["nose", "l_eye", "r_eye", "l_ear", "r_ear"], ["l_elbow"], ["l_wrist"],
            ["r_elbow"], ["r_wrist"], ["l_knee", "l_ankle"], ["r_knee", "r_ankle"]],
        1: [list(_COCO)],
    },
    center="nose",
    description="COCO-17 keypoints (2-D pose estimators)",
))  # fmt: skip

# FPHA (F-PHAB) hand: the dataset's own order -- the wrist, the five MCP joints, then each
# finger's PIP, DIP and tip (thumb, index, middle, ring, pinky).
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")
_FPHA = ("wrist", *(f"{f}_mcp" for f in _FINGERS),
         *(f"{f}_{p}" for f in _FINGERS for p in ("pip", "dip", "tip")))

register_layout(make_layout(
    "fpha21",
    _FPHA,
    [None, *(["wrist"] * 5),
     *(parent for f in _FINGERS for parent in (f"{f}_mcp", f"{f}_pip", f"{f}_dip"))],
    {
        # In the spirit of SHREC's 22 -> 11 (pairs of neighbouring joints along each finger):
        # the wrist alone, then per finger its base (MCP + PIP) and its end (DIP + tip).
        11: [["wrist"], *([f"{f}_{a}", f"{f}_{b}"] for f in _FINGERS
                          for a, b in (("mcp", "pip"), ("dip", "tip")))],
        1: [list(_FPHA)],
    },
    center="wrist",
    description="F-PHAB / FPHA hand (21 joints, the dataset's order)",
))  # fmt: skip

# UTD-MHAD: Kinect v1 joints in UTD's own order (Skeleton_joint_order.txt: head first), not the
# SDK order of kinect20; the same tree and 9-group scheme by name.
_UTD = (
    "head", "shoulder_center", "spine", "hip_center",
    "l_shoulder", "l_elbow", "l_wrist", "l_hand",
    "r_shoulder", "r_elbow", "r_wrist", "r_hand",
    "l_hip", "l_knee", "l_ankle", "l_foot",
    "r_hip", "r_knee", "r_ankle", "r_foot",
)  # fmt: skip

register_layout(make_layout(
    "utd20",
    _UTD,
    [_KINECT_V1_PARENT[j] for j in _UTD],
    {9: _KINECT_V1_GROUPS9, 1: [list(_UTD)]},
    center="spine",
    description="UTD-MHAD Kinect v1 skeleton, UTD's joint order (20 joints)",
))  # fmt: skip

# Penn Action: 13 annotated 2-D joints (no neck or pelvis joint: the shoulders hang off the
# head, each hip off the shoulder of its side).
_PENN = (
    "head", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)  # fmt: skip

register_layout(make_layout(
    "penn13",
    _PENN,
    [None, "head", "head", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
     "l_shoulder", "r_shoulder", "l_hip", "r_hip", "l_knee", "r_knee"],
    {
        # head, shoulders, each arm (elbow + wrist), hips, each leg (knee + ankle)
        7: [["head"], ["l_shoulder", "r_shoulder"], ["l_elbow", "l_wrist"], ["r_elbow", "r_wrist"],
            ["l_hip", "r_hip"], ["l_knee", "l_ankle"], ["r_knee", "r_ankle"]],
        1: [list(_PENN)],
    },
    center="head",
    description="Penn Action 2-D joints (13 joints)",
))  # fmt: skip

# MediaPipe Pose: its 33 landmarks in its own order (the person's left / right). No pelvis or neck
# landmark: the tree is rooted at the nose, the shoulders hang off it, each hip off the shoulder of
# its side (as coco17); hands (pinky / index / thumb) off the wrist, heel and toe off the ankle.
_MEDIAPIPE = (
    "nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer",
    "l_ear", "r_ear", "mouth_l", "mouth_r",
    "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "l_pinky", "r_pinky", "l_index", "r_index", "l_thumb", "r_thumb",
    "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    "l_heel", "r_heel", "l_foot_index", "r_foot_index",
)  # fmt: skip
_MP_FACE = ("nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer",
            "l_ear", "r_ear", "mouth_l", "mouth_r")

register_layout(make_layout(
    "mediapipe33",
    _MEDIAPIPE,
    [None, "nose", "l_eye_inner", "l_eye", "nose", "r_eye_inner", "r_eye",
     "l_eye_outer", "r_eye_outer", "nose", "nose",
     "nose", "nose", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
     "l_wrist", "r_wrist", "l_wrist", "r_wrist", "l_wrist", "r_wrist",
     "l_shoulder", "r_shoulder", "l_hip", "r_hip", "l_knee", "r_knee",
     "l_ankle", "r_ankle", "l_ankle", "r_ankle"],
    {
        # the NTU 9-group scheme: hips, shoulders, the face, each elbow, each wrist + hand, each leg
        9: [["l_hip", "r_hip"], ["l_shoulder", "r_shoulder"], list(_MP_FACE),
            ["l_elbow"], ["l_wrist", "l_pinky", "l_index", "l_thumb"],
            ["r_elbow"], ["r_wrist", "r_pinky", "r_index", "r_thumb"],
            ["l_knee", "l_ankle", "l_heel", "l_foot_index"],
            ["r_knee", "r_ankle", "r_heel", "r_foot_index"]],
        1: [list(_MEDIAPIPE)],
    },
    center="l_hip",
    description="MediaPipe Pose landmarks (33 joints; adasgn extract)",
))  # fmt: skip

# MediaPipe Hands: the wrist, then each finger from its base to its tip (thumb: CMC, MCP, IP, tip;
# the other fingers: MCP, PIP, DIP, tip).
_HAND = ("wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
         *(f"{f}_{p}" for f in _FINGERS[1:] for p in ("mcp", "pip", "dip", "tip")))

register_layout(make_layout(
    "hand21",
    _HAND,
    [None, *(p for k in range(5) for p in ("wrist", _HAND[1 + 4 * k], _HAND[2 + 4 * k],
                                           _HAND[3 + 4 * k]))],
    {
        # as fpha21: the wrist alone, then per finger its base (first two joints) and its end
        11: [["wrist"], *([_HAND[1 + 4 * k + 2 * h], _HAND[2 + 4 * k + 2 * h]]
                          for k in range(5) for h in (0, 1))],
        1: [list(_HAND)],
    },
    center="wrist",
    description="MediaPipe Hands landmarks (21 joints; adasgn extract --hands)",
))  # fmt: skip

# Leap Motion hand as SFINGE3D records it (20 joints): the palm centre, the thumb's three joints
# ending with its tip, then index, middle, ring and pinky with four joints each, ending with the
# tip (a = the finger's base, near the palm).
_LEAP_THUMB = ("thumb_a", "thumb_b", "thumb_tip")
_LEAP = ("palm", *_LEAP_THUMB,
         *(f"{f}_{p}" for f in _FINGERS[1:] for p in ("a", "b", "c", "tip")))

register_layout(make_layout(
    "leap20",
    _LEAP,
    [None, "palm", "thumb_a", "thumb_b",
     *(p for f in _FINGERS[1:] for p in ("palm", f"{f}_a", f"{f}_b", f"{f}_c"))],
    {
        # the palm with the thumb's base, the rest of the thumb, then per finger its base (first
        # two joints) and its end (as fpha21 / hand21 pair the joints along each finger)
        10: [["palm", "thumb_a"], ["thumb_b", "thumb_tip"],
             *([f"{f}_{a}", f"{f}_{b}"] for f in _FINGERS[1:] for a, b in (("a", "b"), ("c", "tip")))],
        1: [list(_LEAP)],
    },
    center="palm",
    description="Leap Motion hand (20 joints, SFINGE3D's order: palm, thumb 3, fingers 4 each)",
))  # fmt: skip
