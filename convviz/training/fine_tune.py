"""Fine-tuning runs: weights carried into a changed network, and a trainer that starts from them.

    weights = carry_weights(old_spec, old_weights, replace_head(old_spec, 10))   # the head fresh, the rest kept
    trainer = start_from(Trainer(new_spec, dataset, config), weights)             # step 0, from those weights

A layer keeps its weights when the new network has a layer of the same full name, the same type and
hyperparameters (its train switch aside) on the same input volume; every other layer (a replaced
head) gets the seeded weights ``Network(new_spec, seed)`` draws.
"""

from __future__ import annotations

import numpy as np

from convviz.model import analyze
from convviz.model.fine_tune import switched_on
from convviz.model.network import NetworkSpec


def kept_layers(old: NetworkSpec, new: NetworkSpec) -> set[str]:
    """Full names of ``new``'s layers whose weights ``old``'s layers of that name fit (see the module docstring)."""

    def describe(spec):
        return {r.name: (type(r.layer), switched_on([r.layer])[0], r.input)
                for top in analyze(spec).layers for r in top.walk() if not r.layer.COMPOSITE}

    before = describe(old)
    return {name for name, what in describe(new).items() if before.get(name) == what}


def carry_weights(old: NetworkSpec, weights: dict, new: NetworkSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Every parameter and buffer of ``new``: the ones of :func:`kept_layers` from ``weights`` (copies),
    the others as ``Network(new, seed)`` initialises them."""
    from convviz.engine import Network

    fresh = Network(new, seed=seed).get_weights()
    kept = kept_layers(old, new)
    for name, array in fresh.items():
        if name.rpartition(".")[0] in kept and name in weights and np.shape(weights[name]) == array.shape:
            fresh[name] = np.array(weights[name], dtype=array.dtype)
    return fresh


def start_from(trainer, weights: dict):
    """``trainer`` (at step 0) with ``weights`` (every parameter and buffer by name) instead of its
    seeded ones; ValueError (nothing changed) for a missing or unknown name or a wrong shape."""
    if trainer.step:
        raise ValueError(f"the run is at step {trainer.step}: only a new run starts from other weights")
    trainer.net.set_weights(weights)
    return trainer
