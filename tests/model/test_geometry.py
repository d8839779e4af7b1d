"""The window arithmetic: the seed examples of the CS231n notes and the uneven-stride policies."""

import dataclasses

import pytest

from convviz.model import Conv, MaxPool, ShapeError, Volume, slide


def test_notes_example_11x11x4_f5_s2_gives_4x4():
    out = Conv(filters=8, size=5, stride=2, pad=0).output_shape(Volume(11, 11, 4))
    assert (out.width, out.height, out.depth) == (4, 4, 8)


def test_alexnet_first_layer():
    conv = Conv(filters=96, size=11, stride=4)
    v = Volume(227, 227, 3)
    assert str(conv.output_shape(v)) == "55×55×96"
    assert conv.params(v) == 34_944
    assert conv.param_formula(v) == "96×11×11×3 + 96 = 34,944"


@pytest.mark.parametrize("f", [1, 3, 5, 7, 11])
def test_same_padding_keeps_the_size(f):
    v = Volume(32, 24, 3)
    out = Conv(filters=4, size=f, stride=1, pad=(f - 1) // 2).output_shape(v)
    assert (out.width, out.height) == (32, 24)


def test_invalid_stride_shows_the_arithmetic_and_ways_out():
    with pytest.raises(ShapeError, match=r"\(10 − 3 \+ 2·0\)/2 \+ 1 = 4\.5 is not a whole number") as info:
        Conv(filters=4, size=3, stride=2).output_shape(Volume(10, 10, 3))
    message = info.value.message
    assert "S=1 (→ 8)" in message
    assert "zero-pad to fit (→ 5)" in message and "crop to fit (→ 4)" in message
    labels = [fix.label for fix in info.value.fixes]
    assert labels == ["S=1 (→ 8)", "zero-pad to fit (→ 5)", "crop to fit (→ 4)"]


def test_nearest_valid_padding_is_suggested_when_one_exists():
    result = slide(10, 3, 3, 0)  # (10 − 3)/3 + 1 = 3.33; P=1 gives (10 − 3 + 2)/3 + 1 = 4
    assert result.size is None
    assert "3.33" in result.formula
    assert [f.changes for f in result.fixes][:2] == [{"pad": 1}, {"stride": 1}]


def test_pad_and_crop_policies_give_what_the_engine_produces():
    padded = slide(10, 3, 2, 0, policy="pad", axis="H")
    assert (padded.size, padded.extra, padded.dropped) == (5, 1, 0)
    assert padded.formula == "(10 − 3 + 2·0 + 1)/2 + 1 = 5 (1 zero row added at the bottom)"
    cropped = slide(10, 3, 2, 0, policy="crop", axis="W")
    assert (cropped.size, cropped.extra, cropped.dropped) == (4, 0, 1)
    assert cropped.formula == "(10 − 1 − 3 + 2·0)/2 + 1 = 4 (last column dropped)"


def test_fixes_make_the_layer_valid():
    v = Volume(10, 10, 3)
    conv = Conv(filters=4, size=3, stride=2)
    with pytest.raises(ShapeError) as info:
        conv.output_shape(v)
    expected = {"S=1 (→ 8)": 8, "zero-pad to fit (→ 5)": 5, "crop to fit (→ 4)": 4}
    for fix in info.value.fixes:
        fixed = dataclasses.replace(conv, **fix.changes)
        assert fixed.output_shape(v).width == expected[fix.label]


def test_dilation_widens_the_window():
    # F' = 2·(3 − 1) + 1 = 5: (9 − 5 + 0)/1 + 1 = 5
    out = Conv(filters=1, size=3, dilation=2).output_shape(Volume(9, 9, 1))
    assert out.width == 5


def test_per_axis_values():
    conv = Conv(filters=2, size=(3, 5), stride=(1, 2), pad=(1, 0))
    out = conv.output_shape(Volume(11, 8, 1))  # W: (11 − 5)/2 + 1 = 4; H: (8 − 3 + 2)/1 + 1 = 8
    assert (out.width, out.height) == (4, 8)
    assert conv.params(Volume(11, 8, 1)) == 2 * 3 * 5 + 2


def test_uneven_on_one_axis_names_the_axis_and_fixes_only_it():
    with pytest.raises(ShapeError, match="^along H: ") as info:
        Conv(filters=1, size=3, stride=(2, 1)).output_shape(Volume(10, 10, 1))
    stride_fix = next(f for f in info.value.fixes if "stride" in f.changes)
    assert stride_fix.changes == {"stride": 1}


def test_window_larger_than_padded_input():
    with pytest.raises(ShapeError, match=r"F=5 is larger than the padded input W \+ 2P = 3 \+ 2·0 = 3"):
        MaxPool(size=5, stride=1).output_shape(Volume(3, 3, 8))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stride": 0}, "S must be a positive whole number, got S=0"),
        ({"pad": -1}, "P must be a whole number ≥ 0, got P=-1"),
        ({"f": 0}, "F must be a positive whole number, got F=0"),
    ],
)
def test_impossible_values_have_their_own_message(kwargs, message):
    args = {"n": 10, "f": 3, "s": 1, "p": 0}
    args.update({("s" if k == "stride" else "p" if k == "pad" else k): v for k, v in kwargs.items()})
    assert slide(**args).error == message


def test_pool_padding_must_be_smaller_than_the_window():
    with pytest.raises(ShapeError, match="pooling padding must be smaller than the window: P=2 with F=2") as info:
        MaxPool(size=2, stride=2, pad=2).output_shape(Volume(8, 8, 1))
    assert info.value.fixes[0].changes == {"pad": 1}


def test_a_square_policy_says_what_it_adds_on_both_axes():
    """Issue: the square pad-to-fit formula named only the column added at the right."""
    v = Volume(8, 8, 1)
    assert MaxPool(size=3, stride=2, policy="pad").size_formula(v) == (
        "(8 − 3 + 2·0 + 1)/2 + 1 = 4 (1 zero row and column added at the bottom and right)"
    )
    assert MaxPool(size=3, stride=3, policy="crop").size_formula(v) == "(8 − 2 − 3 + 2·0)/3 + 1 = 2 (last 2 rows and columns dropped)"
    assert MaxPool(size=3, stride=2, policy="pad").size_formula(Volume(8, 9, 1)) == (
        "W: (8 − 3 + 2·0 + 1)/2 + 1 = 4 (1 zero column added at the right); H: (9 − 3 + 2·0)/2 + 1 = 4"
    )
