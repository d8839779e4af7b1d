"""Pooling layers explained, for the step-through view and ``convviz explain`` (numpy only).

    explain_pool_output(net, trace, "maxpool1", n, c, y, x)    # the window, its first maximum (or mean)
    route = max_pool_routing(net, trace, "maxpool1", n)       # where each upstream gradient goes
    share = avg_pool_sharing(net, trace, "avgpool1", n)       # each upstream gradient in F·F equal parts

Ties are broken as the engine breaks them: the first maximum in row-major window order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convviz.engine import layers as L
from convviz.engine import windowed as W
from convviz.engine.trace import Trace, check_index, rounding_tolerance


def _pool_layer(net, trace: Trace, name: str, need_backward: bool = False):
    layer = net.layer(name)
    if not isinstance(layer, W.Pool):
        raise ValueError(f"{name} is a {layer.spec.TITLE.lower()} layer: these explanations are for pooling layers")
    record = trace[name]
    if need_backward and record.upstream is None:
        raise ValueError("this trace has no backward pass: run net.trace_backward(trace, dscores) first")
    return layer, record


def window_rows_cols(geometry, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
    """The input rows and columns that the taps of output position (y, x) read, in input coordinates
    (dilation applied; below 0 or past the last row/column: padding)."""
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    (top, _), (left, _) = geometry.pad
    rows = y * sh + np.arange(geometry.taps_h) * dh - top
    cols = x * sw + np.arange(geometry.taps_w) * dw - left
    return rows, cols


# -- pooling ----------------------------------------------------------------------------------------------


@dataclass
class PoolOutputExplanation:
    """out[n, c, y, x] of a pooling layer: the max (first maximum in row-major window order, as the
    engine's backward breaks ties) or the mean (padded zeros counted) of the window.

    ``window`` (Fh, Fw): the input values (padding: −inf for max, 0 for average); ``rows``/``cols``:
    the input rows/columns of the taps; ``padding`` (Fh, Fw); ``winner``: the tap (p, q) of the first
    maximum (None for average); ``winner_cell``: its input (row, col); ``ties``: how many taps hold
    the maximum; ``result``; ``engine``; ``matches``.
    """

    layer: str
    kind: str  # "max" or "avg"
    n: int
    c: int
    y: int
    x: int
    window: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    padding: np.ndarray
    winner: tuple[int, int] | None
    winner_cell: tuple[int, int] | None
    ties: int
    result: float
    engine: float
    matches: bool
    text: str


def explain_pool_output(net, trace: Trace, layer_name: str, n: int, c: int, y: int, x: int) -> PoolOutputExplanation:
    """Explain output (n, c, y, x) of a max or average pooling layer: its window and what was taken."""
    layer, record = _pool_layer(net, trace, layer_name)
    out = L.as_4d(record.output)
    check_index(layer_name, (n, c, y, x), out.shape, "n, c, y, x")
    X = L.as_4d(record.input)
    H, Wd = X.shape[2:]
    rows, cols = window_rows_cols(layer.geometry, y, x)
    inside = ((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < Wd))[None, :]
    values = X[n, c][np.clip(rows, 0, H - 1)][:, np.clip(cols, 0, Wd - 1)]
    engine = float(out[n, c, y, x])
    if isinstance(layer, W.MaxPool):
        window = np.where(inside, values, -np.inf)
        first = int(np.argmax(window))  # flat, row-major: the first maximum
        p, q = divmod(first, window.shape[1])
        result = float(window[p, q])
        ties = int(np.sum(window == window[p, q]))
        tie_text = f"; {ties} taps hold it, the first in row-major order wins" if ties > 1 else ""
        text = (f"out[c={c}, y={y}, x={x}] = max of the {window.size} window values = {result:.6g} at input "
                f"(y={rows[p]}, x={cols[q]}){tie_text}; the engine computed {engine:.6g}")
        matches = result == engine
        return PoolOutputExplanation(layer_name, "max", n, c, y, x, window, rows, cols, ~inside, (p, q),
                                     (int(rows[p]), int(cols[q])), ties, result, engine, matches, text)
    window = np.where(inside, values, 0.0)
    result = math.fsum(window.ravel().tolist()) / window.size
    matches = abs(result - engine) <= rounding_tolerance(window / window.size, 0.0, X.dtype)
    text = (f"out[c={c}, y={y}, x={x}] = Σ window / {window.size} = {result:.6g} (padding counts as 0); "
            f"the engine computed {engine:.6g}")
    return PoolOutputExplanation(layer_name, "avg", n, c, y, x, window, rows, cols, ~inside, None, None, 0,
                                 result, engine, bool(matches), text)


@dataclass
class MaxPoolRouting:
    """The backward pass of a max pool for image n: each upstream gradient dY[c, y, x] goes to the
    input cell that won the forward max of its window (the first maximum in row-major order), every
    other cell gets 0 (or the sum of several windows' gradients where windows overlap).

    ``winners`` (C, Ho, Wo, 2): the input (row, col) of each window's winner; ``upstream`` (C, Ho, Wo);
    ``routed`` (C, H, W): dX computed by routing; ``engine`` (C, H, W): the engine's dX; ``matches``.
    """

    layer: str
    n: int
    winners: np.ndarray
    upstream: np.ndarray
    routed: np.ndarray
    engine: np.ndarray
    matches: bool
    text: str


def max_pool_routing(net, trace: Trace, layer_name: str, n: int = 0) -> MaxPoolRouting:
    """Route image ``n``'s upstream gradient of max pool ``layer_name`` to the forward winners.

    The winners of all windows are found at once: the taps' values stacked in row-major tap order
    (padding −inf), and ``argmax`` over that axis, which gives the first maximum."""
    layer, record = _pool_layer(net, trace, layer_name, need_backward=True)
    if not isinstance(layer, W.MaxPool):
        raise ValueError(f"{layer_name} is an average pool: its gradient is shared, not routed")
    geo = layer.geometry
    dy = L.as_4d(record.upstream)[n]
    X = L.as_4d(record.input)[n]
    C, Ho, Wo = dy.shape
    H, Wd = X.shape[1:]
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    (top, _), (left, _) = geo.pad
    xp = np.full((C, geo.padded_h, geo.padded_w), -np.inf)
    xp[:, top:top + H, left:left + Wd] = X
    taps = np.stack([xp[:, p * dh:p * dh + sh * (Ho - 1) + 1:sh, q * dw:q * dw + sw * (Wo - 1) + 1:sw]
                     for p, q in np.ndindex(geo.taps_h, geo.taps_w)])  # (Fh·Fw, C, Ho, Wo)
    p, q = np.divmod(np.argmax(taps, axis=0), geo.taps_w)  # the first maximum of every window
    rows = np.arange(Ho)[:, None] * sh + p * dh - top
    cols = np.arange(Wo)[None, :] * sw + q * dw - left
    winners = np.stack([rows, cols], axis=-1)
    routed = np.zeros((C, H, Wd), np.float64)
    np.add.at(routed, (np.broadcast_to(np.arange(C)[:, None, None], rows.shape), rows, cols), dy)
    engine = L.as_4d(record.downstream)[n].astype(np.float64)
    tol = 4 * float(np.finfo(dy.dtype).eps) * (np.abs(engine) + np.abs(routed)) + float(np.finfo(dy.dtype).tiny)
    matches = bool(np.all(np.abs(routed - engine) <= tol))
    zero = C * H * Wd - np.count_nonzero(routed)
    text = (f"{C}×{Ho}×{Wo} upstream gradients, each sent to the winner of its window ({zero} of {C * H * Wd} "
            f"input cells get 0); {'equal to' if matches else 'DIFFERENT from'} the engine's dX")
    return MaxPoolRouting(layer_name, n, winners, dy.copy(), routed, engine, matches, text)


@dataclass
class AvgPoolSharing:
    """The backward pass of an average pool for image n: each upstream gradient dY[c, y, x] is
    shared equally, dY/(Fh·Fw), by the cells of its window (a padding cell's share is dropped).

    ``share`` (C, Ho, Wo): dY/(Fh·Fw); ``shared`` (C, H, W): dX computed so; ``engine``; ``matches``.
    """

    layer: str
    n: int
    share: np.ndarray
    shared: np.ndarray
    engine: np.ndarray
    matches: bool
    text: str


def avg_pool_sharing(net, trace: Trace, layer_name: str, n: int = 0) -> AvgPoolSharing:
    """Share image ``n``'s upstream gradient of average pool ``layer_name`` over the windows."""
    layer, record = _pool_layer(net, trace, layer_name, need_backward=True)
    if isinstance(layer, W.MaxPool):
        raise ValueError(f"{layer_name} is a max pool: its gradient is routed to the maximum, not shared")
    geo = layer.geometry
    dy = L.as_4d(record.upstream)[n].astype(np.float64)
    C, Ho, Wo = dy.shape
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    (top, _), (left, _) = geo.pad
    share = dy / (geo.taps_h * geo.taps_w)
    padded = np.zeros((C, geo.padded_h, geo.padded_w))
    for p, q in np.ndindex(geo.taps_h, geo.taps_w):
        padded[:, p * dh:p * dh + sh * (Ho - 1) + 1:sh, q * dw:q * dw + sw * (Wo - 1) + 1:sw] += share
    shared = padded[:, top:top + geo.in_h, left:left + geo.in_w]
    engine = L.as_4d(record.downstream)[n].astype(np.float64)
    eps = float(np.finfo(record.upstream.dtype).eps)
    matches = bool(np.allclose(shared, engine, rtol=16 * eps, atol=16 * eps * float(np.abs(share).max(initial=0.0))))
    text = (f"each of the {C}×{Ho}×{Wo} upstream gradients is shared by the {geo.taps_h * geo.taps_w} cells of its "
            f"window, dY/{geo.taps_h * geo.taps_w} each; {'equal to' if matches else 'DIFFERENT from'} the engine's dX")
    return AvgPoolSharing(layer_name, n, share, shared, engine, matches, text)
