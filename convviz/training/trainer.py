"""The trainer: a plain generator over training steps that yields immutable records.

    trainer = Trainer(spec, dataset, TrainConfig(epochs=5))
    for record in trainer.run():          # Metrics, Evaluation, Snapshot, Event
        ...

Controls (``trainer.control``: pause, resume, step, stop, snapshot/evaluation/checkpoint requests)
may be used from another thread; they are read between steps. Nothing here knows about Qt: the
app's worker thread runs this generator and re-emits what it yields as signals.

Divergence: the loss and every gradient are checked before the update, so a NaN or infinity never
reaches the weights. When one appears the run pauses at the last good state and an Event names the
first layer and tensor where it appeared, with a suggestion (see ``convviz.training.divergence``).

Checkpoints: :meth:`Trainer.state_dict` and :meth:`Trainer.load_state_dict` (in ``trainer_state``) hold
everything a run needs to go on exactly; ``convviz.training.checkpoint`` saves them and resumes from them.

Helpers live in ``checks``, ``optimization``, ``divergence`` and ``snapshot``; what callers import
from here (``TrainingError``, ``check_compatible``, ``check_memory``, ``make_optimizer`` …) still is.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from convviz.data.augment import Augmentation
from convviz.data.dataset import ImageDataset
from convviz.model import NetworkSpec
from convviz.training.checkpoint_format import save_checkpoint
from convviz.training.checks import (
    ENGINE_OVERHEAD,
    TrainingError,
    check_compatible,
    check_memory,
)
from convviz.training.config import TrainConfig
from convviz.training.control import Control
from convviz.training.divergence import divergence_message, locate_nonfinite
from convviz.training.optimization import make_optimizer, make_schedule
from convviz.training.probes import one_per_class
from convviz.training.records import (
    Evaluation,
    Event,
    Metrics,
    Record,
    Snapshot,
    record_to_json,
)
from convviz.training.snapshot import norms_by_layer, take_snapshot
from convviz.training.trainer_state import STATE_KEYS, TrainerState  # noqa: F401 (STATE_KEYS re-exported)

__all__ = [
    "Trainer", "TrainingError", "check_compatible", "check_memory", "ENGINE_OVERHEAD", "make_optimizer",
    "make_schedule", "locate_nonfinite", "debiased_average", "EVAL_BATCH", "SMOOTHING",
]

EVAL_BATCH = 250
SMOOTHING = 0.95  # β of the loss's moving average (about the last 20 steps)

def debiased_average(previous: float | None, loss: float, t: int, beta: float = SMOOTHING) -> float:
    """The debiased moving average after the ``t``-th loss (t ≥ 1), given the one after the (t−1)-th.

    With m_t = β·m_(t−1) + (1 − β)·loss_t and m_0 = 0, the average is m_t / (1 − β^t) (as Adam
    corrects its moments): the first loss itself, then a mean weighted towards recent steps.
    """
    if previous is None or t <= 1:
        return float(loss)
    kept = beta * previous * (1 - beta ** (t - 1))  # β·m_(t−1)
    return (kept + (1 - beta) * loss) / (1 - beta ** t)


class Trainer(TrainerState):
    """Trains ``spec`` on ``dataset`` with ``config``; see the module docstring.

    ``checkpoint_dir``: where to write a checkpoint at each epoch end and when stopped (optional).
    ``memory_limit``: bytes a training step may use (default: the memory available now).
    ``control``: the controls to obey (a new :class:`Control` by default).
    """

    def __init__(
        self,
        spec: NetworkSpec,
        dataset: ImageDataset,
        config: TrainConfig | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        memory_limit: int | None = None,
        control: Control | None = None,
    ) -> None:
        from convviz.engine import Network

        self.spec = spec
        self.dataset = dataset
        self.config = config or TrainConfig()
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.control = control or Control()
        check_compatible(spec, dataset)
        check_memory(spec, self.config, memory_limit)
        self.net = Network(spec, seed=self.config.seed, threads=self.config.threads)
        self.optimizer = make_optimizer(self.config, self.net.trainable_params())  # frozen layers stay as they are
        self.augmentation = Augmentation(flip=True, crop_padding=4) if self.config.augment else None
        self.rng = np.random.default_rng([self.config.seed, 1])  # data order and augmentation
        self.train_count = len(dataset.split("train"))
        self.steps_per_epoch = math.ceil(self.train_count / self.config.batch_size)
        self.total_steps = self.steps_per_epoch * self.config.epochs
        self.schedule = make_schedule(self.config, self.steps_per_epoch, self.total_steps)
        self.probe_split = "validation" if len(dataset.split("validation")) else "test"
        self.probe_indices = one_per_class(dataset.split(self.probe_split).labels, self.config.probe_images)
        # The state a checkpoint keeps:
        self.step = 0
        self.epoch = 0  # epochs completed
        self.batch_index = 0  # batches done in the current epoch
        self.epoch_order: np.ndarray | None = None
        self.smoothed_loss: float | None = None
        self.history: list[dict] = []
        # Bookkeeping for rates and schedules (not in the state):
        self._window_start = time.perf_counter()
        self._window_steps = 0
        self._window_losses: list[float] = []  # every step's loss since the last Metrics record
        self._window_idle = 0.0  # seconds of the window spent paused, serving requests or evaluating
        self._run_start = time.perf_counter()
        self._last_snapshot_time = time.perf_counter()
        self._pause_announced = False

    # -- the generator ---------------------------------------------------------------------------------
    def run(self) -> Iterator[Record]:
        """Train until the configured epochs are done or the run is stopped; yields every record."""
        try:
            yield self._event("started", f"training {self.spec.name or 'the network'} on {self.dataset.name}: "
                              f"{_counted(self.config.epochs, 'epoch')} of {_counted(self.steps_per_epoch, 'step')} "
                              f"(batch {self.config.batch_size}, {_counted(self.config.threads, 'core')})")
            self._run_start = time.perf_counter()
            self._window_start = time.perf_counter()
            while self.epoch < self.config.epochs:
                if self.epoch_order is None:
                    self.epoch_order = self.rng.permutation(self.train_count)
                    self.batch_index = 0
                while self.batch_index < self.steps_per_epoch:
                    idle_from = time.perf_counter()
                    go = yield from self._between_steps()
                    self._window_idle += time.perf_counter() - idle_from
                    if go == "stop":
                        yield from self._stopped()
                        return
                    yield from self._train_step()
                idle_from = time.perf_counter()
                yield from self._end_epoch()
                self._window_idle += time.perf_counter() - idle_from
            yield from self._checkpoint_at_end()
            yield from self._serve_checkpoints()  # asked for during the last step
            yield self._event("finished", f"finished {_counted(self.config.epochs, 'epoch')} ({_counted(self.step, 'step')}) in "
                              f"{time.perf_counter() - self._run_start:.0f} s")
        except Exception as exc:  # every failure reaches the consumer as a record, never a dead thread
            yield self._event(
                "error",
                f"training stopped by an error: {type(exc).__name__}: {exc}",
                {"exception": type(exc).__name__, "traceback": traceback.format_exc()},
            )

    def _between_steps(self) -> Iterator[Record]:
        """Serve requests and wait while paused; returns ``stop`` or ``go``.

        A pause is announced once (``paused``) and its end once (``resumed``); single steps granted
        while paused run without ending the pause. A checkpoint asked for before a stop is written
        before the run ends, even when the stop arrives while the trainer waits.
        """
        while True:
            yield from self._serve_requests()
            state = self.control.wait_while_paused()
            if state == "stop":
                yield from self._serve_checkpoints()
                return "stop"
            if state == "step":
                return "go"
            if state == "run":
                if self._pause_announced:
                    self._pause_announced = False
                    yield self._event("resumed", f"resumed at step {self.step}")
                return "go"
            if not self._pause_announced:
                self._pause_announced = True
                yield self._event("paused", f"paused at step {self.step}")

    def _serve_requests(self) -> Iterator[Record]:
        if self.control.take("evaluation_requested"):
            for split in ("validation", "test"):
                if len(self.dataset.split(split)):
                    yield self.evaluate(split, "request")
        if self.control.take("snapshot_requested"):
            yield self.snapshot()
        yield from self._serve_checkpoints()

    def _serve_checkpoints(self) -> Iterator[Record]:
        for path in self.control.take("checkpoint_requests"):
            yield self._write_checkpoint(Path(path))

    # -- one step ---------------------------------------------------------------------------------------
    def current_lr(self) -> float:
        """The learning rate the next step uses."""
        return self.schedule(self.step)

    def _train_step(self) -> Iterator[Record]:
        from convviz.engine import softmax_cross_entropy
        from convviz.engine.optim import clip_grad_norm

        size = self.config.batch_size
        indices = self.epoch_order[self.batch_index * size:(self.batch_index + 1) * size]
        data_rng_before = self.rng.bit_generator.state
        x, y = self.dataset.batch("train", indices, self.augmentation, self.rng)
        run_state_before = self.net.run_state()  # batch-norm statistics and the dropout stream
        with np.errstate(all="ignore"):  # a NaN or overflow is caught below, with its place named
            scores = self.net.forward(x, train=True)
            loss, dscores = softmax_cross_entropy(scores, y)
            self.net.backward(dscores, input_grad=False)
        grads = self.net.grads()
        if not (math.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())):
            # Back to the last good state: statistics and random streams as before this batch, so
            # that resuming retries this very batch.
            self.net.restore_run_state(run_state_before)
            self.rng.bit_generator.state = data_rng_before
            yield self._divergence(x, y, loss)
            return
        if self.config.clip_norm:
            clip_grad_norm(grads, self.config.clip_norm)
        snapshot_due = self._snapshot_due()
        before = {name: p.copy() for name, p in self.net.params().items()} if snapshot_due else None
        grad_norms = norms_by_layer(grads) if snapshot_due else None
        self.optimizer.lr = self.current_lr()
        self.optimizer.step(grads)
        accuracy = float(np.mean(np.argmax(scores, axis=1) == y))
        self.step += 1
        self.batch_index += 1
        self._window_steps += 1
        self._window_losses.append(float(loss))
        self.smoothed_loss = debiased_average(self.smoothed_loss, loss, self.step)
        if self.step % self.config.metrics_every == 0 or self.batch_index == self.steps_per_epoch or self.control.paused:
            yield self._metrics(loss, accuracy)
        if snapshot_due:
            yield self.snapshot(before, grad_norms)

    def _metrics(self, loss: float, accuracy: float) -> Metrics:
        now = time.perf_counter()
        elapsed = now - self._window_start - self._window_idle  # time spent training only, never paused time
        rate = self._window_steps * self.config.batch_size / elapsed if elapsed > 0 and self._window_steps else 0.0
        remaining = self.total_steps - self.step
        eta = remaining * self.config.batch_size / rate if rate > 0 else None
        self._window_start, self._window_steps, self._window_idle = now, 0, 0.0
        losses, self._window_losses = self._window_losses or [float(loss)], []
        record = Metrics(
            step=self.step,
            epoch=self.epoch + 1,
            progress=self.epoch + self.batch_index / self.steps_per_epoch,
            loss=float(loss),
            loss_min=min(losses),
            loss_max=max(losses),
            smoothed_loss=float(self.smoothed_loss),
            batch_accuracy=accuracy,
            lr=self.current_lr(),
            images_per_second=rate,
            elapsed_seconds=now - self._run_start,
            eta_seconds=eta,
        )
        self.history.append(record_to_json(record))
        return record

    def _end_epoch(self) -> Iterator[Record]:
        self.epoch += 1
        self.epoch_order = None
        self.batch_index = 0
        results = {}
        for split in ("validation", "test"):
            if len(self.dataset.split(split)):
                evaluation = self.evaluate(split, "epoch end")
                results[split] = evaluation
                yield evaluation
        summary = ", ".join(f"{split} accuracy {e.accuracy:.1%}" for split, e in results.items())
        yield self._event("epoch_end", f"epoch {self.epoch} of {self.config.epochs} done: {summary}",
                          {split: e.accuracy for split, e in results.items()})
        if self.checkpoint_dir is not None and self.epoch < self.config.epochs:
            yield self._write_checkpoint(self.checkpoint_dir)

    def _checkpoint_at_end(self) -> Iterator[Record]:
        if self.checkpoint_dir is not None:
            yield self._write_checkpoint(self.checkpoint_dir)

    def _stopped(self) -> Iterator[Record]:
        if self.checkpoint_dir is not None:
            yield self._write_checkpoint(self.checkpoint_dir)
        yield self._event("stopped", f"stopped at step {self.step} (epoch {self.epoch + 1})")

    # -- evaluation and snapshots ---------------------------------------------------------------------------
    def evaluate(self, split: str, reason: str = "request") -> Evaluation:
        """Accuracy and mean loss of the network over the whole ``split`` (eval mode)."""
        from convviz.engine import softmax_cross_entropy

        count = len(self.dataset.split(split))
        correct, total_loss = 0, 0.0
        for start in range(0, count, EVAL_BATCH):
            x, y = self.dataset.batch(split, np.arange(start, min(start + EVAL_BATCH, count)))
            scores = self.net.forward(x, train=False)
            loss, _ = softmax_cross_entropy(scores, y)
            total_loss += float(loss) * len(y)
            correct += int(np.sum(np.argmax(scores, axis=1) == y))
        record = Evaluation(self.step, self.epoch, split, correct / count, total_loss / count, count, reason)
        self.history.append(record_to_json(record))
        return record

    def _snapshot_due(self) -> bool:
        control = self.control
        if control.take("snapshot_requested"):
            return True
        if control.snapshot_every_steps and (self.step + 1) % control.snapshot_every_steps == 0:
            return True
        seconds = control.snapshot_every_seconds
        return bool(seconds) and time.perf_counter() - self._last_snapshot_time >= seconds

    def snapshot(self, params_before: dict | None = None, grad_norms: dict | None = None) -> Snapshot:
        """Every layer's activations for the probe images, every conv filter, per-layer weight and
        gradient norms, and the update/weight ratio of the last step (see ``convviz.training.snapshot``)."""
        self._last_snapshot_time = time.perf_counter()
        return take_snapshot(self.net, self.dataset, self.probe_split, self.probe_indices, step=self.step,
                             epoch=self.epoch + 1, params_before=params_before, grad_norms=grad_norms,
                             gradients=self.control.snapshot_gradients,
                             filter_gradients=self.control.snapshot_filter_gradients,
                             user_probes=self.control.user_probes)

    # -- divergence ----------------------------------------------------------------------------------------
    def _divergence(self, x: np.ndarray, y: np.ndarray, loss: float) -> Event:
        """Find where the first NaN or infinity appeared, pause, and say what to do. The event's step
        is the one that failed (the next to complete), as its message says."""
        self.control.pause()
        layer, tensor = locate_nonfinite(self.net, x, y)
        lr = self.current_lr()
        failed = self.step + 1
        return self._event("diverged", divergence_message(failed, loss, layer, tensor, lr),
                           {"layer": layer, "tensor": tensor, "loss": loss, "lr": lr}, step=failed)

    # -- checkpoints -----------------------------------------------------------------------------------------
    def _write_checkpoint(self, path: Path) -> Event:
        try:
            written = save_checkpoint(self, path)
        except OSError as exc:
            goes_on = "" if self.control.stopped else "; training goes on"
            return self._event("error", f"could not write the checkpoint to {path}: {exc.strerror or exc}{goes_on}",
                               {"path": str(path), "reason": str(exc.strerror or exc)})
        return self._event("checkpoint", f"checkpoint written to {written}", {"path": str(written)})

    def _event(self, kind: str, message: str, details: dict | None = None, *, step: int | None = None) -> Event:
        epoch = self.epoch + (0 if kind in ("epoch_end", "finished") else 1)
        record = Event(kind, self.step if step is None else step, epoch, message, details or {})
        if kind not in ("paused", "resumed"):
            self.history.append({k: v for k, v in record_to_json(record).items() if k != "details"})
        return record


def _counted(n: int, noun: str) -> str:
    """``1 epoch``, ``5 epochs``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
