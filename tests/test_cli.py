import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adasgn.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_complexity_json_sgn(capsys):
    rc, out, _ = run_cli(capsys, "complexity", "--model", "sgn", "--dataset", "ntu60", "--json")
    info = json.loads(out)
    assert rc == 0 and info["params"] == 691_048
    assert info["gmacs"] == pytest.approx(0.1608, rel=5e-3)
    assert info["gflops_executed"] > info["gmacs"]
    rc, out, _ = run_cli(capsys, "complexity", "--model", "sgn", "--dataset", "ntu120", "--json")
    assert json.loads(out)["params"] == 721_828


def test_complexity_table_names_both_conventions(capsys):
    rc, out, _ = run_cli(capsys, "complexity", "--model", "single", "--joints", "9", "--size", "small")
    assert rc == 0
    assert "GMACs (paper conv.)" in out and "GFLOPs executed" in out
    assert "0.032625" in out


def test_complexity_bad_joint_choice(capsys):
    rc, _, err = run_cli(capsys, "complexity", "--model", "single", "--joints", "7")
    assert rc == 2 and "[1, 9, 25]" in err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "adasgn", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "complexity" in out.stdout


def test_readme_opens_with_the_two_commands_and_ci_runs_its_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 1
    first = blocks[0].strip().splitlines()
    commands = [line for line in first if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    test_cmd = commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci
