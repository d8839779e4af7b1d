"""The base of every engine layer, and the array-shape helpers the layers share.

Every layer is built from its :class:`~convviz.model.analysis.LayerReport` (the specification's one
source of truth for shapes) and works on NCHW arrays ``(N, C, H, W)``; a flat 1×1×D volume is held as
``(N, D)`` (a windowed layer given ``(N, D)`` reads it as ``(N, D, 1, 1)``). ``forward`` caches what
``backward`` reads, and ``backward`` reads nothing else.

Ownership, for in-place work. A network runs each stack with two flags per layer, worked out once from
the class attributes below: ``inplace`` in ``forward(x, train, inplace)`` says nobody else will read
``x`` again (so the layer may overwrite it), and in ``backward(dout, inplace)`` the same for ``dout``.
Traced passes never set them.

- ``KEEPS_OUTPUT``: backward reads the layer's own output, so the next layer must not overwrite it;
- ``OUTPUT_ALIASES_INPUT``: the output may be the input itself or a view of it;
- ``DX_ALIASES_DOUT``: the input gradient may be ``dout`` itself or a view of it.
"""

from __future__ import annotations

import numpy as np

from convviz.model.analysis import LayerReport
from convviz.model.volume import Volume


def array_shape(v: Volume) -> tuple[int, ...]:
    """The per-image shape of the engine's array for volume ``v``: (D,) when flat, else (D, H, W)."""
    return (v.depth,) if v.is_flat else v.chw()


def as_4d(x: np.ndarray) -> np.ndarray:
    """(N, D) → (N, D, 1, 1) view; 4-D arrays unchanged."""
    return x if x.ndim == 4 else x.reshape(x.shape[0], x.shape[1], 1, 1)


def as_flat(x: np.ndarray) -> np.ndarray:
    """(N, D, 1, 1) → (N, D); (N, D) unchanged. Only for flat volumes."""
    return x if x.ndim == 2 else x.reshape(x.shape[0], -1)


class Layer:
    """One layer of a built network: parameters, forward and backward.

    ``params``, ``grads`` and ``buffers`` map local names (``weight``, ``bias``, ``running_mean`` …) to
    the live arrays, weight first, then bias, then any other parameter.
    """

    KEEPS_OUTPUT = False
    OUTPUT_ALIASES_INPUT = False
    DX_ALIASES_DOUT = False
    COMPOSITE = False
    #: backward takes ``input_grad=False`` to skip dx (the network's first layer never needs it)
    SKIPS_INPUT_GRAD = False
    #: the ``weight`` parameter is drawn He/Glorot from ``fan()`` and the activation that follows
    INIT_WEIGHT = False

    @classmethod
    def build(cls, report: LayerReport, dtype, part) -> "Layer":
        """The engine layer for ``report`` in the replica that runs ``part`` of a network's batches
        (a :class:`~convviz.engine.parallel.Part`: ``part.rng`` is the network's dropout generator,
        ``part.split`` says whether a pass runs on a split batch). A layer that needs it (dropout,
        batch norm) overrides this."""
        return cls(report, dtype)

    def __init__(self, report: LayerReport, dtype):
        self.report = report
        self.spec = report.layer
        self.name = report.name
        self.input = report.input
        self.output = report.output
        self.dtype = np.dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}

    def add_param(self, name: str, shape: tuple) -> np.ndarray:
        self.params[name] = np.zeros(shape, self.dtype)
        self.grads[name] = np.zeros(shape, self.dtype)
        return self.params[name]

    def fan(self) -> tuple[int, int]:
        """(fan_in, fan_out) for initialisation (weighted layers only)."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, train: bool, inplace: bool = False) -> np.ndarray:
        raise NotImplementedError

    def shown_output(self, y: np.ndarray) -> np.ndarray:
        """What a view shows as this layer's output ``y`` (the softmax layer: probabilities)."""
        return y

    def backward(self, dout: np.ndarray, inplace: bool = False) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.input} → {self.output}>"


