"""Read CIFAR-10 from the official "python version" archive or its extracted folder, safely.

The archive ``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/`` with ``data_batch_1`` …
``data_batch_5`` (training), ``test_batch`` and ``batches.meta``. Each batch is a pickled dict:
``data`` is an N×3072 uint8 array (per image 1024 red, 1024 green, then 1024 blue values, each
plane row-major), ``labels`` a list of N ints 0–9. Batches are unpickled with ``safe_loads``, which
runs nothing, and every shape, label and count is checked.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np

from convviz.data.dataset import LabelledImages
from convviz.data.errors import DataError
from convviz.data.safe_pickle import safe_loads

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
MEMBERS = (*TRAIN_BATCHES, TEST_BATCH, META)

IMAGE_SHAPE = (3, 32, 32)  # (C, H, W)
NUM_CLASSES = 10
#: a real batch is about 31 MB; anything much larger is not a CIFAR-10 batch
MAX_MEMBER_BYTES = 64 * 2**20


class Cifar10Arrays(NamedTuple):
    class_names: tuple[str, ...]
    train: LabelledImages  # 50,000 images (N, 3, 32, 32) uint8
    test: LabelledImages  # 10,000 images


def read_cifar10(path: str | os.PathLike) -> Cifar10Arrays:
    """Load CIFAR-10 from ``path``: the ``.tar.gz`` archive, the extracted ``cifar-10-batches-py``
    folder, or a folder that contains it. Raises ``DataError`` saying what is missing or wrong."""
    path = Path(path).expanduser()
    if path.is_dir():
        parsed = {name: _parse(name, data, path) for name, data in _read_folder(path)}
    elif path.is_file():
        parsed = {name: _parse(name, data, path) for name, data in _read_archive(path)}
    else:
        raise DataError(f"no CIFAR-10 data at {path}: expected {ARCHIVE_NAME} or a {FOLDER_NAME} folder")
    missing = [name for name in MEMBERS if name not in parsed]
    if missing:
        raise DataError(f"{path} is not complete CIFAR-10 data: {', '.join(missing)} missing")
    class_names, cases_per_batch = parsed[META]
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        count = len(parsed[name])
        if cases_per_batch is not None and count != cases_per_batch:
            raise DataError(
                f"{path}: {name} has {count} images, but batches.meta says each batch has {cases_per_batch}"
            )
    train = LabelledImages.concatenate([parsed[name] for name in TRAIN_BATCHES])
    return Cifar10Arrays(class_names, train, parsed[TEST_BATCH])


def find_data_folder(path: Path) -> Path:
    """The folder holding the batch files: ``path`` itself or its ``cifar-10-batches-py``."""
    return path / FOLDER_NAME if (path / FOLDER_NAME).is_dir() else path


def _read_folder(path: Path):
    folder = find_data_folder(path)
    for name in MEMBERS:
        file = folder / name
        if file.is_file():
            _check_size(file.stat().st_size, f"{file}")
            yield name, file.read_bytes()


def _read_archive(path: Path):
    seen = set()
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                name = PurePosixPath(member.name).name
                if name not in MEMBERS or not member.isfile():
                    continue
                if name in seen:
                    raise DataError(f"{path} holds {name} twice: it is not a CIFAR-10 archive")
                seen.add(name)
                _check_size(member.size, f"{path}:{member.name}")
                yield name, archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(
            f"{path} is not a readable CIFAR-10 archive (damaged, truncated or another format): {exc}"
        ) from None


def _check_size(size: int, where: str) -> None:
    if size > MAX_MEMBER_BYTES:
        raise DataError(f"{where} is {size:,} bytes; a CIFAR-10 batch is about 31 MB, so this is not one")


def _parse(name: str, data: bytes, path: Path):
    source = f"{path.name}:{name}"
    content = _str_keys(safe_loads(data, source), source)
    return _parse_meta(content, source) if name == META else _parse_batch(content, source)


def _parse_meta(meta: dict, source: str) -> tuple[tuple[str, ...], int | None]:
    names = meta.get("label_names")
    if not isinstance(names, list) or len(names) != NUM_CLASSES or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataError(f"{source}: label_names must be a list of {NUM_CLASSES} names, got {_describe(names)}")
    cases = meta.get("num_cases_per_batch")
    if cases is not None and (type(cases) is not int or cases <= 0):
        raise DataError(f"{source}: num_cases_per_batch must be a positive int, got {cases!r}")
    return tuple(_text(n) for n in names), cases


def _parse_batch(batch: dict, source: str) -> LabelledImages:
    data, labels = batch.get("data"), batch.get("labels")
    pixels = int(np.prod(IMAGE_SHAPE))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        raise DataError(
            f"{source}: data must be an N×{pixels} uint8 array (N images of 3×32×32), got {_describe(data)}"
        )
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise DataError(f"{source}: labels must be a list of ints, got {_describe(labels)}")
    if len(labels) != len(data):
        raise DataError(f"{source}: {len(data)} images but {len(labels)} labels")
    labels = np.asarray(labels, dtype=np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        raise DataError(
            f"{source}: labels must be 0–{NUM_CLASSES - 1}, got {labels[bad[0]]} at index {bad[0]} "
            f"({bad.size} bad labels in all)"
        )
    return LabelledImages(data.reshape(-1, *IMAGE_SHAPE), labels)


def _str_keys(content, source: str) -> dict:
    if not isinstance(content, dict):
        raise DataError(f"{source}: expected a dict, got {_describe(content)}")
    return {_text(k) if isinstance(k, (bytes, str)) else k: v for k, v in content.items()}


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _describe(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, list):
        kinds = sorted({type(v).__name__ for v in value})
        return f"a list of {len(value)} ({', '.join(kinds) or 'empty'})"
    return f"a {type(value).__name__}"
