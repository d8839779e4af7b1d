"""The Step workspace's slow work (a trace, a receptive field, FC → CONV, a gradient check) on threads,
its results brought back to the GUI thread, with a busy bar while any runs.

    jobs.run("field", "Receptive field of conv3[0, 4, 4] …", work, on_done)   # work() on a thread of its own
    on_done(result, error)        # later, on the GUI thread, only if no newer "field" job was asked for
    jobs.cancel_all()             # drop every running job's result (each kind's on_cancel is called)

For each kind only the newest job is delivered: a newer request replaces an older one, whose result is
dropped when it arrives (numpy work cannot be stopped halfway; its thread just ends unheard).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from convviz.ui.gui_gc import collect_on_gui_thread

ERRORS = (ValueError, KeyError, MemoryError, OSError)  # what a job reports instead of raising


class Jobs(QObject):
    """Background jobs by kind; ``changed`` is emitted whenever one starts, ends or is cancelled."""

    changed = Signal()
    _done = Signal(str, int, object, object)  # kind, ticket, result, error: queued to the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tickets: dict[str, int] = {}
        self._running: dict[str, tuple[str, Callable, Callable | None]] = {}  # kind → (what, on_done, on_cancel)
        self._done.connect(self._deliver)

    def run(self, kind: str, what: str, work: Callable, on_done: Callable, on_cancel: Callable | None = None) -> None:
        """Run ``work()`` on a thread; then ``on_done(result, None)`` (or ``on_done(None, error)`` for one of
        ERRORS) on the GUI thread, unless a newer ``kind`` job was asked for or it was cancelled meanwhile."""
        ticket = self._tickets.get(kind, 0) + 1
        self._tickets[kind] = ticket
        self._running[kind] = (what, on_done, on_cancel)
        self.changed.emit()

        release_gc = collect_on_gui_thread()  # garbage is collected on the GUI thread meanwhile

        def body():
            try:
                try:
                    result, error = work(), None
                except ERRORS as exc:
                    result, error = None, exc
                self._done.emit(kind, ticket, result, error)
            finally:
                release_gc()

        threading.Thread(target=body, daemon=True, name=f"convviz-step-{kind}").start()

    def busy(self, kind: str | None = None) -> bool:
        return kind in self._running if kind else bool(self._running)

    def describe(self) -> str:
        """What the running jobs do, newest last."""
        return "; ".join(what for what, _, _ in self._running.values())

    def cancel(self, kind: str) -> None:
        """Drop the running ``kind`` job's result (its ``on_cancel`` is called)."""
        if kind in self._running:
            self._tickets[kind] += 1
            _, _, on_cancel = self._running.pop(kind)
            self.changed.emit()
            if on_cancel is not None:
                on_cancel()

    def cancel_all(self) -> None:
        for kind in list(self._running):
            self.cancel(kind)

    def _deliver(self, kind: str, ticket: int, result, error) -> None:
        if ticket != self._tickets.get(kind) or kind not in self._running:
            return  # replaced by a newer job of its kind, or cancelled
        _, on_done, _ = self._running.pop(kind)
        self.changed.emit()
        on_done(result, error)


class BusyBar(QWidget):
    """A busy bar (its tooltip says what runs) and a Cancel button; hidden while nothing runs."""

    def __init__(self, jobs: Jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: numpy work does not say how far it got
        self.bar.setTextVisible(False)  # what runs is in its tooltip and the view's caption
        self.bar.setFixedWidth(110)  # never takes the timeline's room
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop waiting for this work (the window goes on without it)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(jobs.cancel_all)
        jobs.changed.connect(self._update)
        self._update()

    def _update(self) -> None:
        text = self.jobs.describe()
        self.bar.setToolTip(text)
        self.setVisible(self.jobs.busy())
