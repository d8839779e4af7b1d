"""The Network API the trainer builds on: construction from a spec, passes, parameters by name, weights,
randomness, modes, and every preset."""

import json
import os

import numpy as np
import pytest

from convviz.engine import Network, softmax_cross_entropy
from convviz.model import (
    FC,
    BatchNorm,
    Branch,
    Conv,
    Dropout,
    Flatten,
    LeakyReLU,
    MaxPool,
    NetworkSpec,
    ReLU,
    Residual,
    Sigmoid,
    Softmax,
    Tanh,
    Volume,
    analyze,
    preset,
)


def small_net(dtype=np.float32, seed=0):
    layers = [Conv(4, 3, pad=1), BatchNorm(), ReLU(), MaxPool(2), Flatten(), Dropout(p=0.5), FC(3), Softmax()]
    return Network(NetworkSpec(Volume(6, 6, 2), layers), seed=seed, dtype=dtype)


def batch(net, n=4, seed=0):
    return np.random.default_rng(seed).standard_normal((n,) + net.spec.input.chw()).astype(net.dtype)


# -- construction ------------------------------------------------------------------------------------------


def test_invalid_spec_lists_every_problem():
    spec = NetworkSpec(Volume(10, 10, 3), [Conv(4, 3, pad=1), Conv(8, 3, stride=2), ReLU(), FC(10)])
    with pytest.raises(ValueError, match=r"cannot build the network: conv2: \(10 − 3 \+ 2·0\)/2 \+ 1 = 4\.5 is not a whole number"):
        Network(spec)


def test_invalid_spec_message_names_inner_layers():
    spec = NetworkSpec(Volume(8, 8, 3), [Residual(body=[Conv(4, 3, pad=1)])])
    with pytest.raises(ValueError, match=r"cannot build the network: res1: the body gives 8×8×4 but the identity shortcut gives 8×8×3"):
        Network(spec)


def test_dtype_must_be_a_float():
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got int32"):
        Network(NetworkSpec(Volume(2, 2, 1), [Flatten(), FC(2)]), dtype=np.int32)


def test_the_network_keeps_its_own_copy_of_the_spec():
    spec = NetworkSpec(Volume(4, 4, 1), [Flatten(), FC(2)])
    net = Network(spec)
    spec.layers[1].units = 7
    assert net.forward(np.zeros((1, 1, 4, 4))).shape == (1, 2)


# -- passes -------------------------------------------------------------------------------------------------


def test_forward_backward_shapes_and_dtypes():
    net = small_net()
    x = batch(net)
    scores = net.forward(x)
    assert scores.shape == (4, 3) and scores.dtype == np.float32
    loss, dscores = softmax_cross_entropy(scores, np.array([0, 1, 2, 0]))
    dx = net.backward(dscores)
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert all(g.any() for g in net.grads().values())


def test_score_maps_for_a_spatial_output():
    net = Network(NetworkSpec(Volume(6, 5, 2), [Conv(3, 3), ReLU()]))
    scores = net.forward(np.ones((2, 2, 5, 6)))
    assert scores.shape == (2, 3, 3, 4)
    assert net.backward(np.ones_like(scores)).shape == (2, 2, 5, 6)


def test_input_shape_is_checked():
    net = small_net()
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2, 6, 6\) for a 6×6×2 input volume, got \(4, 6, 6, 2\)"):
        net.forward(np.zeros((4, 6, 6, 2)))


def test_backward_needs_a_forward_and_the_right_shape():
    net = small_net()
    with pytest.raises(RuntimeError, match="backward needs a forward pass first"):
        net.backward(np.zeros((4, 3)))
    net.forward(batch(net))
    with pytest.raises(ValueError, match=r"dscores must have the shape of the last scores \(4, 3\), got \(4, 2\)"):
        net.backward(np.zeros((4, 2)))


def test_input_grad_false_skips_only_the_input_gradient():
    net = small_net(np.float64)
    x, d = batch(net), np.random.default_rng(1).standard_normal((4, 3))
    state = net.get_rng_state()
    net.forward(x)
    dx = net.backward(d)
    grads = {k: g.copy() for k, g in net.grads().items()}
    net.set_rng_state(state)
    net.forward(x)
    assert dx is not None and net.backward(d, input_grad=False) is None
    for name, g in net.grads().items():
        np.testing.assert_array_equal(g, grads[name], err_msg=name)


