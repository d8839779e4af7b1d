"""The notes' design rules: the layer pattern, sizing hints, receptive fields, why convolution."""

import pytest

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
    preset,
)
from convviz.model.hints import INPUT, halving_text, sizing_hints
from convviz.model.patterns import conv_pattern, connection_costs
from convviz.model.receptive import receptive_fields


def test_the_pattern_for_n2_m3_k1_is_the_hand_built_stack():
    by_hand = [
        Conv(16, 3, pad=1), ReLU(), Conv(16, 3, pad=1), ReLU(), MaxPool(2),
        Conv(32, 3, pad=1), ReLU(), Conv(32, 3, pad=1), ReLU(), MaxPool(2),
        Conv(64, 3, pad=1), ReLU(), Conv(64, 3, pad=1), ReLU(), MaxPool(2),
        Flatten(), FC(128), ReLU(), FC(10), Softmax(),
    ]
    assert conv_pattern(n=2, m=3, k=1, filters=16, growth=2, size=3, classes=10, units=128) == by_hand
    report = analyze(NetworkSpec(Volume(32, 32, 3), by_hand))
    assert report.valid and str(report.layers[14].output) == "4×4×64"


def test_the_pattern_refuses_impossible_counts():
    with pytest.raises(ValueError, match="size must be odd so that P = \\(F − 1\\)/2 keeps W×H, got size=4"):
        conv_pattern(size=4)
    with pytest.raises(ValueError, match="M must be a whole number ≥ 0, got M=-1"):
        conv_pattern(m=-1)


def test_receptive_fields_of_vgg16_match_the_published_values():
    fields = receptive_fields(analyze(preset("vgg16")))
    last_conv = [name for name in fields if name.startswith("conv")][-1]
    assert (fields[last_conv].size_h, fields[last_conv].jump_h) == (196, 16)  # conv5_3
    assert fields["conv1"].text() == "3×3, jump 1"
    assert fields["maxpool5"].size_h == 212 and fields["fc1"].whole


def test_receptive_field_of_resnet18_follows_the_largest_path_through_blocks():
    fields = receptive_fields(analyze(preset("resnet18")))
    blocks = [name for name in fields if name.startswith("res") and "." not in name]
    assert (fields[blocks[-1]].size_h, fields[blocks[-1]].jump_h) == (435, 32)


def test_dilation_widens_the_field_with_the_same_layers():
    """Three 3×3 convs: 7×7; with dilation 1, 2, 4: 15×15 (the notes' point about dilation)."""
    plain = [Conv(4, 3, pad=1), Conv(4, 3, pad=1), Conv(4, 3, pad=1)]
    dilated = [Conv(4, 3, pad=1), Conv(4, 3, pad=2, dilation=2), Conv(4, 3, pad=4, dilation=4)]
    for layers, size in ((plain, 7), (dilated, 15)):
        fields = receptive_fields(analyze(NetworkSpec(Volume(32, 32, 1), layers)))
        assert fields["conv3"].size_h == fields["conv3"].size_w == size
    residual = Residual(body=[Conv(4, 3, pad=1), Conv(4, 3, pad=1)])
    fields = receptive_fields(analyze(NetworkSpec(Volume(8, 8, 4), [residual])))
    assert fields["res1"].size_h == 5  # the body, not the identity shortcut


def test_no_hint_on_vgg16():
    assert sizing_hints(analyze(preset("vgg16"))) == {}


def test_each_hint_appears_where_its_rule_is_broken():
    spec = NetworkSpec(Volume(30, 30, 3), [
        Conv(8, 7, pad=3), ReLU(),  # large first filter
        Conv(8, 5, pad=0), ReLU(),  # stride 1 and P ≠ (F − 1)/2
        MaxPool(3, stride=2, policy="crop"),  # unusual pooling
        Conv(8, 3, pad=1), MaxPool(2), Conv(8, 3, pad=1), MaxPool(2, policy="crop"),
    ])
    hints = sizing_hints(analyze(spec))
    assert set(hints) == {"conv1", "conv2", "maxpool1", INPUT}
    assert [h.message for h in hints["conv1"]] == [
        "three 3×3 convs of C channels see 7×7 with 27C² weights against 49C² for one 7×7, "
        "and put 2 more non-linearities in between"]
    assert hints["conv2"][0].message == "with stride 1, P = (F − 1)/2 keeps the size: P = 2 keeps 30×30 (P = 0 gives 26×26)"
    assert "this one is max pool 3×3, S2 crop-to-fit" in hints["maxpool1"][0].message
    assert hints[INPUT][0].message == (
        "the network downsamples by 8 = 2³ but 30 = 2·15 halves cleanly only once; 32 = 2⁵: five 2× poolings fit")
    assert halving_text(32) == "32 = 2⁵: five 2× poolings fit"


def test_why_convolution_gives_the_notes_numbers():
    costs = connection_costs(Conv(16, 5, pad=2), Volume(200, 200, 3), Volume(200, 200, 16))
    assert costs.fc_per_neuron == 120_000
    assert costs.conv == 16 * 5 * 5 * 3
    assert costs.local == 200 * 200 * 16 * 75
    assert costs.fc == 120_000 * 200 * 200 * 16
