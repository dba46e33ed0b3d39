"""benchmarks/study.py, the results-study driver: the commands it runs (precision, folders) and
its report on a folder with no finished run."""

import argparse
import json
import shutil
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import study  # noqa: E402


def _args(tmp_path, **kw):
    a = dict(sets=["msr", "penn"], seeds=[1, 2], alphas=[1.0, 16.0], streams=False,
             out=str(tmp_path), jobs=1, amp="bf16", doc=None, nn=False, json=False, device=None,
             overrides=[], archive=str(tmp_path / "archive"), per_stage=False, groups=None)
    a.update(kw)
    return argparse.Namespace(**a)


def test_jobs_train_in_the_chosen_precision_and_folder(tmp_path):
    todo = study.jobs(_args(tmp_path))
    assert [n for n, _ in todo] == ["msr-joint-s1", "penn-joint-s1", "msr-joint-s2", "penn-joint-s2"]
    for _, argv in todo:
        assert "train.amp=bf16" in argv and f"out_dir={tmp_path / 'study'}" in argv
        assert argv[argv.index("--alphas") + 1:argv.index("--stages")] == ["1.0", "16.0"]
        assert argv[argv.index("--stages") + 1:][0] == "sgn"  # nothing finished: every stage
    fp32 = study.jobs(_args(tmp_path, amp="none", streams=True, seeds=[1]))
    assert all("train.amp=none" in argv and f"out_dir={tmp_path / 'study-fp32'}" in argv
               for _, argv in fp32)
    assert [n for n, _ in fp32][2:] == ["msr-bone-s1", "msr-velocity-s1", "penn-bone-s1",
                                         "penn-velocity-s1"]
    some = study.jobs(_args(tmp_path, streams=True, groups=["penn-joint-s2", "msr-bone-s1"]))
    assert [n for n, _ in some] == ["penn-joint-s2", "msr-bone-s1"]  # joint stream first


def test_report_blocks_are_per_precision(tmp_path):
    doc = tmp_path / "results.md"
    doc.write_text(f"# r\n\n{study.begin('msr')}\nold\n{study.END}\n\n"
                   f"{study.begin('msr', 'none')}\nold fp32\n{study.END}\n")
    study.report(_args(tmp_path, sets=["msr"], doc=str(doc)))
    text = doc.read_text()
    assert "old fp32" in text and "\nold\n" not in text  # only the bf16 block was replaced
    assert "No finished run yet" in text and "trained with bf16 autocast" in text
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
        assert ("AdaSGN within 1 point of SGN", verdict == "met") in summary["target_names"]


def test_target_names_say_which_alphas_lie_on_the_front():
    """targets() names each target beside its check; the front one says which alphas are on it."""
    singles = [(0.01, 80.0), (0.013, 81.0), (0.03, 90.0), (0.06, 89.0), (0.064, 88.0), (0.13, 88.5)]
    mean = {"sgn": 88.5, "adasgn": 86.5, "adasgn_a16": 85.0, "rand": 87.0}
    gm = {"sgn": 0.13, "adasgn": 0.063, "adasgn_a16": 0.026, "rand": 0.052}
    joint = {"adasgn": [{"alpha": 4.0}], "adasgn_a16": [{"alpha": 16.0}]}
    summary = {}
    study.targets(study.SETS["utd_mhad"], mean, gm, {}, joint, singles, None, summary)
    assert summary["target_names"] == [
        ("AdaSGN >= 90.0 %", False), ("within 1 point of SGN at <= 50 % of its GMACs", False),
        ("adaptive beats rand", False),
        ("on or above the singles' front for every alpha (alpha 16 on it)", False)]
    assert summary["targets"]["on_front"] == {"adasgn": False, "adasgn_a16": True}


