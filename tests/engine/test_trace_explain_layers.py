"""Pooling, the conv input gradient by scatter, FC units, batch norm, softmax and the loss, ledgers and
the gradient check: each explained number beside the engine's own."""

import numpy as np
import pytest

from convviz.engine import (
    Network,
    explain_conv_input_grad,
    explain_conv_output,
    explain_conv_weight_grad,
)
from convviz.engine.explain_layers import (
    conv_input_grad_scatter,
    explain_batchnorm_output,
    explain_conv_input_grad_scatter,
    explain_fc_output,
    explain_softmax_loss,
)
from convviz.engine.explain_pool import (
    avg_pool_sharing,
    explain_pool_output,
    max_pool_routing,
)
from convviz.engine.explain_step import gradient_check, ledger_terms, trace_step
from convviz.engine.loss import softmax_cross_entropy
from convviz.model import (
    FC,
    AvgPool,
    BatchNorm,
    Conv,
    Flatten,
    MaxPool,
    NetworkSpec,
    ReLU,
    Volume,
)


def traced(spec, dtype=np.float64, n=2, seed=0):
    net = Network(spec, dtype=dtype)
    rng = np.random.default_rng(seed)
    for name, p in net.params().items():
        if name.endswith("bias"):
            p[...] = rng.standard_normal(p.shape)
    x = rng.standard_normal((n,) + spec.input.chw())
    trace = net.trace_forward(x)
    net.trace_backward(trace, rng.standard_normal(trace.scores.shape))
    return net, trace


POOLS = {
    "2x2 cropping": MaxPool(2, policy="crop"),
    "3x3 stride 2 overlapping": MaxPool(3, stride=2),
    "3x3 stride 2 padded": MaxPool(3, stride=2, pad=1),
}


@pytest.mark.parametrize("pool", POOLS.values(), ids=POOLS.keys())
def test_max_pool_routing_sends_each_gradient_to_the_forward_winner(pool):
    spec = NetworkSpec(Volume(7, 7, 2), [Conv(3, 3, pad=1), pool, Flatten(), FC(3)])
    net, trace = traced(spec)
    out = trace["maxpool1"].output
    routes = [max_pool_routing(net, trace, "maxpool1", n) for n in range(2)]
    for index in np.ndindex(out.shape):
        e = explain_pool_output(net, trace, "maxpool1", *index)
        assert e.matches and e.result == out[index], e.text
        assert e.result == trace["maxpool1"].input[index[0], index[1]][e.winner_cell]
        assert tuple(routes[index[0]].winners[index[1:]]) == e.winner_cell  # one rule for ties, both ways
    for n, route in enumerate(routes):
        assert route.matches, route.text
        np.testing.assert_array_equal(route.routed, trace["maxpool1"].downstream[n])


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order():
    spec = NetworkSpec(Volume(4, 4, 1), [MaxPool(2)])
    net = Network(spec, dtype=np.float64)
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0:2, 0:2] = [[1, 5], [5, 5]]  # three equal maxima: (0, 1) wins
    x[0, 0, 2:4, 2:4] = -1.0
    x[0, 0, 3, 2] = 0.5
    trace = net.trace_forward(x)
    net.trace_backward(trace, np.arange(1.0, 5.0).reshape(1, 1, 2, 2))
    e = explain_pool_output(net, trace, "maxpool1", 0, 0, 0, 0)
    assert e.winner == (0, 1) and e.winner_cell == (0, 1) and e.ties == 3 and "first in row-major" in e.text
    zeros = explain_pool_output(net, trace, "maxpool1", 0, 0, 0, 1)  # a window of four equal zeros
    assert zeros.winner_cell == (0, 2) and zeros.ties == 4
    route = max_pool_routing(net, trace, "maxpool1", 0)
    assert route.matches
    assert route.routed[0, 0, 1] == 1.0 and route.routed[0, 1, 0] == route.routed[0, 1, 1] == 0.0
    assert route.routed[0, 3, 2] == 4.0 and route.winners[0, 1, 1].tolist() == [3, 2]


def test_average_pool_is_the_window_mean_with_padding_counted():
    spec = NetworkSpec(Volume(5, 5, 1), [AvgPool(3, stride=2, pad=1)])
    net = Network(spec, dtype=np.float64)
    x = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    trace = net.trace_forward(x)
    e = explain_pool_output(net, trace, "avgpool1", 0, 0, 0, 0)
    assert e.kind == "avg" and e.winner is None and e.padding[0].all() and e.padding[:, 0].all()
    assert e.result == pytest.approx((0 + 1 + 5 + 6) / 9) and e.matches
    with pytest.raises(ValueError, match="average pool: its gradient is shared"):
        net.trace_backward(trace, np.ones_like(trace.scores))
        max_pool_routing(net, trace, "avgpool1")


