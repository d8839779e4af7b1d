"""Fit a user's picture to a network's input: centre crop to its aspect, resize, set the channels.

Downscaling averages the input pixels under each output pixel (area resampling, so a large photo
does not alias); upscaling interpolates linearly. Both are done as two matrix products per channel,
``out = R_h · image · R_wᵀ``, with each row of R_h (H_out × H_in) and R_w summing to 1.
"""

from __future__ import annotations

import numpy as np

from convviz.data.errors import DataError

#: ITU-R BT.601 luma weights for turning RGB into one grey channel
LUMA = np.array([0.299, 0.587, 0.114])


def fit_image(image: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """image: (H, W, C) or (H, W) uint8, C in {1, 3, 4} → (height, width, channels) uint8.

    The largest centred window with the target's aspect ratio is kept, then resized; RGBA loses
    its alpha, RGB becomes grey for ``channels=1``, and grey is repeated for ``channels=3``.
    """
    if channels not in (1, 3):
        raise DataError(f"a network input needs 1 (grey) or 3 (RGB) channels, got {channels}")
    if height < 1 or width < 1:
        raise DataError(f"the target size must be at least 1×1, got {height}×{width}")
    rgb = _as_float_channels(image)
    rgb = _centre_crop(rgb, height / width)
    rh, rw = resample_matrix(rgb.shape[0], height), resample_matrix(rgb.shape[1], width)
    out = np.einsum("oh,hwc,pw->opc", rh, rgb, rw, optimize=True)
    if channels == 1 and out.shape[2] == 3:
        out = out @ LUMA[:, None]
    elif channels == 3 and out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def resample_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) weights mapping a row of pixels to a resized row; each row sums to 1."""
    if size_out <= size_in:  # area: output pixel j covers input [j·s, (j+1)·s), s = size_in / size_out
        scale = size_in / size_out
        edges = np.arange(size_out + 1) * scale
        starts, ends = edges[:-1, None], edges[1:, None]
        pixel = np.arange(size_in)[None, :]
        overlap = np.clip(np.minimum(ends, pixel + 1) - np.maximum(starts, pixel), 0, None)
        return overlap / scale
    # linear: output pixel centre j + ½ sits at input coordinate (j + ½)·size_in/size_out − ½
    position = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
    left = np.floor(position).astype(int)
    right = np.minimum(left + 1, size_in - 1)
    weight = position - left
    matrix = np.zeros((size_out, size_in))
    matrix[np.arange(size_out), left] += 1 - weight
    matrix[np.arange(size_out), right] += weight
    return matrix


def _as_float_channels(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or image.dtype != np.uint8 or 0 in image.shape:
        raise DataError(f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 image, "
                        f"got shape {image.shape} and dtype {image.dtype}")
    return image[:, :, :3].astype(np.float32)


def _centre_crop(image: np.ndarray, aspect: float) -> np.ndarray:
    """The largest centred window of height/width ``aspect``."""
    h, w = image.shape[:2]
    if h / w > aspect:
        keep = max(1, round(w * aspect))
        top = (h - keep) // 2
        return image[top:top + keep]
    keep = max(1, round(h / aspect))
    left = (w - keep) // 2
    return image[:, left:left + keep]
