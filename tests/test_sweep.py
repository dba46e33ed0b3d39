"""Sweeps in the style of timm: every registered model on every registered layout, and every
registered pipeline step, through the one contract each keeps."""

import numpy as np
import pytest
import torch

from adasgn.data.transforms import TRANSFORMS, build_pipeline
from adasgn.models import ForwardInfo, SpatialModule, create_model, list_models
from adasgn.skeleton import get_layout, list_layouts

N, C, T, M = 3, 3, 20, 2


pytestmark = pytest.mark.usefixtures("one_thread")


def _input(layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, C, T, get_layout(layout).num_joints, M, generator=g)
    x[1, ..., 1] = 0  # an empty second person
    return x


@pytest.mark.parametrize("layout", sorted(list_layouts()))
@pytest.mark.parametrize("name", list_models())
def test_every_model_on_every_layout(name, layout):
    torch.manual_seed(0)
    model = create_model(name, layout=layout, num_classes=5, in_channels=C, num_frames=T)
    # the contract's attributes
    lay = get_layout(layout)
    assert (model.num_joints, model.num_classes, model.in_channels, model.num_frames) == \
        (lay.num_joints, 5, C, T)
    assert model.gmacs_fixed > 0
    x = _input(layout)

    # eval: (logits, info) with the same info fields for every model
    model.eval()
    with torch.no_grad():
        logits, info = model(x)
    assert isinstance(info, ForwardInfo)
    assert logits.shape == (N, 5) and torch.isfinite(logits).all()
    assert info.gmacs.shape == (N,) and info.gmacs.dtype == torch.float64
    assert (info.gmacs >= model.gmacs_fixed - 1e-12).all()
    assert info.present.tolist() == [[True, True], [True, False], [True, True]]
    if model.choices:
        assert info.decisions.shape == (N, M, T)
        assert (info.decisions[1, 1] == -1).all()  # the empty slot is not computed
        usage = model.usage(info.decisions, info.present)
        assert set(usage) == set(model.choice_names) and sum(usage.values()) == pytest.approx(1)
    else:
        assert info.decisions is None and model.usage(None, info.present) == {}
        torch.testing.assert_close(info.gmacs, torch.full((N,), model.gmacs_fixed,
                                                          dtype=torch.float64))

    # training: forward and backward; every parameter receives a gradient. SGN's GCN weights W
    # start at zero (spec 1.6), which gates the graph's gradient at step 0: give them a value
    with torch.no_grad():
        for p in model.parameters():
            if not p.abs().sum() > 0:
                p.normal_(0.0, 0.01)
    model.train()
    model.zero_grad()
    logits, info = model(x)
    logits.square().mean().backward()
    if model.choices:  # branches nobody chose get no gradient: force every choice once more
        a = model.num_choices
        forced = (torch.arange(N * M * T) % a).view(N, M, T)
        logits, _ = model(x, decisions=forced)
        logits.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # the one exception: the adaptive graph of a 1-joint branch is a softmax over one joint, the
    # constant 1, so its theta / phi never receive a gradient (they exist and are counted in the
    # official model too; docs/adasgn.md)
    one_joint = {f"{n}.graph." for n, m in model.named_modules()
                 if isinstance(m, SpatialModule) and m.num_joints == 1}
    missing = [n for n in missing if not any(n.startswith(p) for p in one_joint)]
    assert not missing, f"{name} on {layout}: no gradient for {missing}"


def _sample(seed=0, frames=30):
    rng = np.random.default_rng(seed)
    kp = rng.normal(size=(2, frames, 25, 3)).astype(np.float32)
    kp[:, 3] = 0  # an empty frame
    kp[1, 10:] = 0  # the second person leaves
    return {"keypoint": kp, "label": 1, "rng": np.random.default_rng([seed, 0, 0])}


def _check_drop(before, after):
    assert after["keypoint"].shape[1] == before["keypoint"].shape[1] - 1


def _check_stream(before, after):
    np.testing.assert_array_equal(after["keypoint"], before["keypoint"])  # kind=joint


def _check_sample(before, after):
    assert after["keypoint"].shape[1] == 20 and len(after["frame_inds"]) == 20


def _check_rotnorm(before, after):
    k0, k1 = before["keypoint"], after["keypoint"]
    assert k1.shape == k0.shape and not np.allclose(k0, k1)
    # a rotation (plus a shift): distances between joints of a frame are kept
    d0 = np.linalg.norm(k0[0, 0, 1] - k0[0, 0, 20])
    d1 = np.linalg.norm(k1[0, 0, 1] - k1[0, 0, 20])
    assert d1 == pytest.approx(d0, rel=1e-4)


