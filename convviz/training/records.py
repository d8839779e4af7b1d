"""What the trainer yields: immutable records of metrics, evaluations, snapshots and events.

Arrays in records are fresh copies marked read-only, never views of buffers the trainer keeps
changing, so a view in another thread may hold on to them as long as it likes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np


def frozen_copy(array: np.ndarray) -> np.ndarray:
    """A read-only copy of ``array``."""
    out = np.array(array, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class Metrics:
    """Training progress every few steps. ``step`` N: the record is made after the N-th step (from 1);
    ``epoch`` counts from 1; ``progress`` is epochs done (2.5 …). ``smoothed_loss`` is a debiased
    exponential moving average of the loss (β = 0.95, about the last 20 steps): Σ β^(t−i)(1 − β)·loss_i
    divided by 1 − β^t, so it equals the loss at step 1 and is never pulled towards 0. ``loss_min`` and
    ``loss_max`` are the least and largest loss of every step since the previous record (so a curve
    drawn from every tenth record still shows each step's loss as a band)."""

    step: int
    epoch: int
    progress: float
    loss: float
    smoothed_loss: float
    batch_accuracy: float
    lr: float
    images_per_second: float
    elapsed_seconds: float
    eta_seconds: float | None
    loss_min: float | None = None
    loss_max: float | None = None
    kind: str = "metrics"


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and mean loss over a whole split (``validation`` or ``test``)."""

    step: int
    epoch: int
    split: str
    accuracy: float
    loss: float
    images: int
    reason: str  # "epoch end" or "request"
    kind: str = "evaluation"


@dataclass(frozen=True)
class LayerSnapshot:
    """One layer at snapshot time, for the probe images.

    ``activation``: (P, C, H, W) the layer's output, or (P, D) for a flat volume; norms are
    Frobenius norms over the layer's parameters (0 without any), and ``update_ratio`` is ‖ΔW‖/‖W‖ of
    the last update (CS231n: about 1e-3 is healthy), None without parameters or before any update.

    Over the probe images' activations: ``activation_mean`` and ``activation_std``; ``dead_share``
    (ReLU layers only, else None) is the share of output units that are 0 for every probe image.
    ``activation_grad``: dL/d activation, shaped as ``activation``, for each probe image's own
    cross-entropy loss (for the softmax layer: dL/d scores, p − onehot); None unless the snapshot was
    taken with gradients (they cost a backward pass over the probes).
    ``weight_histogram``: (counts (B,), edges (B + 1,)) over every number of the layer's weight tensor
    (not its bias), so the counts sum to its size; None for a layer without weights.
    """

    name: str
    type: str
    activation: np.ndarray
    weight_norm: float
    grad_norm: float
    update_ratio: float | None
    activation_mean: float | None = None
    activation_std: float | None = None
    dead_share: float | None = None
    activation_grad: np.ndarray | None = None
    weight_histogram: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class Snapshot:
    """The network's insides at one step: every layer for the fixed probe images, and every conv filter.

    ``probe_images``: (P, H, W, C) uint8 as stored; ``probe_labels``: (P,), −1 for a user's probe of
    unknown class; ``probe_scores``: (P, K); ``probe_names``: (P,) what each probe is, for its label
    (``validation #12 (cat)``, or the file's name); ``filters``: conv layer name → (K, C, F, F)
    weights; ``filter_gradients``: the same layers' dL/dW of the last step, when asked for (else empty).
    """

    step: int
    epoch: int
    probe_images: np.ndarray
    probe_labels: np.ndarray
    probe_scores: np.ndarray
    layers: tuple[LayerSnapshot, ...]
    filters: dict = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    probe_names: tuple[str, ...] = ()
    filter_gradients: dict = field(default_factory=dict)
    kind: str = "snapshot"

    @property
    def nbytes(self) -> int:
        """Bytes of every array the snapshot holds (what keeping it costs)."""
        arrays = [self.probe_images, self.probe_labels, self.probe_scores, *self.filters.values(),
                  *self.filter_gradients.values()]
        for item in self.layers:
            arrays += [item.activation, item.activation_grad, *(item.weight_histogram or ())]
        return sum(a.nbytes for a in arrays if a is not None)

    @property
    def has_activation_grads(self) -> bool:
        """True when every layer carries ``activation_grad`` (a snapshot taken with gradients)."""
        return bool(self.layers) and all(item.activation_grad is not None for item in self.layers)

    def layer(self, name: str) -> LayerSnapshot:
        for item in self.layers:
            if item.name == name:
                return item
        raise KeyError(f"no layer named {name!r} in this snapshot")


@dataclass(frozen=True)
class Event:
    """Something that happened to the run; ``message`` is for people, ``details`` for programs.

    ``kind``: started, paused, resumed, epoch_end, checkpoint, diverged, stopped, finished or error.
    ``step`` is the step the event is about, numbered as :class:`Metrics` numbers them: after step N
    (``paused``, ``checkpoint`` …) it is N, and for ``diverged`` it is the step that failed.
    """

    kind: str
    step: int
    epoch: int
    message: str
    details: dict = field(default_factory=dict)


Record = Metrics | Evaluation | Snapshot | Event


def record_to_json(record: Record) -> dict:
    """A JSON-ready dict of a record (``--json-log`` writes one per line): ``record`` is metrics,
    evaluation, snapshot or event (whose ``kind`` says which); snapshots give norms, not arrays."""
    if isinstance(record, Snapshot):
        return {
            "record": "snapshot",
            "step": record.step,
            "epoch": record.epoch,
            "layers": [
                {
                    "name": item.name,
                    "type": item.type,
                    "shape": list(item.activation.shape),
                    "activation_mean": _finite(float(np.mean(item.activation))),
                    "activation_std": _finite(float(np.std(item.activation))),
                    "weight_norm": _finite(item.weight_norm),
                    "grad_norm": _finite(item.grad_norm),
                    "update_ratio": _finite(item.update_ratio),
                }
                for item in record.layers
            ],
        }
    data = dataclasses.asdict(record)
    kind = data.pop("kind")
    head = {"record": "event", "kind": kind} if isinstance(record, Event) else {"record": kind}
    return {**head, **{key: _finite(value) for key, value in data.items()}}


def _finite(value):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
