"""The offline data set: ten balanced classes of 32×32 RGB pictures, the same for the same seed, told
apart by shape and texture rather than colour, and learnable by a small CNN."""

import numpy as np
import pytest

from convviz.data import SYNTHETIC_CLASSES, DataError, load_dataset, synthetic_dataset
from convviz.data.synthetic import generate_shapes


def test_classes_are_balanced_and_images_are_32x32_rgb():
    shapes = generate_shapes(1000, seed=0)

    assert shapes.images.shape == (1000, 3, 32, 32) and shapes.images.dtype == np.uint8
    np.testing.assert_array_equal(shapes.class_counts(10), [100] * 10)
    assert len(SYNTHETIC_CLASSES) == 10 and "checkerboard" in SYNTHETIC_CLASSES


def test_same_seed_same_images_other_seed_other_images():
    a, b, c = generate_shapes(50, seed=1), generate_shapes(50, seed=1), generate_shapes(50, seed=2)

    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, c.images)


def test_colour_does_not_give_the_class_away():
    shapes = generate_shapes(2000, seed=0)
    mean_colour = shapes.images.mean(axis=(2, 3))  # (N, 3)
    per_class = np.stack([mean_colour[shapes.labels == k].mean(axis=0) for k in range(10)])

    assert np.ptp(per_class, axis=0).max() < 40, "every class spans the same colours on average"
    assert (shapes.images.std(axis=(2, 3)) > 20).all(), "every picture has visible structure"


def test_dataset_has_splits_and_class_names():
    dataset = synthetic_dataset(train=500, test=100, validation=50, seed=0)

    assert [len(dataset.split(s)) for s in ("train", "validation", "test")] == [450, 50, 100]
    assert dataset.class_names == SYNTHETIC_CLASSES and dataset.name == "synthetic"
    assert load_dataset("synthetic", validation=0.1, seed=0).class_names == SYNTHETIC_CLASSES


def test_bad_count_is_explained():
    with pytest.raises(DataError, match=r"image count must be a whole number ≥ 0, got -1"):
        generate_shapes(-1, seed=0)


def test_a_small_cnn_learns_it():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional cross-check, not a dependency")
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster than two for a net this small, and kind to a shared machine
    try:
        accuracy = _train_and_test(torch)
    finally:
        torch.set_num_threads(threads)
    assert accuracy > 0.6, f"test accuracy {accuracy:.0%} after 3 epochs (chance is 10%)"


def _train_and_test(torch) -> float:
    dataset = synthetic_dataset(train=2000, test=500, validation=0, seed=0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 20, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(20, 20, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(320, 10),
    )
    optimizer = torch.optim.Adam(net.parameters(), 3e-3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        for x, y in dataset.batches("train", 64, rng):
            loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    x, y = dataset.batch("test", np.arange(500))
    with torch.no_grad():
        return float((net(torch.from_numpy(x)).argmax(1).numpy() == y).mean())