CONVS = {
    "3x3 P1": Conv(3, 3, pad=1),
    "stride 2, dilation 2, crop": Conv(2, 3, stride=2, pad=2, dilation=2, policy="crop"),
    "per-axis, pad-to-fit": Conv(2, (3, 2), stride=(2, 3), pad=(1, 0), policy="pad"),
}


@pytest.mark.parametrize("conv", CONVS.values(), ids=CONVS.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_input_gradient_gather_equals_scatter_equals_the_engines_dx(conv, dtype):
    spec = NetworkSpec(Volume(7, 8, 2), [conv, ReLU(), Flatten(), FC(3)])
    net, trace = traced(spec, dtype=dtype)
    dx = trace["conv1"].downstream
    for n in range(2):
        s = conv_input_grad_scatter(net, trace, "conv1", n)
        assert s.matches, s.text
        np.testing.assert_allclose(s.scatter, s.gather, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 1e-13)
    for index in np.ndindex(dx.shape):
        cell = explain_conv_input_grad_scatter(net, trace, "conv1", *index)
        gather = explain_conv_input_grad(net, trace, "conv1", *index)
        assert cell.matches and gather.matches, cell.text
        assert sum(t.product for t in ledger_terms(net, cell)) == pytest.approx(gather.total, rel=1e-5, abs=1e-6)
    if dtype == np.float64:
        s = conv_input_grad_scatter(net, trace, "conv1", 0)
        np.testing.assert_allclose(s.scatter, dx[0], rtol=1e-12, atol=1e-14)


def test_a_scatter_cell_lists_the_stamps_that_reach_it():
    spec = NetworkSpec(Volume(5, 5, 1), [Conv(1, 3, stride=2)])
    net = Network(spec, dtype=np.float64)
    w = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    net.params()["conv1.weight"][...] = w
    trace = net.trace_forward(np.zeros((1, 1, 5, 5)))
    net.trace_backward(trace, np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]))
    e = explain_conv_input_grad_scatter(net, trace, "conv1", 0, 0, 2, 2)  # all four windows share it
    assert e.sources.tolist() == [[0, 0, 0, 2, 2], [0, 0, 1, 2, 0], [0, 1, 0, 0, 2], [0, 1, 1, 0, 0]]
    assert e.total == e.engine == 1 * 9 + 10 * 7 + 100 * 3 + 1000 * 1
    lonely = explain_conv_input_grad_scatter(net, trace, "conv1", 0, 0, 0, 1)
    assert lonely.sources.tolist() == [[0, 0, 0, 0, 1]] and lonely.total == 2.0


def test_ledgers_add_up_to_the_engines_numbers():
    spec = NetworkSpec(Volume(7, 7, 2), [Conv(3, 3, stride=2, pad=1), ReLU(), Flatten(), FC(3)])
    net, trace = traced(spec)
    out = explain_conv_output(net, trace, "conv1", 1, 2, 0, 2)
    terms = ledger_terms(net, out)
    assert len(terms) == 2 * 3 * 3
    assert sum(t.product for t in terms) + out.bias == pytest.approx(out.engine, rel=1e-13)
    padded = [t for t in terms if t.padding]
    assert padded and all(t.left[2] == 0.0 and t.product == 0.0 for t in padded)
    assert {t.left[1][1] for t in padded} == {-1}  # the top row of the window is padding
    wg = explain_conv_weight_grad(net, trace, "conv1", 1, 0, 2, 2)
    assert sum(t.product for t in ledger_terms(net, wg)) == pytest.approx(trace["conv1"].param_grads["weight"][1, 0, 2, 2])
    terms = ledger_terms(net, wg)
    assert len(terms) == 2 * 4 * 4  # N × Ho × Wo positions
    assert terms[5].left[1] == (0, 0, 1 * 2 + 2 - 1, 1 * 2 + 2 - 1)  # position (1, 1), tap (2, 2) reads input (3, 3)
    assert terms[5].left[2] == trace["conv1"].input[0, 0, 3, 3]
    assert [t.left[1][3] for t in terms[:4]] == [1, 3, 5, 7] and terms[3].padding  # column 7 is padding
    g = explain_conv_input_grad(net, trace, "conv1", 0, 1, 3, 4)
    assert sum(t.product for t in ledger_terms(net, g)) == pytest.approx(trace["conv1"].downstream[0, 1, 3, 4])


def test_softmax_and_the_loss_start_the_backward_pass():
    scores = np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0]])
    labels = np.array([0, 1])
    loss, dscores = softmax_cross_entropy(scores, labels)
    e = explain_softmax_loss(scores[1], 1, batch=2, engine_gradient=dscores[1])
    assert e.probabilities.sum() == pytest.approx(1.0) and e.matches
    p = np.exp(scores[1]) / np.exp(scores[1]).sum()
    assert e.loss == pytest.approx(-np.log(p[1]))
    np.testing.assert_allclose(e.gradient, (p - [0, 1, 0]) / 2)
    first = explain_softmax_loss(scores[0], 0, batch=2)
    assert (first.loss + e.loss) / 2 == pytest.approx(loss)
    with pytest.raises(ValueError, match=r"label must be an integer in \[0, 3\), got label=3"):
        explain_softmax_loss(scores[0], 3)


