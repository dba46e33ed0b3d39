"""Readers for the raw skeleton files of NTU RGB+D, MSR Action3D, SHREC'17, F-PHAB (FPHA),
UTD-MHAD and Penn Action (the last two are MATLAB ``.mat`` files: optional extra ``mat``, scipy).

Every reader takes a path, returns NumPy arrays in metres (or whatever unit the file uses) and
raises :class:`DataError` -- a ``ValueError`` whose message starts with the file name and says
what is wrong (empty file, truncated, wrong joint count, non-numeric value, NaN/Inf, ...).
Readers never print and never "repair" a file silently.

NTU ``.skeleton`` parsing is the hot path of ``adasgn prepare`` (one file per sample, 56,578
or 113,945 files), so :func:`read_ntu_skeleton` is written for speed:

1. the file is read as bytes and its line offsets are found once;
2. the small structure of counts (frames -> bodies -> joints) is walked in Python, touching
   only the count and body-info lines;
3. the x, y, z tokens of all joint lines are located with NumPy and converted in bulk by a
   vectorised decimal parser (:func:`_parse_decimals`) whose results are bit-identical to
   Python's ``float`` for ordinary decimal and exponent notation;
4. anything the fast path does not recognise (tabs, several spaces, letters, NaN, ...) sends
   the joint lines to a slow, general line-by-line parser, which either parses them or raises a
   precise :class:`DataError`. The fast path never accepts what the slow path would reject in
   the x, y, z columns; in the other nine joint columns it checks the value count and the
   character set only (they are not used).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from ..errors import DataError, UserError

__all__ = [
    "DataError",
    "NTUBody",
    "NTUSkeleton",
    "ShrecIndexEntry",
    "read_ntu_skeleton",
    "parse_ntu_skeleton",
    "read_msr",
    "read_shrec",
    "read_shrec_index",
    "nonzero_frames",
    "read_fpha",
    "read_sfinge3d",
    "read_sfinge3d_gt",
    "sfinge3d_tokens",
    "SfingeGesture",
    "read_mat",
    "read_utd",
    "read_penn",
    "PennSequence",
]




# ---------------------------------------------------------------------------------------------
# NTU RGB+D .skeleton


@dataclass
class NTUBody:
    """One tracked body (one body ID) of an NTU sequence.

    ``frames`` are the *valid-frame* indices where the body appears (frames with no body at all
    are not counted, as in the official parser); ``raw_frames`` are the frame indices in the
    file. ``interval`` is the official parser's interval (spec 5.1 quirk): the first valid-frame
    index, then +1 per further appearance, so a body that vanishes and reappears gets a
    contiguous, shifted interval. ``frames`` is the true one.
    """

    body_id: str
    xyz: np.ndarray  # (n, V, 3) float32, camera space (metres)
    frames: np.ndarray  # (n,) int64 valid-frame indices
    raw_frames: np.ndarray  # (n,) int64 frame indices in the file

    @property
    def num_frames(self) -> int:
        return int(self.xyz.shape[0])

    @property
    def interval(self) -> np.ndarray:
        """The official (quirky) interval: ``frames[0] + arange(n)``."""
        start = int(self.frames[0]) if len(self.frames) else 0
        return np.arange(start, start + self.num_frames, dtype=np.int64)

    @property
    def contiguous(self) -> bool:
        """True when ``interval`` equals ``frames`` (the body never vanishes and reappears)."""
        return bool(np.array_equal(self.interval, self.frames))


@dataclass
class NTUSkeleton:
    """A parsed NTU ``.skeleton`` file."""

    path: str
    num_frames: int  # frame count declared in the file (including frames with no body)
    bodies_per_frame: np.ndarray  # (num_frames,) int64
    bodies: dict[str, NTUBody] = field(default_factory=dict)  # in order of first appearance

    @property
    def name(self) -> str:
        base = os.path.basename(self.path)
        return base[: -len(".skeleton")] if base.endswith(".skeleton") else base

    @property
    def num_valid_frames(self) -> int:
        """Frames with at least one body (the official parser drops the others)."""
        return int(np.count_nonzero(self.bodies_per_frame))


_NUMERIC_CHARS = b"0123456789.-+eE \t\r\n"
_POW10_INT = np.array([10**k for k in range(19)], dtype=np.int64)
_POW10_F = np.array([10.0**k for k in range(23)], dtype=np.float64)
# SWAR constants: 8 digit bytes (first = most significant) -> one integer
_SWAR_M1 = np.uint64(0x0F0F0F0F0F0F0F0F)
_SWAR_C1 = np.uint64(2561)  # 10 << 8 | 1
_SWAR_M2 = np.uint64(0x00FF00FF00FF00FF)
_SWAR_C2 = np.uint64(6553601)  # 100 << 16 | 1
_SWAR_M3 = np.uint64(0x0000FFFF0000FFFF)
_SWAR_C3 = np.uint64(42949672960001)  # 10000 << 32 | 1
_BYTE_SUM = np.uint64(0x0101010101010101)
_ASCII0 = np.uint64(0x3030303030303030)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_ADD76 = np.uint64(0x7676767676767676)  # (b & 0x7F) + 0x76 has the high bit set iff b >= 10
_HIGH = np.uint64(0x8080808080808080)
_DOT = np.uint64(0x1E1E1E1E1E1E1E1E)  # '.' ^ '0'
_FF = np.uint64(0xFF)
_SEVEN = np.uint64(7)
_TOP = np.uint64(56)
# a single 1-byte at column c of the 16-byte window -> 16 - c in the top byte (see _parse_decimals)
_DOT_W0 = np.uint64(0x100F0E0D0C0B0A09)
_DOT_W1 = np.uint64(0x0807060504030201)
# right-aligned token masks: k leading bytes of the 16-byte window are outside the token
_MASK_LO = np.array([(~((1 << (8 * min(k, 8))) - 1)) & 0xFFFFFFFFFFFFFFFF for k in range(17)],
                    dtype=np.uint64)
_MASK_HI = np.array([(~((1 << (8 * max(k - 8, 0))) - 1)) & 0xFFFFFFFFFFFFFFFF for k in range(17)],
                    dtype=np.uint64)


def _fail(path: str, msg: str, kind: str = "format error") -> DataError:
    return DataError(f"{path}: {msg}", kind)


def _read_bytes(path: str) -> bytes:
    """The whole file, or a DataError naming it."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise _fail(path, f"cannot read: {exc.strerror or exc}", "unreadable") from None


