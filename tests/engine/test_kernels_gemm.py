"""kernels.gemm: BLAS's accumulating product on strided row-major views agrees with numpy's."""

import numpy as np
import pytest

from convviz.engine.kernels import gemm

pytestmark = pytest.mark.skipif(
    not gemm.available(np.float32), reason="numpy's BLAS has no cblas gemm that kernels.gemm reaches"
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_product_into_a_strided_view_overwrites_then_accumulates(dtype):
    rng = np.random.default_rng(0)
    big_a = rng.standard_normal((7, 20)).astype(dtype)
    big_b = rng.standard_normal((30, 9)).astype(dtype)
    a, b = big_a[1:6, 3:14], big_b[2:24:2, 1:8]  # (5, 11) and (11, 7), rows strided
    c_memory = np.full((5, 12), 99.0, dtype)
    c = c_memory[:, 2:9]
    gemm.gemm_into(c, a, b)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5)
    gemm.gemm_into(c, a, b, beta=1.0)
    np.testing.assert_allclose(c, 2 * (a @ b), rtol=1e-5)
    assert np.all(c_memory[:, :2] == 99.0) and np.all(c_memory[:, 9:] == 99.0)  # outside c untouched


def test_empty_inner_dimension_scales_c_by_beta():
    c = np.ones((2, 3), np.float32)
    gemm.gemm_into(c, np.zeros((2, 0), np.float32), np.zeros((0, 3), np.float32), beta=1.0)
    assert np.all(c == 1.0)
    gemm.gemm_into(c, np.zeros((2, 0), np.float32), np.zeros((0, 3), np.float32))
    assert np.all(c == 0.0)


@pytest.mark.parametrize(
    "c, a, b, message",
    [
        (np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32), np.zeros((5, 3), np.float32), "shapes"),
        (np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float64), np.zeros((4, 3), np.float32), "dtypes"),
        (np.zeros((3, 2), np.float32).T, np.zeros((2, 4), np.float32), np.zeros((4, 3), np.float32), "unit stride"),
    ],
)
def test_unsuitable_arrays_are_refused_with_a_reason(c, a, b, message):
    with pytest.raises(ValueError, match=message):
        gemm.gemm_into(c, a, b)


@pytest.mark.parametrize("library", ["mkl", "openblas"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposed_views_are_read_transposed_and_matmul_accumulates(library, dtype):
    """a and b may be transposed views (unit stride down their columns), as im2col's products pass
    them; ``matmul`` with beta adds like numpy, with either library."""
    gemm.use(None if library == "mkl" else "openblas")
    try:
        if gemm.library() != library:
            pytest.skip(f"{library} is not installed (pip install 'convviz[mkl]')")
        rng = np.random.default_rng(1)
        a = rng.standard_normal((9, 5)).astype(dtype).T  # (5, 9), a transposed view
        b = rng.standard_normal((4, 9)).astype(dtype).T[:, 1:]  # (9, 3)
        c = np.zeros((5, 3), dtype)
        gemm.gemm_into(c, a, b)
        np.testing.assert_allclose(c, a @ b, rtol=1e-5)
        out = np.ones((5, 3), dtype)
        gemm.matmul(a, b, out=out, beta=1.0)
        np.testing.assert_allclose(out, 1 + a @ b, rtol=1e-5)
        gemm.matmul(a, b, out=out)
        np.testing.assert_allclose(out, a @ b, rtol=1e-5)
    finally:
        gemm.use(None)


def test_convviz_gemm_openblas_keeps_openblas(monkeypatch):
    """CONVVIZ_GEMM=openblas: numpy's OpenBLAS multiplies even where MKL is installed."""
    monkeypatch.setenv(gemm.LIBRARY_ENV, "openblas")
    gemm.use("openblas")
    try:
        assert gemm.library() == "openblas"
    finally:
        gemm.use(None)
