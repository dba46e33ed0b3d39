"""``adasgn bench``: runs quickly with tiny repetition counts and reports every documented key.
No timing assertions here -- speed is checked by the benchmark itself (docs/benchmarks.md)."""

import json

import pytest
import torch

from adasgn.bench import PAPER_MIX, default_mix, mix_decisions, parse_mix, run_bench
from adasgn.cli import main as cli_main

NTU = ["S-1", "B-1", "S-9", "B-9", "S-25", "B-25"]
KEYS = {"sgn_ms", "grouped_ms", "masked_ms", "speedup_grouped_vs_sgn",
        "speedup_grouped_vs_masked", "gmacs_sgn", "gmacs_adasgn", "sgn_iqr_ms", "grouped_iqr_ms",
        "masked_iqr_ms", "gflops_exec_sgn", "gflops_exec_grouped", "gflops_exec_masked"}


pytestmark = pytest.mark.usefixtures("one_thread")


def test_default_mix_is_the_papers_alpha4_mix():
    mix = default_mix(NTU)
    assert sum(mix.values()) == pytest.approx(1.0)
    for k, v in PAPER_MIX.items():
        assert mix[k] == pytest.approx(v / 100)
    for k in ("B-1", "S-9", "S-25"):  # the 0.03 % remainder spread evenly
        assert mix[k] == pytest.approx(0.0001)
    shrec = default_mix(["S-1", "B-1", "S-11", "B-11", "S-22", "B-22"])
    assert shrec["B-11"] == pytest.approx(0.1647) and shrec["B-22"] == pytest.approx(0.3514)


def test_parse_mix_and_exact_allotment():
    mix = parse_mix("S-1=50, B-25=50", NTU)
    assert mix["S-1"] == 0.5 and mix["B-25"] == 0.5 and mix["B-9"] == 0.0
    with pytest.raises(ValueError, match="unknown choice 'X-3'"):
        parse_mix("X-3=1", NTU)
    with pytest.raises(ValueError, match="NAME=SHARE"):
        parse_mix("S-1", NTU)
    dec = mix_decisions(default_mix(NTU), NTU, 64, 1, 20)
    assert dec.shape == (64, 1, 20)
    counts = torch.bincount(dec.reshape(-1), minlength=6)
    assert counts.tolist() == [619, 0, 0, 211, 0, 450]  # 1280 frames: 48.36 / 16.47 / 35.14 %
    assert torch.equal(dec, mix_decisions(default_mix(NTU), NTU, 64, 1, 20))  # seeded


def test_run_bench_reports_every_key():
    rep = run_bench(batch_sizes=[1, 4], threads=1, reps=2, warmup=1, persons=2)
    assert set(rep["batches"]) == {"1", "4"}
    for row in rep["batches"].values():
        assert KEYS <= set(row)
        assert row["speedup_grouped_vs_sgn"] == pytest.approx(row["sgn_ms"] / row["grouped_ms"])
        assert row["gmacs_sgn"] == pytest.approx(0.160846, abs=1e-6)  # paper Table 1
        assert 0.009 < row["gmacs_adasgn"] < row["gmacs_sgn"]
        # executed work follows the decisions: masked runs every branch, grouped a share of them
        assert row["gflops_exec_grouped"] < row["gflops_exec_sgn"] < row["gflops_exec_masked"]
        assert row["persons_per_sample"] == 2
    m = rep["machine"]
    assert m["torch_threads"] == 1 and m["torch"] == torch.__version__
    assert len(m["loadavg_before"]) == 3 and rep["matmul_peak_gflops"] > 0


def test_cli_bench_json(capsys):
    rc = cli_main(["bench", "--json", "--threads", "1", "--batch-sizes", "2", "--reps", "2",
                   "--warmup", "0", "--mix", "S-1=0.5,B-9=0.5"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    row = rep["batches"]["2"]
    assert KEYS <= set(row)
    assert row["usage"]["S-1"] == 0.5 and row["usage"]["B-9"] == 0.5
    assert rep["mix"]["B-25"] == 0.0


def test_cli_bench_text_and_user_errors(capsys):
    assert cli_main(["bench", "--threads", "1", "--batch-sizes", "1", "--reps", "1",
                     "--warmup", "0", "--no-flops"]) == 0
    out = capsys.readouterr().out
    assert "grouped vs SGN" in out and "load average" in out and "ms/sample" in out
    assert cli_main(["bench", "--budget", "0.05"]) == 2
    assert "--budget needs --checkpoint" in capsys.readouterr().err
    assert cli_main(["bench", "--mix", "Q=1", "--reps", "1"]) == 2
    assert "unknown choice" in capsys.readouterr().err
