"""The stride-1 implicit-product convolution (kernels.implicit) agrees with the naive loops.

With BLAS's accumulating GEMM (kernels.gemm, numpy's OpenBLAS) conv2d_forward routes every
stride-1, undilated call through it; with numpy's products only (``numpy_products``: another BLAS)
calls with C ≥ 8 input channels and planes ≥ 12 wide (dw: every stride-1 call with K < 2C). The
cases below are built to take that route either way, and the implicit functions are also called
directly on sizes under those thresholds.
"""

import numpy as np
import pytest

from convviz.engine import kernels
from convviz.engine.kernels import conv, gemm, implicit, naive
from convviz.engine.kernels.layout import batch_last
from convviz.model.geometry import window2d
from tests.engine.test_kernels_gradcheck import numerical_gradient, rel_error

# (N, C, H, W, K, Fh, Fw, pad)
ROUTED = {
    "3x3 pad 1, odd plane": (2, 8, 13, 12, 9, 3, 3, 1),
    "5x5 pad 2 (ConvNetJS-like)": (3, 9, 12, 14, 8, 5, 5, 2),
    "asymmetric pad, 3x2 filters": (2, 8, 12, 13, 8, 3, 2, ((0, 2), (1, 0))),
    "pad wider than the window (dx crops dout)": (1, 8, 12, 12, 8, 3, 3, ((4, 0), (0, 5))),
    "1x1 filters": (2, 10, 12, 12, 8, 1, 1, 0),
    "batch 1, no padding": (1, 8, 14, 14, 9, 3, 3, 0),
    "5x5 on an 8-wide plane (ConvNetJS conv3)": (2, 8, 8, 8, 8, 5, 5, 2),
}


@pytest.fixture(params=["MKL", "OpenBLAS", "numpy products"])
def products(request, monkeypatch):
    """Run a test with each of the implicit forward's product paths: BLAS's accumulating GEMM from
    MKL (where the optional package is installed) or OpenBLAS, and numpy's products."""
    if request.param == "numpy products":
        monkeypatch.setattr(gemm, "available", lambda dtype: False)
    else:
        with_library(request.param.lower(), request)
    return request.param


def with_library(name: str, request) -> None:
    """Multiply with ``name`` ("mkl" or "openblas") for the rest of the test, or skip if it is absent."""
    gemm.use("openblas" if name == "openblas" else None)
    request.addfinalizer(lambda: gemm.use(None))
    if gemm.library() != name:
        pytest.skip(f"{name} is not installed (pip install 'convviz[mkl]')")


@pytest.fixture
def openblas(request):
    """Multiply with OpenBLAS even where MKL is installed."""
    with_library("openblas", request)


@pytest.fixture
def numpy_products(monkeypatch):
    """As with a BLAS that kernels.gemm cannot reach: numpy's products and their routing."""
    monkeypatch.setattr(gemm, "available", lambda dtype: False)


def make(case, dtype, seed=0):
    N, C, H, W, K, Fh, Fw, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, Fh, Fw)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    geo = window2d(H, W, Fh, Fw, 1, pad, 1, what="filter")
    dout = rng.standard_normal((N, K, geo.out_h, geo.out_w)).astype(dtype)
    return x, w, b, dout, pad


@pytest.mark.parametrize("case", ROUTED.values(), ids=ROUTED.keys())
def test_routed_calls_take_the_implicit_path_and_match_naive_in_float64(case, products):
    x, w, b, dout, pad = make(case, np.float64)
    out, cache = kernels.conv2d_forward(x, w, b, pad=pad)
    assert cache.rows_first and implicit.forward_pays(x.shape[1], w.shape[0], out.shape[3], w.shape[3])
    dx, dw, db = kernels.conv2d_backward(dout, cache)
    want_out, want_cache = naive.conv2d_forward(x, w, b, pad=pad)
    want = (want_out, *naive.conv2d_backward(dout, want_cache))
    for what, got, expected in zip(("out", "dx", "dw", "db"), (out, dx, dw, db), want):
        assert got.shape == expected.shape, what
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-11, err_msg=what)


