"""Accumulating matrix products on strided matrices, straight through a BLAS library.

    C (M, N) = A (M, K) @ B (K, N) + beta · C        (row-major, each with its own row stride)

numpy's matmul always overwrites its output, so a sum of products Σ_q A_q @ B_q costs a product
buffer and an add pass per term. BLAS's own ``beta = 1`` adds each product into C while C is in
cache. The implicit convolution's forward sums Fw products per output row this way instead of
writing Fw·K rows of partial sums and adding shifted slices of them (the adds were 20–35% of its
time on ResNet-20's shapes).

Two libraries can serve the products (``library()`` says which does):

- **Intel MKL**, when the optional ``mkl`` package is installed (``pip install 'convviz[mkl]'``):
  its ``cblas_?gemm_64`` ran the convolutions' thin products (16–64 filters by 48–576 by 512–2,048
  positions) 1.15–1.7× faster than OpenBLAS on one thread here, which took the small VGG from 0.82×
  to 0.98× PyTorch's one-thread speed and ResNet-20 from 0.78× to 0.90× (``bench/bench_train.py``,
  2026-12-01; PyTorch's own CPU build multiplies with MKL and oneDNN). It is loaded with its
  sequential threading layer (one thread per caller: the engine's second core is a helper process)
  and conditional numerical reproducibility on (``MKL_CBWR_AUTO``), so a seed gives the same
  numbers run after run on one machine.
- **OpenBLAS** as numpy's wheels ship it (scipy-openblas, 64-bit integers:
  ``scipy_cblas_sgemm64_``), found in the library threadpoolctl reports.

``CONVVIZ_GEMM=openblas`` keeps OpenBLAS even where MKL is installed. ctypes releases the GIL during
each call, like numpy's matmul. Where neither library is found, ``available()`` is False and the
callers keep their numpy products.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import sys

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
ROUTINE_NAMES = {np.dtype(np.float32): "scipy_cblas_sgemm64_", np.dtype(np.float64): "scipy_cblas_dgemm64_"}
MKL_NAMES = {np.dtype(np.float32): "cblas_sgemm_64", np.dtype(np.float64): "cblas_dgemm_64"}
LIBRARY_ENV = "CONVVIZ_GEMM"  # "openblas": never MKL
MKL_THREADING_SEQUENTIAL = 1
MKL_CBWR_AUTO = 2


def _mkl_paths() -> list[str]:
    """Where the ``mkl`` wheel puts its runtime library: <prefix>/lib (Linux), <prefix>/Library/bin."""
    prefixes = dict.fromkeys([sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(sys.executable))])
    patterns = ["lib/libmkl_rt.so*", "Library/bin/mkl_rt*.dll"]
    return sorted({path for prefix in prefixes for pattern in patterns for path in glob.glob(os.path.join(prefix, pattern))})


@functools.cache
def _mkl():
    """MKL's runtime library with its sequential threading layer and reproducible results, or None
    (not installed, or ``CONVVIZ_GEMM=openblas``)."""
    if os.environ.get(LIBRARY_ENV, "").strip().lower() == "openblas":
        return None
    for path in _mkl_paths():
        try:
            library = ctypes.CDLL(path)
            library.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
            library.MKL_CBWR_Set.argtypes = [ctypes.c_int]
            if library.MKL_Set_Threading_Layer(MKL_THREADING_SEQUENTIAL) != MKL_THREADING_SEQUENTIAL:
                continue
            library.MKL_CBWR_Set(MKL_CBWR_AUTO)
        except (OSError, AttributeError):
            continue
        return library
    return None


def _bind(function, dtype):
    scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    function.argtypes = [ctypes.c_int] * 3 + [i64] * 3 + [scalar, ptr, i64, ptr, i64, scalar, ptr, i64]
    function.restype = None
    return function, scalar


@functools.cache
def _routines() -> dict:
    """{dtype: (ctypes function, scalar type)} of the accumulating GEMMs found, possibly empty: MKL's
    where it is installed, else OpenBLAS's."""
    mkl = _mkl()
    if mkl is not None:
        found = {dtype: _bind(getattr(mkl, name), dtype) for dtype, name in MKL_NAMES.items() if hasattr(mkl, name)}
        if found:
            return found
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
            if function is not None and dtype not in found:
                found[dtype] = _bind(function, dtype)
    return found


@functools.cache
def _batches() -> dict:
    """{dtype: (ctypes function, scalar type)} of MKL's grouped batch GEMM (``cblas_?gemm_batch_64``),
    empty without MKL."""
    mkl = _mkl()
    names = {np.dtype(np.float32): "cblas_sgemm_batch_64", np.dtype(np.float64): "cblas_dgemm_batch_64"}
    found = {}
    for dtype, name in names.items():
        function = getattr(mkl, name, None) if mkl is not None else None
        if function is not None:
            function.argtypes = [ctypes.c_int] + [ctypes.c_void_p] * 13 + [ctypes.c_int64, ctypes.c_void_p]
            function.restype = None
            found[dtype] = (function, dtype.type)
    return found


