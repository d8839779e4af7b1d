"""Traced passes and the explanation of single numbers, for the visual step-through.

    trace = net.trace_forward(x)                  # every layer's input and output (copies)
    net.trace_backward(trace, dscores)            # + dL/d output, dL/d input and parameter gradients
    e = explain_conv_output(net, trace, "conv1", n=0, d=3, y=5, x=7)
    e.result, e.engine, e.matches                 # Σ X[window]·w_d + b_d, the engine's number, equal?

A trace is plain data: numpy arrays (copies, so training may go on), numbers and short text. Arrays
are shaped as the engine holds them: (N, C, H, W), or (N, D) for a flat 1×1×D volume.

Traced passes leave the network as they found it: batch-norm running statistics, the dropout
generator and the gradients from ``backward`` are restored afterwards. They run every layer on its
own (no fused or in-place steps), so each layer's input and output are there to see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from convviz.engine import layers as L
from convviz.engine import windowed as W
from convviz.engine.blas import engine_threads


@dataclass
class LayerTrace:
    """One layer's numbers in a traced pass (composite blocks and their inner layers alike).

    ``input``/``output``: the forward values; ``upstream``: dL/d output and ``downstream``: dL/d input
    (after ``trace_backward``); ``params``: the parameters used (copies); ``param_grads``: their
    gradients (after ``trace_backward``).
    """

    name: str
    type: str  # the specification's layer type: "conv", "relu", "residual" …
    input: np.ndarray
    output: np.ndarray | None = None
    params: dict[str, np.ndarray] = field(default_factory=dict)
    upstream: np.ndarray | None = None
    downstream: np.ndarray | None = None
    param_grads: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Trace:
    """A traced forward pass (and, once ``trace_backward`` ran, the backward pass).

    ``layers`` maps every layer's stable name to its :class:`LayerTrace`, in forward order (a block
    before its inner layers); ``scores`` are the network's output (logits), ``dscores`` the gradient
    given to ``trace_backward`` and ``input_grad`` dL/dx.
    """

    input: np.ndarray
    train: bool
    layers: dict[str, LayerTrace]
    scores: np.ndarray | None = None
    dscores: np.ndarray | None = None
    input_grad: np.ndarray | None = None
    forward_id: int = 0
    rng_state: dict | None = None

    def __getitem__(self, name: str) -> LayerTrace:
        try:
            return self.layers[name]
        except KeyError:
            raise KeyError(f"no layer named {name!r} in this trace; layers: {', '.join(self.layers)}") from None

    @property
    def has_backward(self) -> bool:
        return self.dscores is not None


class _Recorder:
    """Receives every layer's arrays from a traced pass (``record=False``: runs the plan, keeps nothing)."""

    def __init__(self, trace: Trace, record: bool = True, copy_grads: bool = True, copy_params: bool = True):
        self.trace, self.record, self.copy_grads, self.copy_params = trace, record, copy_grads, copy_params

    @staticmethod
    def _shaped(a: np.ndarray, volume) -> np.ndarray:
        a = np.array(a, copy=True)
        return L.as_flat(a) if volume is not None and volume.is_flat and a.ndim == 4 else a

    def forward_in(self, layer, x):
        if self.record:
            params = {k: v.copy() if self.copy_params else v for k, v in layer.params.items()}
            self.trace.layers[layer.name] = LayerTrace(layer.name, layer.spec.TYPE, self._shaped(x, layer.input), params=params)

    def forward_out(self, layer, y):
        if self.record:
            self.trace.layers[layer.name].output = self._shaped(y, layer.output)

    def backward_in(self, layer, dout):
        self.trace.layers[layer.name].upstream = self._shaped(dout, layer.output)

    def backward_out(self, layer, dx):
        self.trace.layers[layer.name].downstream = self._shaped(dx, layer.input)
        self.trace.layers[layer.name].param_grads = {k: v.copy() if self.copy_grads else v for k, v in layer.grads.items()}


@engine_threads
def trace_forward(net, x, train: bool = False, copy_params: bool = True) -> Trace:
    """Run ``net`` forward on ``x`` keeping every layer's input and output; returns a :class:`Trace`.

    ``train`` selects dropout and batch statistics as in training; the running statistics and the
    random generator are restored afterwards, so tracing never changes the network.
    ``copy_params=False`` (a network of the caller's own, whose parameters nothing changes) keeps the
    network's parameter arrays themselves in the trace instead of copies.
    """
    trace = Trace(input=np.array(x, dtype=net.dtype, copy=True), train=train, layers={})
    with net.run_state_kept() as state:
        trace.rng_state = state.rng
        trace.scores = net.forward_recorded(trace.input.copy(), train, _Recorder(trace, copy_params=copy_params)).copy()
    trace.forward_id = net.forward_count
    return trace


