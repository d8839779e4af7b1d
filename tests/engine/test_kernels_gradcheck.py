"""Centred-difference gradient checks of the fast kernels in float64: relative error below 1e-7.

Layers built on these kernels can rely on their backward passes being the true derivatives.
"""

import numpy as np
import pytest

from convviz.engine import kernels

H = 1e-5


def numerical_gradient(f, x, dout):
    """CS231n's eval_numerical_gradient_array: d(Σ f(x)·dout)/dx by centred differences."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + H
        plus = f().copy()
        x[index] = old - H
        minus = f().copy()
        x[index] = old
        grad[index] = np.sum((plus - minus) * dout) / (2 * H)
    return grad


def rel_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


SLIDING = {
    "stride 1, asymmetric pad, dilation 2": dict(stride=1, pad=((2, 1), (0, 2)), dilation=(2, 1)),
    "stride (2, 3), crop": dict(stride=(2, 3), pad=((0, 1), (1, 0)), dilation=1),
}


@pytest.mark.parametrize("name", ["conv2d", "local2d"])
@pytest.mark.parametrize("args", SLIDING.values(), ids=SLIDING.keys())
def test_conv_and_local_gradients(name, args):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8))
    probe, _ = kernels.conv2d_forward(x, np.zeros((3, 3, 3, 3)), None, **args)
    Ho, Wo = probe.shape[2:]
    w = rng.standard_normal((Ho, Wo, 3, 3, 3, 3) if name == "local2d" else (3, 3, 3, 3))
    b = rng.standard_normal((Ho, Wo, 3) if name == "local2d" else 3)
    forward, backward = getattr(kernels, f"{name}_forward"), getattr(kernels, f"{name}_backward")
    out, cache = forward(x, w, b, **args)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = backward(dout, cache)

    def f():
        return forward(x, w, b, **args)[0]

    for what, value, analytic in (("x", x, dx), ("w", w, dw), ("b", b, db)):
        assert rel_error(analytic, numerical_gradient(f, value, dout)) < 1e-7, what


POOLS = {
    "max 2x2": ("max", 2, None, 0),
    "max 3x3 stride 2 pad 1": ("max", 3, 2, 1),
    "avg 3x2 stride (1, 2) asymmetric pad": ("avg", (3, 2), (1, 2), ((1, 0), (0, 1))),
}


@pytest.mark.parametrize("kind, size, stride, pad", POOLS.values(), ids=POOLS.keys())
def test_pool_gradients(kind, size, stride, pad):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 7, 6))
    forward, backward = getattr(kernels, f"{kind}_pool_forward"), getattr(kernels, f"{kind}_pool_backward")
    out, cache = forward(x, size, stride, pad)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    assert rel_error(dx, numerical_gradient(lambda: forward(x, size, stride, pad)[0], x, dout)) < 1e-7


def test_relu_max_pool_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 6, 8))
    out, cache = kernels.relu_max_pool_forward(x)
    dout = rng.standard_normal(out.shape)
    dx = kernels.relu_max_pool_backward(dout, cache)
    assert rel_error(dx, numerical_gradient(lambda: kernels.relu_max_pool_forward(x)[0], x, dout)) < 1e-7
