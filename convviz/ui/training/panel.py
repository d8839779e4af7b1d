"""The training panel: the run's settings, Start / Pause / Step / Stop / Save run, a status line and
the run's log.

It starts runs of the builder's network through the :class:`~convviz.ui.session.RunSession`
(which trains a copy taken at Start), follows the session's state to enable its controls, says what
the newest record reports, lists the run's events (start, epoch ends with their accuracies,
pauses, checkpoints, problems). A run that ended can be saved until the next one starts, and
starting one or closing the window first offers to save training no checkpoint holds. Before the
window closes it stops a run going on, offering to save it as
a checkpoint first: the window stays open, showing progress, until the checkpoint is written
(:attr:`TrainingPanel.close_ready` then tells it to close), and stays open if it cannot be.
The data set chosen (synthetic, CIFAR-10 from the cache, an archive) is remembered in the window's
settings and chosen again at the next start.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from PySide6.QtCore import QSettings, QSignalBlocker, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QListWidget,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from convviz.training.config import OPTIMIZERS, ConfigError, TrainConfig
from convviz.training.records import Event, Metrics
from convviz.ui.session import ACTIVE_STATES, MAX_BATCH, RunSession


DATA_SETTING = "training/data"  # synthetic, cifar10 or an archive's path
CORES_SETTING = "training/cores"  # how many cores share each step (TrainConfig.threads)
# The app's default is one core, which keeps the window smooth. With two (the batch split, part 1 in
# a helper process: convviz.engine.processes) the app trained ConvNetJS 1.8× faster (4,292 against
# 2,387 images/s, every Train view visible) but the window's 10 ms timer ran late by 21 ms at p99
# and 122 ms at worst, against 8.4 and 21 ms on one core (bench/bench_training.py, quiet machine,
# 2026-12-01; a lower priority for the helper process only brought p99 to 17–20 ms). With the views
# tabbed, as the workspace opens: p99 13.7 ms and max 43 ms on two cores, 5.7 and 8 ms on one.
DEFAULT_CORES = 1


class TrainingPanel(QWidget):
    """Settings and controls of a run, and what it is doing now."""

    close_ready = Signal()  # the run was saved on the way out: the window may close now

    def __init__(self, session: RunSession, dialogs, settings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        """``dialogs`` asks the questions (``ask_save_run``, ``choose_run_folder``,
        ``open_cifar10_archive``); tests pass one that answers at once. ``settings`` remembers the
        data set chosen (``training/data``) across restarts."""
        super().__init__(parent)
        self.session = session
        self.dialogs = dialogs
        self.settings = settings
        self.closing_to: str | None = None  # the folder a run is being saved to before the window closes
        self.closing_progress: QProgressDialog | None = None
        self._build()
        session.state_changed.connect(self._show_state)
        session.metrics.connect(self._on_metrics)
        session.event.connect(self._on_event)
        session.run_started.connect(self.log.clear)
        session.run_opened.connect(self._show_opened_log)
        session.saved.connect(self._on_saved)
        session.save_failed.connect(self._on_save_failed)
        session.run_finished.connect(self._on_run_finished)
        self._show_state(session.state)
        self._restore_source()
        self.data_source.currentIndexChanged.connect(self._remember_source)

    def _build(self) -> None:
        self.data_source = QComboBox()
        self.data_source.addItem("Synthetic shapes (offline)", "synthetic")
        self.data_source.addItem("CIFAR-10 (from the cache)", "cifar10")
        self.data_source.addItem("CIFAR-10 archive…", "choose")
        self.data_source.setToolTip("Fetch CIFAR-10 with Train → Download CIFAR-10, or choose an archive you have.")
        self.data_source.activated.connect(self._maybe_choose_archive)
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=5)
        self.batch = QSpinBox(minimum=1, maximum=MAX_BATCH, value=self.session.batch_size)
        self.batch.setGroupSeparatorShown(True)
        self.batch.setToolTip("Images per step; the summary's memory estimate uses the same batch")
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=10.0, value=0.01, singleStep=0.001)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.optimizer.setCurrentText(self.session.optimizer)
        self.optimizer.setToolTip("How each step updates the weights; the summary's memory estimate uses the same one")
        self.batch.valueChanged.connect(lambda value: self.session.set_choices(batch_size=value))
        self.optimizer.currentTextChanged.connect(lambda name: self.session.set_choices(optimizer=name))
        self.session.choices_changed.connect(self._show_choices)
        self.augment = QCheckBox("flip and crop", checked=True)
        self.cores = QComboBox()
        for n in range(1, max(2, os.cpu_count() or 1) + 1):
            self.cores.addItem(f"{n} core{'s' if n > 1 else ''}", n)
        self.cores.setToolTip("How many cores share each step, each taking a part of the batch (batch norm still "
                              "uses the whole batch). 1 keeps the window smooth; 2 trains about 1.8× faster on a "
                              "2-core machine, but the window may stutter meanwhile")
        self._restore_cores()
        self.cores.currentIndexChanged.connect(self._remember_cores)
        form = QFormLayout()
        form.addRow("Data", self.data_source)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Augment", self.augment)
        form.addRow("Cores", self.cores)

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.step_button = QPushButton("Step")
        self.stop_button = QPushButton("Stop")
        self.save_button = QPushButton("Save run…")
        self.start_button.setToolTip("Train the network shown in the builder (a copy: edits during a run wait)")
        self.step_button.setToolTip("Run one batch, then pause")
        self.save_button.setToolTip("Save the run as a checkpoint folder to resume later: while it goes on, "
                                    "and after it ended until the next run starts")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.session.toggle_pause)
        self.step_button.clicked.connect(self.session.step)
        self.stop_button.clicked.connect(self.session.stop)
        self.save_button.clicked.connect(lambda: self.save_run())
        buttons = QGridLayout()  # two rows, so the panel fits a narrow dock
        for i, button in enumerate((self.start_button, self.pause_button, self.step_button, self.stop_button)):
            buttons.addWidget(button, 0, i)
        buttons.addWidget(self.save_button, 1, 0, 1, 4)

        self.status = QLabel("Press Start to train the network in the builder.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.log = QListWidget()
        self.log.setToolTip("What happened in this run, newest last")
        self.log.setWordWrap(True)
        self.log.setSelectionMode(QListWidget.SelectionMode.NoSelection)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Run log"))
        layout.addWidget(self.log, 1)

    # -- settings → a run ----------------------------------------------------------------------------------
    def _maybe_choose_archive(self, index: int) -> None:
        if self.data_source.itemData(index) != "choose":
            return
        path = self.dialogs.open_cifar10_archive("")
        if path:
            self.use_source(path)
        else:
            self.data_source.setCurrentIndex(0)

    def _restore_source(self) -> None:
        """The data set chosen last time: synthetic, CIFAR-10 from the cache, or an archive that still exists."""
        source = self.settings.value(DATA_SETTING, "", type=str) if self.settings is not None else ""
        if source in ("synthetic", "cifar10") or (source and source != "choose" and Path(source).exists()):
            self.use_source(source)

    def _restore_cores(self) -> None:
        cores = self.settings.value(CORES_SETTING, DEFAULT_CORES, type=int) if self.settings is not None else DEFAULT_CORES
        index = self.cores.findData(cores)
        self.cores.setCurrentIndex(index if index >= 0 else self.cores.findData(min(DEFAULT_CORES, self.cores.count())))

    def _remember_cores(self, _index: int = 0) -> None:
        if self.settings is not None:
            self.settings.setValue(CORES_SETTING, self.cores.currentData())

    def _remember_source(self, _index: int = 0) -> None:
        source = self.data_source.currentData()
        if self.settings is not None and source != "choose":
            self.settings.setValue(DATA_SETTING, source)

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
            threads=self.cores.currentData(),
        )

    def show_opened(self, opened) -> None:
        """An opened run (:class:`~convviz.ui.session.OpenedRun`): its settings in the fields, its data set chosen."""
        config = opened.config
        self.epochs.setValue(config.epochs)
        self.batch.setValue(config.batch_size)
        self.lr.setValue(config.lr)
        self.optimizer.setCurrentText(config.optimizer)
        self.augment.setChecked(config.augment)
        cores = self.cores.findData(config.threads)
        if cores >= 0:  # Resume Run then gives the numbers `convviz train --resume` gives; not remembered
            blocker = QSignalBlocker(self.cores)
            self.cores.setCurrentIndex(cores)
            del blocker
        if opened.dataset == "synthetic" or (opened.dataset == "cifar10" and self.data_source.currentData() == "synthetic"):
            self.use_source(opened.dataset)  # an archive already chosen is kept for a CIFAR-10 run
        done = "finished" if opened.epoch >= config.epochs else f"{opened.epoch} of {config.epochs} epochs done"
        self.status.setText(f"Opened the run in {opened.folder} at step {opened.step:,} ({done}): Train → Resume Run "
                            "goes on with it (raise Epochs to train longer); Start begins a new run.")

    def resume_run(self) -> bool:
        """Go on with the opened run on the chosen data set, up to Epochs in all (``convviz train --resume``)."""
        if not self.session.can_resume:
            self.dialogs.show_error("Nothing to resume", "Open a run first (File → Open Run…); the builder must "
                                    "show its network.")
            return False
        if not self.session.resume_run(self.data_source.currentData(), self.epochs.value(), self.cores.currentData()):
            return False
        self.status.setText(f"Loading the {self.data_source.currentText()} data set to resume the run …")
        return True

    def start(self) -> None:
        if not self.may_discard_run("starting a new run"):
            return
        try:
            config = self.config()
        except ConfigError as exc:
            self.status.setText(f"Cannot start: {exc}")
            return
        if self.session.start(config, self.data_source.currentData()):
            self.status.setText(f"Loading the {self.data_source.currentText()} data set …")

    def save_run(self, folder: str | None = None) -> bool:
        """Save the run (going on, or ended and not replaced yet) as a checkpoint in ``folder`` (asked
        for if None); True if it was written, or asked of the trainer while the run goes on."""
        if not self.session.can_save:
            return False
        folder = folder or self.dialogs.choose_run_folder(suggested_run_folder())
        if not folder or not self.session.save_run(folder):
            return False
        return self.session.running or not self.session.unsaved_steps

    def may_discard_run(self, doing: str) -> bool:
        """True if ``doing`` loses no training: none is unsaved, it was saved now, or the user said discard."""
        steps = self.session.unsaved_steps
        if not steps:
            return True
        answer = self.dialogs.ask_unsaved_run(steps, doing)
        if answer == "save":
            return self.save_run()
        return answer == "discard"

    def shutdown(self, ask: bool = True) -> bool:
        """Before the window closes: True if it may close now, False if not (yet).

        A run going on is paused and the user asked whether to save it. Saving happens between two
        steps while a progress box shows where it goes; :attr:`close_ready` follows once the
        checkpoint is written. If it cannot be, the user is told why and the run stays, paused.
        """
        if self.closing_to is not None:  # already saving on the way out
            return False
        if not self.session.running:
            return not ask or self.may_discard_run("closing")
        if not ask:
            return self.session.shutdown()
        was_paused = self.session.state == "paused"
        self.session.pause()
        answer = self.dialogs.ask_save_run()
        if answer == "discard":
            return self.session.shutdown()
        folder = self.dialogs.choose_run_folder(suggested_run_folder()) if answer == "save" else None
        if not folder:  # cancelled, or no folder chosen: nothing is lost, nothing closes
            if not was_paused:
                self.session.resume()
            return False
        self.closing_to = folder
        self._show_closing_progress(f"Saving the run to {folder} before closing …")
        self.session.request_checkpoint(folder)
        return False

    def _show_closing_progress(self, text: str) -> None:
        self.status.setText(text)
        if self.closing_progress is None:
            box = self.closing_progress = QProgressDialog(self)
            box.setWindowTitle("Saving the run")
            box.setCancelButton(None)
            box.setRange(0, 0)  # busy: the trainer writes between two steps
            box.setMinimumDuration(0)
            box.setWindowModality(Qt.WindowModality.WindowModal)
        self.closing_progress.setLabelText(text)
        self.closing_progress.show()

    def _end_closing(self) -> None:
        self.closing_to = None
        if self.closing_progress is not None:
            self.closing_progress.hide()

    def _on_saved(self, folder: str) -> None:
        if self.closing_to is None:
            return
        self._end_closing()
        self.session.shutdown()
        self.dialogs.show_info("Run saved", f"The run is saved in {folder}; resume it from there "
                               f"(python -m convviz train --resume \"{folder}\").")
        self.close_ready.emit()

    def _on_save_failed(self, folder: str, message: str) -> None:
        if self.closing_to is None:
            self.dialogs.show_error("The run was not saved", message)
            return
        self._end_closing()
        self.dialogs.show_error("The run was not saved", f"{message.split('; training goes on')[0]}.\n\nThe window "
                                "stays open and the run is paused: choose another folder with Save run…, "
                                "or close again and discard it.")

    def _on_run_finished(self) -> None:
        if self.closing_to is None:
            return
        folder = self.closing_to
        self._end_closing()
        self.dialogs.show_error("The run was not saved", f"The run ended before it could be saved to {folder}: "
                                f"{self.status.text()}")

    # -- the session → the panel -----------------------------------------------------------------------------
    def _show_choices(self) -> None:
        for widget, set_value in ((self.batch, lambda: self.batch.setValue(self.session.batch_size)),
                                  (self.optimizer, lambda: self.optimizer.setCurrentText(self.session.optimizer))):
            widget.blockSignals(True)
            set_value()
            widget.blockSignals(False)

    def _on_metrics(self, record: Metrics) -> None:
        eta = "" if record.eta_seconds is None else f", about {record.eta_seconds / 60:.1f} min left"
        self.status.setText(
            f"Epoch {record.epoch} ({record.progress:.2f} done) · step {record.step} · loss {record.smoothed_loss:.3f} · "
            f"batch accuracy {record.batch_accuracy:.0%} · lr {record.lr:.3g} · {record.images_per_second:,.0f} images/s{eta}"
        )

    def _on_event(self, record: Event) -> None:
        prefix = {"diverged": "⚠ ", "error": "✗ "}.get(record.kind, "")
        self.status.setText(prefix + record.message)
        self.log.addItem(f"{prefix}step {record.step}: {record.message}")
        self.log.scrollToBottom()

    def _show_opened_log(self, _folder: str) -> None:
        """An opened run's log: the events its checkpoint kept."""
        for record in self.session.records.events:
            prefix = {"diverged": "⚠ ", "error": "✗ "}.get(record.kind, "")
            self.log.addItem(f"{prefix}step {record.step}: {record.message}")
        self.log.scrollToBottom()

    def _show_state(self, state: str) -> None:
        active = state in ACTIVE_STATES
        live = state in ("running", "paused")
        self.start_button.setEnabled(not active)
        self.pause_button.setEnabled(live)
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.step_button.setEnabled(live)
        self.stop_button.setEnabled(active)
        self.save_button.setEnabled(live or (state == "finished" and self.session.can_save))
        for widget in (self.data_source, self.epochs, self.batch, self.lr, self.optimizer, self.augment):
            widget.setEnabled(not active)


def suggested_run_folder() -> str:
    """``…/ConvViz/runs/run-20261130-101500`` in the user's data folder."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(Path(base) / "runs" / f"run-{stamp}")
