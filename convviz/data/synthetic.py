"""An offline 10-class data set of 32×32 RGB images drawn procedurally: stripes, checks, shapes, dots.

For demos and tests when CIFAR-10 is not at hand. Each image has a random background colour, a
foreground colour at least 80 levels away in every channel, a random position, size, period or phase,
and uniform pixel noise of ±20 levels, so the class is told by shape and texture alone, never by colour or place;
a small CNN learns it within an epoch or two.
"""

from __future__ import annotations

import numpy as np

from convviz.data.dataset import ImageDataset, LabelledImages
from convviz.data.errors import DataError

SIZE = 32
NOISE = 20  # pixel noise, uniform in [−NOISE, NOISE] levels


def _stripes(angle_deg: float):
    def draw(rng, n, y, x):
        theta = np.deg2rad(angle_deg + rng.uniform(-10, 10, (n, 1, 1)))
        period = rng.uniform(4, 9, (n, 1, 1))
        u = x * np.cos(theta) + y * np.sin(theta) + rng.uniform(0, period)
        return np.mod(u, period) < period / 2
    return draw


def _checkerboard(rng, n, y, x):
    cell = rng.uniform(3, 7, (n, 1, 1))
    oy, ox = rng.uniform(0, 2 * cell), rng.uniform(0, 2 * cell)
    return (np.floor((y + oy) / cell) + np.floor((x + ox) / cell)) % 2 == 1


def _centred(draw):
    """Give ``draw`` the offsets (dy, dx) from a random centre in the middle 40% of the image."""
    def centred(rng, n, y, x):
        cy, cx = rng.uniform(0.3 * SIZE, 0.7 * SIZE, (2, n, 1, 1))
        return draw(rng, n, y - cy, x - cx)
    return centred


@_centred
def _disc(rng, n, dy, dx):
    return np.hypot(dy, dx) < rng.uniform(5, 11, (n, 1, 1))


@_centred
def _square(rng, n, dy, dx):
    return np.maximum(np.abs(dy), np.abs(dx)) < rng.uniform(4, 10, (n, 1, 1))


@_centred
def _triangle(rng, n, dy, dx):
    half = rng.uniform(5, 11, (n, 1, 1))  # apex at dy = −half, base of width 2·half at dy = +half
    return (np.abs(dy) < half) & (np.abs(dx) < (dy + half) / 2)


@_centred
def _ring(rng, n, dy, dx):
    radius, thickness = rng.uniform(7, 12, (n, 1, 1)), rng.uniform(2.5, 4.5, (n, 1, 1))
    return np.abs(np.hypot(dy, dx) - radius) < thickness / 2


@_centred
def _cross(rng, n, dy, dx):
    arm, half_width = rng.uniform(7, 12, (n, 1, 1)), rng.uniform(1.5, 3, (n, 1, 1))
    ady, adx = np.abs(dy), np.abs(dx)
    return ((ady < half_width) & (adx < arm)) | ((adx < half_width) & (ady < arm))


def _dots(rng, n, y, x):
    spacing = rng.uniform(6, 10, (n, 1, 1))
    radius = rng.uniform(1.6, 2.6, (n, 1, 1))
    oy, ox = rng.uniform(0, spacing), rng.uniform(0, spacing)
    py = np.mod(y + oy, spacing) - spacing / 2
    px = np.mod(x + ox, spacing) - spacing / 2
    return np.hypot(py, px) < radius


#: class name → function(rng, n, y, x) giving n boolean (32, 32) foreground masks
_CLASSES = {
    "horizontal stripes": _stripes(90),
    "vertical stripes": _stripes(0),
    "diagonal stripes": _stripes(45),
    "checkerboard": _checkerboard,
    "disc": _disc,
    "square": _square,
    "triangle": _triangle,
    "ring": _ring,
    "cross": _cross,
    "dots": _dots,
}
SYNTHETIC_CLASSES = tuple(_CLASSES)


def generate_shapes(count: int, seed: int) -> LabelledImages:
    """``count`` images (N, 3, 32, 32) uint8, the classes balanced and shuffled; the same seed
    gives the same images."""
    if type(count) is not int or count < 0:
        raise DataError(f"image count must be a whole number ≥ 0, got {count!r}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % len(_CLASSES))
    y, x = np.mgrid[0:SIZE, 0:SIZE][:, None] + 0.5  # pixel centres, each (1, 32, 32)
    masks = np.empty((count, SIZE, SIZE), dtype=bool)
    for label, draw in enumerate(_CLASSES.values()):
        where = np.flatnonzero(labels == label)
        masks[where] = draw(rng, len(where), y, x)
    background = rng.integers(0, 256, (count, 3, 1, 1), dtype=np.int16)
    foreground = (background + rng.integers(80, 177, (count, 3, 1, 1), dtype=np.int16)) % 256
    images = np.where(masks[:, None], foreground, background)
    images += rng.integers(-NOISE, NOISE + 1, images.shape, dtype=np.int16)
    return LabelledImages(np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64))


def synthetic_dataset(train: int = 10_000, test: int = 2_000, validation: int | float = 0.1,
                      seed: int = 0) -> ImageDataset:
    """The procedural data set as an ``ImageDataset`` named ``synthetic``; test images are drawn
    from a stream of their own, so they never repeat a training image."""
    return ImageDataset.build(
        "synthetic", SYNTHETIC_CLASSES,
        train=generate_shapes(train, seed), test=generate_shapes(test, seed + 1_000_003),
        validation=validation, seed=seed,
    )
