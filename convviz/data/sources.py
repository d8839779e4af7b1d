"""Open a data set by the name a user types: ``cifar10``, ``synthetic``, or a path to CIFAR-10."""

from __future__ import annotations

import os
from pathlib import Path

from convviz.data.cache import cache_dir
from convviz.data.cifar10 import read_cifar10
from convviz.data.dataset import ImageDataset
from convviz.data.errors import DataError
from convviz.data.store import find_cifar10
from convviz.data.synthetic import synthetic_dataset

SOURCE_NAMES = ("cifar10", "synthetic")


def load_dataset(source: str | os.PathLike, *, validation: int | float = 0.1, seed: int = 0,
                 cache: str | os.PathLike | None = None) -> ImageDataset:
    """``cifar10`` (from the cache), ``synthetic`` (generated), or a CIFAR-10 archive or folder path.

    ``validation`` training images (a count or a fraction) are held out with ``seed``.
    """
    if str(source) == "synthetic":
        return synthetic_dataset(validation=validation, seed=seed)
    if str(source) == "cifar10":
        path = find_cifar10(cache)
        if path is None:
            raise DataError(
                f"CIFAR-10 is not in the cache ({cache_dir(cache) / 'cifar10'}): run `convviz data fetch` "
                "to download it (170 MB), or `convviz data fetch --archive PATH` to use a copy you have"
            )
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"data set {str(source)!r} is neither {' nor '.join(SOURCE_NAMES)} "
                            "nor an existing CIFAR-10 archive or folder")
    arrays = read_cifar10(path)
    return ImageDataset.build("cifar10", arrays.class_names, arrays.train, arrays.test,
                              validation=validation, seed=seed)
