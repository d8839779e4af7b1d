"""Every layer type, composites included, against centred differences in float64 (relative error < 1e-7).

Each case builds a small network through ``Network`` (so the specification's geometry is what gets
checked), then compares the analytic input and parameter gradients element by element with
``eval_numerical_gradient_array`` (centred differences weighted by a random upstream gradient; the
fourth-order stencil with h = 1e-3, whose error stays ~1e-9 even where a gradient element is near 0).
"""

import numpy as np
import pytest

from convviz.engine import Network, softmax_cross_entropy
from convviz.engine.gradcheck import eval_numerical_gradient, network_gradient_errors, rel_error
from convviz.model import (
    FC,
    LRN,
    AvgPool,
    BatchNorm,
    Branch,
    Conv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    ELU,
    LeakyReLU,
    LocallyConnected,
    MaxPool,
    NetworkSpec,
    ReLU,
    Residual,
    Sigmoid,
    Softmax,
    Tanh,
    Volume,
)

TOLERANCE = 1e-7


def check(layers, volume=Volume(7, 6, 3), batch=2, train=True, seed=0, before_forward=None, net=None):
    net = net or Network(NetworkSpec(volume, layers), seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 100)
    x = rng.standard_normal((batch,) + volume.chw())
    scores = net.forward(x, train=train)
    dout = rng.standard_normal(scores.shape)
    for name, p in net.params().items():  # non-zero biases and γ, β, so that every term is exercised
        if name.endswith(".bias") or p.ndim == 1:
            p[...] = rng.uniform(0.5, 1.5, p.shape) * rng.choice([-1, 1], p.shape)
    errors = network_gradient_errors(net, x, dout, train=train, before_forward=before_forward)
    bad = {name: e for name, e in errors.items() if not e < TOLERANCE}
    assert not bad, f"relative errors above {TOLERANCE}: {bad}"
    assert set(errors) == {"input", *net.params()}
    return net


CONV_CASES = {
    "3x3 P1": dict(filters=4, size=3, pad=1),
    "1x1": dict(filters=5, size=1),
    "5x5 P2 no bias": dict(filters=2, size=5, pad=2, bias=False),
    "stride 2, pad-to-fit": dict(filters=3, size=3, stride=2, policy="pad"),
    "stride 2 P1, crop": dict(filters=3, size=3, stride=2, pad=1, policy="crop"),
    "dilation 2": dict(filters=2, size=3, dilation=2, pad=1),
    "per-axis": dict(filters=3, size=(3, 2), stride=(2, 1), pad=(1, 0), dilation=(1, 2), policy="crop"),
    "stride 3 > size": dict(filters=2, size=2, stride=3, policy="crop"),
}


