"""Channel-major buffers, window views (im2col without Python loops) and col2im.

The fast kernels keep their buffers *channel-major*, (C, N, H, W) in memory: then the convolution's
GEMM ``w (K, C·Fh·Fw) @ cols (C·Fh·Fw, N·Ho·Wo)`` writes its (K, N, Ho, Wo) result directly, and
every im2col copy moves whole output rows (Wo contiguous values) whatever C is. Callers still see
(N, C, H, W) arrays: ``a.transpose(1, 0, 2, 3)`` is a free view.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convviz.engine.kernels.geometry import Window2d

# Columns per GEMM are capped so one chunk of cols stays in this machine's cache (1 MiB L2 per
# core, shared L3): bench/bench_kernels.py measured 2–4 MiB chunks fastest for the ConvNetJS net.
CHUNK_BYTES = 3 << 20


def padded_planes(a: np.ndarray, pad, fill: float = 0.0) -> np.ndarray:
    """a: (A, B, H, W) → contiguous (A, B, H + top + bottom, W + left + right), borders = fill.

    A negative pad crops that many rows/columns instead. With no padding and an already
    contiguous ``a``, returns ``a`` itself (no copy).
    """
    (top, bottom), (left, right) = pad
    if top == bottom == left == right == 0 and a.flags.c_contiguous:
        return a
    A, B, H, W = a.shape
    src = a[:, :, max(0, -top) : H - max(0, -bottom), max(0, -left) : W - max(0, -right)]
    top, bottom, left, right = (max(0, p) for p in (top, bottom, left, right))
    out = np.empty((A, B, src.shape[2] + top + bottom, src.shape[3] + left + right), a.dtype)
    for rows, cols in (
        (slice(0, top), slice(None)),
        (slice(out.shape[2] - bottom, None), slice(None)),
        (slice(top, top + src.shape[2]), slice(0, left)),
        (slice(top, top + src.shape[2]), slice(out.shape[3] - right, None)),
    ):
        out[:, :, rows, cols] = fill
    out[:, :, top : top + src.shape[2], left : left + src.shape[3]] = src
    return out


def channel_major(x: np.ndarray, pad=((0, 0), (0, 0)), fill: float = 0.0) -> np.ndarray:
    """x: (N, C, H, W) in any memory order → padded, contiguous (C, N, Hp, Wp)."""
    return padded_planes(x.transpose(1, 0, 2, 3), pad, fill)


def windows(xp: np.ndarray, geo: Window2d) -> np.ndarray:
    """xp: (C, N, Hp, Wp) → view (C, Fh, Fw, N, Ho, Wo) with [c, p, q, n, i, j] =
    xp[c, n, i·sh + p·dh, j·sw + q·dw]. Copying it into a contiguous array is im2col.
    """
    sc, sn, sy, sx = xp.strides
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    C, N = xp.shape[:2]
    shape = (C, geo.taps_h, geo.taps_w, N, geo.out_h, geo.out_w)
    return as_strided(xp, shape, (sc, dh * sy, dw * sx, sn, sh * sy, sw * sx), writeable=False)


def add_windows(dxp: np.ndarray, dcols: np.ndarray, geo: Window2d) -> None:
    """col2im: dxp (C, N, Hp, Wp) += every window's gradient dcols (C, Fh, Fw, N, Ho, Wo).

    One strided slice-add per tap (p, q): within a tap the windows never overlap, so plain ``+=``
    is exact (np.add.at measured 4–11× slower).
    """
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    rows, cols = sh * (geo.out_h - 1) + 1, sw * (geo.out_w - 1) + 1
    for p in range(geo.taps_h):
        for q in range(geo.taps_w):
            dxp[:, :, p * dh : p * dh + rows : sh, q * dw : q * dw + cols : sw] += dcols[:, p, q]


def batch_chunks(n: int, bytes_per_item: int):
    """Split range(n) into (start, stop) pieces of about CHUNK_BYTES each (at least one item)."""
    step = max(1, CHUNK_BYTES // max(1, bytes_per_item))
    return [(start, min(n, start + step)) for start in range(0, n, step)]
