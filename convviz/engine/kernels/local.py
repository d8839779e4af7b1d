"""Fast locally connected layer: a convolution whose filters differ at every output position.

    x: (N, C, H, W)   w: (Ho, Wo, K, C, Fh, Fw)   b: (Ho, Wo, K) or None   out: (N, K, Ho, Wo)
    out[n, k, i, j] = b[i, j, k] + Σ_c,p,q w[i, j, k, c, p, q] · xpad[n, c, i·sh + p·dh, j·sw + q·dw]

Same stride/pad/dilation conventions and output size as conv2d. One im2col copy gives
cols (Ho·Wo, C·Fh·Fw, N), kept for backward; then one GEMM per output position,
out[i, j] = w[i, j] @ cols[i, j], so out is an (N, K, Ho, Wo) view of (Ho, Wo, K, N) memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convviz.engine.blas import engine_threads
from convviz.engine.kernels.checks import check_dout, sliding_window
from convviz.model.geometry import Window2d
from convviz.engine.kernels.layout import add_windows, batch_last, windows
from convviz.engine.kernels.memory import keep_freed_memory


@dataclass(frozen=True)
class LocalCache:
    cols: np.ndarray  # (Ho·Wo, C·Fh·Fw, N)
    w: np.ndarray  # (Ho, Wo, K, C, Fh, Fw)
    has_bias: bool
    geo: Window2d


@engine_threads
def local2d_forward(x, w, b=None, stride=1, pad=0, dilation=1, *, geometry=None):
    """Locally connected forward; returns (out (N, K, Ho, Wo), cache). w's (Ho, Wo) must match."""
    geo = sliding_window(x, w, b, stride, pad, dilation, local=True, geometry=geometry)
    keep_freed_memory()
    Ho, Wo, K, C, Fh, Fw = w.shape
    N = x.shape[0]
    # (C, Fh, Fw, Ho, Wo, N) → (Ho, Wo, C, Fh, Fw, N), copied contiguous: one im2col
    cols = np.ascontiguousarray(windows(batch_last(x, geo.pad), geo).transpose(3, 4, 0, 1, 2, 5))
    cols = cols.reshape(Ho * Wo, C * Fh * Fw, N)
    out = np.matmul(w.reshape(Ho * Wo, K, -1), cols)  # (Ho·Wo, K, N)
    if b is not None:
        out += b.reshape(Ho * Wo, K, 1)
    return out.reshape(Ho, Wo, K, N).transpose(3, 2, 0, 1), LocalCache(cols, w, b is not None, geo)


@engine_threads
def local2d_backward(dout, cache: LocalCache, *, input_grad: bool = True):
    """dout (N, K, Ho, Wo) → (dx (N, C, H, W) or None, dw like w, db (Ho, Wo, K) or None)."""
    cols, w, geo = cache.cols, cache.w, cache.geo
    Ho, Wo, K, C, Fh, Fw = w.shape
    N = cols.shape[2]
    check_dout(dout, (N, K, Ho, Wo), cols)
    d = np.ascontiguousarray(dout.transpose(2, 3, 1, 0)).reshape(Ho * Wo, K, N)
    db = d.sum(axis=2).reshape(Ho, Wo, K) if cache.has_bias else None
    dw = np.matmul(d, cols.transpose(0, 2, 1)).reshape(w.shape)
    if not input_grad:
        return None, dw, db
    dcols = np.matmul(w.reshape(Ho * Wo, K, -1).transpose(0, 2, 1), d).reshape(Ho, Wo, C, Fh, Fw, N)
    dxp = np.zeros((C, geo.padded_h, geo.padded_w, N), cols.dtype)
    add_windows(dxp, dcols.transpose(2, 3, 4, 0, 1, 5), geo)
    (top, _), (left, _) = geo.pad
    dx = dxp[:, top : top + geo.in_h, left : left + geo.in_w]
    return dx.transpose(3, 0, 1, 2), dw, db
