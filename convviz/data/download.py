"""Download a file over HTTP(S) with progress, resume, retries and a checksum check.

Bytes go to ``NAME.part`` beside the destination; an interrupted download (a dropped connection, a
stopped program) resumes from there with an HTTP ``Range`` request. Only when the whole file is on
disk and its md5 is the expected one is it renamed to ``NAME``; a file whose md5 is wrong is deleted.
So nothing half-written or corrupt is ever found under the final name.
"""

from __future__ import annotations

import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convviz import __version__
from convviz.data.errors import ChecksumError, DataError
from convviz.data.files import check_free_space, check_md5_text, ensure_folder, md5_of, write_error

CHUNK_BYTES = 256 * 1024
REPORT_INTERVAL_S = 0.1  # at most ten progress reports a second, plus the first and the last


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` bytes on disk (``total`` is None when the server does not say), and the
    transfer ``rate`` in bytes/s since this download (or resume) started."""

    done: int
    total: int | None
    rate: float

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None

    @property
    def seconds_left(self) -> float | None:
        if not self.total or self.rate <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate


ProgressCallback = Callable[[Progress], None]


class _Retry(Exception):
    """A failure that another attempt may get past (a dropped connection, a time-out, a 5xx)."""


def download(url: str, destination: str | os.PathLike, md5: str, progress: ProgressCallback | None = None,
             *, attempts: int = 4, retry_delay: float = 1.0, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``destination`` and check its ``md5``; returns the destination.

    Tries up to ``attempts`` times, resuming each time, waiting ``retry_delay``·2^k seconds between.
    ``progress`` is called with a ``Progress`` as bytes arrive; an exception it raises (e.g. to
    cancel) stops the download and leaves the ``.part`` file to resume from later.
    Raises ``DataError`` (network, disk) or ``ChecksumError``.
    """
    expected = check_md5_text(md5)
    _check_url(url)
    destination = Path(destination)
    part = destination.with_name(destination.name + ".part")
    ensure_folder(destination.parent)
    for attempt in range(attempts):
        try:
            _transfer(url, part, progress, timeout)
            break
        except _Retry as exc:
            if attempt + 1 == attempts:
                kept = part.stat().st_size if part.exists() else 0
                again = (f"The {_size(kept)} received so far are kept in {part}; run the same command again "
                         "to resume" if kept else "Run the same command again to retry")
                raise DataError(f"downloading {url} failed after {attempts} attempts: {exc}. {again}, or "
                                "download the file yourself and use it with --archive PATH") from None
            time.sleep(retry_delay * 2**attempt)
    actual = md5_of(part)
    if actual != expected:
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"the file downloaded from {url} has md5 {actual}, not the expected {expected}: it is damaged "
            f"or not the file asked for. It was deleted; run the command again to download it afresh, "
            f"or check the md5 given for this URL"
        )
    try:
        os.replace(part, destination)
    except OSError as exc:
        raise write_error(exc, destination) from None
    return destination


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count:,} bytes"


def _check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise DataError(f"cannot download {url!r}: the URL must start with https://, http:// or file://")


def _transfer(url: str, part: Path, progress: ProgressCallback | None, timeout: float) -> None:
    """Append the rest of ``url`` to ``part`` (or start it afresh if the server cannot resume)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"convviz/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing after offset: the part is whole (or wrong; md5 tells)
            return
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Retry(f"the server answered HTTP {exc.code} {exc.reason}") from None
        raise DataError(f"cannot download {url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _Retry(f"could not reach {urllib.parse.urlsplit(url).netloc or url} ({exc.reason}); "
                     f"check the network connection") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(f"the connection failed ({exc})") from None
    with response:
        if offset and not _resumes_at(response, offset):
            offset = 0  # the server sent the whole file: start over
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        if total is not None:
            check_free_space(part.parent, total - offset)
        _copy_body(response, part, offset, total, progress)


def _resumes_at(response, offset: int) -> bool:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return response.status == 206 and match is not None and int(match.group(1)) == offset


def _copy_body(response, part: Path, offset: int, total: int | None, progress: ProgressCallback | None) -> None:
    started, last_report, done = time.monotonic(), time.monotonic(), offset
    try:
        file = open(part, "ab" if offset else "wb")
    except OSError as exc:
        raise write_error(exc, part) from None
    with file:
        if progress:
            progress(Progress(done, total, 0.0))
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:  # reset, time-out, incomplete read
                raise _Retry(f"the connection broke after {done:,} bytes ({type(exc).__name__}: {exc})") from None
            if not chunk:
                break
            try:
                file.write(chunk)
            except OSError as exc:
                raise write_error(exc, part) from None
            done += len(chunk)
            now = time.monotonic()
            if progress and now - last_report >= REPORT_INTERVAL_S:
                progress(Progress(done, total, (done - offset) / max(now - started, 1e-9)))
                last_report = now
        if progress:
            progress(Progress(done, total, (done - offset) / max(time.monotonic() - started, 1e-9)))
        try:
            file.flush()
            os.fsync(file.fileno())
        except OSError as exc:
            raise write_error(exc, part) from None
    if total is not None and done < total:
        raise _Retry(f"the connection closed after {done:,} of {total:,} bytes")
    if total is not None and done > total:
        part.unlink(missing_ok=True)
        raise _Retry(f"the server sent {done:,} bytes, more than the {total:,} it announced")
