"""Garbage collection on the GUI thread only, while the app's own threads run Python code.

Python's cyclic collector runs in whichever thread happens to allocate past its threshold. Widgets,
menus and views that were closed often live on in reference cycles (a lambda connected to a signal
holds its widget, a widget holds the lambda), so a collection started by the training thread (or a
probe snapshot's, a job's, a download's) destroys Qt widgets on that thread. Qt forbids it, and PySide
can deadlock doing it: the thread, inside a ``QObject`` destructor, holds Qt's signal-slot mutex and
waits for the GIL, while the GUI thread holds the GIL and waits for that mutex in a destructor of its
own (seen as the Train views waiting for snapshots that never came: both threads asleep for good).

So while any of those threads runs, automatic collection is off and the GUI thread collects on a timer
instead, each generation when its threshold is passed, as automatic collection would have (pyqtgraph's
``GarbageCollector`` does this for every pyqtgraph app)::

    release = collect_on_gui_thread()   # on the GUI thread, before the thread starts
    ...                                  # the thread's work
    release()                            # at its end, from any thread (a second call does nothing)

Automatic collection comes back at the GUI timer's next tick after the last release, so a thread that
released never collects on its way out.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

COLLECT_MS = 200  # how often the GUI thread looks at the collector's counts while a thread runs


class GuiThreadCollector(QObject):
    """Counts the threads that hold automatic collection off, and collects for them on its GUI timer."""

    _wake = Signal()  # start the timer on the GUI thread (queued when held from another thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._holds = 0
        self._restore: bool | None = None  # gc.isenabled() before the first hold (None: not turned off)
        self._timer = QTimer(self, interval=COLLECT_MS)
        self._timer.timeout.connect(self._tick)
        self._wake.connect(self._start)

    @property
    def holds(self) -> int:
        with self._lock:
            return self._holds

    def hold(self) -> Callable[[], None]:
        """Turn automatic collection off until the returned ``release()`` is called (once, any thread)."""
        with self._lock:
            self._holds += 1
            if self._restore is None:
                self._restore = gc.isenabled()
            gc.disable()
        self._wake.emit()
        released = []

        def release() -> None:
            with self._lock:
                if not released:
                    released.append(True)
                    self._holds -= 1

        return release

    def _start(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _tick(self) -> None:
        self.collect()
        with self._lock:
            if self._holds:
                return
            if self._restore:
                gc.enable()  # under the lock: a hold from another thread meanwhile turns it off again after
            self._restore = None
        self._timer.stop()  # (a hold since then starts it again: its wake-up is queued behind this tick)

    def collect(self) -> int:
        """Collect the generations whose thresholds are passed, as automatic collection would (the
        youngest first: a generation is looked at once the one below it passed too); the objects found."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        generation = -1
        for g in range(3):
            if not (thresholds[g] and counts[g] > thresholds[g]):
                break
            generation = g
        return gc.collect(generation) if generation >= 0 else 0


_collector: GuiThreadCollector | None = None
_made = threading.Lock()


def collector() -> GuiThreadCollector | None:
    """The application's collector, made on first use (it lives on the GUI thread, a child of the
    application); None without a Qt application (no event loop to collect on: nothing is turned off)."""
    global _collector
    app = QCoreApplication.instance()
    if app is None:
        return None
    with _made:
        if _collector is None or not shiboken6.isValid(_collector):
            made = GuiThreadCollector()
            made.moveToThread(app.thread())
            made.setParent(app)
            _collector = made
        return _collector


def collect_on_gui_thread() -> Callable[[], None]:
    """Hold automatic garbage collection off while a thread of the app runs: call it before starting
    the thread and the returned ``release()`` when its work is done (see the module docstring)."""
    held = collector()
    return held.hold() if held is not None else (lambda: None)
