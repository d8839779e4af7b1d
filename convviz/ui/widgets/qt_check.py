"""Refuse to start where Qt would crash: a PySide6 build known to crash Python, or no usable display.

PySide6-Essentials 6.12.0 on Python 3.11 hands ``None`` and ``True`` back to Python without taking a
reference: every C++ method that returns nothing, and every ``signal.emit()``, takes one reference
away, and after some thousands of calls Python aborts with ``Fatal Python error: none_dealloc``.
pyproject.toml excludes that release; this check catches it (or a later release with the same bug)
at start-up with a clear message instead of a crash minutes later.

Without a display, Qt's xcb platform aborts the process (exit 134) with its own raw messages;
:func:`display_problem` sees that coming before the ``QApplication`` is made and says what to do:
start a desktop session (with the libraries Qt's xcb platform needs, :data:`DESKTOP_LIBRARIES`), use
``--screenshot``, or ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

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


#: Debian/Ubuntu packages Qt 6's xcb platform needs on a desktop, and the library each provides.
DESKTOP_LIBRARIES = {
    "libxcb-cursor0": "xcb-cursor", "libxcb-icccm4": "xcb-icccm", "libxcb-image0": "xcb-image",
    "libxcb-keysyms1": "xcb-keysyms", "libxcb-randr0": "xcb-randr", "libxcb-render-util0": "xcb-render-util",
    "libxcb-shape0": "xcb-shape", "libxcb-xinerama0": "xcb-xinerama", "libxcb-xkb1": "xcb-xkb",
    "libxkbcommon-x11-0": "xkbcommon-x11",
}
WAYS_OUT = ("render the window to a PNG instead with --screenshot PATH, or run Qt off-screen "
            "with QT_QPA_PLATFORM=offscreen")


def _find_library(name: str) -> bool:
    import ctypes.util

    return ctypes.util.find_library(name) is not None


def display_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                    find_library: Callable[[str], bool] = _find_library) -> str | None:
    """What to do when Qt has no usable display on Linux (None when it has one, or off Linux).

    ``QT_QPA_PLATFORM`` unset or ``xcb`` needs ``DISPLAY`` (unset may use ``WAYLAND_DISPLAY``
    instead) and, for xcb, the libraries of :data:`DESKTOP_LIBRARIES`; ``wayland`` needs
    ``WAYLAND_DISPLAY``; any other platform (``offscreen``, ``minimal``, ``vnc`` …) is Qt's to judge."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    x11, wayland = bool(environ.get("DISPLAY")), bool(environ.get("WAYLAND_DISPLAY"))
    packages = " ".join(DESKTOP_LIBRARIES)
    if chosen.startswith("wayland"):
        if wayland:
            return None
        return (f"QT_QPA_PLATFORM={chosen} but WAYLAND_DISPLAY is not set, so there is no display to open the "
                f"window on: start ConvViz in a Wayland session, or {WAYS_OUT}.")
    if chosen not in ("", "xcb"):
        return None
    if not x11 and not (wayland and not chosen):
        return ("there is no display to open the window on (DISPLAY is not set"
                f"{'' if chosen else ' and neither is WAYLAND_DISPLAY'}): start ConvViz in a desktop session "
                f"(on Debian or Ubuntu Qt's xcb platform also needs: sudo apt install {packages}), or {WAYS_OUT}.")
    if x11 and (chosen == "xcb" or not wayland):
        missing = [package for package, library in DESKTOP_LIBRARIES.items() if not find_library(library)]
        if missing:
            return (f"Qt's xcb platform needs system libraries that are missing: {', '.join(missing)}. Install them "
                    f"(on Debian or Ubuntu: sudo apt install {' '.join(missing)}), or {WAYS_OUT}.")
    return None
