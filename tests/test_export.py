"""ONNX export: parity with PyTorch under onnxruntime (max abs logits diff < 1e-4) for SGN, a
single model and AdaSGN, whose decisions and per-branch execution must match too."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="ONNX export needs the optional 'export' extra (onnx)")
pytest.importorskip("onnxruntime", reason="ONNX parity needs the optional 'export' extra "
                                          "(onnxruntime): pip install 'adasgn[export]'")

from adasgn.cli import main as cli_main  # noqa: E402
from adasgn.export import OnnxAdaSGN, OnnxSGN, export_checkpoint, load_onnx  # noqa: E402
from adasgn.engine.run import load_run  # noqa: E402

from test_inference import make_checkpoint  # noqa: E402

TOL = 1e-4


def _inputs(n, c, t, v, m, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, t, v, m, generator=g) * 0.5
    if m > 1 and n >= 4:
        x[1, ..., 1:] = 0  # a sample with an empty second person
        x[2] = 0  # a sample with no data at all (slot 0 is kept, as in PyTorch)
        x[3, ..., 0] = 0  # only the second slot has data
    return x


@pytest.mark.parametrize("kind,dataset,overrides", [
    ("sgn", "ntu60", ()),
    ("single", "ntu60", ("model.joints=9", "model.size=small")),
    ("sgn", "msr", ()),
])
def test_static_models_parity(tmp_path, kind, dataset, overrides):
    ck = make_checkpoint(tmp_path / "m.pt", kind, dataset, overrides=overrides)
    rep = export_checkpoint(ck, tmp_path / "m.onnx")
    model = load_run(ck).model
    runner = load_onnx(rep["onnx"])
    assert isinstance(runner, OnnxSGN) and runner.meta["model"] == kind
    c, t, v, m = rep["input"][1:]
    for n in (1, 6):  # dynamic batch
        x = _inputs(n, c, t, v, m, seed=n)
        with torch.no_grad():
            ref = model(x)[0].numpy()
        got, gmacs = runner.run(x.numpy())
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() < TOL
        assert np.all(gmacs > 0)


@pytest.fixture(scope="module")
def ada(tmp_path_factory):
    d = tmp_path_factory.mktemp("ada")
    ck = make_checkpoint(d / "ada.pt", "adasgn", "ntu60", seed=1)
    # centre the policy logits on typical inputs, so that every branch is chosen by some frames
    model = load_run(ck).model
    x = _inputs(16, 3, 20, 25, 2, seed=3)
    with torch.no_grad():
        seq = x.permute(0, 4, 2, 3, 1).reshape(-1, 20, 25, 3)
        logits = model.policy(model._branch_on_sequence(0, seq))  # (B, T, A)
        spread = logits.reshape(-1, logits.shape[-1]).std(0).mean()
    state = torch.load(ck, weights_only=True)
    state["model"]["policy.conv.weight"] /= spread
    state["model"]["policy.conv.bias"] -= logits.reshape(-1, logits.shape[-1]).mean(0) / spread
    torch.save(state, ck)
    rep = export_checkpoint(ck, d / "ada.onnx")
    model = load_run(ck).model
    return model, OnnxAdaSGN(rep["onnx"]), rep


def test_adasgn_parity_with_the_policy_decisions(ada):
    model, runner, rep = ada
    c, t, v, m = rep["input"][1:]
    x = _inputs(16, c, t, v, m, seed=3)
    with torch.no_grad():
        ref, info = model(x)  # eval: grouped execution, argmax decisions
    got, dec, gmacs = runner.run(x.numpy())
    np.testing.assert_array_equal(dec, info.decisions.numpy())  # same decisions, -1 = empty slot
    used = np.bincount(dec[dec >= 0].ravel(), minlength=model.num_choices)
    assert (used > 0).sum() >= 4, used  # a real mix of branches was exercised
    assert np.abs(got - ref.numpy()).max() < TOL
    np.testing.assert_allclose(gmacs, info.gmacs.numpy(), rtol=1e-9)
    # batch 1 (dynamic batch), one sample of the same inputs
    got1, dec1, _ = runner.run(x[5:6].numpy())
    np.testing.assert_array_equal(dec1, dec[5:6])
    assert np.abs(got1 - ref[5:6].numpy()).max() < TOL


def test_adasgn_parity_for_every_forced_branch(ada):
    """choice_bias forces one branch everywhere: compare with PyTorch's forced decisions."""
    model, runner, rep = ada
    c, t, v, m = rep["input"][1:]
    x = _inputs(5, c, t, v, m, seed=10)
    for a in range(model.num_choices):
        bias = np.zeros(model.num_choices, np.float32)
        bias[a] = 1e4
        got, dec, gmacs = runner.run(x.numpy(), choice_bias=bias)
        with torch.no_grad():
            ref, info = model(x, decisions=a)
        assert set(np.unique(dec[dec >= 0])) == {a}
        np.testing.assert_array_equal(dec, info.decisions.numpy())
        assert np.abs(got - ref.numpy()).max() < TOL, model.choices[a].name
        np.testing.assert_allclose(gmacs, info.gmacs.numpy(), rtol=1e-9)


def test_adasgn_lstm_policy_single_person(tmp_path):
    ck = make_checkpoint(tmp_path / "l.pt", "adasgn", "shrec14",
                         overrides=["model.options={policy: lstm}"])
    rep = export_checkpoint(ck, tmp_path / "l.onnx")
    model = load_run(ck).model
    runner = load_onnx(rep["onnx"])
    x = _inputs(3, *rep["input"][1:], seed=4)
    with torch.no_grad():
        ref, info = model(x)
    got, dec, _ = runner.run(x.numpy())
    np.testing.assert_array_equal(dec, info.decisions.numpy())
    assert np.abs(got - ref.numpy()).max() < TOL


def test_export_cli_and_errors(tmp_path, capsys):
    ck = make_checkpoint(tmp_path / "s.pt", "sgn", "shrec14")
    rc = cli_main(["export", str(ck), str(tmp_path / "s.onnx"), "--check", "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["max_abs_diff"] < TOL and rep["model"] == "sgn"
    assert load_onnx(tmp_path / "s.onnx").meta["layout"] == "shrec22"
    rc = cli_main(["export", str(tmp_path / "missing.pt"), str(tmp_path / "x.onnx")])
    assert rc == 2 and "checkpoint not found" in capsys.readouterr().err
    fuse = make_checkpoint(tmp_path / "f.pt", "adasgn", "shrec14",
                           overrides=["model.options={policy: fuse}"])
    rc = cli_main(["export", str(fuse), str(tmp_path / "f.onnx")])
    assert rc == 2 and "only learned policies" in capsys.readouterr().err
