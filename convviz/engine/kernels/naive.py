"""Naive reference kernels: plain loops over every output value, written to be obviously right.

Same names, arguments and results as the fast kernels (a naive backward takes a naive forward's
cache). Tests check the fast kernels against these; they are far too slow for training.

    conv:   out[n, k, i, j] = b[k] + Σ w[k] · xpad[n, :, window(i, j)]
    local:  out[n, k, i, j] = b[i, j, k] + Σ w[i, j, k] · xpad[n, :, window(i, j)]
    max:    out[n, c, i, j] = max xpad[n, c, window(i, j)], padding −inf; the gradient goes to
            np.argmax of the window, the first maximum in row-major order
    avg:    out[n, c, i, j] = Σ xpad[n, c, window(i, j)] / (fh·fw), padded zeros counted
"""

from __future__ import annotations

import numpy as np

from convviz.engine.kernels.checks import check_dout, pool_window, sliding_window


def rows_cols(geo, i, j):
    """Index of window (i, j) in the padded input: (row slice, column slice)."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    return (
        slice(i * sh, i * sh + dh * (geo.taps_h - 1) + 1, dh),
        slice(j * sw, j * sw + dw * (geo.taps_w - 1) + 1, dw),
    )


def padded(x, geo, fill=0.0):
    (top, bottom), (left, right) = geo.pad
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


def unpad(dxp, geo):
    (top, _), (left, _) = geo.pad
    return dxp[:, :, top : top + geo.in_h, left : left + geo.in_w]


def conv2d_forward(x, w, b=None, stride=1, pad=0, dilation=1, *, geometry=None):
    return _sliding_forward(x, w, b, stride, pad, dilation, local=False, geometry=geometry)


def conv2d_backward(dout, cache, *, input_grad=True):
    return _sliding_backward(dout, cache, input_grad, local=False)


def local2d_forward(x, w, b=None, stride=1, pad=0, dilation=1, *, geometry=None):
    return _sliding_forward(x, w, b, stride, pad, dilation, local=True, geometry=geometry)


def local2d_backward(dout, cache, *, input_grad=True):
    return _sliding_backward(dout, cache, input_grad, local=True)


def _sliding_forward(x, w, b, stride, pad, dilation, local, geometry=None):
    geo = sliding_window(x, w, b, stride, pad, dilation, local, geometry)
    xp = padded(x, geo)
    N, K = x.shape[0], w.shape[-4]
    out = np.zeros((N, K, geo.out_h, geo.out_w), x.dtype)
    for n in range(N):
        for k in range(K):
            for i in range(geo.out_h):
                for j in range(geo.out_w):
                    filt = w[i, j, k] if local else w[k]
                    out[n, k, i, j] = np.sum(xp[(n, slice(None), *rows_cols(geo, i, j))] * filt)
                    if b is not None:
                        out[n, k, i, j] += b[i, j, k] if local else b[k]
    return out, (x, w, b is not None, geo)


def _sliding_backward(dout, cache, input_grad, local):
    x, w, has_bias, geo = cache
    check_dout(dout, (x.shape[0], w.shape[-4], geo.out_h, geo.out_w), x)
    xp = padded(x, geo)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(dout.shape[0]):
        for k in range(dout.shape[1]):
            for i in range(geo.out_h):
                for j in range(geo.out_w):
                    where = (n, slice(None), *rows_cols(geo, i, j))
                    filt = (i, j, k) if local else (k,)
                    dxp[where] += dout[n, k, i, j] * w[filt]
                    dw[filt] += dout[n, k, i, j] * xp[where]
    if not has_bias:
        db = None
    elif local:
        db = dout.sum(axis=0).transpose(1, 2, 0)
    else:
        db = dout.sum(axis=(0, 2, 3))
    return (unpad(dxp, geo) if input_grad else None), dw, db


def max_pool_forward(x, size=2, stride=None, pad=0, *, geometry=None):
    geo = pool_window(x, size, stride, pad, geometry)
    xp = padded(x, geo, -np.inf)
    N, C = x.shape[:2]
    out = np.zeros((N, C, geo.out_h, geo.out_w), x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(geo.out_h):
                for j in range(geo.out_w):
                    out[n, c, i, j] = xp[(n, c, *rows_cols(geo, i, j))].max()
    return out, (x, geo)


def max_pool_backward(dout, cache):
    x, geo = cache
    xp = padded(x, geo, -np.inf)
    dxp = np.zeros_like(xp)
    N, C = x.shape[:2]
    for n in range(N):
        for c in range(C):
            for i in range(geo.out_h):
                for j in range(geo.out_w):
                    rows, cols = rows_cols(geo, i, j)
                    first = np.argmax(xp[n, c, rows, cols])  # flat, row-major: the first maximum
                    p, q = divmod(int(first), geo.taps_w)
                    dxp[n, c, rows.start + p, cols.start + q] += dout[n, c, i, j]
    return unpad(dxp, geo)


def avg_pool_forward(x, size=2, stride=None, pad=0, *, geometry=None):
    geo = pool_window(x, size, stride, pad, geometry)
    xp = padded(x, geo)
    N, C = x.shape[:2]
    out = np.zeros((N, C, geo.out_h, geo.out_w), x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(geo.out_h):
                for j in range(geo.out_w):
                    out[n, c, i, j] = xp[(n, c, *rows_cols(geo, i, j))].sum() / (geo.taps_h * geo.taps_w)
    return out, (x, geo)


def avg_pool_backward(dout, cache):
    x, geo = cache
    dxp = np.zeros_like(padded(x, geo))
    N, C = x.shape[:2]
    for n in range(N):
        for c in range(C):
            for i in range(geo.out_h):
                for j in range(geo.out_w):
                    dxp[(n, c, *rows_cols(geo, i, j))] += dout[n, c, i, j] / (geo.taps_h * geo.taps_w)
    return unpad(dxp, geo)


def relu_max_pool_forward(x):
    return max_pool_forward(np.maximum(x, 0), 2, 2, 0)


def relu_max_pool_backward(dout, cache):
    x, _ = cache
    dx = max_pool_backward(dout, cache)
    return dx * (x > 0)