@pytest.mark.parametrize("case", [(2, 3, 7, 9, 4, 3, 3, 1), (1, 2, 5, 6, 3, 2, 3, ((0, 1), (2, 0))), (2, 1, 4, 4, 2, 1, 1, 0)])
def test_implicit_functions_match_naive_below_the_routing_thresholds(case, products):
    x, w, b, dout, pad = make(case, np.float64)
    geo = window2d(*x.shape[2:], *w.shape[2:], 1, pad, 1, what="filter")
    xh = implicit.rows_first(x.transpose(1, 2, 3, 0), geo.pad)
    out = implicit.implicit_correlate(xh, w, b).transpose(3, 0, 1, 2)
    dw = implicit.implicit_filter_grad(xh, batch_last(dout), w.shape[2:])
    dx = conv.implicit_input_grad(batch_last(dout), w, geo).transpose(3, 0, 1, 2)
    want_out, cache = naive.conv2d_forward(x, w, b, pad=pad)
    want_dx, want_dw, _ = naive.conv2d_backward(dout, cache)
    np.testing.assert_allclose(out, want_out, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-10, atol=1e-11)


def test_small_channel_counts_keep_im2col_but_share_the_rows_first_cache(numpy_products):
    """With numpy's products and C = 3 (an image): the forward runs im2col from a view of the
    rows-first buffer, dw the implicit products; both agree with the naive loops."""
    x, w, b, dout, pad = make((2, 3, 12, 12, 8, 3, 3, 1), np.float64)
    out, cache = kernels.conv2d_forward(x, w, b, pad=pad)
    assert cache.rows_first and not implicit.forward_pays(3, 8, 12, 3) and implicit.filter_grad_pays(3, 8)
    _, dw, _ = kernels.conv2d_backward(dout, cache, input_grad=False)
    want_out, want_cache = naive.conv2d_forward(x, w, b, pad=pad)
    np.testing.assert_allclose(out, want_out, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(dw, naive.conv2d_backward(dout, want_cache)[1], rtol=1e-10, atol=1e-11)


def test_twice_as_many_filters_as_channels_reads_im2col_from_the_rows_first_cache(numpy_products):
    """With numpy's products and K ≥ 2C: forward and dw by im2col from a view of the rows-first
    buffer, dx by implicit products."""
    x, w, b, dout, pad = make((2, 8, 12, 13, 16, 3, 3, ((1, 0), (2, 1))), np.float64)
    out, cache = kernels.conv2d_forward(x, w, b, pad=pad)
    assert cache.rows_first and not implicit.forward_pays(8, 16, 12, 3) and not implicit.filter_grad_pays(8, 16)
    assert implicit.input_grad_pays(8, 16, 13, 3)
    dx, dw, db = kernels.conv2d_backward(dout, cache)
    want_out, want_cache = naive.conv2d_forward(x, w, b, pad=pad)
    for got, want in zip((out, dx, dw, db), (want_out, *naive.conv2d_backward(dout, want_cache))):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-11)


def test_float32_error_is_that_of_a_float32_sum(products):
    """In float32 the implicit path is as close to the float64 result as im2col's one GEMM."""
    x, w, b, dout, pad = make((4, 16, 16, 16, 16, 3, 3, 1), np.float32)
    out, cache = kernels.conv2d_forward(x, w, b, pad=pad)
    dx, dw, _ = kernels.conv2d_backward(dout, cache)
    exact = kernels.conv2d_forward(*(a.astype(np.float64) for a in (x, w, b)), pad=pad)
    exact_grads = kernels.conv2d_backward(dout.astype(np.float64), exact[1])
    direct_cache = conv.ConvCache(batch_last(x, cache.geo.pad), w, True, cache.geo)
    direct_dw = conv.filter_grad(direct_cache.xp, batch_last(dout), cache.geo).reshape(w.shape)
    for got, want in ((out, exact[0]), (dx, exact_grads[0]), (dw, exact_grads[1])):
        assert got.dtype == np.float32
        assert np.max(np.abs(got - want)) / np.max(np.abs(want)) < 2e-6
    direct_err = np.max(np.abs(direct_dw - exact_grads[1])) / np.max(np.abs(exact_grads[1]))
    implicit_err = np.max(np.abs(dw - exact_grads[1])) / np.max(np.abs(exact_grads[1]))
    assert implicit_err < 4 * direct_err + 1e-7


def test_gradients_of_the_routed_path_pass_a_float64_gradient_check(products):
    x, w, b, _, pad = make((1, 8, 12, 12, 8, 3, 3, 1), np.float64)
    out, cache = kernels.conv2d_forward(x, w, b, pad=pad)
    assert cache.rows_first and implicit.forward_pays(8, 8, 12, 3)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    dx, dw, db = kernels.conv2d_backward(dout, cache)

    def f():
        return kernels.conv2d_forward(x, w, b, pad=pad)[0]

    # every weight and bias, and one input channel's worth of x (the whole x takes long)
    assert rel_error(dw, numerical_gradient(f, w, dout)) < 1e-7
    assert rel_error(db, numerical_gradient(f, b, dout)) < 1e-7
    x_slice = x[:, :1]  # a view: f sees the nudges
    assert rel_error(dx[:, :1], numerical_gradient(f, x_slice, dout)) < 1e-7


