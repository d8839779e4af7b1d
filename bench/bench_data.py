"""How long the data layer takes: loading CIFAR-10, building the data set, making batches.

    python bench/bench_data.py [PATH]    (default: ../shared/cifar10/cifar-10-python.tar.gz)

Prints medians: loading all 60,000 images from the .tar.gz and from the extracted folder (safe
unpickler and every check included), building the data set (validation split and normalization),
the archive's md5, batches of 64 per second with and without augmentation (the trainer needs a few
thousand a second at most), and generating the synthetic data set.
"""

from __future__ import annotations

import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convviz.data import Augmentation, ImageDataset, read_cifar10  # noqa: E402
from convviz.data.files import md5_of  # noqa: E402
from convviz.data.synthetic import generate_shapes  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "cifar10" / "cifar-10-python.tar.gz"


def median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def images_per_s(dataset: ImageDataset, augmentation: Augmentation | None) -> float:
    rng = np.random.default_rng(0)
    batches = dataset.batches("train", 64, rng, augmentation=augmentation)
    count, start = 0, time.perf_counter()
    for x, _ in batches:
        count += len(x)
        if count >= 20_000:
            break
    return count / (time.perf_counter() - start)


def main() -> None:
    archive = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not archive.exists():
        sys.exit(f"no CIFAR-10 archive at {archive}: give its path")
    print(f"CIFAR-10 from {archive}")
    print(f"  load 60,000 images from the .tar.gz   {median_s(lambda: read_cifar10(archive), 3):6.2f} s median of 3")
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        print(f"  load from the extracted folder        {median_s(lambda: read_cifar10(folder), 3):6.2f} s median of 3")
    print(f"  md5 of the archive                    {median_s(lambda: md5_of(archive), 3):6.2f} s median of 3")
    arrays = read_cifar10(archive)

    def build() -> ImageDataset:
        return ImageDataset.build("cifar10", arrays.class_names, arrays.train, arrays.test, validation=5000)

    print(f"  build the data set (split, mean/std)  {median_s(build, 3):6.2f} s median of 3")
    dataset = build()
    plain = statistics.median(images_per_s(dataset, None) for _ in range(3))
    augmented = statistics.median(images_per_s(dataset, Augmentation()) for _ in range(3))
    print(f"  batches of 64, normalized             {plain:8,.0f} images/s median of 3")
    print(f"  batches of 64, flip + crop (pad 4)    {augmented:8,.0f} images/s median of 3"
          f"  ({augmented / plain:.2f}× plain)")
    print(f"Synthetic: 12,000 images generated in   {median_s(lambda: generate_shapes(12_000, 0), 3):6.2f} s median of 3")


if __name__ == "__main__":
    main()
