"""Downloading CIFAR-10 end to end from a local HTTP server serving a small archive in the official
layout: progress, resume, checksums, and clear errors; nothing corrupt is ever left as the archive."""

import errno
import json
import socket
from pathlib import Path

import pytest
from cifar_samples import md5_hex, write_folder

from convviz.data import ChecksumError, DataError, fetch_cifar10, find_cifar10, read_cifar10
from convviz.data import download as download_module
from convviz.data.download import download
from convviz.data.store import checksum_state

ARCHIVE = "/cifar-10-python.tar.gz"


@pytest.fixture
def archive_bytes(cifar_archive) -> bytes:
    return cifar_archive.read_bytes()


def cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "cifar10").iterdir()) if (cache / "cifar10").exists() else []


def test_fetch_reports_progress_and_keeps_the_checked_archive(tmp_path, server, archive_bytes):
    url = server.serve(ARCHIVE, archive_bytes)
    reports = []

    result = fetch_cifar10(tmp_path / "cache", url=url, md5=md5_hex(archive_bytes), progress=reports.append)

    assert result.path == tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz"
    assert result.path.read_bytes() == archive_bytes
    assert "downloaded from" in result.note and "100 training and 20 test images" in result.note
    assert reports[0].done == 0 and reports[-1].done == len(archive_bytes)
    assert all(r.total == len(archive_bytes) for r in reports)
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert reports[-1].fraction == 1.0 and reports[-1].rate > 0
    assert cache_files(tmp_path / "cache") == ["cifar-10-python.tar.gz", "source.json"]
    assert find_cifar10(tmp_path / "cache") == result.path
    assert checksum_state(result.path) == f"md5 {md5_hex(archive_bytes)}: matches the checksum given for {url}"


def test_dropped_connection_is_resumed_with_a_range_request(tmp_path, server, archive_bytes):
    url = server.serve(ARCHIVE, archive_bytes)
    cut = len(archive_bytes) // 3
    server.state.drop_after = [cut]
    reports = []

    path = download(url, tmp_path / "a.tar.gz", md5_hex(archive_bytes), reports.append, retry_delay=0)

    assert path.read_bytes() == archive_bytes
    assert server.state.requests == [(ARCHIVE, None), (ARCHIVE, f"bytes={cut}-")]
    resumed = [r for r in reports if r.done >= cut]
    assert resumed[0].done == cut, "the second attempt starts from the bytes already on disk"
    assert not (tmp_path / "a.tar.gz.part").exists()


def test_interrupted_download_is_kept_and_resumed_by_the_next_run(tmp_path, server, archive_bytes):
    url = server.serve(ARCHIVE, archive_bytes)
    server.state.drop_after = [1000, 2000]

    with pytest.raises(DataError, match=r"failed after 2 attempts: the connection .*The 3,000 bytes received so "
                                        r"far are kept in .*a.tar.gz.part; run the same command again to resume"):
        download(url, tmp_path / "a.tar.gz", md5_hex(archive_bytes), attempts=2, retry_delay=0)
    assert (tmp_path / "a.tar.gz.part").stat().st_size == 3000
    assert not (tmp_path / "a.tar.gz").exists()

    download(url, tmp_path / "a.tar.gz", md5_hex(archive_bytes), retry_delay=0)

    assert (tmp_path / "a.tar.gz").read_bytes() == archive_bytes
    assert server.state.requests[-1] == (ARCHIVE, "bytes=3000-")


def test_server_that_cannot_resume_is_downloaded_afresh(tmp_path, server, archive_bytes):
    url = server.serve(ARCHIVE, archive_bytes)
    server.state.ignore_range = True
    server.state.drop_after = [5000]

    path = download(url, tmp_path / "a.tar.gz", md5_hex(archive_bytes), retry_delay=0)

    assert path.read_bytes() == archive_bytes