@pytest.mark.parametrize("max_inner, parts_bytes", [(7, 1), (12, 10_000), (10_000, 1 << 20)])
def test_dw_summed_in_pieces_is_the_whole_sum(monkeypatch, max_inner, parts_bytes, products):
    """dw's products cover at most MAX_INNER (j, n) positions at a time (an uneven last piece too),
    and (numpy's products) blocks of output rows whose partial products fit PARTS_BYTES (one row;
    2 of 6; all)."""
    monkeypatch.setattr(implicit, "MAX_INNER", max_inner)
    monkeypatch.setattr(implicit, "PARTS_BYTES", parts_bytes)
    x, w, b, dout, pad = make((3, 8, 6, 7, 4, 3, 3, 1), np.float64)
    geo = window2d(*x.shape[2:], 3, 3, 1, pad, 1, what="filter")
    xh = implicit.rows_first(x.transpose(1, 2, 3, 0), geo.pad)
    dw = implicit.implicit_filter_grad(xh, batch_last(dout), (3, 3))
    _, cache = naive.conv2d_forward(x, w, b, pad=pad)
    np.testing.assert_allclose(dw, naive.conv2d_backward(dout, cache)[1], rtol=1e-10, atol=1e-11)


@pytest.mark.skipif(not gemm.available(np.float32), reason="numpy's BLAS has no cblas gemm that kernels.gemm reaches")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [(2, 8, 13, 12, 9, 3, 3), (3, 3, 7, 9, 4, 5, 5), (1, 5, 4, 6, 2, 1, 1), (2, 4, 6, 5, 3, 2, 3)])
def test_accumulated_products_equal_the_shifted_adds(case, dtype):
    """BLAS adding each filter column's product into the output gives the Z + shifted-adds result
    (the same terms in the same order: equal to float rounding)."""
    N, C, H, W, K, Fh, Fw = case
    rng = np.random.default_rng(3)
    xh = implicit.rows_first(rng.standard_normal((C, H, W, N)).astype(dtype), ((1, 0), (Fw // 2, 1)))
    w = rng.standard_normal((K, C, Fh, Fw)).astype(dtype)
    got, want = implicit.accumulated_correlate(xh, w), implicit.shifted_correlate(xh, w)
    assert got.shape == want.shape == (K, xh.shape[0] - Fh + 1, xh.shape[2] - Fw + 1, N)
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.skipif(not gemm.available(np.float32), reason="numpy's BLAS has no cblas gemm that kernels.gemm reaches")
def test_with_the_accumulating_gemm_an_image_and_8_wide_planes_take_the_implicit_forward(monkeypatch):
    """C = 3 and an 8-wide plane of 3×3 filters (numpy's products: im2col) run implicit products,
    forward and dx, and agree with the naive loops (however small the products)."""
    for case in [(2, 3, 12, 12, 8, 3, 3, 1), (2, 16, 8, 8, 32, 3, 3, 1)]:
        x, w, b, dout, pad = make(case, np.float64)
        out, cache = kernels.conv2d_forward(x, w, b, pad=pad)
        C, K = x.shape[1], w.shape[0]
        assert implicit.forward_pays(C, K, out.shape[3], 3) and implicit.input_grad_pays(C, K, x.shape[3], 3)
        dx, dw, db = kernels.conv2d_backward(dout, cache)
        want_out, want_cache = naive.conv2d_forward(x, w, b, pad=pad)
        for got, want in zip((out, dx, dw, db), (want_out, *naive.conv2d_backward(dout, want_cache))):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-11)
    # an image's 3 channels under 32 filters: dx keeps the scatter (implicit measured 0.8x)
    assert not implicit.input_grad_pays(3, 32, 32, 3)


@pytest.mark.skipif(not gemm.available(np.float32), reason="numpy's BLAS has no cblas gemm that kernels.gemm reaches")
def test_small_products_take_the_accumulating_gemm_too(monkeypatch):
    """ConvNetJS's first layer and a 2-image batch of 12×12 planes: BLAS adds every product (no
    GIL is shared with the batch's other part, which runs in a helper process)."""
    calls = []
    forward, filter_grad = implicit.accumulated_correlate, implicit.accumulated_filter_grad
    monkeypatch.setattr(implicit, "accumulated_correlate", lambda *a: calls.append("forward") or forward(*a))
    monkeypatch.setattr(implicit, "accumulated_filter_grad", lambda *a: calls.append("dw") or filter_grad(*a))
    x, w, b, dout, pad = make((2, 8, 12, 12, 8, 3, 3, 1), np.float32)
    out, cache = kernels.conv2d_forward(x, w, b, pad=pad)
    kernels.conv2d_backward(dout, cache)
    assert calls == ["forward", "dw", "forward"]  # dx is the forward of the flipped filters
    assert implicit.forward_pays(3, 16, 32, 5) and implicit.forward_pays(16, 16, 32, 3)
    assert implicit.input_grad_pays(16, 16, 32, 3)


def test_a_layers_output_does_not_depend_on_the_batch_size():
    """The same images give the same float32 numbers in a batch of 3 and of 67 (the paths do not
    change with the batch size)."""
    x, w, b, _, pad = make((67, 16, 32, 32, 16, 3, 3, 1), np.float32)
    whole = kernels.conv2d_forward(x, w, b, pad=pad)[0]
    np.testing.assert_array_equal(kernels.conv2d_forward(x[:3], w, b, pad=pad)[0], whole[:3])


def test_products_just_over_blass_small_size_are_cut_in_two_with_the_same_numbers(monkeypatch, openblas):
    """16 × 48 × 2,048 multiply-adds (a 16-channel 3×3 layer at batch 64) run as two halves, each
    within OpenBLAS's small-matrix size; smaller and much bigger products run whole; the output is
    the uncut one bit for bit."""
    assert implicit.small_pieces(16, 48, 2048) == [(0, 1024), (1024, 1024)]
    assert implicit.small_pieces(16, 48, 2047) == [(0, 1024), (1024, 1023)]
    assert implicit.small_pieces(16, 48, 1024) == [(0, 1024)]
    assert implicit.small_pieces(32, 96, 2048) == [(0, 2048)]
    if not gemm.available(np.float32):
        pytest.skip("numpy's BLAS has no cblas gemm that kernels.gemm reaches")
    x, w, b, dout, pad = make((56, 16, 24, 24, 16, 3, 3, 1), np.float32)  # 16 × 48 × (24 · 56) = 1.03 M
    assert len(implicit.small_pieces(16, 48, 24 * 56)) == 2
    xh = implicit.rows_first(x.transpose(1, 2, 3, 0), ((1, 1), (1, 1)))
    cut = implicit.accumulated_correlate(xh, w)
    monkeypatch.setattr(implicit, "SMALL_PIECES", 1)
    np.testing.assert_array_equal(implicit.accumulated_correlate(xh, w), cut)
    np.testing.assert_allclose(cut, implicit.shifted_correlate(xh, w), rtol=1e-4, atol=1e-4)


def test_mkl_multiplies_whole_products_with_the_numbers_of_openblas_to_rounding(request):
    """With MKL installed the products go to MKL, uncut, and agree with OpenBLAS's to float32
    rounding (and both with the naive loops in float64: the ROUTED cases under ``products``)."""
    with_library("mkl", request)
    assert implicit.small_pieces(16, 48, 2048) == [(0, 2048)]
    x, w, b, dout, pad = make((8, 16, 12, 12, 16, 3, 3, 1), np.float32)
    out, cache = kernels.conv2d_forward(x, w, b, pad=pad)
    grads = kernels.conv2d_backward(dout, cache)
    gemm.use("openblas")
    assert gemm.library() == "openblas"
    want_out, want_cache = kernels.conv2d_forward(x, w, b, pad=pad)
    for got, want in zip((out, *grads), (want_out, *kernels.conv2d_backward(dout, want_cache))):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_mkls_batched_forward_is_the_row_by_row_forward_bit_for_bit(request, monkeypatch):
    """Planes of BATCH_ROWS or more output rows take one MKL batch call per filter column: the
    numbers are those of one call per row and column."""
    with_library("mkl", request)
    x, w, _, _, pad = make((4, 8, 16, 12, 8, 3, 3, 1), np.float32)
    xh = implicit.rows_first(x.transpose(1, 2, 3, 0), ((1, 1), (1, 1)))
    assert xh.shape[0] - 2 >= implicit.BATCH_ROWS and gemm.batch_routine(np.float32) is not None
    batched = implicit.accumulated_correlate(xh, w)
    monkeypatch.setattr(implicit, "BATCH_ROWS", 10**9)
    np.testing.assert_array_equal(implicit.accumulated_correlate(xh, w), batched)
    np.testing.assert_allclose(batched, implicit.shifted_correlate(xh, w), rtol=1e-5, atol=1e-5)
