"""Softmax cross-entropy, the optimizers (PyTorch's update rules), their saved state, schedules, clipping."""

import io
import math

import numpy as np
import pytest

from convviz.engine import Network, softmax, softmax_cross_entropy
from convviz.engine.optim import SGD, Adam, CosineLR, StepLR, clip_grad_norm
from convviz.model import FC, BatchNorm, Conv, Flatten, NetworkSpec, Volume

# -- loss --------------------------------------------------------------------------------------------------


def test_softmax_cross_entropy_value_and_gradient():
    scores = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    loss, d = softmax_cross_entropy(scores, np.array([2, 0]))
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-(np.log(p[0, 2]) + np.log(p[1, 0])) / 2)
    np.testing.assert_allclose(d, (p - np.eye(3)[[2, 0]]) / 2)


def test_softmax_cross_entropy_is_stable_for_huge_scores():
    scores = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
    loss, d = softmax_cross_entropy(scores, np.array([1]))
    assert loss == pytest.approx(1e4) and np.isfinite(d).all() and d.dtype == np.float32
    np.testing.assert_allclose(softmax(scores), [[1, 0, 0]])


def test_softmax_cross_entropy_on_score_maps():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((2, 4, 3, 5)), rng.integers(0, 4, (2, 3, 5))
    loss, d = softmax_cross_entropy(scores, y)
    rows = scores.transpose(0, 2, 3, 1).reshape(-1, 4)
    flat_loss, flat_d = softmax_cross_entropy(rows, y.reshape(-1))
    assert loss == pytest.approx(flat_loss)
    np.testing.assert_allclose(d.transpose(0, 2, 3, 1).reshape(-1, 4), flat_d)


@pytest.mark.parametrize("scores, y, message", [
    (np.zeros((2, 3)), np.array([0, 3]), r"labels must lie in \[0, 3\) for 3 classes, got values from 0 to 3"),
    (np.zeros((2, 3)), np.array([0]), r"labels y must have shape \(2,\) to match scores \(2, 3\), got \(1,\)"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), "labels y must be integers, got dtype float64"),
    (np.zeros(3), np.array([0]), r"scores must be a float array \(N, K\) of logits"),
])
def test_softmax_cross_entropy_errors(scores, y, message):
    with pytest.raises(ValueError, match=message):
        softmax_cross_entropy(scores, y)


# -- optimizers --------------------------------------------------------------------------------------------


def params_and_grads(seed=0):
    rng = np.random.default_rng(seed)
    params = {"conv1.weight": rng.standard_normal((2, 1, 3, 3)), "conv1.bias": rng.standard_normal(2),
              "bn1.weight": rng.standard_normal(2), "bn1.bias": rng.standard_normal(2)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(3)]
    return params, grads


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_pytorchs_rule(nesterov):
    params, grads = params_and_grads()
    reference = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    opt = SGD(params, lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    for g in grads:
        opt.step(g)
        for k in reference:
            grad = g[k] + (0.01 * reference[k] if k == "conv1.weight" else 0)
            velocity[k] = 0.9 * velocity[k] + grad
            reference[k] -= 0.1 * (grad + 0.9 * velocity[k] if nesterov else velocity[k])
    for k in params:
        np.testing.assert_allclose(params[k], reference[k], rtol=1e-12, err_msg=k)


def test_plain_sgd_keeps_no_state():
    params, grads = params_and_grads()
    start = params["conv1.bias"].copy()
    opt = SGD(params, lr=0.5)
    opt.step(grads[0])
    np.testing.assert_allclose(params["conv1.bias"], start - 0.5 * grads[0]["conv1.bias"])
    assert opt.state_dict() == {"lr": 0.5, "weight_decay": 0.0, "steps": 1, "momentum": 0.0}


def test_adam_matches_the_paper_with_l2():
    params, grads = params_and_grads()
    reference = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    opt = Adam(params, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    for t, g in enumerate(grads, start=1):
        opt.step(g)
        for k in reference:
            grad = g[k] + (0.1 * reference[k] if k == "conv1.weight" else 0)
            m[k] = 0.8 * m[k] + 0.2 * grad
            v[k] = 0.99 * v[k] + 0.01 * grad**2
            mhat, vhat = m[k] / (1 - 0.8**t), v[k] / (1 - 0.99**t)
            reference[k] -= 0.01 * mhat / (np.sqrt(vhat) + 1e-6)
    for k in params:
        np.testing.assert_allclose(params[k], reference[k], rtol=1e-10, err_msg=k)


def test_weight_decay_spares_biases_and_batch_norm():
    net = Network(NetworkSpec(Volume(4, 4, 1), [Conv(2, 3), BatchNorm(), Flatten(), FC(2)]), dtype=np.float64)
    before = net.get_weights()
    opt = SGD(net.params(), lr=0.1, weight_decay=0.5)
    opt.step({k: np.zeros_like(g) for k, g in net.grads().items()})
    changed = {k for k, p in net.params().items() if not np.array_equal(p, before[k])}
    assert changed == {"conv1.weight", "fc1.weight"}
    np.testing.assert_allclose(net.params()["fc1.weight"], before["fc1.weight"] * (1 - 0.1 * 0.5))


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: Adam(p, lr=0.01, weight_decay=1e-3),
], ids=["sgd", "adam"])
def test_state_dict_survives_an_npz_without_pickle(make):
    params, grads = params_and_grads()
    twin = {k: v.copy() for k, v in params.items()}
    opt = make(params)
    opt.step(grads[0])
    opt.lr = 0.05
    buffer = io.BytesIO()
    np.savez(buffer, **opt.state_dict())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        state = dict(saved)
    # a resumed optimizer on a copy of the parameters takes exactly the same next step
    for k in twin:
        twin[k][...] = params[k]
    resumed = make(twin)
    resumed.load_state_dict(state)
    assert resumed.lr == 0.05 and resumed.steps == 1
    opt.step(grads[1])
    resumed.step(grads[1])
    for k in params:
        np.testing.assert_array_equal(twin[k], params[k])


