"""Fast pooling agrees exactly with the naive loops, ties included, and refuses impossible windows."""

import numpy as np
import pytest

from convviz.engine import kernels
from convviz.engine.kernels import naive

# (x shape, size, stride, pad)
CASES = {
    "2x2 stride 2": ((2, 3, 8, 8), 2, None, 0),
    "2x2 stride 2, odd sizes (crop)": ((2, 3, 7, 9), 2, 2, 0),
    "3x3 stride 2, pad 1 (overlapping)": ((2, 2, 9, 8), 3, 2, 1),
    "3x2 window, stride (1, 2), asymmetric pad": ((1, 2, 7, 7), (3, 2), (1, 2), ((1, 0), (0, 1))),
    "1x1 window": ((2, 1, 5, 5), 1, None, 0),
    "stride larger than the window": ((2, 2, 9, 9), 2, 3, 0),
    "batch 1, C=1, 3x3 stride 3": ((1, 1, 10, 11), 3, None, 0),
}


def pool(module, kind, x, dout_seed, size, stride, pad):
    """(out, dx) for an upstream gradient of small integers: overlapping windows then add up exactly."""
    out, cache = getattr(module, f"{kind}_pool_forward")(x, size, stride, pad)
    dout = np.random.default_rng(dout_seed).integers(-8, 9, out.shape).astype(x.dtype)
    return out, getattr(module, f"{kind}_pool_backward")(dout, cache)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fast_matches_naive_with_many_ties(kind, case):
    shape, size, stride, pad = case
    x = np.random.default_rng(0).integers(0, 3, shape).astype(np.float64)  # values 0, 1, 2: ties everywhere
    fast_out, fast_dx = pool(kernels, kind, x, 1, size, stride, pad)
    slow_out, slow_dx = pool(naive, kind, x, 1, size, stride, pad)
    np.testing.assert_array_equal(fast_out, slow_out)
    assert fast_dx.shape == x.shape
    if kind == "max":
        np.testing.assert_array_equal(fast_dx, slow_dx)  # the same element of each window, exactly
    else:
        np.testing.assert_allclose(fast_dx, slow_dx, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_float32_stays_float32(kind):
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8)).astype(np.float32)
    fast_out, fast_dx = pool(kernels, kind, x, 1, 3, 2, 1)
    slow_out, slow_dx = pool(naive, kind, x, 1, 3, 2, 1)
    assert fast_out.dtype == fast_dx.dtype == np.float32
    np.testing.assert_allclose(fast_out, slow_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast_dx, slow_dx, rtol=1e-5, atol=1e-6)


def test_a_tie_sends_the_whole_gradient_to_the_first_element_in_row_major_order():
    x = np.array([[5.0, 5.0, 1.0, 7.0], [5.0, 5.0, 7.0, 7.0]]).reshape(1, 1, 2, 4)
    out, cache = kernels.max_pool_forward(x, 2)
    dx = kernels.max_pool_backward(np.array([[[[10.0, 20.0]]]]), cache)
    np.testing.assert_array_equal(out, [[[[5.0, 7.0]]]])
    np.testing.assert_array_equal(dx[0, 0], [[10.0, 0.0, 0.0, 20.0], [0.0, 0.0, 0.0, 0.0]])


def test_every_window_gives_its_gradient_to_exactly_one_element():
    x = np.zeros((2, 3, 6, 6))  # all ties
    _, cache = kernels.max_pool_forward(x, 2)
    dx = kernels.max_pool_backward(np.ones((2, 3, 3, 3)), cache)
    assert dx.sum() == 2 * 3 * 3 * 3
    np.testing.assert_array_equal(dx[:, :, ::2, ::2], 1.0)


def test_max_pool_padding_never_wins_and_avg_pool_counts_padded_zeros():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # all negative
    out, _ = kernels.max_pool_forward(x, 2, 2, ((1, 0), (1, 0)))
    np.testing.assert_array_equal(out[0, 0], [[-1.0, -2.0], [-4.0, -5.0]])
    avg, _ = kernels.avg_pool_forward(x, 2, 2, ((1, 0), (1, 0)))
    assert avg[0, 0, 0, 0] == -1.0 / 4  # one real value, three padded zeros, divided by 4


def test_crop_leaves_zero_gradient_on_the_dropped_row_and_column():
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 9))
    for kind in ("max", "avg"):
        _, dx = pool(kernels, kind, x, 1, 2, 2, 0)
        assert np.all(dx[:, :, 6, :] == 0) and np.all(dx[:, :, :, 8] == 0)


def test_relu_max_pool_is_relu_then_max_pool():
    x = np.random.default_rng(0).integers(-2, 3, (2, 3, 8, 6)).astype(np.float64)
    dout = np.random.default_rng(1).standard_normal((2, 3, 4, 3))
    out, cache = kernels.relu_max_pool_forward(x)
    dx = kernels.relu_max_pool_backward(dout, cache)
    relu = np.maximum(x, 0)
    want_out, pool_cache = kernels.max_pool_forward(relu, 2)
    want_dx = kernels.max_pool_backward(dout, pool_cache) * (x > 0)
    np.testing.assert_array_equal(out, want_out)
    np.testing.assert_array_equal(dx, want_dx)
    naive_out, naive_cache = naive.relu_max_pool_forward(x)
    np.testing.assert_array_equal(out, naive_out)
    np.testing.assert_array_equal(dx, naive.relu_max_pool_backward(dout, naive_cache))


def test_pooling_a_convolution_output_keeps_its_batch_last_memory():
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    conv, _ = kernels.conv2d_forward(x, np.ones((5, 3, 3, 3), np.float32), None, pad=1)
    pooled, cache = kernels.relu_max_pool_forward(conv)
    assert pooled.transpose(1, 2, 3, 0).flags.c_contiguous
    dx = kernels.relu_max_pool_backward(np.ones_like(pooled), cache)
    assert dx.transpose(1, 2, 3, 0).flags.c_contiguous


@pytest.mark.parametrize("module", [kernels, naive], ids=["fast", "naive"])
@pytest.mark.parametrize(
    "args, message",
    [
        (dict(x=np.zeros((4, 4))), r"x must be 4-D \(N, C, H, W\), got shape \(4, 4\)"),
        (dict(size=5), r"the pooling window \(5\) is larger than the padded input along H: 4 \+ 0 \+ 0 = 4"),
        (
            dict(size=2, pad=2),
            r"pad must be smaller than the pooling window so every window holds an input value, "
            r"got pad=\(\(2, 2\), \(2, 2\)\) for a 2×2 window",
        ),
        (dict(size=0), r"size must be positive integers, got size=0"),
        (dict(stride=(2, 0)), r"stride must be positive integers, got stride=\(2, 0\)"),
    ],
)
def test_impossible_pooling_calls_say_what_is_wrong(module, args, message):
    call = dict(x=np.zeros((1, 2, 4, 4)), size=2, stride=None, pad=0)
    call.update(args)
    for kind in ("max", "avg"):
        with pytest.raises(ValueError, match=message):
            getattr(module, f"{kind}_pool_forward")(**call)


def test_pool_backward_refuses_a_dout_of_the_wrong_shape_or_dtype():
    _, cache = kernels.max_pool_forward(np.zeros((1, 2, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 2, 2, 2\) like the forward output, got \(1, 2, 2, 3\)"):
        kernels.max_pool_backward(np.zeros((1, 2, 2, 3)), cache)
    with pytest.raises(ValueError, match=r"dout.dtype float32 does not match the forward's dtype float64"):
        kernels.max_pool_backward(np.zeros((1, 2, 2, 2), np.float32), cache)