def test_fast_plan_equals_layer_by_layer_plan():
    """Training fuses ReLU into the 2×2 max pool and works in place; a trace runs each layer alone.
    Both give the same numbers, gradients included."""
    net = Network(preset("convnetjs"), dtype=np.float64)
    x = batch(net, 3)
    d = np.random.default_rng(2).standard_normal((3, 10))
    assert_fast_plan_is_the_traced_plan(net, x, d, True, rtol_scores=1e-12, rtol_grads=1e-10)
    assert any(step.name == "relu1+maxpool1" for step in net.stack.fast)


def assert_fast_plan_is_the_traced_plan(net, x, d, train, rtol_scores, rtol_grads):
    """A fast pass and a traced pass of ``x`` (upstream ``d``) from the same state give the same
    scores and parameter gradients."""
    with net.run_state_kept():
        fast = net.forward(x, train=train)
        net.backward(d)
        fast_grads = {k: g.copy() for k, g in net.grads().items()}
    with net.run_state_kept():
        trace = net.trace_forward(x, train=train)
        net.trace_backward(trace, d)
    np.testing.assert_allclose(trace.scores, fast, rtol=rtol_scores, atol=1e-12)
    for key, g in fast_grads.items():
        layer, kind = key.rsplit(".", 1)
        np.testing.assert_allclose(trace[layer].param_grads[kind], g, rtol=rtol_grads, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", ["smallvgg", "resnet20"])
def test_batch_norm_and_relu_fused_give_the_layer_by_layer_numbers(name):
    """The fast plan runs a batch norm and the ReLU after it as one step (a ReLU before a 2×2 max
    pool stays with the pool); train and eval passes and every gradient equal the traced plan's."""
    net = Network(preset(name), dtype=np.float64, seed=1)
    steps = [step.name for step in net.stack.fast]
    assert "bn1+relu1" in steps
    if name == "smallvgg":
        assert "bn2" in steps and "relu2+maxpool1" in steps
    x = batch(net, 3)
    d = np.random.default_rng(2).standard_normal((3, 10))
    for train in (True, False):
        assert_fast_plan_is_the_traced_plan(net, x, d, train, rtol_scores=1e-11, rtol_grads=1e-9)


def test_user_arrays_are_never_modified():
    net = small_net()
    x = batch(net)
    x_copy = x.copy()
    scores = net.forward(x)
    d = np.ones_like(scores)
    net.backward(d)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(d, np.ones_like(scores))


# -- modes ----------------------------------------------------------------------------------------------------


def test_eval_mode_turns_dropout_off_and_uses_running_statistics():
    net = small_net()
    x = batch(net)
    a, b = net.forward(x, train=False), net.forward(x, train=False)
    np.testing.assert_array_equal(a, b)
    t1, t2 = net.forward(x, train=True), net.forward(x, train=True)
    assert not np.allclose(t1, t2)  # two dropout masks
    running = net.buffers()["bn1.running_mean"].copy()
    net.forward(x, train=False)
    np.testing.assert_array_equal(net.buffers()["bn1.running_mean"], running)


def test_batch_norm_running_statistics_follow_pytorch():
    net = Network(NetworkSpec(Volume(3, 2, 2), [BatchNorm(momentum=0.25)]), dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 2, 2, 3)) * 3 + 1
    net.forward(x, train=True)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(net.buffers()["bn1.running_mean"], 0.25 * mean)
    np.testing.assert_allclose(net.buffers()["bn1.running_var"], 0.75 + 0.25 * var)
    out = net.forward(x, train=False)
    expected = (x - 0.25 * mean[:, None, None]) / np.sqrt(0.75 + 0.25 * var + 1e-5)[:, None, None]
    np.testing.assert_allclose(out, expected)


def test_batch_norm_needs_more_than_one_value_per_slice_in_training():
    net = Network(NetworkSpec(Volume(1, 1, 3), [BatchNorm()]))
    with pytest.raises(ValueError, match="bn1: batch norm in training needs more than one value per depth slice"):
        net.forward(np.ones((1, 3, 1, 1)), train=True)
    assert net.forward(np.ones((1, 3, 1, 1)), train=False).shape == (1, 3)


def test_predict_proba():
    net = small_net()
    p = net.predict_proba(batch(net))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    assert (p > 0).all()


# -- parameters by name ---------------------------------------------------------------------------------------


def test_parameter_names_follow_layer_order():
    net = Network(preset("resnet20"))
    names = list(net.params())
    assert names[:6] == [
        "conv1.weight", "bn1.weight", "bn1.bias",
        "res1.body.conv1.weight", "res1.body.bn1.weight", "res1.body.bn1.bias",
    ]
    assert "res4.shortcut.conv1.weight" in names and names[-2:] == ["fc1.weight", "fc1.bias"]
    assert list(net.grads()) == names
    assert list(net.buffers())[:2] == ["bn1.running_mean", "bn1.running_var"]
    assert sum(p.size for p in net.params().values()) == analyze(preset("resnet20")).total_params


