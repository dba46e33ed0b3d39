"""Benchmark presets: which layout, how many classes and person slots each dataset has."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetPreset:
    name: str
    layout: str
    num_classes: int
    max_persons: int  # person slots M fed to the model
    in_channels: int = 3
    description: str = ""


PRESETS: dict[str, DatasetPreset] = {
    p.name: p
    for p in (
        DatasetPreset("ntu60", "ntu25", 60, 2, description="NTU RGB+D 60"),
        DatasetPreset("ntu120", "ntu25", 120, 2, description="NTU RGB+D 120"),
        DatasetPreset("shrec14", "shrec22", 14, 1, description="SHREC'17 14 gestures"),
        DatasetPreset("shrec28", "shrec22", 28, 1, description="SHREC'17 28 gestures"),
        DatasetPreset("msr", "msr20", 20, 1, description="MSR Action3D"),
        DatasetPreset("synthetic", "ntu25", 14, 2, description="built-in procedural quickstart set"),
    )
}


def get_preset(name: str) -> DatasetPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(PRESETS)}") from None
