"""The training panel: settings, Start / Pause / Step / Stop, live loss and accuracy curves, status.

It runs the network the builder shows (a copy taken at Start) in a :class:`TrainingSession`, draws
the curves from the worker's metric signals at a bounded rate, hands snapshots to the
:class:`~convviz.ui.training.snapshot_view.SnapshotView`, and on shutdown stops the run cleanly, offering to
save it as a checkpoint first.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from convviz.model import NetworkSpec
from convviz.training.config import OPTIMIZERS, ConfigError, TrainConfig
from convviz.training.records import Evaluation, Event, Metrics
from convviz.ui.training.worker import TrainingSession

REDRAW_MS = 200  # curves are redrawn at most five times a second
SNAPSHOT_SECONDS = 1.0


class TrainingPanel(QWidget):
    """Train the builder's network in the background and watch it learn."""

    snapshot_taken = Signal(object)  # Snapshot, for the views
    run_state_changed = Signal(str)  # idle, loading, running, paused, finished

    def __init__(self, spec_provider: Callable[[], NetworkSpec], dialogs, parent: QWidget | None = None) -> None:
        """``dialogs`` asks the questions (``ask_save_run``, ``choose_run_folder``); tests pass one that
        answers at once."""
        super().__init__(parent)
        self._spec_provider = spec_provider
        self.dialogs = dialogs
        self.data_folder: str | None = None  # the app's data folder setting (None: the default cache)
        self.session: TrainingSession | None = None
        self.state = "idle"
        self._reset_series()
        self._build()
        self._redraw_timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._redraw_timer.timeout.connect(self._redraw)
        self._set_state("idle")

    # -- layout ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.data_source = QComboBox()
        self.data_source.addItem("Synthetic shapes (offline)", "synthetic")
        self.data_source.addItem("CIFAR-10 (from the cache)", "cifar10")
        self.data_source.addItem("CIFAR-10 archive…", "choose")
        self.data_source.setToolTip("Fetch CIFAR-10 with `convviz data fetch`, or choose an archive you have.")
        self.data_source.activated.connect(self._maybe_choose_archive)
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=5)
        self.batch = QSpinBox(minimum=1, maximum=4096, value=64)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=10.0, value=0.01, singleStep=0.001)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.optimizer.setCurrentText("momentum")
        self.augment = QCheckBox("flip and crop", checked=True)
        form = QFormLayout()
        form.addRow("Data", self.data_source)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Augment", self.augment)

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.step_button = QPushButton("Step")
        self.stop_button = QPushButton("Stop")
        self.save_button = QPushButton("Save run…")
        self.start_button.setToolTip("Train the network shown in the builder (a copy: edits during a run wait)")
        self.step_button.setToolTip("Run one batch, then pause")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.step_button.clicked.connect(self.step)
        self.stop_button.clicked.connect(self.stop)
        self.save_button.clicked.connect(self.save_run)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.step_button, self.stop_button, self.save_button):
            buttons.addWidget(button)

        self.status = QLabel("Press Start to train the network in the builder.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen((150, 150, 220), width=1), name="batch")
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen((40, 60, 200), width=2), name="smoothed")
        self.acc_plot = pg.PlotWidget(title="Accuracy")
        self.acc_plot.setLabel("bottom", "step")
        self.acc_plot.setYRange(0, 1)
        self.acc_plot.addLegend(offset=(-10, -10))
        self.batch_acc_curve = self.acc_plot.plot(pen=pg.mkPen((200, 160, 120), width=1), name="batch")
        self.val_curve = self.acc_plot.plot(pen=pg.mkPen((30, 150, 60), width=2), symbol="o", symbolSize=6,
                                            symbolBrush=(30, 150, 60), name="validation")
        self.test_curve = self.acc_plot.plot(pen=pg.mkPen((200, 60, 40), width=2), symbol="s", symbolSize=6,
                                             symbolBrush=(200, 60, 40), name="test")
        for plot in (self.loss_plot, self.acc_plot):
            plot.setBackground("w")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMinimumHeight(140)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(self.acc_plot, 1)

    # -- settings → a run ----------------------------------------------------------------------------------
    def _maybe_choose_archive(self, index: int) -> None:
        if self.data_source.itemData(index) != "choose":
            return
        path = self.dialogs.open_cifar10_archive("")
        if path:
            self.use_source(path)
        else:
            self.data_source.setCurrentIndex(0)

    def use_source(self, source: str) -> None:
        """Select the data set ``source`` (``synthetic``, ``cifar10`` or an archive path)."""
        index = self.data_source.findData(source)
        if index < 0:
            self.data_source.insertItem(0, Path(source).name, source)
            index = 0
        self.data_source.setCurrentIndex(index)

    def config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs.value(), batch_size=self.batch.value(), lr=self.lr.value(),
            optimizer=self.optimizer.currentText(), augment=self.augment.isChecked(),
        )

    def start(self) -> None:
        if self.session is not None and self.session.running:
            return
        try:
            config = self.config()
        except ConfigError as exc:
            self.status.setText(f"Cannot start: {exc}")
            return
        spec = self._spec_provider().copy()
        source = self.data_source.currentData()
        folder = self.data_folder

        def make_trainer(control):
            from convviz.data import load_dataset
            from convviz.training.trainer import Trainer

            options = {"cache": folder} if folder else {}
            dataset = load_dataset(source, validation=config.validation, seed=config.seed, **options)
            return Trainer(spec, dataset, config, control=control)

        self._reset_series()
        self._redraw()
        self.session = TrainingSession(make_trainer, self)
        worker = self.session.worker
        worker.metrics.connect(self._on_metrics)
        worker.evaluation.connect(self._on_evaluation)
        worker.event.connect(self._on_event)
        worker.snapshot_ready.connect(self._on_snapshot_ready)
        self.session.finished.connect(self._on_finished)
        self.session.control.set_snapshot_schedule(every_seconds=SNAPSHOT_SECONDS)
        self.session.control.request_snapshot()
        self.status.setText(f"Loading the {self.data_source.currentText()} data set …")
        self._set_state("loading")
        self.session.start()

    def toggle_pause(self) -> None:
        if self.session is None:
            return
        if self.state == "paused":
            self.session.control.resume()
            self._set_state("running")
        else:
            self.session.control.pause()
            self._set_state("paused")

    def step(self) -> None:
        if self.session is not None and self.session.running:
            self.session.control.step()
            self._set_state("paused")

    def stop(self) -> None:
        if self.session is not None:
            self.session.control.stop()

    def save_run(self, folder: str | None = None) -> bool:
        """Ask the trainer to write a checkpoint between steps; True if one was requested."""
        if self.session is None or not self.session.running:
            return False
        folder = folder or self.dialogs.choose_run_folder(suggested_run_folder())
        if not folder:
            return False
        self.session.control.request_checkpoint(folder)
        return True

    def shutdown(self, ask: bool = True) -> bool:
        """Stop any run before the window closes; offers to save it. False if the user cancels."""
        if self.session is None or not self.session.running:
            return True
        if ask:
            self.session.control.pause()
            answer = self.dialogs.ask_save_run()
            if answer == "cancel":
                self.session.control.resume()
                return False
            if answer == "save":
                folder = self.dialogs.choose_run_folder(suggested_run_folder())
                if folder:
                    self.session.control.request_checkpoint(folder)
        return self.session.shutdown()

    # -- records → the view ----------------------------------------------------------------------------------
    def _reset_series(self) -> None:
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.batch_accuracy: list[float] = []
        self.evaluations: dict[str, tuple[list[int], list[float]]] = {"validation": ([], []), "test": ([], [])}
        self.last_metrics: Metrics | None = None

    def _on_metrics(self, record: Metrics) -> None:
        if self.state == "loading":
            self._set_state("paused" if self.session.control.paused else "running")
        self.last_metrics = record
        self.steps.append(record.step)
        self.losses.append(record.loss)
        self.smoothed.append(record.smoothed_loss)
        self.batch_accuracy.append(record.batch_accuracy)
        eta = "" if record.eta_seconds is None else f", about {record.eta_seconds / 60:.1f} min left"
        self.status.setText(
            f"Epoch {record.epoch} ({record.progress:.2f} done) · step {record.step} · loss {record.smoothed_loss:.3f} · "
            f"batch accuracy {record.batch_accuracy:.0%} · lr {record.lr:.3g} · {record.images_per_second:,.0f} images/s{eta}"
        )
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _on_evaluation(self, record: Evaluation) -> None:
        steps, values = self.evaluations.setdefault(record.split, ([], []))
        steps.append(record.step)
        values.append(record.accuracy)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _on_event(self, record: Event) -> None:
        if record.kind in ("paused", "diverged"):
            self._set_state("paused")
        elif record.kind == "resumed":
            self._set_state("running")
        elif record.kind == "started" and self.state == "loading":
            self._set_state("paused" if self.session.control.paused else "running")
        prefix = {"diverged": "⚠ ", "error": "✗ "}.get(record.kind, "")
        self.status.setText(prefix + record.message)

    def _on_snapshot_ready(self) -> None:
        snapshot = self.session.worker.take_snapshot() if self.session else None
        if snapshot is not None:
            self.snapshot_taken.emit(snapshot)

    def _on_finished(self) -> None:
        self._set_state("finished")

    def _redraw(self) -> None:
        steps = np.asarray(self.steps, dtype=float)
        self.loss_curve.setData(steps, np.asarray(self.losses))
        self.smooth_curve.setData(steps, np.asarray(self.smoothed))
        self.batch_acc_curve.setData(steps, np.asarray(self.batch_accuracy))
        for split, curve in (("validation", self.val_curve), ("test", self.test_curve)):
            x, y = self.evaluations.get(split, ([], []))
            curve.setData(np.asarray(x, dtype=float), np.asarray(y))

    def _set_state(self, state: str) -> None:
        self.state = state
        active = state in ("loading", "running", "paused")
        self.start_button.setEnabled(not active)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.step_button.setEnabled(state in ("running", "paused"))
        self.stop_button.setEnabled(active)
        self.save_button.setEnabled(state in ("running", "paused"))
        for widget in (self.data_source, self.epochs, self.batch, self.lr, self.optimizer, self.augment):
            widget.setEnabled(not active)
        self.run_state_changed.emit(state)


def suggested_run_folder() -> str:
    """``…/ConvViz/runs/run-20261130-101500`` in the user's data folder."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(Path(base) / "runs" / f"run-{stamp}")
