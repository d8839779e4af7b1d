"""Accumulating matrix products on strided matrices, straight through the BLAS numpy loaded.

    C (M, N) = A (M, K) @ B (K, N) + beta · C        (row-major, each with its own row stride)

numpy's matmul always overwrites its output, so a sum of products Σ_q A_q @ B_q costs a product
buffer and an add pass per term. BLAS's own ``beta = 1`` adds each product into C while C is in
cache. The implicit convolution's forward sums Fw products per output row this way instead of
writing Fw·K rows of partial sums and adding shifted slices of them (the adds were 20–35% of its
time on ResNet-20's shapes).

The routine is OpenBLAS's ``cblas_?gemm`` as numpy's wheels ship it (scipy-openblas, 64-bit
integers: ``scipy_cblas_sgemm64_``), found in the library threadpoolctl reports; ctypes releases
the GIL during the call, like numpy's matmul. Where that library is not there (another BLAS),
``available()`` is False and the callers keep their numpy products.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
ROUTINE_NAMES = {np.dtype(np.float32): "scipy_cblas_sgemm64_", np.dtype(np.float64): "scipy_cblas_dgemm64_"}


@functools.cache
def _routines() -> dict:
    """{dtype: (ctypes function, scalar type)} of the accumulating GEMMs found, possibly empty."""
    try:
        from threadpoolctl import threadpool_info

        paths = [info["filepath"] for info in threadpool_info() if info.get("internal_api") == "openblas"]
    except Exception:  # noqa: BLE001 (no threadpoolctl, or it failed: numpy's products then)
        return {}
    found = {}
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for dtype, name in ROUTINE_NAMES.items():
            function = getattr(library, name, None)
            if function is None or dtype in found:
                continue
            scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
            i64, ptr = ctypes.c_int64, ctypes.c_void_p
            function.argtypes = [ctypes.c_int] * 3 + [i64] * 3 + [scalar, ptr, i64, ptr, i64, scalar, ptr, i64]
            function.restype = None
            found[dtype] = (function, scalar)
    return found


def available(dtype) -> bool:
    """An accumulating GEMM for this dtype (float32 or float64) was found."""
    return np.dtype(dtype) in _routines()


def routine(dtype, transpose_b: bool = False):
    """The raw ``gemm(c_addr, ldc, a_addr, lda, b_addr, ldb, m, n, k, beta)`` for ``dtype``: addresses
    in bytes, leading dimensions and sizes in elements, all matrices row-major with unit column
    stride; with ``transpose_b`` the product reads B (n, k) as its transpose. The caller keeps the
    arrays alive and the sizes in bounds."""
    function, scalar = _routines()[np.dtype(dtype)]
    one, b_op = scalar(1.0), TRANS if transpose_b else NO_TRANS

    def gemm(c, ldc, a, lda, b, ldb, m, n, k, beta):
        function(ROW_MAJOR, NO_TRANS, b_op, m, n, k, one, a, lda, b, ldb, beta, c, ldc)

    return gemm


def gemm_into(c: np.ndarray, a: np.ndarray, b: np.ndarray, beta: float = 0.0) -> None:
    """c = a @ b + beta · c in place, for 2-D views whose last axis has unit stride (checked)."""
    m, k = a.shape
    if b.shape[0] != k or c.shape != (m, b.shape[1]) or not a.dtype == b.dtype == c.dtype:
        raise ValueError(f"gemm_into: shapes {c.shape} = {a.shape} @ {b.shape} or dtypes do not fit")
    if not c.flags.writeable:
        raise ValueError("gemm_into: c is read-only")
    if m == 0 or c.shape[1] == 0:
        return
    if k == 0:
        c *= beta
        return
    lds = []
    for matrix in (c, a, b):
        rows, cols = matrix.shape
        if cols > 1 and matrix.strides[1] != matrix.itemsize:
            raise ValueError("gemm_into: every matrix needs unit stride along its rows")
        ld = matrix.strides[0] // matrix.itemsize if rows > 1 else cols
        if ld < cols or matrix.strides[0] % matrix.itemsize:
            raise ValueError("gemm_into: rows overlap")
        lds.append(max(1, ld))
    _, scalar = _routines()[c.dtype]
    routine(c.dtype)(c.ctypes.data, lds[0], a.ctypes.data, lds[1], b.ctypes.data, lds[2], m, c.shape[1], k, scalar(beta))
