"""Fuzzing the readers with mutated real fixture files (hypothesis).

Each mutation has a known verdict (the oracle below): truncating a file, deleting a line,
injecting text / NaN / Inf into a value, or changing a count always makes the file bad (with the
exceptions the oracle spells out, e.g. a cut that only removes trailing whitespace); changing
line endings or adding trailing blank lines keeps it good. The readers must never crash with
anything but DataError, must reject every bad file and accept every good one -- and ``prepare``
must report every bad file and keep every good one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adasgn.data.prepare import prepare_msr, prepare_ntu
from adasgn.data.readers import DataError, read_msr, read_ntu_skeleton, read_shrec

# words with letters other than e/E: never a valid number in any column
BAD_WORDS = ["abc", "nan", "NaN", "inf", "-inf", "Infinity", "x1", "1.0f", "null", "#", "1,5"]
FIXTURES = {
    "ntu1": "ntu/S001C001P001R001A001.skeleton",
    "ntu2": "ntu/S001C001P001R001A058.skeleton",
    "msr": "msr_action3d/a02_s03_e01_skeleton3D.txt",
    "shrec": "shrec17/skeletons_world.txt",
}
_cache: dict[str, bytes] = {}


def fixture_bytes(shared: Path, key: str) -> bytes:
    if key not in _cache:
        _cache[key] = (shared / FIXTURES[key]).read_bytes()
    return _cache[key]


def _lines(data: bytes) -> tuple[list[bytes], bytes]:
    nl = b"\r\n" if b"\r\n" in data else b"\n"
    return data.split(nl)[:-1], nl  # fixtures end with a newline


def _ntu_count_lines(lines: list[bytes]) -> list[int]:
    """Indices of the count lines (frame, body and joint counts) of an NTU file."""
    idx, k = [0], 1
    for _ in range(int(lines[0])):
        idx.append(k)
        nb = int(lines[k])
        k += 1
        for _ in range(nb):
            idx.append(k + 1)
            k += 27
    return idx


@st.composite
def mutations(draw, kind: str):
    """(mutation name, function data -> (new data, is_good))."""
    op = draw(st.sampled_from(["truncate", "delete_line", "inject", "count", "benign"]))
    if op == "count" and kind == "shrec":
        op = "inject"
    frac = draw(st.floats(0, 1, exclude_max=True))
    frac2 = draw(st.floats(0, 1, exclude_max=True))
    word = draw(st.sampled_from(BAD_WORDS)).encode()
    delta = draw(st.sampled_from([-2, -1, 1, 2, 7]))
    benign = draw(st.sampled_from(["crlf", "lf", "blank_lines"]))

    def apply(data: bytes) -> tuple[bytes, bool]:
        lines, nl = _lines(data)
        if op == "truncate":
            cut = data[: int(frac * len(data))]
            if kind == "ntu":
                return cut, cut.rstrip() == data.rstrip()
            complete = cut.endswith(b"\n") and cut.strip() != b""
            nlines = len(cut.rstrip().split(b"\n")) if complete else 0
            good = complete and (kind != "msr" or nlines % 20 == 0)
            return cut, good
        if op == "delete_line":
            k = int(frac * len(lines))
            if kind == "shrec":
                # a SHREC file has no counts: deleting a frame is undetectable by the reader;
                # delete one value instead
                toks = lines[k].split(b" ")
                del toks[int(frac2 * len(toks))]
                lines[k] = b" ".join(toks)
            else:
                del lines[k]
            return nl.join(lines) + nl, False
        if op == "inject":
            k = int(frac * len(lines))
            toks = lines[k].split(b" ")
            toks[int(frac2 * len(toks))] = word
            lines[k] = b" ".join(toks)
            return nl.join(lines) + nl, False
        if op == "count":
            if kind == "ntu":
                counts = _ntu_count_lines(lines)
                k = counts[int(frac * len(counts))]
                lines[k] = str(int(lines[k]) + delta).encode()
            else:  # MSR: a line with one value too many or too few
                k = int(frac * len(lines))
                toks = lines[k].split(b" ")
                lines[k] = b" ".join(toks[:-1] if delta < 0 else toks + [b"0.5"])
            return nl.join(lines) + nl, False
        # benign: line endings, trailing blank lines
        if benign == "crlf":
            return b"\r\n".join(lines) + b"\r\n", True
        if benign == "lf":
            return b"\n".join(lines) + b"\n", True
        return data + nl + nl, True

    return op, apply


def _read(kind: str, path: Path):
    return {"ntu": read_ntu_skeleton, "msr": read_msr, "shrec": read_shrec}[kind](path)


@pytest.mark.parametrize("key", list(FIXTURES))
def test_fuzz_reader_verdicts(shared_data, key):
    kind = "ntu" if key.startswith("ntu") else key
    original = fixture_bytes(shared_data, key)
    reference = _read(kind, shared_data / FIXTURES[key])

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutations(kind))
    def check(mutation):
        op, apply = mutation
        data, good = apply(original)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(FIXTURES[key]).name
            path.write_bytes(data)
            try:
                result = _read(kind, path)
            except DataError as exc:
                assert not good, f"{op}: good file rejected: {exc}"
                assert str(path) in str(exc)
                return
        assert good, f"{op}: bad file accepted"
        if op == "benign":  # same content
            if kind == "ntu":
                for a, b in zip(reference.bodies.values(), result.bodies.values()):
                    np.testing.assert_array_equal(a.xyz, b.xyz)
            else:
                np.testing.assert_array_equal(reference, result)

    check()


def test_crlf_msr_and_shrec_are_read(shared_data, tmp_path):
    for key in ("msr", "shrec"):
        data = fixture_bytes(shared_data, key).replace(b"\n", b"\r\n")
        p = tmp_path / Path(FIXTURES[key]).name
        p.write_bytes(data)
        np.testing.assert_array_equal(_read(key, p), _read(key, shared_data / FIXTURES[key]))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(mutations("ntu"), min_size=2, max_size=5), st.lists(st.booleans(), min_size=5, max_size=5))
def test_fuzz_prepare_reports_every_bad_file_and_keeps_every_good_one(shared_data, muts, which):
    expected_good, expected_bad = set(), set()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        for i, ((op, apply), two) in enumerate(zip(muts, which)):
            key = "ntu2" if two else "ntu1"
            data, good = apply(fixture_bytes(shared_data, key))
            name = f"S001C001P{i + 1:03d}R001A{58 if two else 1:03d}.skeleton"
            (raw / name).write_bytes(data)
            (expected_good if good else expected_bad).add(name)
        (raw / "S001C002P001R001A001.skeleton").write_bytes(fixture_bytes(shared_data, "ntu1"))
        expected_good.add("S001C002P001R001A001.skeleton")
        res = prepare_ntu(raw, Path(tmp) / "out.pkl", workers=1, progress=False)
        rejected = {name for name, *_ in res.rejects}
        listed = (Path(tmp) / "out.pkl.rejects.txt").read_text()
    assert rejected == expected_bad
    assert res.kept == len(expected_good)
    assert all(name in listed for name in expected_bad)


def test_fuzz_msr_prepare_counts(shared_data):
    """prepare msr on a mutated copy of a few MSR files: bad ones reported, good ones kept."""
    src = shared_data / "msr_action3d"
    names = ["a01_s01_e01", "a02_s02_e01", "a03_s03_e01", "a04_s05_e01", "a13_s09_e02"]
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        for n in names:
            (raw / f"{n}_skeleton3D.txt").write_bytes((src / f"{n}_skeleton3D.txt").read_bytes())
        p = raw / "a02_s02_e01_skeleton3D.txt"
        p.write_bytes(p.read_bytes().replace(b"0.", b"NaN", 1))
        res = prepare_msr(raw, Path(tmp) / "m.pkl", workers=1, progress=False)
    assert {n for n, *_ in res.rejects} == {"a02_s02_e01_skeleton3D.txt", "a13_s09_e02_skeleton3D.txt"}
    assert res.kept == 3
