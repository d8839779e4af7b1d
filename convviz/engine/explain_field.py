"""The receptive field of one cell across every earlier layer, analytic and actual (numpy only).

    f = receptive_field(net, trace, "conv3", (d, y, x))
    f.boxes[0]                  # the input: rows (lo, hi) and cols (lo, hi) the cell can see, and
    f.boxes[0].gradient         # d cell / d input from one backward pass started at that cell
    f.boxes[1:]                 # the output of every earlier layer of its path, in forward order

A layer inside a residual or branch block is followed back along its own path: the layers of its
stack before it, then the top-level layers before the block.

The analytic box follows each layer's window back: output rows y₀…y₁ of a window layer (stride S,
dilation d, F taps, P padding rows above) read input rows y₀·S − P … y₁·S − P + d·(F − 1), clipped to
the volume; an element-wise layer keeps the box; a residual or branch block takes the union of its
paths; FC, flatten and global pooling see the whole input. The actual gradient comes from the
network cut after the cell's layer (same weights), run forward and backward from a one-hot at the
cell: where it is not zero is where the cell really depends on, always inside the box. (Inside a
block the cut network is the block's path as a plain stack: the cell depends on nothing else.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convviz.engine import windowed as W
from convviz.engine.layer_base import as_4d
from convviz.engine.trace import Trace

Span = tuple[int, int]  # first and last index, inclusive


@dataclass
class FieldBox:
    """The receptive field on one volume: ``layer`` ("input" for the network's input), the volume's
    ``shape`` (C, H, W), the analytic ``rows``/``cols`` (inclusive), ``whole`` (the cell sees all of it),
    ``clipped`` (the window reaches into padding there), ``gradient`` d cell / d volume (C, H, W) and
    ``support``: the rows and cols where that gradient is not zero (None: zero everywhere)."""

    layer: str
    shape: tuple[int, int, int]
    rows: Span
    cols: Span
    whole: bool
    clipped: bool
    gradient: np.ndarray
    support: tuple[Span, Span] | None

    @property
    def size(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0] + 1, self.cols[1] - self.cols[0] + 1

    @property
    def inside(self) -> bool:
        """Whether every non-zero gradient lies inside the analytic box."""
        if self.support is None:
            return True
        (r0, r1), (c0, c1) = self.support
        return self.rows[0] <= r0 and r1 <= self.rows[1] and self.cols[0] <= c0 and c1 <= self.cols[1]


@dataclass
class ReceptiveFieldExplanation:
    """Output ``cell`` of ``layer``: its ``value`` (and the cut network's, ``engine``) and one
    :class:`FieldBox` per earlier volume, the input first."""

    layer: str
    cell: tuple[int, ...]
    value: float
    engine: float
    boxes: list[FieldBox]
    text: str


def _span(lo: int, hi: int, size: int) -> tuple[Span, bool]:
    return (max(lo, 0), min(hi, size - 1)), lo < 0 or hi > size - 1


def _chw(volume) -> tuple[int, int, int]:
    return volume.depth, volume.height, volume.width


def box_back(layer, rows: Span, cols: Span) -> tuple[Span, Span, bool, bool]:
    """The rows and cols of ``layer``'s input that its output rows/cols read: (rows, cols, whole,
    clipped)."""
    inp, out = layer.input, layer.output
    if isinstance(layer, W.WindowLayer):
        geo = layer.geometry
        (sh, sw), (dh, dw), ((top, _), (left, _)) = geo.stride, geo.dilation, geo.pad
        r, clip_r = _span(rows[0] * sh - top, rows[1] * sh - top + dh * (geo.taps_h - 1), geo.in_h)
        c, clip_c = _span(cols[0] * sw - left, cols[1] * sw - left + dw * (geo.taps_w - 1), geo.in_w)
        return r, c, False, clip_r or clip_c
    if layer.COMPOSITE:
        boxes = [_stack_back(stack.layers, rows, cols) for stack in layer.stacks]
        if any(whole for _, _, whole, _ in boxes):
            return (0, inp.height - 1), (0, inp.width - 1), True, False
        return ((min(b[0][0] for b in boxes), max(b[0][1] for b in boxes)),
                (min(b[1][0] for b in boxes), max(b[1][1] for b in boxes)), False, any(b[3] for b in boxes))
    if not out.is_flat and (out.height, out.width) == (inp.height, inp.width):
        return rows, cols, False, False  # element-wise, or across depth only (LRN, batch norm)
    return (0, inp.height - 1), (0, inp.width - 1), True, False  # FC, flatten, global pooling


def _stack_back(layers: list, rows: Span, cols: Span) -> tuple[Span, Span, bool, bool]:
    whole = clipped = False
    for layer in reversed(layers):
        rows, cols, w, c = box_back(layer, rows, cols)
        whole, clipped = whole or w, clipped or c
    return rows, cols, whole, clipped


def _support(gradient: np.ndarray) -> tuple[Span, Span] | None:
    hit = np.any(gradient != 0, axis=0)
    if not hit.any():
        return None
    ys, xs = np.nonzero(hit)
    return (int(ys.min()), int(ys.max())), (int(xs.min()), int(xs.max()))


def layer_path(stack, name: str) -> list | None:
    """The engine layers a value goes through from the stack's input to layer ``name``'s output: the
    top-level layers before it, and inside a block the layers of its path up to ``name`` (None: not here)."""
    for i, layer in enumerate(stack.layers):
        if layer.name == name:
            return stack.layers[:i + 1]
        if layer.COMPOSITE:
            for inner in layer.stacks:
                path = layer_path(inner, name)
                if path is not None:
                    return stack.layers[:i] + path
    return None


def cut_network(net, layer_name: str):
    """(a network of the same input and weights ending with layer ``layer_name``'s output, the original
    names of its layers by its own): the layers of :func:`layer_path`, a block's path as a plain stack."""
    from convviz.engine.network import Network
    from convviz.engine.stack import walk_layers
    from convviz.model import NetworkSpec

    path = layer_path(net.stack, layer_name)
    if path is None:
        raise ValueError(f"no layer named {layer_name!r}; layers: {', '.join(net.layers)}")
    spec = NetworkSpec(net.spec.input, [layer.spec for layer in path], name=net.spec.name)
    cut = Network(spec, dtype=net.dtype)
    originals = [layer.name for top in path for layer in _walk(top)]
    names = dict(zip((layer.name for layer in walk_layers(cut.stack)), originals))
    weights = net.get_weights()
    cut.set_weights({key: weights[f"{names[key.rsplit('.', 1)[0]]}.{key.rsplit('.', 1)[1]}"] for key in cut.get_weights()})
    return cut, names


def _walk(layer):
    """``layer`` and, for a block, every layer inside it, depth first (as ``walk_layers`` walks a stack)."""
    from convviz.engine.stack import walk_layers

    yield layer
    if layer.COMPOSITE:
        for inner in layer.stacks:
            yield from walk_layers(inner)


def receptive_field(net, trace: Trace, layer_name: str, cell) -> ReceptiveFieldExplanation:
    """The receptive field of output ``cell`` (d, y, x) or (d,) of layer ``layer_name`` (top-level or inside
    a block) of image 0 of ``trace``, on the input and on the output of every earlier layer of its path:
    the top-level ones before it and, inside a block, the ones of its path before it."""
    path = layer_path(net.stack, layer_name)
    cut, names = cut_network(net, layer_name)
    cut_names = {original: own for own, original in names.items()}
    out = path[-1].output
    cell = tuple(int(i) for i in cell)
    full = cell + (0,) * (3 - len(cell))
    if len(full) != 3 or not all(0 <= i < s for i, s in zip(full, _chw(out))):
        raise ValueError(f"{layer_name}: cell {cell} is outside its output {out}")
    sub = cut.trace_forward(trace.input[:1])
    onehot = np.zeros_like(sub.scores)
    onehot[(0, *cell) if onehot.ndim > 2 else (0, cell[0])] = 1.0
    cut.trace_backward(sub, onehot)
    value = float(as_4d(trace[layer_name].output)[(0, *full)])
    engine = float(as_4d(sub.scores)[(0, *full)])
    rows, cols, whole = (full[1], full[1]), (full[2], full[2]), False
    boxes = []
    for j in range(len(path) - 1, -1, -1):
        rows, cols, w, c = box_back(path[j], rows, cols)
        whole = whole or w
        below = "input" if j == 0 else path[j - 1].name
        volume = sub.input_grad[0] if j == 0 else sub[cut_names[below]].upstream[0]
        gradient = as_4d(np.asarray(volume)[None])[0]
        boxes.append(FieldBox(below, _chw(path[j].input), rows, cols, whole, c, gradient, _support(gradient)))
    boxes.reverse()
    first = boxes[0]
    size = "the whole input" if first.whole else f"{first.size[1]}×{first.size[0]} input pixels"
    text = (f"{layer_name}{list(cell)} sees {size} (rows {first.rows[0]}–{first.rows[1]}, "
            f"cols {first.cols[0]}–{first.cols[1]}); its gradient is non-zero "
            + ("nowhere" if first.support is None else
               f"on rows {first.support[0][0]}–{first.support[0][1]}, cols {first.support[1][0]}–{first.support[1][1]}"))
    return ReceptiveFieldExplanation(layer_name, cell, value, engine, boxes, text)
