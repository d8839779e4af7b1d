"""Fast convolution and locally connected kernels agree with the naive loops, and refuse bad calls."""

import numpy as np
import pytest

from convviz.engine import kernels
from convviz.engine.kernels import naive

# (N, C, H, W, K, Fh, Fw, stride, pad, dilation)
CASES = {
    "odd sizes, stride 1, pad 1": (2, 3, 7, 9, 4, 3, 3, 1, 1, 1),
    "P=0, stride 2": (2, 1, 9, 9, 3, 3, 3, 2, 0, 1),
    "uneven stride (crop), asymmetric pad": (3, 2, 9, 8, 5, 3, 2, (2, 3), ((0, 1), (2, 0)), 1),
    "dilation 2, asymmetric pad": (2, 3, 11, 10, 4, 3, 3, 1, ((0, 2), (1, 0)), 2),
    "dilation and stride": (2, 2, 10, 11, 3, 3, 2, 2, 1, (2, 1)),
    "1x1 filters, stride 2": (2, 3, 7, 6, 5, 1, 1, 2, 0, 1),
    "batch 1, C=1, 5x5": (1, 1, 8, 7, 2, 5, 5, 1, 2, 1),
    "pad wider than the window": (2, 2, 5, 5, 2, 3, 3, 1, ((4, 0), (0, 5)), 1),
    "policy pad: extra zero row and column": (2, 3, 10, 10, 2, 3, 3, 2, ((0, 1), (0, 1)), 1),
}


def make(case, dtype, local=False, bias=True, seed=0):
    N, C, H, W, K, Fh, Fw, stride, pad, dilation = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    out, _ = naive.conv2d_forward(x, np.zeros((K, C, Fh, Fw)), None, stride, pad, dilation)
    Ho, Wo = out.shape[2:]
    w = rng.standard_normal((Ho, Wo, K, C, Fh, Fw) if local else (K, C, Fh, Fw))
    b = rng.standard_normal((Ho, Wo, K) if local else K) if bias else None
    dout = rng.standard_normal(out.shape)
    cast = (lambda a: None if a is None else a.astype(dtype))
    return cast(x), cast(w), cast(b), cast(dout), dict(stride=stride, pad=pad, dilation=dilation)


def run(module, name, x, w, b, dout, args, **backward):
    out, cache = getattr(module, f"{name}_forward")(x, w, b, **args)
    return (out, *getattr(module, f"{name}_backward")(dout, cache, **backward))


