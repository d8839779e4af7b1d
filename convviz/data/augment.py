"""Random augmentation of normalized image batches: horizontal flip and crop with padding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """``flip``: mirror each image left–right with probability 1/2.
    ``crop_padding``: zero-pad each side by P pixels and cut a random H×W window back out
    (0 turns it off); zero is the mean colour, since batches are normalized first."""

    flip: bool = True
    crop_padding: int = 4

    def __post_init__(self):
        if type(self.crop_padding) is not int or self.crop_padding < 0:
            raise ValueError(f"crop padding must be a whole number of pixels ≥ 0, got {self.crop_padding!r}")

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """x: (B, C, H, W) float32 → a new augmented array of the same shape."""
        if self.crop_padding:
            x = random_crop(x, self.crop_padding, rng)
        if self.flip:
            x = random_flip(x, rng)
        return x


def random_flip(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror each image of x (B, C, H, W) left–right with probability 1/2."""
    flip = rng.random(len(x)) < 0.5
    out = x.copy()
    out[flip] = x[flip, :, :, ::-1]
    return out


def random_crop(x: np.ndarray, padding: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-pad x (B, C, H, W) by ``padding`` on every side, then cut each image's H×W window at a
    random offset (0 … 2·padding in each direction)."""
    n, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    top, left = rng.integers(0, 2 * padding + 1, size=(2, n))
    out = np.empty_like(x)
    for i in range(n):
        out[i] = padded[i, :, top[i]:top[i] + h, left[i]:left[i] + w]
    return out
