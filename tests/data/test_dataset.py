"""The data set object: seeded splits, normalization from the training split only, NCHW float32
batches, seeded shuffling and augmentation, and raw images for the views."""

import numpy as np
import pytest

from convviz.data import Augmentation, DataError, ImageDataset, LabelledImages, Normalization
from convviz.data.augment import random_crop, random_flip

CLASSES = [f"class {i}" for i in range(10)]


def numbered_images(count: int, offset: int = 0) -> LabelledImages:
    """Image i is filled with colour (i % 256, i // 256, 7 + i % 50): each image can be told by its pixels."""
    index = np.arange(offset, offset + count)
    images = np.empty((count, 3, 8, 8), np.uint8)
    images[:, 0], images[:, 1], images[:, 2] = (index % 256)[:, None, None], (index // 256)[:, None, None], (7 + index % 50)[:, None, None]
    return LabelledImages(images, index % 10)


def ids(images: np.ndarray) -> np.ndarray:
    return images[:, 0, 0, 0].astype(int) + 256 * images[:, 1, 0, 0].astype(int)


@pytest.fixture
def dataset():
    return ImageDataset.build("numbered", CLASSES, numbered_images(1000), numbered_images(200, 1000),
                              validation=0.1, seed=3)


def test_validation_split_is_seeded_and_disjoint_from_training(dataset):
    train, validation = ids(dataset.split("train").images), ids(dataset.split("validation").images)

    assert len(train) == 900 and len(validation) == 100
    assert sorted([*train, *validation]) == list(range(1000))
    again = ImageDataset.build("numbered", CLASSES, numbered_images(1000), numbered_images(200, 1000), 0.1, seed=3)
    np.testing.assert_array_equal(ids(again.split("validation").images), validation)
    other = ImageDataset.build("numbered", CLASSES, numbered_images(1000), numbered_images(200, 1000), 0.1, seed=4)
    assert set(ids(other.split("validation").images)) != set(validation)
    np.testing.assert_array_equal(dataset.split("validation").labels, validation % 10)


def test_normalization_comes_from_the_training_split_only(dataset):
    train = dataset.split("train").images.astype(np.float64) / 255
    np.testing.assert_allclose(dataset.normalization.mean, train.mean(axis=(0, 2, 3)), rtol=1e-9)
    np.testing.assert_allclose(dataset.normalization.std, train.std(axis=(0, 2, 3)), rtol=1e-9)

    x, _ = dataset.batch("train", np.arange(900))
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_batch_is_nchw_float32_with_matching_labels(dataset):
    x, y = dataset.batch("test", np.array([5, 0, 17]))

    assert x.shape == (3, 3, 8, 8) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [5, 0, 7])
    mean, std = np.array(dataset.normalization.mean), np.array(dataset.normalization.std)
    np.testing.assert_allclose(x[0, :, 2, 3], ([1005 % 256, 1005 // 256, 7 + 1005 % 50] / np.float64(255) - mean) / std, rtol=1e-5)


def test_an_epoch_visits_every_image_once_in_a_seeded_order(dataset):
    first = [ids(dataset.normalization.to_pixels(x)) for x, _ in dataset.batches("train", 64, np.random.default_rng(1))]
    again = [ids(dataset.normalization.to_pixels(x)) for x, _ in dataset.batches("train", 64, np.random.default_rng(1))]

    seen = np.concatenate(first)
    assert sorted(seen) == sorted(ids(dataset.split("train").images))
    assert [len(b) for b in first] == [64] * 14 + [4]
    np.testing.assert_array_equal(seen, np.concatenate(again))
    assert not np.array_equal(seen, np.sort(seen)), "shuffled"


def test_drop_last_and_unshuffled_order(dataset):
    batches = list(dataset.batches("test", 64, shuffle=False, drop_last=True))

    assert [len(y) for _, y in batches] == [64, 64, 64]
    np.testing.assert_array_equal(ids(dataset.normalization.to_pixels(batches[0][0])), np.arange(1000, 1064))


def test_random_flip_mirrors_about_half_the_images():
    x = np.random.default_rng(0).random((200, 3, 5, 6), dtype=np.float32)
    out = random_flip(x, np.random.default_rng(1))

    flipped = np.array([np.array_equal(o, i[:, :, ::-1]) for o, i in zip(out, x)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert (flipped ^ kept).all()
    assert 70 < flipped.sum() < 130


def test_random_crop_shifts_each_image_within_the_padding():
    x = np.random.default_rng(0).random((100, 3, 8, 8), dtype=np.float32) + 1  # no zeros of its own
    out = random_crop(x, 2, np.random.default_rng(1))

    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for o, p in zip(out, padded):
        matches = [(t, l) for t in range(5) for l in range(5) if np.array_equal(o, p[:, t:t + 8, l:l + 8])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 15, "offsets are spread over the 5×5 possibilities"


def test_augmented_batches_are_seeded(dataset):
    augmentation = Augmentation(flip=True, crop_padding=2)
    a = next(dataset.batches("train", 32, np.random.default_rng(5), augmentation=augmentation))
    b = next(dataset.batches("train", 32, np.random.default_rng(5), augmentation=augmentation))

    np.testing.assert_array_equal(a[0], b[0])
    plain = dataset.batch("train", np.arange(32))[0]
    assert a[0].shape == plain.shape and a[0].dtype == np.float32


def test_raw_image_is_hwc_uint8_for_display(dataset):
    image = dataset.raw_image("test", 3)

    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[4, 4], [1003 % 256, 1003 // 256, 7 + 1003 % 50])
    assert dataset.label("test", 3) == 3 and dataset.class_names[3] == "class 3"
    assert dataset.image_shape == (3, 8, 8)


@pytest.mark.parametrize("call, message", [
    (lambda d: d.split("training"), r"unknown split 'training': choose one of train, validation, test"),
    (lambda d: d.raw_image("test", 200), r"image 200 is out of range: the test split has 200 images"),
    (lambda d: next(d.batches("train", 0, np.random.default_rng())), r"batch size must be a positive integer, got 0"),
    (lambda d: next(d.batches("train", 8)), r"shuffling and augmentation need a random generator"),
    (lambda d: d.batch("train", [0], Augmentation()), r"augmentation needs a random generator"),
])
def test_misuse_is_explained(dataset, call, message):
    with pytest.raises(DataError, match=message):
        call(dataset)


@pytest.mark.parametrize("validation, message", [
    (1.0, r"validation must be a number of images \(0 or more\) or a fraction in \[0, 1\), got 1.0"),
    (-5, r"validation must be .* got -5"),
    (1000, r"validation split of 1000 images leaves no training images: there are 1000 in all"),
])
def test_bad_validation_size_is_explained(validation, message):
    with pytest.raises(DataError, match=message):
        ImageDataset.build("numbered", CLASSES, numbered_images(1000), numbered_images(10), validation)


def test_normalization_refuses_images_of_the_wrong_layout():
    norm = Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    with pytest.raises(DataError, match=r"expected images of shape \(N, 3, H, W\), got \(2, 8, 8, 3\)"):
        norm.apply(np.zeros((2, 8, 8, 3), np.uint8))
