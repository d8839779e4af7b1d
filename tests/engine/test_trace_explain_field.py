"""A cell's receptive field across layers: the analytic box, and the gradient of one backward pass inside it."""

from __future__ import annotations

import numpy as np
import pytest

from convviz.engine import Network
from convviz.engine.explain_field import receptive_field
from convviz.model import (
    FC,
    Conv,
    Flatten,
    MaxPool,
    NetworkSpec,
    ReLU,
    Residual,
    Softmax,
    Volume,
    analyze,
)
from convviz.model.receptive import receptive_fields


def traced(spec, seed=0):
    net = Network(spec, dtype=np.float64, seed=seed)
    trace = net.trace_forward(np.random.default_rng(seed).normal(size=(1, *spec.input.chw())))
    return net, trace


SPEC = NetworkSpec(Volume(24, 24, 3), [
    Conv(filters=4, size=3, pad=1), ReLU(), MaxPool(size=2, stride=2),
    Conv(filters=4, size=3, pad=2, dilation=2), ReLU(),
    Residual(body=[Conv(filters=4, size=3, pad=1)]), Flatten(), FC(units=3), Softmax(),
])


def test_an_inner_cells_box_on_the_input_is_the_models_receptive_field_and_holds_its_gradient():
    net, trace = traced(SPEC)
    f = receptive_field(net, trace, "res1", (1, 6, 5))
    model = receptive_fields(analyze(SPEC))["res1"]
    assert [b.layer for b in f.boxes] == ["input", "conv1", "relu1", "maxpool1", "conv2", "relu2"]
    assert f.boxes[0].size == (model.size_h, model.size_w)
    assert not f.boxes[0].clipped and f.engine == pytest.approx(f.value, abs=1e-12)
    for box in f.boxes:
        assert box.inside and box.support is not None  # the gradient lives inside the box, and somewhere
    assert f.boxes[4].rows == (5, 7) and f.boxes[4].cols == (4, 6)  # the residual's 3×3 on conv2's output
    assert f.boxes[3].rows == (5 - 2, 7 + 2) and f.boxes[3].cols == (4 - 2, 6 + 2)  # conv2's dilated 3×3 (span 5)
    # the cell depends on the input only where its gradient says: perturb outside the box, nothing moves
    x = trace.input.copy()
    (r0, r1), (c0, c1) = f.boxes[0].rows, f.boxes[0].cols
    outside = np.ones(x.shape[2:], bool)
    outside[r0:r1 + 1, c0:c1 + 1] = False
    x[:, :, outside] += 1.0
    moved = net.trace_forward(x)["res1"].output[0, 1, 6, 5]
    assert moved == pytest.approx(f.value, abs=1e-12)


def test_a_corner_cell_is_clipped_and_an_fc_unit_sees_everything():
    net, trace = traced(SPEC)
    f = receptive_field(net, trace, "conv2", (0, 0, 0))
    assert f.boxes[0].rows == (0, 6) and f.boxes[0].clipped and f.boxes[3].clipped  # the windows reach into padding
    g = receptive_field(net, trace, "fc1", (2,))
    assert all(b.whole for b in g.boxes) and g.boxes[0].rows == (0, 23)


def test_a_cell_inside_a_resnet20_block_is_followed_back_along_its_path():
    from convviz.model import preset

    spec = preset("resnet20")
    net, trace = traced(spec)
    name = "res2.body.conv2"  # the second conv of the second block: its path is the body, not the shortcut
    f = receptive_field(net, trace, name, (3, 10, 12))
    assert [b.layer for b in f.boxes] == ["input", "conv1", "bn1", "relu1", "res1", "relu2",
                                          "res2.body.conv1", "res2.body.bn1", "res2.body.relu1"]
    model = receptive_fields(analyze(spec))[name]
    assert f.boxes[0].size == (model.size_h, model.size_w) == (11, 11)  # 1 + 5 convs of 3×3
    assert f.boxes[-1].rows == (9, 11) and f.boxes[-1].cols == (11, 13)  # its own 3×3 on res2.body.relu1
    assert f.engine == pytest.approx(f.value, rel=1e-12)  # the cut path computes the traced cell
    assert all(box.inside and box.support is not None for box in f.boxes)
    # the gradient on the input is the cell's own: a centred difference of the full network agrees
    x, h = trace.input.copy(), 1e-5
    x[0, 1, 9, 11] += h
    up = net.trace_forward(x)[name].output[0, 3, 10, 12]
    x[0, 1, 9, 11] -= 2 * h
    down = net.trace_forward(x)[name].output[0, 3, 10, 12]
    assert f.boxes[0].gradient[1, 9, 11] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-10)


def test_an_unknown_layer_is_refused_with_the_layers_names():
    net, trace = traced(SPEC)
    with pytest.raises(ValueError, match="no layer named 'conv9'; layers: conv1, relu1"):
        receptive_field(net, trace, "conv9", (0, 0, 0))


def test_the_converted_network_slides_over_a_mosaic_and_each_position_is_its_crop():
    from convviz.engine.explain_slide import explain_slide_cell, mosaic, slide_map

    def net_of(pad):
        spec = NetworkSpec(Volume(12, 12, 3), [Conv(filters=3, size=3, pad=pad), ReLU(), MaxPool(size=2, stride=2),
                                               Flatten(), FC(units=4), Softmax()])
        return Network(spec, dtype=np.float64, seed=1)

    rng = np.random.default_rng(0)
    image = mosaic([rng.normal(size=(3, 12, 12)) for _ in range(4)], 2, 2)
    assert image.shape == (3, 24, 24)
    exact = net_of(0)
    m = slide_map(exact, image)
    assert m.exact and m.scores.shape == (4, 7, 7) and m.converted.stride == (2, 2)
    for k, i, j in ((0, 0, 0), (3, 6, 6), (2, 3, 1)):
        e = explain_slide_cell(exact, m, k, i, j)
        assert e.matches and e.offset == (2 * i, 2 * j)
        crop = image[None, :, 2 * i:2 * i + 12, 2 * j:2 * j + 12]
        assert e.crop_score == pytest.approx(exact.forward(crop, train=False)[0, k], rel=1e-12)
    padded = net_of(1)
    m = slide_map(padded, image)
    assert not m.exact and m.scores.shape == (4, 7, 7)
    assert not explain_slide_cell(padded, m, 0, 3, 3).matches  # the crop sees zeros where the image has pixels
    with pytest.raises(ValueError, match=r"must be at least the network's input \(12×12\)"):
        slide_map(exact, image[:, :10, :10])
