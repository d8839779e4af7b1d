"""Read a user's picture (PNG, JPEG and the other formats Qt reads) into a numpy array, and fit it to
a network's input for the step-through and prediction views."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtGui import QImage, QImageReader

from convviz.data.errors import DataError
from convviz.data.image_fit import fit_image


def read_image_file(path: str | os.PathLike) -> np.ndarray:
    """The picture at ``path`` as (H, W, 3) uint8 RGB, turned upright as its EXIF orientation says."""
    reader = QImageReader(os.fspath(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        formats = ", ".join(sorted(bytes(f).decode() for f in QImageReader.supportedImageFormats()))
        raise DataError(f"cannot read {path} as a picture ({reader.errorString()}); readable formats: {formats}")
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), np.uint8, count=height * image.bytesPerLine())
    return rows.reshape(height, image.bytesPerLine())[:, :width * 3].reshape(height, width, 3).copy()


def load_input_image(path: str | os.PathLike, height: int, width: int, channels: int) -> np.ndarray:
    """The picture at ``path`` fitted to a network input: (height, width, channels) uint8."""
    return fit_image(read_image_file(path), height, width, channels)
