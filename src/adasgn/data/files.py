"""``adasgn prepare files``: a folder of per-sequence files in, one canonical pyskl pkl out.

The path for a dataset of one's own (docs/data.md, "Your own dataset"). Every file holds one
sequence:

* ``.npy``; ``.npz`` / ``.mat`` / ``.json`` with ``keys`` (one variable, or several stacked as
  the channel axis, e.g. Penn Action's ``x,y``); ``.csv`` / ``.tsv`` / ``.txt`` tables (one row
  per frame, a header row is skipped, ``columns`` picks a column range, e.g. ``1:`` to drop a
  frame-index column);
* the axis order is stated (``axes``: ``T,V,C``, ``V,C,T``, ``M,T,V,C``, ...; for a table the rows
  are ``T`` and the other axes are flattened in the columns, e.g. ``T,V,C`` = joint-major
  ``x1 y1 z1 x2 ...``, ``T,C,V`` = ``x1 ... xV y1 ... yV ...``);
* the layout is a built-in name or a YAML file; the joint axis must match it;
* labels and splits come from a regular expression on the path relative to the folder (groups
  ``label``, and ``subject`` with ``train_subjects``, or ``split``; optional ``name``), or from an
  index CSV (columns ``path,label,split`` and optionally ``name``; ``split`` may list several
  split names separated by ``;``). Labels are integers (minus ``first_label``) or class names
  (their order: ``classes`` or sorted);
* the same normalisation step as the built-in F-PHAB / UTD-MHAD / Penn Action preparers
  (:class:`adasgn.data.prepare.Normalise`: unit scale, y flip, centring, unit length, dropping
  all-zero frames), so each of those sets imports both ways with identical results.

Every file that cannot be used is skipped and reported with its path and the problem (summary
and ``OUT.rejects.txt``), exactly as the dataset preparers do.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..skeleton import Layout, get_layout
from .prepare import Normalise, PrepareResult, Reject, _base_meta, _finish, _map, _safe
from .readers import DataError, read_mat, require_mat_support

__all__ = ["FileFormat", "FileLabels", "EXTENSIONS", "parse_axes", "read_sequence",
           "prepare_files"]

EXTENSIONS = (".npy", ".npz", ".mat", ".json", ".csv", ".tsv", ".txt")
_AXES = ("M", "T", "V", "C")


def parse_axes(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"V,C,T"`` -> ("V", "C", "T"): T, V and C once each, M optional."""
    axes = tuple(a.strip().upper() for a in (text.split(",") if isinstance(text, str) else text)
                 if a.strip())
    if sorted(set(axes)) != sorted(axes) or not {"T", "V", "C"} <= set(axes) \
            or not set(axes) <= set(_AXES):
        raise ValueError(f"axes {','.join(axes) or text!r}: give T, V and C once each (and M "
                         "optionally), e.g. T,V,C or V,C,T or M,T,V,C")
    return axes


@dataclass(frozen=True)
class FileFormat:
    """How to read one sequence file (see the module docstring)."""

    axes: tuple[str, ...] = ("T", "V", "C")
    keys: tuple[str, ...] = ()  # .npz / .mat / .json variable(s); several = stacked as C
    mask_key: str | None = None  # a variable without C: joints where it is 0 become 0
    columns: tuple[int | None, int | None] | None = None  # tables: column slice [a:b]
    channels: int | None = None  # tables with an M axis: channels per joint (default 3)
    delimiter: str | None = None  # tables: None = comma if the first row has one, else spaces


def _table(path: str, fmt: FileFormat) -> np.ndarray:
    try:
        with open(path, "r", encoding="utf-8", errors="replace", newline="") as fh:
            text = fh.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}", "unreadable") from None
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise DataError(f"{path}: empty file", "empty file")
    delim = fmt.delimiter
    if delim is None:
        first = lines[-1][1] if len(lines) == 1 else lines[1][1]
        delim = "," if "," in first else (";" if ";" in first else None)

    def split(line: str) -> list[str]:
        return [t.strip() for t in line.split(delim)] if delim else line.split()

    rows, width = [], None
    for k, (i, line) in enumerate(lines):
        toks = split(line)
        if fmt.columns is not None:
            toks = toks[slice(*fmt.columns)]
        try:
            vals = [float(t) for t in toks]
        except ValueError:
            if k == 0:
                continue  # a header row
            bad = next(t for t in toks if not _is_float(t))
            raise DataError(f"{path}: line {i}: non-numeric value {bad[:40]!r}", "non-numeric") from None
        if width is None:
            width = len(vals)
        elif len(vals) != width:
            raise DataError(f"{path}: line {i}: {len(vals)} values, expected {width} as on the "
                            "first data line", "format error")
        rows.append(vals)
    if not rows or not width:
        raise DataError(f"{path}: no data row", "empty file")
    return np.asarray(rows, dtype=np.float64)


