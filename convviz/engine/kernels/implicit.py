"""Stride-1 convolution without im2col: products straight on strided views of a rows-first input.

The input is copied once, padded, into *rows-first* memory xh (Hp, C, Wp, N). For an output row i,
the rows (p, c) of xh[i + p, c, :, :] (p < Fh) are then Fh·C rows of Wp·N values, one row stride
apart: a matrix X_i (Fh·C, Wp·N) that BLAS reads in place, with no im2col copy (which writes
Fh·Fw values per input value). The filter columns q are handled on the output side:

    forward:  Z_i (Fw·K, Wp·N) = w3 (Fw·K, Fh·C) @ X_i,   w3[(q, k), (p, c)] = w[k, c, p, q]
              out[k, i, j, n] = b[k] + Σ_q Z_i[(q, k), (j + q, n)]            (a shifted add per q)
    weights:  dw[k, c, p, q] = Σ_i  d_i (K, Wo·N) @ X_i[(p, c), (q … q + Wo − 1, n)]ᵀ
              (the column window of X_i starting at q is again a strided matrix: no copy at all)
    input:    for stride 1, dx is the convolution of dout padded by F − 1 − pad with the flipped,
              transposed filters (K ↔ C), run through the same forward.

    x: (C, H, W, N) batch-last (``layout``); out, dx: (K, Ho, Wo, N), (C, H, W, N) batch-last.
    Ho = Hp − Fh + 1, Wo = Wp − Fw + 1 (stride 1, no dilation).

The products cover a few output rows per call (one numpy matmul over a stack of strided views) so
that Z stays in cache. The forward computes Wp − Wo extra columns of Z per row (6% at 32 wide, 25%
at 8 wide), but it copies 1× the input where im2col copies 9× (3×3) or 25× (5×5).

Winograd F(2×2, 3×3) (2.25× fewer multiplies) and F(2, 3) along the rows were measured here too
and lost: in numpy their transforms are a dozen passes over 4× the input, which took as long as
the products they saved (0.6–1.1× this kernel's speed on the presets' shapes).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convviz.engine.kernels import gemm

# About this many bytes of Z (Fw·K·Wp·N values per output row) per product: whole steps of
# ResNet-20 and the small VGG ran 1–2% faster at 512 KiB than at 2 MiB (256 KiB: equal).
CHUNK_BYTES = 512 << 10
# dw's products sum over at most this many (j, n) positions at a time: OpenBLAS here ran the
# (48 × 2048) @ (2048 × 16) products of a 16-channel 32×32 layer at batch 64 1.45× slower in one
# piece than in two (other shapes: no difference).
MAX_INNER = 1024
# dw keeps every output row's partial product of a block of rows: at most about this many bytes.
PARTS_BYTES = 4 << 20


# Where implicit products beat im2col (measured at batch 32 and 64, ``bench/bench_conv_paths.py``).
# With BLAS's accumulating GEMM (``gemm``: the forward adds its Fw products in place) the implicit
# forward won on every stride-1 shape of the presets, 1.1–1.8× (an image's 3 channels and 8-wide
# planes included), and so did dx except with few output channels and many filters (an image's 3
# channels under 32 filters: 0.8×, which a network's first layer never needs). With numpy's products
# only (Z and shifted adds): with C = 3 the forward ran at 0.5–0.7× im2col's speed; on planes under
# 12 wide, 3×3 filters broke even (the Fw − 1 extra columns of Z are 25% of an 8-wide row) while 5×5
# ones still won 1.3–1.4×; with K ≥ 2C the forward and dw ran at 0.85–0.99×. dw (the same kernel
# either way): 1.5–1.9× faster with C = 3, 0.9–1.0× with K ≥ 2C.
MIN_CHANNELS = 8
MIN_WIDTH = 12
WIDE_FILTER = 5
FEW_CHANNELS_MAX_RATIO = 8  # dx with C < MIN_CHANNELS: implicit while K < 8·C


def applies(geo) -> bool:
    """Stride 1 and no dilation: the rows (p, c) of X_i are then one row stride apart."""
    return geo.stride == (1, 1) and geo.dilation == (1, 1)


# Every product takes BLAS's accumulating GEMM where ``gemm`` reaches it, however small. With the
# batch split across Python threads, products under 2^18 multiply-adds were kept on numpy's
# stacked products: each ctypes call prepares its arguments holding the GIL, and ConvNetJS's
# first-layer products made a two-thread step 5–15% slower. With the parts in helper processes no
# GIL is shared: all products accumulating made ConvNetJS's one-thread step 0.96–0.97× → 1.00×
# PyTorch's, two cores the same (bench/bench_train.py, one run, 2026-12-01; two threads in one
# process, the fallback backend, 1.24× → 1.06× one thread). The path depends on the shapes only,
# so a layer's rounding does not change with the batch size.


def accumulates(dtype=np.float32) -> bool:
    """The products take ``gemm``'s accumulating GEMM for this dtype."""
    return gemm.available(dtype)


