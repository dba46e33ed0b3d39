"""benchmarks/gpu_check.py runs in CI on the CPU (bf16 autocast on the CPU, gloo DDP), so that
the code path a GPU run takes stays covered."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu():
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--quick",
                           "--json"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["device"] == "cpu" and res["ok"]
    assert res["grouped_equals_masked"]["max_abs_diff"] < 1e-4
    for name in ("sgn", "adasgn"):
        b = res["bf16_training"][name]
        assert b["loss_last3"] < b["loss_first3"]
    assert set(res["bench"]["batches"]) == {"1", "8"}
    assert res["ddp_step"]["backend"] == "gloo" and res["ddp_step"]["parameters_updated"] > 0
    assert res["resume"] == {"ok": True, "same_stream": True}
