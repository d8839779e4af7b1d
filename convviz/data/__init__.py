"""Data sets for ConvViz (no Qt): CIFAR-10 fetched into a per-user cache and loaded safely, an offline
procedural data set, augmentation, and fitting a user's picture to a network's input.

- ``load_dataset("cifar10" | "synthetic" | PATH)`` → ``ImageDataset`` (train / validation / test,
  class names, normalization, NCHW float32 batches, raw images for the views)
- ``fetch_cifar10(...)``, ``find_cifar10()``, ``cache_dir()``: the cache
- ``read_cifar10(PATH)``: the raw arrays of an archive or extracted folder
- ``fit_image(image, H, W, C)``: a user's picture as a network input
"""

from convviz.data.augment import Augmentation
from convviz.data.cache import cache_dir
from convviz.data.cifar10 import CIFAR10_MD5, CIFAR10_URL, read_cifar10
from convviz.data.dataset import ImageDataset, LabelledImages, Normalization
from convviz.data.download import Progress
from convviz.data.errors import ChecksumError, DataError, UnsafePickleError
from convviz.data.image_fit import fit_image
from convviz.data.sources import load_dataset
from convviz.data.store import fetch_cifar10, find_cifar10
from convviz.data.synthetic import SYNTHETIC_CLASSES, synthetic_dataset

__all__ = [
    "Augmentation", "CIFAR10_MD5", "CIFAR10_URL", "ChecksumError", "DataError", "ImageDataset",
    "LabelledImages", "Normalization", "Progress", "SYNTHETIC_CLASSES", "UnsafePickleError", "cache_dir",
    "fetch_cifar10", "find_cifar10", "fit_image", "load_dataset", "read_cifar10", "synthetic_dataset",
]
