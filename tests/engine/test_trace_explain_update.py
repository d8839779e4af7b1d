"""One weight's update explained term by term for every optimizer, equal to the engine optimizer's step."""

from __future__ import annotations

import numpy as np
import pytest

from convviz.engine.explain_update import explain_update
from convviz.engine.optim import SGD, Adam


def parameters(seed=0):
    rng = np.random.default_rng(seed)
    params = {"conv1.weight": rng.normal(size=(3, 2, 3, 3)), "conv1.bias": rng.normal(size=3)}
    grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
    return params, grads


@pytest.mark.parametrize(("make", "method", "last"), [
    (lambda p: SGD(p, lr=0.1), "SGD", "step = lr·g   (lr = 0.1)"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4), "SGD with momentum 0.9", "step = lr·v   (lr = 0.1)"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True), "Nesterov momentum 0.9", "step = lr·(g + μ·v)   (lr = 0.1)"),
    (lambda p: Adam(p, lr=1e-3, weight_decay=1e-4), "Adam", "step = lr·m̂/(√v̂ + ε)   (lr = 0.001, ε = 1e-08)"),
])
def test_the_update_of_one_weight_is_the_engine_optimizers_step(make, method, last):
    params, grads = parameters()
    opt = make(params)
    opt.step(grads)  # a second step: the velocity or the moments are not zero any more
    before = {k: v.copy() for k, v in params.items()}
    e = explain_update(opt, grads, "conv1.weight", (1, 0, 2, 1))
    assert e.method == method and e.step_number == 2 and e.rows[-2][0] == last
    assert e.matches and e.result == pytest.approx(e.engine, rel=1e-13)
    for k in params:  # the optimizer given is left as it was
        np.testing.assert_array_equal(opt.params[k], before[k])
    trial = make({k: v.copy() for k, v in before.items()})
    trial.load_state_dict(opt.state_dict())
    trial.step(grads)
    assert e.engine == trial.params["conv1.weight"][1, 0, 2, 1]
    delta = trial.params["conv1.weight"] - before["conv1.weight"]
    assert e.ratio == pytest.approx(np.linalg.norm(delta) / np.linalg.norm(before["conv1.weight"]))


def test_weight_decay_is_left_out_of_a_bias():
    params, grads = parameters()
    e = explain_update(SGD(params, lr=0.1, weight_decay=0.01), grads, "conv1.bias", (2,))
    assert e.rows[2] == ("g = dW (no weight decay on this parameter)", grads["conv1.bias"][2])
    assert e.result == pytest.approx(params["conv1.bias"][2] - 0.1 * grads["conv1.bias"][2])


def test_a_wrong_name_or_index_is_refused():
    params, grads = parameters()
    with pytest.raises(KeyError, match="no parameter named 'fc1.weight'"):
        explain_update(SGD(params, lr=0.1), grads, "fc1.weight", (0, 0))
    with pytest.raises(ValueError, match=r"index \(3,\) is outside its shape \(3,\)"):
        explain_update(SGD(params, lr=0.1), grads, "conv1.bias", (3,))
