"""The layer types of a network specification: plain dataclasses of hyperparameters, no weights.

Each layer knows its own arithmetic, the one source of truth that the builder, the summary table
and the engine share:

- ``output_shape(v)``: the output volume for input volume ``v``, or :class:`ShapeError` with a message
  that shows the arithmetic and one-click fixes;
- ``params(v)`` and ``param_formula(v)``: learnable parameters and how they add up;
- ``macs(v, out)``: multiply-adds per image; ``saved(v, out)``: numbers per image the backward pass
  keeps besides the layer outputs (max-pool switches, dropout masks, normalized inputs);
  ``buffers(v)``: non-learned state (batch-norm running statistics);
- ``brief()``: the short text on a card, e.g. ``conv 5×5, 16, S1 P2``.

Per-axis hyperparameters (F, S, P, dilation) are one int or an (along H, along W) pair, as in PyTorch.
Composite blocks (:class:`Residual`, :class:`Branch`) hold inner stacks; their shapes are worked out
by :mod:`convviz.model.analysis`, which walks the stacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from convviz.model.geometry import Fix
from convviz.model.layer_base import (
    LAYER_TYPES, LIMITS, Layer, Pair, ShapeError, Trainable, fmt_int, fmt_pair, fmt_size, hp, pair,
)
from convviz.model.volume import Volume
from convviz.model.windows import (
    POLICY_DOC, AvgPool, Conv, GlobalAvgPool, LocallyConnected, MaxPool, Pool, WindowLayer, search_fixes, slide_volume,
)

__all__ = [
    "LAYER_TYPES", "LIMITS", "CATEGORIES", "Layer", "Pair", "ShapeError", "Trainable", "hp", "pair", "fmt_int", "fmt_pair", "fmt_size",
    "POLICY_DOC", "WindowLayer", "Conv", "LocallyConnected", "Pool", "MaxPool", "AvgPool", "GlobalAvgPool",
    "search_fixes", "slide_volume", "Activation", "ReLU", "LeakyReLU", "ELU", "Tanh", "Sigmoid",
    "BatchNorm", "LRN", "Dropout", "Flatten", "FC", "Softmax", "Residual", "Branch",
]


# -- activations ----------------------------------------------------------------------------------


@dataclass
class Activation(Layer):
    CATEGORY: ClassVar[str] = "Activation"
    ELEMENTWISE: ClassVar[bool] = True
    FOLDED_IN_DIAGRAM: ClassVar[bool] = True
    KEEPS_FIELD: ClassVar[bool] = True

    def init_rule(self) -> tuple[str, float] | None:
        return "he", 2.0  # He et al. for ReLU-like units


@dataclass
class ReLU(Activation):
    TYPE: ClassVar[str] = "relu"
    SHORT: ClassVar[str] = "relu"
    TITLE: ClassVar[str] = "ReLU"
    DESCRIPTION: ClassVar[str] = "max(0, x), element by element."
    FORMULA: ClassVar[str] = "f(x) = max(0, x)"


@dataclass
class LeakyReLU(Activation):
    TYPE: ClassVar[str] = "leaky_relu"
    SHORT: ClassVar[str] = "lrelu"
    TITLE: ClassVar[str] = "Leaky ReLU"
    DESCRIPTION: ClassVar[str] = "x for x > 0, a small slope α·x otherwise."
    FORMULA: ClassVar[str] = "f(x) = max(αx, x)"

    slope: float = hp(0.01, "float", "slope α for x < 0", 0.0, 1.0, label="Slope α")

    def init_rule(self) -> tuple[str, float]:
        return "he", 2.0 / (1.0 + self.slope**2)

    def brief(self) -> str:
        return f"leaky ReLU {self.slope:g}"


@dataclass
class ELU(Activation):
    TYPE: ClassVar[str] = "elu"
    SHORT: ClassVar[str] = "elu"
    TITLE: ClassVar[str] = "ELU"
    DESCRIPTION: ClassVar[str] = "x for x > 0, α·(eˣ − 1) otherwise: smooth, and its mean output is nearer zero than ReLU's."
    FORMULA: ClassVar[str] = "f(x) = x if x > 0 else α(eˣ − 1)"

    alpha: float = hp(1.0, "float", "α: the value ELU approaches for very negative x is −α", 0.0, 10.0, label="α")

    def brief(self) -> str:
        return "ELU" if self.alpha == 1.0 else f"ELU α={self.alpha:g}"


@dataclass
class Tanh(Activation):
    TYPE: ClassVar[str] = "tanh"
    SHORT: ClassVar[str] = "tanh"
    TITLE: ClassVar[str] = "Tanh"
    DESCRIPTION: ClassVar[str] = "Squashes to (−1, 1); zero-centred."
    FORMULA: ClassVar[str] = "f(x) = tanh(x)"

    def init_rule(self) -> tuple[str, float]:
        return "glorot", 1.0


@dataclass
class Sigmoid(Activation):
    TYPE: ClassVar[str] = "sigmoid"
    SHORT: ClassVar[str] = "sigmoid"
    TITLE: ClassVar[str] = "Sigmoid"
    DESCRIPTION: ClassVar[str] = "Squashes to (0, 1)."
    FORMULA: ClassVar[str] = "σ(x) = 1 / (1 + e^−x)"

    def init_rule(self) -> tuple[str, float]:
        return "glorot", 1.0


# -- normalization and regularization ---------------------------------------------------------------


@dataclass
class BatchNorm(Trainable):
    TYPE: ClassVar[str] = "batchnorm"
    SHORT: ClassVar[str] = "bn"
    TITLE: ClassVar[str] = "Batch norm"
    CATEGORY: ClassVar[str] = "Normalization"
    DESCRIPTION: ClassVar[str] = "Normalizes each depth slice over the batch, then scales by γ and shifts by β."
    FORMULA: ClassVar[str] = "y = γ·(x − μ)/√(σ² + ε) + β; params = 2·D"
    KEEPS_FIELD: ClassVar[bool] = True
    INIT_TRANSPARENT: ClassVar[bool] = True
    FOLDED_IN_DIAGRAM: ClassVar[bool] = True

    eps: float = hp(1e-5, "float", "ε added to the variance", 1e-12, 1.0, label="ε")
    momentum: float = hp(0.1, "float", "weight of the new batch in the running statistics", 0.0, 1.0, label="Momentum")

    def params(self, v: Volume) -> int:
        return 2 * v.depth

    def param_formula(self, v: Volume) -> str:
        return f"2×{v.depth} = {fmt_int(2 * v.depth)}"

    def buffers(self, v: Volume) -> int:
        return 2 * v.depth  # running mean and variance

    def saved(self, v: Volume, out: Volume) -> int:
        return v.elements  # the normalized input x̂

    def brief(self) -> str:
        return "batch norm"


@dataclass
class LRN(Layer):
    TYPE: ClassVar[str] = "lrn"
    SHORT: ClassVar[str] = "lrn"
    TITLE: ClassVar[str] = "Local response norm"
    CATEGORY: ClassVar[str] = "Normalization"
    DESCRIPTION: ClassVar[str] = "Divides each value by the activity of n neighbouring depth slices (AlexNet)."
    FORMULA: ClassVar[str] = "b = a / (k + α/n·Σ a²)^β over n slices"
    KEEPS_FIELD: ClassVar[bool] = True
    INIT_TRANSPARENT: ClassVar[bool] = True
    FOLDED_IN_DIAGRAM: ClassVar[bool] = True

    size: int = hp(5, "int", "n: depth slices in the neighbourhood", 1, 1_024, label="Size n")
    alpha: float = hp(1e-4, "float", "α", 0.0, 1e3, label="α")
    beta: float = hp(0.75, "float", "β", 0.0, 10.0, label="β")
    k: float = hp(2.0, "float", "k", 0.0, 1e3, label="k")

    def saved(self, v: Volume, out: Volume) -> int:
        return v.elements  # the denominator (k + α/n·Σa²)

    def brief(self) -> str:
        return f"LRN {self.size}, α={self.alpha:g}, β={self.beta:g}, k={self.k:g}"


@dataclass
class Dropout(Layer):
    TYPE: ClassVar[str] = "dropout"
    SHORT: ClassVar[str] = "dropout"
    TITLE: ClassVar[str] = "Dropout"
    CATEGORY: ClassVar[str] = "Normalization"
    DESCRIPTION: ClassVar[str] = "In training, zeroes each value with probability p and scales the rest by 1/(1 − p)."
    FORMULA: ClassVar[str] = "y = x·m/(1 − p), m ~ Bernoulli(1 − p)"
    KEEPS_FIELD: ClassVar[bool] = True
    ELEMENTWISE: ClassVar[bool] = True
    INIT_TRANSPARENT: ClassVar[bool] = True
    FOLDED_IN_DIAGRAM: ClassVar[bool] = True

    p: float = hp(0.5, "float", "probability of dropping a value", 0.0, 0.99, label="p")

    def saved(self, v: Volume, out: Volume) -> int:
        return out.elements  # the mask

    def brief(self) -> str:
        return f"dropout {self.p:g}"


# -- fully connected ----------------------------------------------------------------------------------


@dataclass
class Flatten(Layer):
    TYPE: ClassVar[str] = "flatten"
    SHORT: ClassVar[str] = "flatten"
    TITLE: ClassVar[str] = "Flatten"
    CATEGORY: ClassVar[str] = "Fully connected"
    DESCRIPTION: ClassVar[str] = "Lays the volume out as one long vector (depth, then rows, then columns)."
    FORMULA: ClassVar[str] = "W×H×D → 1×1×(W·H·D)"
    KEEPS_FIELD: ClassVar[bool] = True
    INIT_TRANSPARENT: ClassVar[bool] = True

    def output_shape(self, v: Volume) -> Volume:
        return Volume(1, 1, v.elements)


@dataclass
class FC(Trainable):
    TYPE: ClassVar[str] = "fc"
    SHORT: ClassVar[str] = "fc"
    TITLE: ClassVar[str] = "Fully connected"
    CATEGORY: ClassVar[str] = "Fully connected"
    DESCRIPTION: ClassVar[str] = "Every output unit sees every input number: a matrix product plus a bias."
    FORMULA: ClassVar[str] = "y = W·x + b; params = D·units + units"

    units: int = hp(10, "int", "number of output units", 1, LIMITS["units"], label="Units", required=True)
    bias: bool = hp(True, "bool", "learn one bias per unit", label="Bias")

    def output_shape(self, v: Volume) -> Volume:
        if not v.is_flat:
            flat = Flatten()
            raise ShapeError(
                f"FC needs a flat 1×1×D input but gets {v}: insert Flatten before it (→ 1×1×{fmt_int(v.elements)}) "
                "or reduce the volume first (pool or global average pool)",
                (Fix(f"insert Flatten before (→ 1×1×{fmt_int(v.elements)})", insert_before=flat),),
            )
        return Volume(1, 1, self.units)

    def params(self, v: Volume) -> int:
        return v.depth * self.units + (self.units if self.bias else 0)

    def param_formula(self, v: Volume) -> str:
        text = f"{v.depth}×{self.units}" + (f" + {self.units}" if self.bias else "")
        return f"{text} = {fmt_int(self.params(v))}"

    def macs(self, v: Volume, out: Volume) -> int:
        return v.depth * self.units

    def brief(self) -> str:
        return f"FC {self.units}" + ("" if self.bias else " no bias")


@dataclass
class Softmax(Layer):
    TYPE: ClassVar[str] = "softmax"
    SHORT: ClassVar[str] = "softmax"
    TITLE: ClassVar[str] = "Softmax output"
    CATEGORY: ClassVar[str] = "Fully connected"
    DESCRIPTION: ClassVar[str] = "Turns class scores into probabilities; trained with cross-entropy loss."
    FORMULA: ClassVar[str] = "p_j = e^{s_j} / Σ_k e^{s_k}; loss = −log p_y"
    KEEPS_FIELD: ClassVar[bool] = True
    FOLDED_IN_DIAGRAM: ClassVar[bool] = True

    def brief(self) -> str:
        return "softmax"


# -- composite blocks ------------------------------------------------------------------------------------


@dataclass
class Residual(Layer):
    """An inner stack F(x) plus a shortcut, added: y = F(x) + shortcut(x).

    An empty ``shortcut`` is the identity; a 1×1 convolution (with stride, optionally batch norm)
    is the projection shortcut of ResNet.
    """

    TYPE: ClassVar[str] = "residual"
    SHORT: ClassVar[str] = "res"
    TITLE: ClassVar[str] = "Residual block"
    CATEGORY: ClassVar[str] = "Blocks"
    DESCRIPTION: ClassVar[str] = "An inner stack plus a shortcut, added: y = F(x) + x (ResNet)."
    FORMULA: ClassVar[str] = "y = F(x) + x, or F(x) + W_s·x with a 1×1 projection"
    COMPOSITE: ClassVar[bool] = True
    MERGE: ClassVar[str] = "added element by element"

    body: list = hp([], "layers", "the inner stack F", label="Body", required=True)
    shortcut: list = hp([], "layers", "the shortcut stack (empty = identity)", label="Shortcut")

    def stacks(self) -> list[tuple[str, list]]:
        """(label, inner stack) pairs; labels are part of inner layers' names."""
        return [("body", self.body), ("shortcut", self.shortcut)]

    def brief(self) -> str:
        kind = "identity" if not self.shortcut else "projection"
        return f"residual ({len(self.body)} layers, {kind} shortcut)"


@dataclass
class Branch(Layer):
    """Parallel inner stacks on the same input, their outputs concatenated in depth (Inception)."""

    TYPE: ClassVar[str] = "branch"
    SHORT: ClassVar[str] = "branch"
    TITLE: ClassVar[str] = "Branch / Inception"
    CATEGORY: ClassVar[str] = "Blocks"
    DESCRIPTION: ClassVar[str] = "Parallel stacks on the same input, concatenated in depth (GoogLeNet's Inception)."
    FORMULA: ClassVar[str] = "D' = D₁ + D₂ + …; every branch must keep the same W×H"
    COMPOSITE: ClassVar[bool] = True
    MERGE: ClassVar[str] = "concatenated in depth"

    branches: list = hp([[], []], "branches", "the parallel stacks (an empty one passes the input through)", label="Branches", required=True)

    def stacks(self) -> list[tuple[str, list]]:
        return [(f"b{i + 1}", stack) for i, stack in enumerate(self.branches)]

    def brief(self) -> str:
        return f"branch ×{len(self.branches)} (concat)"


CATEGORIES = ("Convolution", "Pooling", "Activation", "Normalization", "Fully connected", "Blocks")
