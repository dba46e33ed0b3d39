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
        DatasetPreset("fpha", "fpha21", 45, 1, description="F-PHAB first-person hand actions"),
        DatasetPreset("utd_mhad", "utd20", 27, 1, description="UTD-MHAD (Kinect v1 skeletons)"),
        DatasetPreset("penn", "penn13", 15, 1, in_channels=2,
                      description="Penn Action (2-D joints; C=3 with --visibility channel)"),
        DatasetPreset("sfinge3d", "leap20", 13, 1,
                      description="SFINGE3D segmented hand gestures (Leap Motion, 20 joints)"),
        DatasetPreset("sfinge3d_bg", "leap20", 14, 1,
                      description="SFINGE3D gestures + a no-gesture class from long sequences"),
    )
}


def get_preset(name: str) -> DatasetPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(PRESETS)}") from None