def _is_float(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def _numeric(path: str, value, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: {what} is not a numeric array", "non-numeric") from None
    return arr


def _variables(path: str, fmt: FileFormat, suffix: str) -> dict:
    wanted = list(fmt.keys) + ([fmt.mask_key] if fmt.mask_key else [])
    if suffix == ".npy":
        if fmt.keys:
            raise DataError(f"{path}: a .npy holds one array: --key does not apply", "format error")
        try:
            return {"": np.load(path, allow_pickle=False)}
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{path}: not a readable .npy ({exc})",
                            "empty file" if os.path.getsize(path) == 0 else "format error") from None
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (ValueError, OSError, EOFError, KeyError) as exc:
            raise DataError(f"{path}: not a readable .npz ({exc})",
                            "empty file" if os.path.getsize(path) == 0 else "format error") from None
    elif suffix == ".mat":
        data = read_mat(path)
    else:  # .json
        try:
            with open(path, "r", encoding="utf-8") as fh:
                obj = json.load(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not valid JSON ({exc})",
                            "empty file" if os.path.getsize(path) == 0 else "format error") from None
        data = obj if isinstance(obj, dict) else {"": obj}
    missing = [k for k in wanted if k not in data]
    if missing:
        raise DataError(f"{path}: no variable {missing[0]!r} (the file has {sorted(data)})",
                        "missing key")
    if not fmt.keys:
        if len(data) != 1:
            raise DataError(f"{path}: {len(data)} variables {sorted(data)}: say which with --key",
                            "missing key")
    return data


def read_sequence(path: str | os.PathLike, fmt: FileFormat, layout: Layout | str) -> np.ndarray:
    """One sequence file -> float32 (M, T, V, C) (not normalised), or a DataError naming the
    file and the problem."""
    path = os.fspath(path)
    lay = get_layout(layout)
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; expected one of "
                        f"{', '.join(EXTENSIONS)}", "format error")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: empty file", "empty file")
    axes = fmt.axes
    mask = None
    if suffix in (".csv", ".tsv", ".txt"):
        arr = _table(path, fmt)
        rest = [a for a in axes if a != "T"]
        if axes[0] != "T":
            raise DataError(f"{path}: a table has one row per frame: --axes must start with T",
                            "format error")
        sizes = {"V": lay.num_joints, "M": None, "C": fmt.channels or (3 if "M" in rest else None)}
        known = int(np.prod([sizes[a] for a in rest if sizes[a]]))
        if arr.shape[1] % known:
            raise DataError(f"{path}: {arr.shape[1]} values per row do not divide into "
                            f"{'x'.join(rest)} with {lay.num_joints} joints (layout {lay.name})",
                            "wrong joint count")
        unknown = [a for a in rest if not sizes[a]]
        if unknown:
            sizes[unknown[0]] = arr.shape[1] // known
        arr = arr.reshape(arr.shape[0], *[sizes[a] for a in rest])
    else:
        data = _variables(path, fmt, suffix)
        keys = fmt.keys or tuple(data)
        arrays = [_numeric(path, data[k], f"variable {k!r}" if k else "the array") for k in keys]
        if len(arrays) > 1:
            shapes = {a.shape for a in arrays}
            if len(shapes) != 1:
                raise DataError(f"{path}: variables {', '.join(keys)} differ in shape "
                                f"{[a.shape for a in arrays]}", "format error")
            arr = np.stack(arrays, axis=axes.index("C"))
        else:
            arr = arrays[0]
        if fmt.mask_key:
            mask = _numeric(path, data[fmt.mask_key], f"variable {fmt.mask_key!r}")
            if mask.shape != tuple(s for i, s in enumerate(arr.shape) if axes[i] != "C"):
                raise DataError(f"{path}: mask {fmt.mask_key!r} has shape {mask.shape}, the "
                                f"data {arr.shape} ({','.join(axes)})", "format error")
            mask = np.expand_dims(mask, axes.index("C"))
    if arr.ndim != len(axes):
        raise DataError(f"{path}: array of shape {arr.shape} ({arr.ndim} axes) does not fit "
                        f"--axes {','.join(axes)}", "format error")
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: NaN/Inf value", "NaN/Inf")
    if mask is not None:
        arr = arr * (mask != 0)
    arr = arr.astype(np.float32)
    order = [a for a in _AXES if a in axes]
    arr = arr.transpose([axes.index(a) for a in order])
    if "M" not in axes:
        arr = arr[None]
    m, t, v, c = arr.shape
    if v != lay.num_joints:
        raise DataError(f"{path}: {v} joints on axis V, layout {lay.name} has {lay.num_joints} "
                        f"(shape {arr.shape} read as M,T,V,C)", "wrong joint count")
    if c not in (2, 3):
        raise DataError(f"{path}: {c} channels on axis C, expected 2 (x, y) or 3 (x, y, z) "
                        f"(shape {arr.shape} read as M,T,V,C)", "wrong channel count")
    if t == 0 or m == 0:
        raise DataError(f"{path}: no frame", "empty file")
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------------------------------------
# labels and splits