@engine_threads
def trace_backward(net, trace: Trace, dscores, keep_grads: bool = True) -> Trace:
    """Run the backward pass of ``trace``'s forward with upstream gradient ``dscores`` (shaped like
    ``trace.scores``), adding every layer's gradients to the trace; returns the trace.

    If the network ran other passes since ``trace_forward``, the traced forward pass is repeated
    first (same input, same dropout draws). The network's own gradients are left as they were;
    ``keep_grads=False`` (a network of the caller's own, that nothing else runs backward on) skips
    saving and restoring them, and the trace's ``param_grads`` are then the network's gradient arrays
    themselves: three copies of every parameter fewer (VGG-16 in float64: 1.1 GB each).
    """
    if dscores is None or np.shape(dscores) != trace.scores.shape:
        raise ValueError(f"dscores must have the shape of the traced scores {trace.scores.shape}, got {np.shape(dscores)}")
    if net.forward_count != trace.forward_id:
        with net.run_state_kept() as state:
            net.restore_run_state(type(state)(state.buffers, trace.rng_state))
            net.forward_recorded(trace.input.copy(), trace.train, _Recorder(trace, record=False))
        trace.forward_id = net.forward_count
    if keep_grads:
        with net.grads_kept():
            dx = net.backward_recorded(dscores, _Recorder(trace))
    else:
        dx = net.backward_recorded(dscores, _Recorder(trace, copy_grads=False))
    trace.dscores = np.array(dscores, dtype=net.dtype, copy=True)
    trace.input_grad = dx.copy()
    return trace


# -- explaining one number of a convolution ---------------------------------------------------------------


def conv_layer(net, trace: Trace, name: str, need_backward: bool = False):
    layer = net.layer(name)
    if type(layer) is not W.Conv:
        raise ValueError(f"{name} is a {layer.spec.TITLE.lower()} layer: these explanations are for Conv layers")
    record = trace[name]
    if need_backward and record.upstream is None:
        raise ValueError("this trace has no backward pass: run net.trace_backward(trace, dscores) first")
    return layer, record


def check_index(what: str, values: tuple, limits: tuple, names: str) -> None:
    for value, limit, label in zip(values, limits, names.split(", ")):
        if not isinstance(value, (int, np.integer)) or not 0 <= value < limit:
            raise ValueError(f"{what}: {label} must be an integer in [0, {limit}), got {label}={value!r}")


def rounding_tolerance(terms: np.ndarray, extra: float, dtype) -> float:
    """A bound on the rounding difference between two orders of summing ``terms`` (+ ``extra``):
    (count + 2)·ε·Σ|term| in the engine's dtype (float64: about 1e-14 relative, i.e. exact)."""
    scale = float(np.sum(np.abs(terms), dtype=np.float64)) + abs(extra)
    return (terms.size + 2) * float(np.finfo(dtype).eps) * scale + float(np.finfo(dtype).tiny)


@dataclass
class ConvOutputExplanation:
    """V[n, d, y, x] = Σ X̃[n, :, rows, cols] · w[d] + b[d] for one output number of a Conv layer.

    ``window`` (C, Fh, Fw): the input values under the filter (0 at padding); ``rows``/``cols``: the
    input rows and columns the taps read (dilation applied; outside [0, H) or [0, W) is padding);
    ``padding`` (Fh, Fw): True where a tap reads padding; ``filter`` (C, Fh, Fw): w[d];
    ``products``: window · filter; ``total``: their sum; ``bias``: b[d] (0 without bias);
    ``result`` = total + bias; ``engine``: the engine's output; ``matches``: equal to within the
    rounding of a different summation order (exact in float64).
    """

    layer: str
    n: int
    d: int
    y: int
    x: int
    window: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    padding: np.ndarray
    filter: np.ndarray
    products: np.ndarray
    total: float
    bias: float
    result: float
    engine: float
    matches: bool
    text: str


