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
