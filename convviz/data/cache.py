"""Where downloaded data sets live: a per-user cache folder.

The folder is, first match wins:

1. ``override``: the ``--cache-dir`` option, or the app's "data folder" setting;
2. the ``CONVVIZ_CACHE_DIR`` environment variable;
3. the platform's cache folder: ``$XDG_CACHE_HOME/convviz`` (``~/.cache/convviz``) on Linux,
   ``~/Library/Caches/convviz`` on macOS, ``%LOCALAPPDATA%\\Cache\\convviz`` on Windows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CACHE_ENV_VAR = "CONVVIZ_CACHE_DIR"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache folder (it may not exist yet)."""
    return cache_dir_and_reason(override)[0]


def cache_dir_and_reason(override: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The cache folder and why it is that one (for ``convviz data info``)."""
    if override:
        return Path(override).expanduser(), "given by --cache-dir or the app's setting"
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser(), f"from ${CACHE_ENV_VAR}"
    return _platform_cache_root() / "convviz", "the platform's per-user cache folder"


def _platform_cache_root() -> Path:
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore a relative value
        return Path(xdg)
    return Path.home() / ".cache"
