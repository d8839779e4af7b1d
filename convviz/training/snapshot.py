"""Snapshots: the network's insides at one step, as the snapshot view shows them.

For the fixed probe images: every layer's activations (an eval-mode traced pass, which leaves the
network's state alone; the softmax layer's are probabilities, as the user reads it), per-layer weight and gradient norms and the update/weight ratio of the last
step, and every conv filter. Everything in a :class:`~convviz.training.records.Snapshot` is a
read-only copy.
"""

from __future__ import annotations

import math

import numpy as np

from convviz.training.records import LayerSnapshot, Snapshot, frozen_copy


def take_snapshot(net, dataset, probe_split: str, probe_indices: np.ndarray, *, step: int, epoch: int,
                  params_before: dict | None = None, grad_norms: dict | None = None) -> Snapshot:
    """A :class:`Snapshot` of ``net`` for images ``probe_indices`` of ``dataset``'s ``probe_split``.

    ``params_before``: copies of the parameters before the last update (for the update ratios; none
    without them); ``grad_norms``: per-layer gradient norms of that update (default: of the gradients
    the network holds now). ``epoch`` counts from 1.
    """
    x, y = dataset.batch(probe_split, probe_indices)
    params = net.params()
    weight_norms = norms_by_layer(params)
    if grad_norms is None:
        grad_norms = norms_by_layer(net.grads())
    ratios = {}
    if params_before is not None:
        delta_norms = norms_by_layer({name: params[name] - params_before[name] for name in params})
        before_norms = norms_by_layer(params_before)
        ratios = {layer: delta_norms[layer] / before_norms[layer] if before_norms[layer] > 0 else None
                  for layer in delta_norms}
    trace = net.trace_forward(x, train=False)
    layers = tuple(
        LayerSnapshot(
            name=entry.name,
            type=entry.type,
            activation=frozen_copy(net.layer(entry.name).shown_output(entry.output)),
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
    images = dataset.split(probe_split).images[probe_indices]
    return Snapshot(
        step=step,
        epoch=epoch,
        probe_images=frozen_copy(images.transpose(0, 2, 3, 1)),
        probe_labels=frozen_copy(y),
        probe_scores=frozen_copy(trace.scores),
        layers=layers,
        filters=filters,
        class_names=tuple(dataset.class_names),
    )


def norms_by_layer(arrays: dict) -> dict[str, float]:
    """Frobenius norm over each layer's arrays: ``conv1.weight`` and ``conv1.bias`` count for ``conv1``."""
    squares: dict[str, float] = {}
    for name, array in arrays.items():
        layer = name.rsplit(".", 1)[0]
        squares[layer] = squares.get(layer, 0.0) + float(np.vdot(array, array).real)
    return {layer: math.sqrt(total) for layer, total in squares.items()}