def read_ntu_skeleton(path: str | os.PathLike, num_joints: int = 25) -> NTUSkeleton:
    """Read an NTU RGB+D ``.skeleton`` file (LF or CRLF, any number of bodies per frame).

    Returns an :class:`NTUSkeleton` whose bodies are keyed by body ID (kept as a string: IDs
    are 64-bit integers that a float would corrupt). Frames without any body are allowed, as are
    files where no frame has a body (``bodies`` is then empty). Raises :class:`DataError` for an
    empty or truncated file, a count that does not match the content, a joint count other than
    ``num_joints``, a joint line without 12 values, a non-numeric value or NaN/Inf.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    return parse_ntu_skeleton(data, path, num_joints)


def parse_ntu_skeleton(data: bytes, path: str = "<bytes>", num_joints: int = 25) -> NTUSkeleton:
    """:func:`read_ntu_skeleton` on the bytes of a file (``path`` is used in messages)."""
    if not data or data.isspace():
        raise _fail(path, "empty file", "empty file")
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.empty(len(nl) + 1, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl + 1
    ends = np.empty(len(nl) + 1, dtype=np.int64)
    ends[:-1] = nl
    ends[-1] = len(data)
    if starts[-1] == len(data):  # final newline: no last (empty) line
        starts, ends = starts[:-1], ends[:-1]
    sp = np.flatnonzero(buf == 32)
    fast = _ntu_structure_fast(data, buf, starts, ends, sp, num_joints)
    if fast is not None:
        num_frames, per_frame, ids, valid_idx, raw_idx, first_line, sp_a, sp_b = fast
    else:
        num_frames, per_frame, ids, valid_idx, raw_idx, first_line = _ntu_structure_walk(
            data, path, starts, ends, num_joints)
        sp_a = sp_b = None
    nrec = len(ids)
    if nrec:
        first = np.asarray(first_line, dtype=np.int64)
        jl = (first[:, None] + np.arange(num_joints, dtype=np.int64)).ravel()
        if sp_a is None:
            xyz = _ntu_xyz_fast(buf, sp, starts[jl], ends[jl])
        else:
            xyz = _ntu_xyz_fast(buf, sp, starts[jl], ends[jl], sp_a[jl], sp_b[jl])
        if xyz is None or not _info_chars_ok(data):
            xyz = _ntu_slow(data, path, starts.tolist(), ends.tolist(), jl, list(first_line))
        xyz = xyz.reshape(nrec, num_joints, 3)
    else:
        xyz = np.zeros((0, num_joints, 3), dtype=np.float32)

    groups: dict[bytes, list[int]] = {}
    for r, bid in enumerate(ids):
        lst = groups.get(bid)
        if lst is None:
            groups[bid] = [r]
        elif raw_idx[lst[-1]] == raw_idx[r]:
            # the same ID twice in one frame: keep the first (official code would stack both)
            continue
        else:
            lst.append(r)
    valid_arr = np.asarray(valid_idx, dtype=np.int64)
    raw_arr = np.asarray(raw_idx, dtype=np.int64)
    bodies: dict[str, NTUBody] = {}
    for bid, rows in groups.items():
        try:
            int(bid)
        except ValueError:
            raise _fail(path, f"body ID {bid.decode('ascii', 'replace')!r} is not an integer") from None
        if len(rows) == nrec:
            sel = slice(None)
        else:
            sel = np.asarray(rows, dtype=np.int64)
        bodies[bid.decode("ascii")] = NTUBody(
            body_id=bid.decode("ascii"), xyz=xyz[sel], frames=valid_arr[sel], raw_frames=raw_arr[sel]
        )
    return NTUSkeleton(path, num_frames, np.asarray(per_frame, dtype=np.int64), bodies)


def _ntu_structure_walk(data: bytes, path: str, starts: np.ndarray, ends: np.ndarray,
                        num_joints: int) -> tuple:
    """The structure of counts, walked line by line (general; precise errors)."""
    st = starts.tolist()
    en = ends.tolist()
    nlines = len(st)

    def count(k: int, what: str) -> int:
        if k >= nlines:
            raise _fail(path, f"truncated: file ends at line {nlines} where the {what} was expected", "truncated")
        text = data[st[k]:en[k]]
        try:
            val = int(text)
        except ValueError:
            shown = text.strip().decode("ascii", "replace")[:60]
            raise _fail(path, f"line {k + 1}: expected the {what} (one integer), found {shown!r}") from None
        if val < 0:
            raise _fail(path, f"line {k + 1}: negative {what} {val}")
        return val

    num_frames = count(0, "frame count")
    per_frame = []
    ids: list[bytes] = []
    valid_idx: list[int] = []
    raw_idx: list[int] = []
    first_line: list[int] = []
    k = 1
    valid = 0
    for f in range(num_frames):
        b = count(k, f"body count of frame {f + 1}")
        k += 1
        per_frame.append(b)
        for _ in range(b):
            if k >= nlines:
                raise _fail(path, f"truncated: file ends in frame {f + 1} of {num_frames} (body info expected)", "truncated")
            info = data[st[k]:en[k]].split()
            if len(info) != 10:
                raise _fail(path, f"line {k + 1}: body info of frame {f + 1} has {len(info)} values, expected 10")
            nj = count(k + 1, f"joint count of frame {f + 1}")
            if nj != num_joints:
                raise _fail(path, f"line {k + 2}: frame {f + 1} has a body with {nj} joints, expected {num_joints}", "wrong joint count")
            if k + 2 + nj > nlines:
                raise _fail(path, f"truncated: file ends inside the joints of frame {f + 1} of {num_frames}", "truncated")
            ids.append(info[0])
            valid_idx.append(valid)
            raw_idx.append(f)
            first_line.append(k + 2)
            k += 2 + nj
        if b:
            valid += 1
    for j in range(k, nlines):
        if data[st[j]:en[j]].strip():
            raise _fail(path, f"line {j + 1}: unexpected data after the last of the {num_frames} "
                              "frames (frame or body count too small?)")

    return num_frames, per_frame, ids, valid_idx, raw_idx, first_line


def _ntu_structure_fast(data: bytes, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        sp: np.ndarray, num_joints: int) -> tuple | None:
    """The structure of counts checked in bulk, or None when the file is not perfectly regular
    (single spaces, no blank lines, every count consistent) -- then the walk decides."""
    nlines = len(starts)
    a = np.searchsorted(sp, starts)
    b = np.searchsorted(sp, ends)
    ntok = b - a + 1  # values per line if separated by single spaces
    per = 2 + num_joints  # lines per body
    if nlines == 0 or ntok[0] != 1:
        return None
    single = ntok == 1
    after_info = np.zeros(nlines, dtype=bool)
    after_info[1:] = ntok[:-1] == 10
    q = np.flatnonzero(single & ~after_info)  # header, then one body-count line per frame
    try:
        num_frames = int(data[starts[0]:ends[0]])
        counts = [int(data[s:e]) for s, e in zip(starts[q[1:]].tolist(), ends[q[1:]].tolist())]
    except ValueError:
        return None
    if len(counts) != num_frames or min(counts, default=0) < 0:
        return None
    nb = np.asarray(counts, dtype=np.int64)
    expect_q = np.empty(num_frames, dtype=np.int64)
    if num_frames:
        expect_q[0] = 1
        np.cumsum(1 + per * nb[:-1], out=expect_q[1:])
        expect_q[1:] += 1
    if not np.array_equal(q[1:], expect_q):
        return None
    if (expect_q[-1] + 1 + per * nb[-1] if num_frames else 1) != nlines:
        return None
    total = int(nb.sum())
    frame_of = np.repeat(np.arange(num_frames, dtype=np.int64), nb)
    j_in_frame = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(nb) - nb, nb)
    info = np.repeat(expect_q, nb) + 1 + per * j_in_frame
    expect = np.full(nlines, 12, dtype=np.int64)
    expect[0] = 1
    expect[expect_q] = 1
    expect[info] = 10
    expect[info + 1] = 1
    if not np.array_equal(expect, ntok):
        return None
    jc = [data[s:e] for s, e in zip(starts[info + 1].tolist(), ends[info + 1].tolist())]
    want = str(num_joints).encode()
    if any(c != want and c.rstrip() != want for c in jc):
        return None  # the walk reports the wrong joint count
    id_end = sp[a[info]]
    ids = [data[s:e] for s, e in zip(starts[info].tolist(), id_end.tolist())]
    valid = np.cumsum(nb > 0) - 1
    return num_frames, counts, ids, valid[frame_of].tolist(), frame_of.tolist(), info + 2, a, b


def _info_chars_ok(data: bytes) -> bool:
    """True when the file holds only characters of decimal numbers and whitespace."""
    return not data.translate(None, _NUMERIC_CHARS)


def _ntu_xyz_fast(buf: np.ndarray, sp: np.ndarray, ls: np.ndarray, le: np.ndarray,
                  a: np.ndarray | None = None, b: np.ndarray | None = None) -> np.ndarray | None:
    """x, y, z of the joint lines [ls, le) as float32 (n*3,), or None if anything is unusual.

    A joint line must hold 12 values separated by single spaces (11 spaces, none last); the
    first three tokens are parsed. Empty tokens make the parse fail (-> slow path).
    """
    if a is None or b is None:  # (the caller may pass the first and past-last space per line)
        a = np.searchsorted(sp, ls)
        b = np.searchsorted(sp, le)
    if not np.all(b - a == 11):
        return None
    content_end = le - (buf[le - 1] == 13)
    if np.any(sp[b - 1] >= content_end - 1):  # a trailing space: the 12th value is missing
        return None
    tok_start = np.empty((len(ls), 3), dtype=np.int64)
    tok_end = np.empty((len(ls), 3), dtype=np.int64)
    tok_start[:, 0] = ls
    tok_end[:, 0] = sp[a]
    tok_start[:, 1] = tok_end[:, 0] + 1
    tok_end[:, 1] = sp[a + 1]
    tok_start[:, 2] = tok_end[:, 1] + 1
    tok_end[:, 2] = sp[a + 2]
    vals = _parse_decimals(buf, tok_start.ravel(), tok_end.ravel())
    if vals is None:
        return None
    return vals.astype(np.float32)


def _parse_decimals(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray | None:
    """Parse the tokens buf[s:e] as decimals in bulk; float64 values equal to Python's ``float``.

    Plain decimals (``-0.2059419``, ``277.419``, ``3``) of up to 15 characters after the sign
    are converted with NumPy, SWAR style: the 16 bytes ending at each token are loaded as two
    (unaligned) uint64 words; byte-parallel arithmetic checks that the token holds only digits
    and at most one dot, turns the digits into one exact integer (the dot read as a 0 digit,
    then removed) and finds the number of decimals; one division by a power of ten then rounds
    correctly. Every other token (exponent notation, long tokens, ...) goes through Python's
    ``float`` one by one. Returns None when a token is not a finite number (the caller then
    reports the exact problem).
    """
    n = len(s)
    if n == 0:
        return np.zeros(0)
    if len(buf) < 16:
        buf = np.concatenate([np.full(16, 32, np.uint8), buf])
        s, e = s + 16, e + 16
    neg = buf[s] == 45
    length = e - (s + neg)
    short = (length >= 1) & (length <= 15) & (e >= 16)
    k = 16 - np.clip(length, 1, 15)  # bytes of the 16-byte window left of the token
    words = np.ndarray((len(buf) - 7,), dtype=np.uint64, buffer=buf, offset=0, strides=(1,))
    e16 = np.maximum(e - 16, 0)
    w0 = words[e16]  # bytes e-16 .. e-9 (first byte = lowest)
    w1 = words[e16 + 8]  # bytes e-8 .. e-1
    m0 = _MASK_LO[k]  # 0xFF on the token's bytes
    m1 = _MASK_HI[k]
    t0 = w0 ^ _ASCII0  # digits -> 0..9
    t1 = w1 ^ _ASCII0
    # high bit of each byte set where the byte is not a digit (>= 10) / is a dot (0x1E)
    nd0 = (((t0 & _LOW7) + _ADD76) | t0) & _HIGH
    nd1 = (((t1 & _LOW7) + _ADD76) | t1) & _HIGH
    u0 = t0 ^ _DOT
    u1 = t1 ^ _DOT
    dot0 = ~((((u0 & _LOW7) + _LOW7) | u0)) & _HIGH & m0
    dot1 = ~((((u1 & _LOW7) + _LOW7) | u1)) & _HIGH & m1
    bad = ((nd0 & ~dot0 & m0) | (nd1 & ~dot1 & m1)) != 0
    d0 = dot0 >> _SEVEN  # 0x01 at the dot byte
    d1 = dot1 >> _SEVEN
    ndot = ((d0 * _BYTE_SUM) >> _TOP) + ((d1 * _BYTE_SUM) >> _TOP)
    fast = short & ~bad & (ndot <= 1) & (length > ndot)
    # digits -> one integer (SWAR): bytes outside the token and the dot become 0
    v0 = t0 & m0 & ~(d0 * _FF)
    v1 = t1 & m1 & ~(d1 * _FF)
    v = np.stack([v0, v1], axis=1)
    v = ((v & _SWAR_M1) * _SWAR_C1) >> np.uint64(8)
    v = ((v & _SWAR_M2) * _SWAR_C2) >> np.uint64(16)
    v = ((v & _SWAR_M3) * _SWAR_C3) >> np.uint64(32)
    x = (v[:, 0] * np.uint64(100_000_000) + v[:, 1]).astype(np.int64)
    # digits after the dot (with at most one dot, the weighted byte sum finds its column)
    r1 = ((d0 * _DOT_W0) >> _TOP) + ((d1 * _DOT_W1) >> _TOP)
    r = np.clip(r1.astype(np.int64) - 1, 0, 15)
    p = _POW10_INT[r]
    low = x % p
    mant = np.where(ndot > 0, (x - low) // 10 + low, x)
    vals = mant.astype(np.float64) / _POW10_F[r]
    vals = np.where(neg, -vals, vals)
    if not fast.all():
        data = buf.tobytes()
        for i in np.flatnonzero(~fast).tolist():
            try:
                f = float(data[s[i]:e[i]])
            except ValueError:
                return None
            if not math.isfinite(f):
                return None
            vals[i] = f
    return vals


def _ntu_slow(data: bytes, path: str, st: list, en: list, jl: np.ndarray, first_line: list) -> np.ndarray:
    """General line-by-line parse of the joint lines; precise DataError on any bad value."""
    out = np.empty((len(jl), 3), dtype=np.float64)
    for r, k in enumerate(jl.tolist()):
        toks = data[st[k]:en[k]].split()
        if len(toks) != 12:
            raise _fail(path, f"line {k + 1}: joint line has {len(toks)} values, expected 12")
        out[r] = _finite_values(path, k, toks)[:3]
    for k0 in first_line:  # body-info lines: 10 numbers, the first an integer ID
        k = k0 - 2
        _finite_values(path, k, data[st[k]:en[k]].split(), " in body info")
    return out.astype(np.float32).ravel()


def _finite_values(path, k: int, toks: list, where: str = "") -> list[float]:
    """The tokens of line ``k`` (0-based) as finite floats, or a DataError naming the value."""
    vals = []
    for t in toks:
        shown = t.decode("ascii", "replace")[:40]
        try:
            v = float(t)
        except ValueError:
            raise _fail(path, f"line {k + 1}: non-numeric value {shown!r}{where}", "non-numeric") from None
        if not math.isfinite(v):
            raise _fail(path, f"line {k + 1}: NaN/Inf value {shown!r}{where}", "NaN/Inf")
        vals.append(v)
    return vals


# ---------------------------------------------------------------------------------------------
# Simple whitespace-separated tables (MSR Action3D, SHREC'17)


def _read_table(path: str | os.PathLike, ncols: int, what: str) -> np.ndarray:
    """Rows of ``ncols`` numbers per line -> float64 (rows, ncols). Blank lines only at the end.

    A last line without a line terminator is treated as truncated (the datasets' files all end
    with a newline, and a cut inside the last number would otherwise go unnoticed).
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if not data.strip():
        raise _fail(path, "empty file", "empty file")
    body = data.rstrip()
    if not data[len(body):].count(b"\n"):
        raise _fail(path, "truncated: the last line has no line terminator", "truncated")
    lines = body.split(b"\n")
    toks: list[bytes] = []
    for i, line in enumerate(lines):
        parts = line.split()
        if len(parts) != ncols:
            if not parts:
                raise _fail(path, f"line {i + 1}: blank line inside the data")
            raise _fail(path, f"line {i + 1}: {len(parts)} values, expected {ncols} ({what})")
        toks.extend(parts)
    try:
        arr = np.array(toks, dtype=np.float64)
    except ValueError:
        for i, line in enumerate(lines):
            for t in line.split():
                try:
                    float(t)
                except ValueError:
                    shown = t.decode("ascii", "replace")[:40]
                    raise _fail(path, f"line {i + 1}: non-numeric value {shown!r}", "non-numeric") from None
        raise _fail(path, "non-numeric value", "non-numeric") from None
    arr = arr.reshape(len(lines), ncols)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad.any(axis=1))[0])
        raise _fail(path, f"line {i + 1}: NaN/Inf value", "NaN/Inf")
    return arr


