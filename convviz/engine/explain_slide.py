"""FC → CONV in the step-through: the converted network slid over a larger image in one pass, and one
position of its class-score map checked against the original network on that crop (numpy only).

    m = slide_map(net, image)                # image (C, H, W) larger than the network's input
    m.scores                                 # (K, H', W'): every class's score at every crop position
    e = explain_slide_cell(net, m, k, i, j)  # the crop at m.converted.offset(i, j) through the original
    e.map_score, e.crop_score, e.matches     # equal when the conversion is exact (no padding anywhere)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convviz.engine.fc_to_conv import ConvertedNetwork, fc_to_conv
from convviz.engine.layer_base import as_4d


@dataclass
class SlideMap:
    """The all-conv network (``converted``), the ``image`` (C, H, W) it ran on and its ``scores`` (K, H', W')."""

    converted: ConvertedNetwork
    image: np.ndarray
    scores: np.ndarray

    @property
    def exact(self) -> bool:
        return self.converted.exact


@dataclass
class SlideCell:
    """Map position (i, j) of class ``k``: the crop's top-left ``offset`` and ``size`` on the image, the
    map's score and the original network's on the crop, their difference and whether they agree."""

    k: int
    i: int
    j: int
    offset: tuple[int, int]
    size: tuple[int, int]
    map_score: float
    crop_score: float
    difference: float
    matches: bool


def mosaic(images, rows: int, cols: int) -> np.ndarray:
    """``rows``·``cols`` images (C, H, W) side by side, row by row: (C, rows·H, cols·W)."""
    images = [np.asarray(im) for im in images]
    if len(images) != rows * cols:
        raise ValueError(f"a {rows}×{cols} mosaic needs {rows * cols} images, got {len(images)}")
    return np.concatenate([np.concatenate(images[r * cols:(r + 1) * cols], axis=2) for r in range(rows)], axis=1)


def slide_map(net, image: np.ndarray) -> SlideMap:
    """Convert ``net`` for ``image``'s size (``fc_to_conv``) and run it once: the class-score map.
    Raises ValueError when the network cannot slide or the image is smaller than its input."""
    image = np.asarray(image, dtype=net.dtype)
    _, h, w = image.shape
    window = (net.spec.input.height, net.spec.input.width)
    if h < window[0] or w < window[1]:
        raise ValueError(f"the image ({w}×{h}) must be at least the network's input ({window[1]}×{window[0]})")
    converted = fc_to_conv(net, (h, w))
    scores = as_4d(converted.network.forward(image[None], train=False))[0]
    return SlideMap(converted, image, np.array(scores, copy=True))


def explain_slide_cell(net, m: SlideMap, k: int, i: int, j: int) -> SlideCell:
    """Class ``k`` at map position (i, j), beside the original network's score on the crop it sees."""
    K, H, W = m.scores.shape
    if not (0 <= k < K and 0 <= i < H and 0 <= j < W):
        raise ValueError(f"map position (k, i, j) = ({k}, {i}, {j}) is outside the map {K}×{H}×{W}")
    r, c = m.converted.offset(i, j)
    h, w = m.converted.window
    crop = m.image[:, r:r + h, c:c + w]
    crop_score = float(np.asarray(net.forward(crop[None], train=False)).reshape(-1)[k])
    map_score = float(m.scores[k, i, j])
    difference = map_score - crop_score
    tol = 1e-9 if net.dtype == np.float64 else 1e-4
    return SlideCell(k, i, j, (r, c), (h, w), map_score, crop_score, difference,
                     abs(difference) <= tol * max(1.0, abs(crop_score)))