@dataclass
class FileLabels:
    """Where labels and splits come from: ``pattern`` (+ ``train_subjects``) or ``index``."""

    pattern: str | None = None
    train_subjects: frozenset | None = None
    index: str | os.PathLike | None = None
    first_label: int = 0
    classes: tuple[str, ...] | None = None  # class names (their order defines string labels)
    split_names: tuple[str, str] = ("xsub_train", "xsub_val")  # with train_subjects

    def __post_init__(self):
        if (self.pattern is None) == (self.index is None):
            raise ValueError("give labels either by a pattern (--pattern) or an index (--index)")
        if self.pattern is not None:
            try:
                rx = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"--pattern {self.pattern!r}: not a valid regular expression "
                                 f"({exc})") from None
            groups = set(rx.groupindex)
            if "label" not in groups:
                raise ValueError("--pattern needs a (?P<label>...) group")
            if self.train_subjects is not None and "subject" not in groups:
                raise ValueError("--train-subjects needs a (?P<subject>...) group in --pattern")
            if self.train_subjects is None and "split" not in groups:
                raise ValueError("say how to split: --train-subjects with a (?P<subject>...) "
                                 "group, a (?P<split>...) group in --pattern, or --index")


def _stem(rel: str) -> str:
    p = Path(rel)
    return p.with_suffix("").as_posix() if p.suffix.lower() in EXTENSIONS else p.as_posix()


