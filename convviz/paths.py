"""Where ConvViz finds its bundled resources (presets, icons, style sheets)."""

from __future__ import annotations

from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` folder: beside the package in a source tree, ``convviz/_resources`` when installed."""
    source_tree = Path(__file__).resolve().parent.parent / "resources"
    if source_tree.is_dir():
        return source_tree
    return Path(__file__).resolve().parent / "_resources"


def resource(*parts: str) -> Path:
    """Path of one bundled resource, e.g. ``resource("presets", "vgg16.json")``."""
    return resources_dir().joinpath(*parts)