@pytest.mark.parametrize("kwargs", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv(kwargs):
    check([Conv(**kwargs)])


@pytest.mark.parametrize("kwargs", list(CONV_CASES.values())[:7], ids=list(CONV_CASES)[:7])
def test_locally_connected(kwargs):
    check([LocallyConnected(**{**kwargs, "filters": 2})], volume=Volume(5, 4, 2))


POOL_CASES = {
    "2x2 S2 crop": dict(size=2, policy="crop"),
    "2x2 S2 pad-to-fit": dict(size=2, policy="pad"),
    "3x3 S2 P1 overlapping": dict(size=3, stride=2, pad=1, policy="crop"),
    "3x3 S1": dict(size=3, stride=1),
    "per-axis": dict(size=(2, 3), stride=(2, 1), pad=(1, 0), policy="crop"),
}


@pytest.mark.parametrize("kwargs", POOL_CASES.values(), ids=POOL_CASES.keys())
@pytest.mark.parametrize("pool", [MaxPool, AvgPool])
def test_pooling(pool, kwargs):
    check([pool(**kwargs)])


@pytest.mark.parametrize("layer", [ReLU(), LeakyReLU(slope=0.1), ELU(), ELU(alpha=0.3), Tanh(), Sigmoid(), GlobalAvgPool(), Flatten(), Softmax()],
                         ids=lambda layer: layer.TYPE)
def test_parameter_free_layers(layer):
    check([layer])


def test_relu_then_max_pool_runs_fused_and_checks():
    """The fast plan runs ReLU + 2×2 max pool as one kernel: its gradient is checked through the network."""
    check([Conv(3, 3, pad=1), ReLU(), MaxPool(2)], volume=Volume(6, 6, 2))
    check([Conv(3, 3, pad=1), MaxPool(2), ReLU()], volume=Volume(6, 6, 2))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("volume", [Volume(5, 4, 3), Volume(1, 1, 6)], ids=["per slice", "per unit"])
def test_batch_norm(train, volume):
    net = Network(NetworkSpec(volume, [BatchNorm(momentum=0.3)]), dtype=np.float64)
    net.buffers()["bn1.running_mean"][...] = [0.3, -0.2, 0.1] * (volume.depth // 3)
    net.buffers()["bn1.running_var"][...] = [1.5, 0.7, 2.0] * (volume.depth // 3)
    check(None, volume=volume, batch=4, train=train, net=net)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm(size):
    check([LRN(size=size, alpha=0.7, beta=0.75, k=1.5)], volume=Volume(3, 2, 6))


def test_dropout_with_a_fixed_mask():
    net = Network(NetworkSpec(Volume(4, 3, 3), [Conv(3, 3, pad=1), Dropout(p=0.4)]), dtype=np.float64)
    state = net.get_rng_state()
    check(None, volume=Volume(4, 3, 3), net=net, before_forward=lambda: net.set_rng_state(state))


@pytest.mark.parametrize("bias", [True, False])
def test_flatten_and_fc(bias):
    check([Flatten(), FC(4, bias=bias), Tanh(), FC(3)], volume=Volume(3, 2, 2))


def test_residual_identity():
    body = [Conv(3, 3, pad=1, bias=False), BatchNorm(), ReLU(), Conv(3, 3, pad=1)]
    check([Residual(body=body), ReLU()], volume=Volume(5, 5, 3), batch=3)


def test_residual_projection():
    body = [Conv(4, 3, stride=2, pad=1, policy="crop", bias=False), BatchNorm(), ReLU(), Conv(4, 3, pad=1)]
    shortcut = [Conv(4, 1, stride=2, policy="crop", bias=False), BatchNorm()]
    check([Residual(body=body, shortcut=shortcut)], volume=Volume(5, 6, 3), batch=3)


def test_branch_with_a_pass_through_branch():
    branches = [[Conv(2, 1)], [Conv(2, 1), ReLU(), Conv(3, 3, pad=1)], [MaxPool(3, stride=1, pad=1)], []]
    check([Branch(branches=branches), Conv(2, 1)], volume=Volume(4, 5, 3))


def test_nested_blocks_and_flat_volumes():
    inner = Residual(body=[FC(6), Tanh()])
    check([GlobalAvgPool(), Branch(branches=[[inner], [FC(2)]]), FC(3)], volume=Volume(3, 3, 6))


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((5, 4))
    y = np.array([0, 3, 1, 1, 2])
    _, dscores = softmax_cross_entropy(scores, y)
    numeric = eval_numerical_gradient(lambda s: softmax_cross_entropy(s, y)[0], scores.copy())
    assert rel_error(numeric, dscores) < TOLERANCE


def test_a_wrong_gradient_is_caught():
    """The check itself can fail: a 1% error in one weight gradient is far above the tolerance."""
    net = Network(NetworkSpec(Volume(3, 3, 2), [Flatten(), FC(3)]), dtype=np.float64)
    fc = net.layer("fc1")
    backward = fc.backward

    def wrong(dout, inplace=False, input_grad=True):
        dx = backward(dout, inplace, input_grad)
        fc.grads["weight"][0, 0] *= 1.01
        return dx

    fc.backward = wrong
    x = np.random.default_rng(0).standard_normal((2, 2, 3, 3))
    errors = network_gradient_errors(net, x, np.ones((2, 3)))
    assert errors["fc1.weight"] > 1e-3 and errors["input"] < TOLERANCE


def test_gradient_checks_need_float64():
    net = Network(NetworkSpec(Volume(3, 3, 1), [Flatten(), FC(2)]))
    with pytest.raises(ValueError, match="gradient checks need a float64 network, got float32"):
        network_gradient_errors(net, np.zeros((1, 1, 3, 3)), np.zeros((1, 2)))


# -- a batch split across two threads (convviz.engine.parallel): the same gradients ---------------------


@pytest.mark.parametrize("volume", [Volume(5, 4, 3), Volume(1, 1, 6)], ids=["per slice", "per unit"])
def test_batch_norm_on_a_split_batch(volume):
    net = Network(NetworkSpec(volume, [BatchNorm(momentum=0.3)]), dtype=np.float64, threads=2)
    check(None, volume=volume, batch=5, net=net)  # parts of 3 and 2 images share μ, σ², Σdout, Σdout·x̂


def test_dropout_on_a_split_batch():
    net = Network(NetworkSpec(Volume(4, 3, 3), [Conv(3, 3, pad=1), Dropout(p=0.4)]), dtype=np.float64, threads=2)
    state = net.get_rng_state()
    check(None, volume=Volume(4, 3, 3), batch=3, net=net, before_forward=lambda: net.set_rng_state(state))


def test_residual_projection_on_a_split_batch():
    body = [Conv(4, 3, stride=2, pad=1, policy="crop", bias=False), BatchNorm(), ReLU(), Conv(4, 3, pad=1)]
    shortcut = [Conv(4, 1, stride=2, policy="crop", bias=False), BatchNorm()]
    spec = NetworkSpec(Volume(5, 6, 3), [Residual(body=body, shortcut=shortcut), Flatten(), Dropout(0.3), FC(3)])
    net = Network(spec, dtype=np.float64, threads=2)
    state = net.get_rng_state()
    check(None, volume=Volume(5, 6, 3), batch=4, net=net, before_forward=lambda: net.set_rng_state(state))
