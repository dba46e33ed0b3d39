"""AdaSGN: parameters, paper GMACs, masked == grouped, executed FLOPs, gradients, training shape."""

import functools
import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adasgn.cli import main
from adasgn.models.flops import executed_flops
from adasgn.models.losses import (
    AdaSGNLoss,
    choice_fractions,
    efficiency_loss,
    label_smoothing_cross_entropy,
    warmed_alpha,
)
from adasgn.models import count_params, create_model
from adasgn.models.adasgn import (
    FOLDED_MAX_FRAMES,
    ActionUsage,
    AdaSGN,
    freeze_pretrained,
    load_singles,
    straight_through_gumbel,
)
from adasgn.models.single import SingleSGN

# spec 3.2: g[a] per choice (NTU), S-1, B-1, S-9, B-9, S-25, B-25
SPEC_G = [0.002843696, 0.006151216, 0.025597872, 0.055365552, 0.071130800, 0.153818800]
SPEC_FIXED = 0.009922216


def randomize(model: AdaSGN, seed: int = 0) -> AdaSGN:
    """Make every computation matter: non-zero GCN W, perturbed matrices, random BN statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))
    return model


@functools.lru_cache(maxsize=None)
def eval_model(policy: str = "tconv") -> AdaSGN:
    torch.manual_seed(1)
    return randomize(AdaSGN(num_classes=60, policy=policy)).eval()


# ------------------------------------------------------------------ parameters and GMACs


def test_parameter_count_exact_and_breakdown():
    m = create_model("adasgn", num_classes=60)
    assert count_params(m) == 1_757_856
    assert count_params(m.spatials) == 1_372_744
    assert count_params(m.transforms) == 25 + 25 + 225 + 225 + 625 + 625
    assert count_params(m.temporal) == 347_968
    assert count_params(m.head) == 30_780
    assert count_params(m.policy) == 4_614
    assert [c.name for c in m.choices] == ["S-1", "B-1", "S-9", "B-9", "S-25", "B-25"]


@pytest.mark.parametrize("dataset, params", [("ntu120", 1_788_636), ("shrec14", 1_733_852),
                                             ("shrec28", 1_741_034)])
def test_parameter_counts_other_datasets(dataset, params):
    from adasgn.data.presets import get_preset

    p = get_preset(dataset)
    m = AdaSGN(num_classes=p.num_classes, layout=p.layout)
    assert count_params(m) == params


def test_per_choice_gmacs_and_table3_formula():
    m = AdaSGN()
    assert [c.gmacs for c in m.choices] == pytest.approx(SPEC_G, abs=1e-12)
    assert m.gmacs_fixed == pytest.approx(SPEC_FIXED, abs=1e-12)
    # paper Table 3, CS alpha = 4: 48.36 % S-1, 16.47 % B-9, 35.14 % B-25 -> 0.0731 G
    assert m.expected_gmacs([0.4836, 0, 0, 0.1647, 0, 0.3514]) == pytest.approx(0.0731, abs=5e-5)
    assert m.expected_gmacs([0, 0, 0, 0, 0, 1]) == pytest.approx(0.1637, abs=5e-5)
    assert m.expected_gmacs([1 / 6] * 6) == pytest.approx(0.0620, abs=1e-4)  # "rand" row
    assert m.expected_gmacs([1] * 6) == pytest.approx(0.3220, abs=5e-5)  # "fuse" row (formula)
    fuse = AdaSGN(policy="fuse")  # the baseline itself has no policy network to pay for
    assert fuse.gmacs_fixed == pytest.approx(0.00698624 + sum(SPEC_G), abs=1e-12)
    shrec = AdaSGN(layout="shrec22", num_classes=14)
    assert [c.name for c in shrec.choices] == ["S-1", "B-1", "S-11", "B-11", "S-22", "B-22"]
    assert shrec.choices[5].gmacs == pytest.approx(0.135356320, abs=1e-12)


def test_realised_gmacs_per_sample_follow_decisions():
    m = eval_model()
    x = torch.randn(3, 3, 20, 25, 2)
    x[1, ..., 1] = 0  # sample 1 has one person
    dec = torch.zeros(3, 2, 20, dtype=torch.long)
    dec[0, 0, :10] = 5  # person 0: half B-25; person 1: all S-1
    dec[1, 0] = 3  # all B-9 (the empty slot's decisions are ignored)
    dec[2] = 5
    with torch.no_grad():
        _, info = m(x, decisions=dec)
    expect = [SPEC_FIXED + 0.5 * SPEC_G[5] / 2, SPEC_FIXED + SPEC_G[3], SPEC_FIXED + SPEC_G[5]]
    assert info.gmacs.tolist() == pytest.approx(expect, abs=1e-12)
    assert info.present.tolist() == [[True, True], [True, False], [True, True]]
    assert (info.decisions[1, 1] == -1).all() and (info.decisions[1, 0] == 3).all()


def test_complexity_cli_json(capsys):
    assert main(["complexity", "--model", "adasgn", "--dataset", "ntu60", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == 1_757_856
    assert [c["name"] for c in info["choices"]] == ["S-1", "B-1", "S-9", "B-9", "S-25", "B-25"]
    assert [c["gmacs"] for c in info["choices"]] == pytest.approx(SPEC_G, abs=1e-12)
    assert info["gmacs"] == pytest.approx(SPEC_FIXED + SPEC_G[5], abs=1e-12)
    assert info["gmacs_fixed"] == pytest.approx(SPEC_FIXED, abs=1e-12)
    assert info["gmacs_fuse"] == pytest.approx(0.3220, abs=5e-5)
    # grouped executes (S-1 + B-25 + ...) much less than the official all-branches computation
    assert info["gflops_executed"] < 0.6 * info["gflops_executed_masked"]
    assert main(["complexity", "--model", "adasgn", "--dataset", "ntu60"]) == 0
    out = capsys.readouterr().out
    assert "1,757,856" in out and "B-25" in out and "0.153818800" in out


# ------------------------------------------------------------------ masked == grouped


def _compare(m, x, dec):
    """grouped == masked; and the folded branch kernels of inference mode == masked too."""
    with torch.no_grad():
        lg, ig = m(x, mode="grouped", decisions=dec)
        lm, im = m(x, mode="masked", decisions=dec)
    with torch.inference_mode():
        lf, if_ = m(x, mode="grouped", decisions=dec)
    assert torch.equal(ig.decisions, im.decisions) and torch.equal(if_.decisions, im.decisions)
    assert torch.equal(ig.gmacs, im.gmacs) and torch.equal(if_.gmacs, im.gmacs)
    diff = max((lg - lm).abs().max().item(), (lf - lm).abs().max().item())
    assert diff < 1e-5, diff
    return diff


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 3), m=st.integers(1, 3), seed=st.integers(0, 2**31 - 1),
       allowed=st.sets(st.integers(0, 5), min_size=1, max_size=6), empty=st.data())
def test_masked_equals_grouped_random_decisions(n, m, seed, allowed, empty):
    model = eval_model()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 20, 25, m, generator=g)
    slots = empty.draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))
    for k, is_empty in enumerate(slots):  # all-zero person slots (whole samples too)
        if is_empty:
            x[k // m, ..., k % m] = 0
    allowed = torch.tensor(sorted(allowed))  # choices outside it are empty branches
    dec = allowed[torch.randint(len(allowed), (n, m, 20), generator=g)]
    _compare(model, x, dec)


@pytest.mark.parametrize("policy", ["tconv", "tconv2", "lstm", "transformer"])
def test_masked_equals_grouped_with_the_policy_deciding(policy):
    model = eval_model(policy)
    x = torch.randn(4, 3, 20, 25, 2)
    x[2, ..., 1] = 0
    with torch.no_grad():
        lg, ig = model(x)  # eval default: grouped, argmax
        lm, im = model(x, mode="masked")
    assert ig.mode == "grouped" and im.mode == "masked"
    assert torch.equal(ig.decisions, im.decisions)
    assert (lg - lm).abs().max().item() < 1e-5


@pytest.mark.parametrize("choice", range(6))
def test_fast_path_one_branch_for_every_frame(choice):
    x = torch.randn(2, 3, 20, 25, 1)
    _compare(eval_model(), x, choice)


def test_batch_one_and_per_sequence_decisions():
    model = eval_model()
    x = torch.randn(1, 3, 20, 25, 2)
    _compare(model, x, torch.tensor([[1, 4]]))  # (N, M): one choice per person sequence
    _compare(model, x, torch.tensor([3]))  # (N,)
    _compare(model, x, torch.arange(20).remainder(6).view(1, 20))  # (N, T)
    x[0, ..., 1] = 0
    _compare(model, x, torch.arange(40).remainder(6).view(2, 20))  # (N*M, T)


def test_baselines_rand_and_fuse():
    fuse = eval_model("fuse")
    x = torch.randn(2, 3, 20, 25, 1)
    with torch.no_grad():
        lg, ig = fuse(x)
        lm, im = fuse(x, mode="masked")
    with torch.inference_mode():
        lf, _ = fuse(x)
    assert (lg - lm).abs().max() < 1e-5 and (lf - lm).abs().max() < 1e-5
    assert (ig.decisions == -1).all() and ig.gmacs.tolist() == pytest.approx([fuse.gmacs_fixed] * 2)
    rand = eval_model("rand")
    assert rand.policy is None and count_params(rand) == 1_757_856 - 4_614
    with torch.no_grad():
        _, i1 = rand(torch.randn(64, 3, 20, 25, 1))
    frac = torch.bincount(i1.decisions.flatten(), minlength=6).float() / i1.decisions.numel()
    assert (frac - 1 / 6).abs().max() < 0.04  # uniform
    _compare(rand, x, torch.randint(6, (2, 1, 20)))


def test_policy_fix_init_starts_on_full_big():
    m = AdaSGN(policy_init="fix").eval()
    with torch.no_grad():
        _, info = m(torch.randn(2, 3, 20, 25, 2))
    assert (info.decisions == 5).all()


def test_policy_zero_init_explores_every_branch_in_training():
    m = AdaSGN(policy_init="zero").train()
    torch.manual_seed(0)
    _, info = m(torch.randn(64, 3, 20, 25, 1))
    frac = torch.bincount(info.decisions.flatten(), minlength=6).float() / info.decisions.numel()
    assert (frac - 1 / 6).abs().max() < 0.04  # all logits 0: the Gumbel noise alone decides
    with pytest.raises(ValueError, match="'random', 'fix' or 'zero'"):
        AdaSGN(policy_init="ones")


def test_explore_epochs_draw_uniform_branches_then_the_policy_decides():
    m = AdaSGN(policy_init="fix", explore_epochs=3).train()  # fix: the policy alone says B-25
    x = torch.randn(64, 3, 20, 25, 1)
    m.set_epoch(2)
    _, info = m(x)
    frac = torch.bincount(info.decisions.flatten(), minlength=6).float() / info.decisions.numel()
    assert (frac - 1 / 6).abs().max() < 0.04
    m.set_epoch(3)  # exploration over: the (fixed) policy's choice again, Gumbel noise aside
    _, info = m(x)
    assert (info.decisions == 5).float().mean() > 0.3
    m.eval()
    m.set_epoch(0)  # evaluation never explores
    with torch.no_grad():
        _, info = m(x)
    assert (info.decisions == 5).all()


# ------------------------------------------------------------------ executed FLOPs


def test_grouped_executes_flops_in_proportion_to_decisions():
    m = eval_model()
    n, t = 2, 20
    x = torch.randn(n, 3, t, 25, 1)

    def flops(dec, mode="grouped"):
        with torch.no_grad():
            return executed_flops(lambda: m(x, mode=mode, decisions=dec))[0]

    base = flops(0)  # S-1 (policy branch) + policy + temporal + head
    full = [flops(a) for a in range(6)]
    assert full[0] == base and all(f > base for f in full[1:])
    dec = torch.randint(6, (n, 1, t), generator=torch.Generator().manual_seed(3))
    share = torch.bincount(dec.flatten(), minlength=6).double() / dec.numel()
    expect = base + sum(float(share[a]) * (full[a] - base) for a in range(1, 6))
    got = flops(dec)
    assert got == pytest.approx(expect, rel=0.01)
    masked = flops(dec, "masked")  # every branch on every frame
    assert masked == pytest.approx(base + sum(f - base for f in full[1:]), rel=0.01)
    assert got < 0.5 * masked
    # the realistic alpha=4 mix executes less than half of the all-B-25 model
    mix = torch.tensor([0] * 10 + [3] * 3 + [5] * 7).expand(n, 1, t)
    assert flops(mix) < 0.55 * full[5]


def test_folded_kernels_follow_weight_changes_and_large_batches_use_the_modules():
    torch.manual_seed(2)
    m = randomize(AdaSGN(num_classes=10), seed=2).eval()
    x = torch.randn(2, 3, 20, 25, 1)
    dec = torch.randint(6, (2, 1, 20), generator=torch.Generator().manual_seed(5))

    def both():
        with torch.no_grad():
            ref = m(x, decisions=dec)[0]
        with torch.inference_mode():
            got = m(x, decisions=dec)[0]
        assert (got - ref).abs().max() < 1e-5
        return got

    before = both()
    kernels = m.folded_branches()
    assert kernels is m.folded_branches()  # cached while the weights are unchanged
    # an optimizer step (in-place update) refolds
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    logits, _ = m(x)
    label_smoothing_cross_entropy(logits, torch.tensor([1, 2])).backward()
    opt.step()
    m.eval()
    after = both()
    assert (after - before).abs().max() > 1e-4 and m.folded_branches() is not kernels
    # load_state_dict (copies in place) refolds too
    other = randomize(AdaSGN(num_classes=10), seed=7).eval()
    m.load_state_dict(other.state_dict())
    loaded = both()
    with torch.no_grad():
        assert (loaded - other(x, decisions=dec)[0]).abs().max() < 1e-5
    # .to() drops the kernels
    m.to(torch.float32)
    assert m._folded is None
    # beyond FOLDED_MAX_FRAMES person-frames the modules run (same result either way)
    big = torch.randn(FOLDED_MAX_FRAMES // 20 + 1, 3, 20, 25, 1)
    m._folded = None
    with torch.inference_mode():
        m(big)
    assert m._folded is None
    with torch.inference_mode():
        m(big[:FOLDED_MAX_FRAMES // 20])
    assert m._folded is not None


def test_grouped_under_bf16_autocast_matches_masked():
    """The evaluation of a `train.amp: bf16` run: grouped AdaSGN under CPU autocast (the module
    path, beyond the folded kernels' batch limit) runs with mixed decisions and agrees with the
    masked computation under the same autocast."""
    torch.manual_seed(3)
    m = randomize(AdaSGN(num_classes=10), seed=3).eval()
    n = FOLDED_MAX_FRAMES // 20 + 2
    x = torch.randn(n, 3, 20, 25, 1)
    dec = torch.randint(6, (n, 1, 20), generator=torch.Generator().manual_seed(4))
    dec[0] = 0  # S-1 on some frames: the policy's features reused
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        grouped, _ = m(x, mode="grouped", decisions=dec)
        masked, _ = m(x, mode="masked", decisions=dec)
        _, info = m(x, mode="grouped")  # the policy deciding
    assert torch.isfinite(grouped).all() and info.decisions.unique().numel() > 1
    assert (grouped.float() - masked.float()).abs().max() < 0.1  # bf16 rounding, not a bug
    with torch.no_grad():
        ref, _ = m(x, mode="grouped", decisions=dec)
    assert (grouped.float() - ref).abs().max() < 0.25 * ref.abs().max()


# ------------------------------------------------------------------ gradients


def test_straight_through_gumbel_is_hard_forward_soft_backward():
    logits = torch.randn(5, 20, 6, requires_grad=True)
    a, idx = straight_through_gumbel(logits, tau=2.0)
    assert torch.equal(a.detach(), torch.nn.functional.one_hot(idx, 6).float())
    (a * torch.randn(6)).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_gradients_reach_policy_and_only_chosen_frames_of_a_branch():
    torch.manual_seed(0)
    m = randomize(AdaSGN(num_classes=5), seed=1).train()
    with torch.no_grad():  # the policy never picks S-9 (probability clamped at 1e-8)
        m.policy.conv.weight.zero_()
        m.policy.conv.bias.copy_(torch.tensor([0.0, 0.0, -100.0, 0.0, 0.0, 0.0]))
    grads = {}

    def capture(a):
        def hook(mod, inp, out):
            out.register_hook(lambda g: grads.__setitem__(a, g))
        return hook

    handles = [sm.register_forward_hook(capture(a)) for a, sm in enumerate(m.spatials)]
    x = torch.randn(3, 3, 20, 25, 1)
    logits, info = m(x)  # training: masked + straight-through Gumbel
    loss, _ = AdaSGNLoss(m, alpha=4.0)(logits, info, torch.tensor([0, 1, 2]), epoch=10)
    loss.backward()
    for h in handles:
        h.remove()
    assert info.actions.sum(-1).eq(1).all()  # hard one-hot forward
    assert m.policy.conv.weight.grad.abs().sum() > 0 and m.policy.conv.bias.grad.abs().sum() > 0
    dec = info.decisions[:, 0]  # (N, T)
    assert not (dec == 2).any()
    for a in range(6):
        chose = (dec == a)  # (N, T)
        g = grads[a].abs().sum(-1)  # (N, T): gradient reaching branch a's per-frame features
        assert (g[~chose] == 0).all(), f"branch {a} got gradient from frames that did not choose it"
        if a != 0 and chose.any():  # (S-1 also feeds the policy, so it gets gradient everywhere)
            assert (g[chose] > 0).all()
    # the branch nobody chose receives exactly zero gradient (matrix and spatial module)
    for p in [*m.spatials[2].parameters(), *m.transforms[2].parameters()]:
        assert p.grad is None or (p.grad == 0).all()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.spatials[5].parameters())


def test_forced_decisions_give_no_policy_gradient():
    m = AdaSGN(num_classes=5).train()
    logits, info = m(torch.randn(2, 3, 20, 25, 1), decisions=5)
    logits.sum().backward()
    assert m.policy.conv.weight.grad is None or (m.policy.conv.weight.grad == 0).all()


def test_matrices_are_independent():
    m = AdaSGN()
    mats = [t.matrix for t in m.transforms]
    assert len({p.data_ptr() for p in mats}) == 6
    assert torch.equal(mats[2], mats[3]) and mats[2].shape == (25, 9)
    assert torch.equal(mats[4], torch.eye(25))
    assert torch.allclose(mats[0], torch.full((25, 1), 0.04))
    with torch.no_grad():
        mats[2].add_(1.0)
    assert not torch.equal(mats[2], mats[3])


# ------------------------------------------------------------------ losses, schedule, usage


def test_losses_and_schedules():
    logits = torch.randn(4, 5)
    target = torch.tensor([0, 3, 1, 4])
    dist = torch.full((4, 5), 0.1 / 4)
    dist[torch.arange(4), target] = 0.9
    expect = -(dist * logits.log_softmax(-1)).sum(-1).mean()
    assert label_smoothing_cross_entropy(logits, target).item() == pytest.approx(expect.item())
    assert [warmed_alpha(4.0, e) for e in range(7)] == pytest.approx([0, 0.8, 1.6, 2.4, 3.2, 4, 4])
    m = AdaSGN()
    actions = torch.zeros(6, 20, 6)
    actions[..., 5] = 1  # every frame on B-25
    frac = choice_fractions(actions, torch.tensor([0, 0, 1, 1, 2, 3]), 4)
    assert frac[:, 5].tolist() == [1, 1, 1, 1]
    g = torch.tensor(SPEC_G, dtype=torch.float64)
    assert efficiency_loss(frac, g, 4.0).item() == pytest.approx(0.123055, abs=1e-6)  # spec 7
    paper = efficiency_loss(frac, m.choice_extra_gmacs, 4.0, "paper", m.gmacs_fixed)
    assert paper.item() == pytest.approx(4.0 * (SPEC_FIXED + SPEC_G[5]), rel=1e-6)
    taus = {}
    for e in (0, 1, 29, 59, 119):
        m.set_epoch(e)
        taus[e] = m.tau
        assert m.tau == pytest.approx(5 * math.exp(-0.045 * (e + 1)), rel=1e-3)
    assert taus[0] == pytest.approx(4.780, abs=1e-3)
    assert taus[119] == pytest.approx(0.0226, abs=1e-4)


def test_action_usage_fractions():
    m = eval_model()
    usage = ActionUsage(m)
    x = torch.randn(2, 3, 20, 25, 2)
    x[1, ..., 1] = 0  # empty slot: not counted
    dec = torch.zeros(2, 2, 20, dtype=torch.long)
    dec[0, 0, :5] = 3
    dec[0, 1] = 5
    with torch.no_grad():
        usage.update(m(x, decisions=dec)[1])
    f = usage.fractions()
    assert f["S-1"] == pytest.approx(100 * 35 / 60) and f["B-9"] == pytest.approx(100 * 5 / 60)
    assert f["B-25"] == pytest.approx(100 * 20 / 60) and sum(f.values()) == pytest.approx(100)


# ------------------------------------------------------------------ eval determinism


def test_eval_is_deterministic_by_default_and_sample_is_not():
    m = eval_model()
    x = torch.randn(3, 3, 20, 25, 2)
    with torch.no_grad():
        l1, i1 = m(x)
        l2, i2 = m(x)
    assert torch.equal(l1, l2) and torch.equal(i1.gmacs, i2.gmacs)
    assert torch.equal(i1.decisions, i2.decisions)
    m.cfg.eval_decision = "sample"
    try:
        with torch.no_grad():
            _, s1 = m(x)
            _, s2 = m(x)
    finally:
        m.cfg.eval_decision = "argmax"
    assert not torch.equal(s1.decisions, s2.decisions)


# ------------------------------------------------------------------ pretrained singles, freezing


def test_load_singles_and_freeze_keeps_bn_statistics():
    m = AdaSGN(num_classes=7)
    singles = [randomize(SingleSGN(num_classes=7, joints=c.joints, size=c.size), seed=a)
               for a, c in enumerate(m.choices)]
    load_singles(m, [s if a % 2 else s.state_dict() for a, s in enumerate(singles)])
    for a, s in enumerate(singles):
        assert torch.equal(m.transforms[a].matrix, s.transform.matrix)
        assert m.transforms[a].matrix.data_ptr() != s.transform.matrix.data_ptr()
        assert torch.equal(m.spatials[a].gcns[0].w.weight, s.spatial.gcns[0].w.weight)
    assert not torch.equal(m.head.fc.weight, singles[5].head.fc.weight)
    load_singles(m, singles, temporal_from=-1)
    assert torch.equal(m.head.fc.weight, singles[5].head.fc.weight)
    assert torch.equal(m.temporal.conv1.weight, singles[5].temporal.conv1.weight)
    load_singles(m, singles, temporal_from=2)  # e.g. adasgn.take_temporal=best picked S-9
    assert torch.equal(m.head.fc.weight, singles[2].head.fc.weight)
    assert torch.equal(m.temporal.conv1.weight, singles[2].temporal.conv1.weight)
    with pytest.raises(ValueError):
        load_singles(m, singles[::-1])
    with pytest.raises(ValueError, match="no such choice"):
        load_singles(m, singles, temporal_from=6)

    freeze_pretrained(m, True)
    m.train()
    assert not m.spatials[3].training and m.temporal.training
    assert not any(p.requires_grad for p in [*m.spatials.parameters(), *m.transforms.parameters()])
    bn = m.spatials[5].gcns[0].bn
    before, tbefore = bn.running_mean.clone(), m.temporal.bn1.running_mean.clone()
    logits, info = m(torch.randn(2, 3, 20, 25, 1))
    logits.sum().backward()
    assert torch.equal(bn.running_mean, before)  # frozen branch: statistics untouched
    assert not torch.equal(m.temporal.bn1.running_mean, tbefore)
    assert m.policy.conv.weight.grad is not None
    freeze_pretrained(m, False)
    assert m.spatials[3].training and all(p.requires_grad for p in m.spatials.parameters())
    m(torch.randn(2, 3, 20, 25, 1))
    assert not torch.equal(bn.running_mean, before)


# ------------------------------------------------------------------ training shape (Table 3)

T_SHORT = 8


def _synthetic(n, g):
    """Two classes told apart only by L hand tip vs L thumb moving in opposite directions; their
    average -- hence every coarser joint group -- carries no class information."""
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 3, T_SHORT, 25, 1, generator=g) * 0.1
    x = x + torch.randn(n, 3, 1, 1, 1, generator=g)
    s = (y.float() * 2 - 1).view(n, 1, 1)
    ramp = torch.linspace(-1, 1, T_SHORT).view(1, 1, T_SHORT)
    x[:, :, :, 21, 0] += s * ramp
    x[:, :, :, 22, 0] -= s * ramp
    return x, y


@functools.lru_cache(maxsize=None)
def _pretrained_singles():
    """The paper's protocol in miniature: the full big single is pretrained, the others are not."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    ref = AdaSGN(num_classes=2, num_frames=T_SHORT)
    singles = [SingleSGN(num_classes=2, num_frames=T_SHORT, joints=c.joints, size=c.size)
               for c in ref.choices]
    big = singles[-1].train()
    opt = torch.optim.Adam(big.parameters(), lr=3e-3)
    for _ in range(20):
        x, y = _synthetic(16, g)
        loss = label_smoothing_cross_entropy(big(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [s.state_dict() for s in singles]


@pytest.mark.slow
@pytest.mark.parametrize("alpha, expect", [(0.0, "B-25"), (50.0, "S-1")])
def test_training_drives_policy_by_alpha(alpha, expect):
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(1)
    m = AdaSGN(num_classes=2, num_frames=T_SHORT)
    load_singles(m, _pretrained_singles(), temporal_from=-1)
    freeze_pretrained(m, True)
    loss_fn = AdaSGNLoss(m, alpha=alpha)
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=3e-3)
    m.train()
    m.set_epoch(20)  # tau ~ 1.8
    for _ in range(30):
        x, y = _synthetic(16, g)
        logits, info = m(x)
        loss, parts = loss_fn(logits, info, y, epoch=10)  # past the alpha warm-up
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    usage = ActionUsage(m)
    with torch.no_grad():
        usage.update(m(_synthetic(64, g)[0])[1])
    frac = usage.fractions()
    assert frac[expect] > 90.0, frac


def test_branch_loss_trains_every_branch_through_the_shared_head_and_keeps_bn_statistics():
    x = torch.randn(3, 3, 20, 25, 2)
    x[1, ..., 1] = 0
    y = torch.tensor([0, 1, 2])
    states = []
    for w in (0.0, 0.5):
        torch.manual_seed(4)
        m = AdaSGN(num_classes=5, branch_loss=w).train()
        torch.manual_seed(5)
        logits, info = m(x)
        crit = AdaSGNLoss(m, alpha=4.0)
        loss, parts = crit(logits, info, y, epoch=10)
        if w == 0:
            assert info.branch_logits is None and "branch_ce" not in parts
        else:
            assert info.branch_logits.shape == (6, 3, 5)
            assert parts["branch_ce"] > 0
            loss.backward()
            # every branch's spatial module gets a gradient from the frames of every sample,
            # whatever the policy chose
            for a in range(6):
                g = m.spatials[a].gcns[-1].w.weight.grad
                assert g is not None and g.abs().sum() > 0, a
        states.append({k: v.clone() for k, v in m.temporal.state_dict().items()
                       if "running" in k})
    # the auxiliary pass leaves the temporal BatchNorms' running statistics as without it
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k
    with pytest.raises(ValueError, match="branch_loss"):
        AdaSGN(num_classes=5, branch_loss=-1.0)
    # evaluation never computes them
    with torch.no_grad():
        assert m.eval()(x)[1].branch_logits is None


def test_temporal_source_follows_the_singles_validation_record():
    """adasgn.take_temporal: false / true (the full big single) / an index or a choice name /
    best (the best kept validation selection key; ties to the later, larger choice); a bare
    state dict cannot say which is best."""
    from adasgn.engine.config import ConfigError
    from adasgn.engine.trainer import temporal_source
    cks = [{"model": {}, "best": {"metric": [-loss, float("-inf")], "epoch": 30}}
           for loss in (0.9, 0.8, 0.31, 0.5, 0.4, 0.35)]
    assert temporal_source(False, cks) is None and temporal_source(True, cks) == 5
    assert temporal_source("best", cks) == 2
    cks[4]["best"]["metric"][0] = -0.31
    assert temporal_source("best", cks) == 4  # a tie: the later choice
    with pytest.raises(ConfigError, match="bare state dict"):
        temporal_source("best", [*cks[:5], {"spatial.x": torch.zeros(1)}])
    names = ["S-1", "B-1", "S-9", "B-9", "S-25", "B-25"]
    assert temporal_source(2, cks) == 2 and temporal_source("S-9", cks, names) == 2
    with pytest.raises(ConfigError, match="expected false, true, best"):
        temporal_source("S-11", cks, names)
    with pytest.raises(ConfigError, match="choice index 0..5"):
        temporal_source(6, cks)
