"""Divergence: where the first NaN or infinity of a failed step appeared, and what to tell the user.

The trainer checks the loss and every gradient before it updates the weights; when one is not
finite it puts the network back as it was before the batch and asks :func:`locate_nonfinite` where
the bad number came from, then reports it with :func:`divergence_message`.
"""

from __future__ import annotations

import math

import numpy as np


def locate_nonfinite(net, x: np.ndarray, y: np.ndarray) -> tuple[str | None, str]:
    """(layer name, tensor) where a NaN or infinity first appears: forward outputs in order, then the
    loss, then gradients from the output back. Leaves the network's state and gradients alone (the
    passes are traced ones)."""
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


def divergence_message(step: int, loss: float, layer: str | None, tensor: str, lr: float) -> str:
    """What the user reads when step number ``step`` (counting from 1, as metrics do) diverged."""
    what = "NaN" if math.isnan(loss) else "infinity" if not math.isfinite(loss) else "NaN or infinity"
    where = f"in the {tensor} of {layer}" if layer else f"in the {tensor}"
    return (
        f"training diverged at step {step}: {what} {where}. The weights are kept as they were "
        f"before this step. Lower the learning rate (now {lr:.3g}; try {lr / 10:.3g}), add batch norm, "
        "or turn on gradient clipping, then resume."
    )
