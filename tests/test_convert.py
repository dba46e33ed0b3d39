"""Layout conversions (skeleton/convert.py): explicit correspondences, derived joints, chains,
clear errors for impossible conversions, missing joints, and the similarity alignment."""

import numpy as np
import pytest

from adasgn.skeleton import get_layout, make_layout, register_layout
from adasgn.skeleton.convert import (ConversionError, aligned_errors, conversion, convert,
                                     list_conversions, register_conversion, similarity_align)


def _rot(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


@pytest.mark.parametrize("pair", list_conversions())
def test_every_mapping_is_affine_and_covers_the_target(pair):
    c = conversion(*pair)
    src, dst = get_layout(pair[0]), get_layout(pair[1])
    assert c.matrix.shape == (dst.num_joints, src.num_joints)
    np.testing.assert_allclose(c.matrix.sum(1), 1.0, atol=1e-12)
    # translation-equivariant: shifting the source shifts the target the same way
    x = np.random.default_rng(0).normal(size=(4, src.num_joints, 3)) + 5.0
    np.testing.assert_allclose(c.apply(x + [1.0, -2.0, 0.5]), c.apply(x) + [1.0, -2.0, 0.5],
                               atol=1e-4)
    assert len(c.describe()) == dst.num_joints


def test_mediapipe_to_ntu25_correspondences_and_derived_joints():
    mp, ntu = get_layout("mediapipe33"), get_layout("ntu25")
    x = np.random.default_rng(1).normal(size=(33, 3)).astype(np.float32) + 2.0
    y = convert(x, "mediapipe33", "ntu25")
    for j in ("l_shoulder", "r_elbow", "l_wrist", "r_knee", "l_ankle", "r_thumb"):
        np.testing.assert_allclose(y[ntu.index(j)], x[mp.index(j)], atol=1e-6)
    hips = (x[mp.index("l_hip")] + x[mp.index("r_hip")]) / 2
    shoulders = (x[mp.index("l_shoulder")] + x[mp.index("r_shoulder")]) / 2
    np.testing.assert_allclose(y[ntu.index("spine_base")], hips, atol=1e-5)
    np.testing.assert_allclose(y[ntu.index("spine_shoulder")], shoulders, atol=1e-5)
    np.testing.assert_allclose(y[ntu.index("spine_mid")], hips + 0.57 * (shoulders - hips), atol=1e-5)
    np.testing.assert_allclose(y[ntu.index("head")],
                               (x[mp.index("l_ear")] + x[mp.index("r_ear")]) / 2, atol=1e-5)


def test_chains_compose_and_permutations_invert():
    c = conversion("mediapipe33", "kinect20")
    assert c.path == ("mediapipe33", "ntu25", "kinect20")
    np.testing.assert_allclose(c.matrix, conversion("ntu25", "kinect20").matrix
                               @ conversion("mediapipe33", "ntu25").matrix)
    assert conversion("mediapipe33", "penn13").path == ("mediapipe33", "coco17", "penn13")
    assert conversion("mediapipe33", "msr20").path[-1] == "msr20"
    x = np.random.default_rng(2).normal(size=(5, 21, 3)).astype(np.float32)
    np.testing.assert_allclose(convert(convert(x, "hand21", "fpha21"), "fpha21", "hand21"), x)
    np.testing.assert_allclose(convert(convert(x, "hand21", "shrec22"), "shrec22", "hand21"), x)
    # FPHA's thumb MCP is MediaPipe's thumb CMC; SHREC's palm the wrist / middle-base midpoint
    fp, hd, sh = get_layout("fpha21"), get_layout("hand21"), get_layout("shrec22")
    np.testing.assert_allclose(convert(x, "hand21", "fpha21")[:, fp.index("thumb_mcp")],
                               x[:, hd.index("thumb_cmc")])
    np.testing.assert_allclose(convert(x, "hand21", "shrec22")[:, sh.index("palm")],
                               (x[:, 0] + x[:, hd.index("middle_mcp")]) / 2, atol=1e-6)
    assert conversion("fpha21", "shrec22").path == ("fpha21", "hand21", "shrec22")
    np.testing.assert_array_equal(conversion("ntu25", "ntu25").matrix, np.eye(25))


@pytest.mark.parametrize("source, target", [("ntu25", "coco17"), ("ntu25", "mediapipe33"),
                                            ("coco17", "ntu25"), ("penn13", "coco17"),
                                            ("shrec22", "ntu25"), ("mediapipe33", "hand21")])
def test_impossible_conversions_fail_clearly(source, target):
    with pytest.raises(ConversionError, match=f"no mapping from {source} to {target}") as e:
        conversion(source, target)
    assert "maps to" in str(e.value) and "reached from" in str(e.value)


def test_missing_joints_propagate():
    x = np.random.default_rng(3).normal(size=(2, 33, 3)).astype(np.float32)
    mp, ntu = get_layout("mediapipe33"), get_layout("ntu25")
    x[0, mp.index("l_hip")] = 0.0  # missing in frame 0
    x[1] = 0.0  # an empty frame stays empty
    y = convert(x, "mediapipe33", "ntu25")
    for j in ("spine_base", "spine_mid", "l_hip", "r_hip"):
        assert not y[0, ntu.index(j)].any()
    assert y[0, ntu.index("l_elbow")].any() and y[0, ntu.index("head")].any()
    assert not y[1].any()


def test_bad_mappings_are_refused():
    with pytest.raises(ConversionError, match="already registered"):
        register_conversion("hand21", "fpha21", {})
    lay = register_layout(make_layout("conv_test3", ["a", "b", "c"], [None, "a", "b"]),
                          overwrite=True)
    with pytest.raises(ConversionError, match="target joints not given"):
        register_conversion("ntu25", lay.name, {"a": "head"})
    with pytest.raises(ConversionError, match="sum to 2"):
        register_conversion("ntu25", lay.name, {"a": "head", "b": "neck",
                                                "c": {"l_hip": 1.0, "r_hip": 1.0}})
    with pytest.raises(ConversionError, match="not a joint of ntu25"):
        register_conversion("ntu25", lay.name, {"a": "head", "b": "neck", "c": "nose"})
    with pytest.raises(ConversionError, match="expected"):
        conversion("ntu25", "kinect20").apply(np.zeros((3, 20, 3)))


def test_similarity_align_recovers_a_known_transform():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(50, 3))
    r = _rot([0.3, 1.0, -0.2], 0.8)
    b = 1.7 * a @ r.T + [0.5, -1.0, 2.0]
    s, rot, t = similarity_align(a, b)
    assert s == pytest.approx(1.7) and np.allclose(rot, r) and np.allclose(t, [0.5, -1.0, 2.0])
    err, _ = aligned_errors(a, b + rng.normal(scale=0.01, size=b.shape))
    assert err.mean() < 0.03
    # a mirror image is not a rotation: the proper-rotation fit leaves a large error
    err_m, (_, rot_m, _) = aligned_errors(a * [-1, 1, 1], a)
    assert np.linalg.det(rot_m) == pytest.approx(1.0) and err_m.mean() > 0.3
    s1, _, _ = similarity_align(a, b, scale=False)
    assert s1 == 1.0
