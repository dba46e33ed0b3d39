"""Every sample of a dataset checked when it is opened, before any training or evaluation.

:func:`validate_samples` looks at each annotation of a loaded canonical pkl and reports, naming
the file, the sample and its split(s):

* a joint count other than the layout's;
* a channel count other than the dataset's (``channels``, or the count most samples have);
* a label outside ``0 .. num_classes - 1``;
* NaN / Inf values;
* an empty sequence (no frame, no person) or one that is all zero;

and, as warnings, classes that have no sample (in the whole set, or in the training split).
The caller chooses what a problem does (``data.on_bad_sample``): ``error`` raises one
:class:`~adasgn.errors.DataError` listing them, ``skip`` leaves those samples out of the
annotations and of every split (:func:`drop_samples`) and lists them on stderr.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ..errors import DataError
from ..skeleton import Layout

__all__ = ["BadSample", "Validation", "validate_samples", "drop_samples", "apply_policy",
           "ON_BAD_SAMPLE"]

ON_BAD_SAMPLE = ("error", "skip")
_SHOWN = 10  # problems listed in an error message / on stderr before "... N more"


@dataclass(frozen=True)
class BadSample:
    name: str
    splits: tuple[str, ...]
    problem: str
    kind: str

    def line(self) -> str:
        where = f" (split {', '.join(self.splits)})" if self.splits else " (in no split)"
        return f"sample {self.name!r}{where}: {self.problem}"


@dataclass
class Validation:
    source: str
    num_samples: int
    bad: list[BadSample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    channels: int | None = None  # the dataset's channel count
    num_persons: int = 0  # the most persons any sample has

    @property
    def ok(self) -> bool:
        return not self.bad

    def message(self) -> str:
        kinds = Counter(b.kind for b in self.bad)
        head = (f"{self.source}: {len(self.bad)} of {self.num_samples} samples are unusable ("
                + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + "):")
        lines = [head] + [f"  {b.line()}" for b in self.bad[:_SHOWN]]
        if len(self.bad) > _SHOWN:
            lines.append(f"  ... {len(self.bad) - _SHOWN} more")
        return "\n".join(lines)


def _problem(kp: np.ndarray, layout: Layout, channels: int | None) -> tuple[str, str] | None:
    if kp.ndim != 4:
        return f"keypoint has shape {kp.shape}, expected 4 axes (M, T, V, C)", "bad shape"
    m, t, v, c = kp.shape
    if v != layout.num_joints:
        return (f"{v} joints, layout {layout.name} has {layout.num_joints}", "wrong joint count")
    if channels is not None and c != channels:
        return f"{c} channels, the dataset has {channels}", "wrong channel count"
    if m == 0 or t == 0:
        return f"empty sequence (shape {kp.shape})", "empty"
    if not np.isfinite(kp).all():
        return "NaN/Inf value", "NaN/Inf"
    if not np.any(kp):
        return f"all-zero sequence ({t} frames)", "all-zero"
    return None


def validate_samples(data: dict, layout: Layout, *, num_classes: int, source: str = "<data>",
                     channels: int | None = None,
                     train_splits: Sequence[str] = ()) -> Validation:
    """Check every annotation of ``data`` (a loaded canonical pkl); nothing is changed."""
    anns = data.get("annotations") or []
    splits_of: dict[str, list[str]] = {}
    for sname, members in (data.get("split") or {}).items():
        for n in members:
            splits_of.setdefault(n, []).append(sname)
    if channels is None:
        counts = Counter(np.shape(a["keypoint"])[-1] for a in anns if np.ndim(a["keypoint"]) == 4)
        channels = counts.most_common(1)[0][0] if counts else None
    res = Validation(source, len(anns), channels=channels)
    seen = Counter()
    for a in anns:
        name = str(a["frame_dir"])
        kp = np.asarray(a["keypoint"])
        found = _problem(kp, layout, channels)
        label = a.get("label")
        if found is None and not (isinstance(label, (int, np.integer)) and 0 <= label < num_classes):
            found = (f"label {label!r} is outside 0..{num_classes - 1} ({num_classes} classes)",
                     "label out of range")
        if found is not None:
            res.bad.append(BadSample(name, tuple(splits_of.get(name, ())), *found))
            continue
        res.num_persons = max(res.num_persons, int(kp.shape[0]))
        seen[int(label)] += 1
    empty = [k for k in range(num_classes) if not seen[k]]
    if empty:
        res.warnings.append(f"{source}: {len(empty)} of {num_classes} classes have no usable "
                            f"sample: {_short(empty)}")
    bad_names = {b.name for b in res.bad}
    for split in train_splits:
        members = set((data.get("split") or {}).get(split, ())) - bad_names
        have = {int(a["label"]) for a in anns if a["frame_dir"] in members}
        missing = [k for k in range(num_classes) if k not in have and k not in empty]
        if missing:
            res.warnings.append(f"{source}: split {split!r} has no sample of {len(missing)} "
                                f"class(es): {_short(missing)}")
    return res


def _short(items: list, n: int = 12) -> str:
    text = ", ".join(map(str, items[:n]))
    return text + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def drop_samples(data: dict, names: Iterable[str]) -> dict:
    """``data`` without the samples ``names`` (annotations and every split); a new dict."""
    drop = set(names)
    out = dict(data)
    out["annotations"] = [a for a in data["annotations"] if a["frame_dir"] not in drop]
    out["split"] = {k: [n for n in v if n not in drop] for k, v in (data.get("split") or {}).items()}
    return out


def apply_policy(data: dict, report: Validation, on_bad_sample: str = "error",
                 stream=None) -> dict:
    """``error``: raise a DataError listing the bad samples; ``skip``: drop them (listed on
    ``stream``, stderr by default). Warnings are printed either way."""
    stream = sys.stderr if stream is None else stream
    if on_bad_sample not in ON_BAD_SAMPLE:
        raise ValueError(f"on_bad_sample must be one of {ON_BAD_SAMPLE}, not {on_bad_sample!r}")
    if report.bad and on_bad_sample == "error":
        raise DataError(report.message() + "\n  (set data.on_bad_sample=skip to leave them out)",
                        "bad sample")
    if report.bad:
        head = report.message().splitlines()[0].replace("are unusable", "are unusable, skipped")
        print("\n".join([head] + [f"  {b.line()}" for b in report.bad]), file=stream)
        data = drop_samples(data, (b.name for b in report.bad))
    for w in report.warnings:
        print(f"warning: {w}", file=stream)
    return data