def test_per_stage_schedule_waits_for_the_singles(tmp_path, monkeypatch):
    """--per-stage: every stage its own command; a group's AdaSGN stages start only after its SGN
    and six singles finished, a failed single keeps them from starting, joint before the streams,
    and every finished stage is archived (scores only for SGN and the recipe's AdaSGN)."""
    a = _args(tmp_path, sets=["msr"], seeds=[1], streams=True, jobs=3, per_stage=True, device="cuda")
    groups = study.groups(a)
    assert [g[0] for g in groups] == ["msr-joint-s1", "msr-bone-s1", "msr-velocity-s1"]
    name, argv, first, later, prio = groups[0]
    assert first == ["sgn", "single_small1", "single_big1", "single_small9", "single_big9",
                     "single_small20", "single_big20"]
    assert later == ["adasgn", "adasgn_a1", "adasgn_a16", "rand", "fuse"]
    assert "train.device=cuda" in argv and groups[1][3] == ["adasgn"] and groups[1][4] > prio
    out = tmp_path / "study"
    order, lock = [], threading.Lock()

    def fake_sh(argv, log):
        stage = argv[argv.index("--stages") + 1]
        grp = next(x.split("=", 1)[1] for x in argv if x.startswith("name="))
        with lock:
            order.append((grp, stage))
        if grp == "msr-velocity-s1" and stage == "single_big9":
            raise RuntimeError("a failed single")
        d = out / grp / stage
        d.mkdir(parents=True)
        (d / "metrics.jsonl").write_text(json.dumps({"epoch": 0, "time_s": 90.0}) + "\n")
        (d / "test.json").write_text(json.dumps({"top1": 0.5, "gmacs": 0.1, "seed": 1}))
        (d / "scores_test.npz").write_bytes(b"x")

    monkeypatch.setattr(study, "sh", fake_sh)
    failed = study.run_per_stage(a, out)
    assert failed == ["msr-velocity-s1/single_big9"]
    for grp, _, first, later, _ in groups:
        done = [st for g, st in order if g == grp]
        if grp == "msr-velocity-s1":
            assert "adasgn" not in done  # its singles did not all finish
            continue
        assert set(done) == set(first + later)
        assert max(done.index(st) for st in first) < min(done.index(st) for st in later)
    joint = [i for i, (g, _) in enumerate(order) if g == "msr-joint-s1"]
    assert joint[:7] == list(range(7))  # the joint stream goes first
    arch = tmp_path / "archive" / "study" / "msr-joint-s1"
    rep = json.loads((arch / "sgn" / "test.json").read_text())
    assert rep["train_minutes"] == 1.5 and (arch / "sgn" / "scores_test.npz").is_file()
    assert not (arch / "rand" / "scores_test.npz").exists() and (arch / "rand" / "test.json").is_file()
    assert study.archive(a) == 0  # nothing newer to archive
    assert [g[0] for g in study.groups(a)] == ["msr-velocity-s1"]  # the others are archived whole


def test_todo_lists_the_groups_left_and_what_they_took(tmp_path):
    """study.py todo: the stages run would train per group (an archived stage only when a missing
    AdaSGN stage starts from it) and the archive's median training minutes of the same set and
    stage, per device."""
    a = _args(tmp_path, sets=["msr"], seeds=[1, 2])
    (g1, _, first, later, _), (g2, *_) = study.groups(a)
    assert (g1, g2) == ("msr-joint-s1", "msr-joint-s2")
    arch = tmp_path / "archive" / "study"
    for i, st in enumerate(first + later):  # seed 2 archived whole on the CPU, i + 1 minutes
        (arch / g2 / st).mkdir(parents=True)
        (arch / g2 / st / "test.json").write_text(json.dumps({"train_minutes": i + 1.0, "device": "cpu"}))
    (arch / g1 / "sgn").mkdir(parents=True)  # seed 1: SGN only, on the GPU
    (arch / g1 / "sgn" / "test.json").write_text(json.dumps({"train_minutes": 0.5, "device": "cuda:0"}))
    t = study.todo(a)
    n = len(first + later)  # SGN (1 minute on the CPU) is archived and no AdaSGN stage needs it
    assert t["groups"] == [{"group": g1, "stages": n - 1, "again": 0,
                            "cpu_minutes": n * (n + 1) / 2 - 1, "gpu_minutes": None}]
    assert t["stages"] == n - 1 and t["cpu_minutes"] == n * (n + 1) / 2 - 1 and t["gpu_minutes"] is None
    assert "msr-joint-s1" in study.todo_text(t) and "?" in study.todo_text(t)
    # seed 1 archived but for `rand`: rand and the six singles it starts from, none of the rest
    for st in first + later:
        if st != "rand":
            (arch / g1 / st).mkdir(parents=True, exist_ok=True)
            (arch / g1 / st / "test.json").write_text(json.dumps({"train_minutes": 2.0, "device": "cpu"}))
    [(name, argv, first1, later1, _)] = study.groups(a)
    singles = [st for st in first if st.startswith("single_")]
    assert (name, first1, later1) == (g1, singles, ["rand"]) and len(singles) == 6
    assert study.jobs(a)[0][1][-8:] == ["--stages", *singles, "rand"]
    assert study.todo(a)["groups"][0]["again"] == 6
    # the singles finished in the runs folder (checkpoints there): rand alone
    for st in singles:
        (tmp_path / "study" / g1 / st).mkdir(parents=True)
        (tmp_path / "study" / g1 / st / "test.json").write_text("{}")
    assert [g[2:4] for g in study.groups(a)] == [([], ["rand"])]


