"""The data set object shared by the trainer and the views.

Images are kept as uint8 ``(N, C, H, W)``, as stored; batches are made on demand as normalized
float32 ``(B, C, H, W)``: ``x = (pixels / 255 − mean[c]) / std[c]``, with mean and std per channel
measured on the training split only (never on validation or test images).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from convviz.data.augment import Augmentation
from convviz.data.errors import DataError

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class LabelledImages:
    """``images``: (N, C, H, W) uint8; ``labels``: (N,) int64 class indices."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: np.ndarray) -> LabelledImages:
        return LabelledImages(self.images[indices], self.labels[indices])

    def class_counts(self, num_classes: int) -> np.ndarray:
        """(num_classes,) number of images of each class."""
        return np.bincount(self.labels, minlength=num_classes)

    @staticmethod
    def concatenate(parts: Sequence[LabelledImages]) -> LabelledImages:
        return LabelledImages(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``mean`` and ``std`` of pixel values in [0, 1]; ``apply`` maps uint8 to float32."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def measure(cls, images: np.ndarray, chunk: int = 4096) -> Normalization:
        """Mean and std per channel of ``images`` (N, C, H, W) uint8, accumulated in float64 chunks."""
        channels = images.shape[1]
        total, total_sq = np.zeros(channels), np.zeros(channels)
        for start in range(0, len(images), chunk):
            x = images[start:start + chunk].astype(np.float32)
            total += x.sum(axis=(0, 2, 3), dtype=np.float64)
            total_sq += np.einsum("nchw,nchw->c", x, x, dtype=np.float64)
        count = images.size / channels
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        std = np.where(std > 0, std, 255.0)  # a constant channel: leave its scale alone
        return cls(tuple(float(v) for v in mean / 255), tuple(float(v) for v in std / 255))

    def apply(self, images: np.ndarray) -> np.ndarray:
        """(N, C, H, W) uint8 → float32 ``(x / 255 − mean) / std``."""
        if images.ndim != 4 or images.shape[1] != len(self.mean):
            raise DataError(f"expected images of shape (N, {len(self.mean)}, H, W), got {images.shape}")
        scale = (1.0 / (255.0 * np.asarray(self.std))).astype(np.float32)[:, None, None]
        offset = (-np.asarray(self.mean) / np.asarray(self.std)).astype(np.float32)[:, None, None]
        return images.astype(np.float32) * scale + offset

    def to_pixels(self, x: np.ndarray) -> np.ndarray:
        """The inverse of ``apply``: (N, C, H, W) float32 → uint8, for showing a batch as pictures."""
        mean, std = np.asarray(self.mean)[:, None, None], np.asarray(self.std)[:, None, None]
        return np.clip(np.rint((x * std + mean) * 255), 0, 255).astype(np.uint8)


class ImageDataset:
    """A labelled image data set: train / validation / test splits, class names and normalization.

    Build it with ``ImageDataset.build``. ``batch`` and ``batches`` give normalized float32 NCHW
    batches (optionally augmented); ``raw_image`` gives one stored image for display.
    """

    def __init__(self, name: str, class_names: Sequence[str], splits: dict[str, LabelledImages],
                 normalization: Normalization):
        self.name = name
        self.class_names = tuple(class_names)
        self.splits = splits
        self.normalization = normalization

    @classmethod
    def build(cls, name: str, class_names: Sequence[str], train: LabelledImages, test: LabelledImages,
              validation: int | float = 0.1, seed: int = 0) -> ImageDataset:
        """Hold out ``validation`` training images (a count, or a fraction below 1) as the validation
        split, chosen at random with ``seed``; measure the normalization on what is left."""
        count = _validation_count(validation, len(train))
        order = np.random.default_rng(seed).permutation(len(train))
        held_out, kept = np.sort(order[:count]), np.sort(order[count:])
        splits = {"train": train.take(kept), "validation": train.take(held_out), "test": test}
        return cls(name, class_names, splits, Normalization.measure(splits["train"].images))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(self.splits["test"].images.shape[1:])

    def split(self, name: str) -> LabelledImages:
        try:
            return self.splits[name]
        except KeyError:
            raise DataError(f"unknown split {name!r}: choose one of {', '.join(SPLITS)}") from None

    def batch(self, split: str, indices: np.ndarray, augmentation: Augmentation | None = None,
              rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Images ``indices`` of ``split``: x (B, C, H, W) float32 normalized, y (B,) int64.
        With ``augmentation``, each image is randomly transformed using ``rng``."""
        part = self.split(split)
        x = self.normalization.apply(part.images[indices])
        if augmentation is not None:
            if rng is None:
                raise DataError("augmentation needs a random generator: pass rng=np.random.default_rng(seed)")
            x = augmentation.apply(x, rng)
        return x, part.labels[indices]

    def batches(self, split: str, batch_size: int, rng: np.random.Generator | None = None,
                shuffle: bool = True, augmentation: Augmentation | None = None,
                drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch of ``batch``es of ``split``, in an order drawn from ``rng`` when ``shuffle``."""
        if type(batch_size) is not int or batch_size < 1:
            raise DataError(f"batch size must be a positive integer, got {batch_size!r}")
        if (shuffle or augmentation is not None) and rng is None:
            raise DataError("shuffling and augmentation need a random generator: pass rng=np.random.default_rng(seed)")
        count = len(self.split(split))
        order = rng.permutation(count) if shuffle else np.arange(count)
        stop = count - count % batch_size if drop_last else count
        for start in range(0, stop, batch_size):
            yield self.batch(split, order[start:start + batch_size], augmentation, rng)

    def raw_image(self, split: str, index: int) -> np.ndarray:
        """One stored image as (H, W, C) uint8, for display."""
        part = self.split(split)
        if not -len(part) <= index < len(part):
            raise DataError(f"image {index} is out of range: the {split} split has {len(part)} images")
        return np.ascontiguousarray(part.images[index].transpose(1, 2, 0))

    def label(self, split: str, index: int) -> int:
        return int(self.split(split).labels[index])


def _validation_count(validation: int | float, available: int) -> int:
    if isinstance(validation, float) and 0.0 <= validation < 1.0:
        count = round(validation * available)
    elif type(validation) is int and 0 <= validation:
        count = validation
    else:
        raise DataError(
            f"validation must be a number of images (0 or more) or a fraction in [0, 1), got {validation!r}"
        )
    if count >= available:
        raise DataError(
            f"validation split of {count} images leaves no training images: there are {available} in all"
        )
    return count
