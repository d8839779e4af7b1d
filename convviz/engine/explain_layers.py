"""More single numbers explained, for the step-through view and ``convviz explain`` (numpy only).

Beside the Conv explanations of :mod:`convviz.engine.trace` (the forward dot product, the input
gradient as a gather with flipped filters, the weight gradient over every position):

    explain_pool_output(net, trace, "maxpool1", n, c, y, x)    # the window, its first maximum (or mean)
    route = max_pool_routing(net, trace, "maxpool1", n)       # where each upstream gradient goes
    s = conv_input_grad_scatter(net, trace, "conv1", n)        # dX as stamps w·dY, beside gather and dX
    explain_conv_input_grad_scatter(net, trace, "conv1", n, c, i, j)   # the stamps that reach one cell
    explain_softmax_loss(trace.scores[n], label, batch=1)      # p, −log p_y and p − onehot(y)
    gradient_check(net, trace, labels, "conv1.weight", (k, c, i, j))   # backward beside a centred difference
    explain_fc_output(net, trace, "fc1", n, o)                 # one unit of an FC layer: x · W[o] + b[o]
    ledger_terms(net, e)                                      # any of these as rows x·w = p

Every explanation carries the engine's own number beside the one computed here and says whether the
two agree (to the rounding of a different order of summing: exact in float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convviz.engine import layers as L
from convviz.engine import windowed as W
from convviz.engine.trace import (
    ConvInputGradExplanation,
    ConvOutputExplanation,
    ConvWeightGradExplanation,
    Trace,
    _check_index,
    _conv_layer,
    _tolerance,
    upstream_map,
)


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
    _check_index(layer_name, (n, c, y, x), out.shape, "n, c, y, x")
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
    matches = abs(result - engine) <= _tolerance(window / window.size, 0.0, X.dtype)
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


# -- batch norm ------------------------------------------------------------------------------------------------


@dataclass
class BatchNormOutputExplanation:
    """y = γ_c · (x − μ_c) / √(σ²_c + ε) + β_c for one cell, in evaluation mode (μ, σ²: the running
    statistics). ``x``, ``mean``, ``var``, ``eps``, ``xhat``, ``gamma``, ``beta``, ``result``,
    ``engine``, ``matches``."""

    layer: str
    cell: tuple[int, ...]
    x: float
    mean: float
    var: float
    eps: float
    xhat: float
    gamma: float
    beta: float
    result: float
    engine: float
    matches: bool
    text: str


def explain_batchnorm_output(net, trace: Trace, layer_name: str, n: int, c: int, *where: int) -> BatchNormOutputExplanation:
    """Explain output (n, c, y, x) (or (n, c) of a flat volume) of batch-norm layer ``layer_name`` in an
    evaluation-mode trace: the normalization with the running statistics, γ and β."""
    layer = net.layer(layer_name)
    if not isinstance(layer, L.BatchNorm):
        raise ValueError(f"{layer_name} is a {layer.spec.TITLE.lower()} layer: this explanation is for batch norm")
    if trace.train:
        raise ValueError("batch norm is explained for evaluation-mode traces (train=False): in training it uses "
                         "the batch's statistics")
    record = trace[layer_name]
    index = (n, c, *where)
    _check_index(layer_name, index, record.output.shape, "n, c, y, x")
    x = float(record.input[index])
    mean, var = float(layer.buffers["running_mean"][c]), float(layer.buffers["running_var"][c])
    eps = float(layer.spec.eps)
    gamma, beta = float(record.params["weight"][c]), float(record.params["bias"][c])
    xhat = (x - mean) / math.sqrt(var + eps)
    result = gamma * xhat + beta
    engine = float(record.output[index])
    matches = abs(result - engine) <= 16 * float(np.finfo(record.output.dtype).eps) * (abs(result) + abs(beta) + 1e-300)
    text = (f"y = γ · (x − μ)/√(σ² + ε) + β = {gamma:.6g} · ({x:.6g} − {mean:.6g})/√({var:.6g} + {eps:g}) + {beta:.6g} "
            f"= {result:.6g}; the engine computed {engine:.6g} ({'equal' if matches else 'DIFFERENT'})")
    return BatchNormOutputExplanation(layer_name, index[1:], x, mean, var, eps, xhat, gamma, beta, result, engine,
                                      bool(matches), text)


# -- the conv input gradient as a scatter -------------------------------------------------------------------


@dataclass
class ConvScatter:
    """dX of a Conv layer for image n computed two ways, beside the engine's.

    *scatter*: every upstream cell dY[k, y, x] stamps dY[k, y, x] · w[k] onto the input window it came
    from; *gather*: each input cell is a full convolution of the zero-padded (stride-spread) upstream
    gradient with the 180°-rotated filters. ``scatter``, ``gather``, ``engine``: (C, H, W);
    ``matches``: all three agree cell for cell.
    """

    layer: str
    n: int
    scatter: np.ndarray
    gather: np.ndarray
    engine: np.ndarray
    matches: bool
    text: str


def conv_input_grad_scatter(net, trace: Trace, layer_name: str, n: int = 0) -> ConvScatter:
    """dX of image ``n`` of Conv layer ``layer_name`` by scatter and by gather, checked against the engine."""
    layer, record = _conv_layer(net, trace, layer_name, need_backward=True)
    geo = layer.geometry
    dy = L.as_4d(record.upstream)[n].astype(np.float64)
    w = record.params["weight"].astype(np.float64)
    K, C, fh, fw = w.shape
    _, Ho, Wo = dy.shape
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    (top, _), (left, _) = geo.pad
    hp, wp = geo.padded_h, geo.padded_w
    # In padded coordinates (the padding's share is dropped at the end). The stamp of output (y, x)
    # puts Σ_k dY[k, y, x] · w[k, :, p, q] on input (y·S + p·d, x·S + q·d); adding tap (p, q) of
    # every stamp at once is the same sum, in Fh·Fw array operations instead of Ho·Wo.
    stamped = np.zeros((C, hp, wp))
    for p, q in np.ndindex(fh, fw):
        share = np.tensordot(w[:, :, p, q], dy, axes=([0], [0]))  # (C, Ho, Wo)
        stamped[:, p * dh:p * dh + sh * (Ho - 1) + 1:sh, q * dw:q * dw + sw * (Wo - 1) + 1:sw] += share
    H, Wd = geo.in_h, geo.in_w
    scatter = stamped[:, top:top + H, left:left + Wd]
    g = upstream_map(layer, dy)  # (K, hp + d(Fh − 1), wp + d(Fw − 1))
    flipped = w[:, :, ::-1, ::-1]
    gathered = np.zeros((C, hp, wp))
    for u, v in np.ndindex(fh, fw):
        window = g[:, u * dh:u * dh + hp, v * dw:v * dw + wp]  # (K, hp, wp)
        gathered += np.tensordot(flipped[:, :, u, v], window, axes=([0], [0]))
    gather = gathered[:, top:top + H, left:left + Wd]
    engine = L.as_4d(record.downstream)[n].astype(np.float64)
    eps = float(np.finfo(record.params["weight"].dtype).eps)
    scale = np.abs(engine).max(initial=0.0) + np.abs(scatter).max(initial=0.0)
    tol = (K * fh * fw + 2) * eps * max(scale, float(np.finfo(np.float64).tiny))
    matches = bool(np.all(np.abs(scatter - engine) <= tol) and np.all(np.abs(gather - engine) <= tol))
    text = (f"dX by scatter ({K}×{Ho}×{Wo} stamps w·dY) and by gather (full convolution with the filters "
            f"rotated 180°): {'both equal' if matches else 'NOT both equal'} to the engine's dX, cell for cell "
            f"(largest difference {float(max(np.abs(scatter - engine).max(), np.abs(gather - engine).max())):.2g})")
    return ConvScatter(layer_name, n, scatter, gather, engine, matches, text)


@dataclass
class ConvScatterCellExplanation:
    """dX[n, c, i, j] as the sum of the stamps that reach it: one term dY[k, y, x] · w[k, c, p, q] for
    every output (k, y, x) whose window tap (p, q) reads input (i, j).

    ``sources`` (T, 5): rows (k, y, x, p, q); ``upstream``, ``weights``, ``products``: (T,);
    ``total``; ``engine``; ``matches``.
    """

    layer: str
    n: int
    c: int
    i: int
    j: int
    sources: np.ndarray
    upstream: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    total: float
    engine: float
    matches: bool
    text: str


def explain_conv_input_grad_scatter(net, trace: Trace, layer_name: str, n: int, c: int, i: int, j: int
                                    ) -> ConvScatterCellExplanation:
    """The stamps w·dY that land on input cell (n, c, i, j) of Conv layer ``layer_name``, summed."""
    layer, record = _conv_layer(net, trace, layer_name, need_backward=True)
    dx = L.as_4d(record.downstream)
    _check_index(layer_name, (n, c, i, j), dx.shape, "n, c, i, j")
    dy = L.as_4d(record.upstream)[n]
    w = record.params["weight"]
    K, _, fh, fw = w.shape
    geo = layer.geometry
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    (top, _), (left, _) = geo.pad
    sources = []
    for p, q in np.ndindex(fh, fw):
        ry, rx = i + top - p * dh, j + left - q * dw  # the output position whose tap (p, q) reads (i, j)
        if ry % sh or rx % sw:
            continue
        y, x = ry // sh, rx // sw
        if 0 <= y < geo.out_h and 0 <= x < geo.out_w:
            sources.extend((k, y, x, p, q) for k in range(K))
    sources = np.array(sorted(sources), np.int64).reshape(-1, 5)
    k, y, x, p, q = sources.T
    upstream, weights = dy[k, y, x].astype(np.float64), w[k, c, p, q].astype(np.float64)
    products = upstream * weights
    total = math.fsum(products.tolist())
    engine = float(dx[n, c, i, j])
    matches = abs(total - engine) <= _tolerance(products, 0.0, w.dtype)
    text = (f"dX[c={c}, y={i}, x={j}] = Σ over the {len(sources) // max(K, 1)} output positions whose window covers it "
            f"and the {K} filters of dY · w = {total:.6g}; the engine computed {engine:.6g} "
            f"({'equal' if matches else 'DIFFERENT'})")
    return ConvScatterCellExplanation(layer_name, n, c, i, j, sources, upstream, weights, products, total, engine,
                                      bool(matches), text)


# -- fully connected -----------------------------------------------------------------------------------------


@dataclass
class FCOutputExplanation:
    """y[n, o] = Σ_i x[n, i] · W[o, i] + b[o] for one output unit of an FC layer (x flattened in
    (C, H, W) order). ``inputs``, ``weights``, ``products``: (D,); ``total``; ``bias``; ``result``;
    ``engine``; ``matches``."""

    layer: str
    n: int
    o: int
    inputs: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    total: float
    bias: float
    result: float
    engine: float
    matches: bool
    text: str


def explain_fc_output(net, trace: Trace, layer_name: str, n: int, o: int) -> FCOutputExplanation:
    """Explain output unit ``o`` of image ``n`` of FC layer ``layer_name``: the dot product of the
    flattened input with row ``o`` of the weights, plus the bias, beside the engine's value."""
    layer = net.layer(layer_name)
    if not isinstance(layer, L.FC):
        raise ValueError(f"{layer_name} is a {layer.spec.TITLE.lower()} layer: this explanation is for FC layers")
    record = trace[layer_name]
    out = L.as_flat(record.output)
    _check_index(layer_name, (n, o), out.shape, "n, o")
    x = record.input.reshape(record.input.shape[0], -1)[n]
    w = record.params["weight"][o]
    products = x * w
    total = math.fsum(products.tolist())
    bias = float(record.params["bias"][o]) if "bias" in record.params else 0.0
    result = total + bias
    engine = float(out[n, o])
    matches = abs(result - engine) <= _tolerance(products, bias, w.dtype)
    text = (f"y[{o}] = Σ over {x.size} inputs of x · W[{o}] + b[{o}] = {total:.6g} + {bias:.6g} = {result:.6g}; "
            f"the engine computed {engine:.6g} ({'equal' if matches else 'DIFFERENT'})")
    return FCOutputExplanation(layer_name, n, o, x.copy(), w.copy(), products, total, bias, result, engine,
                               bool(matches), text)


