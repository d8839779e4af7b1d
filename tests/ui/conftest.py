"""Fixtures for the window: fresh settings in a temporary folder, dialogs that answer at once, and a
small data set that every run in the app trains on."""

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


@pytest.fixture(scope="session")
def small_data():
    from convviz.data import synthetic_dataset

    return synthetic_dataset(train=800, test=100, validation=50, seed=5)


@pytest.fixture
def quick_data(monkeypatch, small_data):
    """Every "synthetic" data set the app loads is the small one (fast to build, many epochs)."""
    import convviz.data

    monkeypatch.setattr(convviz.data, "load_dataset", lambda source, validation=0.1, seed=0: small_data)
    return small_data
