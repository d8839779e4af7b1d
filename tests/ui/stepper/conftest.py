"""The Step workspace's tests share one fixture: a view of a network, shown at 1280×800 with focus."""

from __future__ import annotations

import pytest


@pytest.fixture
def make_view(qtbot):
    from convviz.ui.session import RunSession
    from convviz.ui.stepper import StepWorkspaceView

    sessions = []

    def make(spec):
        session = RunSession(lambda: spec)
        sessions.append(session)
        view = StepWorkspaceView(session)
        qtbot.addWidget(view)
        view.resize(1280, 800)
        view.show()
        qtbot.waitExposed(view)
        view.activateWindow()
        qtbot.waitActive(view)
        view.setFocus()
        qtbot.waitUntil(view.hasFocus)
        return view

    yield make
    for session in sessions:
        assert session.shutdown(10_000)
