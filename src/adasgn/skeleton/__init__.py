"""Skeleton layouts (joint names, bones, AdaSGN joint groupings)."""

from .layouts import (
    Layout,
    LayoutError,
    get_layout,
    list_layouts,
    load_layout_yaml,
    make_layout,
    register_layout,
)

__all__ = [
    "Layout",
    "LayoutError",
    "get_layout",
    "list_layouts",
    "load_layout_yaml",
    "make_layout",
    "register_layout",
]