def nonzero_frames(x: np.ndarray) -> np.ndarray:
    """Boolean mask of frames (axis 0 of (T, V, C)) that are not entirely zero."""
    return np.any(x.reshape(len(x), -1) != 0, axis=1)


def read_msr(path: str | os.PathLike, drop_zero_frames: bool = False) -> np.ndarray:
    """Read an MSR Action3D ``aXX_sYY_eZZ_skeleton3D.txt`` file -> float32 (T, 20, 3).

    Each line is ``x y z confidence`` and 20 lines make a frame; the confidence column is
    dropped (it is not a usable mask). Missing frames are 20 zero rows: they are kept unless
    ``drop_zero_frames`` (find them with :func:`nonzero_frames`).
    """
    arr = _read_table(path, 4, "x y z confidence")
    if len(arr) % 20:
        raise _fail(os.fspath(path), f"truncated or wrong joint count: {len(arr)} lines is not a "
                                     "multiple of 20 (20 joints per frame)", "truncated")
    xyz = arr.reshape(-1, 20, 4)[:, :, :3].astype(np.float32)
    if drop_zero_frames:
        xyz = xyz[nonzero_frames(xyz)]
    return xyz


def read_shrec(path: str | os.PathLike) -> np.ndarray:
    """Read a SHREC'17 / DHG ``skeletons_world.txt`` -> float32 (T, 22, 3).

    One line per frame with 66 numbers (22 joints x (x, y, z), joint-major).
    """
    arr = _read_table(path, 66, "22 joints x (x, y, z)")
    return arr.reshape(-1, 22, 3).astype(np.float32)


