"""Element-wise activations and the residual and branch blocks, one cell explained (numpy only).

    explain_activation_output(net, trace, "relu1", n, (c, y, x))  # f(x) with its numbers
    explain_block_output(net, trace, "res1", n, (c, y, x))        # body + shortcut, or the slice of a branch
    explain_block_input_grad(net, trace, "res1", n, (c, y, x))    # dY copied into every path, their dX added

Each explanation recomputes the number here from the trace's arrays and carries the engine's own
value beside it (``engine``) and whether the two agree (``matches``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convviz.engine import stack as B
from convviz.engine.layer_base import as_4d
from convviz.engine.trace import Trace


def _cell(n: int, cell) -> tuple[int, int, int, int]:
    cell = tuple(int(i) for i in cell) + (0,) * (3 - len(cell))
    return (int(n), *cell)


def _value(a: np.ndarray, n: int, cell) -> float:
    return float(as_4d(np.asarray(a))[_cell(n, cell)])


# -- activations -----------------------------------------------------------------------------------------------


@dataclass
class ActivationExplanation:
    """y = f(x) for one cell: ``formula`` names f (``max(0, x)`` …), ``working`` is the formula with
    this cell's numbers, ``changed`` whether y ≠ x; ``result`` computed here, ``engine`` the trace's."""

    layer: str
    type: str
    cell: tuple[int, ...]
    x: float
    formula: str
    working: str
    result: float
    engine: float
    matches: bool
    changed: bool


def _activation(kind: str, spec, x: float) -> tuple[str, str, float]:
    """(f's formula, f with x's numbers, f(x)) of activation type ``kind`` (``spec``: its fields)."""
    if kind == "relu":
        y = max(0.0, x)
        return "max(0, x)", f"max(0, {x:+.6g})", y
    if kind == "leaky_relu":
        a = float(spec.slope)
        if x > 0:
            return f"x if x > 0, else {a:g}·x", "x itself, as x > 0", x
        return f"x if x > 0, else {a:g}·x", f"{a:g} · {x:+.6g}", a * x
    if kind == "elu":
        a = float(spec.alpha)
        if x > 0:
            return f"x if x > 0, else {a:g}·(eˣ − 1)", "x itself, as x > 0", x
        return f"x if x > 0, else {a:g}·(eˣ − 1)", f"{a:g} · (e^{x:+.6g} − 1)", a * math.expm1(x)
    if kind == "tanh":
        return "tanh x = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ)", f"tanh({x:+.6g})", math.tanh(x)
    if kind == "sigmoid":
        return "σ(x) = 1/(1 + e⁻ˣ)", f"1/(1 + e^{-x:+.6g})", 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
    raise ValueError(f"{kind!r} is not an element-wise activation; allowed: relu, leaky_relu, elu, tanh, sigmoid")


def explain_activation_output(net, trace: Trace, layer_name: str, n: int, cell) -> ActivationExplanation:
    """Explain output ``cell`` (c, y, x) or (d,) of image ``n`` of activation layer ``layer_name``."""
    record = trace[layer_name]
    x = _value(record.input, n, cell)
    formula, working, y = _activation(record.type, net.layer(layer_name).spec, x)
    engine = _value(record.output, n, cell)
    tol = 1e-12 if net.dtype == np.float64 else 1e-5
    return ActivationExplanation(layer_name, record.type, tuple(int(i) for i in cell), x, formula, working, y, engine,
                                 abs(y - engine) <= tol * max(1.0, abs(y)), y != x)


# -- residual and branch blocks ------------------------------------------------------------------------------------


@dataclass
class BlockPath:
    """One path of a block at the explained cell: its name (``body``, ``shortcut``, ``branch 2``), the layer
    whose number it gives (its last, its first for a gradient; "" for the identity), the cell of that layer
    (a branch's own depth index) and the value there."""

    name: str
    layer: str
    cell: tuple[int, ...]
    value: float


@dataclass
class BlockExplanation:
    """A residual block's cell (the paths added) or a branch block's (the one path whose depth slice
    holds the cell), forward (``kind`` "output") or backward (``kind`` "input_grad": the upstream gradient
    ``upstream`` copied into every residual path or sliced back per branch, the paths' dX added)."""

    layer: str
    block: str  # "residual" or "branch"
    kind: str
    cell: tuple[int, ...]
    paths: list[BlockPath]
    result: float
    engine: float
    matches: bool
    upstream: float | None = None
    depths: tuple[int, ...] = ()  # a branch's depths, in concatenation order
    text: str = ""


def _paths(layer) -> list[tuple[str, B.Stack]]:
    if isinstance(layer, B.Residual):
        return [("body", layer.body), ("shortcut", layer.shortcut)]
    if isinstance(layer, B.Branch):
        return [(f"branch {i + 1}", s) for i, s in enumerate(layer.stacks)]
    raise ValueError(f"layer {layer.name!r} is a {layer.spec.TYPE} layer, not a residual or branch block")


def _tolerance(net, values) -> float:
    eps = 1e-12 if net.dtype == np.float64 else 1e-5
    return eps * max(1.0, float(np.sum(np.abs(values))))


def explain_block_output(net, trace: Trace, layer_name: str, n: int, cell) -> BlockExplanation:
    """Output ``cell`` of image ``n`` of a residual block (body + shortcut, an empty shortcut passing x) or
    a branch block (depth ``cell[0]`` lies in one branch's slice: that branch's own cell)."""
    layer, record = net.layer(layer_name), trace[layer_name]
    cell = tuple(int(i) for i in cell)
    engine = _value(record.output, n, cell)
    paths = []
    if isinstance(layer, B.Residual):
        for name, stack in _paths(layer):
            last = stack.layers[-1].name if stack.layers else ""
            value = _value(trace[last].output if last else record.input, n, cell)
            paths.append(BlockPath(name, last, cell, value))
        result = sum(p.value for p in paths)
        text = f"y = body + shortcut = {paths[0].value:+.6g} + {paths[1].value:+.6g} = {result:+.6g}"
        return BlockExplanation(layer_name, "residual", "output", cell, paths, result, engine,
                                abs(result - engine) <= _tolerance(net, [p.value for p in paths]), text=text)
    _paths(layer)
    start = 0
    for i, (stack, depth) in enumerate(zip(layer.stacks, layer.depths)):
        if start <= cell[0] < start + depth:
            own = (cell[0] - start, *cell[1:])
            last = stack.layers[-1].name if stack.layers else ""
            value = _value(trace[last].output if last else record.input, n, own)
            paths.append(BlockPath(f"branch {i + 1}", last, own, value))
            break
        start += depth
    result = paths[0].value
    text = (f"depth {cell[0]} of the concatenation is depth {paths[0].cell[0]} of {paths[0].name} "
            f"(depths {start}–{start + layer.depths[i] - 1})")
    return BlockExplanation(layer_name, "branch", "output", cell, paths, result, engine, result == engine,
                            depths=tuple(layer.depths), text=text)


def explain_block_input_grad(net, trace: Trace, layer_name: str, n: int, cell) -> BlockExplanation:
    """dX ``cell`` of image ``n`` of a residual or branch block: every path's own input gradient there
    (each path's first layer; an empty path passes its part of dY), added. A residual block copies dY into
    both paths; a branch block gives each branch its slice of dY."""
    layer, record = net.layer(layer_name), trace[layer_name]
    if record.downstream is None:
        raise ValueError("the trace has no backward pass: run trace_backward first")
    cell = tuple(int(i) for i in cell)
    engine = _value(record.downstream, n, cell)
    paths, start = [], 0
    depths = tuple(layer.depths) if isinstance(layer, B.Branch) else ()
    for i, (name, stack) in enumerate(_paths(layer)):
        first = stack.layers[0].name if stack.layers else ""
        if first:
            value = _value(trace[first].downstream, n, cell)
        elif depths:  # an empty branch passes its slice of dY straight through
            value = _value(record.upstream, n, (cell[0] + start, *cell[1:]))
        else:
            value = _value(record.upstream, n, cell)
        paths.append(BlockPath(name, first, cell, value))
        start += depths[i] if depths else 0
    result = sum(p.value for p in paths)
    ok = abs(result - engine) <= _tolerance(net, [p.value for p in paths])
    if depths:
        text = ("Each branch got its own depth slice of dY back (" +
                ", ".join(f"{p.name}: {a}–{a + d - 1}" for p, a, d in zip(paths, np.cumsum((0,) + depths), depths)) +
                "), and their input gradients add on the shared input")
        upstream = None
    else:
        upstream = _value(record.upstream, n, cell) if np.shape(record.upstream) == np.shape(record.downstream) else None
        text = "dY is copied unchanged into both paths (d(a + s)/da = d(a + s)/ds = 1); their input gradients add"
    return BlockExplanation(layer_name, "residual" if not depths else "branch", "input_grad", cell, paths, result,
                            engine, ok, upstream, depths, text)
