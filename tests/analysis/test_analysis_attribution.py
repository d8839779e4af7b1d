"""Saliency and Grad-CAM against the engine's own gradients and a direct numpy computation."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from convviz.analysis import grad_cam, saliency, saliency_map, upsample_bilinear
from convviz.engine import Network
from convviz.model import FC, Conv, Flatten, NetworkSpec, ReLU, Softmax, Volume


def image(seed=0, shape=(1, 3, 32, 32)):
    return np.random.default_rng(seed).standard_normal(shape)


def test_saliency_is_the_engines_input_gradient_of_the_class_score(trained):
    net = Network(trained.spec, dtype=np.float64)
    net.set_weights(trained.net.get_weights())
    x = image(1)
    before = {name: g.copy() for name, g in net.grads().items()}
    g = saliency(net, x, 3)
    assert g.shape == (3, 32, 32)
    assert all(np.array_equal(net.grads()[n], before[n]) for n in before)  # the network's gradients are left alone
    scores = net.forward(x, train=False)
    dscores = np.zeros_like(scores)
    dscores[0, 3] = 1.0
    expected = net.backward(dscores)[0]
    assert np.allclose(g, expected, rtol=1e-12, atol=1e-15)
    assert np.abs(g).max() > 0
    assert np.array_equal(saliency_map(g), np.abs(g).max(axis=0))
    # a centred difference of the class score agrees (float64)
    eps, (c, i, j) = 1e-6, (1, 10, 12)
    plus, minus = x.copy(), x.copy()
    plus[0, c, i, j] += eps
    minus[0, c, i, j] -= eps
    numeric = (net.forward(plus, train=False)[0, 3] - net.forward(minus, train=False)[0, 3]) / (2 * eps)
    assert g[c, i, j] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_saliency_refuses_a_batch_and_a_class_that_is_not_there(trained):
    with pytest.raises(ValueError, match=r"one image shaped \(1, C, H, W\), got \(2, 3, 32, 32\)"):
        saliency(trained.net, image(0, (2, 3, 32, 32)), 0)
    with pytest.raises(ValueError, match="class from 0 to 9, got class_index=10"):
        saliency(trained.net, image(), 10)


def conv_relu_fc(seed=0):
    spec = NetworkSpec(Volume(12, 10, 3), [Conv(filters=4, size=3, pad=1), ReLU(), Flatten(), FC(units=5), Softmax()])
    net = Network(spec, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 7)
    net.set_weights({n: rng.standard_normal(a.shape) * 0.3 for n, a in net.get_weights().items()})
    return net


def direct_conv(x, w, b, pad):
    """A plain numpy convolution (stride 1): out[k, i, j] = Σ_c,u,v x_pad[c, i+u, j+v]·w[k, c, u, v] + b[k]."""
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(1, 2))  # (C, H, W, F, F)
    return np.einsum("chwuv,kcuv->khw", windows, w) + b[:, None, None]


@pytest.mark.parametrize("layer", ["conv1", "relu1"])
def test_grad_cam_equals_a_direct_numpy_computation(layer):
    net = conv_relu_fc()
    params = net.params()
    x = image(2, (1, 3, 10, 12))
    c = 2
    z = direct_conv(x[0], params["conv1.weight"], params["conv1.bias"], 1)  # (4, 10, 12)
    a = np.maximum(z, 0)
    w_fc = params["fc1.weight"][c].reshape(a.shape)  # dS_c/dA for the ReLU's output (Flatten keeps C, H, W order)
    if layer == "conv1":
        activation, gradient = z, w_fc * (z > 0)
    else:
        activation, gradient = a, w_fc
    alpha = gradient.mean(axis=(1, 2))
    expected = np.maximum(np.einsum("k,khw->hw", alpha, activation), 0)
    cam = grad_cam(net, x, c, layer)
    assert np.allclose(cam.weights, alpha, rtol=1e-10)
    assert np.allclose(cam.map, expected, rtol=1e-10, atol=1e-12)
    assert expected.max() > 0
    assert cam.upsampled.shape == (10, 12)  # same resolution: the map itself
    assert np.allclose(cam.upsampled, cam.map)
    assert cam.score == pytest.approx(float(a.ravel() @ params["fc1.weight"][c] + params["fc1.bias"][c]))


def test_grad_cam_on_a_strided_layer_is_upsampled_bilinearly_to_the_input(trained):
    x = image(3)
    cam = grad_cam(trained.net, x, 1, "relu2")
    assert cam.map.shape == (8, 8) and cam.upsampled.shape == (32, 32)
    assert np.allclose(cam.upsampled, upsample_bilinear(cam.map, 32, 32))
    with pytest.raises(ValueError, match="fc1 gives a flat output"):
        grad_cam(trained.net, x, 1, "fc1")
    with pytest.raises(KeyError, match="no layer named 'conv9'"):
        grad_cam(trained.net, x, 1, "conv9")


def test_bilinear_upsampling_aligns_pixel_centres():
    values = np.array([[0.0, 4.0]])
    up = upsample_bilinear(values, 1, 4)  # centres at −0.25, 0.25, 0.75, 1.25 of the input's pixels
    assert np.allclose(up, [[0.0, 1.0, 3.0, 4.0]])
    assert np.allclose(upsample_bilinear(np.full((3, 5), 2.5), 32, 32), 2.5)
    ramp = np.arange(4.0)[None].repeat(2, axis=0)
    assert np.allclose(upsample_bilinear(ramp, 2, 4), ramp)
