"""Work done off the GUI thread: the result's weights in a float64 network, the queued signals that
carry threads' progress and results back to the GUI thread, and :class:`LatestJob`, which runs one
job at a time and lets a newer request replace a pending one."""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6.QtCore import QObject, Signal

from convviz.ui.gui_gc import collect_on_gui_thread


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


class LatestJob:
    """One job at a time on a thread of its own; a newer request replaces a pending one (and asks the one
    running to stop at its next check), so requests never pile up: at most one runs and one waits.

    ``submit(work)``: ``work(cancelled)`` runs on the job's thread, ``cancelled()`` true once a newer
    request came or :meth:`cancel` was called; ``work`` reports its own results (queued signals)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._pending = None
        self._running = False
        self._cancel = threading.Event()
        self.started = 0  # jobs begun, for the curious (and the tests)

    def submit(self, work) -> None:
        with self._lock:
            self._cancel.set()
            self._pending = work
            if self._running:
                return
            self._running = True
        release_gc = collect_on_gui_thread()  # garbage is collected on the GUI thread meanwhile
        threading.Thread(target=self._loop, args=(release_gc,), daemon=True, name=self.name).start()

    def cancel(self) -> None:
        """Drop the pending job and ask the running one to stop."""
        with self._lock:
            self._pending = None
            self._cancel.set()

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._running

    def _loop(self, release_gc) -> None:
        while True:
            with self._lock:
                work, self._pending = self._pending, None
                if work is None:
                    self._running = False
                    release_gc()
                    return
                self._cancel = cancel = threading.Event()
                self.started += 1
            try:
                work(cancel.is_set)
            except Exception:  # a job reports its own errors; one that escapes is logged, the loop goes on
                logging.getLogger(__name__).exception("%s: a job failed", self.name)