# -- softmax and the loss -------------------------------------------------------------------------------------


@dataclass
class SoftmaxLossExplanation:
    """p = e^(s − max s) / Σ e^(s − max s), L = −log p_y, dL/ds = (p − onehot(y)) / batch.

    ``scores``, ``probabilities``, ``gradient``: (K,); ``engine_gradient``: the engine's dscores for
    this image (None when not given); ``matches``.
    """

    label: int
    scores: np.ndarray
    probabilities: np.ndarray
    loss: float
    gradient: np.ndarray
    batch: int
    engine_gradient: np.ndarray | None
    matches: bool
    text: str


def explain_softmax_loss(scores, label: int, batch: int = 1, engine_gradient=None) -> SoftmaxLossExplanation:
    """The softmax, the cross-entropy loss and its gradient for one image's scores (K,) and ``label``;
    ``engine_gradient``: what ``softmax_cross_entropy`` gave for this image, to compare."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not isinstance(label, (int, np.integer)) or not 0 <= label < s.size:
        raise ValueError(f"label must be an integer in [0, {s.size}), got label={label!r}")
    e = np.exp(s - s.max())
    p = e / e.sum()
    loss = float(-np.log(p[label]))
    onehot = np.zeros_like(p)
    onehot[label] = 1.0
    gradient = (p - onehot) / batch
    matches = True
    if engine_gradient is not None:
        engine_gradient = np.asarray(engine_gradient, dtype=np.float64).reshape(-1)
        eps = float(np.finfo(np.asarray(scores).dtype).eps) if np.asarray(scores).dtype.kind == "f" else 1e-15
        matches = bool(np.allclose(gradient, engine_gradient, rtol=0, atol=16 * eps))
    text = (f"p_{label} = {p[label]:.4g}, loss −log p_{label} = {loss:.4g}; the gradient p − onehot({label})"
            + (f", ÷ {batch}" if batch > 1 else "") + " starts the backward pass")
    return SoftmaxLossExplanation(int(label), s, p, loss, gradient, batch, engine_gradient, matches, text)


# -- a gradient checked by centred differences ---------------------------------------------------------------


@dataclass
class GradientCheck:
    """dL/d(one number) from the backward pass beside the centred difference of the loss
    (8(L(+h) − L(−h)) − (L(+2h) − L(−2h)))/12h, and their relative error |a − n| / (|a| + |n|)."""

    what: str  # "input" or a parameter's stable name ("conv1.weight")
    index: tuple[int, ...]
    analytic: float
    numeric: float
    rel_error: float
    h: float
    text: str


def gradient_check(net, trace: Trace, labels, what: str, index: tuple[int, ...], h: float = 1e-3) -> GradientCheck:
    """Check one gradient of ``trace`` (after ``trace_step``) numerically: ``what`` is ``input``
    (index into the input, (n, c, y, x)) or a parameter's stable name (index into it).

    The loss is the softmax cross-entropy of ``labels`` on forward passes of the trace's input in the
    trace's mode (use a float64 network and evaluation mode); the network's weights, buffers and
    random state are as before afterwards. A number within 2h of a kink (ReLU at 0, a max-pool tie)
    spoils any finite difference.
    """
    from convviz.engine.gradcheck import rel_error
    from convviz.engine.loss import softmax_cross_entropy

    if not trace.has_backward:
        raise ValueError("this trace has no backward pass: run net.trace_backward(trace, dscores) first")
    labels = np.asarray(labels, dtype=np.int64)
    x = trace.input.copy()
    if what == "input":
        target, analytic = x, float(trace.input_grad[index])
    else:
        params = net.params()
        if what not in params:
            raise KeyError(f"no parameter named {what!r}; parameters: {', '.join(params)}")
        layer, key = what.rsplit(".", 1)
        target, analytic = params[what], float(trace[layer].param_grads[key][index])
    old = target[index]

    def loss(step: float) -> float:
        target[index] = old + step
        return softmax_cross_entropy(net.forward(x, train=trace.train), labels)[0]

    with net.run_state_kept():
        try:
            numeric = (8 * (loss(h) - loss(-h)) - (loss(2 * h) - loss(-2 * h))) / (12 * h)
        finally:
            target[index] = old
    error = rel_error(np.array([analytic]), np.array([numeric]))
    text = (f"d loss / d {what}[{', '.join(map(str, index))}]: backward pass {analytic:.10g}, centred difference "
            f"(h = {h:g}) {numeric:.10g}, relative error {error:.1e}")
    return GradientCheck(what, tuple(int(i) for i in index), analytic, float(numeric), error, h, text)


# -- a ledger of terms ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One product of a ledger: ``left`` · ``right`` = ``product``. Each factor is (what, index,
    value): what is ``input``, ``weight`` or ``upstream``; index is a tuple into that array (for a
    padding cell of the input: its position outside the image, and ``padding`` is True)."""

    left: tuple[str, tuple[int, ...], float]
    right: tuple[str, tuple[int, ...], float]
    product: float
    padding: bool = False


