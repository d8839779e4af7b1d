"""One image's training step traced for the explanations, their ledgers of terms, and a gradient
checked by centred differences (numpy only).

    net = float64_network(spec, weights)                       # exact explanations
    trace, loss, dscores = trace_step(net, x, labels)          # forward, softmax cross-entropy, backward
    ledger_terms(net, e)                                       # a Conv or FC explanation as terms x·w = p
    gradient_check(net, trace, labels, "conv1.weight", (k, c, i, j))   # backward beside a centred difference
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convviz.engine.explain_fc import FCInputGradExplanation
from convviz.engine.explain_layers import (
    ConvScatterCellExplanation,
    FCOutputExplanation,
)
from convviz.engine.trace import (
    ConvInputGradExplanation,
    ConvOutputExplanation,
    ConvWeightGradExplanation,
    Trace,
)

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


def gradient_check(net, trace: Trace, labels, what: str, index: tuple[int, ...], h: float = 1e-5) -> GradientCheck:
    """Check one gradient of ``trace`` (after ``trace_step``) numerically: ``what`` is ``input``
    (index into the input, (n, c, y, x)) or a parameter's stable name (index into it).

    The loss is the softmax cross-entropy of ``labels`` on forward passes of the trace's input in the
    trace's mode (use a float64 network and evaluation mode); the network's weights, buffers and
    random state are as before afterwards. A number within 2h of a kink (ReLU at 0, a max-pool tie)
    spoils any finite difference: h = 1e-5 (CS231n's) crosses few, and float64 keeps the rounding of
    the four-point difference near 1e-11 relative (h = 1e-3 put a trained ConvNetJS conv1 weight at
    2e-3 through the ReLUs it moves across).
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
        analytic = float(trace[layer].param_grads[key][index])
        # a copy takes the array's place while it is perturbed: a trace sharing the array never sees it
        owner, original = net.layer(layer), params[what]
        target = original.copy()
    old = target[index]

    def loss(step: float) -> float:
        target[index] = old + step
        return softmax_cross_entropy(net.forward(x, train=trace.train), labels)[0]

    with net.run_state_kept():
        try:
            if what != "input":
                owner.params[key] = target
            numeric = (8 * (loss(h) - loss(-h)) - (loss(2 * h) - loss(-2 * h))) / (12 * h)
        finally:
            target[index] = old
            if what != "input":
                owner.params[key] = original
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
    unit: its inputs in order; for an FC input gradient: the units in order)."""
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
    if isinstance(e, FCInputGradExplanation):
        return [Term(("upstream", (o,), float(u)), ("weight", (o, e.i), float(w)), float(p))
                for o, (u, w, p) in enumerate(zip(e.upstream, e.weights, e.products))]
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

    return Network(spec, dtype=np.float64, weights=weights)


def trace_step(net, x, labels, own: bool = False):
    """Trace one step of training on ``x`` (N, C, H, W) with ``labels`` (N,) in evaluation mode:
    forward, the softmax cross-entropy loss, and backward from its gradient.

    Returns (trace, loss, dscores); the network is left as it was, except that with ``own`` (a network
    of the caller's own, as ``float64_network`` makes, whose parameters nothing changes and that no
    other backward pass runs on) its parameters and gradients are the trace's ``params`` and
    ``param_grads``, not copies (VGG-16 in float64: four copies of 1.1 GB fewer; ``gradient_check``
    perturbs a copy, never the network's array).
    """
    from convviz.engine.loss import softmax_cross_entropy
    from convviz.engine.trace import trace_backward, trace_forward

    trace = trace_forward(net, x, train=False, copy_params=not own)
    loss, dscores = softmax_cross_entropy(trace.scores, np.asarray(labels, dtype=np.int64))
    trace_backward(net, trace, dscores, keep_grads=not own)
    return trace, loss, dscores
