"""benchmarks/study.py, the results-study driver: the commands it runs (precision, folders) and
its report on a folder with no finished run."""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import study  # noqa: E402


def _args(tmp_path, **kw):
    a = dict(sets=["msr", "penn"], seeds=[1, 2], alphas=[1.0, 16.0], streams=False,
             out=str(tmp_path), jobs=1, amp="bf16", doc=None, nn=False, json=False)
    a.update(kw)
    return argparse.Namespace(**a)


def test_jobs_train_in_the_chosen_precision_and_folder(tmp_path):
    todo = study.jobs(_args(tmp_path))
    assert [n for n, _ in todo] == ["msr-joint-s1", "penn-joint-s1", "msr-joint-s2", "penn-joint-s2"]
    for _, argv in todo:
        assert "train.amp=bf16" in argv and f"out_dir={tmp_path / 'study'}" in argv
        assert argv[argv.index("--alphas") + 1:] == ["1.0", "16.0"]
    fp32 = study.jobs(_args(tmp_path, amp="none", streams=True, seeds=[1]))
    assert all("train.amp=none" in argv and f"out_dir={tmp_path / 'study-fp32'}" in argv
               for _, argv in fp32)
    assert [n for n, _ in fp32][2:] == ["msr-bone-s1", "msr-velocity-s1", "penn-bone-s1",
                                         "penn-velocity-s1"]


def test_report_blocks_are_per_precision(tmp_path):
    doc = tmp_path / "results.md"
    doc.write_text(f"# r\n\n{study.begin('msr')}\nold\n{study.END}\n\n"
                   f"{study.begin('msr', 'none')}\nold fp32\n{study.END}\n")
    study.report(_args(tmp_path, sets=["msr"], doc=str(doc)))
    text = doc.read_text()
    assert "old fp32" in text and "\nold\n" not in text  # only the bf16 block was replaced
    assert "No finished run yet" in text and "trained with CPU bf16 autocast" in text
    study.report(_args(tmp_path, sets=["msr"], doc=str(doc), amp="none"))
    text = doc.read_text()
    assert "old fp32" not in text and "trained with float32" in text
    assert text.count("No finished run yet") == 2


def test_penn_target_adasgn_within_one_point_of_sgn():
    st = study.SETS["penn"]
    joint = {"adasgn": [{"alpha": 4.0}]}
    for ada, verdict in ((96.5, "met"), (96.0, "NOT met")):
        summary = {}
        lines = study.targets(st, {"sgn": 97.38, "adasgn": ada}, {"sgn": 0.087, "adasgn": 0.06}, {},
                              joint, {}, None, summary)
        line = next(x for x in lines if "within 1 point of SGN:" in x)
        assert line.endswith(f"-- {verdict}.") and summary["targets"]["within_sgn"] is (verdict == "met")
