"""More single numbers explained, for the step-through view and ``convviz explain`` (numpy only).

Beside the Conv explanations of :mod:`convviz.engine.trace` (the forward dot product, the input
gradient as a gather with flipped filters, the weight gradient over every position) and the pooling
ones of :mod:`convviz.engine.explain_pool`:

    s = conv_input_grad_scatter(net, trace, "conv1", n)        # dX as stamps w·dY, beside gather and dX
    explain_conv_input_grad_scatter(net, trace, "conv1", n, c, i, j)   # the stamps that reach one cell
    explain_fc_output(net, trace, "fc1", n, o)                 # one unit of an FC layer: x · W[o] + b[o]
    explain_batchnorm_output(net, trace, "bn1", n, c, y, x)    # γ·(x − μ)/√(σ² + ε) + β (evaluation)
    explain_softmax_loss(trace.scores[n], label, batch=1)      # p, −log p_y and p − onehot(y)

Every explanation carries the engine's own number beside the one computed here and says whether the
two agree (to the rounding of a different order of summing: exact in float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convviz.engine import layers as L
from convviz.engine.trace import (
    Trace,
    check_index,
    conv_layer,
    rounding_tolerance,
    upstream_map,
)

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
    check_index(layer_name, index, record.output.shape, "n, c, y, x")
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
    layer, record = conv_layer(net, trace, layer_name, need_backward=True)
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
    layer, record = conv_layer(net, trace, layer_name, need_backward=True)
    dx = L.as_4d(record.downstream)
    check_index(layer_name, (n, c, i, j), dx.shape, "n, c, i, j")
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
    matches = abs(total - engine) <= rounding_tolerance(products, 0.0, w.dtype)
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
    check_index(layer_name, (n, o), out.shape, "n, o")
    x = record.input.reshape(record.input.shape[0], -1)[n]
    w = record.params["weight"][o]
    products = x * w
    total = math.fsum(products.tolist())
    bias = float(record.params["bias"][o]) if "bias" in record.params else 0.0
    result = total + bias
    engine = float(out[n, o])
    matches = abs(result - engine) <= rounding_tolerance(products, bias, w.dtype)
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
