"""Data: readers for real formats, the canonical pkl, preprocessing, sampling pipeline."""

from .presets import PRESETS, DatasetPreset, get_preset

__all__ = ["PRESETS", "DatasetPreset", "get_preset"]