def explain_conv_output(net, trace: Trace, layer_name: str, n: int, d: int, y: int, x: int) -> ConvOutputExplanation:
    """Explain output number (n, d, y, x) of Conv layer ``layer_name`` in ``trace``: the window, the
    filter slice w_d, their products and sum, the bias, and the engine's value beside it."""
    layer, record = conv_layer(net, trace, layer_name)
    out = L.as_4d(record.output)
    check_index(layer_name, (n, d, y, x), out.shape, "n, d, y, x")
    X = L.as_4d(record.input)
    _, C, H, Wd = X.shape
    w = record.params["weight"]
    geo = layer.geometry
    fh, fw = geo.taps_h, geo.taps_w
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    (top, _), (left, _) = geo.pad
    rows = y * sh + np.arange(fh) * dh - top
    cols = x * sw + np.arange(fw) * dw - left
    inside = ((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < Wd))[None, :]
    window = X[n][:, np.clip(rows, 0, H - 1)][:, :, np.clip(cols, 0, Wd - 1)] * inside
    filt = w[d]
    products = window * filt
    total = math.fsum(products.ravel().tolist())
    bias = float(record.params["bias"][d]) if "bias" in record.params else 0.0
    result = total + bias
    engine = float(out[n, d, y, x])
    matches = abs(result - engine) <= rounding_tolerance(products, bias, w.dtype)
    text = (
        f"V[x={x}, y={y}, d={d}] = Σ X[window] · w{d} + b{d} = {total:.6g} + {bias:.6g} = {result:.6g}; "
        f"the engine computed {engine:.6g} ({'equal' if matches else 'DIFFERENT'})"
    )
    return ConvOutputExplanation(
        layer_name, n, d, y, x, window, rows, cols, ~inside, filt.copy(), products, total, bias, result, engine,
        bool(matches), text,
    )


@dataclass
class ConvInputGradExplanation:
    """dX[n, c, i, j] as a convolution of the upstream gradient with spatially flipped filters.

    The upstream gradient dV (K, Ho, Wo) of image n is spread out by the stride (S − 1 zeros between
    values) and padded by d(F − 1) zeros: ``upstream_map`` (K, Hp + d(Fh − 1), Wp + d(Fw − 1)). Then
    dX̃[c, h, w] = Σ_k Σ_u,v upstream_map[k, h + u·d, w + v·d] · flip(w)[k, c, u, v], with flip(w)[…, u, v]
    = w[…, F − 1 − u, F − 1 − v] and (h, w) = (i + top, j + left) in padded coordinates.

    ``window`` (K, Fh, Fw): upstream_map under the flipped filters; ``source_rows``/``source_cols``:
    the output row/column of dV each tap reads (−1: an inserted or padding zero); ``real`` (Fh, Fw):
    the taps that read a real dV value; ``flipped`` (K, Fh, Fw); ``products``; ``total``; ``engine``:
    the engine's dX; ``matches``.
    """

    layer: str
    n: int
    c: int
    i: int
    j: int
    upstream_map: np.ndarray
    origin: tuple[int, int]
    window: np.ndarray
    source_rows: np.ndarray
    source_cols: np.ndarray
    real: np.ndarray
    flipped: np.ndarray
    products: np.ndarray
    total: float
    engine: float
    matches: bool
    text: str


def upstream_map(layer, dv: np.ndarray) -> np.ndarray:
    """dv (K, Ho, Wo) → (K, Hp + d(Fh − 1), Wp + d(Fw − 1)): S − 1 zeros between values, d(F − 1)
    zeros before them, and zeros after up to that size (Hp, Wp: the padded input size)."""
    K, Ho, Wo = dv.shape
    geo = layer.geometry
    (fh, fw), (sh, sw), (dh, dw) = (geo.taps_h, geo.taps_w), geo.stride, geo.dilation
    (top, bottom), (left, right) = geo.pad
    span_h, span_w = dh * (fh - 1), dw * (fw - 1)
    hp, wp = layer.input.height + top + bottom, layer.input.width + left + right
    g = np.zeros((K, hp + span_h, wp + span_w), dv.dtype)
    g[:, span_h:span_h + sh * (Ho - 1) + 1:sh, span_w:span_w + sw * (Wo - 1) + 1:sw] = dv
    return g