def wide_enough(width: int, taps: int) -> bool:
    return width >= MIN_WIDTH or taps >= WIDE_FILTER


def forward_pays(channels: int, filters: int, width: int, taps: int) -> bool:
    """The implicit forward beats im2col for C input channels, K filters, this output width and
    filter width."""
    if accumulates():
        return True
    return channels >= MIN_CHANNELS and filters < 2 * channels and wide_enough(width, taps)


def filter_grad_pays(channels: int, filters: int) -> bool:
    """The implicit dw beats im2col's (recomputed) columns."""
    return channels < MIN_CHANNELS or filters < 2 * channels


def input_grad_pays(channels: int, filters: int, width: int, taps: int) -> bool:
    """dx by the implicit forward (K input channels, C outputs, the input's width) beats gather and
    scatter."""
    if filters < MIN_CHANNELS:
        return False
    if accumulates():
        return channels >= MIN_CHANNELS or filters < FEW_CHANNELS_MAX_RATIO * channels
    return wide_enough(width, taps)


def rows_first(a: np.ndarray, pad) -> np.ndarray:
    """a: (A, H, W, B) in any memory order → contiguous (H + top + bottom, A, W + left + right, B)
    with zero borders; a negative pad crops that many rows/columns instead."""
    (top, bottom), (left, right) = pad
    A, H, W, B = a.shape
    src = a[:, max(0, -top) : H - max(0, -bottom), max(0, -left) : W - max(0, -right)]
    top, bottom, left, right = (max(0, p) for p in (top, bottom, left, right))
    rows, cols = src.shape[1], src.shape[2]
    out = np.empty((rows + top + bottom, A, cols + left + right, B), a.dtype)
    out[:top] = 0
    out[top + rows :] = 0
    out[top : top + rows, :, :left] = 0
    out[top : top + rows, :, left + cols :] = 0
    inner = out[top : top + rows, :, left : left + cols].transpose(1, 0, 2, 3)
    # From NCHW memory the batch axis is the one being gathered: 8 images at a time keep the reads
    # in cache (as in layout.padded_planes).
    step = B if src.strides[3] == src.itemsize else 8
    for start in range(0, B, step):
        inner[..., start : start + step] = src[..., start : start + step]
    return out


def row_matrices(xh: np.ndarray, taps_h: int) -> np.ndarray:
    """xh (Hp, C, Wp, N) → view (Hp − Fh + 1, Fh·C, Wp·N): entry i is the matrix X_i above."""
    Hp, C, Wp, N = xh.shape
    row, channel = xh.strides[:2]
    return as_strided(xh, (Hp - taps_h + 1, taps_h * C, Wp * N), (row, channel, xh.itemsize), writeable=False)