def ledger_terms(net, e) -> list[Term]:
    """The terms of a Conv or FC explanation of ``net``, in the order the sum runs (channel, then
    filter row, column; for a weight gradient: image, then output row, column, with the input cell
    each position read; for an input gradient by scatter: filter, then output position; for an FC
    unit: its inputs in order)."""
    if isinstance(e, ConvOutputExplanation):
        C, fh, fw = e.window.shape
        return [Term(("input", (c, int(e.rows[p]), int(e.cols[q])), float(e.window[c, p, q])),
                     ("weight", (e.d, c, p, q), float(e.filter[c, p, q])),
                     float(e.products[c, p, q]), bool(e.padding[p, q]))
                for c, p, q in np.ndindex(C, fh, fw)]
    if isinstance(e, ConvWeightGradExplanation):
        N, Ho, Wo = e.inputs.shape
        geo = net.layer(e.layer).geometry
        (sh, sw), (dh, dw), ((top, _), (left, _)) = geo.stride, geo.dilation, geo.pad
        return [Term(("input", (n, e.c, y * sh + e.p * dh - top, x * sw + e.q * dw - left), float(e.inputs[n, y, x])),
                     ("upstream", (n, e.k, y, x), float(e.upstream[n, y, x])),
                     float(e.products[n, y, x]), bool(e.padding[y, x]))
                for n, y, x in np.ndindex(N, Ho, Wo)]
    if isinstance(e, FCOutputExplanation):
        return [Term(("input", (i,), float(x)), ("weight", (e.o, i), float(w)), float(p))
                for i, (x, w, p) in enumerate(zip(e.inputs, e.weights, e.products))]
    if isinstance(e, ConvScatterCellExplanation):
        return [Term(("upstream", (int(k), int(y), int(x)), float(u)), ("weight", (int(k), e.c, int(p), int(q)), float(w)),
                     float(prod))
                for (k, y, x, p, q), u, w, prod in zip(e.sources, e.upstream, e.weights, e.products)]
    if isinstance(e, ConvInputGradExplanation):
        K, fh, fw = e.window.shape
        terms = []
        for k, u, v in np.ndindex(K, fh, fw):
            y, x = int(e.source_rows[u]), int(e.source_cols[v])
            terms.append(Term(("upstream", (k, y, x), float(e.window[k, u, v])),
                              ("weight", (k, e.c, fh - 1 - u, fw - 1 - v), float(e.flipped[k, u, v])),
                              float(e.products[k, u, v]), not bool(e.real[u, v])))
        return terms
    raise TypeError(f"no ledger for {type(e).__name__}")


# -- one image's training step, traced --------------------------------------------------------------------


def float64_network(spec, weights: dict):
    """A float64 :class:`~convviz.engine.Network` of ``spec`` holding ``weights`` (every parameter and
    buffer by name, as ``get_weights`` gives them, of any float dtype): explanations are then exact."""
    from convviz.engine.network import Network

    net = Network(spec, dtype=np.float64)
    net.set_weights(weights)
    return net


def trace_step(net, x, labels):
    """Trace one step of training on ``x`` (N, C, H, W) with ``labels`` (N,) in evaluation mode:
    forward, the softmax cross-entropy loss, and backward from its gradient.

    Returns (trace, loss, dscores); the network is left as it was.
    """
    from convviz.engine.loss import softmax_cross_entropy

    trace = net.trace_forward(x, train=False)
    loss, dscores = softmax_cross_entropy(trace.scores, np.asarray(labels, dtype=np.int64))
    net.trace_backward(trace, dscores)
    return trace, loss, dscores
