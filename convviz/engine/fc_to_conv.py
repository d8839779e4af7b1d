"""FC → CONV (CS231n, "Converting FC layers to CONV layers"): slide a trained network over a larger image.

An FC layer that looks at a W×H×D volume is a convolution with F = (H, W) and as many filters as it
has units: its weight (units, D·H·W) reshaped to (units, D, H, W) (PyTorch's flatten order). Every
later FC layer becomes a 1×1 convolution. The converted network, built for a larger input, computes
in one pass what the original computes on every crop taken with a stride equal to the product of
the strides of its windowed layers, and gives a map of class scores.

    conv = fc_to_conv(net, (64, 64))
    maps = conv.network.forward(big_images, train=False)       # (N, K, H', W')
    maps[:, :, i, j]  ==  net.forward(crop at conv.offset(i, j), train=False)   # when conv.exact

``exact`` is True when no windowed layer of the original pads its input (P = 0 and no pad-to-fit
rows): a padded layer sees zeros at a crop's border where the large image has real pixels, so the
map then differs from the crops away from the corner (CS231n's note: the map is still what an
all-conv net computes on the larger image).

A global average pool becomes an average pool over the volume it averaged on the original input
(stride 1), so a GAP network slides too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from convviz.model import layers as S
from convviz.model.network import NetworkSpec
from convviz.model.volume import Volume


@dataclass
class ConvertedNetwork:
    """The all-conv network for the larger input: its ``spec``, ``weights`` (set in ``network``),
    the total ``stride`` (sh, sw) between neighbouring map positions, the crop ``window`` (H, W) each
    position sees, and whether the map equals the crops ``exact``ly."""

    spec: NetworkSpec
    weights: dict[str, np.ndarray]
    network: object  # convviz.engine.Network
    stride: tuple[int, int]
    window: tuple[int, int]
    exact: bool

    def offset(self, i: int, j: int) -> tuple[int, int]:
        """(row, col) of the top-left corner of the crop that map position (i, j) sees."""
        return i * self.stride[0], j * self.stride[1]


def fc_to_conv(net, input_size: tuple[int, int], seed: int = 0) -> ConvertedNetwork:
    """Convert ``net`` (a trained :class:`~convviz.engine.Network`) to an all-conv network for inputs of
    ``input_size`` (height, width). Raises ValueError when the network cannot slide (an FC or
    Flatten inside a block, or a layer between Flatten and FC that mixes positions)."""
    from convviz.engine.network import Network

    height, width = input_size
    layers: list = []
    shapes: dict[str, tuple] = {}  # converted FC weight name → its (units, D, H, W) shape
    pending: Volume | None = None  # the volume a Flatten flattened, waiting for its FC
    stride_h = stride_w = 1
    exact = True
    for r in net.report.layers:
        layer = copy.deepcopy(r.layer)
        layer.name = r.name  # every layer keeps its name, so every weight keeps its name
        if isinstance(layer, S.Flatten):
            pending = r.input
            continue
        if isinstance(layer, S.FC):
            v = pending if pending is not None else r.input
            layer = S.Conv(filters=layer.units, size=(v.height, v.width), bias=layer.bias, name=r.name)
            shapes[f"{r.name}.weight"] = (layer.filters, v.depth, v.height, v.width)
            pending = None
        elif isinstance(layer, S.GlobalAvgPool):
            layer = S.AvgPool(size=(r.input.height, r.input.width), stride=1, name=r.name)
        elif pending is not None and not pending.is_flat and not layer.ELEMENTWISE:
            raise ValueError(
                f"{r.name}: a {layer.TITLE.lower()} between Flatten and FC mixes the flattened positions, "
                "so the network cannot slide"
            )
        elif layer.COMPOSITE and any(isinstance(c.layer, (S.FC, S.Flatten, S.GlobalAvgPool)) for c in r.walk()):
            raise ValueError(f"{r.name}: FC, Flatten or global pooling inside a block cannot be converted")
        (sh, sw), padded = _geometry(r)
        stride_h, stride_w, exact = stride_h * sh, stride_w * sw, exact and not padded
        layers.append(layer)
    if pending is not None:
        raise ValueError("the network ends in Flatten without an FC layer after it: nothing to convert")
    spec = NetworkSpec(
        input=Volume(width, height, net.spec.input.depth),
        layers=layers,
        name=f"{net.spec.name or 'network'} (all-conv, {width}×{height})",
        description="FC layers converted to convolutions (convviz.engine.fc_to_conv)",
    )
    weights = {name: value.reshape(shapes.get(name, value.shape)) for name, value in net.get_weights().items()}
    converted = Network(spec, seed=seed, dtype=net.dtype, weights=weights)  # raises, listing the problems, for a bad size
    return ConvertedNetwork(spec, converted.get_weights(), converted, (stride_h, stride_w),
                            (net.spec.input.height, net.spec.input.width), exact)


def _geometry(report) -> tuple[tuple[int, int], bool]:
    """(total stride (sh, sw), whether any window pads) of a layer, or of a block along its first stack
    (every stack of a valid block ends at the same size)."""
    layer = report.layer
    if report.geometry is not None:
        (top, bottom), (left, right) = report.geometry.pad
        return report.geometry.stride, bool(top or bottom or left or right)
    if not layer.COMPOSITE:
        return (1, 1), False
    padded = any(_geometry(inner)[1] for inner in report.walk() if inner is not report)
    stride_h = stride_w = 1
    for inner in (report.children[0][1] if report.children else []):
        (sh, sw), _ = _geometry(inner)
        stride_h, stride_w = stride_h * sh, stride_w * sw
    return (stride_h, stride_w), padded
