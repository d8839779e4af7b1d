"""An FC layer's backward pass for one input cell, the numbers and the engine's (numpy only).

    e = explain_fc_input_grad(net, trace, "fc1", n, (c, y, x))   # or (i,) of a flat input
    e.products                                                    # dY[o] · W[o, i] for every unit o
    e.total, e.engine, e.matches                                  # dX[i] = Σ_o dY[o] · W[o, i]
    e.weight_grads                                                # dW[o, i] = Σ_n x[n, i] · dY[n, o]

x is flattened in (C, H, W) order, as the forward pass reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convviz.engine import layers as L
from convviz.engine.trace import Trace, check_index, rounding_tolerance


@dataclass
class FCInputGradExplanation:
    """dX[n, i] = Σ_o dY[n, o] · W[o, i]: the upstream gradient of every unit back through column i of W.

    ``cell``: the input cell as the layer's input is shaped; ``i``: its flat index; ``upstream``,
    ``weights``, ``products``: (O,); ``weight_grads``: dW[:, i] (every image's x[i] · dY summed) and
    ``engine_weight_grads`` the engine's; ``x``: the forward input x[n, i]."""

    layer: str
    n: int
    i: int
    cell: tuple[int, ...]
    x: float
    upstream: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    total: float
    engine: float
    matches: bool
    weight_grads: np.ndarray
    engine_weight_grads: np.ndarray
    weight_grads_match: bool
    text: str


def explain_fc_input_grad(net, trace: Trace, layer_name: str, n: int, cell) -> FCInputGradExplanation:
    """Explain dL/d input ``cell`` of image ``n`` of FC layer ``layer_name`` (after ``trace_backward``),
    and the weight gradients dW[:, i] of the same input."""
    layer = net.layer(layer_name)
    if not isinstance(layer, L.FC):
        raise ValueError(f"{layer_name} is a {layer.spec.TITLE.lower()} layer: this explanation is for FC layers")
    record = trace[layer_name]
    if record.downstream is None:
        raise ValueError("the trace has no backward pass: run trace_backward first")
    shape = record.input.shape[1:]
    cell = tuple(int(c) for c in cell)
    check_index(layer_name, (n, *cell), record.input.shape, "n, " + ", ".join("cyx"[-len(shape):] if len(shape) > 1 else "i"))
    i = int(np.ravel_multi_index(cell, shape))
    dy = L.as_flat(record.upstream)[n]
    w = record.params["weight"][:, i]
    products = dy * w
    total = math.fsum(products.tolist())
    engine = float(record.downstream.reshape(record.downstream.shape[0], -1)[n, i])
    matches = abs(total - engine) <= rounding_tolerance(products, 0.0, w.dtype)
    xs = record.input.reshape(record.input.shape[0], -1)[:, i]
    dys = L.as_flat(record.upstream)
    weight_grads = np.array([math.fsum((xs * dys[:, o]).tolist()) for o in range(dys.shape[1])])
    engine_dw = record.param_grads["weight"][:, i].copy()
    dw_ok = all(abs(weight_grads[o] - engine_dw[o]) <= rounding_tolerance(xs * dys[:, o], 0.0, w.dtype)
                for o in range(dys.shape[1]))
    text = (f"dX[{i}] = Σ over {dy.size} units of dY[o] · W[o, {i}] = {total:.6g}; the engine computed {engine:.6g} "
            f"({'equal' if matches else 'DIFFERENT'}); the same input gives dW[o, {i}] = x[{i}] · dY[o] for every unit")
    return FCInputGradExplanation(layer_name, n, i, cell, float(xs[n]), dy.copy(), w.copy(), products, total, engine,
                                  bool(matches), weight_grads, engine_dw, dw_ok, text)
