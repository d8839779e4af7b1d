"""Work done off the GUI thread: the result's weights in a float64 network, and the queued signals that
carry threads' progress and results back to the GUI thread."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, Signal


class _Float64Net:
    """A result's weights in a float64 network, built once on first use (by one thread at a time)."""

    def __init__(self, spec, weights):
        self.spec, self.weights, self.lock, self._net = spec, weights, threading.Lock(), None

    def get(self):
        if self._net is None:
            from convviz.engine import Network

            self._net = Network(self.spec, seed=0, dtype=np.float64)
            self._net.set_weights(self.weights)
        return self._net


class _Jobs(QObject):
    """Carries work done on threads back to the GUI thread (queued signals)."""

    progress = Signal(int, int, int)  # ticket, done, total
    patch_progress = Signal(int, int, int)  # ticket, done, total
    done = Signal(str, int, object, object)  # kind, ticket, result, error