def test_pool_explanations_check_their_layer():
    spec = NetworkSpec(Volume(4, 4, 1), [Conv(1, 3, pad=1), MaxPool(2)])
    net = Network(spec, dtype=np.float64)
    trace = net.trace_forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="conv1 is a conv.* layer: these explanations are for pooling layers"):
        explain_pool_output(net, trace, "conv1", 0, 0, 0, 0)
    with pytest.raises(ValueError, match="this trace has no backward pass"):
        max_pool_routing(net, trace, "maxpool1")


def test_an_fc_unit_is_the_dot_product_of_the_flattened_input_with_its_row_of_weights():
    spec = NetworkSpec(Volume(5, 5, 2), [Conv(3, 3, pad=1), ReLU(), Flatten(), FC(4), ReLU(), FC(3)])
    net, trace = traced(spec)
    for n, o in np.ndindex(2, 4):
        e = explain_fc_output(net, trace, "fc1", n, o)
        assert e.matches and e.inputs.size == 75, e.text
        np.testing.assert_array_equal(e.inputs, trace["conv1"].output[n].ravel() * (trace["conv1"].output[n].ravel() > 0))
        terms = ledger_terms(net, e)
        assert terms[3].right[1] == (o, 3) and sum(t.product for t in terms) + e.bias == pytest.approx(e.engine, rel=1e-12)
    with pytest.raises(ValueError, match="relu2 is a relu layer: this explanation is for FC layers"):
        explain_fc_output(net, trace, "relu2", 0, 0)


def test_a_gradient_checked_by_centred_differences():
    spec = NetworkSpec(Volume(6, 6, 2), [Conv(3, 3, pad=1), ReLU(), MaxPool(2), Flatten(), FC(4)])
    net = Network(spec, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6))
    trace, _, _ = trace_step(net, x, [2])
    weights = net.get_weights()
    unit = int(np.flatnonzero(trace["fc1"].input[0])[0])  # an FC input the ReLU let through
    for what, index in (("conv1.weight", (1, 0, 2, 1)), ("conv1.bias", (2,)), ("fc1.weight", (3, unit)), ("input", (0, 1, 3, 4))):
        check = gradient_check(net, trace, [2], what, index)
        assert check.rel_error < 1e-7 and abs(check.analytic) > 1e-6, check.text
    assert all(np.array_equal(weights[k], v) for k, v in net.get_weights().items())  # nothing changed
    with pytest.raises(KeyError, match="no parameter named 'conv9.weight'"):
        gradient_check(net, trace, [2], "conv9.weight", (0, 0, 0, 0))


def test_average_pool_backward_shares_each_gradient_over_its_window():
    spec = NetworkSpec(Volume(7, 7, 2), [Conv(2, 3, pad=1), AvgPool(3, stride=2, pad=1), Flatten(), FC(3)])
    net, trace = traced(spec)
    for n in range(2):
        s = avg_pool_sharing(net, trace, "avgpool1", n)
        assert s.matches, s.text
        np.testing.assert_allclose(s.shared, trace["avgpool1"].downstream[n], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(s.share, trace["avgpool1"].upstream[n] / 9)


def test_batch_norm_in_evaluation_uses_the_running_statistics():
    spec = NetworkSpec(Volume(5, 5, 2), [Conv(3, 3, pad=1), BatchNorm(), ReLU(), Flatten(), FC(3)])
    net = Network(spec, dtype=np.float64)
    rng = np.random.default_rng(3)
    net.buffers()["bn1.running_mean"][...] = rng.standard_normal(3)
    net.buffers()["bn1.running_var"][...] = rng.uniform(0.5, 2, 3)
    net.params()["bn1.weight"][...] = rng.uniform(0.5, 2, 3)
    net.params()["bn1.bias"][...] = rng.standard_normal(3)
    trace, _, _ = trace_step(net, rng.standard_normal((1, 2, 5, 5)), [1])
    for index in np.ndindex(trace["bn1"].output.shape[1:]):
        e = explain_batchnorm_output(net, trace, "bn1", 0, *index)
        assert e.matches, e.text
    e = explain_batchnorm_output(net, trace, "bn1", 0, 2, 1, 3)
    assert e.mean == net.buffers()["bn1.running_mean"][2] and e.gamma == net.params()["bn1.weight"][2]
    with pytest.raises(ValueError, match="batch norm is explained for evaluation-mode traces"):
        explain_batchnorm_output(net, net.trace_forward(trace.input, train=True), "bn1", 0, 0, 0, 0)
