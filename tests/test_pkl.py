"""The pyskl annotation pickle: read, write, validate, atomic replace."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from adasgn import __version__
from adasgn.data.pkl import load_pkl, make_annotation, save_pkl
from adasgn.data.readers import DataError


@st.composite
def datasets(draw):
    n = draw(st.integers(1, 5))
    c = draw(st.sampled_from([2, 3]))
    v = draw(st.integers(1, 6))
    anns = []
    for i in range(n):
        m = draw(st.integers(1, 2))
        t = draw(st.integers(1, 8))
        kp = draw(arrays(np.float32, (m, t, v, c),
                         elements=st.floats(-1e3, 1e3, width=32, allow_nan=False)))
        extra = draw(st.dictionaries(st.sampled_from(["num_person_raw", "note"]),
                                     st.integers(0, 9), max_size=2))
        anns.append(make_annotation(f"s{i:03d}", draw(st.integers(0, 50)), kp, **extra))
    names = [a["frame_dir"] for a in anns]
    split = {
        "xsub_train": draw(st.lists(st.sampled_from(names), unique=True)),
        "xsub_val": draw(st.lists(st.sampled_from(names), unique=True)),
    }
    return anns, split


@settings(max_examples=30, deadline=None)
@given(datasets(), st.sampled_from(["myset", "ntu60"]))
def test_round_trip(data, name):
    anns, split = data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sub" / "data.pkl"
        save_pkl(path, anns, split, {"dataset": name, "layout": "ntu25", "class_names": ["a"]})
        back = load_pkl(path)
        assert sorted(os.listdir(path.parent)) == ["data.pkl"]  # no temp file left behind
    assert back["split"] == split
    assert back["meta"]["dataset"] == name and back["meta"]["adasgn_version"] == __version__
    assert len(back["annotations"]) == len(anns)
    for a, b in zip(anns, back["annotations"]):
        assert set(a) == set(b)
        assert b["keypoint"].dtype == np.float32
        np.testing.assert_array_equal(a["keypoint"], b["keypoint"])
        for k in a:
            if k != "keypoint":
                assert a[k] == b[k]
        assert b["total_frames"] == b["keypoint"].shape[1]


def test_pyskl_example_bare_annotation(shared_data):
    d = load_pkl(shared_data / "pyskl/example_UCF101_skeleton.pkl")
    assert d["split"] == {} and len(d["annotations"]) == 1
    a = d["annotations"][0]
    assert a["frame_dir"] == "v_ApplyEyeMakeup_g01_c01" and a["label"] == 0
    assert a["keypoint"].shape == (2, 163, 17, 2) and a["keypoint"].dtype == np.float32
    assert a["keypoint_score"].dtype == np.float32 and a["total_frames"] == 163
    with open(shared_data / "pyskl/example_UCF101_skeleton.pkl", "rb") as fh:
        raw = pickle.load(fh)
    assert raw["keypoint"].dtype == np.float16
    np.testing.assert_array_equal(a["keypoint"], raw["keypoint"].astype(np.float32))


def _write(path: Path, obj) -> Path:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)
    return path


def _ann(**kw):
    a = {"frame_dir": "x", "label": 1, "total_frames": 2, "keypoint": np.zeros((1, 2, 3, 3), np.float32)}
    a.update(kw)
    return a


@pytest.mark.parametrize("obj, expect", [
    ({"annotations": [{"frame_dir": "x", "label": 0}]}, "missing key(s) ['keypoint']"),
    ({"annotations": [_ann(keypoint=np.zeros((2, 3, 3)))]}, "4 dimensions"),
    ({"annotations": [_ann(keypoint=np.full((1, 2, 3, 3), np.nan))]}, "NaN"),
    ({"annotations": [_ann(keypoint=np.zeros((1, 2, 3, 5)))]}, "5 channels"),
    ({"annotations": [_ann(total_frames=5)]}, "total_frames=5"),
    ({"annotations": [_ann(label=-1)]}, "non-negative int"),
    ({"annotations": [_ann(), _ann()]}, "duplicate frame_dir"),
    ({"split": {"train": ["y"]}, "annotations": [_ann()]}, "not in 'annotations'"),
    ({"foo": 1}, "no 'annotations' key"),
    ([1, 2], "expected a dict"),
])
def test_validation_errors_name_the_file(tmp_path, obj, expect):
    p = _write(tmp_path / "bad.pkl", obj)
    with pytest.raises(DataError) as err:
        load_pkl(p)
    assert str(p) in str(err.value) and expect in str(err.value), str(err.value)


def test_not_a_pickle(tmp_path):
    p = tmp_path / "junk.pkl"
    p.write_bytes(b"this is not a pickle")
    with pytest.raises(DataError, match="not a readable pickle"):
        load_pkl(p)
    with pytest.raises(DataError, match="no such file"):
        load_pkl(tmp_path / "absent.pkl")


def test_save_validates_and_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "out.pkl"
    save_pkl(p, [_ann()], {"train": ["x"]})
    before = p.read_bytes()
    with pytest.raises(DataError):
        save_pkl(p, [_ann(keypoint=np.zeros(3))])
    assert p.read_bytes() == before

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_pkl(p, [_ann(frame_dir="other")])
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.pkl"]


def test_float16_and_float64_become_float32(tmp_path):
    p = _write(tmp_path / "h.pkl", {"split": {}, "annotations": [
        _ann(keypoint=np.ones((1, 2, 3, 2), np.float16)),
        _ann(frame_dir="y", keypoint=np.ones((2, 2, 3, 3), np.float64))]})
    d = load_pkl(p)
    assert all(a["keypoint"].dtype == np.float32 for a in d["annotations"])
    assert d["meta"] == {}