def test_branch_parameter_names():
    spec = NetworkSpec(Volume(4, 4, 3), [Branch(branches=[[Conv(2, 1)], [], [Conv(2, 1), Conv(3, 3, pad=1)]], name="mix")])
    net = Network(spec)
    assert list(net.params()) == [
        "mix.b1.conv1.weight", "mix.b1.conv1.bias",
        "mix.b3.conv1.weight", "mix.b3.conv1.bias", "mix.b3.conv2.weight", "mix.b3.conv2.bias",
    ]
    assert net.forward(np.zeros((1, 3, 4, 4))).shape == (1, 8, 4, 4)


def test_params_and_grads_are_the_live_arrays():
    net = small_net()
    x = batch(net)
    before = net.forward(x, train=False)
    net.params()["fc1.bias"][...] += 1.0
    np.testing.assert_allclose(net.forward(x, train=False), before + 1.0, rtol=1e-6)
    grad = net.grads()["conv1.weight"]
    net.forward(x)
    net.backward(np.ones((4, 3)))
    assert grad is net.grads()["conv1.weight"] and grad.any()
    assert net.params()["conv1.weight"].shape == (4, 2, 3, 3) and net.params()["fc1.weight"].shape == (3, 36)


def test_initialisation_is_seeded_he_or_glorot():
    spec = NetworkSpec(Volume(16, 16, 32), [Conv(64, 3, pad=1), ReLU(), Conv(64, 3, pad=1), Tanh(), Conv(64, 3, pad=1),
                                            BatchNorm(), LeakyReLU(slope=0.5), Conv(8, 1), Sigmoid()])
    a, b, c = Network(spec, seed=3), Network(spec, seed=3), Network(spec, seed=4)
    for name in a.params():
        np.testing.assert_array_equal(a.params()[name], b.params()[name])
    assert not np.array_equal(a.params()["conv1.weight"], c.params()["conv1.weight"])
    stds = {name: float(w.std()) for name, w in a.params().items() if name.endswith("weight") and w.ndim == 4}
    assert stds["conv1.weight"] == pytest.approx(np.sqrt(2 / (32 * 9)), rel=0.02)  # He, ReLU
    assert stds["conv2.weight"] == pytest.approx(np.sqrt(2 / (64 * 9 + 64 * 9)), rel=0.02)  # Glorot, tanh
    assert stds["conv3.weight"] == pytest.approx(np.sqrt(2 / 1.25 / (64 * 9)), rel=0.02)  # He, leaky 0.5
    assert stds["conv4.weight"] == pytest.approx(np.sqrt(2 / (64 + 8)), rel=0.1)  # Glorot, sigmoid
    assert not a.params()["conv1.bias"].any()
    assert (a.params()["bn1.weight"] == 1).all() and not a.params()["bn1.bias"].any()


def test_float32_and_float64_networks_start_from_the_same_weights():
    a, b = small_net(np.float32), small_net(np.float64)
    for name in a.params():
        np.testing.assert_array_equal(a.params()[name].astype(np.float64), b.params()[name])


# -- weights and randomness ------------------------------------------------------------------------------------


def test_get_and_set_weights_round_trip():
    a, b = small_net(seed=0), small_net(seed=1)
    x = batch(a)
    a.forward(x)  # moves the running statistics
    weights = a.get_weights()
    assert set(weights) == set(a.params()) | set(a.buffers())
    b.set_weights(weights)
    np.testing.assert_array_equal(a.forward(x, train=False), b.forward(x, train=False))
    weights["fc1.bias"][...] = 99  # copies: the network does not change
    assert not (a.params()["fc1.bias"] == 99).any()


@pytest.mark.parametrize("change, message", [
    (lambda w: w.pop("conv1.bias"), r"cannot set weights: missing conv1\.bias"),
    (lambda w: w.update(extra=np.zeros(2)), r"cannot set weights: unknown extra \(this network has conv1\.weight"),
    (lambda w: w.update({"fc1.weight": np.zeros((3, 35))}), r"fc1\.weight has shape \(3, 35\), expected \(3, 36\)"),
])
def test_set_weights_errors_change_nothing(change, message):
    net = small_net()
    before = net.get_weights()
    weights = {name: a + 1 for name, a in before.items()}
    change(weights)
    with pytest.raises(ValueError, match=message):
        net.set_weights(weights)
    for name, a in net.get_weights().items():
        np.testing.assert_array_equal(a, before[name])


