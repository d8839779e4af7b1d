"""Refuse to run on a PySide6 build known to crash Python.

PySide6-Essentials 6.12.0 on Python 3.11 hands ``None`` and ``True`` back to Python without taking a
reference: every C++ method that returns nothing, and every ``signal.emit()``, takes one reference
away, and after some thousands of calls Python aborts with ``Fatal Python error: none_dealloc``.
pyproject.toml excludes that release; this check catches it (or a later release with the same bug)
at start-up with a clear message instead of a crash minutes later.
"""

from __future__ import annotations

import sys

FIX = "pip install 'PySide6-Essentials==6.11.3'"


def void_calls_leak_none() -> bool:
    """True when a PySide6 method returning nothing takes a reference away from ``None``."""
    from PySide6.QtCore import QObject

    probe = QObject()
    probe.setObjectName("probe")  # the first call may create cached objects
    before = sys.getrefcount(None)
    for _ in range(64):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before


def broken_qt_message() -> str | None:
    """A message saying what to install, if this PySide6 build has the bug; else None."""
    if sys.version_info >= (3, 12) or not void_calls_leak_none():
        return None  # from Python 3.12 on, None and True are immortal and the bug is harmless
    import PySide6

    return (
        f"PySide6 {PySide6.__version__} has a reference-count bug on Python "
        f"{sys.version_info.major}.{sys.version_info.minor} that crashes the app after a while. "
        f"Install a working release with: {FIX}"
    )