def test_checksum_mismatch_is_refused_and_nothing_is_left_in_the_cache(tmp_path, server, archive_bytes):
    corrupt = bytearray(archive_bytes)
    corrupt[len(corrupt) // 2] ^= 0xFF
    url = server.serve(ARCHIVE, bytes(corrupt))

    with pytest.raises(ChecksumError, match=rf"has md5 {md5_hex(bytes(corrupt))}, not the expected "
                                            rf"{md5_hex(archive_bytes)}: it is damaged .* It was deleted"):
        fetch_cifar10(tmp_path / "cache", url=url, md5=md5_hex(archive_bytes))
    assert cache_files(tmp_path / "cache") == []
    assert find_cifar10(tmp_path / "cache") is None


def test_archive_with_right_md5_but_bad_contents_is_not_kept(tmp_path, server):
    not_cifar = b"\x1f\x8b" + b"garbage" * 100
    url = server.serve(ARCHIVE, not_cifar)

    with pytest.raises(DataError, match="is not usable CIFAR-10 data, so it was not put in the cache"):
        fetch_cifar10(tmp_path / "cache", url=url, md5=md5_hex(not_cifar))
    assert cache_files(tmp_path / "cache") == []


def test_archive_already_in_the_cache_is_not_downloaded_again(tmp_path, server, archive_bytes):
    url = server.serve(ARCHIVE, archive_bytes)
    fetch_cifar10(tmp_path / "cache", url=url, md5=md5_hex(archive_bytes))

    again = fetch_cifar10(tmp_path / "cache", url=url, md5=md5_hex(archive_bytes))

    assert "already in the cache" in again.note
    assert len(server.state.requests) == 1


def test_mirror_needs_its_md5(tmp_path, server):
    with pytest.raises(DataError, match=r"a download from http://\S+ needs its md5 checksum \(--md5\)"):
        fetch_cifar10(tmp_path / "cache", url=server.url(ARCHIVE))


def test_bad_md5_text_is_refused(tmp_path, server):
    with pytest.raises(DataError, match=r"an md5 checksum is 32 hexadecimal digits, got 'abc'"):
        fetch_cifar10(tmp_path / "cache", url=server.url(ARCHIVE), md5="abc")


def test_missing_file_on_server_is_a_clear_error(tmp_path, server):
    with pytest.raises(DataError, match=r"cannot download http://\S+/missing.tar.gz: the server answered HTTP 404"):
        download(server.url("/missing.tar.gz"), tmp_path / "a.tar.gz", "0" * 32)


def test_unreachable_server_is_a_clear_error(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DataError, match=rf"failed after 2 attempts: could not reach 127.0.0.1:{port} .*check the "
                                        r"network connection. Run the same command again to retry, or download "
                                        r"the file yourself and use it with --archive PATH"):
        download(f"http://127.0.0.1:{port}/a.tar.gz", tmp_path / "a.tar.gz", "0" * 32, attempts=2, retry_delay=0)


def test_full_disk_is_reported_before_writing(tmp_path, server, archive_bytes, monkeypatch):
    url = server.serve(ARCHIVE, archive_bytes)
    monkeypatch.setattr("convviz.data.files.shutil.disk_usage", lambda path: type("U", (), {"free": 1000})())

    with pytest.raises(DataError, match=rf"the disk holding .* is full: {len(archive_bytes) / 1e6:.1f} MB needed, "
                                        r"0.0 MB free; free some space, or choose another folder with --cache-dir"):
        download(url, tmp_path / "a.tar.gz", md5_hex(archive_bytes))
    assert not (tmp_path / "a.tar.gz").exists()


class FailingFile:
    """A file whose writes fail with ``error`` after the first one."""

    def __init__(self, file, error):
        self.file, self.error, self.writes = file, error, 0

    def write(self, data):
        self.writes += 1
        if self.writes > 1:
            raise OSError(self.error, "simulated")
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


@pytest.mark.parametrize("error, message", [
    (errno.ENOSPC, r"the disk holding .* is full \(.* free\): free some space, or choose another folder"),
    (errno.EROFS, r"cannot write to .*: it is read-only or not yours \(simulated\); choose another folder"),
])
def test_write_failure_mid_download_is_a_clear_error(tmp_path, server, archive_bytes, monkeypatch, error, message):
    url = server.serve(ARCHIVE, archive_bytes)
    monkeypatch.setattr(download_module, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(download_module, "open", lambda *a: FailingFile(open(*a), error), raising=False)

    with pytest.raises(DataError, match=message):
        fetch_cifar10(tmp_path / "cache", url=url, md5=md5_hex(archive_bytes))
    assert find_cifar10(tmp_path / "cache") is None


def test_cache_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(DataError, match=r"cannot make the folder .*taken/cifar10: a file is in the way"):
        fetch_cifar10(tmp_path / "taken", url="http://127.0.0.1:9/x.tar.gz", md5="0" * 32)


def test_cancelling_from_the_progress_callback_keeps_the_partial_download(tmp_path, server, archive_bytes, monkeypatch):
    url = server.serve(ARCHIVE, archive_bytes)
    monkeypatch.setattr(download_module, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(download_module, "REPORT_INTERVAL_S", 0.0)

    def cancel_after_a_while(progress):
        if progress.done >= 8192:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(url, tmp_path / "a.tar.gz", md5_hex(archive_bytes), cancel_after_a_while)
    assert (tmp_path / "a.tar.gz.part").stat().st_size == 8192
    assert not (tmp_path / "a.tar.gz").exists()


def test_cached_archive_that_changed_is_reported(tmp_path, server, archive_bytes):
    url = server.serve(ARCHIVE, archive_bytes)
    path = fetch_cifar10(tmp_path / "cache", url=url, md5=md5_hex(archive_bytes)).path
    path.write_bytes(archive_bytes[:-10])

    assert checksum_state(path).startswith(f"CHANGED since it was added from {url}")


def test_users_archive_and_folder_are_copied_into_the_cache(tmp_path, cifar_archive, members):
    result = fetch_cifar10(tmp_path / "cache", archive=cifar_archive)
    assert result.path.read_bytes() == cifar_archive.read_bytes()
    record = json.loads((result.path.parent / "source.json").read_text())
    assert record["origin"] == str(cifar_archive)
    assert checksum_state(result.path).startswith(f"md5 {md5_hex(cifar_archive.read_bytes())}: not the official archive")

    folder = write_folder(tmp_path / "mine" / "cifar-10-batches-py", members)
    result = fetch_cifar10(tmp_path / "cache", archive=folder.parent)
    assert result.path == tmp_path / "cache" / "cifar10" / "cifar-10-batches-py"
    assert cache_files(tmp_path / "cache") == ["cifar-10-batches-py", "source.json"], "the old archive is replaced"
    assert len(read_cifar10(result.path).train) == 100
    assert checksum_state(result.path).startswith("every file matches the checksum recorded")


def test_users_archive_with_wrong_md5_is_refused(tmp_path, cifar_archive):
    with pytest.raises(ChecksumError, match=r"has md5 \w+, not the 00000000000000000000000000000000 given"):
        fetch_cifar10(tmp_path / "cache", archive=cifar_archive, md5="0" * 32)
    assert cache_files(tmp_path / "cache") == []
