import pytest
import torch

from adasgn.models.flops import executed_flops, paper_macs, sequence_complexity
from adasgn.models import count_params, create_model
from adasgn.models.sgn import SGN, SpatialModule
from adasgn.skeleton import get_layout, list_layouts


def test_sgn_parameter_counts_exact():
    assert count_params(create_model("sgn", num_classes=60)) == 691_048
    assert count_params(create_model("sgn", num_classes=120)) == 721_828


@pytest.mark.parametrize(
    "joints, size, params",
    [(25, "big", 312_300), (25, "small", 147_308), (9, "big", 311_084), (9, "small", 146_092),
     (1, "big", 310_476), (1, "small", 145_484), (22, "big", 312_072), (11, "small", 146_244)],
)
def test_spatial_module_parameter_counts(joints, size, params):
    assert count_params(SpatialModule(joints, size)) == params


# spec 3.2: per-branch cost g[a] for NTU (25-joint layout) and SHREC (22)
BRANCH_GMACS = {
    ("small", 1): 0.002843696, ("big", 1): 0.006151216,
    ("small", 9): 0.025597872, ("big", 9): 0.055365552,
    ("small", 25): 0.071130800, ("big", 25): 0.153818800,
    ("small", 11): 0.031287696, ("big", 11): 0.067670416,
    ("small", 22): 0.062590880, ("big", 22): 0.135356320,
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(BRANCH_GMACS))
def test_branch_gmacs_equal_spec_table(key):
    size, v = key
    sm = SpatialModule(v, size)
    x = torch.randn(1, 20, v, 3)
    assert paper_macs(sm, lambda: sm(x, x)) / 1e9 == pytest.approx(BRANCH_GMACS[key], abs=1e-12)


# paper Table 1 (NTU-60 single models, code counter values from spec 3.3), within 0.5 %
TABLE1 = {("big", 25): 0.160846, ("big", 9): 0.062393, ("big", 1): 0.013178,
          ("small", 25): 0.078158, ("small", 9): 0.032625, ("small", 1): 0.009871}  # fmt: skip


@pytest.mark.parametrize("key", sorted(TABLE1))
def test_table1_single_models(key):
    size, joints = key
    model = create_model("single", layout="ntu25", joints=joints, size=size, num_classes=60)
    info = sequence_complexity(model)
    assert info["gmacs"] == pytest.approx(TABLE1[key], rel=5e-3)
    assert info["gmacs"] == pytest.approx(TABLE1[key], abs=1e-6)
    # joint transform adds V0 x V parameters to SGN-sized model
    base = {"big": 691_048, "small": 526_056}[size]
    sm_delta = count_params(SpatialModule(joints, size)) - count_params(SpatialModule(25, size))
    assert info["params"] == base + sm_delta + 25 * joints
    # executed FLOPs are a different (larger, 2 x MAC incl. matmuls) number
    assert info["gflops_executed"] > 2 * info["gmacs"] * 0.9


def test_sgn_gmacs_and_executed():
    info = sequence_complexity(create_model("sgn"))
    assert info["gmacs"] == pytest.approx(0.160846, abs=1e-6)
    # executed count includes the graph matmuls the paper ignores: 2 x (MACs of convs + matmuls)
    assert 0.30 < info["gflops_executed"] < 0.36


@pytest.mark.parametrize("layout", sorted(list_layouts()))
def test_every_layout_builds_sgn_and_runs(layout):
    lay = get_layout(layout)
    in_ch = 2 if layout == "coco17" else 3
    model = create_model("sgn", layout=lay.name, in_channels=in_ch, num_classes=7)
    x = torch.randn(3, in_ch, 20, lay.num_joints, 2)
    out, _ = model(x)
    assert out.shape == (3, 7) and torch.isfinite(out).all()
    model.eval()
    assert model(x[:1])[0].shape == (1, 7)


def test_empty_second_person_changes_neither_logits_nor_flops():
    model = create_model("sgn").eval()
    one = torch.randn(2, 3, 20, 25, 1)
    two = torch.cat([one, torch.zeros_like(one)], dim=-1)  # second slot all zero
    with torch.no_grad():
        f1, y1 = executed_flops(lambda: model(one)[0])
        f2, y2 = executed_flops(lambda: model(two)[0])
    torch.testing.assert_close(y1, y2)
    assert f1 == f2
    # the official behaviour (flag) computes and averages the empty slot: different on both counts
    official = SGN(skip_empty_persons=False).eval()
    official.load_state_dict(model.state_dict())
    with torch.no_grad():
        f3, y3 = executed_flops(lambda: official(two)[0])
    assert f3 > 1.95 * f1  # every per-sequence op twice (embeddings are computed once)
    assert not torch.allclose(y3, y1)


def test_two_real_persons_are_averaged():
    model = create_model("sgn").eval()
    a, b = torch.randn(1, 3, 20, 25, 1), torch.randn(1, 3, 20, 25, 1)
    with torch.no_grad():
        ya, yb, yab = model(a)[0], model(b)[0], model(torch.cat([a, b], -1))[0]
    torch.testing.assert_close(yab, (ya + yb) / 2, rtol=1e-5, atol=1e-5)


def test_all_empty_sample_still_gets_a_prediction():
    model = create_model("sgn").eval()
    with torch.no_grad():
        y, _ = model(torch.zeros(2, 3, 20, 25, 2))
    assert y.shape == (2, 60) and torch.isfinite(y).all()


def test_gcn_w_initialised_to_zero():
    model = create_model("sgn")
    for gcn in model.spatial.gcns:
        assert gcn.w.weight.abs().sum() == 0
        assert gcn.w1.weight.abs().sum() > 0


def test_bad_input_shape_message():
    model = create_model("sgn")
    with pytest.raises(ValueError, match=r"V=17 joints \(expected 25\)"):
        model(torch.randn(1, 3, 20, 17, 2))
    with pytest.raises(ValueError, match=r"C=2 coordinates"):
        model(torch.randn(1, 2, 20, 25, 2))


def test_sgn_overfits_tiny_batch():
    torch.manual_seed(1)
    model = create_model("sgn", num_classes=5, dropout=0.0)
    x = torch.randn(10, 3, 20, 25, 2)
    x[::2, ..., 1] = 0  # half the samples single-person
    y = torch.arange(10) % 5
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x)[0], y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x)[0].argmax(1) == y).float().mean().item()
    assert acc == 1.0
