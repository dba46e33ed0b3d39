"""Readers for real raw files: NTU .skeleton, MSR Action3D, SHREC'17 (fixtures in shared/data)."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adasgn.data.readers import (
    DataError,
    _parse_decimals,
    nonzero_frames,
    parse_ntu_skeleton,
    read_msr,
    read_ntu_skeleton,
    read_shrec,
    read_shrec_index,
)

A001 = "ntu/S001C001P001R001A001.skeleton"
A058 = "ntu/S001C001P001R001A058.skeleton"


def reference_xyz(data: bytes) -> list[np.ndarray]:
    """Independent slow parse: the x, y, z of every joint line, per body slot, in file order."""
    lines = data.decode().splitlines()
    out, k = [], 1
    for _ in range(int(lines[0])):
        nb = int(lines[k])
        k += 1
        for b in range(nb):
            nj = int(lines[k + 1])
            rows = [[float(t) for t in lines[k + 2 + j].split()[:3]] for j in range(nj)]
            while len(out) <= b:
                out.append([])
            out[b].append(rows)
            k += 2 + nj
    return [np.array(o) for o in out]


# --------------------------------------------------------------------------------------- NTU


def test_ntu_a001_matches_reference_array(shared_data):
    path = shared_data / A001
    assert b"\r\n" in path.read_bytes()  # the original NTU release uses CRLF
    skel = read_ntu_skeleton(path)
    assert skel.num_frames == 103 and skel.num_valid_frames == 103
    assert list(skel.bodies) == ["72057594037931101"]  # the 64-bit ID kept exactly, as text
    body = skel.bodies["72057594037931101"]
    assert body.xyz.shape == (103, 25, 3)
    ref = np.load(shared_data / "ntu/arrays/S001C001P001R001A001.skeleton.npy", allow_pickle=True).item()
    np.testing.assert_allclose(body.xyz, ref["skel_body0"], rtol=0, atol=1e-6)
    assert list(skel.bodies_per_frame) == list(ref["nbodys"])
    np.testing.assert_array_equal(body.frames, np.arange(103))
    assert body.contiguous


def test_ntu_a058_two_actors_lf(shared_data):
    data = (shared_data / A058).read_bytes()
    assert b"\r" not in data and b"E-" in data  # LF, and exponent notation occurs
    skel = read_ntu_skeleton(shared_data / A058)
    assert list(skel.bodies) == ["72057594037932185", "72057594037932219"]
    ref = reference_xyz(data)
    for body, slot in zip(skel.bodies.values(), ref):
        assert body.xyz.shape == (71, 25, 3)
        # the vectorised parser is exact: same float32 as Python's float
        np.testing.assert_array_equal(body.xyz, slot.astype(np.float32))


@pytest.mark.parametrize("name", [A001, A058])
def test_ntu_line_endings_and_whitespace_do_not_matter(shared_data, tmp_path, name):
    data = (shared_data / name).read_bytes()
    lf = data.replace(b"\r\n", b"\n")
    crlf = lf.replace(b"\n", b"\r\n")
    messy = lf.replace(b" ", b" \t ").replace(b"\n", b"  \n") + b"\n\n"  # slow path
    base = parse_ntu_skeleton(lf)
    for variant in (crlf, messy):
        other = parse_ntu_skeleton(variant)
        assert list(other.bodies) == list(base.bodies)
        for a, b in zip(base.bodies.values(), other.bodies.values()):
            np.testing.assert_array_equal(a.xyz, b.xyz)
    p = tmp_path / "x.skeleton"
    p.write_bytes(crlf)
    assert read_ntu_skeleton(p).path == str(p)


def _frames(data: bytes) -> tuple[str, list[list[str]]]:
    """Split an NTU file into header and per-frame line blocks."""
    lines = data.decode().replace("\r\n", "\n").splitlines()
    frames, k = [], 1
    for _ in range(int(lines[0])):
        nb = int(lines[k])
        size = 1 + nb * 27
        frames.append(lines[k:k + size])
        k += size
    return lines[0], frames


def _join(frames: list[list[str]]) -> bytes:
    return ("\n".join([str(len(frames))] + [ln for f in frames for ln in f]) + "\n").encode()


def test_ntu_empty_frames_and_vanishing_body(shared_data):
    _, frames = _frames((shared_data / A058).read_bytes())
    # frames 10-19: only the first body; frames 5 and 6: no body at all
    for f in range(10, 20):
        frames[f] = ["1"] + frames[f][1:28]
    frames[5] = ["0"]
    frames[6] = ["0"]
    skel = parse_ntu_skeleton(_join(frames))
    assert skel.num_frames == 71 and skel.num_valid_frames == 69
    b1, b2 = skel.bodies.values()
    assert b1.num_frames == 69 and b2.num_frames == 59
    expected = [v for v in range(69) if not 8 <= v < 18]  # valid-frame indices skip 5, 6
    np.testing.assert_array_equal(b2.frames, expected)
    assert b2.raw_frames[4] == 4 and b2.raw_frames[5] == 7
    # the official quirk: a contiguous interval from the first appearance
    np.testing.assert_array_equal(b2.interval, np.arange(59))
    assert not b2.contiguous and b1.contiguous


def test_ntu_file_without_bodies():
    skel = parse_ntu_skeleton(b"3\r\n0\r\n0\r\n0\r\n")
    assert skel.num_frames == 3 and skel.num_valid_frames == 0 and skel.bodies == {}
    assert parse_ntu_skeleton(b"0\n").bodies == {}


def _mutate(data: bytes, old: bytes, new: bytes, count: int = 1) -> bytes:
    assert old in data
    return data.replace(old, new, count)


@pytest.mark.parametrize("case, expect", [
    ("empty", "empty file"),
    ("truncated", "truncated"),
    ("joint_count", "24 joints, expected 25"),
    ("text", "non-numeric value 'abc'"),
    ("nan", "NaN/Inf"),
    ("inf", "NaN/Inf"),
    ("trailing", "after the last"),
    ("frame_count", "expected the frame count"),
    ("short_line", "11 values, expected 12"),
])
def test_ntu_errors_name_file_and_problem(shared_data, tmp_path, case, expect):
    data = (shared_data / A058).read_bytes()
    lines = data.split(b"\n")
    assert lines[3] == b"25"
    joint = lines[4]
    toks = joint.split(b" ")
    assert len(toks) == 12
    bad = {
        "empty": b"  \n",
        "truncated": data[: len(data) // 2],
        "joint_count": b"\n".join(lines[:3] + [b"24"] + lines[4:]),
        "text": data.replace(joint, b" ".join([toks[0], b"abc"] + toks[2:]), 1),
        "nan": data.replace(joint, b" ".join([b"nan"] + toks[1:]), 1),
        "inf": data.replace(joint, b" ".join(toks[:2] + [b"-inf"] + toks[3:]), 1),
        "trailing": data + b"1 2 3\n",
        "frame_count": b"seventy\n" + data.split(b"\n", 1)[1],
        "short_line": data.replace(joint, b" ".join(toks[:11]), 1),
    }[case]
    p = tmp_path / "S001C001P001R001A058.skeleton"
    p.write_bytes(bad)
    with pytest.raises(DataError) as err:
        read_ntu_skeleton(p)
    msg = str(err.value)
    assert msg.startswith(str(p)) and expect in msg, msg


def test_ntu_missing_file_is_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_ntu_skeleton(tmp_path / "nope.skeleton")


# ------------------------------------------------------------------- vectorised number parser

_decimal = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6).map(
        lambda v: repr(float(v))),
    st.tuples(st.floats(-1e4, 1e4, allow_nan=False), st.integers(0, 9)).map(
        lambda t: f"{t[0]:.{t[1]}f}"),
    st.tuples(st.floats(-10, 10, allow_nan=False), st.integers(0, 8)).map(lambda t: f"{t[0]:.{t[1]}E}"),
    st.integers(-10**14, 10**14).map(str),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_decimal, min_size=1, max_size=40))
def test_parse_decimals_equals_python_float(tokens):
    text = (" " * 16 + " ".join(tokens)).encode()
    buf = np.frombuffer(text, dtype=np.uint8)
    starts, ends, pos = [], [], 16
    for t in tokens:
        starts.append(pos)
        ends.append(pos + len(t))
        pos += len(t) + 1
    got = _parse_decimals(buf, np.array(starts), np.array(ends))
    np.testing.assert_array_equal(got, [float(t) for t in tokens])


@pytest.mark.parametrize("bad", ["1.2.3", "abc", "nan", "-", ".", "1-2", "inf", "1e", "--1"])
def test_parse_decimals_rejects_non_numbers(bad):
    text = (" " * 16 + "1.5 " + bad + " 2").encode()
    buf = np.frombuffer(text, dtype=np.uint8)
    s = np.array([16, 20, 21 + len(bad)])
    assert _parse_decimals(buf, s, np.array([19, 20 + len(bad), len(text)])) is None


# --------------------------------------------------------------------------------------- MSR


def test_msr_real_files(shared_data):
    root = shared_data / "msr_action3d"
    p = root / "a01_s01_e01_skeleton3D.txt"
    nlines = len(p.read_text().splitlines())
    x = read_msr(p)
    assert x.shape == (nlines // 20, 20, 3) and x.dtype == np.float32
    first = np.array([float(v) for v in p.read_text().split()[:3]], dtype=np.float32)
    np.testing.assert_array_equal(x[0, 0], first)
    zero = read_msr(root / "a13_s09_e02_skeleton3D.txt")
    assert zero.shape == (38, 20, 3) and not nonzero_frames(zero).any()
    long = root / "a13_s09_e03_skeleton3D.txt"
    assert read_msr(long).shape[0] == 936
    assert read_msr(long, drop_zero_frames=True).shape[0] == 196


@pytest.mark.parametrize("mutation, expect", [
    (lambda d: d[: d.index(b"\n") + 1], "not a multiple of 20"),
    (lambda d: d.replace(b" ", b"  ", 1).replace(b"1.000000\n", b"\n", 1), "3 values, expected 4"),
    (lambda d: d.replace(b"0.", b"x.", 1), "non-numeric"),
    (lambda d: d.replace(b"1.000000", b"nan", 1), "NaN/Inf"),
    (lambda d: d.rstrip(b"\n"), "no line terminator"),
    (lambda d: b"", "empty file"),
])
def test_msr_errors(shared_data, tmp_path, mutation, expect):
    data = (shared_data / "msr_action3d/a01_s01_e01_skeleton3D.txt").read_bytes()
    p = tmp_path / "a01_s01_e01_skeleton3D.txt"
    p.write_bytes(mutation(data))
    with pytest.raises(DataError, match=expect) as err:
        read_msr(p)
    assert str(p) in str(err.value)


# ------------------------------------------------------------------------------------- SHREC


def test_shrec_real_file(shared_data, tmp_path):
    p = shared_data / "shrec17/skeletons_world.txt"
    x = read_shrec(p)
    assert x.shape == (95, 22, 3)
    first = [float(v) for v in p.read_text().splitlines()[0].split()]
    np.testing.assert_allclose(x[0].ravel(), first, rtol=1e-6)
    bad = tmp_path / "skeletons_world.txt"
    lines = p.read_text().splitlines()
    bad.write_text("\n".join(lines[:3] + [" ".join(lines[3].split()[:65])] + lines[4:]) + "\n")
    with pytest.raises(DataError, match="line 4: 65 values, expected 66"):
        read_shrec(bad)


def test_shrec_index(tmp_path):
    p = tmp_path / "train_gestures.txt"
    p.write_text("1 1 1 1 1 1 95\n14 2 28 5 14 28 40\n\n")
    entries = read_shrec_index(p)
    assert [e.name for e in entries] == ["1_1_1_1", "14_2_28_5"]
    assert entries[1].label28 == 28 and entries[1].size == 40
    assert entries[0].relpath() == "gesture_1/finger_1/subject_1/essai_1/skeletons_world.txt"
    p.write_text("1 1 1 1 1 1\n")
    with pytest.raises(DataError, match="6 values, expected 7"):
        read_shrec_index(p)
    p.write_text("1 1 1 1 1 x 9\n")
    with pytest.raises(DataError, match="expected 7 integers"):
        read_shrec_index(p)
    p.write_text("1 3 1 1 1 1 9\n")
    with pytest.raises(DataError, match="out of range"):
        read_shrec_index(p)


def test_data_error_is_value_error():
    assert issubclass(DataError, ValueError)
