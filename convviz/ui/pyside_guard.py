"""A guard against a reference-count bug of the PySide6 build in use (6.12.0 on Python 3.11).

It hands the singletons ``None``, ``True`` and ``False`` back to Python without taking a new
reference to them: every C++ method that returns nothing (``painter.setPen``, ``widget.update``,
``label.setText`` …) takes one reference away from ``None``, every ``signal.emit(…)`` one from
``True``, and a model's ``index.data()`` that has nothing to say one more from ``None``. From Python
3.12 on these objects are immortal and that is harmless; on 3.11, after some thousands of calls (a
few seconds of repainting, or a few thousand edits), Python aborts with ``Fatal Python error:
none_dealloc: deallocating None`` (or ``bool_dealloc``).

:func:`guard_none_refcount` checks whether the bug is present (a few void calls, then compare
``sys.getrefcount(None)``) and, only then, gives the three singletons a reference count no program
can use up, which is what Python 3.12 does by making them immortal. Remove this module when the
project requires a PySide6 without the bug, or Python ≥ 3.12.
"""

from __future__ import annotations

import ctypes
import sys

#: References added to each singleton: 2**48 void calls before the old count would be reached.
EXTRA_REFERENCES = 1 << 48


def void_call_leaks_none() -> bool:
    """True when a PySide6 method returning nothing takes a reference away from ``None``."""
    from PySide6.QtCore import QObject

    probe = QObject()
    probe.setObjectName("probe")  # warm up: the first call may create cached objects
    before = sys.getrefcount(None)
    for _ in range(16):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before


def guard_none_refcount() -> bool:
    """Make ``None``, ``True`` and ``False`` effectively immortal if (and only if) the bug is present.

    Returns True when the bug was found (and guarded against).
    """
    if sys.version_info >= (3, 12) or not void_call_leaks_none():
        return False
    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt: the first field of every object
        if refcount.value < EXTRA_REFERENCES:
            refcount.value += EXTRA_REFERENCES
    return True
