"""Activation layers: element by element, forward and backward side by side.

Each caches its output y (enough for its derivative) and registers for its specification type.
"""

from __future__ import annotations

import numpy as np

from convviz.engine.layer_base import Layer
from convviz.engine.registry import implements
from convviz.model import layers as spec


@implements(spec.ReLU)
class ReLU(Layer):
    """y = max(0, x); dx = dout · [y > 0]. Caches y (or x's sign, which is the same thing)."""

    KEEPS_OUTPUT = True
    OUTPUT_ALIASES_INPUT = True
    DX_ALIASES_DOUT = True

    def forward(self, x, train, inplace=False):
        y = np.maximum(x, 0, out=x if inplace else None)
        self.y = y
        return y

    def backward(self, dout, inplace=False):
        return relu_backward(dout, self.y, inplace)


def relu_backward(dout: np.ndarray, y: np.ndarray, inplace: bool = False) -> np.ndarray:
    """dout · [y > 0], written over ``dout`` when ``inplace`` (y is the ReLU's output)."""
    if inplace:
        np.multiply(dout, y > 0, out=dout)
        return dout
    return np.multiply(dout, y > 0, dtype=dout.dtype)


@implements(spec.LeakyReLU)
class LeakyReLU(Layer):
    """y = x for x > 0, α·x otherwise; dx = dout · (1 or α). Caches y (α ≥ 0: y > 0 exactly where x > 0)."""

    KEEPS_OUTPUT = True

    def forward(self, x, train, inplace=False):
        self.slope = self.dtype.type(self.spec.slope)
        y = np.where(x > 0, x, x * self.slope)
        self.y = y
        return y

    def backward(self, dout, inplace=False):
        return np.where(self.y > 0, dout, dout * self.slope)


@implements(spec.ELU)
class ELU(Layer):
    """y = x for x > 0, α(eˣ − 1) otherwise; dx = dout · (1 for x > 0, else y + α). Caches y.

    With α > 0, y > 0 exactly where x > 0; with α = 0 it is the ReLU (y + α = 0 for x ≤ 0).
    """

    KEEPS_OUTPUT = True

    def forward(self, x, train, inplace=False):
        self.alpha = self.dtype.type(self.spec.alpha)
        negative = np.expm1(np.minimum(x, 0))  # eˣ − 1 without overflow for large x
        negative *= self.alpha
        self.y = np.where(x > 0, x, negative)
        return self.y

    def backward(self, dout, inplace=False):
        y = self.y
        return dout * np.where(y > 0, 1, y + self.alpha).astype(dout.dtype, copy=False)


@implements(spec.Tanh)
class Tanh(Layer):
    """y = tanh(x); dx = dout · (1 − y²). Caches y."""

    KEEPS_OUTPUT = True

    def forward(self, x, train, inplace=False):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout, inplace=False):
        return dout * (1 - self.y * self.y)


@implements(spec.Sigmoid)
class Sigmoid(Layer):
    """y = 1 / (1 + e^−x), computed without overflow; dx = dout · y · (1 − y). Caches y."""

    KEEPS_OUTPUT = True

    def forward(self, x, train, inplace=False):
        e = np.exp(-np.abs(x))  # never overflows
        self.y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.y

    def backward(self, dout, inplace=False):
        return dout * self.y * (1 - self.y)