def test_load_state_dict_errors_change_nothing():
    params, grads = params_and_grads()
    opt = SGD(params, lr=0.1, momentum=0.9)
    opt.step(grads[0])
    state = opt.state_dict()
    state["velocity.conv1.bias"] = np.zeros(3)
    del state["steps"]
    state["velocity.fc9.weight"] = np.zeros(1)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=r"cannot load the SGD state: missing steps; unknown velocity\.fc9\.weight; "
                                         r"velocity\.conv1\.bias has shape \(3,\), expected \(2,\)"):
        opt.load_state_dict(state)
    after = opt.state_dict()
    assert after.keys() == before.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])


def test_step_checks_the_gradients():
    params, grads = params_and_grads()
    opt = SGD(params, lr=0.1)
    del grads[0]["bn1.bias"]
    with pytest.raises(ValueError, match=r"gradients do not match the parameters: missing \['bn1\.bias'\]"):
        opt.step(grads[0])


@pytest.mark.parametrize("make, message", [
    (lambda p: SGD(p, lr=-1), "lr must be a number ≥ 0, got lr=-1"),
    (lambda p: SGD(p, lr=0.1, momentum=1.5), "momentum must be a number ≥ 0 and ≤ 1, got momentum=1.5"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda p: Adam(p, lr=0.1, betas=(0.9, 1.0)), r"betas\[1\] must be a number ≥ 0 and < 1, got betas\[1\]=1.0"),
    (lambda p: SGD({}, lr=0.1), "the optimizer got no parameters"),
])
def test_optimizer_arguments_are_checked(make, message):
    params, _ = params_and_grads()
    with pytest.raises(ValueError, match=message):
        make(params)


def test_an_optimizer_trains_a_network_in_float32():
    net = Network(NetworkSpec(Volume(4, 4, 1), [Flatten(), FC(3)]))
    x = np.random.default_rng(0).standard_normal((6, 1, 4, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    opt = Adam(net.params(), lr=0.05)
    first = softmax_cross_entropy(net.forward(x), y)[0]
    for _ in range(30):
        _, d = softmax_cross_entropy(net.forward(x), y)
        net.backward(d)
        opt.step(net.grads())
    assert softmax_cross_entropy(net.forward(x), y)[0] < first / 4
    assert all(p.dtype == np.float32 for p in net.params().values())


# -- schedules and clipping --------------------------------------------------------------------------------------


def test_step_lr():
    s = StepLR(0.1, step_size=10, gamma=0.5)
    assert [s.lr_at(t) for t in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]
    with pytest.raises(ValueError, match="step_size must be a positive integer, got step_size=0"):
        StepLR(0.1, 0)


def test_cosine_lr():
    s = CosineLR(0.1, total_steps=100, min_lr=0.01)
    assert s.lr_at(0) == pytest.approx(0.1)
    assert s.lr_at(50) == pytest.approx(0.055)
    assert s.lr_at(100) == s.lr_at(500) == pytest.approx(0.01)
    assert s.lr_at(25) == pytest.approx(0.01 + 0.09 * (1 + math.cos(math.pi / 4)) / 2)
    with pytest.raises(ValueError, match="min_lr must not exceed base_lr"):
        CosineLR(0.1, 10, min_lr=0.2)


def test_clip_grad_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert clip_grad_norm(grads, 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # under the limit: unchanged
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)
    total = math.sqrt(sum(float((g**2).sum()) for g in grads.values()))
    assert total == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="max_norm must be a number > 0, got max_norm=0"):
        clip_grad_norm(grads, 0)
