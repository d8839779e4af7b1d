"""Local response normalization and dropout, one cell explained with its numbers (numpy only).

    explain_lrn_output(net, trace, "lrn1", n, (c, y, x))   # b = a / (k + (α/n)·Σ a_j²)^β over the neighbourhood
    explain_dropout(net, trace, "dropout1", n, cell)        # y = x in evaluation; the training mask of one draw
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convviz.engine import layers as L
from convviz.engine.layer_base import as_4d
from convviz.engine.trace import Trace


def _full(cell) -> tuple[int, int, int]:
    cell = tuple(int(i) for i in cell)
    return cell + (0,) * (3 - len(cell))


@dataclass
class LRNExplanation:
    """b_c = a_c / s^β, s = k + (α/n)·Σ a_j² over slices ``slices`` (j = c − ⌊n/2⌋ … c + ⌊(n − 1)/2⌋ inside
    the volume) with their ``values`` a_j; ``squares``, ``total`` Σ a_j², ``s``, ``result``, ``engine``."""

    layer: str
    cell: tuple[int, ...]
    size: int
    alpha: float
    beta: float
    k: float
    slices: list[int]
    values: np.ndarray
    squares: float
    s: float
    a: float
    result: float
    engine: float
    matches: bool


def explain_lrn_output(net, trace: Trace, layer_name: str, n: int, cell) -> LRNExplanation:
    layer = net.layer(layer_name)
    if not isinstance(layer, L.LRN):
        raise ValueError(f"{layer_name} is a {layer.spec.TITLE.lower()} layer: this explanation is for LRN")
    record = trace[layer_name]
    x = as_4d(record.input)[n]
    c, y, xx = _full(cell)
    size, alpha, beta, k = layer.spec.size, layer.spec.alpha, layer.spec.beta, layer.spec.k
    slices = [j for j in range(c - size // 2, c + (size - 1) // 2 + 1) if 0 <= j < x.shape[0]]
    values = x[slices, y, xx].astype(np.float64)
    squares = math.fsum((values * values).tolist())
    s = k + alpha / size * squares
    a = float(x[c, y, xx])
    result = a / s**beta
    engine = float(as_4d(record.output)[(n, c, y, xx)])
    tol = 1e-12 if net.dtype == np.float64 else 1e-5
    return LRNExplanation(layer_name, tuple(int(i) for i in cell), size, alpha, beta, k, slices, values, squares, s, a,
                          result, engine, abs(result - engine) <= tol * max(1.0, abs(result)))


@dataclass
class DropoutExplanation:
    """Inverted dropout at one cell: in evaluation (the traced step) y = x; in training, one draw of the
    network's generator keeps the cell (``kept``: mask 1/(1 − p)) or drops it (mask 0). ``kept_share``: the
    share of the layer's cells that draw kept (about 1 − p). ``kept`` is None when x = 0 (the mask is not
    visible in the output)."""

    layer: str
    cell: tuple[int, ...]
    p: float
    x: float
    eval_output: float
    train_output: float
    kept: bool | None
    scale: float
    kept_share: float
    mask: np.ndarray  # the draw's mask over the layer's output: 1 kept, 0 dropped, nan where x = 0


def dropout_mask(net, trace: Trace, layer_name: str, n: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(mask, training output) of dropout layer ``layer_name`` for image ``n`` in one training-mode pass of
    ``trace``'s input (the network's generator and statistics are restored afterwards): mask 1 where the
    cell is kept, 0 where dropped, nan where its input is 0."""
    train = net.trace_forward(trace.input, train=True)
    record = train[layer_name]
    x, y = np.asarray(record.input[n], dtype=np.float64), np.asarray(record.output[n], dtype=np.float64)
    mask = np.where(x == 0, np.nan, (y != 0).astype(np.float64))
    return mask, y


def explain_dropout(net, trace: Trace, layer_name: str, n: int, cell, drawn=None) -> DropoutExplanation:
    """Explain dropout at ``cell`` (``drawn``: ``dropout_mask``'s result when known)."""
    layer = net.layer(layer_name)
    if not isinstance(layer, L.Dropout):
        raise ValueError(f"{layer_name} is a {layer.spec.TITLE.lower()} layer: this explanation is for dropout")
    record = trace[layer_name]
    mask, y = drawn if drawn is not None else dropout_mask(net, trace, layer_name, n)
    cell = tuple(int(i) for i in cell)
    p = float(layer.spec.p)
    m = mask[cell]
    known = mask[~np.isnan(mask)]
    return DropoutExplanation(layer_name, cell, p, float(np.asarray(record.input[n])[cell]),
                              float(np.asarray(record.output[n])[cell]), float(y[cell]),
                              None if np.isnan(m) else bool(m), 1 / (1 - p) if p < 1 else float("inf"),
                              float(known.mean()) if known.size else float("nan"), mask)
