"""A user's own PNG or JPEG becomes a network input for the prediction views."""

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPainter

from convviz.data import DataError
from convviz.ui.widgets.image_file import load_input_image, read_image_file


def write_picture(path, width=90, height=60):
    """Left half red, right half blue, one green pixel at the top-left corner."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    painter.fillRect(0, 0, width // 2, height, QColor(255, 0, 0))
    painter.fillRect(width // 2, 0, width - width // 2, height, QColor(0, 0, 255))
    painter.end()
    image.setPixelColor(0, 0, QColor(0, 255, 0))
    assert image.save(str(path))
    return path


def test_png_is_read_pixel_for_pixel(tmp_path):
    pixels = read_image_file(write_picture(tmp_path / "picture.png"))

    assert pixels.shape == (60, 90, 3) and pixels.dtype == np.uint8
    assert tuple(pixels[0, 0]) == (0, 255, 0)
    assert tuple(pixels[30, 10]) == (255, 0, 0) and tuple(pixels[30, 80]) == (0, 0, 255)


def test_jpeg_is_read_and_fitted_to_the_network_input(tmp_path):
    fitted = load_input_image(write_picture(tmp_path / "picture.jpg"), 32, 32, 3)

    assert fitted.shape == (32, 32, 3)
    assert np.abs(fitted[16, 2].astype(int) - (255, 0, 0)).max() < 40, "left side stays red"
    assert np.abs(fitted[16, 29].astype(int) - (0, 0, 255)).max() < 40, "right side stays blue"


def test_odd_width_rows_are_not_skewed(tmp_path):
    # Qt pads each RGB888 row to 4 bytes; an odd width shows whether the padding is skipped
    pixels = read_image_file(write_picture(tmp_path / "odd.png", width=33, height=7))

    assert (pixels[:, 20] == (0, 0, 255)).all() and (pixels[1:, 0] == (255, 0, 0)).all()


def test_unreadable_file_is_explained(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")

    with pytest.raises(DataError, match=r"cannot read .*broken.png as a picture \(.*\); readable formats: .*jpeg.*png"):
        read_image_file(broken)
