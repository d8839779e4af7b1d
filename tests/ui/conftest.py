"""Fixtures for the builder window: fresh settings in a temporary folder, dialogs that answer at once."""

from __future__ import annotations

import pytest
from builder_helpers import FakeDialogs
from PySide6.QtCore import QSettings, QStandardPaths

QStandardPaths.setTestModeEnabled(True)  # nothing a test does reaches the user's own folders


@pytest.fixture
def settings_path(tmp_path):
    return str(tmp_path / "settings" / "convviz.ini")


@pytest.fixture
def test_settings(settings_path):
    return QSettings(settings_path, QSettings.Format.IniFormat)


@pytest.fixture
def fake_dialogs():
    return FakeDialogs()


@pytest.fixture
def builder(qtbot, test_settings, fake_dialogs):
    """The builder window as a user first sees it (ConvNetJS loaded), shown off-screen at 1400×900."""
    from convviz.ui.window.main_window import MainWindow

    window = MainWindow(settings=test_settings, dialogs=fake_dialogs)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.document.undo_stack.setClean()  # closing must not prompt
