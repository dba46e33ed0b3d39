"""Pipeline steps: sampling indices (spec 5.5 step 4), streams (spec 4.4), rotations, formatting."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adasgn.data.transforms import (
    OFFICIAL_BONE_SOURCES,
    TRANSFORMS,
    Compose,
    DropEmptyFrames,
    FormatInput,
    RandomRotation,
    RotNorm,
    Stream,
    UniformSample,
    bone_stream,
    build_pipeline,
    rotation_matrix,
    sample_indices,
    velocity_stream,
)
from adasgn.skeleton import get_layout


def _official_train(t, n, r):
    """The official formula written out with Python scalars, for a given draw r."""
    interval = t / n
    return [int(i * interval + r[i] / 10) for i in range(n)]


# ----------------------------------------------------------------------------- sampling


def test_sampling_exact_official_values():
    assert sample_indices(57, 20).tolist() == [
        0, 2, 5, 8, 11, 14, 17, 19, 22, 25, 28, 31, 34, 37, 39, 42, 45, 48, 51, 54]
    assert sample_indices(19, 20).tolist() == [0] + list(range(19))
    assert sample_indices(20, 20).tolist() == list(range(20))
    assert sample_indices(20, 20, train=True, rng=np.random.default_rng(0)).tolist() == list(range(20))
    assert sample_indices(1, 20, train=True, rng=np.random.default_rng(0)).tolist() == [0] * 20
    assert sample_indices(1, 20).tolist() == [0] * 20
    assert sample_indices(40, 20).tolist() == list(range(0, 40, 2))


@settings(max_examples=400, deadline=None)
@given(t=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
def test_sampling_properties(t, seed):
    test = sample_indices(t, 20, train=False)
    assert test.shape == (20,) and test.min() >= 0 and test.max() < t
    assert np.all(np.diff(test) >= 0)
    assert test.tolist() == [int(i * (t / 20)) for i in range(20)] or t == 20
    rng = np.random.default_rng(seed)
    train = sample_indices(t, 20, train=True, rng=rng)
    assert train.shape == (20,) and train.min() >= 0 and train.max() < t
    # one frame per segment: index i lies in [floor(i*interval), floor((i+1)*interval)] and the
    # draw reproduces the official formula exactly
    interval = t / 20
    hi = int(10 * interval)
    r = np.random.default_rng(seed).integers(0, hi, size=20) if (hi > 0 and t != 20) else [0] * 20
    assert train.tolist() == (list(range(20)) if t == 20 else _official_train(t, 20, r))
    for i, f in enumerate(train.tolist()):
        assert int(i * interval) <= f <= min(t - 1, int((i + 1) * interval))


def test_sampling_train_is_random_and_seedable():
    a = sample_indices(300, 20, True, np.random.default_rng(1))
    b = sample_indices(300, 20, True, np.random.default_rng(1))
    c = sample_indices(300, 20, True, np.random.default_rng(2))
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()


def test_uniform_sample_step_uses_sample_rng():
    kp = np.arange(57, dtype=np.float32).reshape(1, 57, 1, 1).repeat(3, -1)
    out = UniformSample(20, train=False)({"keypoint": kp.copy()})
    assert out["keypoint"][0, :, 0, 0].tolist() == sample_indices(57, 20).tolist()
    s1 = UniformSample(20, train=True)({"keypoint": kp.copy(), "rng": np.random.default_rng(5)})
    s2 = UniformSample(20, train=True)({"keypoint": kp.copy(), "rng": np.random.default_rng(5)})
    np.testing.assert_array_equal(s1["keypoint"], s2["keypoint"])


# ----------------------------------------------------------------------------- empty frames


def test_drop_empty_frames():
    kp = np.random.default_rng(0).normal(size=(2, 10, 25, 3)).astype(np.float32)
    kp[:, [0, 4, 9]] = 0
    kp[1, 5] = 0  # only one person empty: the frame stays
    out = DropEmptyFrames()({"keypoint": kp})
    assert out["keypoint"].shape == (2, 7, 25, 3)
    assert out["total_frames"] == 7
    allzero = DropEmptyFrames()({"keypoint": np.zeros((2, 5, 25, 3), np.float32)})
    assert allzero["keypoint"].shape == (2, 1, 25, 3)


# ----------------------------------------------------------------------------- streams


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 3), t=st.integers(1, 40), seed=st.integers(0, 1000),
       layout=st.sampled_from(["ntu25", "kinect20", "msr20", "shrec22", "coco17"]))
def test_bone_stream_shapes_and_values(m, t, seed, layout):
    lay = get_layout(layout)
    c = 2 if layout == "coco17" else 3
    kp = np.random.default_rng(seed).normal(size=(m, t, lay.num_joints, c)).astype(np.float32)
    out = bone_stream(kp, layout)
    assert out.shape == kp.shape and out.dtype == kp.dtype
    roots = [j for j, p in enumerate(lay.parents) if p < 0]
    assert np.all(out[..., roots, :] == 0)
    for child, parent in lay.bones:
        np.testing.assert_array_equal(out[..., child, :], kp[..., child, :] - kp[..., parent, :])
    # joints are recovered by summing bones up the tree (translation is lost)
    rec = np.zeros_like(kp)
    for j in range(lay.num_joints):
        k = j
        while lay.parents[k] >= 0:
            rec[..., j, :] += out[..., k, :]
            k = lay.parents[k]
    np.testing.assert_allclose(rec, kp - kp[..., roots[0]:roots[0] + 1, :], atol=1e-4)


def test_ntu_bones_follow_kinect_hierarchy():
    kp = np.random.default_rng(0).normal(size=(1, 4, 25, 3)).astype(np.float32)
    out = bone_stream(kp, "ntu25")
    np.testing.assert_array_equal(out[..., 23, :], kp[..., 23, :] - kp[..., 11, :])  # r tip - r hand
    np.testing.assert_array_equal(out[..., 24, :], kp[..., 24, :] - kp[..., 10, :])  # r thumb - wrist
    np.testing.assert_array_equal(out[..., 3, :], kp[..., 3, :] - kp[..., 2, :])  # head - neck
    assert np.all(out[..., 0, :] == 0)


def test_official_bone_mapping_is_the_spec_table():
    kp = np.random.default_rng(1).normal(size=(2, 5, 25, 3)).astype(np.float32)
    out = bone_stream(kp, "ntu25", official=True)
    zeros = [3, 15, 19, 21, 23]
    assert np.all(out[..., zeros, :] == 0)
    table = {0: 16, 1: 0, 2: 3, 7: 22, 11: 24, 20: 8, 22: 21, 24: 23}
    for j, s in table.items():
        np.testing.assert_array_equal(out[..., j, :], kp[..., j, :] - kp[..., s, :])
    assert len(OFFICIAL_BONE_SOURCES["ntu25"]) == 25
    with pytest.raises(ValueError, match="official bone"):
        bone_stream(np.zeros((1, 2, 20, 3), np.float32), "msr20", official=True)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 2), t=st.integers(1, 50), skip=st.integers(1, 3), seed=st.integers(0, 99))
def test_velocity_stream(m, t, skip, seed):
    kp = np.random.default_rng(seed).normal(size=(m, t, 25, 3)).astype(np.float32)
    out = velocity_stream(kp, skip)
    sub = kp[:, ::skip]
    assert out.shape == sub.shape
    assert np.all(out[:, -1] == 0)
    np.testing.assert_array_equal(out[:, :-1], sub[:, 1:] - sub[:, :-1])
    if skip == 1:
        assert out.shape == kp.shape


def test_stream_step_and_errors():
    kp = np.random.default_rng(0).normal(size=(1, 8, 25, 3)).astype(np.float32)
    assert Stream("joint")({"keypoint": kp.copy()})["keypoint"].tolist() == kp.tolist()
    assert Stream("velocity")({"keypoint": kp.copy()})["keypoint"].shape == kp.shape
    with pytest.raises(ValueError, match="unknown stream"):
        Stream("accel")
    with pytest.raises(ValueError, match="layout"):
        Stream("bone", layout="kinect20")({"keypoint": kp})


# ----------------------------------------------------------------------------- rotations


@settings(max_examples=200, deadline=None)
@given(ax=st.integers(-17, 17), ay=st.integers(-17, 17), az=st.integers(-17, 17))
def test_rotation_matrix_orthonormal_and_official_convention(ax, ay, az):
    r = rotation_matrix(ax, ay, az)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert abs(np.linalg.det(r) - 1) < 1e-12
    # R = Rz Ry Rx with the spec's matrices, written out independently
    x, y, z = (math.radians(a) for a in (ax, ay, az))
    rx = np.array([[1, 0, 0], [0, math.cos(x), math.sin(x)], [0, -math.sin(x), math.cos(x)]])
    ry = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(z), math.sin(z), 0], [-math.sin(z), math.cos(z), 0], [0, 0, 1]])
    np.testing.assert_allclose(r, rz @ ry @ rx, atol=1e-12)
    # the total rotation angle is bounded by the sum of the three angles
    angle = math.degrees(math.acos(np.clip((np.trace(r) - 1) / 2, -1, 1)))
    assert angle <= abs(ax) + abs(ay) + abs(az) + 1e-6


def test_random_rotation_integer_degrees_within_17_and_row_vector_convention():
    kp = np.random.default_rng(0).normal(size=(2, 20, 25, 3)).astype(np.float32)
    rng = np.random.default_rng(123)
    seen = set()
    for _ in range(300):
        s = RandomRotation(17)({"keypoint": kp.copy(), "rng": rng})
        ax, ay, az = s["rotation_deg"]
        assert all(isinstance(a, int) and -17 <= a <= 17 for a in (ax, ay, az))
        seen.update((ax, ay, az))
        r = rotation_matrix(ax, ay, az)
        np.testing.assert_allclose(s["keypoint"], kp @ r, atol=1e-5)  # p -> p . R
        # lengths preserved (no scaling), zero stays zero (no translation)
        np.testing.assert_allclose(np.linalg.norm(s["keypoint"], axis=-1),
                                   np.linalg.norm(kp, axis=-1), rtol=1e-5)
    assert min(seen) == -17 and max(seen) == 17  # the inclusive range is used
    z = RandomRotation(17)({"keypoint": np.zeros((1, 3, 25, 3), np.float32),
                            "rng": np.random.default_rng(0)})
    assert np.all(z["keypoint"] == 0)


def test_rot_norm_aligns_spine_with_z_and_shoulder_side_with_x():
    rng = np.random.default_rng(0)
    kp = rng.normal(size=(2, 6, 25, 3)).astype(np.float32)
    out = RotNorm("ntu25")({"keypoint": kp.copy()})["keypoint"]
    f = out[0, 0]
    v = f[20] - f[0]
    np.testing.assert_allclose(v[:2], 0, atol=1e-5)
    assert v[2] > 0
    w = f[5] - f[20]
    assert abs(w[1]) < 1e-5 and w[0] > 0
    # a rigid rotation of everything: pairwise distances kept, person 1 rotated the same way
    np.testing.assert_allclose(np.linalg.norm(out[1, 3, 4] - out[0, 2, 7]),
                               np.linalg.norm(kp[1, 3, 4] - kp[0, 2, 7]), rtol=1e-5)


# ----------------------------------------------------------------------------- format + compose


def test_format_input_pads_and_truncates_persons():
    kp = np.random.default_rng(0).normal(size=(1, 20, 25, 3)).astype(np.float32)
    x = FormatInput(2)({"keypoint": kp})["input"]
    assert x.shape == (3, 20, 25, 2) and x.dtype == np.float32
    assert np.all(x[..., 1] == 0)
    np.testing.assert_array_equal(x[..., 0], kp[0].transpose(2, 0, 1))
    kp3 = np.random.default_rng(1).normal(size=(3, 20, 25, 3)).astype(np.float64)
    x = FormatInput(2)({"keypoint": kp3})["input"]
    assert x.shape == (3, 20, 25, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 1], kp3[1].transpose(2, 0, 1), rtol=1e-6)


def test_build_pipeline_from_config_end_to_end():
    cfg = [
        {"type": "DropEmptyFrames"},
        {"type": "Stream", "kind": "bone", "layout": "ntu25"},
        {"type": "UniformSample", "num_frames": 20, "train": True},
        {"type": "RandomRotation", "degrees": 17},
        {"type": "FormatInput", "num_persons": 2},
    ]
    pipe = build_pipeline(cfg)
    assert isinstance(pipe, Compose) and len(pipe) == 5
    assert {"DropEmptyFrames", "Stream", "UniformSample", "RotNorm", "RandomRotation",
            "FormatInput"} <= set(TRANSFORMS)
    for t in (1, 7, 19, 20, 57, 300):
        kp = np.random.default_rng(t).normal(size=(1, t, 25, 3)).astype(np.float32)
        x = pipe({"keypoint": kp, "rng": np.random.default_rng(0)})["input"]
        assert x.shape == (3, 20, 25, 2) and np.isfinite(x).all()
        assert np.all(x[..., 1] == 0)
    with pytest.raises(KeyError, match="unknown pipeline step"):
        build_pipeline([{"type": "Nope"}])
    with pytest.raises(TypeError, match="UniformSample"):
        build_pipeline([{"type": "UniformSample", "frames": 3}])


# ----------------------------------------------------------------------------- augmentations


def test_mirror_pairs_come_from_the_joint_names():
    msr = get_layout("msr20")
    names = {(msr.joints[a], msr.joints[b]) for a, b in msr.mirror_pairs}
    assert ("l_hand", "r_hand") in names and ("l_hip", "r_hip") in names and len(names) == 8
    assert get_layout("fpha21").mirror_pairs == ()  # a hand has no left / right joints
    mp = get_layout("mediapipe33")
    assert (mp.index("mouth_l"), mp.index("mouth_r")) in mp.mirror_pairs  # x_l / x_r names too


@pytest.mark.parametrize("layout", ["msr20", "utd20", "ntu25", "penn13"])
def test_mirror_twice_is_identity_and_commutes_with_bones(layout):
    lay = get_layout(layout)
    c = 2 if layout == "penn13" else 3
    kp = np.random.default_rng(1).normal(size=(1, 12, lay.num_joints, c)).astype(np.float32)
    mirror = build_pipeline([{"type": "RandomMirror", "layout": layout, "p": 1.0}])
    once = mirror({"keypoint": kp.copy()})["keypoint"]
    assert not np.allclose(once, kp)
    np.testing.assert_array_equal(mirror({"keypoint": once.copy()})["keypoint"], kp)
    # the layout is left-right symmetric, so mirroring the bones = the bones of the mirror image
    np.testing.assert_allclose(bone_stream(once, layout),
                               mirror({"keypoint": bone_stream(kp, layout)})["keypoint"], atol=1e-6)


def test_mirror_probability_and_seeding():
    kp = np.random.default_rng(0).normal(size=(1, 5, 20, 3)).astype(np.float32)
    step = build_pipeline([{"type": "RandomMirror", "layout": "msr20", "p": 0.5}])
    flips = [step({"keypoint": kp.copy(), "rng": np.random.default_rng(s)})["mirrored"] for s in range(400)]
    assert 0.4 < np.mean(flips) < 0.6
    again = [step({"keypoint": kp.copy(), "rng": np.random.default_rng(s)})["mirrored"] for s in range(400)]
    assert flips == again


def test_temporal_crop_keeps_a_contiguous_part_within_the_ratio():
    kp = np.arange(100, dtype=np.float32).reshape(1, 100, 1, 1) * np.ones((1, 1, 3, 3), np.float32)
    step = build_pipeline([{"type": "TemporalCrop", "min_ratio": 0.5}])
    lengths = []
    for s in range(200):
        out = step({"keypoint": kp.copy(), "rng": np.random.default_rng(s)})
        f = out["keypoint"][0, :, 0, 0]
        assert np.all(np.diff(f) == 1) and 50 <= len(f) <= 100
        lengths.append(len(f))
    assert min(lengths) < 60 and max(lengths) > 90
    one = step({"keypoint": kp[:, :1].copy()})["keypoint"]  # a one-frame sequence survives
    assert one.shape[1] == 1
    with pytest.raises(ValueError, match="min_ratio"):
        build_pipeline([{"type": "TemporalCrop", "min_ratio": 0}])


def test_scale_and_shear_work_in_2d():
    kp = np.random.default_rng(0).normal(size=(1, 8, 13, 2)).astype(np.float32)
    for step in ({"type": "RandomScale", "scale": 0.2}, {"type": "RandomShear", "shear": 0.2}):
        out = build_pipeline([step])({"keypoint": kp.copy(), "rng": np.random.default_rng(3)})
        assert out["keypoint"].shape == kp.shape and not np.allclose(out["keypoint"], kp)


def test_augment_names_build_steps_in_order_for_training_only():
    from adasgn.data.dataset import augment_steps, default_pipeline
    steps = default_pipeline("msr", "bone", True, augment=["shear:0.2", "crop", "mirror", "rotate:5"])
    types = [s["type"] for s in steps]
    assert types == ["DropEmptyFrames", "TemporalCrop", "Stream", "UniformSample", "RandomMirror",
                     "RandomRotation", "RandomShear", "FormatInput"]
    assert steps[5]["degrees"] == 5 and steps[6]["shear"] == 0.2
    test = default_pipeline("msr", "bone", False, augment=["crop", "mirror"])
    assert [s["type"] for s in test] == ["DropEmptyFrames", "Stream", "UniformSample", "FormatInput"]
    # None keeps each dataset's default (NTU: rotation), [] switches it off
    assert "RandomRotation" in [s["type"] for s in default_pipeline("ntu60", "joint", True)]
    assert "RandomRotation" not in [s["type"] for s in default_pipeline("ntu60", "joint", True, augment=[])]
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        augment_steps(["flip"], "msr20")
    with pytest.raises(ValueError, match="must be a number"):
        augment_steps(["scale:big"], "msr20")