class ShrecIndexEntry(NamedTuple):
    """One line of SHREC'17's ``train_gestures.txt`` / ``test_gestures.txt`` (all 1-based)."""

    gesture: int
    finger: int
    subject: int
    essai: int
    label14: int
    label28: int
    size: int  # number of frames

    @property
    def name(self) -> str:
        return f"{self.gesture}_{self.finger}_{self.subject}_{self.essai}"

    def relpath(self) -> str:
        return (f"gesture_{self.gesture}/finger_{self.finger}/subject_{self.subject}/"
                f"essai_{self.essai}/skeletons_world.txt")


def read_shrec_index(path: str | os.PathLike) -> list[ShrecIndexEntry]:
    """Read ``train_gestures.txt`` / ``test_gestures.txt``: 7 integers per line
    (gesture finger subject essai label_14 label_28 size)."""
    path = os.fspath(path)
    data = _read_bytes(path)
    if not data.strip():
        raise _fail(path, "empty file", "empty file")
    out = []
    for i, line in enumerate(data.strip().split(b"\n")):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 7:
            raise _fail(path, f"line {i + 1}: {len(parts)} values, expected 7 "
                              "(gesture finger subject essai label_14 label_28 size)")
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            raise _fail(path, f"line {i + 1}: expected 7 integers, found "
                              f"{line.strip().decode('ascii', 'replace')[:80]!r}") from None
        e = ShrecIndexEntry(*vals)
        if not (1 <= e.finger <= 2 and 1 <= e.label14 <= 14 and 1 <= e.label28 <= 28
                and e.gesture >= 1 and e.subject >= 1 and e.essai >= 1 and e.size >= 0):
            raise _fail(path, f"line {i + 1}: value out of range in {vals}")
        out.append(e)
    return out