def batch_routine(dtype):
    """MKL's ``batch(c_addrs, ldc, a_addrs, lda, b_addrs, ldb, m, n, k, beta)``: one call for
    len(c_addrs) products C_i = A_i @ B_i + beta · C_i of one shape (int64 address arrays, row-major,
    no transposes; the C_i must not overlap), or None without MKL."""
    if np.dtype(dtype) not in _batches():
        return None
    function, scalar = _batches()[np.dtype(dtype)]
    trans = np.array([NO_TRANS, NO_TRANS], np.int32)

    def batch(c, ldc, a, lda, b, ldb, m, n, k, beta):
        sizes = np.array([m, n, k, lda, ldb, ldc, len(c)], np.int64)
        scalars = np.array([1.0, beta], scalar)
        t0, s0, f0 = trans.ctypes.data, sizes.ctypes.data, scalars.ctypes.data
        function(ROW_MAJOR, t0, t0 + 4, s0, s0 + 8, s0 + 16, f0, a.ctypes.data, s0 + 24, b.ctypes.data, s0 + 32,
                 f0 + scalars.itemsize, c.ctypes.data, s0 + 40, 1, s0 + 48)

    return batch


def library() -> str | None:
    """The library that multiplies: "mkl", "openblas", or None (numpy's products)."""
    if not _routines():
        return None
    return "mkl" if _mkl() is not None else "openblas"


def use(name: str | None) -> None:
    """Multiply with "openblas", or with the default (MKL where installed) for None: for tests and
    benchmarks that compare the two. Also sets CONVVIZ_GEMM, which helper processes inherit."""
    if name is None:
        os.environ.pop(LIBRARY_ENV, None)
    else:
        os.environ[LIBRARY_ENV] = name
    _mkl.cache_clear()
    _routines.cache_clear()
    _batches.cache_clear()


def available(dtype) -> bool:
    """An accumulating GEMM for this dtype (float32 or float64) was found."""
    return np.dtype(dtype) in _routines()


def routine(dtype, transpose_b: bool = False, transpose_a: bool = False):
    """The raw ``gemm(c_addr, ldc, a_addr, lda, b_addr, ldb, m, n, k, beta)`` for ``dtype``: addresses
    in bytes, leading dimensions and sizes in elements, all matrices row-major with unit column
    stride; with ``transpose_b`` the product reads B (n, k) as its transpose, with ``transpose_a``
    A (k, m). The caller keeps the arrays alive and the sizes in bounds."""
    function, scalar = _routines()[np.dtype(dtype)]
    one = scalar(1.0)
    a_op, b_op = (TRANS if flag else NO_TRANS for flag in (transpose_a, transpose_b))

    def gemm(c, ldc, a, lda, b, ldb, m, n, k, beta):
        function(ROW_MAJOR, a_op, b_op, m, n, k, one, a, lda, b, ldb, beta, c, ldc)

    return gemm


def gemm_into(c: np.ndarray, a: np.ndarray, b: np.ndarray, beta: float = 0.0) -> None:
    """c = a @ b + beta · c in place, for 2-D views with unit stride along one axis (checked): c
    along its rows, a and b along either (a transposed view is read transposed, not copied)."""
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
    ldc, _ = _leading(c, allow_transposed=False)
    lda, a_transposed = _leading(a)
    ldb, b_transposed = _leading(b)
    _, scalar = _routines()[c.dtype]
    run = routine(c.dtype, transpose_b=b_transposed, transpose_a=a_transposed)
    run(c.ctypes.data, ldc, a.ctypes.data, lda, b.ctypes.data, ldb, m, c.shape[1], k, scalar(beta))


def _leading(matrix: np.ndarray, allow_transposed: bool = True) -> tuple[int, bool]:
    """(leading dimension in elements, read transposed) of a 2-D view for BLAS."""
    size = matrix.itemsize
    for transposed, view in ((False, matrix), (True, matrix.T)):
        if transposed and not allow_transposed:
            break
        rows, cols = view.shape
        if cols > 1 and view.strides[1] != size:
            continue
        ld = view.strides[0] // size if rows > 1 else cols
        if ld >= cols and view.strides[0] % size == 0:
            return max(1, ld), transposed
    raise ValueError("gemm_into: every matrix needs unit stride along its rows (a and b: or columns), "
                     "and rows that do not overlap")


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, beta: float = 0.0) -> np.ndarray:
    """out = a @ b + beta · out: by ``gemm_into`` with MKL (numpy's matmul multiplies with
    OpenBLAS), else numpy's matmul."""
    if library() == "mkl" and out.dtype in _routines():
        try:
            gemm_into(out, a, b, beta)
            return out
        except ValueError:
            pass
    if beta == 0:
        return np.matmul(a, b, out=out)
    if beta != 1:
        out *= beta
    out += a @ b
    return out
