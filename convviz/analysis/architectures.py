"""Networks side by side: parameters, multiply-adds per image and training memory, per network and per layer.

    rows = compare({"VGG-16": preset("vgg16"), "mine": spec}, batch=64)
    rows[0].params, rows[0].macs, rows[0].training_bytes      # as `convviz summary` counts them
    rows[0].layers                                            # (name, kind, params, activation bytes) per layer

Every figure comes from :func:`convviz.model.analyze` (the one place that counts them); this module
only lines them up. ``kind`` groups a layer as ``conv`` (a conv layer, or a block holding convs),
``fc`` or ``other`` (activations, pooling, normalization …), so a stacked bar per network shows where
the parameters sit (mostly the last FC layers of an AlexNet or a VGG) and where the memory goes
(mostly the early conv layers, whose volumes are the largest), as CS231n's notes observe for VGG-16.
"""

from __future__ import annotations

from dataclasses import dataclass

BYTES = 4  # float32


@dataclass(frozen=True)
class LayerFigures:
    name: str
    kind: str  # conv, fc or other
    params: int
    activation_bytes: int  # per image: what the layer's outputs and its backward's saved values hold


@dataclass(frozen=True)
class ArchitectureFigures:
    name: str
    params: int
    macs: int  # multiply-adds per image
    training_bytes: int  # a training step at the batch asked for (optimizer state included)
    batch: int
    layers: tuple[LayerFigures, ...]

    def share(self, what: str, kind: str) -> float:
        """The fraction of ``what`` (``params`` or ``activation_bytes``) in layers of ``kind``."""
        total = sum(getattr(layer, what) for layer in self.layers)
        return sum(getattr(layer, what) for layer in self.layers if layer.kind == kind) / total if total else 0.0


def _kind(report) -> str:
    types = {r.layer.TYPE for r in report.walk()}
    if "conv" in types:
        return "conv"
    return "fc" if "fc" in types else "other"


def figures(name: str, spec, batch: int = 64, optimizer: str = "sgd") -> ArchitectureFigures:
    """One network's figures (ValueError when the network is not valid: it has no figures to compare)."""
    from convviz.model import analyze

    report = analyze(spec)
    if not report.valid:
        problems = "; ".join(f"{r.name}: {r.error.message}" for r in report.problems) or "its output is unknown"
        raise ValueError(f"{name} cannot be sized: {problems}")
    layers = tuple(LayerFigures(r.name, _kind(r), r.params, (r.activations + r.saved) * BYTES) for r in report.layers)
    return ArchitectureFigures(name, report.total_params, report.total_macs, report.memory(batch, optimizer).training,
                               batch, layers)


def compare(specs: dict, batch: int = 64, optimizer: str = "sgd") -> list[ArchitectureFigures]:
    """The figures of every valid network in ``specs`` (name → NetworkSpec), in their order; an
    invalid one is left out (``figures`` says why)."""
    rows = []
    for name, spec in specs.items():
        try:
            rows.append(figures(name, spec, batch, optimizer))
        except ValueError:
            continue
    return rows


def case_studies() -> dict:
    """Every preset by its display name (LeNet-5 … ResNet-20), for comparing with one's own network."""
    from convviz.model import preset, preset_names

    return {preset(name).name: preset(name) for name in preset_names()}