def _check_rotation(before, after):
    k0, k1 = before["keypoint"], after["keypoint"]
    np.testing.assert_allclose(np.linalg.norm(k1, axis=-1), np.linalg.norm(k0, axis=-1),
                               rtol=1e-4, atol=1e-5)


def _check_normalize(before, after):
    k0, k1 = before["keypoint"], after["keypoint"]
    assert k1.shape == k0.shape
    np.testing.assert_array_equal(k1[:, 3], 0)  # empty frames / slots stay empty
    np.testing.assert_array_equal(k1[1, 10:], 0)
    keep = [t for t in range(k0.shape[1]) if t != 3]
    np.testing.assert_allclose(k1[0, keep, 1], 0, atol=1e-6)  # every frame on its own centre
    np.testing.assert_allclose(k1[0, 5] - k1[0, 5, 7], k0[0, 5] - k0[0, 5, 7], atol=1e-5)


def _check_scale(before, after):
    ratio = after["keypoint"][0, 0, 0] / before["keypoint"][0, 0, 0]
    assert np.all((ratio >= 0.9 - 1e-6) & (ratio <= 1.1 + 1e-6)) and not np.allclose(ratio, 1)
    np.testing.assert_allclose(after["keypoint"] / np.where(before["keypoint"] == 0, 1, before["keypoint"]),
                               np.broadcast_to(ratio, before["keypoint"].shape) * (before["keypoint"] != 0),
                               rtol=1e-4, atol=1e-6)  # one factor per axis for every joint


def _check_shear(before, after):
    k0, k1 = before["keypoint"].reshape(-1, 3), after["keypoint"].reshape(-1, 3)
    s, *_ = np.linalg.lstsq(k0.astype(np.float64), k1.astype(np.float64), rcond=None)
    np.testing.assert_allclose(np.diag(s), 1, atol=1e-4)  # a linear map with unit diagonal
    assert np.abs(s - np.eye(3)).max() <= 0.1 + 1e-4 and not np.allclose(s, np.eye(3))


def _check_mirror(before, after):
    k0, k1 = before["keypoint"], after["keypoint"]
    if not after["mirrored"]:
        np.testing.assert_array_equal(k1, k0)
        return
    lay = get_layout("ntu25")
    for a, b in lay.mirror_pairs:  # the left hand lands where the right hand was, x negated
        np.testing.assert_array_equal(k1[..., a, 0], -k0[..., b, 0])
        np.testing.assert_array_equal(k1[..., a, 1:], k0[..., b, 1:])


def _check_crop(before, after):
    start, n = after["crop"]
    assert 0.8 * 30 - 1 <= n <= 30
    np.testing.assert_array_equal(after["keypoint"], before["keypoint"][:, start:start + n])


def _check_format(before, after):
    assert after["input"].shape == (3, 30, 25, 2)


CHECKS = {
    "DropEmptyFrames": ({}, _check_drop),
    "Stream": ({"kind": "joint", "layout": "ntu25"}, _check_stream),
    "UniformSample": ({"num_frames": 20, "train": True}, _check_sample),
    "RotNorm": ({"layout": "ntu25"}, _check_rotnorm),
    "RandomRotation": ({"degrees": 17}, _check_rotation),
    "FormatInput": ({"num_persons": 2}, _check_format),
    "Normalize": ({"mode": "frame", "layout": "ntu25"}, _check_normalize),
    "RandomScale": ({"scale": 0.1}, _check_scale),
    "RandomShear": ({"shear": 0.1}, _check_shear),
    "RandomMirror": ({"layout": "ntu25", "p": 1.0}, _check_mirror),
    "TemporalCrop": ({"min_ratio": 0.8}, _check_crop),
}


def test_every_registered_step_has_a_check():
    assert set(TRANSFORMS) == set(CHECKS), "a pipeline step without a sweep check"


@pytest.mark.parametrize("step", sorted(TRANSFORMS))
def test_every_pipeline_step_runs(step):
    kwargs, check = CHECKS[step]
    before = _sample()
    frozen = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in before.items()}
    after = build_pipeline([{"type": step, **kwargs}])(before)
    out = after.get("input", after["keypoint"])
    assert out.dtype == np.float32 and np.isfinite(out).all()
    check(frozen, after)
