"""A user's picture becomes a network input: centre-cropped to the input's aspect, resized without
aliasing, with the channels the network expects."""

import numpy as np
import pytest

from convviz.data import DataError, fit_image
from convviz.data.image_fit import resample_matrix


def test_downscaling_averages_the_pixels_under_each_output_pixel():
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)

    out = fit_image(image, 32, 32, 3)

    blocks = image.reshape(32, 2, 32, 2, 3).astype(float).mean(axis=(1, 3))
    np.testing.assert_array_equal(out, np.rint(blocks).astype(np.uint8))


def test_fine_stripes_average_out_instead_of_aliasing():
    stripes = np.zeros((300, 300, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes, far finer than the output grid

    out = fit_image(stripes, 32, 32, 3)

    # each output pixel covers 300/32 = 9.375 stripes: grey within one stripe's share (255/9.375/2)
    assert np.abs(out.astype(int) - 128).max() <= 14, "sampling single pixels would give 0 or 255"


def test_wide_picture_is_centre_cropped_to_the_input_aspect():
    image = np.zeros((40, 120, 3), np.uint8)
    image[:, :40] = (255, 0, 0)  # left third red
    image[:, 40:80] = (0, 0, 255)  # middle third blue
    image[:, 80:] = (0, 255, 0)  # right third green

    out = fit_image(image, 20, 20, 3)

    assert out.shape == (20, 20, 3)
    assert (out == (0, 0, 255)).all()


def test_upscaling_keeps_flat_areas_flat_and_interpolates_edges():
    image = np.full((4, 4, 3), 90, np.uint8)
    image[:, 2:] = 210

    out = fit_image(image, 32, 32, 3)

    assert (out[:, :8] == 90).all() and (out[:, -8:] == 210).all()
    assert (np.diff(out[0, :, 0].astype(int)) >= 0).all(), "the edge becomes a ramp, never overshoots"


@pytest.mark.parametrize("image, channels, expected", [
    (np.full((8, 8, 3), (255, 0, 0), np.uint8), 1, round(0.299 * 255)),  # red → its luma
    (np.full((8, 8), 77, np.uint8), 3, (77, 77, 77)),  # grey → three equal planes
    (np.full((8, 8, 4), (10, 20, 30, 0), np.uint8), 3, (10, 20, 30)),  # alpha dropped
])
def test_channels_are_converted_to_what_the_network_takes(image, channels, expected):
    out = fit_image(image, 4, 4, channels)

    assert out.shape == (4, 4, channels)
    assert (out == expected).all()


def test_resample_rows_sum_to_one():
    for size_in, size_out in [(100, 32), (32, 32), (7, 32), (33, 32)]:
        np.testing.assert_allclose(resample_matrix(size_in, size_out).sum(axis=1), 1.0)


@pytest.mark.parametrize("image, size, message", [
    (np.zeros((8, 8, 3), np.uint8), (4, 4, 2), r"a network input needs 1 \(grey\) or 3 \(RGB\) channels, got 2"),
    (np.zeros((8, 8, 3), np.float32), (4, 4, 3), r"expected an \(H, W\), .* uint8 image, got shape \(8, 8, 3\) and dtype float32"),
    (np.zeros((8, 8, 2), np.uint8), (4, 4, 3), r"got shape \(8, 8, 2\)"),
    (np.zeros((8, 8, 3), np.uint8), (0, 4, 3), r"the target size must be at least 1×1, got 0×4"),
])
def test_bad_input_is_explained(image, size, message):
    with pytest.raises(DataError, match=message):
        fit_image(image, *size)
