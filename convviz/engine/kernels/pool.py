"""Fast max and average pooling over (fh, fw) windows, plus ReLU fused into the 2×2 max pool.

    x: (N, C, H, W) → out: (N, C, Ho, Wo),  Ho = (H + top + bottom − fh) // sh + 1
    max:     out = max over the window; padding is −inf, so it never wins
    average: out = window sum / (fh·fw); padded zeros count (PyTorch's count_include_pad=True)

The loops run over the fh·fw taps of the window, each a strided slice of the whole batch, never over
pixels, and over cache-sized blocks of channels. The common 2×2 stride-2 max pool is thus np.maximum
of four strided slices with no padding copy (measured much faster than reshape(...).max), and its
backward writes each tap's share straight into dx, which needs no zeroing.

Max pooling sends each window's gradient to one element: the first maximum in row-major window
order (what np.argmax picks), in both these kernels and the naive ones. Backward finds it tap by
tap: a tap takes the gradient where it equals the max, and that gradient is then removed from what
later taps can take. Outputs keep the input's memory order, so batch-last activations
from the convolution stay batch-last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convviz.engine.kernels.checks import check_dout, pool_window
from convviz.model.geometry import Window2d
from convviz.engine.kernels.layout import batch_last

# Pooling works on pieces of this size: several passes over one piece then stay in the 1 MiB L2.
BLOCK_BYTES = 256 << 10


@dataclass(frozen=True)
class PoolCache:
    """What the pooling backward passes read."""

    x: np.ndarray  # the input (max pools; padded with −inf when pad > 0), or None (average pool)
    out: np.ndarray  # (N, C, Ho, Wo) the forward output: max pools compare x with it
    geo: Window2d
    shape: tuple  # the input's shape (N, C, H, W)
    padded: bool  # x is the padded batch-last copy (C, Hp, Wp, N) viewed as (N, C, Hp, Wp)


def taps(a, geo: Window2d) -> list:
    """The window's taps in row-major order: views (N, C, Ho, Wo) of a[..., i·sh + p, j·sw + q]."""
    (sh, sw), rows, cols = geo.stride, geo.out_h, geo.out_w
    return [
        a[:, :, p : p + sh * (rows - 1) + 1 : sh, q : q + sw * (cols - 1) + 1 : sw]
        for p in range(geo.taps_h)
        for q in range(geo.taps_w)
    ]


def reduce_taps(ufunc, views, out) -> None:
    """out = ufunc.reduce over the tap views (np.maximum: the max, np.add: the sum)."""
    if len(views) == 1:
        np.copyto(out, views[0])
        return
    ufunc(views[0], views[1], out=out)
    for view in views[2:]:
        ufunc(out, view, out=out)


