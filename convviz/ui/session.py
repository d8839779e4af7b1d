"""The run session: the current network's weights, the training worker, and the latest records.

One :class:`RunSession` per window. It starts and controls runs (the worker thread of
:mod:`convviz.ui.training.worker` is its own: no view talks to it), keeps what the run has said so
far in :class:`RunRecords`, and re-emits every record as a signal on the GUI thread. Views
subscribe to those signals and read ``records``; a view created mid-run draws from ``records`` and
then follows the signals.

:meth:`RunSession.current_weights` is the seam for views that look inside the network (stepping
through a pass, analysing a trained network): a copy of every parameter and buffer, taken between
two training steps while a run goes on, or else the last known network's (the weights a run ended
with while the builder still shows that network, or fresh seeded weights of the builder's network).

A run that ended (finished or stopped) stays saveable until the next one starts:
:meth:`RunSession.save_run` writes its trainer's state as a checkpoint, and
:attr:`RunSession.unsaved_steps` says whether training would be lost. Editing the network loses
nothing: the ended run keeps its own network, and its weights are what views see again whenever
the builder shows that network again (after an undo, say).

A run saved as a checkpoint can be opened (:func:`read_run`, then :meth:`RunSession.adopt_run`): its
network, trained weights and records become the session's, and :meth:`RunSession.resume_run`
continues it exactly as ``convviz train --resume`` does (``resume_trainer`` on the same data set,
writing its checkpoints into the same folder), for as long as the builder shows its network.

The session also holds the next run's batch size and optimizer (:meth:`RunSession.set_choices`,
``choices_changed``): the Training panel trains with them and the summary sizes a training step's
memory with them, so the two never disagree.

States: ``idle`` (no run yet), ``loading`` (the data set and the trainer are being built),
``running``, ``paused``, ``finished`` (ended, stopped or failed).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from convviz.model import NetworkSpec
from convviz.training.config import TrainConfig
from convviz.training.records import Evaluation, Event, Metrics
from convviz.ui.run_records import OpenedRun, RunRecords, read_run, records_from_history  # noqa: F401 (re-exported)
from convviz.ui.session_probes import SessionProbes
from convviz.ui.session_weights import SessionWeights, same_network
from convviz.ui.training.worker import WorkerThread, copy_weights

SNAPSHOT_SECONDS = 1.0  # a snapshot of the insides about once a second while training
MAX_BATCH = 65_536  # the largest batch either view offers
ACTIVE_STATES = ("loading", "running", "paused")


class RunSession(QObject, SessionProbes, SessionWeights):
    """Runs of the builder's network and their weights and records, for every view to subscribe to.

    The user's own probe images and the filter-gradient request are :class:`SessionProbes`'; the weights
    views see (and the optimizer state they go with) are :class:`SessionWeights`'."""

    state_changed = Signal(str)  # idle, loading, running, paused, finished
    run_started = Signal()  # a new run: ``records`` were cleared
    metrics = Signal(object)  # Metrics
    evaluation = Signal(object)  # Evaluation
    event = Signal(object)  # Event
    snapshot = Signal(object)  # Snapshot (the newest; slow views never back up the trainer; records.snapshots keeps a ring)
    run_finished = Signal()
    saved = Signal(str)  # a checkpoint of the run was written to this folder
    save_failed = Signal(str, str)  # the folder, and what went wrong
    choices_changed = Signal()  # the next run's batch size or optimizer
    run_opened = Signal(str)  # a checkpoint folder's run became the session's (records and weights)
    weights_changed = Signal()  # the weights views see changed without a run (a run opened, weights imported)

    def __init__(self, spec_provider: Callable[[], NetworkSpec], parent: QObject | None = None) -> None:
        """``spec_provider()`` is the network the builder shows; a run trains a copy taken at start."""
        super().__init__(parent)
        self._spec_provider = spec_provider
        self.data_folder: str | None = None  # the app's data folder setting (None: the default cache)
        self.snapshot_gradients = False  # whether snapshots carry gradients (want_gradients)
        self.records = RunRecords()
        self.state = "idle"
        self._run: WorkerThread | None = None
        self._network: NetworkSpec | None = None  # the network the weights below belong to
        self._weights: dict | None = None
        self._origin = "fresh"
        self._ended = None  # the trainer of the run that ended (finished or stopped), saveable
        self._trained: tuple[NetworkSpec, dict] | None = None  # that run's network and final weights
        self._trained_origin = "trained"  # or "imported": where those weights came from
        self._saved_step: int | None = None  # the step of the run's newest checkpoint
        self.opened: OpenedRun | None = None  # the run opened from a checkpoint, resumable
        self._trained_optimizer = None  # the OptimizerState of ``_trained`` (None: read an opened run's checkpoint)
        self.batch_size = TrainConfig().batch_size
        self.optimizer = TrainConfig().optimizer
        self._init_probes()

    def set_choices(self, *, batch_size: int | None = None, optimizer: str | None = None) -> None:
        """Change the next run's batch size and/or optimizer (every view showing them follows)."""
        new = (self.batch_size if batch_size is None else int(batch_size), optimizer or self.optimizer)
        if new != (self.batch_size, self.optimizer):
            self.batch_size, self.optimizer = new
            self.choices_changed.emit()

    # -- runs ----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the worker thread runs (loading, running or paused)."""
        return self._run is not None and self._run.running

    def start(self, config: TrainConfig, source: str) -> bool:
        """Train a copy of the builder's network on the data set ``source`` (``synthetic``, ``cifar10``
        or an archive path) with ``config``; False if a run is going already."""
        if self.running:
            return False
        spec = self._spec_provider().copy()
        folder = self.data_folder
        initial = self._fine_tuning_weights()

        def make_trainer(control):
            from convviz.training.fine_tune import start_from
            from convviz.training.trainer import Trainer

            dataset = _load_dataset(source, config, folder)
            trainer = Trainer(spec, dataset, config, control=control)
            return start_from(trainer, initial) if initial is not None else trainer

        self.opened = None  # a new run replaces an opened one
        self._launch(spec, make_trainer, RunRecords())
        return True

    @property
    def can_resume(self) -> bool:
        """True when an opened run can go on: no run is going and the builder shows its network."""
        return (not self.running and self.opened is not None
                and same_network(self._spec_provider(), self.opened.spec))

    def resume_run(self, source: str, epochs: int | None = None, threads: int | None = None) -> bool:
        """Continue the opened run on the data set ``source`` as ``convviz train --resume FOLDER`` does:
        ``resume_trainer`` on the data set loaded with the run's validation split and seed, writing
        its checkpoints into the same folder; ``epochs`` is the new total (None: the run's own),
        ``threads`` the cores that share each step from now on (None: the run's own).
        False if there is no run to resume (see :attr:`can_resume`). The records go on from the run's."""
        if not self.can_resume:
            return False
        opened, data_folder = self.opened, self.data_folder

        def make_trainer(control):
            from convviz.training.checkpoint import resume_trainer

            dataset = _load_dataset(source, opened.config, data_folder)
            return resume_trainer(opened.folder, dataset, checkpoint_dir=opened.folder, epochs=epochs,
                                  threads=threads, control=control)

        # The records as the run's history has them, then what the resumed run adds.
        records = RunRecords(list(self.records.metrics), list(self.records.evaluations), list(self.records.events))
        self._launch(opened.spec.copy(), make_trainer, records)
        self._saved_step = opened.step
        return True

    def _launch(self, spec: NetworkSpec, make_trainer: Callable, records: RunRecords) -> None:
        self.records = records
        self._network, self._weights, self._origin = spec, None, "training"
        self._ended, self._trained, self._saved_step = None, None, None
        self._trained_optimizer = None
        run = self._run = WorkerThread(make_trainer, self)
        run.worker.metrics.connect(self._on_metrics)
        run.worker.evaluation.connect(self._on_evaluation)
        run.worker.event.connect(self._on_event)
        run.worker.snapshot_ready.connect(self._on_snapshot_ready)
        run.finished.connect(lambda: self._on_finished(run))
        run.control.set_snapshot_schedule(every_seconds=SNAPSHOT_SECONDS)
        run.control.set_snapshot_gradients(self.snapshot_gradients)
        self._launching(run.control)  # the user's probes, and the filter gradients if asked for
        run.control.request_snapshot()
        self.run_started.emit()
        self._set_state("loading")
        run.start()

    def want_gradients(self, on: bool) -> None:
        """Snapshots carry dL/d activation from now on (a view that shows gradients asks); with no run
        going, the newest snapshot is taken again with them."""
        self.snapshot_gradients = bool(on)
        if self._run is not None:
            self._run.control.set_snapshot_gradients(self.snapshot_gradients)
            if self.snapshot_gradients:
                self._run.control.request_snapshot()
        if self.snapshot_gradients and not self.running and self.records.snapshot is not None:
            self.refresh_snapshot()

    def adopt_run(self, opened: OpenedRun) -> bool:
        """Make the run read by :func:`read_run` the session's: its records, and its weights for its
        network (``weights_origin`` "trained"); False (nothing changes) while a run is going.

        The window shows its network in the builder first."""
        if self.running:
            return False
        self.opened = opened
        self.records = RunRecords(list(opened.records.metrics), list(opened.records.evaluations),
                                  list(opened.records.events))
        self._network, self._weights, self._origin = opened.spec.copy(), copy_weights(opened.weights), "trained"
        self._trained, self._trained_origin = (self._network, self._weights), "trained"
        self._ended, self._saved_step = None, opened.step  # the checkpoint holds every step: nothing to save
        self._trained_optimizer = None  # read from the checkpoint when asked for
        self.run_started.emit()
        self._set_state("finished")
        self.run_opened.emit(opened.folder)
        self.weights_changed.emit()
        self.run_finished.emit()
        return True

    def use_weights(self, spec: NetworkSpec, weights: dict, origin: str = "imported") -> bool:
        """Make ``weights`` (every parameter and buffer of ``spec``, checked by the caller) the weights of
        the builder's network ``spec``; False (nothing changes) while a run is going."""
        if self.running:
            return False
        self._network, self._weights, self._origin = spec.copy(), copy_weights(weights), origin
        self._trained, self._trained_origin = (self._network, self._weights), origin
        self.weights_changed.emit()
        return True

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.state == "paused":
            self._run.control.resume()
            self._set_state("running")
        else:
            self._run.control.pause()
            self._set_state("paused")

    def pause(self) -> None:
        if self.running and self.state != "paused":
            self.toggle_pause()

    def resume(self) -> None:
        if self.running and self.state == "paused":
            self.toggle_pause()

    def step(self) -> None:
        """Run one batch, then stay paused."""
        if self.running:
            self._run.control.step()
            self._set_state("paused")

    def stop(self) -> None:
        if self._run is not None:
            self._run.control.stop()

    def request_checkpoint(self, folder: str) -> bool:
        """Have the trainer write a checkpoint to ``folder`` between steps; False with no run going.

        ``saved`` or ``save_failed`` follows once it is written or could not be; a request made
        before :meth:`stop` is written before the run ends."""
        if not self.running:
            return False
        self._run.control.request_checkpoint(folder)
        return True

    @property
    def can_save(self) -> bool:
        """True while a run goes on, and after a run finished or was stopped, until the next starts."""
        return self.running or self._ended is not None

    @property
    def unsaved_steps(self) -> int:
        """How many trained steps of an ended run its newest checkpoint lacks (0: nothing would be lost)."""
        if self.running or self._ended is None:
            return 0
        return max(0, self._ended.step - (self._saved_step or 0))

    def save_run(self, folder: str) -> bool:
        """Save the run as a checkpoint in ``folder``; False if there is none to save.

        While it goes on, the trainer writes it between two steps; once it ended, it is written
        now. Either way ``saved`` or ``save_failed`` follows (with the checkpoint's event)."""
        if self.running:
            return self.request_checkpoint(folder)
        if self._ended is None:
            return False
        from convviz.training.checkpoint import save_checkpoint

        trainer = self._ended
        epoch = min(trainer.epoch + 1, trainer.config.epochs)
        try:
            written = save_checkpoint(trainer, folder)
        except OSError as exc:
            reason = str(exc.strerror or exc)
            self._on_event(Event("error", trainer.step, epoch, f"could not write the checkpoint to {folder}: {reason}",
                                 {"path": str(folder), "reason": reason}))
        else:
            self._on_event(Event("checkpoint", trainer.step, epoch, f"checkpoint written to {written}",
                                 {"path": str(written)}))
        return True

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop any run and wait for its thread to end; True if it did within ``timeout_ms``."""
        return self._run is None or self._run.shutdown(timeout_ms)

    # -- records from the worker ---------------------------------------------------------------------------
    def _on_metrics(self, record: Metrics) -> None:
        if self.state == "loading":
            self._set_state("paused" if self._run.control.paused else "running")
        self.records.metrics.append(record)
        self.metrics.emit(record)

    def _on_evaluation(self, record: Evaluation) -> None:
        self.records.evaluations.append(record)
        self.evaluation.emit(record)

    def _on_event(self, record: Event) -> None:
        if record.kind in ("paused", "diverged"):
            self._set_state("paused")
        elif record.kind == "resumed":
            self._set_state("running")
        elif record.kind == "started" and self.state == "loading":
            self._set_state("paused" if self._run.control.paused else "running")
        self.records.events.append(record)
        self.event.emit(record)
        if record.kind == "checkpoint":
            self._saved_step = record.step
            self.saved.emit(record.details["path"])
        elif record.kind == "error" and "path" in record.details:  # a checkpoint that could not be written
            self.save_failed.emit(record.details["path"], record.message)

    def _on_snapshot_ready(self) -> None:
        snapshot = self._run.worker.take_snapshot() if self._run is not None else None
        if snapshot is not None:
            self.records.keep_snapshot(snapshot)  # the newest, and into the ring of the run's snapshots
            self.snapshot.emit(snapshot)

    def _on_finished(self, run: WorkerThread) -> None:
        if run is not self._run:
            return
        if run.worker.final_weights is not None:
            self._weights, self._origin = run.worker.final_weights, "trained"
            self._trained, self._trained_origin = (self._network, self._weights), "trained"
            self._trained_optimizer = run.worker.final_optimizer
            last = self.records.events[-1].kind if self.records.events else None
            if last in ("finished", "stopped"):  # not one an error broke off mid-step
                self._ended = run.worker.trainer
        else:  # the run never built its network (the data did not load)
            self._network, self._weights, self._origin = None, None, "fresh"
        self._set_state("finished")
        self.weights_changed.emit()
        self.run_finished.emit()

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)


def _load_dataset(source: str, config: TrainConfig, data_folder: str | None):
    from convviz.data import load_dataset

    options = {"cache": data_folder} if data_folder else {}
    return load_dataset(source, validation=config.validation, seed=config.seed, **options)
