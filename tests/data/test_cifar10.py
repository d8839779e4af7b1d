"""Reading CIFAR-10 archives and folders: the pixels land where they belong, and anything that is not
complete, well-formed CIFAR-10 is refused with a message that says what is wrong."""

import gzip
import os

import numpy as np
import pytest
from cifar_samples import CLASS_NAMES, PER_BATCH, make_members, write_archive, write_folder

from convviz.data import DataError, read_cifar10

SHARED_ARCHIVE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "cifar10",
                              "cifar-10-python.tar.gz")


def test_archive_loads_every_batch_in_order(cifar_archive):
    arrays = read_cifar10(cifar_archive)

    assert arrays.class_names == tuple(CLASS_NAMES)
    assert arrays.train.images.shape == (5 * PER_BATCH, 3, 32, 32) and arrays.train.images.dtype == np.uint8
    assert arrays.test.images.shape == (PER_BATCH, 3, 32, 32)
    # image i has red = i, green = 0, blue = 200: batches are concatenated 1..5, test last
    np.testing.assert_array_equal(arrays.train.images[:, 0, 5, 5], np.arange(5 * PER_BATCH))
    assert arrays.test.images[0, 0, 5, 5] == 5 * PER_BATCH
    assert (arrays.train.images[:, 2, 5, 5] == 200).all()
    np.testing.assert_array_equal(arrays.train.labels, np.arange(5 * PER_BATCH) % 10)


def test_rows_are_row_major_planes(cifar_archive):
    image = read_cifar10(cifar_archive).train.images[7]

    assert (image[:, 0, 1] == 255).all(), "pixel (row 0, column 1) is the marked one"
    assert (image[:, 1, 0] != 255).all()


@pytest.mark.parametrize("where", ["folder", "parent"])
def test_extracted_folder_loads_like_the_archive(tmp_path, members, cifar_archive, where):
    folder = write_folder(tmp_path / "unpacked" / "cifar-10-batches-py", members)
    arrays = read_cifar10(folder if where == "folder" else folder.parent)
    expected = read_cifar10(cifar_archive)

    np.testing.assert_array_equal(arrays.train.images, expected.train.images)
    np.testing.assert_array_equal(arrays.test.labels, expected.test.labels)


@pytest.mark.parametrize("change, message", [
    (lambda m: m["data_batch_2"].update(data=m["data_batch_2"]["data"][:, :3071]),
     r"data_batch_2: data must be an N×3072 uint8 array \(N images of 3×32×32\), got an array of shape \(20, 3071\)"),
    (lambda m: m["data_batch_2"].update(data=None),
     r"data_batch_2: data must be an N×3072 uint8 array .*, got nothing"),
    (lambda m: m["test_batch"]["labels"].__setitem__(4, 10),
     r"test_batch: labels must be 0–9, got 10 at index 4 \(1 bad labels in all\)"),
    (lambda m: m["data_batch_5"]["labels"].pop(),
     r"data_batch_5: 20 images but 19 labels"),
    (lambda m: m["data_batch_1"].update(labels=["cat"] * PER_BATCH),
     r"data_batch_1: labels must be a list of ints, got a list of 20 \(bytes\)"),
    (lambda m: m["batches.meta"].update(label_names=CLASS_NAMES[:9]),
     r"batches.meta: label_names must be a list of 10 names, got a list of 9 \(bytes\)"),
    (lambda m: m.pop("data_batch_4"),
     r"is not complete CIFAR-10 data: data_batch_4 missing"),
    (lambda m: m["batches.meta"].update(num_cases_per_batch=30),
     r"data_batch_1 has 20 images, but batches.meta says each batch has 30"),
])
def test_malformed_data_is_refused_with_the_reason(tmp_path, change, message):
    members = make_members()
    change(members)
    with pytest.raises(DataError, match=message):
        read_cifar10(write_archive(tmp_path / "cifar-10-python.tar.gz", members))


def test_truncated_archive_is_refused(tmp_path, cifar_archive):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(cifar_archive.read_bytes()[:-2000])
    with pytest.raises(DataError, match=r"truncated.tar.gz is not a readable CIFAR-10 archive \(damaged, truncated"):
        read_cifar10(truncated)


def test_other_file_is_refused(tmp_path):
    other = tmp_path / "notes.tar.gz"
    other.write_bytes(gzip.compress(b"these are not images" * 100))
    with pytest.raises(DataError, match="notes.tar.gz is not a readable CIFAR-10 archive"):
        read_cifar10(other)


def test_missing_path_says_what_was_expected(tmp_path):
    with pytest.raises(DataError, match=r"no CIFAR-10 data at .*nowhere: expected cifar-10-python.tar.gz or a cifar-10-batches-py folder"):
        read_cifar10(tmp_path / "nowhere")


@pytest.mark.skipif(not os.path.exists(SHARED_ARCHIVE),
                    reason="the full CIFAR-10 archive is not at ../shared/cifar10 (only developer machines have it)")
def test_full_cifar10_archive():
    arrays = read_cifar10(SHARED_ARCHIVE)

    assert len(arrays.train) == 50_000 and len(arrays.test) == 10_000
    assert arrays.train.images.shape == (50_000, 3, 32, 32)
    np.testing.assert_array_equal(arrays.test.class_counts(10), [1_000] * 10)
    np.testing.assert_array_equal(arrays.train.class_counts(10), [5_000] * 10)
    assert arrays.class_names == ("airplane", "automobile", "bird", "cat", "deer",
                                  "dog", "frog", "horse", "ship", "truck")
