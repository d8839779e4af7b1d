"""Traced passes and the explanations of single conv numbers that the step-through view shows."""

import numpy as np
import pytest

from convviz.engine import Network, explain_conv_input_grad, explain_conv_output, explain_conv_weight_grad
from convviz.model import BatchNorm, Conv, Dropout, Flatten, FC, MaxPool, NetworkSpec, ReLU, Residual, Volume, preset


def traced(spec, dtype=np.float64, train=False, n=2, seed=0):
    net = Network(spec, dtype=dtype)
    rng = np.random.default_rng(seed)
    for name, p in net.params().items():
        if name.endswith("bias"):
            p[...] = rng.standard_normal(p.shape)
    x = rng.standard_normal((n,) + spec.input.chw())
    trace = net.trace_forward(x, train=train)
    dscores = rng.standard_normal(trace.scores.shape)
    net.trace_backward(trace, dscores)
    return net, trace


RESNET_BLOCK = NetworkSpec(Volume(6, 6, 2), [
    Conv(3, 3, pad=1), BatchNorm(), ReLU(),
    Residual(body=[Conv(3, 3, pad=1), ReLU()], shortcut=[Conv(3, 1)]),
    MaxPool(2), Flatten(), Dropout(0.5), FC(4),
])


def test_trace_keeps_every_layer_in_forward_order():
    net, trace = traced(RESNET_BLOCK, train=True)
    assert list(trace.layers) == [
        "conv1", "bn1", "relu1", "res1", "res1.body.conv1", "res1.body.relu1", "res1.shortcut.conv1",
        "maxpool1", "flatten1", "dropout1", "fc1",
    ]
    top = ["conv1", "bn1", "relu1", "res1", "maxpool1", "flatten1", "dropout1", "fc1"]
    for a, b in zip(top, top[1:]):
        np.testing.assert_array_equal(trace[a].output, trace[b].input)  # a layer's output feeds the next
        np.testing.assert_array_equal(trace[b].downstream, trace[a].upstream)  # and its gradient flows back
    np.testing.assert_array_equal(trace["res1"].input, trace["res1.body.conv1"].input)
    body, short = trace["res1.body.relu1"].output, trace["res1.shortcut.conv1"].output
    np.testing.assert_allclose(trace["res1"].output, body + short)
    np.testing.assert_allclose(trace["res1"].upstream, trace["res1.body.relu1"].upstream)
    assert trace["conv1"].type == "conv" and trace["res1"].type == "residual"
    assert trace["fc1"].output.shape == (2, 4) and trace["flatten1"].output.shape == (2, 27)


