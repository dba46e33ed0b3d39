"""A short training on each real set besides MSR (issue 12): ``adasgn prepare`` from the shared
files, SGN with the set's config (the small-data recipe) for a few epochs, the test split
evaluated once, accuracy above a loose bound: about half of what these runs measured (figures
below; docs/results.md has the full studies), and at least 3x chance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adasgn.cli import main

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 4
# Measured 2026-12-01 (seed 1, 4 epochs of the small-data recipe, whose augmentations slow the
# first epochs down): FPHA 24.7 % (chance 2.2 %), UTD-MHAD 27.0 % (3.7 %), Penn Action 93.0 % (6.7 %).
SETS = {  # set: (raw folder, config, test samples, classes, bound on test top-1)
    "fpha": ("fpha", "configs/fpha.yaml", 575, 45, 0.12),
    "utd_mhad": ("utd_mhad", "configs/utd_mhad.yaml", 430, 27, 0.13),
    "penn": ("penn_action", "configs/penn.yaml", 1068, 15, 0.46),
}


@pytest.mark.slow
@pytest.mark.parametrize("ds", sorted(SETS))
def test_short_training_on_real_data(ds, shared_data, tmp_path, capsys):
    raw, config, n_test, classes, bound = SETS[ds]
    if not (shared_data / raw).is_dir():
        pytest.skip(f"{raw} not found in {shared_data}")
    if ds != "fpha":
        pytest.importorskip("scipy", reason="UTD-MHAD and Penn Action are .mat files (adasgn[mat])")
    pkl = tmp_path / f"{ds}.pkl"
    assert main(["prepare", ds, "--raw", str(shared_data / raw), "--out", str(pkl), "--no-progress"]) == 0
    assert main(["train", str(ROOT / config), "model.name=sgn", "model.options={}", f"data.path={pkl}",
                 f"out_dir={tmp_path / 'runs'}", "name=ci", f"train.epochs={EPOCHS}",
                 "train.milestones=[3]", "--no-progress"]) == 0
    capsys.readouterr()
    res = json.loads((tmp_path / "runs" / "ci" / "test.json").read_text())
    assert res["num_samples"] == n_test  # every test sample exactly once
    print(f"{ds} SGN {EPOCHS} epochs: test top-1 {res['top1']:.4f}")
    assert res["top1"] >= max(bound, 3.0 / classes), res["top1"]