def chunks(rows: int, bytes_per_row: int) -> list[slice]:
    step = max(1, CHUNK_BYTES // max(1, bytes_per_row))
    return [slice(start, min(rows, start + step)) for start in range(0, rows, step)]


def implicit_correlate(xh: np.ndarray, w: np.ndarray, b=None) -> np.ndarray:
    """xh (Hp, C, Wp, N) ⋆ w (K, C, Fh, Fw) (+ b (K,)) → contiguous (K, Ho, Wo, N), stride 1."""
    K, C, Fh, Fw = w.shape
    if xh.flags.c_contiguous and accumulates(xh.dtype):
        out = accumulated_correlate(xh, w)
    else:
        out = shifted_correlate(xh, w)
    if b is not None:
        out += b[:, None, None, None]
    return out


def accumulated_correlate(xh: np.ndarray, w: np.ndarray) -> np.ndarray:
    """implicit_correlate without Z: per output row i and filter column q, BLAS adds
    w_q (K, Fh·C) @ X_i[:, (q … q + Wo − 1, n)] (a strided matrix, no copy) into out[:, i]
    (beta = 1 from q = 1 on: the same sums in the same order as ``shifted_correlate``)."""
    K, C, Fh, Fw = w.shape
    Hp, _, Wp, N = xh.shape
    Ho, Wo = Hp - Fh + 1, Wp - Fw + 1
    wq = np.ascontiguousarray(w.transpose(3, 0, 2, 1))  # (Fw, K, Fh, C): w_q[k, (p, c)]
    out = np.empty((K, Ho, Wo, N), xh.dtype)
    run = gemm.routine(xh.dtype)
    size, inner = xh.itemsize, Fh * C
    x_row, w_step, o_row = C * Wp * N * size, K * inner * size, Wo * N * size
    x0, w0, o0 = xh.ctypes.data, wq.ctypes.data, out.ctypes.data
    zero, one = (np.array(v, xh.dtype).item() for v in (0.0, 1.0))
    batch = gemm.batch_routine(xh.dtype) if Ho >= BATCH_ROWS else None
    if batch is not None:
        # one call per filter column q over every output row i: the same products in the same
        # order per output value (q = 0 first), bit for bit the row-by-row result
        rows = np.arange(Ho, dtype=np.int64)
        outs, inputs = o0 + rows * o_row, x0 + rows * x_row
        for q in range(Fw):
            batch(outs, Ho * Wo * N, np.full(Ho, w0 + q * w_step, np.int64), inner, inputs + q * N * size, Wp * N,
                  K, Wo * N, inner, 1.0 if q else 0.0)
        return out
    pieces = small_pieces(K, inner, Wo * N)
    for i in range(Ho):
        for q in range(Fw):
            for start, n in pieces:
                # c = out[:, i] (K, Wo·N) from column start, row stride Ho·Wo·N;
                # b = X_i from column q·N + start, row stride Wp·N
                run(o0 + i * o_row + start * size, Ho * Wo * N, w0 + q * w_step, inner,
                    x0 + i * x_row + (q * N + start) * size, Wp * N, K, n, inner, one if q else zero)
    return out


# OpenBLAS (its SkylakeX kernels) multiplies a product of at most SMALL_MACS multiply-adds with a
# small-matrix kernel that packs nothing. The forward products of 16-channel layers at batch 64
# (16 × 48 × 2,048 = 1.6 M) ran faster as two halves under that size, with the same numbers bit for
# bit: ResNet-20 on one thread 0.74–0.76× → 0.77–0.80× PyTorch, ConvNetJS 1.02–1.05× → 1.09–1.15×
# (bench/bench_train.py --cpu-time, 2026-12-01). Cutting bigger products as finely lost (the small
# VGG's 32-channel layers: 0.83× → 0.77×), so only those up to SMALL_PIECES times the size are cut.
# MKL multiplies the whole product faster (16 channels: 2.07 ms a layer whole, 2.21 in halves).
SMALL_MACS = 1_000_000
SMALL_PIECES = 2
# With MKL, planes of at least BATCH_ROWS output rows take one batched call per filter column
# (cblas_sgemm_batch) instead of one call per row and column: 4–8% faster on the 16- and
# 32-channel forwards, 4% slower on 8-row planes (bench, 2026-12-01).
BATCH_ROWS = 16


def small_pieces(m: int, k: int, n: int) -> list[tuple[int, int]]:
    """(start, width) of the column pieces of an (m × k) @ (k × n) product: the whole product, or
    with OpenBLAS SMALL_PIECES equal pieces of at most SMALL_MACS multiply-adds when that many make
    it small."""
    macs = m * k * n
    if gemm.library() != "openblas" or macs <= SMALL_MACS or macs > SMALL_PIECES * SMALL_MACS:
        return [(0, n)]
    width = -(-n // SMALL_PIECES)
    return [(start, min(width, n - start)) for start in range(0, n, width)]


def shifted_correlate(xh: np.ndarray, w: np.ndarray) -> np.ndarray:
    """implicit_correlate with numpy's products: Z_i = w3 @ X_i for a few rows at a time, then the
    shifted adds (for a BLAS without an accumulating GEMM that ``gemm`` can reach)."""
    K, C, Fh, Fw = w.shape
    Hp, _, Wp, N = xh.shape
    Ho, Wo = Hp - Fh + 1, Wp - Fw + 1
    w3 = np.ascontiguousarray(w.transpose(3, 0, 2, 1)).reshape(Fw * K, Fh * C)
    view = row_matrices(xh, Fh)
    out = np.empty((K, Ho, Wo, N), xh.dtype)
    parts = chunks(Ho, Fw * K * Wp * N * xh.itemsize)
    z_buf = np.empty((parts[0].stop - parts[0].start, Fw * K, Wp * N), xh.dtype)
    for rows in parts:
        z = np.matmul(w3, view[rows], out=z_buf[: rows.stop - rows.start])
        z5 = z.reshape(-1, Fw, K, Wp, N)
        target = out[:, rows].transpose(1, 0, 2, 3)  # (r, K, Wo, N)
        if Fw == 1:
            np.copyto(target, z5[:, 0, :, :Wo])
        else:
            np.add(z5[:, 0, :, :Wo], z5[:, 1, :, 1 : 1 + Wo], out=target)
        for q in range(2, Fw):
            target += z5[:, q, :, q : q + Wo]
    return out


def implicit_filter_grad(xh: np.ndarray, d: np.ndarray, taps: tuple[int, int]) -> np.ndarray:
    """dw (K, C, Fh, Fw) of implicit_correlate: xh (Hp, C, Wp, N) its input, d (K, Ho, Wo, N) the
    gradient of its output (batch-last memory: d[:, i] is then a (K, Wo·N) matrix in place)."""
    d = np.ascontiguousarray(d)  # free for the kernels' dout
    if d.size == 0:
        return np.zeros((d.shape[0], xh.shape[1], *taps), xh.dtype)
    if xh.flags.c_contiguous and accumulates(xh.dtype):
        return accumulated_filter_grad(xh, d, taps)
    return stacked_filter_grad(xh, d, taps)


def inner_pieces(Wo: int, N: int) -> range:
    """Starts of the fewest pieces of about MAX_INNER (j, n) positions, cut between output columns."""
    length = Wo * N
    pieces = -(-length // MAX_INNER)
    return range(0, length, -(-Wo // pieces) * N)


def accumulated_filter_grad(xh: np.ndarray, d: np.ndarray, taps: tuple[int, int]) -> np.ndarray:
    """implicit_filter_grad with BLAS adding every (row, piece) product into dw_q (Fh·C, K) itself:
    dw_q += X_i[:, (q + j, n) of the piece] @ d_i[:, piece]ᵀ, no partial products kept (measured
    3–12% faster than ``stacked_filter_grad`` on the presets' shapes)."""
    Fh, Fw = taps
    Hp, C, Wp, N = xh.shape
    K, Ho, Wo = d.shape[:3]
    dw = np.empty((Fw, Fh * C, K), xh.dtype)
    run = gemm.routine(xh.dtype, transpose_b=True)
    size, inner, length = xh.itemsize, Fh * C, Wo * N
    starts = inner_pieces(Wo, N)
    x0, d0, w0 = xh.ctypes.data, d.ctypes.data, dw.ctypes.data
    zero, one = (np.array(v, xh.dtype).item() for v in (0.0, 1.0))
    for i in range(Ho):
        for start in starts:
            n = min(length, start + starts.step) - start
            beta = one if i or start else zero
            for q in range(Fw):
                # c = dw_q (Fh·C, K); a = X_i from column q·N + start, row stride Wp·N;
                # b = d_i's piece (K, n), row stride Ho·Wo·N, read transposed
                run(w0 + q * inner * K * size, K, x0 + (i * C * Wp * N + q * N + start) * size, Wp * N,
                    d0 + (i * length + start) * size, Ho * length, inner, K, n, beta)
    return dw.reshape(Fw, Fh, C, K).transpose(3, 2, 1, 0)


def stacked_filter_grad(xh: np.ndarray, d: np.ndarray, taps: tuple[int, int]) -> np.ndarray:
    """implicit_filter_grad with numpy's products (for a BLAS that ``gemm`` cannot reach)."""
    Fh, Fw = taps
    Hp, C, Wp, N = xh.shape
    K, Ho, Wo = d.shape[:3]
    view = row_matrices(xh, Fh)  # (Ho, Fh·C, Wp·N)
    d_rows = _row_stack(d)  # (Ho, K, Wo·N)
    length = Wo * N
    starts = inner_pieces(Wo, N)
    step = starts.step
    # one stacked product per (q, piece) over a block of output rows (each row's product is separate
    # work anyway), every row's (Fh·C, K) result kept and summed after the block; a block's results
    # take at most about PARTS_BYTES (VGG-16's 512-channel layers would otherwise keep 100s of MB)
    per_row = Fw * len(starts) * Fh * C * K * xh.itemsize
    block = max(1, min(Ho, PARTS_BYTES // per_row))
    parts = np.empty((Fw, len(starts), block, Fh * C, K), xh.dtype)
    dw = np.zeros((Fw, Fh * C, K), xh.dtype)
    for first in range(0, Ho, block):
        rows = slice(first, min(Ho, first + block))
        n = rows.stop - rows.start
        for q in range(Fw):
            for index, start in enumerate(starts):
                stop = min(length, start + step)
                cols = view[rows, :, q * N + start : q * N + stop]  # (n, Fh·C, ≤ MAX_INNER)
                np.matmul(cols, d_rows[rows, :, start:stop].transpose(0, 2, 1), out=parts[q, index, :n])
        dw += parts[:, :, :n].sum(axis=(1, 2))
    # dw[q, (p, c), k] → (K, C, Fh, Fw)
    return dw.reshape(Fw, Fh, C, K).transpose(3, 2, 1, 0)


def _row_stack(d: np.ndarray) -> np.ndarray:
    """Contiguous d (K, Ho, Wo, N) → view (Ho, K, Wo·N): entry i is the matrix d[:, i]."""
    K, Ho, Wo, N = d.shape
    k_stride, row_stride = d.strides[:2]  # (a size-1 axis may carry any stride: N's is not used)
    return as_strided(d, (Ho, K, Wo * N), (row_stride, k_stride, d.itemsize), writeable=False)
