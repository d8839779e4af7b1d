"""Comparing architectures: the figures are the model's own, and VGG-16 shows the seed's observation."""

import pytest

from convviz.analysis.architectures import case_studies, compare, figures
from convviz.model import analyze, preset


def test_every_figure_is_the_models_own():
    rows = compare(case_studies(), batch=32, optimizer="adam")
    from convviz.model import preset_names

    assert [r.name for r in rows] == [preset(name).name for name in preset_names()]  # the Case Studies menu's order
    assert [r.name for r in rows][:2] == ["LeNet-5", "AlexNet"] and {"ZFNet", "VGG-16"} <= {r.name for r in rows}
    for row, spec in zip(rows, case_studies().values()):
        report = analyze(spec)
        assert (row.params, row.macs) == (report.total_params, report.total_macs)
        assert row.training_bytes == report.memory(32, "adam").training and row.batch == 32
        assert sum(layer.params for layer in row.layers) == report.total_params
        assert sum(layer.activation_bytes for layer in row.layers) == 4 * (report.activations + report.saved)


def test_vgg16_keeps_its_parameters_in_the_fc_layers_and_its_memory_in_the_early_convs():
    vgg = figures("VGG-16", preset("vgg16"))
    assert vgg.share("params", "fc") > 0.85  # 124 M of 138 M
    assert vgg.share("activation_bytes", "conv") > 0.4
    convs = [layer for layer in vgg.layers if layer.kind == "conv"]
    first, last = convs[: len(convs) // 2], convs[len(convs) // 2:]
    assert sum(layer.activation_bytes for layer in first) > 4 * sum(layer.activation_bytes for layer in last)
    resnet = figures("ResNet-20", preset("resnet20"))
    assert resnet.share("params", "conv") > 0.95  # global pooling, one small FC


def test_an_invalid_network_is_left_out_and_says_why():
    from convviz.model import Conv, NetworkSpec, Volume

    broken = NetworkSpec(Volume(10, 10, 3), [Conv(filters=4, size=3, stride=2)])
    with pytest.raises(ValueError, match="mine cannot be sized: conv1: "):
        figures("mine", broken)
    assert [r.name for r in compare({"mine": broken, "LeNet-5": preset("lenet5")})] == ["LeNet-5"]
