"""Run a trainer in a QThread and re-emit what it yields as Qt signals.

The trainer is a plain generator (``convviz.training``); :class:`TrainingWorker` lives in its own
thread and loops over it. Controls (pause, resume, step, stop, requests) go straight to the trainer's
thread-safe :class:`~convviz.training.control.Control`, so they take effect between steps even though
the worker thread is busy and never returns to its event loop.

Snapshots are coalesced: the worker keeps only the newest and emits ``snapshot_ready`` once until the
GUI takes it with :meth:`TrainingWorker.take_snapshot`, so a slow view never backs up the trainer.

Weights are copied between steps: while the generator is suspended at a ``yield`` it runs no code,
so after each record the worker answers any :class:`WeightsRequest` with a copy of the network's
parameters and buffers, and, when asked, of the optimizer's state (velocity or Adam moments) with
the next step's learning rate. Only this module and :class:`~convviz.ui.session.RunSession` touch the worker.

While the thread runs, Python's garbage is collected on the GUI thread only
(:func:`~convviz.ui.gui_gc.collect_on_gui_thread`): a collection started by the trainer's allocations
would destroy closed widgets on this thread, which can deadlock PySide.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from convviz.engine.explain_update import OptimizerState
from convviz.training.control import Control
from convviz.training.records import Evaluation, Event, Metrics, Snapshot
from convviz.ui.gui_gc import collect_on_gui_thread


class WeightsRequest:
    """A copy of the weights asked for from the GUI thread and answered by the worker thread."""

    def __init__(self, optimizer: bool = False) -> None:
        self._answered = threading.Event()
        self.wants_optimizer = optimizer  # also copy the optimizer's state (as big as the weights again)
        self.weights: dict | None = None  # None: the run ended before a network was built
        self.optimizer: OptimizerState | None = None  # the trainer's optimizer at that moment (if asked for)

    def answer(self, weights: dict | None, optimizer: OptimizerState | None = None) -> None:
        self.weights, self.optimizer = weights, optimizer
        self._answered.set()

    def wait(self, timeout: float) -> bool:
        """True once answered; False if ``timeout`` seconds passed first."""
        return self._answered.wait(timeout)


def copy_weights(weights: dict | None) -> dict | None:
    return None if weights is None else {name: array.copy() for name, array in weights.items()}


def optimizer_state(trainer, origin: str) -> OptimizerState:
    """A copy of ``trainer``'s optimizer state (``state_dict()`` copies its arrays) and the lr of its next
    step (of its last, once the run has ended)."""
    lr = trainer.optimizer.lr if origin == "ended" else trainer.current_lr()
    return OptimizerState(trainer.optimizer.state_dict(), trainer.config.optimizer, float(lr), int(trainer.step), origin)


class TrainingWorker(QObject):
    """Loops over a trainer's records in the worker thread; see the module docstring."""

    metrics = Signal(object)  # Metrics
    evaluation = Signal(object)  # Evaluation
    event = Signal(object)  # Event
    snapshot_ready = Signal()  # take it with take_snapshot()
    finished = Signal()

    def __init__(self, make_trainer: Callable, control: Control) -> None:
        """``make_trainer(control)`` builds the Trainer (in the worker thread: loading data may be slow)."""
        super().__init__()
        self._make_trainer = make_trainer
        self.control = control
        self.trainer = None
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._signalled = False
        self._requests: list[WeightsRequest] = []
        self._ended = False
        self.final_weights: dict | None = None  # the network's weights when the run ended
        self.final_optimizer: OptimizerState | None = None  # and its optimizer's state

    @Slot()
    def run(self) -> None:
        try:
            self.trainer = self._make_trainer(self.control)
            for record in self.trainer.run():
                self._dispatch(record)
                self._answer_requests()
        except Exception as exc:  # building the trainer failed (bad data, no memory …)
            self.event.emit(Event("error", 0, 0, str(exc), {"exception": type(exc).__name__,
                                                           "traceback": traceback.format_exc()}))
        finally:
            final = self.trainer.net.get_weights() if self.trainer is not None else None
            final_optimizer = optimizer_state(self.trainer, "ended") if self.trainer is not None else None
            with self._lock:
                self.final_weights, self.final_optimizer = final, final_optimizer
                self._ended = True
                waiting, self._requests = self._requests, []
            for request in waiting:
                request.answer(copy_weights(final), final_optimizer)
            self.finished.emit()

    def _dispatch(self, record) -> None:
        if isinstance(record, Metrics):
            self.metrics.emit(record)
        elif isinstance(record, Evaluation):
            self.evaluation.emit(record)
        elif isinstance(record, Snapshot):
            with self._lock:
                self._latest = record
                already = self._signalled
                self._signalled = True
            if not already:
                self.snapshot_ready.emit()
        elif isinstance(record, Event):
            self.event.emit(record)

    def _answer_requests(self) -> None:
        """Called while the trainer is suspended between steps: its network is not changing."""
        with self._lock:
            waiting, self._requests = self._requests, []
        if waiting:
            weights = self.trainer.net.get_weights()  # copies
            wanted = any(request.wants_optimizer for request in waiting)
            optimizer = optimizer_state(self.trainer, "running") if wanted else None  # only read, never changed
            for i, request in enumerate(waiting):
                request.answer(weights if i == 0 else copy_weights(weights), optimizer)

    def request_weights(self, optimizer: bool = False) -> WeightsRequest:
        """Ask for a copy of the weights (and with ``optimizer`` of the optimizer's state) at the trainer's
        next pause between steps (from any thread)."""
        request = WeightsRequest(optimizer)
        with self._lock:
            ended = self._ended
            if not ended:
                self._requests.append(request)
        if ended:
            request.answer(copy_weights(self.final_weights), self.final_optimizer)
        else:
            self.control.request_snapshot()  # a paused trainer yields one, and with it the moment to answer
        return request

    def take_snapshot(self) -> Snapshot | None:
        """The newest snapshot (None if taken already); re-arms ``snapshot_ready``."""
        with self._lock:
            snapshot, self._latest = self._latest, None
            self._signalled = False
        return snapshot


class WorkerThread(QObject):
    """A worker and its thread: start, control, and stop cleanly (the window's close uses ``shutdown``)."""

    finished = Signal()

    def __init__(self, make_trainer: Callable, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.control = Control()
        self.thread = QThread()
        self.thread.setObjectName("convviz-training")
        self.worker = TrainingWorker(make_trainer, self.control)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Direct: the thread must end even while the GUI thread is blocked in shutdown()'s wait.
        self.worker.finished.connect(self._worked, Qt.ConnectionType.DirectConnection)
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self.finished)
        self._release_gc = lambda: None

    def start(self) -> None:
        self._release_gc = collect_on_gui_thread()  # the trainer's allocations never start a collection
        self.thread.start()

    def _worked(self) -> None:
        """The worker's last act on its thread: the GUI thread may let automatic collection back."""
        self._release_gc()

    @property
    def running(self) -> bool:
        return self.thread.isRunning()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the run and wait for the thread to end; True if it did within ``timeout_ms``."""
        self.control.stop()
        if not self.thread.isRunning():
            return True
        return self.thread.wait(timeout_ms)
