"""Numerical gradients by centred differences (CS231n's gradient-check utilities) and their use on a network.

    num = eval_numerical_gradient_array(lambda x: layer_forward(x), x, dout)
    rel_error(num, analytic) < 1e-7         # in float64

``eval_numerical_gradient_array`` weights the change of every output by a random upstream gradient
``df``, so one check covers all outputs: grad[i] ≈ Σ (f(x + h·e_i) − f(x − h·e_i))·df / 2h.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """The gradient of a scalar function ``f`` at ``x`` (modified in place during the check, then restored)."""
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        plus = float(f(x))
        x[ix] = old - h
        minus = float(f(x))
        x[ix] = old
        grad[ix] = (plus - minus) / (2 * h)
    return grad


def eval_numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray,
                                  h: float = 1e-5, points: int = 2) -> np.ndarray:
    """The gradient of Σ f(x)·df with respect to ``x``, for an array-valued ``f``.

    ``points=2``: CS231n's centred difference (f(x + h) − f(x − h))/2h, error O(h²) plus rounding
    O(ε/h). ``points=4``: the fourth-order centred difference
    (8(f(x + h) − f(x − h)) − (f(x + 2h) − f(x − 2h)))/12h, error O(h⁴), which allows a larger h and so
    less rounding: what a strict element-wise 1e-7 needs where a gradient element is close to 0.
    """
    if points not in (2, 4):
        raise ValueError(f"points must be 2 or 4, got points={points!r}")
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]

        def diff(step):
            x[ix] = old + step
            plus = np.array(f(x), copy=True)
            x[ix] = old - step
            minus = np.array(f(x), copy=True)
            x[ix] = old
            return np.sum((plus - minus) * df)

        if points == 2:
            grad[ix] = diff(h) / (2 * h)
        else:
            grad[ix] = (8 * diff(h) - diff(2 * h)) / (12 * h)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| / max(1e-8, |a| + |b|) over the elements (CS231n's relative error)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def network_gradient_errors(net, x: np.ndarray, dout: np.ndarray, train: bool = True,
                            before_forward: Callable[[], None] | None = None, h: float = 1e-3,
                            points: int = 4) -> dict[str, float]:
    """Relative errors between the network's analytic gradients and numerical ones.

    The loss is Σ forward(x)·dout. Returns ``{"input": …, "conv1.weight": …, …}`` for the input and
    every parameter. ``before_forward`` runs before every forward pass (e.g. to restore the random
    state so dropout draws the same mask each time). Use a float64 network.

    The default, the fourth-order stencil with h = 1e-3, keeps both the truncation (O(h⁴)) and the
    rounding (O(ε·|f|/h)) near 1e-12, so the element-wise relative error stays far below 1e-7 even
    for gradient elements close to 0, where CS231n's h = 1e-5 two-point difference measured 5e-7
    from rounding alone. Inputs within 2h of a kink (ReLU at 0, a max-pool tie) would spoil any
    finite difference; random normal inputs keep clear of them.
    """
    if net.dtype != np.float64:
        raise ValueError(f"gradient checks need a float64 network, got {net.dtype}")
    x = np.array(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    buffers = {name: a.copy() for name, a in net.buffers().items()}

    def run(inp):
        if before_forward is not None:
            before_forward()
        for name, a in net.buffers().items():  # batch norm in training updates these: keep them fixed
            a[...] = buffers[name]
        return net.forward(inp, train=train).copy()

    run(x)
    dx = net.backward(dout)
    analytic = {"input": dx.copy(), **{name: g.copy() for name, g in net.grads().items()}}
    errors = {"input": rel_error(eval_numerical_gradient_array(run, x, dout, h, points), analytic["input"])}
    for name, p in net.params().items():
        numeric = eval_numerical_gradient_array(lambda _: run(x), p, dout, h, points)
        errors[name] = rel_error(numeric, analytic[name])
    return errors
