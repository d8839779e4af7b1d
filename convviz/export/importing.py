"""Weights from elsewhere into a ConvViz network: safetensors files and PyTorch ``state_dict``s.

    imported = import_weights(spec, "resnet18-f37072fd.pth")   # torchvision's layout, found by its names
    imported.weights                                          # {"conv1.weight": float32 array, …}
    save_imported(imported, "runs/resnet18")                  # a checkpoint folder, or a .safetensors file

Every tensor's name, shape and dtype is checked against the network before any tensor is read (a
safetensors header is read on its own; a ``.pt``/``.pth`` file is opened with
``torch.load(weights_only=True)``, which never runs pickled code, memory-mapped where it can be).
The layout is the one of ``convviz.export.layouts`` whose names the file holds most of; when it does
not fit exactly, the message lists what differs, and nothing is loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convviz.export.layouts import LAYOUTS, RELATED_PRESETS, ignored
from convviz.export.source import ExportError
from convviz.model import analyze
from convviz.model.network import NetworkSpec

MAX_LISTED = 8
FLOATS = {"F64", "F32", "F16", "BF16", "torch.float64", "torch.float32", "torch.float16", "torch.bfloat16"}


@dataclass(frozen=True)
class Imported:
    """Weights ready for ``Network.set_weights``: every parameter and buffer by ConvViz name."""

    spec: NetworkSpec
    weights: dict[str, np.ndarray]
    layout: str
    origin: str
    ignored: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)  # a replaced head's tensors: seeded, not from the file


def _tensor_file(path: Path):
    """({key: (shape, dtype)}, read() → {key: ndarray}) of a weights file, reading no tensor yet."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ExportError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    if suffix == ".safetensors":
        from convviz.export.safetensors_io import read_header, read_weights

        header, _ = read_header(path)
        return header, lambda: read_weights(path)
    if suffix in (".pt", ".pth", ".bin"):
        return _torch_file(path)
    raise ExportError(f"{path.name}: expected a .safetensors file or a PyTorch .pt/.pth state_dict")


