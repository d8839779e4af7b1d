"""Fast 2-D convolution (cross-correlation, as in CS231n and PyTorch): im2col + one GEMM per chunk,
or for stride 1 products on strided views without im2col (``implicit``).

    x: (N, C, H, W)   w: (K, C, Fh, Fw)   b: (K,) or None   out: (N, K, Ho, Wo)
    out[n, k, i, j] = b[k] + Σ_c,p,q w[k, c, p, q] · xpad[n, c, i·sh + p·dh, j·sw + q·dw]
    Ho = (H + top + bottom − dh(Fh − 1) − 1) // sh + 1     (likewise Wo)

Inside, arrays are batch-last (C, H, W, N) (see ``layout``): the output rows are cut into chunks
whose im2col columns fit in cache; each chunk is copied once from a strided window view and
multiplied by w (K, C·Fh·Fw) straight into the output. Backward recomputes a chunk's columns rather
than keeping them all (the forward cache holds only the padded input). For stride 1,
dx is itself a convolution of the padded dout with the flipped, transposed filters (a gather, no
scatter); other strides scatter the column gradients back (col2im).

Stride 1 without dilation (every 3×3 convolution of the small VGG and ResNet-20, the 5×5 ones of
ConvNetJS) goes through ``implicit`` instead where it measured faster: the cache then holds the
input rows-first (Hp, C, Wp, N), and each pass takes implicit products where they measured faster
(``implicit.forward_pays`` …; otherwise im2col, read from a view of the same buffer). With BLAS's
accumulating GEMM (``kernels.gemm``) the forward and dx took implicit products on every stride-1
shape of the presets, 1.1–2.1× im2col's speed (forward), 1.1–2× (dx); dw 1.0–1.6× where it is taken
(``bench/bench_conv_paths.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convviz.engine.blas import engine_threads
from convviz.engine.kernels import gemm, implicit
from convviz.engine.kernels.checks import check_dout, sliding_window
from convviz.engine.kernels.layout import add_windows, batch_last, padded_planes, row_chunks, windows
from convviz.engine.kernels.memory import keep_freed_memory
from convviz.model.geometry import Window2d


@dataclass(frozen=True)
class ConvCache:
    """What conv2d_backward reads: the padded input, the filters and the geometry."""

    xp: np.ndarray  # (C, Hp, Wp, N) batch-last, or (Hp, C, Wp, N) when rows_first
    w: np.ndarray  # (K, C, Fh, Fw)
    has_bias: bool
    geo: Window2d
    rows_first: bool = False  # stride 1, no dilation: the implicit kernels' layout


@engine_threads
def conv2d_forward(x, w, b=None, stride=1, pad=0, dilation=1, *, geometry=None):
    """Convolve x with filters w; returns (out, cache).

    x: (N, C, H, W); w: (K, C, Fh, Fw); b: (K,) or None; stride (sh, sw); dilation (dh, dw);
    pad ((top, bottom), (left, right)) zeros (an int or a (rows, cols) pair is also accepted).
    out: (N, K, Ho, Wo), a view of batch-last memory. The cache refers to w and to x (or its padded
    copy): do not modify them in place before backward.
    """
    geo = sliding_window(x, w, b, stride, pad, dilation, geometry=geometry)
    keep_freed_memory()
    if implicit.applies(geo):
        xh = implicit.rows_first(x.transpose(1, 2, 3, 0), geo.pad)
        if implicit.forward_pays(x.shape[1], w.shape[0], geo.out_w, geo.taps_w):
            out = implicit.implicit_correlate(xh, w, b)
        else:
            out = correlate(xh.transpose(1, 0, 2, 3), w.reshape(w.shape[0], -1), geo, b)
        return out.transpose(3, 0, 1, 2), ConvCache(xh, w, b is not None, geo, rows_first=True)
    xp = batch_last(x, geo.pad)
    out = correlate(xp, w.reshape(w.shape[0], -1), geo, b)
    return out.transpose(3, 0, 1, 2), ConvCache(xp, w, b is not None, geo)


@engine_threads
def conv2d_backward(dout, cache: ConvCache, *, input_grad: bool = True):
    """Gradients of conv2d_forward: dout (N, K, Ho, Wo) → (dx, dw, db).

    dx: (N, C, H, W) (None when ``input_grad`` is False, e.g. for the network's input layer);
    dw: (K, C, Fh, Fw); db: (K,) or None when the forward had no bias. Input rows and columns that
    no window reached (the crop policy) get zero gradient.
    """
    xp, w, geo = cache.xp, cache.w, cache.geo
    K = w.shape[0]
    N = xp.shape[3]
    check_dout(dout, (N, K, geo.out_h, geo.out_w), xp)
    d = batch_last(dout)  # (K, Ho, Wo, N): free if it came from the kernels
    db = d.reshape(K, -1).sum(axis=1) if cache.has_bias else None
    if cache.rows_first and implicit.filter_grad_pays(w.shape[1], K):
        dw = implicit.implicit_filter_grad(xp, d, w.shape[2:])
    elif cache.rows_first:
        dw = filter_grad(xp.transpose(1, 0, 2, 3), d, geo).reshape(w.shape)
    else:
        dw = filter_grad(xp, d, geo).reshape(w.shape)
    if not input_grad:
        return None, dw, db
    if implicit.applies(geo) and implicit.input_grad_pays(w.shape[1], K, geo.in_w, geo.taps_w):
        return implicit_input_grad(d, w, geo).transpose(3, 0, 1, 2), dw, db
    # The stride-1 gather copies K·Fh·Fw values per input pixel, the scatter C·Fh·Fw: with few input
    # channels (an image's 3) the scatter wins. ConvNetJS conv1 (C=3, K=16, 5×5): 10 ms vs 32 ms;
    # C=6–8, K=16: equal or better; C=16, K=20 and C=K=32: the gather is 1.3–1.4× faster.
    if geo.stride == (1, 1) and 2 * w.shape[1] > K:
        dx = input_grad_stride1(d, w, geo)
    else:
        dx = input_grad_scatter(d, w, geo)
    return dx.transpose(3, 0, 1, 2), dw, db


def correlate(xp, w2, geo: Window2d, b=None):
    """xp (C, Hp, Wp, N) ⋆ w2 (K, C·Fh·Fw) → (K, Ho, Wo, N), a few output rows per GEMM."""
    view = windows(xp, geo)
    K = w2.shape[0]
    out = np.empty((K, geo.out_h, geo.out_w, xp.shape[3]), xp.dtype)
    chunks, buffer = column_chunks(view)
    for rows in chunks:
        chunk = out[:, rows].reshape(K, -1)
        gemm.matmul(w2, columns(view[:, :, :, rows], buffer), out=chunk)
        if b is not None:
            chunk += b[:, None]
    return out


def column_chunks(view):
    """Row chunks of a windows view (C, Fh, Fw, Ho, Wo, N) and a buffer for the largest chunk."""
    C, Fh, Fw, Ho, Wo, N = view.shape
    chunks = row_chunks(Ho, C * Fh * Fw * Wo * N * view.itemsize)
    rows = chunks[0].stop - chunks[0].start
    return chunks, np.empty(C * Fh * Fw * rows * Wo * N, view.dtype)


def columns(view, buffer):
    """im2col of a windows view (C, Fh, Fw, r, Wo, N) into ``buffer``: (C·Fh·Fw, r·Wo·N)."""
    cols = buffer[: view.size].reshape(view.shape)
    np.copyto(cols, view)
    return cols.reshape(view.shape[0] * view.shape[1] * view.shape[2], -1)


def filter_grad(xp, d, geo: Window2d):
    """dw2 (K, C·Fh·Fw) = Σ over row chunks d (K, r·Wo·N) @ cols.T, recomputing each chunk's cols.

    Computed transposed, cols @ d.T: measured 5–15% faster than d @ cols.T on the ConvNetJS shapes.
    """
    view = windows(xp, geo)
    K = d.shape[0]
    chunks, buffer = column_chunks(view)
    dw2t = np.empty((view.shape[0] * view.shape[1] * view.shape[2], K), xp.dtype)
    for index, rows in enumerate(chunks):
        gemm.matmul(columns(view[:, :, :, rows], buffer), d[:, rows].reshape(K, -1).T, out=dw2t, beta=min(index, 1))
    return dw2t.T


def input_grad_stride1(d, w, geo: Window2d):
    """dx (C, H, W, N) for stride 1: the padded dout (K, Ho, Wo, N) correlated with flipped filters.

    dxpad[y] = Σ_p w[p] · dout[y − p·dh], so dx[h] = Σ_p' wflip[p'] · dpad[h + p'·dh] with dout
    padded by dh(Fh − 1) − top rows above and dh(Fh − 1) − bottom below (negative: cropped).
    """
    K, C, Fh, Fw = w.shape
    (dh, dw_), ((top, bottom), (left, right)) = geo.dilation, geo.pad
    span_h, span_w = dh * (Fh - 1), dw_ * (Fw - 1)
    dpad = padded_planes(d, ((span_h - top, span_h - bottom), (span_w - left, span_w - right)))
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(C, -1)
    back = Window2d(
        dpad.shape[1], dpad.shape[2], Fh, Fw, (1, 1), ((0, 0), (0, 0)), geo.dilation, geo.in_h, geo.in_w
    )
    return correlate(dpad, flipped, back)


def implicit_input_grad(d, w, geo: Window2d):
    """dx (C, H, W, N) for stride 1, no dilation: dout padded by F − 1 − pad (rows-first) and
    correlated with the flipped, transposed filters by ``implicit``."""
    K, C, Fh, Fw = w.shape
    (top, bottom), (left, right) = geo.pad
    dpad = implicit.rows_first(d, ((Fh - 1 - top, Fh - 1 - bottom), (Fw - 1 - left, Fw - 1 - right)))
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return implicit.implicit_correlate(dpad, flipped)


def input_grad_scatter(d, w, geo: Window2d):
    """dx (C, H, W, N) for any stride: column gradients w2.T @ d scattered back (col2im)."""
    K, C, Fh, Fw = w.shape
    N = d.shape[3]
    (top, _), (left, _) = geo.pad
    w2t = w.reshape(K, -1).T
    dxp = np.zeros((C, geo.padded_h, geo.padded_w, N), d.dtype)
    for rows in row_chunks(geo.out_h, C * Fh * Fw * geo.out_w * N * d.itemsize):
        d_rows = d[:, rows].reshape(K, -1)
        dcols = gemm.matmul(w2t, d_rows, out=np.empty((w2t.shape[0], d_rows.shape[1]), d.dtype))
        add_windows(dxp, dcols.reshape(C, Fh, Fw, -1, geo.out_w, N), geo, rows)
    return dxp[:, top : top + geo.in_h, left : left + geo.in_w]
