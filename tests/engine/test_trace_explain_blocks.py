"""Activations, residual and branch blocks explained cell by cell, against the engine's traced pass."""

from __future__ import annotations

import numpy as np
import pytest

from convviz.engine import Network
from convviz.engine.explain_blocks import (
    explain_activation_output,
    explain_block_input_grad,
    explain_block_output,
)
from convviz.model import (
    ELU,
    FC,
    Branch,
    Conv,
    Flatten,
    LeakyReLU,
    NetworkSpec,
    ReLU,
    Residual,
    Sigmoid,
    Softmax,
    Tanh,
    Volume,
)


def traced(layers, seed=0):
    volume = Volume(6, 6, 3)
    net = Network(NetworkSpec(volume, layers + [Flatten(), FC(units=4), Softmax()]), dtype=np.float64, seed=seed)
    x = np.random.default_rng(seed).normal(size=(1, *volume.chw()))
    trace = net.trace_forward(x)
    net.trace_backward(trace, np.random.default_rng(seed + 1).normal(size=trace.scores.shape))
    return net, trace


@pytest.mark.parametrize("activation", [ReLU(), LeakyReLU(slope=0.1), ELU(alpha=0.5), Tanh(), Sigmoid()])
def test_every_activation_cell_is_its_formula_with_the_numbers(activation):
    net, trace = traced([Conv(filters=2, size=3, pad=1), activation])
    name = next(n for n, r in trace.layers.items() if r.type == activation.TYPE)
    x = trace[name].input[0]
    negative = tuple(int(i) for i in np.argwhere(x < 0)[0])
    positive = tuple(int(i) for i in np.argwhere(x > 0)[0])
    for cell in (negative, positive):
        e = explain_activation_output(net, trace, name, 0, cell)
        assert e.matches and e.result == pytest.approx(trace[name].output[(0, *cell)], abs=1e-12)
        shown = -e.x if activation.TYPE == "sigmoid" else e.x  # 1/(1 + e^−x) is written with −x's number
        assert e.x == x[cell]
        assert f"{shown:+.6g}" in e.working or (e.x > 0 and e.working == "x itself, as x > 0")
    if activation.TYPE in ("relu", "leaky_relu", "elu"):
        assert not explain_activation_output(net, trace, name, 0, positive).changed
        assert explain_activation_output(net, trace, name, 0, negative).changed


def test_a_residual_cell_is_body_plus_shortcut_and_its_gradient_goes_into_both():
    net, trace = traced([Residual(body=[Conv(filters=3, size=3, pad=1), ReLU()])])
    e = explain_block_output(net, trace, "res1", 0, (1, 2, 3))
    body, shortcut = e.paths
    assert shortcut.layer == "" and shortcut.value == trace["res1"].input[0, 1, 2, 3]  # the identity
    assert body.value == trace[body.layer].output[0, 1, 2, 3]
    assert e.matches and e.result == pytest.approx(trace["res1"].output[0, 1, 2, 3], abs=1e-12)
    g = explain_block_input_grad(net, trace, "res1", 0, (1, 2, 3))
    assert g.upstream == trace["res1"].upstream[0, 1, 2, 3]
    assert trace[body.layer].upstream[0, 1, 2, 3] == g.upstream  # copied into the body's last layer unchanged
    assert g.paths[1].value == g.upstream  # and passed by the identity
    assert g.matches and g.result == pytest.approx(trace["res1"].downstream[0, 1, 2, 3], abs=1e-12)


