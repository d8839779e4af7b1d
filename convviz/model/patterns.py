"""The notes' layer pattern, and what the first layer would cost without convolution.

``INPUT → [[CONV → RELU] × N → POOL] × M → [FC → RELU] × K → FC`` (CS231n, "Layer Patterns"): every
conv keeps W×H (stride 1, P = (F − 1)/2), each 2×2 pool halves it, and the filter count grows by
``growth`` from stage to stage. :func:`connection_costs` gives the notes' "why convolution"
arithmetic: the same mapping fully connected (every output neuron sees the whole W×H×D input, 120,000
weights each for 200×200×3) and locally connected (no sharing), beside the convolution's own count.
"""

from __future__ import annotations

from dataclasses import dataclass

from convviz.model.layer_base import Layer, pair
from convviz.model.layers import FC, Flatten, ReLU, Softmax
from convviz.model.volume import Volume
from convviz.model.windows import Conv, MaxPool


def conv_pattern(n: int = 2, m: int = 3, k: int = 1, filters: int = 16, growth: int = 2, size: int = 3,
                 classes: int = 10, units: int = 128, softmax: bool = True) -> list[Layer]:
    """The layers of ``[[CONV → RELU] × n → POOL] × m → [FC → RELU] × k → FC`` (+ softmax).

    Stage s (0-based) has ``filters · growth^s`` filters of ``size``×``size`` with P = (size − 1)/2;
    the hidden FC layers have ``units`` units and the last one ``classes``. Raises ValueError for
    counts below their minimum (n, m ≥ 0, k ≥ 0, filters, size, classes, units ≥ 1; size odd)."""
    for name, value, low in (("N", n, 0), ("M", m, 0), ("K", k, 0), ("filters", filters, 1), ("growth", growth, 1),
                             ("size", size, 1), ("classes", classes, 1), ("units", units, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number ≥ {low}, got {name}={value!r}")
    if size % 2 == 0:
        raise ValueError(f"size must be odd so that P = (F − 1)/2 keeps W×H, got size={size}")
    layers: list[Layer] = []
    for stage in range(m):
        for _ in range(n):
            layers += [Conv(filters=filters * growth**stage, size=size, pad=(size - 1) // 2), ReLU()]
        layers.append(MaxPool(size=2, stride=2))
    layers.append(Flatten())
    for _ in range(k):
        layers += [FC(units=units), ReLU()]
    layers.append(FC(units=classes))
    if softmax:
        layers.append(Softmax())
    return layers


@dataclass(frozen=True)
class ConnectionCosts:
    """Weights (biases left out) of one mapping W×H×D → W′×H′×K three ways.

    ``fc_per_neuron`` = W·H·D (each output neuron sees everything); ``fc`` = that × W′·H′·K;
    ``local`` = W′·H′·K·F·F·D (each neuron its own F×F×D filter); ``conv`` = K·F·F·D (shared)."""

    fc_per_neuron: int
    fc: int
    local: int
    conv: int

    def text(self) -> str:
        return (f"fully connected: {self.fc_per_neuron:,} weights per neuron, {self.fc:,} in all; "
                f"locally connected: {self.local:,}; convolution: {self.conv:,}")


def connection_costs(layer: Conv, v: Volume, out: Volume) -> ConnectionCosts:
    """What a conv layer from ``v`` to ``out`` would cost fully connected and locally connected."""
    fh, fw = pair(layer.size)
    per_filter = fh * fw * v.depth
    positions = out.width * out.height
    return ConnectionCosts(
        fc_per_neuron=v.elements,
        fc=v.elements * out.elements,
        local=positions * out.depth * per_filter,
        conv=out.depth * per_filter,
    )