# ---------------------------------------------------------------------------------------------
# F-PHAB / FPHA (skeleton.txt) and MATLAB files (UTD-MHAD, Penn Action)


def read_fpha(path: str | os.PathLike) -> np.ndarray:
    """Read an F-PHAB ``Subject_S/<action>/<n>/skeleton.txt`` -> float32 (T, 21, 3), in the
    file's unit (millimetres). Each line is the frame index, then 21 joints x (x, y, z)."""
    arr = _read_table(path, 64, "frame index + 21 joints x (x, y, z)")
    return arr[:, 1:].reshape(-1, 21, 3).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# SFINGE3D (Leap Motion hand, 20 joints x (x, y, z, qx, qy, qz, qw) per frame)

SFINGE_JOINTS = 20
SFINGE_VALUES = 7  # position (x, y, z) + orientation quaternion (x, y, z, w)


def sfinge3d_tokens(line: bytes) -> list[bytes]:
    """The numbers of one SFINGE3D line (``;`` or ``,`` between them, a trailing one allowed)."""
    return line.replace(b",", b";").strip().rstrip(b";").split(b";")


def read_sfinge3d(path: str | os.PathLike, quaternions: bool = False) -> np.ndarray:
    """Read a SFINGE3D gesture (``Dictionary/<class>/<n>.txt``) or long sequence
    (``Sequences/<n>.txt``) -> float32 (T, 20, 3) positions, or (T, 20, 7) with the joints'
    orientation quaternions (``quaternions``).

    One frame per line, 140 numbers (20 joints x 7, the layout ``leap20``'s order). The
    dictionary separates the numbers with ``;``, the sequences with ``,``; a separator at the
    end of a line is allowed, and so are blank lines after the last frame."""
    path = os.fspath(path)
    data = _read_bytes(path)
    lines = data.rstrip().split(b"\n")
    if not data.strip():
        raise _fail(path, "empty file", "empty file")
    ncols = SFINGE_JOINTS * SFINGE_VALUES
    rows = []
    for i, line in enumerate(lines):
        toks = sfinge3d_tokens(line)
        if toks == [b""]:
            raise _fail(path, f"line {i + 1}: blank line inside the data")
        if len(toks) != ncols:
            raise _fail(path, f"line {i + 1}: {len(toks)} values, expected {ncols} (20 joints x "
                              "(x, y, z, qx, qy, qz, qw))")
        try:
            rows.append([float(t) for t in toks])
        except ValueError:
            bad = next(t for t in toks if not _is_float(t))
            raise _fail(path, f"line {i + 1}: non-numeric value "
                              f"{bad.decode('ascii', 'replace')[:40]!r}", "non-numeric") from None
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, SFINGE_JOINTS, SFINGE_VALUES)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad.any(axis=(1, 2)))[0])
        raise _fail(path, f"line {i + 1}: NaN/Inf value", "NaN/Inf")
    return (arr if quaternions else arr[..., :3]).astype(np.float32)


