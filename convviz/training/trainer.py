"""The trainer: a plain generator over training steps that yields immutable records.

    trainer = Trainer(spec, dataset, TrainConfig(epochs=5))
    for record in trainer.run():          # Metrics, Evaluation, Snapshot, Event
        ...

Controls (``trainer.control``: pause, resume, step, stop, snapshot/evaluation/checkpoint requests)
may be used from another thread; they are read between steps. Nothing here knows about Qt: the
app's worker thread runs this generator and re-emits what it yields as signals.

Divergence: the loss and every gradient are checked before the update, so a NaN or infinity never
reaches the weights. When one appears the run pauses at the last good state and an Event names the
first layer and tensor where it appeared, with a suggestion.
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
from convviz.model import NetworkSpec, analyze
from convviz.model.summary import format_bytes
from convviz.training.config import TrainConfig
from convviz.training.control import Control
from convviz.training.records import Evaluation, Event, LayerSnapshot, Metrics, Record, Snapshot, frozen_copy, record_to_json
from convviz.training.resources import available_memory_bytes

EVAL_BATCH = 250
SMOOTHING = 0.95  # exponential moving average of the loss (about the last 20 steps)


class TrainingError(Exception):
    """A run that cannot start or go on; the message says why and what to change."""


class Trainer:
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
        self.net = Network(spec, seed=self.config.seed)
        self.optimizer = make_optimizer(self.config, self.net.params())
        self.augmentation = Augmentation(flip=True, crop_padding=4) if self.config.augment else None
        self.rng = np.random.default_rng([self.config.seed, 1])  # data order and augmentation
        self.train_count = len(dataset.split("train"))
        self.steps_per_epoch = math.ceil(self.train_count / self.config.batch_size)
        self.total_steps = self.steps_per_epoch * self.config.epochs
        self.schedule = make_schedule(self.config, self.steps_per_epoch, self.total_steps)
        self.probe_split = "validation" if len(dataset.split("validation")) else "test"
        probe_count = min(self.config.probe_images, len(dataset.split(self.probe_split)))
        self.probe_indices = np.arange(probe_count)
        # The state a checkpoint keeps:
        self.step = 0
        self.epoch = 0  # epochs completed
        self.batch_index = 0  # batches done in the current epoch
        self.epoch_order: np.ndarray | None = None
        self.smoothed_loss: float | None = None
        self.history: list[dict] = []
        # Bookkeeping for rates and schedules (not checkpointed):
        self._window_start = time.perf_counter()
        self._window_steps = 0
        self._run_start = time.perf_counter()
        self._last_snapshot_time = time.perf_counter()
        self._pause_announced = False

    # -- the generator ---------------------------------------------------------------------------------
    def run(self) -> Iterator[Record]:
        """Train until the configured epochs are done or the run is stopped; yields every record."""
        try:
            yield self._event("started", f"training {self.spec.name or 'the network'} on {self.dataset.name}: "
                              f"{self.config.epochs} epochs of {self.steps_per_epoch} steps (batch {self.config.batch_size})")
            self._run_start = time.perf_counter()
            self._window_start = time.perf_counter()
            while self.epoch < self.config.epochs:
                if self.epoch_order is None:
                    self.epoch_order = self.rng.permutation(self.train_count)
                    self.batch_index = 0
                while self.batch_index < self.steps_per_epoch:
                    go = yield from self._between_steps()
                    if go == "stop":
                        yield from self._stopped()
                        return
                    yield from self._train_step()
                yield from self._end_epoch()
            yield from self._checkpoint_at_end()
            yield self._event("finished", f"finished {self.config.epochs} epochs ({self.step} steps) in "
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
        while paused run without ending the pause.
        """
        while True:
            yield from self._serve_requests()
            state = self.control.wait_while_paused()
            if state == "stop":
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
        grad_norms = _norms_by_layer(grads) if snapshot_due else None
        self.optimizer.lr = self.current_lr()
        self.optimizer.step(grads)
        accuracy = float(np.mean(np.argmax(scores, axis=1) == y))
        self.step += 1
        self.batch_index += 1
        self._window_steps += 1
        self.smoothed_loss = loss if self.smoothed_loss is None else SMOOTHING * self.smoothed_loss + (1 - SMOOTHING) * loss
        if self.step % self.config.metrics_every == 0 or self.batch_index == self.steps_per_epoch or self.control.paused:
            yield self._metrics(loss, accuracy)
        if snapshot_due:
            yield self.snapshot(before, grad_norms)

    def _metrics(self, loss: float, accuracy: float) -> Metrics:
        now = time.perf_counter()
        elapsed = now - self._window_start
        rate = self._window_steps * self.config.batch_size / elapsed if elapsed > 0 and self._window_steps else 0.0
        remaining = self.total_steps - self.step
        eta = remaining * self.config.batch_size / rate if rate > 0 else None
        self._window_start, self._window_steps = now, 0
        record = Metrics(
            step=self.step,
            epoch=self.epoch + 1,
            progress=self.epoch + self.batch_index / self.steps_per_epoch,
            loss=float(loss),
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
        gradient norms, and the update/weight ratio of the last step."""
        self._last_snapshot_time = time.perf_counter()
        x, y = self.dataset.batch(self.probe_split, self.probe_indices)
        params = self.net.params()
        weight_norms = _norms_by_layer(params)
        if grad_norms is None:
            grad_norms = _norms_by_layer(self.net.grads())
        ratios = {}
        if params_before is not None:
            deltas = {name: params[name] - params_before[name] for name in params}
            delta_norms = _norms_by_layer(deltas)
            before_norms = _norms_by_layer(params_before)
            ratios = {layer: delta_norms[layer] / before_norms[layer] if before_norms[layer] > 0 else None
                      for layer in delta_norms}
        trace = self.net.trace_forward(x, train=False)  # leaves the network's state alone
        scores = trace.scores
        layers = tuple(
            LayerSnapshot(
                name=entry.name,
                type=entry.type,
                activation=frozen_copy(entry.output),
                weight_norm=weight_norms.get(entry.name, 0.0),
                grad_norm=grad_norms.get(entry.name, 0.0),
                update_ratio=ratios.get(entry.name),
            )
            for entry in trace.layers.values()
        )
        filters = {
            name[: -len(".weight")]: frozen_copy(p)
            for name, p in params.items()
            if name.endswith(".weight") and p.ndim == 4
        }
        split = self.dataset.split(self.probe_split)
        return Snapshot(
            step=self.step,
            epoch=self.epoch + 1,
            probe_images=frozen_copy(split.images[self.probe_indices].transpose(0, 2, 3, 1)),
            probe_labels=frozen_copy(y),
            probe_scores=frozen_copy(scores),
            layers=layers,
            filters=filters,
            class_names=tuple(self.dataset.class_names),
        )

    # -- divergence ----------------------------------------------------------------------------------------
    def _divergence(self, x: np.ndarray, y: np.ndarray, loss: float) -> Event:
        """Find where the first NaN or infinity appeared, pause, and say what to do."""
        self.control.pause()
        layer, tensor = locate_nonfinite(self.net, x, y)
        what = "NaN" if math.isnan(loss) else "infinity" if not math.isfinite(loss) else "NaN or infinity"
        where = f"in the {tensor} of {layer}" if layer else f"in the {tensor}"
        lr = self.current_lr()
        message = (
            f"training diverged at step {self.step + 1}: {what} {where}. The weights are kept as they were "
            f"before this step. Lower the learning rate (now {lr:.3g}; try {lr / 10:.3g}), add batch norm, "
            "or turn on gradient clipping, then resume."
        )
        record = self._event("diverged", message, {"layer": layer, "tensor": tensor, "loss": loss, "lr": lr})
        return record

    # -- checkpoints -----------------------------------------------------------------------------------------
    def _write_checkpoint(self, path: Path) -> Event:
        from convviz.training.checkpoint import save_checkpoint

        try:
            written = save_checkpoint(self, path)
        except OSError as exc:
            return self._event("error", f"could not write the checkpoint to {path}: {exc.strerror or exc}; "
                               "training goes on", {"path": str(path)})
        return self._event("checkpoint", f"checkpoint written to {written}", {"path": str(written)})

    def _event(self, kind: str, message: str, details: dict | None = None) -> Event:
        record = Event(kind, self.step, self.epoch + (0 if kind in ("epoch_end", "finished") else 1), message, details or {})
        if kind not in ("paused", "resumed"):
            self.history.append({k: v for k, v in record_to_json(record).items() if k != "details"})
        return record


# -- helpers ------------------------------------------------------------------------------------------------


def check_compatible(spec: NetworkSpec, dataset: ImageDataset) -> None:
    """The network's input must be the data set's images and its output one score per class."""
    report = analyze(spec)
    if not report.valid:
        problems = "; ".join(f"{r.name}: {r.error.message}" for r in report.problems) or "its output is unknown"
        raise TrainingError(f"the network cannot be built: {problems}")
    c, h, w = dataset.image_shape
    if spec.input.chw() != (c, h, w):
        raise TrainingError(
            f"the network takes {spec.input} images but {dataset.name} has {w}×{h}×{c}: set the input volume to {w}×{h}×{c}"
        )
    out = report.output
    classes = len(dataset.class_names)
    if not out.is_flat or out.depth != classes:
        raise TrainingError(
            f"the network gives {out} scores but {dataset.name} has {classes} classes: end it with FC {classes} (and Softmax)"
        )


#: The engine keeps more than the model's estimate (im2col buffers and the like); leave room for it.
ENGINE_OVERHEAD = 1.5


def check_memory(spec: NetworkSpec, config: TrainConfig, limit: int | None = None) -> None:
    """Refuse a batch whose training step would not fit in memory, suggesting one that would."""
    limit = available_memory_bytes() if limit is None else limit
    if limit is None:
        return
    report = analyze(spec)
    optimizer = config.optimizer
    need = int(report.memory(config.batch_size, optimizer).training * ENGINE_OVERHEAD)
    if need <= limit:
        return
    largest = report.max_batch(int(limit / ENGINE_OVERHEAD), optimizer)
    advice = f"try batch {largest}" if largest >= 1 else "even one image does not fit: choose a smaller network"
    raise TrainingError(
        f"a training step with batch {config.batch_size} needs about {format_bytes(need)} but "
        f"{format_bytes(limit)} is available: {advice}"
    )


def make_optimizer(config: TrainConfig, params: dict):
    from convviz.engine.optim import SGD, Adam

    if config.optimizer == "adam":
        return Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    momentum = 0.0 if config.optimizer == "sgd" else config.momentum
    return SGD(params, lr=config.lr, momentum=momentum, nesterov=config.optimizer == "nesterov",
               weight_decay=config.weight_decay)


def make_schedule(config: TrainConfig, steps_per_epoch: int, total_steps: int):
    """step → learning rate."""
    from convviz.engine.optim import CosineLR, StepLR

    if config.schedule == "step":
        return StepLR(config.lr, max(1, round(config.step_epochs * steps_per_epoch)), config.gamma).lr_at
    if config.schedule == "cosine":
        return CosineLR(config.lr, total_steps, config.min_lr).lr_at
    return lambda step: config.lr


def locate_nonfinite(net, x: np.ndarray, y: np.ndarray) -> tuple[str | None, str]:
    """(layer name, tensor) where a NaN or infinity first appears: forward outputs in order, then the
    loss, then gradients from the output back. Restores the network's random stream."""
    from convviz.engine import softmax_cross_entropy

    if not np.isfinite(x).all():
        return None, "input batch"
    with np.errstate(all="ignore"):
        return _first_nonfinite(net, x, y)


def _first_nonfinite(net, x: np.ndarray, y: np.ndarray) -> tuple[str | None, str]:
    from convviz.engine import softmax_cross_entropy

    trace = net.trace_forward(x, train=True)  # restores the network's random stream and statistics
    # Plain layers in the order they ran (a block's own entry would hide which inner layer it was).
    entries = [entry for entry in trace.layers.values() if entry.type not in ("residual", "branch")]
    for entry in entries:
        if not np.isfinite(entry.output).all():
            return entry.name, "output"
    loss, dscores = softmax_cross_entropy(trace.scores, y)
    if not math.isfinite(loss):
        return None, "loss"
    net.trace_backward(trace, dscores)
    for entry in reversed(entries):
        for pname, grad in entry.param_grads.items():
            if not np.isfinite(grad).all():
                return entry.name, f"gradient of its {pname}"
        if entry.downstream is not None and not np.isfinite(entry.downstream).all():
            return entry.name, "input gradient"
    return None, "gradients"


def _norms_by_layer(arrays: dict) -> dict:
    """Frobenius norm over each layer's arrays: ``conv1.weight`` and ``conv1.bias`` count for ``conv1``."""
    squares: dict[str, float] = {}
    for name, array in arrays.items():
        layer = name.rsplit(".", 1)[0]
        squares[layer] = squares.get(layer, 0.0) + float(np.vdot(array, array).real)
    return {layer: math.sqrt(total) for layer, total in squares.items()}
