"""Pickles that cannot run code: every pkl adasgn opens goes through the restricted unpickler;
crafted payloads are refused before they run (the file they would create never appears), real
pyskl / mmaction2 pkls and our own outputs still load, and the explicit opt-in works."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adasgn.cli import main as cli_main
from adasgn.data.inputs import read_input
from adasgn.data.pkl import UnsafePickleError, load_pkl, save_pkl, set_allow_unsafe_default

ROOT = Path(__file__).resolve().parents[1]


class _System:
    """Unpickling calls os.system(cmd) -- the classic payload."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _Open:
    """Unpickling calls builtins.open(path, "w") -- creates the file with a builtin."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _Exec:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _annotation_file(path, payload):
    """A pyskl-shaped annotation file with the payload hidden in one sample's extra key."""
    ann = {"frame_dir": "s0", "label": 0, "keypoint": np.zeros((1, 5, 25, 3), np.float32),
           "extra": payload}
    with open(path, "wb") as f:
        pickle.dump({"split": {"train": ["s0"]}, "annotations": [ann], "meta": {}}, f)
    return path


@pytest.fixture(autouse=True)
def _default_off():
    set_allow_unsafe_default(False)
    yield
    set_allow_unsafe_default(False)


@pytest.mark.parametrize("kind", ["system", "open", "exec"])
def test_crafted_payload_is_refused_and_never_runs(tmp_path, kind):
    target = tmp_path / "pwned"
    payload = {"system": _System(f"touch {target}"), "open": _Open(str(target)),
               "exec": _Exec(f"open({str(target)!r}, 'w').close()")}[kind]
    bad = _annotation_file(tmp_path / "bad.pkl", payload)
    refused = {"system": "system", "open": r"io\.open", "exec": "builtins.exec"}[kind]
    with pytest.raises(UnsafePickleError, match=refused) as err:
        load_pkl(bad)
    assert str(bad) in str(err.value) and "--allow-unsafe-pickle" in str(err.value)
    assert not target.exists()


def test_the_payload_is_real(tmp_path):
    """Control: the same file loaded with the explicit opt-in does run its payload."""
    target = tmp_path / "pwned"
    bad = _annotation_file(tmp_path / "bad.pkl", _Open(str(target)))
    load_pkl(bad, allow_unsafe=True)
    assert target.exists()


def test_every_command_refuses_by_default_and_the_flag_opts_in(tmp_path, capsys):
    target = tmp_path / "pwned"
    bad = _annotation_file(tmp_path / "bad.pkl", _Open(str(target)))
    assert cli_main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "refused to load" in err and "io.open" in err and not target.exists()
    assert cli_main(["--allow-unsafe-pickle", "info", str(bad)]) == 0
    assert target.exists()
    target.unlink()
    assert cli_main(["info", str(bad), "--allow-unsafe-pickle"]) == 0 and target.exists()


def test_training_on_a_malicious_pkl_stops_before_any_code_runs(tmp_path):
    target = tmp_path / "pwned"
    bad = _annotation_file(tmp_path / "bad.pkl", _System(f"touch {target}"))
    proc = subprocess.run(
        [sys.executable, "-m", "adasgn", "train", str(ROOT / "configs" / "base.yaml"),
         f"data.path={bad}", "data.dataset=synthetic", "data.train_split=train",
         "data.test_split=train", f"out_dir={tmp_path / 'runs'}", "--no-progress"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "refused to load" in proc.stderr
    assert not target.exists()


def test_npy_object_arrays_are_read_safely(tmp_path, shared_data):
    # the official NTU txt2npy dicts (object arrays) still load ...
    inp = read_input(shared_data / "ntu" / "arrays" / "S001C001P001R001A001.skeleton.npy")
    assert inp.keypoint.shape == (1, 103, 25, 3)
    # ... while an object .npy with a payload is refused
    target = tmp_path / "pwned"
    arr = np.empty((), dtype=object)
    arr[()] = {"skel_body0": _Open(str(target))}
    np.save(tmp_path / "bad.npy", arr, allow_pickle=True)
    with pytest.raises(UnsafePickleError, match=r"io\.open"):
        read_input(tmp_path / "bad.npy")
    assert not target.exists()


def test_real_and_own_pkls_still_load(tmp_path, shared_data):
    d = load_pkl(shared_data / "pyskl" / "example_UCF101_skeleton.pkl")
    assert d["annotations"][0]["keypoint"].shape == (2, 163, 17, 2)
    ann = {"frame_dir": "a", "label": 1, "keypoint": np.ones((2, 4, 25, 3), np.float32),
           "keypoint_score": np.ones((2, 4, 25), np.float16), "img_shape": (256, 340)}
    for proto in (2, 4, 5):  # what pyskl / mmaction2 / numpy-1 and -2 era tools write
        p = tmp_path / f"own{proto}.pkl"
        with open(p, "wb") as f:
            pickle.dump({"split": {"x": ["a"]}, "annotations": [ann],
                         "meta": {"class_names": ["p", "q"], "ids": {1, 2}}}, f, protocol=proto)
        got = load_pkl(p)
        assert got["annotations"][0]["img_shape"] == (256, 340)
        assert got["meta"]["ids"] == {1, 2}
    out = save_pkl(tmp_path / "saved.pkl", [ann], {"x": ["a"]}, {"layout": "ntu25"})
    assert load_pkl(tmp_path / "saved.pkl")["meta"] == out["meta"]


def test_info_works_on_every_shared_pkl(shared_data, capsys):
    pkls = sorted(shared_data.rglob("*.pkl"))
    assert pkls
    for p in pkls:
        assert cli_main(["info", str(p), "--json"]) == 0, p
        capsys.readouterr()