def read_index(path: str | os.PathLike) -> list[dict]:
    """Rows ``{path, label, split[, name]}`` of an index CSV (a header row is required)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the index: {exc.strerror or exc}") from None
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text.strip() else ",", ",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    if not rows:
        raise DataError(f"{path}: the index has no row")
    cols = {c.strip().lower() for c in rows[0] if c}
    if not {"path", "label", "split"} <= cols:
        raise DataError(f"{path}: the index needs the columns path,label,split (found "
                        f"{sorted(cols)})")
    out = []
    for i, row in enumerate(rows, 2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not row["path"]:
            raise DataError(f"{path}: line {i}: empty path")
        row["line"] = i
        out.append(row)
    return out


def match_path(rel: str, rx: re.Pattern, labels: "FileLabels") -> tuple[dict, list[str]] | Reject:
    """The label rule on a relative path: (the pattern's named groups, the splits) -- from a
    ``subject`` group and ``labels.train_subjects``, else a ``split`` group -- or the Reject
    saying why the path cannot be labelled."""
    m = rx.search(rel)
    if not m:
        return Reject(rel, f"path does not match --pattern {labels.pattern}", "bad name")
    g = m.groupdict()
    if labels.train_subjects is None:
        return g, ([g["split"]] if g.get("split") else [])
    try:
        subj = int(g["subject"])
    except (TypeError, ValueError, KeyError):
        return Reject(rel, f"subject {g.get('subject')!r} is not an integer", "bad name")
    return g, [labels.split_names[0] if subj in labels.train_subjects else labels.split_names[1]]


def _label_map(raw_labels: list[str], labels: FileLabels) -> tuple[dict, list | None]:
    """raw label text -> int (or a reason string), and the class names (None = unknown)."""
    ints = all(re.fullmatch(r"[+-]?\d+", s) for s in raw_labels)
    out: dict = {}
    if ints:
        for s in set(raw_labels):
            v = int(s) - labels.first_label
            out[s] = v if v >= 0 else (f"label {s} is below --first-label {labels.first_label}")
        names = list(labels.classes) if labels.classes else None
        if names:
            for s, v in out.items():
                if isinstance(v, int) and v >= len(names):
                    out[s] = f"label {s} is beyond the {len(names)} classes of --classes"
        return out, names
    names = list(labels.classes) if labels.classes else sorted(set(raw_labels))
    for s in set(raw_labels):
        out[s] = names.index(s) if s in names else f"label {s!r} is not one of --classes"
    return out, names


# ---------------------------------------------------------------------------------------------
# the import


def _file_job(task: tuple) -> tuple:
    path, name, label, splits, fmt, layout, norm = task

    def one():
        kp = norm.apply(read_sequence(path, fmt, layout), layout, path)
        return name, label, splits, kp

    return _safe(one, name)


def _collect_files(root: Path, exts: Sequence[str]) -> list[Path]:
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in exts)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts)


@dataclass
class FilesResult(PrepareResult):
    """:class:`PrepareResult` plus the files under the folder that the index does not list."""

    unlisted: int = 0


def prepare_files(raw: str | os.PathLike, out: str | os.PathLike, *, layout: str,
                  fmt: FileFormat, labels: FileLabels, norm: Normalise = Normalise(),
                  extensions: Sequence[str] = EXTENSIONS, dataset: str = "custom",
                  workers: int | None = None, progress: bool = True) -> FilesResult:
    """Import a folder of per-sequence files (module docstring) into a pyskl pickle at ``out``
    (the rejects list ``out.rejects.txt`` is always written). ``layout``: a registered name or
    a YAML file (stored as given in ``meta.layout``)."""
    t0 = time.perf_counter()
    root = Path(raw)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory")
    lay = get_layout(layout)
    norm.check(lay)
    rejects: list[Reject] = []
    entries: list[tuple[str, str, str, list]] = []  # (path, name, raw label, splits)
    unlisted = 0
    if labels.index is not None:
        rows = read_index(labels.index)
        listed = set()
        for row in rows:
            p = Path(row["path"])
            p = p if p.is_absolute() else root / p
            listed.add(p.resolve())
            rel = row["path"]
            if not p.is_file():
                rejects.append(Reject(rel, f"file not found (index line {row['line']})", "file not found"))
                continue
            splits = [s.strip() for s in row["split"].split(";") if s.strip()]
            entries.append((str(p), row.get("name") or _stem(rel), row["label"], splits))
        unlisted = sum(1 for p in _collect_files(root, extensions) if p.resolve() not in listed)
        num_files = len(rows)
    else:
        rx = re.compile(labels.pattern)
        files = _collect_files(root, extensions)
        if not files:
            raise DataError(f"{root}: no {'/'.join(extensions)} file found")
        num_files = len(files)
        for p in files:
            rel = p.relative_to(root).as_posix()
            got = match_path(rel, rx, labels)
            if isinstance(got, Reject):
                rejects.append(got)
                continue
            g, splits = got
            entries.append((str(p), g.get("name") or _stem(rel), g["label"] or "", splits))
    lmap, class_names = _label_map([e[2] for e in entries], labels)
    tasks, seen = [], set()
    for path, name, raw_label, splits in entries:
        rel = Path(path).relative_to(root).as_posix() if Path(path).is_relative_to(root) else path
        label = lmap[raw_label]
        if isinstance(label, str):
            rejects.append(Reject(rel, label, "unknown class"))
            continue
        if name in seen:
            rejects.append(Reject(rel, f"duplicate sample name {name!r}", "duplicate"))
            continue
        seen.add(name)
        tasks.append((path, name, label, splits, fmt, layout, norm))
    if any(Path(t[0]).suffix.lower() == ".mat" for t in tasks):
        require_mat_support()
    results = _map(_file_job, tasks, workers, progress, f"prepare {dataset}")
    rel_of = {t[1]: (Path(t[0]).relative_to(root).as_posix() if Path(t[0]).is_relative_to(root)
                     else t[0]) for t in tasks}
    samples: list[dict] = []
    split: dict[str, list[str]] = {}
    for r in results:
        if r[0] == "reject":
            rejects.append(Reject(rel_of.get(r[1], r[1]), r[2], r[3]))
            continue
        name, label, splits, kp = r[1]
        samples.append({"frame_dir": name, "label": label, "total_frames": int(kp.shape[1]),
                        "keypoint": kp})
        for s in splits:
            split.setdefault(s, []).append(name)
    top = max((s["label"] for s in samples), default=-1) + 1
    meta = _base_meta(dataset, str(layout), raw, normalisation=norm.describe(),
                      format={"axes": ",".join(fmt.axes), "keys": list(fmt.keys),
                              "mask_key": fmt.mask_key},
                      labels=(f"index {labels.index}" if labels.index is not None
                              else f"pattern {labels.pattern}"))
    if not class_names and meta["class_names"] and len(meta["class_names"]) >= top:
        class_names = meta["class_names"]  # a built-in dataset's names (--name fpha, ...)
    meta["num_classes"] = len(class_names) if class_names else top
    meta["class_names"] = list(class_names) if class_names else None
    base = _finish(dataset, out, samples, rejects, split, meta, num_files, t0)
    res = FilesResult(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    res.unlisted = unlisted
    return res
