"""Batch-norm training passes over (C, M) rows, a cache-sized block of channels at a time.

    forward:  μ = Σx / n,  σ² = Σ(x − μ)² / n,  x̂ = (x − μ)/√(σ² + ε),  y = γ·x̂ + β
    backward: dβ = Σ dout,  dγ = Σ dout·x̂,  dx = (γ/σ̂)/n · (n·dout − dβ − x̂·dγ)

Each row is one depth slice's n values. The passes of one block (sum, subtract, square, scale,
shift …) then run on data still in the 1–2 MiB L2 cache, so each array crosses main memory once
instead of once per numpy operation. A batch split into parts (``convviz.engine.parallel``) shares
its statistics between the phases: one exchange forward (``gather``), one backward (``total``);
one part runs every phase of a block before the next block. Sums are numpy's (pairwise) row sums and einsum dot products, in the
rows' dtype, as before the blocking.
"""

from __future__ import annotations

import functools

import numpy as np

BLOCK_BYTES = 512 << 10


def channel_blocks(rows: np.ndarray) -> list[slice]:
    """Slices of rows (channels) of about BLOCK_BYTES each (at least one row)."""
    step = max(1, BLOCK_BYTES // max(1, rows.shape[1] * rows.itemsize))
    return [slice(start, min(rows.shape[0], start + step)) for start in range(0, rows.shape[0], step)]


def train_forward(rows, gamma, beta, eps: float, n: int, xhat, y, gather=None, relu: bool = False):
    """x̂ into ``xhat`` and y into ``y`` (both (C, M), ``xhat`` may be ``rows``); returns (μ, σ², 1/σ̂).

    ``gather(array)`` gives every part's array of a split batch, in part order (None: one part, and
    n is this part's count); n is the whole batch's count. Each part sends its count, Σx and
    Σ(x − μ_p)² about its own mean μ_p in one exchange, and every part combines them in the same
    order (Chan et al.'s pairwise update, as stable as the two-pass sum):

        μ = Σ_p Σx_p / n,   nσ² = Σ_p [Σ(x − μ_p)²_p + n_p (μ_p − μ)²],   x − μ = (x − μ_p) − (μ − μ_p)

    ``relu``: y = max(0, γ·x̂ + β), the ReLU after the layer applied while the block is in cache.
    """
    C, dtype = rows.shape[0], rows.dtype
    mean, var, inv_std = (np.empty(C, dtype) for _ in range(3))
    blocks = channel_blocks(rows)
    scale_n = dtype.type(n)
    if gather is None:
        for b in blocks:
            mean[b] = rows[b].sum(axis=1) / scale_n
            centred = np.subtract(rows[b], mean[b, None], out=xhat[b])
            var[b] = np.einsum("cm,cm->c", centred, centred) / scale_n
            inv_std[b] = 1 / np.sqrt(var[b] + eps)
            scale_shift(centred, inv_std[b], gamma[b], beta[b], y[b], relu)
        return mean, var, inv_std
    count = dtype.type(rows.shape[1])
    stats = np.empty((2, C), dtype)  # this part's Σx and Σ(x − μ_p)²
    for b in blocks:
        stats[0, b] = rows[b].sum(axis=1)
        centred = np.subtract(rows[b], (stats[0, b] / count)[:, None], out=xhat[b])
        stats[1, b] = np.einsum("cm,cm->c", centred, centred)
    parts = gather((count, stats))
    mean[...] = functools.reduce(np.add, (part_stats[0] for _, part_stats in parts)) / scale_n
    squares = np.zeros(C, dtype)
    for part_count, (part_sum, part_squares) in parts:
        squares += part_squares
        squares += part_count * np.square(part_sum / part_count - mean)
    var[...] = squares / scale_n
    inv_std[...] = 1 / np.sqrt(var + eps)
    shift = mean - stats[0] / count  # μ − μ_p
    for b in blocks:
        xhat[b] -= shift[b, None]
        scale_shift(xhat[b], inv_std[b], gamma[b], beta[b], y[b], relu)
    return mean, var, inv_std


def scale_shift(centred, inv_std, gamma, beta, y, relu: bool = False) -> None:
    """x̂ = centred · 1/σ̂ (in place), y = γ·x̂ + β (then max(0, y) with ``relu``)."""
    centred *= inv_std[:, None]
    np.multiply(centred, gamma[:, None], out=y)
    y += beta[:, None]
    if relu:
        np.maximum(y, 0, out=y)


def train_backward(d, xhat, gamma, inv_std, n: int, dx, dgamma, dbeta, total=None, relu_out=None) -> None:
    """dx (C, M) (may be ``d``), and this part's dγ, dβ (C,) into ``dgamma``/``dbeta``.

    With ``total`` (a split batch), dx uses the whole batch's Σdout and Σdout·x̂ while dγ and dβ
    keep this part's share (the network adds the parts' gradients). ``relu_out``: the fused ReLU's
    output y (C, M); d is then the ReLU's upstream gradient, and dout = d·[y > 0] is formed block by
    block in ``dx`` before the layer's own backward reads it.
    """
    blocks = channel_blocks(d)

    def upstream(b):
        if relu_out is None:
            return d[b]
        return np.multiply(d[b], relu_out[b] > 0, out=dx[b])

    if total is None:
        for b in blocks:
            g = upstream(b)
            sums(g, xhat[b], dgamma[b], dbeta[b])
            input_grad(g, xhat[b], gamma[b], inv_std[b], n, dgamma[b], dbeta[b], dx[b])
        return
    masked = [upstream(b) for b in blocks]
    for b, g in zip(blocks, masked):
        sums(g, xhat[b], dgamma[b], dbeta[b])
    whole_dbeta, whole_dgamma = total(np.stack([dbeta, dgamma]))
    for b, g in zip(blocks, masked):
        input_grad(g, xhat[b], gamma[b], inv_std[b], n, whole_dgamma[b], whole_dbeta[b], dx[b])


def sums(d, xhat, dgamma, dbeta) -> None:
    np.sum(d, axis=1, out=dbeta)
    dgamma[...] = np.einsum("cm,cm->c", d, xhat)


def input_grad(d, xhat, gamma, inv_std, n, dgamma, dbeta, dx) -> None:
    """dx = a·dout − (b·x̂ + c) with a = γ/σ̂, b = a·dγ/n, c = a·dβ/n (dx may be d)."""
    a = gamma * inv_std
    b, c = a * dgamma / n, a * dbeta / n
    shifted = xhat * b[:, None]
    shifted += c[:, None]
    np.multiply(d, a[:, None], out=dx)
    dx -= shifted