def _torch_file(path: Path):
    try:
        import torch
    except ImportError:
        raise ExportError(f"reading {path.name} needs PyTorch (pip install 'convviz[torch]'); "
                          "a .safetensors file needs only safetensors") from None
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # an old (non-zip) file cannot be memory-mapped
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses pickled objects: say so in one line
        raise ExportError(f"{path.name} is not a plain PyTorch state_dict (read with weights_only=True): "
                          f"{str(exc).splitlines()[0]}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ExportError(f"{path.name} holds a {type(state).__name__}, not a state_dict (a dict of tensors)")
    if state and all(isinstance(k, str) and k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}  # saved from DistributedDataParallel
    tensors = {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    others = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if others:
        raise ExportError(f"{path.name}: {', '.join(others[:MAX_LISTED])} are not tensors")
    header = {k: (tuple(t.shape), str(t.dtype)) for k, t in tensors.items()}
    return header, lambda: {k: t.detach().to(torch.float32).numpy() for k, t in tensors.items()}


def _expected(spec: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """Every parameter and buffer of ``spec``'s network by stable name, with its shape."""
    from convviz.engine import Network

    net = Network(spec, seed=0)
    return {name: a.shape for name, a in {**net.params(), **net.buffers()}.items()}


def _mapping(report, layout, expected) -> dict[str, str] | None:
    """ConvViz tensor name → file key, under ``layout`` (None: the network is not that structure)."""
    layers = layout(report)
    if layers is None:
        return None
    mapping = {}
    for name in expected:
        layer, _, suffix = name.rpartition(".")
        if layer not in layers:
            return None
        mapping[name] = f"{layers[layer]}.{suffix}"
    return mapping


def import_weights(spec: NetworkSpec, path: str | os.PathLike, expected: dict | None = None) -> Imported:
    """Read ``path``'s tensors into ConvViz names for ``spec``; ExportError lists every difference."""
    path = Path(path)
    header, read = _tensor_file(path)
    expected = expected or _expected(spec)
    report = analyze(spec)
    skipped = sorted(k for k in header if ignored(k))
    keys = {k for k in header if not ignored(k)}
    best = None
    for label, layout in LAYOUTS.items():
        mapping = _mapping(report, layout, expected)
        if mapping is not None:
            overlap = len(keys & set(mapping.values()))
            if best is None or overlap > best[0]:
                best = (overlap, label, mapping)
    if best is None:  # no layout describes the network: compare with ConvViz's own names
        best = (0, "ConvViz's", {n: n for n in expected})
    _, label, mapping = best
    fresh, theirs = _replaced_head(spec, header, keys, mapping, expected)
    keys -= theirs
    skipped = sorted(set(skipped) | theirs)
    problems = _differences(header, keys, mapping, expected)
    if problems:
        shown = problems[:MAX_LISTED] + ([f"and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else [])
        hint = _fitting_preset(header, keys, label, spec)
        if hint:
            shown.append(hint)
        raise ExportError(f"{path.name} does not fit {spec.name or 'the network'} in {label} layout: " + "; ".join(shown))
    tensors = read()
    weights = {name: np.ascontiguousarray(tensors[key], dtype=np.float32) for name, key in mapping.items()}
    for name, array in weights.items():
        if not np.isfinite(array).all():
            raise ExportError(f"{path.name}: {mapping[name]} contains NaN or infinity")
    if fresh:
        from convviz.engine import Network

        seeded = Network(spec, seed=0).get_weights()
        weights.update({name: seeded[name] for name in fresh})
    return Imported(spec, weights, label, str(path), skipped, fresh)


def _replaced_head(spec, header, keys, mapping, expected) -> tuple[list[str], set[str]]:
    """(the replaced head's tensor names, the file keys of the layer it replaced) when ``spec``'s last
    FC layer was replaced for fine-tuning (``replace_head``): those names leave ``mapping`` (they start
    fresh) and those keys are left out; nothing when the file has the head itself. The old layer is the one the layout puts there, or, in
    ConvViz's names, the one layer of the file the network lacks whose weight has the head's input size."""
    from convviz.model.fine_tune import replaced_head

    head = replaced_head(spec)
    fresh = [name for name in mapping if head is not None and name.rpartition(".")[0] == head]
    if all(mapping[name] in header and tuple(header[mapping[name]][0]) == tuple(expected[name]) for name in fresh):
        return [], set()  # the file has this head (weights of the fine-tuned network itself)
    theirs = {mapping.pop(name) for name in fresh} - set(expected)
    if not theirs:
        wanted = set(mapping.values())
        layers = {k.rpartition(".")[0] for k in keys - wanted}
        inputs = expected[f"{head}.weight"][1]
        candidates = [layer for layer in layers
                      if len(header.get(f"{layer}.weight", ((),))[0]) == 2 and header[f"{layer}.weight"][0][1] == inputs]
        if len(candidates) == 1:
            theirs = {k for k in keys - wanted if k.rpartition(".")[0] == candidates[0]}
    return fresh, theirs


def _fitting_preset(header, keys, label: str, spec: NetworkSpec) -> str:
    """For a file in a layout with a preset of its own (``RELATED_PRESETS``) that did not fit ``spec``:
    the sentence naming that preset when the file fits it exactly, else ""."""
    from convviz.model import preset

    name = RELATED_PRESETS.get(label)
    if name is None:
        return ""
    other = preset(name)
    if (other.input, other.layers) == (spec.input, spec.layers):
        return ""
    expected = _expected(other)
    mapping = _mapping(analyze(other), LAYOUTS[label], expected)
    if mapping is None or _differences(header, keys, mapping, expected):
        return ""
    return (f"the file fits preset:{name} ({other.name}) exactly: import it into that network "
            f"(Case Studies → {other.name}, or convviz import-weights preset:{name} …)")


def _differences(header, keys, mapping, expected) -> list[str]:
    problems = []
    wanted = set(mapping.values())
    for name, key in mapping.items():
        if key not in header:
            problems.append(f"{key} is missing (for {name})" if key != name else f"{name} is missing")
            continue
        shape, dtype = header[key]
        if tuple(shape) != tuple(expected[name]):
            where = key if key == name else f"{key} (for {name})"
            problems.append(f"{where} has shape {tuple(shape)}, expected {tuple(expected[name])}")
        elif dtype not in FLOATS:
            problems.append(f"{key} holds {dtype} values, expected floating-point numbers")
    problems += [f"{key} is not part of this network" for key in sorted(keys - wanted)]
    return problems


def save_imported(imported: Imported, out: str | os.PathLike) -> Path:
    """``out``: a ``.safetensors`` file (ConvViz names), or a checkpoint folder that ``convviz export``
    and the checkpoint readers open (step 0, default training settings, no data set)."""
    out = Path(out)
    metadata = {"format": "convviz-weights", "network": imported.spec.name, "origin": imported.origin,
                "layout": imported.layout}
    if out.suffix.lower() == ".safetensors":
        from convviz.export.safetensors_io import write_weights

        if out.parent != Path(""):
            out.parent.mkdir(parents=True, exist_ok=True)
        return write_weights(out, imported.weights, metadata)
    from convviz.training.checkpoint import save_checkpoint

    return save_checkpoint(_ImportedRun(imported), out)


class _ImportedRun:
    """What ``save_checkpoint`` asks of a trainer, for weights that were never trained here: step 0,
    the default settings and a fresh optimizer; the data set is recorded as none."""

    def __init__(self, imported: Imported):
        from convviz.engine import Network
        from convviz.training.config import TrainConfig
        from convviz.training.optimization import make_optimizer

        self.spec, self.config = imported.spec, TrainConfig()
        self.net = Network(imported.spec, seed=self.config.seed)
        self.net.set_weights(imported.weights)
        self.optimizer = make_optimizer(self.config, self.net.trainable_params())
        self.dataset = _NoData(self.net.output_volume.depth)

    def state_dict(self) -> dict:
        weights, buffers = self.net.get_weights(), set(self.net.buffers())
        return {
            "step": 0, "epoch": 0, "batch_index": 0, "smoothed_loss": None, "history": [], "epoch_order": None,
            "rng": {"data": np.random.default_rng([self.config.seed, 1]).bit_generator.state,
                    "network": self.net.get_rng_state()},
            "weights": {n: a for n, a in weights.items() if n not in buffers},
            "buffers": {n: a for n, a in weights.items() if n in buffers},
            "optimizer": self.optimizer.state_dict(),
        }


class _NoData:
    def __init__(self, classes: int):
        self.name = "none (imported weights)"
        self.class_names = tuple(f"class {i}" for i in range(classes))

    def split(self, name: str) -> list:
        return []
