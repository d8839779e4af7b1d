"""Where the data goes: the option or setting, else $CONVVIZ_CACHE_DIR, else the per-user cache folder."""

import sys
from pathlib import Path

import pytest

from convviz.data import cache_dir
from convviz.data.cache import cache_dir_and_reason


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("CONVVIZ_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return monkeypatch


def test_option_beats_environment(clean_env, tmp_path):
    clean_env.setenv("CONVVIZ_CACHE_DIR", str(tmp_path / "env"))
    assert cache_dir(tmp_path / "option") == tmp_path / "option"
    assert cache_dir_and_reason(None) == (tmp_path / "env", "from $CONVVIZ_CACHE_DIR")


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the XDG folders are Linux's")
def test_xdg_cache_home_then_home(clean_env, tmp_path):
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "convviz"
    clean_env.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec says to ignore it
    assert cache_dir() == Path.home() / ".cache" / "convviz"
