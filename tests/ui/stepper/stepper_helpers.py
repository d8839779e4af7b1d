"""Helpers of the Step workspace's tests: the engine's own trace of the view's image, key presses."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from convviz.engine import Network


def engine_trace(view):
    """The engine's own traced pass (float64) of the view's image, with the session's weights."""
    session = view.session
    net = Network(session.network(), dtype=np.float64)
    net.set_weights(session.current_weights())
    trace = net.trace_forward(view.run.x)
    return net, trace


def press(qtbot, view, key, times=1, shift=False):
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    for _ in range(times):
        qtbot.keyClick(view, key, modifier)
