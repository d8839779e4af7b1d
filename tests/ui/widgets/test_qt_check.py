"""The PySide6 release the project installs does not have the None/True reference-count bug."""

import subprocess
import sys

from convviz.ui.widgets.qt_check import broken_qt_message

CODE = """
from PySide6.QtCore import QObject, Signal

class Probe(QObject):
    ping = Signal()

probe = Probe()
probe.ping.connect(lambda: None)
for _ in range(300_000):
    probe.setObjectName("x")  # returns nothing: the bug takes one reference from None
    probe.ping.emit()  # the bug takes one reference from True
print("ok")
"""


def test_installed_pyside6_passes_the_start_up_check():
    assert broken_qt_message() is None


def test_three_hundred_thousand_void_calls_and_emits_do_not_abort_python():
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "ok"


# -- a usable display --------------------------------------------------------------------------------------
import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from convviz.ui.widgets.qt_check import DESKTOP_LIBRARIES, display_problem  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def scrubbed(**extra) -> dict:
    """The environment of a shell with no display at all (no DISPLAY, WAYLAND_DISPLAY or QT_QPA_PLATFORM)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV")}
    return {**keep, "XDG_RUNTIME_DIR": "/tmp", **extra}


@pytest.mark.parametrize("extra", [{}, {"QT_QPA_PLATFORM": "xcb"}], ids=["unset", "xcb"])
def test_without_a_display_the_app_says_what_to_do_and_exits_2(tmp_path, extra):
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], capture_output=True, text=True, timeout=120,
                            env=scrubbed(**extra), cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-800:]
    (line,) = result.stderr.strip().splitlines()  # one line of ours, no Qt messages
    assert line.startswith("convviz: error: there is no display to open the window on (DISPLAY is not set")
    assert "--screenshot PATH" in line and "QT_QPA_PLATFORM=offscreen" in line
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in line and "libxkbcommon-x11-0" in line


def test_without_a_display_a_screenshot_still_renders(tmp_path):
    out = tmp_path / "shot.png"
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "--screenshot", str(out)], capture_output=True,
                            text=True, timeout=120, env=scrubbed(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-800:]
    assert out.stat().st_size > 10_000


def everything(name: str) -> bool:
    return True


@pytest.mark.parametrize(("environ", "expected"), [
    ({"DISPLAY": ":0"}, None),
    ({"WAYLAND_DISPLAY": "wayland-0"}, None),
    ({"QT_QPA_PLATFORM": "offscreen"}, None),
    ({"QT_QPA_PLATFORM": "minimal"}, None),
    ({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, None),
    ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "DISPLAY is not set)"),
    ({"QT_QPA_PLATFORM": "wayland"}, "WAYLAND_DISPLAY is not set"),
    ({}, "DISPLAY is not set and neither is WAYLAND_DISPLAY"),
])
def test_which_settings_have_a_display(environ, expected):
    problem = display_problem(environ, "linux", everything)
    assert problem is None if expected is None else expected in problem
    assert display_problem({}, "win32", everything) is None  # other systems: Qt's own platforms


def test_missing_xcb_libraries_are_named_with_their_packages():
    problem = display_problem({"DISPLAY": ":0"}, "linux", lambda name: name not in ("xcb-cursor", "xkbcommon-x11"))
    assert problem.startswith("Qt's xcb platform needs system libraries that are missing: libxcb-cursor0, "
                              "libxkbcommon-x11-0.")
    assert "sudo apt install libxcb-cursor0 libxkbcommon-x11-0" in problem and "QT_QPA_PLATFORM=offscreen" in problem
    assert len(DESKTOP_LIBRARIES) == 10