def _is_float(tok: bytes) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


class SfingeGesture(NamedTuple):
    """One annotated gesture of a SFINGE3D long sequence: 0-based label and frames (inclusive)."""

    label: int
    start: int
    end: int


def read_sfinge3d_gt(path: str | os.PathLike, num_classes: int = 13) -> dict[int, list[SfingeGesture]]:
    """``Sequences/sequencesGT.csv`` -> ``{sequence id: [SfingeGesture, ...]}``.

    Each line: ``id, n, label_1, start_1, end_1, ..., label_n, start_n, end_n``; labels 1-13
    and frame numbers as in the file are 1-based, returned 0-based (label - 1, frame - 1)."""
    path = os.fspath(path)
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as exc:
        raise _fail(path, f"cannot read: {exc.strerror or exc}", "unreadable") from None
    out: dict[int, list[SfingeGesture]] = {}
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            vals = [int(v) for v in line.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise _fail(path, f"line {i + 1}: non-integer value", "non-numeric") from None
        if len(vals) < 2 or len(vals) != 2 + 3 * vals[1]:
            raise _fail(path, f"line {i + 1}: expected id, n and n x (label, start, end); got "
                              f"{len(vals)} values")
        sid, n = vals[:2]
        if sid in out:
            raise _fail(path, f"line {i + 1}: sequence {sid} listed twice")
        gestures = []
        for k in range(n):
            label, start, end = vals[2 + 3 * k:5 + 3 * k]
            if not 1 <= label <= num_classes:
                raise _fail(path, f"line {i + 1}: label {label} is not one of 1..{num_classes}",
                            "unknown class")
            if not 1 <= start <= end:
                raise _fail(path, f"line {i + 1}: gesture {k + 1} has start {start}, end {end}")
            gestures.append(SfingeGesture(label - 1, start - 1, end - 1))
        out[sid] = gestures
    if not out:
        raise _fail(path, "no sequence listed", "empty file")
    return out


def _loadmat():
    """scipy.io.loadmat, or a UserError naming the extra to install (scipy is optional)."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise UserError("reading MATLAB .mat files needs scipy: pip install 'adasgn[mat]' "
                        "(or pip install scipy)") from None
    return loadmat


def require_mat_support() -> None:
    """Raise UserError now (once, before any file is read) when scipy is missing."""
    _loadmat()


def read_mat(path: str | os.PathLike, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The variables of a MATLAB ``.mat`` file (v4 to v7; scipy's ``loadmat``) -> ``{name: array}``.

    ``keys``: the variables that must be there (a missing one is a DataError listing the ones
    the file has). MATLAB's own ``__header__`` entries are left out.
    """
    path = os.fspath(path)
    loadmat = _loadmat()
    if not os.path.isfile(path):
        raise _fail(path, "file not found", "file not found")
    if os.path.getsize(path) == 0:
        raise _fail(path, "empty file", "empty file")
    try:
        data = loadmat(path)
    except NotImplementedError:
        raise _fail(path, "MATLAB v7.3 (HDF5) file: not supported; save it with -v7") from None
    except (ValueError, TypeError, OSError, EOFError, IndexError, KeyError) as exc:
        raise _fail(path, f"not a readable .mat file ({type(exc).__name__}: {exc})",
                    "truncated" if isinstance(exc, EOFError) else "format error") from None
    out = {k: v for k, v in data.items() if not k.startswith("__")}
    for k in keys or ():
        if k not in out:
            raise _fail(path, f"no variable {k!r} (the file has {sorted(out)})", "missing key")
    return out


def _finite(path: str, arr: np.ndarray, what: str) -> np.ndarray:
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise _fail(path, f"{what} is not numeric", "non-numeric") from None
    if not np.isfinite(arr).all():
        raise _fail(path, f"{what} holds NaN/Inf", "NaN/Inf")
    return arr


def read_utd(path: str | os.PathLike) -> np.ndarray:
    """Read a UTD-MHAD ``aA_sS_tT_skeleton.mat`` -> float32 (T, 20, 3), metres. The variable
    ``d_skel`` is (20 joints, 3, T) in UTD's joint order (layout ``utd20``)."""
    path = os.fspath(path)
    d = read_mat(path, ["d_skel"])["d_skel"]
    if d.ndim == 2 and d.shape == (20, 3):
        d = d[:, :, None]  # a one-frame sequence (MATLAB drops trailing singleton axes)
    if d.ndim != 3 or d.shape[:2] != (20, 3):
        raise _fail(path, f"d_skel has shape {d.shape}, expected (20 joints, 3, T)",
                    "wrong joint count")
    if d.shape[2] == 0:
        raise _fail(path, "d_skel has no frame", "empty file")
    return _finite(path, d, "d_skel").transpose(2, 0, 1).astype(np.float32)


class PennSequence(NamedTuple):
    """One Penn Action label file: 2-D joints, visibility, the action name and the split flag."""

    xy: np.ndarray  # (T, 13, 2) float32 pixels, image y pointing down
    visibility: np.ndarray  # (T, 13) bool
    action: str
    train: int  # 1 = train, -1 = test


def read_penn(path: str | os.PathLike) -> PennSequence:
    """Read a Penn Action ``NNNN.mat``: ``x``, ``y`` and ``visibility`` (T, 13), ``action`` and
    ``train`` (1 / -1). The frame count is the arrays' (``nframes`` is a uint8 in some files)."""
    path = os.fspath(path)
    d = read_mat(path, ["x", "y", "visibility", "action", "train"])
    x, y, vis = (np.atleast_2d(d[k]) for k in ("x", "y", "visibility"))
    if x.shape != y.shape or x.shape != vis.shape:
        raise _fail(path, f"x {x.shape}, y {y.shape} and visibility {vis.shape} differ in shape")
    if x.ndim != 2 or x.shape[1] != 13:
        raise _fail(path, f"x has shape {x.shape}, expected (T, 13 joints)", "wrong joint count")
    if x.shape[0] == 0:
        raise _fail(path, "no frame", "empty file")
    xy = np.stack([_finite(path, x, "x"), _finite(path, y, "y")], axis=-1).astype(np.float32)
    action = d["action"]
    action = str(action.ravel()[0]).strip() if np.size(action) else ""
    try:
        train = int(np.asarray(d["train"]).ravel()[0])
    except (TypeError, ValueError, IndexError):
        raise _fail(path, f"train flag {d['train']!r} is not 1 or -1") from None
    return PennSequence(xy, _finite(path, vis, "visibility") != 0, action, train)
