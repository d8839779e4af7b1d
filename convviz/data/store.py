"""CIFAR-10 in the cache: fetch it (download, or copy an archive or folder the user has), find it,
and say whether it is still what was fetched.

Layout of ``<cache>/cifar10/``: ``cifar-10-python.tar.gz`` (or an extracted ``cifar-10-batches-py/``),
and ``source.json``, which records where the data came from and the md5 of each file.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import NamedTuple

from convviz.data.cache import cache_dir
from convviz.data.cifar10 import (ARCHIVE_NAME, CIFAR10_MD5, CIFAR10_URL, FOLDER_NAME, MEMBERS,
                                  find_data_folder, read_cifar10)
from convviz.data.download import ProgressCallback, download
from convviz.data.errors import ChecksumError, DataError
from convviz.data.files import (check_md5_text, copy_file_atomically, ensure_folder, md5_of, remove,
                                write_error, write_json_atomically)

RECORD_NAME = "source.json"
RECORD_FORMAT = "convviz-data-source"


class FetchResult(NamedTuple):
    path: Path  # the archive or folder in the cache
    note: str  # what was done, for the user: "downloaded from … and checked: 50,000 training …"


def cifar10_dir(cache: str | os.PathLike | None = None) -> Path:
    """``<cache>/cifar10``, where CIFAR-10 is kept."""
    return cache_dir(cache) / "cifar10"


def find_cifar10(cache: str | os.PathLike | None = None) -> Path | None:
    """The CIFAR-10 archive or folder in the cache, or None if there is none."""
    folder = cifar10_dir(cache)
    for candidate in (folder / ARCHIVE_NAME, folder / FOLDER_NAME):
        if candidate.exists():
            return candidate
    return None


def fetch_cifar10(cache: str | os.PathLike | None = None, *, archive: str | os.PathLike | None = None,
                  url: str | None = None, md5: str | None = None, progress: ProgressCallback | None = None,
                  force: bool = False) -> FetchResult:
    """Put CIFAR-10 into the cache; returns its path there and a note on what was done.

    - ``archive``: copy the user's ``.tar.gz`` or extracted folder (checked with ``md5`` if given);
    - otherwise download ``url`` (default: the official archive and its md5; a mirror needs ``md5``),
      resuming an earlier interrupted download. Skipped when the cache already holds that file,
      unless ``force``.
    Every archive is read through once with the safe loader before it is kept.
    """
    folder = ensure_folder(cifar10_dir(cache))
    if archive is not None:
        return _adopt(Path(archive).expanduser(), folder, md5 and check_md5_text(md5))
    if url is None:
        url, md5 = CIFAR10_URL, md5 or CIFAR10_MD5
    elif md5 is None:
        raise DataError(f"a download from {url} needs its md5 checksum (--md5), so that a damaged "
                        "or different file is not taken for CIFAR-10")
    expected = check_md5_text(md5)
    target = folder / ARCHIVE_NAME
    if not force and target.is_file() and md5_of(target) == expected:
        return FetchResult(target, f"was already in the cache (md5 {expected} checked)")
    downloaded = download(url, folder / (ARCHIVE_NAME + ".download"), expected, progress)
    checked = _check_contents(downloaded, origin=url, discard=True)
    path = _install(downloaded, folder, {ARCHIVE_NAME: expected}, origin=url, expected_md5=expected)
    return FetchResult(path, f"downloaded from {url}, md5 checked, {checked}")


def _adopt(source: Path, folder: Path, expected_md5: str | None) -> FetchResult:
    if not source.exists():
        raise DataError(f"no archive or folder at {source}")
    if source.is_dir():
        data_folder = find_data_folder(source)
        checked = _check_contents(data_folder, origin=str(source))
        staging = folder / (FOLDER_NAME + ".partial")
        remove(staging)
        ensure_folder(staging)
        for name in MEMBERS:
            copy_file_atomically(data_folder / name, staging / name)
        checksums = {f"{FOLDER_NAME}/{name}": md5_of(staging / name) for name in MEMBERS}
        path = _install(staging, folder, checksums, origin=str(source), expected_md5=None)
        return FetchResult(path, f"copied from {source}, {checked}")
    actual = md5_of(source)
    if expected_md5 and actual != expected_md5:
        raise ChecksumError(f"{source} has md5 {actual}, not the {expected_md5} given: it is not the "
                            "archive you meant, or it is damaged")
    checked = _check_contents(source, origin=str(source))
    staging = folder / (ARCHIVE_NAME + ".copy")
    copy_file_atomically(source, staging)
    path = _install(staging, folder, {ARCHIVE_NAME: actual}, origin=str(source), expected_md5=expected_md5)
    return FetchResult(path, f"copied from {source}, {checked}")


def _check_contents(path: Path, origin: str, discard: bool = False) -> str:
    """Read the data once with the safe loader and say what it holds; if it cannot be read,
    delete ``path`` when ``discard``."""
    try:
        arrays = read_cifar10(path)
    except DataError as exc:
        if discard:
            remove(path)
        raise DataError(f"{origin} is not usable CIFAR-10 data, so it was not put in the cache: {exc}") from None
    return f"contents checked: {len(arrays.train):,} training and {len(arrays.test):,} test images"


def _install(staged: Path, folder: Path, checksums: dict[str, str], origin: str,
             expected_md5: str | None) -> Path:
    """Move ``staged`` into its final place, drop the other form, and record where it came from."""
    final, other = (FOLDER_NAME, ARCHIVE_NAME) if staged.is_dir() else (ARCHIVE_NAME, FOLDER_NAME)
    final, other = folder / final, folder / other
    remove(folder / RECORD_NAME)  # it describes the old data
    if staged.is_dir():
        remove(final)  # a folder cannot be replaced in one step
    try:
        os.replace(staged, final)
    except OSError as exc:
        raise write_error(exc, final) from None
    remove(other)
    write_json_atomically(folder / RECORD_NAME, {
        "format": RECORD_FORMAT,
        "version": 1,
        "origin": origin,
        "expected_md5": expected_md5,
        "md5": checksums,
        "added": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
    return final


def read_record(path: Path) -> dict | None:
    """The ``source.json`` beside the cached data at ``path``, or None if absent or unreadable."""
    try:
        record = json.loads((path.parent / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT or not isinstance(record.get("md5"), dict):
        return None
    return record


def checksum_state(path: Path) -> str:
    """One line on the checksums of the CIFAR-10 archive or folder at ``path``."""
    record = read_record(path)
    if path.is_dir():
        if record is None:
            return "extracted folder, not fetched by convviz: no checksums to compare; contents are checked on load"
        changed = [name for name, md5 in record["md5"].items()
                   if not (path.parent / name).is_file() or md5_of(path.parent / name) != md5]
        if changed:
            return f"CHANGED since it was added from {record['origin']}: {', '.join(changed)}; fetch it again"
        return f"every file matches the checksum recorded when it was added from {record['origin']}"
    actual = md5_of(path)
    if record is not None and record["md5"].get(path.name) not in (None, actual):
        return (f"CHANGED since it was added from {record['origin']} (md5 was {record['md5'][path.name]}, "
                f"is {actual}); fetch it again")
    if actual == CIFAR10_MD5:
        return f"md5 {actual}: the official archive"
    if record is not None and record.get("expected_md5") == actual:
        return f"md5 {actual}: matches the checksum given for {record['origin']}"
    origin = f"; its contents were checked when it was added from {record['origin']}" if record else ""
    return f"md5 {actual}: not the official archive (md5 {CIFAR10_MD5}){origin}"
