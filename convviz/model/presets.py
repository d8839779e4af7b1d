"""Case studies and trainable presets, stored as network files in ``resources/presets/NAME.json``."""

from __future__ import annotations

import os
from pathlib import Path

from convviz.model.network import NetworkSpec
from convviz.model.spec_io import load_spec
from convviz.paths import resource

PRESET_PREFIX = "preset:"


def presets_dir() -> Path:
    return resource("presets")


def preset_names() -> list[str]:
    """Every preset's name (the file name without ``.json``), case studies first as in the notes."""
    names = sorted(p.stem for p in presets_dir().glob("*.json"))
    order = ["lenet5", "alexnet", "alexnet_torchvision", "zfnet", "vgg16", "googlenet", "resnet18", "convnetjs", "tinyvgg", "smallvgg", "resnet20"]
    return [n for n in order if n in names] + [n for n in names if n not in order]


def preset(name: str) -> NetworkSpec:
    """The preset ``name`` (see :func:`preset_names`), e.g. ``preset("vgg16")``."""
    path = presets_dir() / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no preset named {name!r}; presets: {', '.join(preset_names())}")
    return load_spec(path)


def spec_from_argument(text: str | os.PathLike) -> NetworkSpec:
    """A network from ``preset:NAME`` or a file path (what the CLI's SPEC argument accepts)."""
    text = str(text)
    if text.startswith(PRESET_PREFIX):
        return preset(text[len(PRESET_PREFIX):])
    return load_spec(text)
