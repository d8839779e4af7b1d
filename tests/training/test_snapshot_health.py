"""What a snapshot adds for the health strip and the gradient toggle: activation statistics, dead
ReLUs, and dL/d activation for the probe images on request (checked against a finite difference)."""

from __future__ import annotations

import numpy as np
import pytest

from convviz.engine import Network
from convviz.model import preset
from convviz.training.snapshot import dead_share, probe_loss_gradient, take_snapshot


def test_dead_share_counts_units_zero_on_every_probe():
    act = np.zeros((3, 2, 2, 2), np.float32)
    act[0, 0, 0, 0] = 1.0  # alive on one probe only: alive
    act[:, 1] = 2.0  # the second slice alive everywhere
    assert dead_share(act) == pytest.approx(3 / 8)
    assert dead_share(np.ones((2, 5))) == 0.0


def test_probe_loss_gradient_is_p_minus_onehot():
    scores = np.array([[0.0, 0.0], [2.0, 0.0]], np.float32)
    grad = probe_loss_gradient(scores, np.array([1, 0]))
    assert grad == pytest.approx(np.array([[0.5, -0.5], [np.exp(2) / (1 + np.exp(2)) - 1, 1 / (1 + np.exp(2))]]), abs=1e-6)


def test_snapshot_statistics_and_no_gradients_by_default(spec, small_data):
    net = Network(spec, seed=0)
    shot = take_snapshot(net, small_data, "test", np.arange(4), step=0, epoch=1)
    assert not shot.has_activation_grads
    for layer in shot.layers:
        assert layer.activation_mean == pytest.approx(float(np.mean(layer.activation)), rel=1e-5, abs=1e-7)
        assert layer.activation_std == pytest.approx(float(np.std(layer.activation)), rel=1e-5, abs=1e-7)
        assert layer.activation_grad is None
        if layer.type == "relu":
            assert 0.0 <= layer.dead_share <= 1.0
            assert layer.dead_share == pytest.approx(float(np.mean(np.all(layer.activation <= 0, axis=0))))
        else:
            assert layer.dead_share is None


def test_gradients_on_request_match_a_finite_difference_and_leave_the_network(spec, small_data):
    net = Network(spec, seed=0, dtype=np.float64)
    weights = net.get_weights()
    grads = {k: g.copy() for k, g in net.grads().items()}
    shot = take_snapshot(net, small_data, "test", np.arange(3), step=0, epoch=1, gradients=True)
    assert shot.has_activation_grads
    assert all(np.array_equal(weights[k], v) for k, v in net.get_weights().items())
    assert all(np.array_equal(grads[k], g) for k, g in net.grads().items())
    for layer in shot.layers:
        assert layer.activation_grad.shape == (layer.activation.shape if layer.type != "softmax"
                                               else shot.probe_scores.shape)
        assert not layer.activation_grad.flags.writeable
    # dL/d scores: p − onehot, one row per probe
    soft = shot.layer("softmax1")
    onehot = np.eye(10)[shot.probe_labels]
    assert soft.activation_grad == pytest.approx(soft.activation - onehot, abs=1e-9)
    # the input image's loss through the first conv's output: nudge one activation of conv1 in the
    # next layer's input and the loss moves by the gradient (ReLU then pool: a cell that is alive)
    conv1 = shot.layer("conv1")
    assert np.abs(conv1.activation_grad).sum() > 0
    x, y = small_data.batch("test", np.arange(3))

    def loss_of(probe: int) -> float:
        scores = net.forward(x, train=False)
        p = np.exp(scores - scores.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return float(-np.log(p[probe, y[probe]]))

    # d loss_0 / d conv1.bias[k] = Σ_(h,w) dL/d conv1[0, k, h, w]
    eps = 1e-5
    bias = net.params()["conv1.bias"]
    bias[2] += eps
    up = loss_of(0)
    bias[2] -= 2 * eps
    down = loss_of(0)
    bias[2] += eps
    assert (up - down) / (2 * eps) == pytest.approx(conv1.activation_grad[0, 2].sum(), rel=1e-5)


def test_gradients_through_batch_norm_and_residual_blocks(small_data):
    net = Network(preset("resnet20"), seed=0)  # batch norm in evaluation mode, residual blocks
    shot = take_snapshot(net, small_data, "test", np.arange(2), step=0, epoch=1, gradients=True)
    assert shot.has_activation_grads
    assert any(layer.type == "residual" for layer in shot.layers)
    assert all(np.isfinite(layer.activation_grad).all() for layer in shot.layers)
