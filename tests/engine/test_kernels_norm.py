"""The blocked batch-norm passes (kernels.norm) agree with the textbook formulas, block by block.

The layer's float64 gradient checks are in test_gradcheck.py; these pin the kernel itself, with
blocks small enough that several of them (and a last, shorter one) cover the channels.
"""

import numpy as np
import pytest

from convviz.engine.kernels import norm


def naive_forward(rows, gamma, beta, eps):
    mean = rows.mean(axis=1, keepdims=True)
    var = ((rows - mean) ** 2).mean(axis=1, keepdims=True)
    xhat = (rows - mean) / np.sqrt(var + eps)
    return xhat, gamma[:, None] * xhat + beta[:, None], mean[:, 0], var[:, 0]


def naive_backward(d, xhat, gamma, var, eps):
    n = d.shape[1]
    dxhat = d * gamma[:, None]
    dx = (n * dxhat - dxhat.sum(1, keepdims=True) - xhat * (dxhat * xhat).sum(1, keepdims=True))
    dx /= n * np.sqrt(var + eps)[:, None]
    return dx, (d * xhat).sum(1), d.sum(1)


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(norm, "BLOCK_BYTES", 3 * 40 * 8)  # 3 channels of 40 float64 values


def make(dtype=np.float64, channels=7, values=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = (rng.standard_normal((channels, values)) * 2 + 3).astype(dtype)
    gamma, beta = (rng.standard_normal(channels).astype(dtype) for _ in range(2))
    return rows, gamma, beta, rng.standard_normal((channels, values)).astype(dtype)


@pytest.mark.parametrize("phased", [False, True], ids=["one part", "phased as for a split batch"])
def test_forward_and_backward_match_the_formulas(small_blocks, phased):
    rows, gamma, beta, d = make()
    assert len(norm.channel_blocks(rows)) == 3  # 3 + 3 + 1 channels
    total, gather = ((lambda a: a), (lambda a: [a])) if phased else (None, None)
    xhat, y = np.empty_like(rows), np.empty_like(rows)
    mean, var, inv_std = norm.train_forward(rows, gamma, beta, 1e-5, rows.shape[1], xhat, y, gather)
    want_xhat, want_y, want_mean, want_var = naive_forward(rows, gamma, beta, 1e-5)
    for got, want in ((xhat, want_xhat), (y, want_y), (mean, want_mean), (var, want_var)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(want_var + 1e-5), rtol=1e-12)

    dx, dgamma, dbeta = np.empty_like(d), np.empty(7), np.empty(7)
    norm.train_backward(d, xhat, gamma, inv_std, rows.shape[1], dx, dgamma, dbeta, total)
    for got, want in zip((dx, dgamma, dbeta), naive_backward(d, want_xhat, gamma, want_var, 1e-5)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_outputs_may_overwrite_their_inputs(small_blocks):
    """x̂ may take the input's memory and dx dout's (the layer does so when nobody else reads them)."""
    rows, gamma, beta, d = make()
    want_xhat, want_y, _, want_var = naive_forward(rows, gamma, beta, 1e-5)
    want_dx = naive_backward(d, want_xhat, gamma, want_var, 1e-5)[0]
    y = np.empty_like(rows)
    _, _, inv_std = norm.train_forward(rows, gamma, beta, 1e-5, rows.shape[1], rows, y)
    np.testing.assert_allclose(rows, want_xhat, rtol=1e-12, atol=1e-12)
    norm.train_backward(d, rows, gamma, inv_std, rows.shape[1], d, np.empty(7), np.empty(7))
    np.testing.assert_allclose(d, want_dx, rtol=1e-10, atol=1e-12)


def test_float32_stays_float32_and_close_to_float64():
    rows, gamma, beta, d = make(np.float32, channels=16, values=4096)
    xhat, y = np.empty_like(rows), np.empty_like(rows)
    _, _, inv_std = norm.train_forward(rows, gamma, beta, 1e-5, rows.shape[1], xhat, y)
    dx, dgamma, dbeta = np.empty_like(d), np.empty(16, np.float32), np.empty(16, np.float32)
    norm.train_backward(d, xhat, gamma, inv_std, rows.shape[1], dx, dgamma, dbeta)
    exact_xhat, exact_y, _, var = naive_forward(*(a.astype(np.float64) for a in (rows, gamma, beta)), 1e-5)
    exact = naive_backward(d.astype(np.float64), exact_xhat, gamma.astype(np.float64), var, 1e-5)
    for got, want in ((y, exact_y), (dx, exact[0]), (dgamma, exact[1]), (dbeta, exact[2])):
        assert got.dtype == np.float32
        assert np.max(np.abs(got - want)) / np.max(np.abs(want)) < 1e-5


@pytest.mark.parametrize("phased", [False, True], ids=["one part", "phased as for a split batch"])
def test_fused_relu_is_max_0_and_its_mask_in_backward(small_blocks, phased):
    """relu=True gives max(0, y); relu_out=y makes backward take dout·[y > 0] as its upstream."""
    rows, gamma, beta, d = make(seed=3)
    total, gather = ((lambda a: a), (lambda a: [a])) if phased else (None, None)
    xhat, y = np.empty_like(rows), np.empty_like(rows)
    _, _, inv_std = norm.train_forward(rows, gamma, beta, 1e-5, rows.shape[1], xhat, y, gather, relu=True)
    want_xhat, want_y, _, var = naive_forward(rows, gamma, beta, 1e-5)
    np.testing.assert_allclose(y, np.maximum(want_y, 0), rtol=1e-12, atol=1e-12)
    assert np.any(y == 0) and np.any(y > 0)
    dx, dgamma, dbeta = np.empty_like(d), np.empty(7), np.empty(7)
    norm.train_backward(d, xhat, gamma, inv_std, rows.shape[1], dx, dgamma, dbeta, total, relu_out=y)
    want = naive_backward(d * (want_y > 0), want_xhat, gamma, var, 1e-5)
    for got, expected in zip((dx, dgamma, dbeta), want):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_split_batch_combines_its_parts_statistics_into_the_whole_batchs(small_blocks, dtype):
    """Parts of 23 and 17 values, far from 0 (mean 1,000, std 2): each normalises its own values
    with the whole batch's μ and σ², as stable as the one-part two-pass sums."""
    rows, gamma, beta, _ = make(dtype)
    rows += dtype(1000)
    parts = [rows[:, :23], rows[:, 23:]]
    own = []
    for part in parts:
        count = dtype(part.shape[1])
        mean = part.sum(axis=1) / count
        own.append((count, np.stack([part.sum(axis=1), ((part - mean[:, None]) ** 2).sum(axis=1)])))
    want_xhat, want_y, want_mean, want_var = naive_forward(rows.astype(np.float64), gamma, beta, 1e-5)
    tolerance = 1e-12 if dtype == np.float64 else 2e-4
    for index, part in enumerate(parts):
        xhat, y = np.empty_like(part), np.empty_like(part)

        def gather(value, index=index):
            assert value[0] == own[index][0]
            np.testing.assert_allclose(value[1], own[index][1], rtol=1e-5)
            return [value if i == index else own[i] for i in range(2)]

        mean, var, _ = norm.train_forward(part, gamma, beta, 1e-5, rows.shape[1], xhat, y, gather)
        columns = slice(0, 23) if index == 0 else slice(23, 40)
        np.testing.assert_allclose(mean, want_mean, rtol=1e-12 if dtype == np.float64 else 1e-6)
        np.testing.assert_allclose(var, want_var, rtol=tolerance)
        np.testing.assert_allclose(xhat, want_xhat[:, columns], rtol=tolerance, atol=tolerance)
        np.testing.assert_allclose(y, want_y[:, columns], rtol=tolerance, atol=tolerance)
