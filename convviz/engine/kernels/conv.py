"""Fast 2-D convolution (cross-correlation, as in CS231n and PyTorch): im2col + one GEMM per chunk.

    x: (N, C, H, W)   w: (K, C, Fh, Fw)   b: (K,) or None   out: (N, K, Ho, Wo)
    out[n, k, i, j] = b[k] + Σ_c,p,q w[k, c, p, q] · xpad[n, c, i·sh + p·dh, j·sw + q·dw]
    Ho = (H + top + bottom − dh(Fh − 1) − 1) // sh + 1     (likewise Wo)

Inside, arrays are channel-major (see ``layout``): the batch is cut into chunks whose im2col columns
fit in cache, each chunk is copied once from a strided window view and multiplied by w (K, C·Fh·Fw)
straight into the output. Backward recomputes the chunk's columns rather than keeping them (cheaper
than reading 20–30 MB back from memory, and the cache holds only the padded input). For stride 1,
dx is itself a convolution of the padded dout with the flipped, transposed filters (a gather, no
scatter); other strides scatter the column gradients back (col2im).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convviz.engine.blas import engine_threads
from convviz.engine.kernels.geometry import (
    Window2d,
    check_array,
    check_same_dtype,
    check_shape,
    window,
)
from convviz.engine.kernels.layout import add_windows, batch_chunks, channel_major, padded_planes, windows


@dataclass(frozen=True)
class ConvCache:
    """What conv2d_backward reads: the padded channel-major input, the filters and the geometry."""

    xp: np.ndarray  # (C, N, Hp, Wp)
    w: np.ndarray  # (K, C, Fh, Fw)
    has_bias: bool
    geo: Window2d


def check_conv_args(x, w, w_dims: str = "(K, C, Fh, Fw)") -> None:
    """Checks shared by conv2d and local2d: ranks, float dtypes, matching channel counts."""
    check_array("x", x, 4, "(N, C, H, W)")
    check_array("w", w, w_dims.count(",") + 1, w_dims)
    check_same_dtype(x, w=w)
    if w.shape[-3] != x.shape[1]:
        raise ValueError(f"x has C={x.shape[1]} channels but w expects C={w.shape[-3]} (w.shape={w.shape})")


@engine_threads
def conv2d_forward(x, w, b=None, stride=1, pad=0, dilation=1):
    """Convolve x with filters w; returns (out, cache).

    x: (N, C, H, W); w: (K, C, Fh, Fw); b: (K,) or None; stride (sh, sw); dilation (dh, dw);
    pad ((top, bottom), (left, right)) zeros (an int or (rows, cols) pair is also accepted).
    out: (N, K, Ho, Wo), a view of channel-major memory. Backward reads x's padded copy, so x may
    change afterwards; w must not change until backward.
    """
    check_conv_args(x, w)
    K, _, Fh, Fw = w.shape
    if b is not None:
        check_array("b", b, 1, "(K,)")
        check_shape("b", b, (K,), f"to match K={K} filters")
        check_same_dtype(x, b=b)
    geo = window(x.shape[2], x.shape[3], Fh, Fw, stride, pad, dilation, what="filter")
    xp = channel_major(x, geo.pad)
    out = correlate(xp, w.reshape(K, -1), geo, b)
    return out.transpose(1, 0, 2, 3), ConvCache(xp, w, b is not None, geo)


@engine_threads
def conv2d_backward(dout, cache: ConvCache, *, input_grad: bool = True):
    """Gradients of conv2d_forward: dout (N, K, Ho, Wo) → (dx, dw, db).

    dx: (N, C, H, W) (None when ``input_grad`` is False, e.g. for the network's input layer);
    dw: (K, C, Fh, Fw); db: (K,) or None when the forward had no bias. Input rows and columns that
    no window reached (the crop policy) get zero gradient.
    """
    xp, w, geo = cache.xp, cache.w, cache.geo
    K, C, Fh, Fw = w.shape
    N = xp.shape[1]
    check_array("dout", dout, 4, "(N, K, Ho, Wo)")
    check_shape("dout", dout, (N, K, geo.out_h, geo.out_w), "like the forward output")
    check_same_dtype(xp, dout=dout)
    d = np.ascontiguousarray(dout.transpose(1, 0, 2, 3))  # (K, N, Ho, Wo); free if it came from us
    db = d.reshape(K, -1).sum(axis=1) if cache.has_bias else None
    dw = filter_grad(xp, d, geo).reshape(w.shape)
    if not input_grad:
        return None, dw, db
    if geo.stride == (1, 1):
        dx = input_grad_stride1(d, w, geo)
    else:
        dx = input_grad_scatter(d, w, geo, N)
    return dx.transpose(1, 0, 2, 3), dw, db


def correlate(xp, w2, geo: Window2d, b=None):
    """xp (C, N, Hp, Wp) ⋆ w2 (K, C·Fh·Fw) → (K, N, Ho, Wo), chunk by chunk over the batch."""
    C, N = xp.shape[:2]
    K = w2.shape[0]
    rows, plane = C * geo.taps_h * geo.taps_w, geo.out_h * geo.out_w
    out = np.empty((K, N, geo.out_h, geo.out_w), xp.dtype)
    chunks = batch_chunks(N, rows * plane * xp.itemsize)
    buffer = np.empty(rows * plane * (chunks[0][1] - chunks[0][0]), xp.dtype)
    for start, stop in chunks:
        cols = columns(xp[:, start:stop], geo, buffer)
        chunk = out[:, start:stop].reshape(K, -1)
        np.matmul(w2, cols, out=chunk)
        if b is not None:
            chunk += b[:, None]
    return out


def columns(xp_chunk, geo: Window2d, buffer):
    """im2col of a chunk (C, n, Hp, Wp) into ``buffer``: returns (C·Fh·Fw, n·Ho·Wo)."""
    view = windows(xp_chunk, geo)
    cols = buffer[: view.size].reshape(view.shape)
    np.copyto(cols, view)
    return cols.reshape(view.shape[0] * view.shape[1] * view.shape[2], -1)


def filter_grad(xp, d, geo: Window2d):
    """dw2 (K, C·Fh·Fw) = Σ over chunks d (K, n·Ho·Wo) @ cols.T, recomputing each chunk's cols."""
    C, N = xp.shape[:2]
    K = d.shape[0]
    rows, plane = C * geo.taps_h * geo.taps_w, geo.out_h * geo.out_w
    chunks = batch_chunks(N, rows * plane * xp.itemsize)
    buffer = np.empty(rows * plane * (chunks[0][1] - chunks[0][0]), xp.dtype)
    dw2 = np.zeros((K, rows), xp.dtype)
    part = np.empty_like(dw2)
    for start, stop in chunks:
        cols = columns(xp[:, start:stop], geo, buffer)
        np.matmul(d[:, start:stop].reshape(K, -1), cols.T, out=part)
        dw2 += part
    return dw2


def input_grad_stride1(d, w, geo: Window2d):
    """dx for stride 1: the padded dout (K, N, Ho, Wo) correlated with the flipped filters.

    dxpad[y] = Σ_p w[p] · dout[y − p·dh], so dx[h] = Σ_p' wflip[p'] · dpad[h + p'·dh] with dout
    padded by dh(Fh − 1) − top rows above and dh(Fh − 1) − bottom below (negative: cropped).
    """
    K, C, Fh, Fw = w.shape
    (dh, dw_), ((top, bottom), (left, right)) = geo.dilation, geo.pad
    span_h, span_w = dh * (Fh - 1), dw_ * (Fw - 1)
    dpad = padded_planes(d, ((span_h - top, span_h - bottom), (span_w - left, span_w - right)))
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(C, -1)
    back = Window2d(
        dpad.shape[2], dpad.shape[3], Fh, Fw, (1, 1), ((0, 0), (0, 0)), geo.dilation, geo.in_h, geo.in_w
    )
    return correlate(dpad, flipped, back)


def input_grad_scatter(d, w, geo: Window2d, N):
    """dx for any stride: column gradients w2.T @ d, scattered back window by window (col2im)."""
    K, C, Fh, Fw = w.shape
    (top, _), (left, _) = geo.pad
    w2t = w.reshape(K, -1).T
    dxp = np.zeros((C, N, geo.padded_h, geo.padded_w), d.dtype)
    plane = geo.out_h * geo.out_w
    for start, stop in batch_chunks(N, C * Fh * Fw * plane * d.itemsize):
        dcols = (w2t @ d[:, start:stop].reshape(K, -1)).reshape(C, Fh, Fw, stop - start, geo.out_h, geo.out_w)
        add_windows(dxp[:, start:stop], dcols, geo)
    return dxp[:, :, top : top + geo.in_h, left : left + geo.in_w]