def test_singles_trained_again_keep_their_archived_record(tmp_path, monkeypatch):
    """A single trained again only for its checkpoints (its group's `rand` is missing) keeps the
    archived record the group's archived AdaSGN stages started from; the run folder says both
    top-1 figures, and neither `archive` nor a second `run` replaces the record or trains again."""
    a = _args(tmp_path, sets=["msr"], seeds=[1], per_stage=True)
    [(g, _, first, later, _)] = study.groups(a)
    arch = tmp_path / "archive" / "study" / g
    for st in first + later:
        if st != "rand":
            (arch / st).mkdir(parents=True)
            (arch / st / "test.json").write_text(json.dumps({"top1": 0.8, "device": "cuda:0"}))
    out = tmp_path / "study"

    def fake_sh(argv, log):  # one stage (--per-stage) or the group's stages to train
        for stage in argv[argv.index("--stages") + 1:]:
            d = out / g / stage
            d.mkdir(parents=True)
            (d / "metrics.jsonl").write_text(json.dumps({"epoch": 0, "time_s": 60.0}) + "\n")
            (d / "test.json").write_text(json.dumps({"top1": 0.9, "gmacs": 0.1}))

    monkeypatch.setattr(study, "sh", fake_sh)
    pkl = tmp_path / "msr.pkl"  # run prepares a set whose pkl is missing: not here
    pkl.write_bytes(b"")
    monkeypatch.setattr(study, "_pkl", lambda ds: pkl)
    for per_stage in (True, False):
        a.per_stage = per_stage
        study.run(a)
        singles = [st for st in first if st.startswith("single_")]
        for st in singles:
            assert json.loads((arch / st / "test.json").read_text()) == {"top1": 0.8, "device": "cuda:0"}
            assert json.loads((out / g / st / study.KEPT).read_text()) == {
                "archived_top1": 0.8, "archived_device": "cuda:0", "this_run_top1": 0.9}
        rand = json.loads((arch / "rand" / "test.json").read_text())
        assert rand["top1"] == 0.9 and rand["train_minutes"] == 1.0  # the new stage is archived
        assert study.archive(a) == 0 and study.groups(a) == []
        shutil.rmtree(out)
        shutil.rmtree(arch / "rand")  # again, the whole-group way


def test_overview_sets_side_by_side_with_their_targets(tmp_path):
    """The overview block: one row per set (best single named in the paper's shorthand, GMACs as a
    share of SGN's), and every set's targets split into met / not met; report writes it only where
    the doc has its block and every set was asked for."""
    def st(top1, gmacs, **kw):
        return {"top1": top1, "top1_sd": 0.5, "gmacs": gmacs, **kw}
    sm = {"set": "utd_mhad", "seeds": [1, 2, 3], "nn": {"top1": 0.8},
          "stages": {"sgn": st(96.0, 0.13), "single_small9": st(96.1, 0.0326, name="S-9"),
                     "single_big9": st(97.1, 0.0624, name="B-9"), "adasgn": st(96.6, 0.065),
                     "adasgn_a16": st(94.6, 0.028), "rand": st(94.4, 0.052)},
          "fused": {"sgn": st(96.5, 0.39), "adasgn": st(97.2, 0.195)},
          "target_names": [("AdaSGN >= 90.0 %", True), ("adaptive beats rand", False),
                           ("on or above the singles' front for every alpha (alpha 16 on it)", False)]}
    text = "\n".join(study.overview([sm, {"set": "penn", "seeds": []}]))
    assert text.startswith(study.begin("overview")) and text.endswith(study.END)
    row = next(x for x in text.splitlines() if x.startswith("| utd_mhad"))
    assert "| B-9 97.10 ± 0.50 @ 0.0624 |" in row and "96.60 ± 0.50 @ 0.0650 (50 %)" in row
    assert "97.20 ± 0.50 @ 0.1950 (50 %)" in row and "| 80.00 |" in row
    assert ("* utd_mhad: met 1 of 3 (AdaSGN >= 90.0 %); NOT met: adaptive beats rand; on or above the "
            "singles' front for every alpha (alpha 16 on it).") in text
    assert "| penn" not in text  # nothing finished there
    doc = tmp_path / "results.md"
    doc.write_text(f"# r\n\n{study.begin('overview')}\nold\n{study.END}\n")
    study.report(_args(tmp_path, sets=["msr"], doc=str(doc)))
    assert "\nold\n" in doc.read_text()  # one set asked for: the overview is left alone
    study.report(_args(tmp_path, sets=list(study.SETS), doc=str(doc)))
    text = doc.read_text()
    assert "\nold\n" not in text and text.count(study.begin("overview")) == 1
