"""Fixtures for the data tests: a small archive in the official CIFAR-10 layout and a local HTTP server."""

from pathlib import Path

import pytest
from cifar_samples import LocalServer, make_members, write_archive


@pytest.fixture
def members():
    return make_members()


@pytest.fixture
def cifar_archive(tmp_path, members) -> Path:
    return write_archive(tmp_path / "cifar-10-python.tar.gz", members)


@pytest.fixture
def server():
    local = LocalServer()
    local.thread.start()
    yield local
    local.httpd.shutdown()
    local.httpd.server_close()