def explain_conv_input_grad(net, trace: Trace, layer_name: str, n: int, c: int, i: int, j: int) -> ConvInputGradExplanation:
    """Explain dL/dX[n, c, i, j] of Conv layer ``layer_name``: the backward pass as a convolution of
    the (stride-spread, padded) upstream gradient with the flipped filters, beside the engine's dX."""
    layer, record = conv_layer(net, trace, layer_name, need_backward=True)
    dx = L.as_4d(record.downstream)
    check_index(layer_name, (n, c, i, j), dx.shape, "n, c, i, j")
    dv = L.as_4d(record.upstream)[n]
    w = record.params["weight"]
    K, Ho, Wo = dv.shape
    geo = layer.geometry
    (fh, fw), (sh, sw), (dh, dw) = (geo.taps_h, geo.taps_w), geo.stride, geo.dilation
    (top, _), (left, _) = geo.pad
    g = upstream_map(layer, dv)
    h, wcol = i + top, j + left
    rows, cols = h + np.arange(fh) * dh, wcol + np.arange(fw) * dw
    window = g[:, rows][:, :, cols]
    flipped = w[:, c, ::-1, ::-1].copy()
    t_rows, t_cols = rows - dh * (fh - 1), cols - dw * (fw - 1)  # positions in the spread dV
    src_rows = np.where((t_rows >= 0) & (t_rows % sh == 0) & (t_rows // sh < Ho), t_rows // sh, -1)
    src_cols = np.where((t_cols >= 0) & (t_cols % sw == 0) & (t_cols // sw < Wo), t_cols // sw, -1)
    real = (src_rows >= 0)[:, None] & (src_cols >= 0)[None, :]
    products = window * flipped
    total = math.fsum(products.ravel().tolist())
    engine = float(dx[n, c, i, j])
    matches = abs(total - engine) <= rounding_tolerance(products, 0.0, w.dtype)
    text = (
        f"dX[c={c}, y={i}, x={j}] = Σ_k Σ dV↑[window] · flip(w)[k, {c}] = {total:.6g} "
        f"({int(real.sum())} of {fh * fw} taps reach an output); "
        f"the engine computed {engine:.6g} ({'equal' if matches else 'DIFFERENT'})"
    )
    return ConvInputGradExplanation(
        layer_name, n, c, i, j, g, (int(h), int(wcol)), window, src_rows, src_cols, real, flipped, products,
        total, engine, bool(matches), text,
    )


@dataclass
class ConvWeightGradExplanation:
    """dW[k, c, p, q] = Σ_n Σ_i,j dV[n, k, i, j] · X̃[n, c, i·S + p·d, j·S + q·d]: the filter is shared by
    every output position, so its gradient sums over all of them (and over the batch).

    ``upstream`` (N, Ho, Wo): dV[:, k]; ``inputs`` (N, Ho, Wo): the input value tap (p, q) read at
    each position (0 at padding); ``padding`` (Ho, Wo): where that was padding; ``products``;
    ``total``; ``engine``: the engine's dW; ``matches``.
    """

    layer: str
    k: int
    c: int
    p: int
    q: int
    upstream: np.ndarray
    inputs: np.ndarray
    padding: np.ndarray
    products: np.ndarray
    total: float
    engine: float
    matches: bool
    text: str


def explain_conv_weight_grad(net, trace: Trace, layer_name: str, k: int, c: int, p: int, q: int) -> ConvWeightGradExplanation:
    """Explain dL/dW[k, c, p, q] of Conv layer ``layer_name``: the sum over all output positions (and
    images) of the upstream gradient times the input the tap read, beside the engine's dW."""
    layer, record = conv_layer(net, trace, layer_name, need_backward=True)
    w = record.params["weight"]
    check_index(layer_name, (k, c, p, q), w.shape, "k, c, p, q")
    dv = L.as_4d(record.upstream)[:, k]
    X = L.as_4d(record.input)[:, c]
    N, Ho, Wo = dv.shape
    H, Wd = X.shape[1:]
    (sh, sw), (dh, dw) = layer.geometry.stride, layer.geometry.dilation
    (top, _), (left, _) = layer.geometry.pad
    rows = np.arange(Ho) * sh + p * dh - top
    cols = np.arange(Wo) * sw + q * dw - left
    inside = ((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < Wd))[None, :]
    inputs = X[:, np.clip(rows, 0, H - 1)][:, :, np.clip(cols, 0, Wd - 1)] * inside
    products = dv * inputs
    total = math.fsum(products.ravel().tolist())
    engine = float(record.param_grads["weight"][k, c, p, q])
    matches = abs(total - engine) <= rounding_tolerance(products, 0.0, w.dtype)
    text = (
        f"dW[k={k}, c={c}, {p}, {q}] = Σ over {N}×{Ho}×{Wo} positions of dV · X = {total:.6g}; "
        f"the engine computed {engine:.6g} ({'equal' if matches else 'DIFFERENT'})"
    )
    return ConvWeightGradExplanation(
        layer_name, k, c, p, q, dv.copy(), inputs, ~inside, products, total, engine, bool(matches), text,
    )
