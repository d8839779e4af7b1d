"""Optional cross-check against PyTorch's conv2d / max_pool2d / avg_pool2d and their gradients.

Skipped unless PyTorch is installed (pip install torch==2.13.0); the engine never imports it.
"""

import numpy as np
import pytest

from convviz.engine import kernels

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the optional cross-check is skipped")
F = torch.nn.functional


def torch_pad(pad):
    """((top, bottom), (left, right)) → F.pad's (left, right, top, bottom)."""
    (top, bottom), (left, right) = pad
    return (left, right, top, bottom)


def grads(out, dout, *tensors):
    out.backward(torch.from_numpy(dout))
    return [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize(
    "stride, pad, dilation",
    [
        (1, ((2, 2), (2, 2)), (1, 1)),
        ((2, 3), ((0, 1), (2, 0)), (1, 1)),
        (1, ((1, 0), (0, 2)), (2, 2)),
        (2, ((1, 1), (1, 1)), (1, 2)),
    ],
)
def test_conv2d_matches_torch(stride, pad, dilation):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 4, 11, 10)), rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    out, cache = kernels.conv2d_forward(x, w, b, stride, pad, dilation)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = kernels.conv2d_backward(dout, cache)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    want = F.conv2d(F.pad(xt, torch_pad(pad)), wt, bt, stride=stride, dilation=dilation)
    np.testing.assert_allclose(out, want.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, expected in zip((dx, dw, db), grads(want, dout, xt, wt, bt)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_float32_conv_matches_torch_to_float32_precision():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((8, 3, 32, 32), (16, 3, 5, 5), (16,)))
    out, cache = kernels.conv2d_forward(x, w, b, 1, 2)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dw, db = kernels.conv2d_backward(dout, cache)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    want = F.conv2d(xt, wt, bt, padding=2)
    np.testing.assert_allclose(out, want.detach().numpy(), rtol=1e-4, atol=1e-4)
    for got, expected in zip((dx, dw, db), grads(want, dout, xt, wt, bt)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("size, stride, pad", [(2, 2, 0), (3, 2, 1), ((3, 2), (1, 2), (1, 1))])
def test_pools_match_torch(size, stride, pad):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8))  # no ties: torch's tie rule is not part of its contract
    for ours, theirs, extra in (
        ("max", F.max_pool2d, {}),
        ("avg", F.avg_pool2d, {"count_include_pad": True}),
    ):
        out, cache = getattr(kernels, f"{ours}_pool_forward")(x, size, stride, pad)
        dout = rng.standard_normal(out.shape)
        dx = getattr(kernels, f"{ours}_pool_backward")(dout, cache)
        xt = torch.tensor(x, requires_grad=True)
        want = theirs(xt, size, stride, pad, **extra)
        np.testing.assert_allclose(out, want.detach().numpy(), rtol=1e-12, err_msg=ours)
        np.testing.assert_allclose(dx, grads(want, dout, xt)[0], rtol=1e-12, atol=1e-15, err_msg=ours)
