"""The probe images a run's snapshots show: one per class of the data set, then the user's own.

:func:`one_per_class` picks the data set's probes: the first image of each class of the probe split,
in class order (then the second of each, and so on, if more are asked for than there are classes).
:class:`UserProbes` are pictures the user added, already fitted to the input volume;
:func:`probe_batch` puts both together as the network input of a snapshot, normalized as the data
set normalizes its images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convviz.training.records import frozen_copy

#: Pixel scaling for user probes when no data set is known: (x/255 − 0.5)/0.25, about a photo's range.
NEUTRAL_MEAN, NEUTRAL_STD = 0.5, 0.25


def one_per_class(labels: np.ndarray, count: int) -> np.ndarray:
    """Indices (≤ count,) into ``labels`` (N,): the first image of each class in class order, then
    the second of each, …; fewer when the split has fewer images.

    >>> one_per_class(np.array([2, 0, 0, 1, 2]), 4).tolist()
    [1, 3, 0, 2]
    """
    labels = np.asarray(labels)
    ranks = np.zeros(len(labels), dtype=np.int64)  # how many earlier images share each image's class
    for cls in np.unique(labels):
        where = np.flatnonzero(labels == cls)
        ranks[where] = np.arange(len(where))
    order = np.lexsort((labels, ranks))  # by rank, then by class
    return order[:count].astype(np.int64)


def probe_name(split: str, index: int, label: int, class_names) -> str:
    """``validation #12 (cat)``: where a data set's probe comes from, and its class."""
    known = 0 <= label < len(class_names)
    return f"{split} #{index}" + (f" ({class_names[label]})" if known else "")


@dataclass(frozen=True)
class UserProbes:
    """The user's own probe images: ``images`` (P, H, W, C) uint8 fitted to the input volume,
    ``labels`` (P,) int64 (−1: class unknown), ``names`` (P,) what each is called (its file's name)."""

    images: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(f"user probes are (P, H, W, C) uint8 images, got {images.dtype} {images.shape}")
        if labels.shape != (len(images),) or len(self.names) != len(images):
            raise ValueError(f"{len(images)} user probes need as many labels and names, "
                             f"got {labels.shape[0] if labels.ndim else 0} labels and {len(self.names)} names")
        object.__setattr__(self, "images", frozen_copy(images))
        object.__setattr__(self, "labels", frozen_copy(labels.astype(np.int64)))
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def empty(cls, height: int, width: int, channels: int) -> UserProbes:
        return cls(np.zeros((0, height, width, channels), np.uint8), np.zeros(0, np.int64), ())


@dataclass(frozen=True)
class ProbeBatch:
    """A snapshot's probes: x (P, C, H, W) float32 normalized, labels (P,) (−1: unknown), the images
    as stored (P, H, W, C) uint8, and their names."""

    x: np.ndarray
    labels: np.ndarray
    images: np.ndarray
    names: tuple[str, ...]


def probe_batch(dataset, split: str, indices: np.ndarray, user: UserProbes | None = None,
                normalization=None) -> ProbeBatch:
    """Images ``indices`` of ``dataset``'s ``split`` (``dataset`` None: none), then ``user``'s, all
    scaled as the data set scales its images (``normalization`` overrides; neither: the neutral
    (x/255 − 0.5)/0.25). User images of another size than the data set's are left out (they were
    fitted to another network); with no image at all, ValueError."""
    parts_x, parts_y, parts_images, names = [], [], [], []
    if dataset is not None and len(indices):
        x, y = dataset.batch(split, indices)
        parts_x.append(x)
        parts_y.append(np.asarray(y, dtype=np.int64))
        parts_images.append(dataset.split(split).images[indices].transpose(0, 2, 3, 1))
        names += [probe_name(split, int(i), int(label), dataset.class_names) for i, label in zip(indices, y)]
        normalization = normalization or dataset.normalization
    if user is not None and len(user):
        chw = np.ascontiguousarray(user.images.transpose(0, 3, 1, 2))
        if not parts_x or chw.shape[1:] == parts_x[0].shape[1:]:  # else they were fitted to another network
            parts_x.append(_normalize(chw, normalization))
            parts_y.append(user.labels)
            parts_images.append(user.images)
            names += list(user.names)
    if not parts_x:
        raise ValueError("there are no probe images: no data set, and none of the user's own")
    return ProbeBatch(np.concatenate(parts_x), np.concatenate(parts_y), np.concatenate(parts_images), tuple(names))


def _normalize(chw: np.ndarray, normalization) -> np.ndarray:
    """(P, C, H, W) uint8 → float32 as ``normalization.apply`` does, or neutrally without one."""
    if normalization is not None and len(normalization.mean) == chw.shape[1]:
        return normalization.apply(chw)
    return ((chw / 255.0 - NEUTRAL_MEAN) / NEUTRAL_STD).astype(np.float32)
