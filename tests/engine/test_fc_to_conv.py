"""FC → CONV (CS231n section 2.5): the converted network slides over a larger image in one pass, and each
position of its score map equals the original network on the matching crop."""

import numpy as np
import pytest

from convviz.engine import Network, fc_to_conv
from convviz.model import (
    FC,
    LRN,
    BatchNorm,
    Conv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    MaxPool,
    NetworkSpec,
    ReLU,
    Residual,
    Softmax,
    Volume,
    preset,
)


def trained(spec, seed=0):
    """A float64 network with random (not just initial) weights and running statistics."""
    net = Network(spec, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    for name, a in {**net.params(), **net.buffers()}.items():
        a[...] += rng.uniform(0.1, 0.5, a.shape)
    return net


def assert_slides(net, converted, images):
    maps = converted.network.forward(images, train=False)
    h, w = converted.window
    rows, cols = maps.shape[2:]
    assert rows > 1 and cols > 1
    for i in range(rows):
        for j in range(cols):
            top, left = converted.offset(i, j)
            crop = images[:, :, top:top + h, left:left + w]
            np.testing.assert_allclose(maps[:, :, i, j], net.forward(crop, train=False), rtol=1e-10, atol=1e-12)
    return maps


UNPADDED = NetworkSpec(Volume(16, 16, 3), [
    Conv(6, 5), ReLU(), MaxPool(2), Conv(8, 3), ReLU(), MaxPool(2),
    Flatten(), Dropout(0.5), FC(12), BatchNorm(), ReLU(), FC(5), Softmax(),
])


def test_each_map_position_equals_the_network_on_its_crop():
    net = trained(UNPADDED)
    converted = fc_to_conv(net, (28, 24))
    assert converted.stride == (4, 4) and converted.window == (16, 16) and converted.exact
    images = np.random.default_rng(1).standard_normal((2, 3, 28, 24))
    maps = assert_slides(net, converted, images)
    assert maps.shape == (2, 5, 4, 3)  # (28 − 16)/4 + 1 rows, (24 − 16)/4 + 1 columns


def test_converted_layers_and_weights():
    net = trained(UNPADDED)
    converted = fc_to_conv(net, (20, 20))
    kinds = [(layer.TYPE, layer.name) for layer in converted.spec.layers]
    assert ("conv", "fc1") in kinds and ("conv", "fc2") in kinds and all(t != "flatten" for t, _ in kinds)
    fc1 = next(layer for layer in converted.spec.layers if layer.name == "fc1")
    assert (fc1.filters, fc1.size) == (12, (2, 2))  # the 2×2×8 volume the FC looked at
    np.testing.assert_array_equal(converted.weights["fc1.weight"], net.params()["fc1.weight"].reshape(12, 8, 2, 2))
    assert converted.weights["fc2.weight"].shape == (5, 12, 1, 1)
    np.testing.assert_array_equal(converted.weights["bn1.running_var"], net.buffers()["bn1.running_var"])


def test_strided_convolution_and_global_average_pool():
    spec = NetworkSpec(Volume(12, 12, 2), [
        Conv(4, 3, stride=2, policy="crop"), ReLU(), Residual(body=[Conv(4, 1), ReLU()]), GlobalAvgPool(), Flatten(), FC(3),
    ])
    net = trained(spec)
    converted = fc_to_conv(net, (16, 20))
    assert converted.stride == (2, 2) and converted.exact
    assert_slides(net, converted, np.random.default_rng(2).standard_normal((1, 2, 16, 20)))


def test_a_padded_network_converts_but_is_not_exact():
    net = Network(preset("convnetjs"), dtype=np.float64)
    same = fc_to_conv(net, (32, 32))
    x = np.random.default_rng(3).standard_normal((2, 3, 32, 32))
    np.testing.assert_allclose(same.network.forward(x, train=False), net.forward(x, train=False), rtol=1e-10, atol=1e-12)
    bigger = fc_to_conv(net, (48, 64))
    assert not bigger.exact and bigger.stride == (8, 8)
    assert bigger.network.forward(np.zeros((1, 3, 48, 64)), train=False).shape == (1, 10, 3, 5)


def test_conversion_errors():
    net = Network(NetworkSpec(Volume(8, 8, 4), [Conv(4, 3), Flatten(), LRN(size=3), FC(2)]))
    with pytest.raises(ValueError, match="lrn1: a local response norm between Flatten and FC mixes the flattened positions"):
        fc_to_conv(net, (16, 16))
    net = Network(NetworkSpec(Volume(8, 8, 4), [Conv(4, 3), MaxPool(2), Flatten(), FC(2)]))
    with pytest.raises(ValueError, match=r"cannot build the network: maxpool1: \(13 − 2 \+ 2·0\)/2 \+ 1 = 6\.5 is not a whole number"):
        fc_to_conv(net, (15, 15))  # conv → 13×13, which the 2×2 pool cannot halve