def blocks(a) -> list[tuple]:
    """Index tuples cutting a (N, C, H, W)-shaped array along its outermost memory axis (C for
    batch-last arrays, N for NCHW ones) into pieces of about BLOCK_BYTES, so that the several
    passes over each piece run in cache (unblocked, the 2×2 backward was 2–4× slower on conv1's
    output).
    """
    axis = 1 if abs(a.strides[1]) > abs(a.strides[0]) else 0
    step = max(1, BLOCK_BYTES * a.shape[axis] // max(1, a.nbytes))
    lead = (slice(None),) * axis
    return [(*lead, slice(i, i + step)) for i in range(0, a.shape[axis], step)]


def padded_input(x, geo: Window2d, fill: float):
    """x itself without padding, else a filled, padded copy (batch-last memory, NCHW view)."""
    if geo.pad == ((0, 0), (0, 0)):
        return x, False
    return batch_last(x, geo.pad, fill).transpose(3, 0, 1, 2), True


def output_like(xp, geo: Window2d):
    """An empty (N, C, Ho, Wo) array in xp's memory order."""
    return np.empty_like(xp[:, :, : geo.out_h, : geo.out_w])


def max_pool_forward(x, size=2, stride=None, pad=0, *, geometry=None):
    """Max over (fh, fw) windows (stride defaults to the size); returns (out, cache)."""
    geo = pool_window(x, size, stride, pad, geometry)
    xp, padded = padded_input(x, geo, -np.inf)
    out = output_like(xp, geo)
    for block in blocks(xp):
        reduce_taps(np.maximum, taps(xp[block], geo), out[block])
    return out, PoolCache(xp, out, geo, x.shape, padded)


def max_pool_backward(dout, cache: PoolCache):
    """dout (N, C, Ho, Wo) → dx (N, C, H, W): each window's gradient to its first maximum."""
    check_dout(dout, cache.out.shape, cache.out)
    return route_to_max(dout, cache, relu=False)


def route_to_max(dout, cache: PoolCache, relu: bool):
    """dx: block by block, each tap in row-major order takes the part of dout whose max it holds.

    With ``relu``, windows whose max is ≤ 0 pass no gradient (the fused ReLU's derivative).
    """
    geo, xp, out = cache.geo, cache.x, cache.out
    overlap = geo.stride[0] < geo.taps_h or geo.stride[1] < geo.taps_w
    dxp = np.zeros_like(xp) if overlap or cache.padded or uncovered(geo) else np.empty_like(xp)
    for block in blocks(xp):
        peak, grad = out[block], dout[block]
        if relu:
            grad = grad * (peak > 0)
        left = None  # the gradient not yet taken by an earlier tap
        hit = np.empty_like(peak)
        views = list(zip(taps(xp[block], geo), taps(dxp[block], geo)))
        for index, (tap, target) in enumerate(views):
            np.equal(tap, peak, out=hit)
            source = grad if left is None else left
            if overlap:
                share = source * hit
                target += share
            else:
                share = np.multiply(source, hit, out=target)
            if index == len(views) - 1:
                break
            if left is None:
                left = source - share
            else:
                left -= share
    return crop(dxp, geo, cache.padded)


def avg_pool_forward(x, size=2, stride=None, pad=0, *, geometry=None):
    """Mean over (fh, fw) windows, padded zeros included in the count; returns (out, cache)."""
    geo = pool_window(x, size, stride, pad, geometry)
    xp, padded = padded_input(x, geo, 0.0)
    out = output_like(xp, geo)
    for block in blocks(xp):
        reduce_taps(np.add, taps(xp[block], geo), out[block])
    out /= geo.taps_h * geo.taps_w
    return out, PoolCache(None, out, geo, x.shape, padded)


def avg_pool_backward(dout, cache: PoolCache):
    """dout (N, C, Ho, Wo) → dx (N, C, H, W): every tap gets dout / (fh·fw)."""
    check_dout(dout, cache.out.shape, cache.out)
    geo = cache.geo
    share = dout / (geo.taps_h * geo.taps_w)
    N, C, H, W = cache.shape
    dxp = np.zeros((C, geo.padded_h, geo.padded_w, N), dout.dtype).transpose(3, 0, 1, 2)
    for block in blocks(dxp):
        for target in taps(dxp[block], geo):
            target += share[block]
    return crop(dxp, geo, True)


def relu_max_pool_forward(x):
    """max(0, 2×2 max pool of x), stride 2: the ReLU runs on a quarter of the data.

    Equal to max_pool_forward(np.maximum(x, 0), 2) since max commutes with ReLU; returns (out, cache).
    """
    geo = pool_window(x, 2, 2, 0)
    out = output_like(x, geo)
    for block in blocks(x):
        pooled = out[block]
        reduce_taps(np.maximum, taps(x[block], geo), pooled)
        np.maximum(pooled, np.zeros_like(pooled), out=pooled)  # a zeros array: 2× faster than scalar 0
    return out, PoolCache(x, out, geo, x.shape, False)


def relu_max_pool_backward(dout, cache: PoolCache):
    """Gradient of relu_max_pool_forward: to the first maximum of each window whose max is > 0."""
    check_dout(dout, cache.out.shape, cache.out)
    return route_to_max(dout, cache, relu=True)


def uncovered(geo: Window2d) -> bool:
    """Some input rows/columns are in no window (crop), so their gradient must be zeroed."""
    return (
        geo.stride[0] * (geo.out_h - 1) + geo.taps_h < geo.padded_h
        or geo.stride[1] * (geo.out_w - 1) + geo.taps_w < geo.padded_w
        or geo.stride[0] > geo.taps_h
        or geo.stride[1] > geo.taps_w
    )


def crop(dxp, geo: Window2d, padded: bool):
    """The gradient of the unpadded input."""
    if not padded:
        return dxp
    (top, _), (left, _) = geo.pad
    return dxp[:, :, top : top + geo.in_h, left : left + geo.in_w]