def test_a_branch_cell_is_one_branchs_slice_and_its_gradient_is_sliced_back():
    net, trace = traced([Branch(branches=[[Conv(filters=2, size=1)], [], [Conv(filters=4, size=3, pad=1)]])])
    name = next(n for n, r in trace.layers.items() if r.type == "branch")
    e = explain_block_output(net, trace, name, 0, (6, 1, 1))  # depths 2 + 3 + 4: depth 6 is branch 3's depth 1
    assert e.depths == (2, 3, 4) and e.paths[0].name == "branch 3" and e.paths[0].cell == (1, 1, 1)
    assert e.matches and e.result == trace[name].output[0, 6, 1, 1]
    e = explain_block_output(net, trace, name, 0, (3, 0, 0))  # the empty branch passes the input's depth 1
    assert e.paths[0].layer == "" and e.result == trace[name].input[0, 1, 0, 0]
    g = explain_block_input_grad(net, trace, name, 0, (1, 2, 2))
    assert [p.name for p in g.paths] == ["branch 1", "branch 2", "branch 3"]
    assert g.paths[1].value == trace[name].upstream[0, 2 + 1, 2, 2]  # the empty branch's slice of dY
    assert g.matches and g.result == pytest.approx(trace[name].downstream[0, 1, 2, 2], abs=1e-12)


def test_a_layer_of_another_type_is_refused():
    net, trace = traced([Conv(filters=2, size=3, pad=1), ReLU()])
    with pytest.raises(ValueError, match="not a residual or branch block"):
        explain_block_output(net, trace, "conv1", 0, (0, 0, 0))


def test_an_fc_input_gradient_is_dy_back_through_a_column_of_w():
    from convviz.engine.explain_fc import explain_fc_input_grad
    from convviz.engine.explain_step import ledger_terms

    net, trace = traced([Conv(filters=2, size=3, pad=1), ReLU()])  # then Flatten, FC(4): 72 inputs
    fc = next(n for n, r in trace.layers.items() if r.type == "fc")
    e = explain_fc_input_grad(net, trace, fc, 0, (37,))
    record = trace[fc]
    assert e.matches and e.total == pytest.approx(record.downstream[0, 37], abs=1e-12)
    assert [t.right[1] for t in ledger_terms(net, e)] == [(o, 37) for o in range(4)]
    assert np.allclose(e.products, record.upstream[0] * record.params["weight"][:, 37])
    assert e.weight_grads_match and np.allclose(e.weight_grads, record.param_grads["weight"][:, 37])
    with pytest.raises(ValueError, match=r"i must be an integer in \[0, 72\), got i=72"):
        explain_fc_input_grad(net, trace, fc, 0, (72,))


def test_lrn_and_dropout_cells_are_explained_and_the_network_is_left_as_it_was():
    from convviz.engine.explain_norm import (
        dropout_mask,
        explain_dropout,
        explain_lrn_output,
    )
    from convviz.model import LRN, Dropout

    net, trace = traced([Conv(filters=5, size=3, pad=1), ReLU(), LRN(size=3, alpha=0.2, beta=0.75, k=2.0), Dropout(p=0.25)])
    e = explain_lrn_output(net, trace, "lrn1", 0, (4, 1, 2))
    a = trace["lrn1"].input[0]
    assert e.slices == [3, 4] and e.s == pytest.approx(2.0 + 0.2 / 3 * (a[3, 1, 2] ** 2 + a[4, 1, 2] ** 2), rel=1e-12)
    assert e.matches and e.result == pytest.approx(trace["lrn1"].output[0, 4, 1, 2], rel=1e-12)
    before = net.trace_forward(trace.input).scores
    mask, y = dropout_mask(net, trace, "dropout1")
    np.testing.assert_array_equal(net.trace_forward(trace.input).scores, before)  # the generator is restored
    x = trace["dropout1"].input[0]
    np.testing.assert_allclose(y[x != 0], (x * mask / 0.75)[x != 0], rtol=1e-12)
    cell = tuple(int(i) for i in np.argwhere(x > 0)[0])
    d = explain_dropout(net, trace, "dropout1", 0, cell, (mask, y))
    assert d.eval_output == d.x and d.scale == pytest.approx(4 / 3) and d.kept == bool(mask[cell])
    with pytest.raises(ValueError, match="this explanation is for LRN"):
        explain_lrn_output(net, trace, "relu1", 0, (0, 0, 0))
