"""Snapshots: the network's insides at one step, as the snapshot view shows them.

For the probe images (the data set's, then the user's own: ``convviz.training.probes``): every
layer's activations (an eval-mode traced pass, which leaves the network's state alone; the softmax
layer's are probabilities, as the user reads it), per-layer weight and gradient norms and the
update/weight ratio of the last step, every conv filter, and a histogram of each layer's weights
(``HISTOGRAM_BINS`` bins over its range; np.histogram: 0.23 ms for the ConvNetJS network's 22,400
weights, 0.5% of one batch-64 step, 4.6 ms for the small VGG's 550,000; measured 2026-12-01).
Everything in a :class:`~convviz.training.records.Snapshot` is a read-only copy.

Each layer also gets the mean and standard deviation of its probe activations and, for a ReLU, the
share of its units dead on every probe image (numbers from arrays the snapshot holds already). On
request (``gradients=True``) each layer gets dL/d activation for the probes too: one traced
backward pass over the few probe images, from each image's own cross-entropy loss; and
(``filter_gradients=True``) each conv layer's dL/dW of the last step, copied from the network.
"""

from __future__ import annotations

import math

import numpy as np

from convviz.model import ReLU
from convviz.training.probes import ProbeBatch, UserProbes, probe_batch
from convviz.training.records import LayerSnapshot, Snapshot, frozen_copy

HISTOGRAM_BINS = 40


def take_snapshot(net, dataset, probe_split: str, probe_indices: np.ndarray, *, step: int, epoch: int,
                  params_before: dict | None = None, grad_norms: dict | None = None,
                  gradients: bool = False, filter_gradients: bool = False,
                  user_probes: UserProbes | None = None) -> Snapshot:
    """A :class:`Snapshot` of ``net`` for images ``probe_indices`` of ``dataset``'s ``probe_split``
    followed by ``user_probes`` (``dataset`` None: the user's only, scaled neutrally).

    ``params_before``: copies of the parameters before the last update (for the update ratios; none
    without them); ``grad_norms``: per-layer gradient norms of that update (default: of the gradients
    the network holds now). ``epoch`` counts from 1. ``gradients``: add each layer's
    ``activation_grad``; ``filter_gradients``: add the conv layers' dL/dW the network holds (the
    network's state and gradients are left as they were either way).
    """
    probes = probe_batch(dataset, probe_split, probe_indices, user_probes)
    class_names = tuple(dataset.class_names) if dataset is not None else ()
    return snapshot_of(net, probes, class_names, step=step, epoch=epoch, params_before=params_before,
                       grad_norms=grad_norms, gradients=gradients, filter_gradients=filter_gradients)


def snapshot_of(net, probes: ProbeBatch, class_names: tuple[str, ...] = (), *, step: int, epoch: int,
                params_before: dict | None = None, grad_norms: dict | None = None,
                gradients: bool = False, filter_gradients: bool = False) -> Snapshot:
    """:func:`take_snapshot` for probes already gathered; ``class_names`` () names classes ``class k``."""
    x, y = probes.x, probes.labels
    params = net.params()
    weight_norms = norms_by_layer(params)
    held_grads = net.grads()
    if grad_norms is None:
        grad_norms = norms_by_layer(held_grads)
    ratios = {}
    if params_before is not None:
        delta_norms = norms_by_layer({name: params[name] - params_before[name] for name in params})
        before_norms = norms_by_layer(params_before)
        ratios = {layer: delta_norms[layer] / before_norms[layer] if before_norms[layer] > 0 else None
                  for layer in delta_norms}
    conv_grads = {
        name[: -len(".weight")]: frozen_copy(held_grads[name])
        for name, p in params.items()
        if filter_gradients and name.endswith(".weight") and p.ndim == 4 and name in held_grads
    }
    trace = net.trace_forward(x, train=False)
    if gradients:
        net.trace_backward(trace, probe_loss_gradient(trace.scores, y))
    layers = []
    for entry in trace.layers.values():
        layer = net.layer(entry.name)
        shown = layer.shown_output(entry.output)
        mean, std = activation_statistics(shown)
        weight = params.get(f"{entry.name}.weight")
        layers.append(LayerSnapshot(
            name=entry.name,
            type=entry.type,
            activation=frozen_copy(shown),
            weight_norm=weight_norms.get(entry.name, 0.0),
            grad_norm=grad_norms.get(entry.name, 0.0),
            update_ratio=ratios.get(entry.name),
            activation_mean=mean,
            activation_std=std,
            dead_share=dead_share(shown) if isinstance(layer.spec, ReLU) else None,
            activation_grad=frozen_copy(entry.upstream) if gradients and entry.upstream is not None else None,
            weight_histogram=weight_histogram(weight) if weight is not None else None,
        ))
    filters = {
        name[: -len(".weight")]: frozen_copy(p)
        for name, p in params.items()
        if name.endswith(".weight") and p.ndim == 4
    }
    classes = trace.scores.shape[1]
    return Snapshot(
        step=step,
        epoch=epoch,
        probe_images=frozen_copy(probes.images),
        probe_labels=frozen_copy(y),
        probe_scores=frozen_copy(trace.scores),
        layers=tuple(layers),
        filters=filters,
        class_names=tuple(class_names) or tuple(f"class {k}" for k in range(classes)),
        probe_names=probes.names,
        filter_gradients=conv_grads,
    )


def weight_histogram(weight: np.ndarray, bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(counts (B,) int64, edges (B + 1,) float64) of every number of ``weight`` over its own range;
    the counts sum to ``weight.size`` (a constant tensor gets one unit-wide range around its value)."""
    values = np.asarray(weight).ravel()
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if not (math.isfinite(low) and math.isfinite(high)):
        values = values[np.isfinite(values)]
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return frozen_copy(counts.astype(np.int64)), frozen_copy(edges)


def norms_by_layer(arrays: dict) -> dict[str, float]:
    """Frobenius norm over each layer's arrays: ``conv1.weight`` and ``conv1.bias`` count for ``conv1``."""
    squares: dict[str, float] = {}
    for name, array in arrays.items():
        layer = name.rsplit(".", 1)[0]
        squares[layer] = squares.get(layer, 0.0) + float(np.vdot(array, array).real)
    return {layer: math.sqrt(total) for layer, total in squares.items()}


def activation_statistics(activation: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation over every number of a layer's probe activations (float64 sums)."""
    values = np.asarray(activation, dtype=np.float64)
    return float(values.mean()), float(values.std())


def dead_share(activation: np.ndarray) -> float:
    """The share of units (every position of every depth slice) that are 0 for all P probe images:
    ``activation`` (P, C, H, W) or (P, D). A dead ReLU gets no gradient, so it does not come back."""
    alive = np.any(np.asarray(activation) > 0, axis=0)
    return float(1.0 - alive.mean()) if alive.size else 0.0


def probe_loss_gradient(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """dL/d scores for each probe's own cross-entropy loss L = −log p_label: p − onehot(label), shaped
    as ``scores`` (P, K); not divided by P, so one probe's gradients do not depend on how many there are.
    A probe of unknown class (label −1) takes its predicted class: the gradient that would make the
    network surer of what it sees."""
    from convviz.engine.loss import softmax

    labels = np.asarray(labels, dtype=np.int64)
    labels = np.where(labels >= 0, labels, np.argmax(scores, axis=1))
    grad = softmax(np.asarray(scores, dtype=np.float64))
    grad[np.arange(len(labels)), labels] -= 1.0
    return grad.astype(scores.dtype)