def test_rng_state_makes_a_resumed_run_bit_identical():
    net = small_net()
    x = batch(net)
    net.forward(x)
    state = json.loads(json.dumps(net.get_rng_state()))  # plain data
    first = net.forward(x)
    net.forward(x)
    net.set_rng_state(state)
    np.testing.assert_array_equal(net.forward(x), first)


def test_rng_state_errors():
    net = small_net()
    with pytest.raises(ValueError, match="not a PCG64 generator state"):
        net.set_rng_state({"bit_generator": "MT19937"})


# -- presets ---------------------------------------------------------------------------------------------------

TRAINABLE = ["lenet5", "convnetjs", "tinyvgg", "smallvgg", "resnet20"]


@pytest.mark.parametrize("name", TRAINABLE)
def test_trainable_presets_train_a_step(name):
    from convviz.engine.optim import SGD

    net = Network(preset(name), seed=0)
    x = batch(net, 8)
    y = np.arange(8) % 10
    opt = SGD(net.params(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(4):
        loss, d = softmax_cross_entropy(net.forward(x), y)
        net.backward(d, input_grad=False)
        opt.step(net.grads())
        losses.append(loss)
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert sum(p.size for p in net.params().values()) == analyze(preset(name)).total_params


@pytest.mark.parametrize("name", ["googlenet", "resnet18"])
def test_imagenet_presets_at_real_size(name):
    net = Network(preset(name))
    x = batch(net, 1)
    scores = net.forward(x, train=True)
    assert scores.shape == (1, 1000) and np.isfinite(scores).all()
    dx = net.backward(softmax_cross_entropy(scores, np.array([3]))[1])
    assert dx.shape == x.shape and np.isfinite(dx).all() and net.grads()["conv1.weight"].any()
    assert sum(p.size for p in net.params().values()) == analyze(preset(name)).total_params


@pytest.mark.parametrize("name", ["alexnet", "zfnet", "vgg16"])
def test_imagenet_presets_convolutional_trunk_at_real_size(name):
    """The FC heads hold 50–120 M parameters (0.5 GB to build): here the trunk up to Flatten runs at
    its real size; CONVVIZ_BIG_TESTS=1 also builds the whole network."""
    spec = preset(name)
    cut = next(i for i, layer in enumerate(spec.layers) if isinstance(layer, Flatten))
    trunk = NetworkSpec(spec.input, spec.layers[:cut + 1])
    net = Network(trunk)
    out = net.forward(batch(net, 1), train=False)
    flatten = analyze(spec).layers[cut]
    assert out.shape == (1, flatten.output.depth) and np.isfinite(out).all()


@pytest.mark.skipif(not os.environ.get("CONVVIZ_BIG_TESTS"), reason="builds 60–140 M parameters; set CONVVIZ_BIG_TESTS=1")
@pytest.mark.parametrize("name", ["alexnet", "zfnet", "vgg16"])
def test_imagenet_presets_whole(name):
    net = Network(preset(name))
    assert net.forward(batch(net, 1), train=False).shape == (1, 1000)
    assert sum(p.size for p in net.params().values()) == analyze(preset(name)).total_params


def test_elu_gives_x_above_zero_and_alpha_expm1_below():
    """ELU, the layer added through the layer registry alone: y = x (x > 0), α(eˣ − 1) otherwise."""
    from convviz.model import ELU

    net = Network(NetworkSpec(Volume(2, 1, 1), [ELU(alpha=0.5), Flatten()]), dtype=np.float64)
    x = np.array([[[[2.0, -1.0]]]])
    np.testing.assert_allclose(net.forward(x, train=False), [[2.0, 0.5 * (np.exp(-1.0) - 1)]])
    dx = net.backward(np.ones((1, 2)))
    np.testing.assert_allclose(dx.reshape(-1), [1.0, 0.5 * np.exp(-1.0)])
    from convviz.engine.network import init_scale

    assert init_scale([Conv(4, 3), ELU()], 0) == ("he", 2.0)
    large = net.forward(np.full((1, 1, 1, 2), -800.0), train=False)  # no overflow warning, → −α
    np.testing.assert_allclose(large, [[-0.5, -0.5]])


def test_a_network_built_with_weights_holds_them_and_checks_them():
    """Network(spec, weights=...) starts from those weights (no random draw) and refuses a wrong set."""
    from convviz.model import preset

    spec = preset("convnetjs")
    trained = Network(spec, seed=3).get_weights()
    built = Network(spec, seed=0, weights=trained)
    for name, value in trained.items():
        np.testing.assert_array_equal(built.get_weights()[name], value, err_msg=name)
    wrong = dict(trained)
    wrong.pop(next(iter(wrong)))
    with pytest.raises(ValueError, match="cannot set weights"):
        Network(spec, weights=wrong)