@pytest.mark.parametrize("name", ["conv2d", "local2d"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fast_matches_naive_in_float64(name, case):
    x, w, b, dout, args = make(case, np.float64, local=name == "local2d")
    fast = run(kernels, name, x, w, b, dout, args)
    slow = run(naive, name, x, w, b, dout, args)
    for what, got, want in zip(("out", "dx", "dw", "db"), fast, slow):
        assert got.shape == want.shape, what
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("name", ["conv2d", "local2d"])
@pytest.mark.parametrize("case", [CASES["odd sizes, stride 1, pad 1"], CASES["uneven stride (crop), asymmetric pad"]])
def test_float32_stays_float32_and_close_to_float64(name, case):
    x, w, b, dout, args = make(case, np.float32, local=name == "local2d")
    fast = run(kernels, name, x, w, b, dout, args)
    slow = run(naive, name, *(a.astype(np.float64) for a in (x, w, b, dout)), args)
    for what, got, want in zip(("out", "dx", "dw", "db"), fast, slow):
        assert got.dtype == np.float32, what
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=what)


@pytest.mark.parametrize("name", ["conv2d", "local2d"])
def test_without_bias_db_is_none_and_input_grad_can_be_skipped(name):
    x, w, _, dout, args = make(CASES["dilation and stride"], np.float64, local=name == "local2d", bias=False)
    out, dx, dw, db = run(kernels, name, x, w, None, dout, args)
    want = run(naive, name, x, w, None, dout, args)
    np.testing.assert_allclose(out, want[0], rtol=1e-10, atol=1e-12)
    assert db is None and want[3] is None
    _, no_dx, dw_again, _ = run(kernels, name, x, w, None, dout, args, input_grad=False)
    assert no_dx is None
    np.testing.assert_array_equal(dw_again, dw)


@pytest.mark.parametrize("path", ["input_grad_stride1", "input_grad_scatter"])
def test_both_input_gradient_paths_match_naive_for_stride_1(path):
    """conv2d_backward picks the scatter for few input channels (2C ≤ K), the gather otherwise."""
    from convviz.engine.kernels import conv
    from convviz.engine.kernels.layout import batch_last

    x, w, b, dout, args = make((2, 3, 9, 8, 8, 3, 3, 1, ((1, 2), (0, 1)), (2, 1)), np.float64)
    _, cache = kernels.conv2d_forward(x, w, b, **args)
    dx = getattr(conv, path)(batch_last(dout), w, cache.geo).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(dx, run(naive, "conv2d", x, w, b, dout, args)[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run(kernels, "conv2d", x, w, b, dout, args)[1], dx, rtol=1e-10, atol=1e-12)


def test_crop_gives_the_dropped_rows_zero_gradient():
    # 10 rows, F=3, S=2, P=0: (10 − 3)/2 + 1 = 4.5 → 4 windows reach rows 0..8; row 9 is dropped
    x, w, b, dout, args = make((1, 2, 10, 10, 3, 3, 3, 2, 0, 1), np.float64)
    out, dx, _, _ = run(kernels, "conv2d", x, w, b, dout, args)
    assert out.shape == (1, 3, 4, 4)
    assert np.all(dx[:, :, 9, :] == 0) and np.all(dx[:, :, :, 9] == 0)
    assert np.any(dx[:, :, 8, :] != 0)


def test_conv_is_a_cross_correlation_with_the_documented_indexing():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 1] = 1.0  # picks xpad[i·S + 0, j·S + 1]
    out, _ = kernels.conv2d_forward(x, w, np.array([0.5]), stride=2, pad=0)
    np.testing.assert_array_equal(out[0, 0], [[1.5, 3.5], [9.5, 11.5]])


def test_results_are_nchw_views_of_batch_last_memory_and_the_next_layer_accepts_any_order():
    x, w, b, _, args = make(CASES["odd sizes, stride 1, pad 1"], np.float32)
    out, _ = kernels.conv2d_forward(x, w, b, **args)
    assert out.transpose(1, 2, 3, 0).flags.c_contiguous
    w2 = np.random.default_rng(3).standard_normal((2, 4, 3, 3)).astype(np.float32)
    after_view, _ = kernels.conv2d_forward(out, w2, None, pad=1)
    after_copy, _ = kernels.conv2d_forward(np.ascontiguousarray(out), w2, None, pad=1)
    np.testing.assert_array_equal(after_view, after_copy)


ERRORS = [
    (dict(x=np.zeros((3, 8, 8))), r"x must be 4-D \(N, C, H, W\), got shape \(3, 8, 8\)"),
    (dict(w=np.zeros((4, 2, 3, 3))), r"x has C=3 channels but w expects C=2 \(w.shape=\(4, 2, 3, 3\)\)"),
    (dict(w=np.zeros((4, 3, 3))), r"w must be 4-D \(K, C, Fh, Fw\), got shape \(4, 3, 3\)"),
    (dict(w=np.zeros((4, 3, 11, 3))), r"the filter \(11\) is larger than the padded input along H: 8 \+ 1 \+ 1 = 10"),
    (
        dict(w=np.zeros((4, 3, 3, 3)), dilation=5, pad=0),
        r"the filter \(d·\(F − 1\) \+ 1 = 5·\(3 − 1\) \+ 1 = 11\) is larger than the padded input along H: 8 \+ 0 \+ 0 = 8",
    ),
    (dict(b=np.zeros(5)), r"b must have shape \(4,\) to match K=4 filters, got \(5,\)"),
    (dict(x=np.zeros((2, 3, 8, 8), np.float32)), r"w.dtype float64 does not match x.dtype float32"),
    (dict(x=np.zeros((2, 3, 8, 8), np.int64)), r"x must be float32 or float64, got int64"),
    (dict(stride=0), r"stride must be positive integers, got stride=0"),
    (dict(stride=(1, 2, 3)), r"stride must be an integer or a pair of integers, got stride=\(1, 2, 3\)"),
    (dict(pad=-1), r"pad must be ≥ 0, got pad=-1"),
    (dict(pad=((1, 2, 3), 0)), r"pad must be an integer, \(rows, cols\) or \(\(top, bottom\), \(left, right\)\)"),
    (dict(x=[[1.0]]), r"x must be a numpy array, got list"),
]


@pytest.mark.parametrize("module", [kernels, naive], ids=["fast", "naive"])
@pytest.mark.parametrize("change, message", ERRORS)
def test_impossible_conv_calls_say_what_is_wrong(module, change, message):
    args = dict(x=np.zeros((2, 3, 8, 8)), w=np.zeros((4, 3, 3, 3)), b=np.zeros(4), stride=1, pad=1, dilation=1)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        module.conv2d_forward(**args)


def test_backward_refuses_a_dout_of_the_wrong_shape():
    _, cache = kernels.conv2d_forward(np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3)), None, pad=1)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 8, 8\) like the forward output, got \(2, 4, 8, 7\)"):
        kernels.conv2d_backward(np.zeros((2, 4, 8, 7)), cache)


def test_local_weights_must_match_the_output_positions():
    with pytest.raises(ValueError, match=r"w is for a 5×5 output but this input, stride, pad and dilation give 8×8"):
        kernels.local2d_forward(np.zeros((1, 3, 8, 8)), np.zeros((5, 5, 2, 3, 3, 3)), None, pad=1)
    with pytest.raises(ValueError, match=r"b must have shape \(8, 8, 2\) to match w.shape=\(8, 8, 2, 3, 3, 3\), got \(8, 8, 3\)"):
        kernels.local2d_forward(np.zeros((1, 3, 8, 8)), np.zeros((8, 8, 2, 3, 3, 3)), np.zeros((8, 8, 3)), pad=1)