def test_trace_backward_gives_the_networks_gradients_and_leaves_the_network_alone():
    net = Network(RESNET_BLOCK, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((3, 2, 6, 6))
    d = np.random.default_rng(1).standard_normal((3, 4))
    state, weights = net.get_rng_state(), net.get_weights()
    net.forward(x, train=True)
    net.backward(d)
    expected = {k: g.copy() for k, g in net.grads().items()}
    net.set_rng_state(state)
    net.set_weights(weights)  # the running statistics too
    for g in net.grads().values():
        g[...] = 7.0
    trace = net.trace_forward(x, train=True)
    net.trace_backward(trace, d)
    for name, g in expected.items():
        layer, kind = name.rsplit(".", 1)
        np.testing.assert_allclose(trace[layer].param_grads[kind], g, rtol=1e-12, err_msg=name)
    assert all((g == 7.0).all() for g in net.grads().values())  # the network's own gradients untouched
    assert net.get_rng_state() == state  # the same dropout draws are still to come
    np.testing.assert_array_equal(net.buffers()["bn1.running_mean"], weights["bn1.running_mean"])
    assert trace.input_grad.shape == x.shape and trace.has_backward


def test_trace_backward_after_other_passes_repeats_the_traced_forward():
    net = Network(RESNET_BLOCK, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((3, 2, 6, 6))
    d = np.random.default_rng(1).standard_normal((3, 4))
    first = net.trace_forward(x, train=True)
    net.trace_backward(first, d)
    second = net.trace_forward(x, train=True)
    net.forward(x * 2, train=True)  # the trainer ran meanwhile
    net.trace_backward(second, d)
    np.testing.assert_allclose(second["conv1"].param_grads["weight"], first["conv1"].param_grads["weight"], rtol=1e-12)


CONV_CASES = {
    "3x3 P1": Conv(3, 3, pad=1),
    "stride 2, crop, dilation 2": Conv(2, 3, stride=2, pad=2, dilation=2, policy="crop"),
    "per-axis, pad-to-fit": Conv(2, (3, 2), stride=(2, 3), pad=(1, 0), policy="pad"),
}


@pytest.mark.parametrize("conv", CONV_CASES.values(), ids=CONV_CASES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_number_of_a_conv_layer_explained(conv, dtype):
    spec = NetworkSpec(Volume(7, 8, 2), [conv, ReLU(), Flatten(), FC(3)])
    net, trace = traced(spec, dtype=dtype)
    out = trace["conv1"].output
    N, K, Ho, Wo = out.shape
    for index in np.ndindex(out.shape):
        e = explain_conv_output(net, trace, "conv1", *index)
        assert e.matches, e.text
    _, C, H, W = trace["conv1"].input.shape
    for index in np.ndindex(N, C, H, W):
        e = explain_conv_input_grad(net, trace, "conv1", *index)
        assert e.matches, e.text
    for index in np.ndindex(trace["conv1"].params["weight"].shape):
        e = explain_conv_weight_grad(net, trace, "conv1", *index)
        assert e.matches, e.text


def test_output_explanation_shows_the_window_with_padding():
    spec = NetworkSpec(Volume(5, 5, 1), [Conv(1, 3, stride=2, pad=1, bias=True)])
    net = Network(spec, dtype=np.float64)
    net.params()["conv1.weight"][...] = np.arange(9).reshape(1, 1, 3, 3)
    net.params()["conv1.bias"][...] = 0.5
    x = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    trace = net.trace_forward(x)
    e = explain_conv_output(net, trace, "conv1", n=0, d=0, y=0, x=2)
    assert e.rows.tolist() == [-1, 0, 1] and e.cols.tolist() == [3, 4, 5]
    assert e.padding.tolist() == [[True, True, True], [False, False, True], [False, False, True]]
    np.testing.assert_array_equal(e.window[0], [[0, 0, 0], [3, 4, 0], [8, 9, 0]])
    assert e.total == 3 * 3 + 4 * 4 + 8 * 6 + 9 * 7 and e.bias == 0.5
    assert e.result == e.engine == e.total + 0.5  # exact in float64
    assert "V[x=2, y=0, d=0]" in e.text and "(equal)" in e.text


def test_input_grad_explanation_is_a_convolution_with_flipped_filters():
    spec = NetworkSpec(Volume(5, 5, 1), [Conv(1, 3, stride=2)])
    net = Network(spec, dtype=np.float64)
    w = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    net.params()["conv1.weight"][...] = w
    trace = net.trace_forward(np.zeros((1, 1, 5, 5)))
    net.trace_backward(trace, np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]))
    e = explain_conv_input_grad(net, trace, "conv1", n=0, c=0, i=2, j=2)  # the pixel all four windows share
    np.testing.assert_array_equal(e.flipped[0], w[0, 0, ::-1, ::-1])
    assert e.real.tolist() == [[True, False, True], [False, False, False], [True, False, True]]
    assert e.source_rows.tolist() == [0, -1, 1] and e.source_cols.tolist() == [0, -1, 1]
    assert e.total == e.engine == 1 * 9 + 10 * 7 + 100 * 3 + 1000 * 1
    assert e.upstream_map.shape == (1, 7, 7)  # spread by the stride (3×3) and padded by F − 1 = 2


def test_weight_grad_explanation_sums_over_every_position():
    spec = NetworkSpec(Volume(4, 4, 1), [Conv(1, 3, pad=1)])
    net = Network(spec, dtype=np.float64)
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    trace = net.trace_forward(x)
    net.trace_backward(trace, np.ones((1, 1, 4, 4)))
    e = explain_conv_weight_grad(net, trace, "conv1", k=0, c=0, p=0, q=0)  # the top-left tap
    assert e.padding[0].all() and e.padding[:, 0].all() and not e.padding[1:, 1:].any()
    assert e.total == e.engine == x[0, 0, :3, :3].sum()
    assert e.upstream.shape == e.inputs.shape == (1, 4, 4)


def test_explanations_check_their_arguments():
    spec = NetworkSpec(Volume(4, 4, 1), [Conv(2, 3), ReLU(), Flatten(), FC(2)])
    net = Network(spec, dtype=np.float64)
    trace = net.trace_forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="relu1 is a relu layer: these explanations are for Conv layers"):
        explain_conv_output(net, trace, "relu1", 0, 0, 0, 0)
    with pytest.raises(ValueError, match=r"conv1: y must be an integer in \[0, 2\), got y=2"):
        explain_conv_output(net, trace, "conv1", 0, 0, 2, 0)
    with pytest.raises(ValueError, match=r"this trace has no backward pass: run net.trace_backward\(trace, dscores\) first"):
        explain_conv_input_grad(net, trace, "conv1", 0, 0, 0, 0)
    with pytest.raises(KeyError, match="no layer named 'conv9'"):
        explain_conv_output(net, trace, "conv9", 0, 0, 0, 0)


def test_a_float32_preset_explained():
    net = Network(preset("convnetjs"))
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    trace = net.trace_forward(x)
    net.trace_backward(trace, np.ones((1, 10), np.float32))
    e = explain_conv_output(net, trace, "conv2", 0, 5, 0, 15)
    assert e.matches and e.window.shape == e.filter.shape == (16, 5, 5) and e.padding[:2].all()
    assert explain_conv_input_grad(net, trace, "conv3", 0, 4, 3, 3).matches
    assert explain_conv_weight_grad(net, trace, "conv1", 2, 1, 4, 0).matches
