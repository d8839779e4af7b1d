"""Careful file handling for the data cache: clear errors for full or read-only disks, checksums,
and writes that either complete or leave nothing behind under the final name."""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
from pathlib import Path

from convviz.atomic import atomic_write, write_text_atomic
from convviz.data.errors import DataError

_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
CHOOSE_FOLDER_HINT = "choose another folder with --cache-dir, the app's data folder setting, or $CONVVIZ_CACHE_DIR"


def write_error(exc: OSError, path: Path) -> DataError:
    """A ``DataError`` that says why ``path`` could not be written and what to do about it."""
    if exc.errno in _FULL:
        return DataError(f"the disk holding {path.parent} is full ({_free(path.parent)} free): "
                         f"free some space, or {CHOOSE_FOLDER_HINT}")
    if exc.errno in _READ_ONLY:
        return DataError(f"cannot write to {path.parent}: it is read-only or not yours "
                         f"({exc.strerror}); {CHOOSE_FOLDER_HINT}")
    return DataError(f"cannot write {path}: {exc.strerror or exc}")


def ensure_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DataError(f"cannot make the folder {folder}: a file is in the way") from None
    except OSError as exc:
        raise write_error(exc, folder / ".") from None
    return folder


def check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DataError(f"the disk holding {folder} is full: {_mb(needed)} needed, {_mb(free)} free; "
                        f"free some space, or {CHOOSE_FOLDER_HINT}")


def md5_of(path: Path, chunk: int = 2**20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        while block := file.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_md5_text(md5: str) -> str:
    """``md5`` in lower case, if it is 32 hexadecimal digits; a ``DataError`` otherwise."""
    text = md5.strip().lower()
    if len(text) != 32 or any(c not in "0123456789abcdef" for c in text):
        raise DataError(f"an md5 checksum is 32 hexadecimal digits, got {md5!r}")
    return text


def copy_file_atomically(source: Path, destination: Path) -> None:
    """Copy ``source`` so that ``destination`` is either absent or complete."""
    try:
        src = open(source, "rb")
    except OSError as exc:
        raise DataError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        with src, atomic_write(destination, "wb") as dst:
            shutil.copyfileobj(src, dst, 2**20)
    except OSError as exc:
        raise write_error(exc, destination) from None


def write_json_atomically(path: Path, content: dict) -> None:
    try:
        write_text_atomic(path, json.dumps(content, indent=2) + "\n")
    except OSError as exc:
        raise write_error(exc, path) from None


def remove(path: Path) -> None:
    """Delete a file or folder tree if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _free(folder: Path) -> str:
    try:
        return _mb(shutil.disk_usage(folder).free)
    except OSError:
        return "unknown"


def _mb(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"
