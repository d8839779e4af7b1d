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

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import ClassVar

from convviz.model.geometry import POLICIES, AxisWindow, Fix, Window2d, pool_padding_problem, slide, span, window_of
from convviz.model.volume import Volume

Pair = int | tuple[int, int]

#: Largest values a file may hold; beyond them a value is absurd, not merely expensive.
LIMITS = {
    "filters": 65_536,
    "units": 1_000_000,
    "size": 1_024,
    "stride": 1_024,
    "pad": 1_024,
    "dilation": 256,
    "extent": 16_384,  # input width/height
    "depth": 65_536,  # input depth
}


class ShapeError(Exception):
    """A layer that cannot be built for its input: ``message`` shows why, ``fixes`` the ways out."""

    def __init__(self, message: str, fixes: tuple[Fix, ...] | list[Fix] = (), formula: str = ""):
        super().__init__(message)
        self.message = message
        self.fixes = tuple(fixes)
        self.formula = formula


def hp(default, kind: str, doc: str, low=None, high=None, choices=None, label: str | None = None):
    """A hyperparameter field; ``kind`` is int, pair, float, bool, choice, layers or branches."""
    meta = dict(kind=kind, doc=doc, low=low, high=high, choices=choices, label=label)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def pair(value: Pair) -> tuple[int, int]:
    """(along H, along W) from one number or a pair."""
    if isinstance(value, (tuple, list)):
        return (value[0], value[1])
    return (value, value)


def fmt_pair(value: Pair, sep: str = "×") -> str:
    h, w = pair(value)
    return str(h) if h == w else f"{h}{sep}{w}"


def fmt_size(value: Pair) -> str:
    """A window size as on a card: 5×5, or 3×5 (along H × along W)."""
    h, w = pair(value)
    return f"{h}×{w}"


def fmt_int(n: int) -> str:
    """1,216 (thousands separated, as the notes write them)."""
    return f"{n:,}"


@dataclass
class Layer:
    """Base of every layer type. ``name`` is optional; unnamed layers are numbered by type (conv1 …)."""

    TYPE: ClassVar[str] = ""  # the "type" in JSON
    SHORT: ClassVar[str] = ""  # auto-name prefix
    TITLE: ClassVar[str] = ""
    CATEGORY: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""
    FORMULA: ClassVar[str] = ""
    COMPOSITE: ClassVar[bool] = False

    name: str = field(default="", kw_only=True, metadata=dict(kind="str", doc="optional name", label="Name"))

    # -- arithmetic -------------------------------------------------------------------------------
    def output_shape(self, v: Volume) -> Volume:
        return v

    def params(self, v: Volume) -> int:
        return 0

    def param_formula(self, v: Volume) -> str:
        return "no parameters"

    def macs(self, v: Volume, out: Volume) -> int:
        return 0

    def saved(self, v: Volume, out: Volume) -> int:
        return 0

    def buffers(self, v: Volume) -> int:
        return 0

    # -- text ----------------------------------------------------------------------------------------
    def brief(self) -> str:
        return self.TITLE

    # -- fields ----------------------------------------------------------------------------------------
    @classmethod
    def hyperparameters(cls) -> list[dataclasses.Field]:
        """The editable fields, in display order (``name`` last)."""
        fields = [f for f in dataclasses.fields(cls) if f.name != "name"]
        return fields + [f for f in dataclasses.fields(cls) if f.name == "name"]

    def values(self) -> tuple:
        """Every field's value, in order: what the layer's arithmetic depends on (hashable for plain layers)."""
        names = type(self).__dict__.get("_field_names")
        if names is None:
            names = type(self)._field_names = tuple(f.name for f in dataclasses.fields(self))
        return tuple(getattr(self, name) for name in names)

    @classmethod
    def _checks(cls) -> list[tuple]:
        """(name, kind, low, high, choices) of each checked field, worked out once per class."""
        checks = cls.__dict__.get("_checks_cache")
        if checks is None:
            checks = [
                (f.name, f.metadata.get("kind"), f.metadata.get("low"), f.metadata.get("high"), f.metadata.get("choices"))
                for f in cls.hyperparameters()
                if f.metadata.get("kind") in ("int", "pair", "float", "choice")
            ]
            cls._checks_cache = checks
        return checks

    def field_problems(self) -> list[tuple[str, str]]:
        """(field, requirement) for every value outside its allowed range, e.g. ("stride", "must be ≥ 1")."""
        problems = []
        for name, kind, low, high, choices in self._checks():
            value = getattr(self, name)
            if kind == "choice":
                if value not in choices:
                    problems.append((name, f"must be one of {', '.join(choices)}"))
                continue
            values = pair(value) if kind == "pair" else (value,)
            if low is not None and (values[0] < low or values[-1] < low):
                whole = low == 1 and kind != "float"
                problems.append((name, "must be a positive whole number" if whole else f"must be ≥ {low:g}"))
            elif high is not None and (values[0] > high or values[-1] > high):
                problems.append((name, f"must be at most {high:,g}"))
        return problems

    def field_messages(self) -> list[str]:
        """``filters must be a positive whole number, got filters=0`` for each out-of-range value."""
        return [f"{name} {requirement}, got {name}={_show(getattr(self, name))}" for name, requirement in self.field_problems()]


def _show(value) -> str:
    return f"({value[0]}, {value[1]})" if isinstance(value, (tuple, list)) else f"{value:,}" if isinstance(value, int) else str(value)


# -- windows: convolution and pooling --------------------------------------------------------------


def slide_volume(v: Volume, size: Pair, stride: Pair, pad: Pair, dilation: Pair, policy: str) -> tuple[AxisWindow, AxisWindow]:
    """Slide a window over H and W of ``v``; returns (along H, along W)."""
    (fh, fw), (sh, sw), (ph, pw), (dh, dw) = pair(size), pair(stride), pair(pad), pair(dilation)
    along_h = slide(v.height, fh, sh, ph, dh, policy, axis="H")
    along_w = slide(v.width, fw, sw, pw, dw, policy, axis="W")
    return along_h, along_w


def _window_error(layer: "WindowLayer", along_h: AxisWindow, along_w: AxisWindow) -> ShapeError:
    """One message for a window that does not fit; square problems are said once."""
    same = (along_h.n, along_h.f, along_h.s, along_h.p, along_h.d) == (along_w.n, along_w.f, along_w.s, along_w.p, along_w.d)
    bad = [a for a in (along_h, along_w) if a.error]
    if same or len(bad) == 1:
        axis = along_w if same else bad[0]
        prefix = "" if same else ("along H: " if axis is along_h else "along W: ")
        fixes = axis.fixes if same else tuple(_axis_fix(layer, fx, axis is along_h) for fx in axis.fixes)
        return ShapeError(prefix + axis.error, fixes, axis.formula)
    message = f"along H: {along_h.error}; along W: {along_w.error}"
    fixes = _both_axes_fixes(layer, along_h, along_w) or search_fixes(layer, Volume(along_w.n, along_h.n, 1))
    return ShapeError(message, fixes, f"{along_h.formula}; {along_w.formula}")


def _both_axes_fixes(layer: "WindowLayer", along_h: AxisWindow, along_w: AxisWindow) -> list[Fix]:
    """Fixes for two broken axes: the same kind of change on both (P along H and P along W → one pad pair)."""
    by_keys = {tuple(fx.changes): fx for fx in along_w.fixes}
    fixes = []
    for fx_h in along_h.fixes:
        fx_w = by_keys.get(tuple(fx_h.changes))
        if fx_w is None:
            continue
        if "policy" in fx_h.changes:
            fixes.append(fx_h)
            continue
        changes = {}
        for key in fx_h.changes:
            h, w = fx_h.changes[key], fx_w.changes[key]
            changes[key] = h if h == w else (h, w)
        fixes.append(Fix(f"along H {fx_h.label}, along W {fx_w.label}", changes))
    return fixes


def search_fixes(layer: "WindowLayer", v: Volume, limit: int = 2) -> list[Fix]:
    """The first ``limit`` changes of P, S and the policy (fewest changed fields first) that make
    ``layer`` valid for ``v``: for problems that no single axis's arithmetic can fix alone."""
    (ph, pw), (fh, fw), (sh, sw) = pair(layer.pad), pair(layer.size), pair(layer.stride)
    (dh, dw) = pair(layer.dilation)
    pool = isinstance(layer, Pool)

    def pads(n, p, f, d):
        """P as it is, 0, and from the least that fits the window up to F − 1 (pools: below F)."""
        need = max(0, -(-(span(f, d) - n) // 2))
        values = {p, 0, *range(need, max(need, f - 1) + 1)}
        return sorted((c for c in values if not pool or c < f), key=lambda c: (abs(c - p), c))

    options = {
        "pad": _pairs(pads(v.height, ph, fh, dh), pads(v.width, pw, fw, dw)),
        "stride": _pairs(sorted({sh, 1}, key=lambda c: c != sh), sorted({sw, 1}, key=lambda c: c != sw)),
        "policy": list(dict.fromkeys([layer.policy, "crop", "pad"])),
    }
    tries = []
    for combo in itertools.product(*options.values()):
        changes = {key: value for key, value in zip(options, combo) if value != getattr(layer, key)}
        if changes:
            tries.append(changes)
    fixes: list[Fix] = []
    labels = {"policy": lambda value: "crop to fit" if value == "crop" else "zero-pad to fit",
              "pad": lambda value: f"P={fmt_pair(value, ',')}", "stride": lambda value: f"S={fmt_pair(value, ',')}"}
    rank = {"policy": 0, "pad": 1, "stride": 2}  # the gentlest change first
    for changes in sorted(tries, key=lambda c: (len(c), sorted(rank[key] for key in c))):
        candidate = dataclasses.replace(layer, **changes)
        if not candidate.fits(v):
            continue
        along_h, along_w = candidate.windows(v)
        label = ", ".join(labels[key](value) for key, value in changes.items())
        fixes.append(Fix(f"{label} (→ {along_w.size}×{along_h.size})", changes))
        if len(fixes) == limit:
            break
    return fixes


def _pairs(hs: list[int], ws: list[int]) -> list[Pair]:
    """Candidate (H, W) values in order, one number where both axes agree."""
    return list(dict.fromkeys(h if h == w else (h, w) for h in hs for w in ws))


def _axis_fix(layer: "WindowLayer", fix: Fix, is_h: bool) -> Fix:
    """Turn a fix for one axis into a change of that axis only (the other keeps its value)."""
    changes = {}
    for key, value in fix.changes.items():
        if key == "policy":
            changes[key] = value
            continue
        h, w = pair(getattr(layer, key))
        new = (value, w) if is_h else (h, value)
        changes[key] = new[0] if new[0] == new[1] else new
    return Fix(fix.label, changes, fix.insert_before)


@dataclass
class WindowLayer(Layer):
    """A layer that slides an F×F window with stride S over a zero-padded input."""

    def windows(self, v: Volume) -> tuple[AxisWindow, AxisWindow]:
        """(along H, along W) for input ``v``: sizes, the pad/crop amounts and the formulas."""
        return slide_volume(v, self.size, self.stride, self.pad, self.dilation, self.policy)

    def geometry(self, v: Volume) -> Window2d:
        """The geometry the engine's kernels run for input ``v`` (the layer must be valid for it)."""
        return window_of(*self.windows(v))

    def out_hw(self, v: Volume) -> tuple[int, int]:
        along_h, along_w = self.windows(v)
        if along_h.error or along_w.error:
            error = _window_error(self, along_h, along_w)
            error.fixes = tuple(fx for fx in error.fixes if self.fits_after(fx, v)) or tuple(search_fixes(self, v))
            raise error
        return along_h.size, along_w.size

    def fits(self, v: Volume) -> bool:
        """Whether the window slides over ``v`` without a problem (no message or fixes worked out)."""
        along_h, along_w = self.windows(v)
        return not (along_h.error or along_w.error)

    def fits_after(self, fix: Fix, v: Volume) -> bool:
        """Whether ``fix`` (a change of this layer's fields) makes it fit ``v``."""
        return fix.insert_before is None and dataclasses.replace(self, **fix.changes).fits(v)

    def size_formula(self, v: Volume) -> str:
        """``(32 − 5 + 2·2)/1 + 1 = 32`` (both axes when they differ)."""
        along_h, along_w = self.windows(v)
        square = v.width == v.height and all(
            pair(getattr(self, key))[0] == pair(getattr(self, key))[1] for key in ("size", "stride", "pad", "dilation")
        )
        return along_w.formula if square else f"W: {along_w.formula}; H: {along_h.formula}"

    def _geometry_brief(self) -> str:
        text = f"S{fmt_pair(self.stride, ',')}"
        if pair(self.pad) != (0, 0):
            text += f" P{fmt_pair(self.pad, ',')}"
        if pair(self.dilation) != (1, 1):
            text += f" d{fmt_pair(self.dilation, ',')}"
        if self.policy != "error":
            text += " pad-to-fit" if self.policy == "pad" else " crop-to-fit"
        return text


POLICY_DOC = "what to do when (W − F + 2P)/S + 1 is not whole: error, pad (zero-pad bottom/right) or crop"


@dataclass
class Conv(WindowLayer):
    TYPE: ClassVar[str] = "conv"
    SHORT: ClassVar[str] = "conv"
    TITLE: ClassVar[str] = "Convolution"
    CATEGORY: ClassVar[str] = "Convolution"
    DESCRIPTION: ClassVar[str] = "K filters of F×F×D slide over the input; each gives one depth slice of the output."
    FORMULA: ClassVar[str] = "W' = (W − F + 2P)/S + 1, D' = K; params = K·F·F·D + K"

    filters: int = hp(16, "int", "number of filters K (output depth)", 1, LIMITS["filters"], label="Filters K")
    size: Pair = hp(3, "pair", "filter size F (one number or [along H, along W])", 1, LIMITS["size"], label="Size F")
    stride: Pair = hp(1, "pair", "stride S", 1, LIMITS["stride"], label="Stride S")
    pad: Pair = hp(0, "pair", "zero padding P on each side", 0, LIMITS["pad"], label="Padding P")
    dilation: Pair = hp(1, "pair", "dilation: gap between filter taps (1 = none)", 1, LIMITS["dilation"], label="Dilation")
    bias: bool = hp(True, "bool", "learn one bias per filter", label="Bias")
    policy: str = hp("error", "choice", POLICY_DOC, choices=POLICIES, label="Uneven stride")

    def output_shape(self, v: Volume) -> Volume:
        h, w = self.out_hw(v)
        return Volume(w, h, self.filters)

    def weights_per_filter(self, v: Volume) -> int:
        fh, fw = pair(self.size)
        return fh * fw * v.depth

    def params(self, v: Volume) -> int:
        return self.filters * self.weights_per_filter(v) + (self.filters if self.bias else 0)

    def param_formula(self, v: Volume) -> str:
        fh, fw = pair(self.size)
        text = f"{self.filters}×{fh}×{fw}×{v.depth}"
        if self.bias:
            text += f" + {self.filters}"
        return f"{text} = {fmt_int(self.params(v))}"

    def macs(self, v: Volume, out: Volume) -> int:
        return out.elements * self.weights_per_filter(v)

    def brief(self) -> str:
        text = f"conv {fmt_size(self.size)}, {self.filters}, {self._geometry_brief()}"
        return text if self.bias else text + " no bias"


@dataclass
class LocallyConnected(Conv):
    TYPE: ClassVar[str] = "local"
    SHORT: ClassVar[str] = "local"
    TITLE: ClassVar[str] = "Locally connected"
    DESCRIPTION: ClassVar[str] = "Like a convolution, but every output position has its own filters (no parameter sharing)."
    FORMULA: ClassVar[str] = "W' = (W − F + 2P)/S + 1; params = W'·H'·K·(F·F·D + 1)"

    def params(self, v: Volume) -> int:
        out = self.output_shape(v)
        per_position = self.filters * (self.weights_per_filter(v) + (1 if self.bias else 0))
        return out.width * out.height * per_position

    def param_formula(self, v: Volume) -> str:
        out = self.output_shape(v)
        fh, fw = pair(self.size)
        inner = f"{fh}×{fw}×{v.depth}" + (" + 1" if self.bias else "")
        return f"{out.width}×{out.height}×{self.filters}×({inner}) = {fmt_int(self.params(v))}"

    def brief(self) -> str:
        return "local" + super().brief()[len("conv"):]


@dataclass
class Pool(WindowLayer):
    CATEGORY: ClassVar[str] = "Pooling"
    KIND: ClassVar[str] = ""
    dilation = 1  # not a field: pooling windows are never dilated (Conv's dilation is a field)

    size: Pair = hp(2, "pair", "window size F", 1, LIMITS["size"], label="Size F")
    stride: Pair = hp(2, "pair", "stride S", 1, LIMITS["stride"], label="Stride S")
    pad: Pair = hp(0, "pair", "padding P on each side", 0, LIMITS["pad"], label="Padding P")
    policy: str = hp("error", "choice", POLICY_DOC, choices=POLICIES, label="Uneven stride")

    def output_shape(self, v: Volume) -> Volume:
        h, w = self.out_hw(v)
        why = self._padding_problem(v)
        if why:
            raise ShapeError(f"pooling padding must be smaller than the window: {why}", search_fixes(self, v))
        return Volume(w, h, v.depth)

    def fits(self, v: Volume) -> bool:
        return super().fits(v) and not self._padding_problem(v)

    def _padding_problem(self, v: Volume) -> str | None:
        """Why some window would hold padding alone (both axes said once when they agree), or None."""
        along_h, along_w = self.windows(v)
        if (along_h.n, along_h.f, along_h.s, along_h.p) == (along_w.n, along_w.f, along_w.s, along_w.p):
            return pool_padding_problem(along_w, both_axes=True)
        problems = [(axis, pool_padding_problem(a)) for axis, a in (("H", along_h), ("W", along_w))]
        problems = [(axis, why) for axis, why in problems if why]
        if len(problems) == 2:
            return "; ".join(f"along {axis}: {why}" for axis, why in problems)
        return problems[0][1] if problems else None

    def brief(self) -> str:
        return f"{self.KIND} pool {fmt_size(self.size)}, {self._geometry_brief()}"


@dataclass
class MaxPool(Pool):
    TYPE: ClassVar[str] = "maxpool"
    SHORT: ClassVar[str] = "maxpool"
    TITLE: ClassVar[str] = "Max pool"
    KIND: ClassVar[str] = "max"
    DESCRIPTION: ClassVar[str] = "Keeps the largest value of each F×F window, per depth slice."
    FORMULA: ClassVar[str] = "W' = (W − F + 2P)/S + 1, D' = D; no parameters"

    def saved(self, v: Volume, out: Volume) -> int:
        return out.elements  # the switches: where each max came from


@dataclass
class AvgPool(Pool):
    TYPE: ClassVar[str] = "avgpool"
    SHORT: ClassVar[str] = "avgpool"
    TITLE: ClassVar[str] = "Average pool"
    KIND: ClassVar[str] = "avg"
    DESCRIPTION: ClassVar[str] = "Averages each F×F window, per depth slice (padding counts as zeros)."
    FORMULA: ClassVar[str] = "W' = (W − F + 2P)/S + 1, D' = D; no parameters"


@dataclass
class GlobalAvgPool(Layer):
    TYPE: ClassVar[str] = "gap"
    SHORT: ClassVar[str] = "gap"
    TITLE: ClassVar[str] = "Global average pool"
    CATEGORY: ClassVar[str] = "Pooling"
    DESCRIPTION: ClassVar[str] = "Averages each depth slice to one number (as in GoogLeNet and ResNet)."
    FORMULA: ClassVar[str] = "W×H×D → 1×1×D"

    def output_shape(self, v: Volume) -> Volume:
        return Volume(1, 1, v.depth)

    def brief(self) -> str:
        return "global avg pool"


# -- activations ----------------------------------------------------------------------------------


@dataclass
class Activation(Layer):
    CATEGORY: ClassVar[str] = "Activation"


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

    def brief(self) -> str:
        return f"leaky ReLU {self.slope:g}"


@dataclass
class Tanh(Activation):
    TYPE: ClassVar[str] = "tanh"
    SHORT: ClassVar[str] = "tanh"
    TITLE: ClassVar[str] = "Tanh"
    DESCRIPTION: ClassVar[str] = "Squashes to (−1, 1); zero-centred."
    FORMULA: ClassVar[str] = "f(x) = tanh(x)"


@dataclass
class Sigmoid(Activation):
    TYPE: ClassVar[str] = "sigmoid"
    SHORT: ClassVar[str] = "sigmoid"
    TITLE: ClassVar[str] = "Sigmoid"
    DESCRIPTION: ClassVar[str] = "Squashes to (0, 1)."
    FORMULA: ClassVar[str] = "σ(x) = 1 / (1 + e^−x)"


# -- normalization and regularization ---------------------------------------------------------------


@dataclass
class BatchNorm(Layer):
    TYPE: ClassVar[str] = "batchnorm"
    SHORT: ClassVar[str] = "bn"
    TITLE: ClassVar[str] = "Batch norm"
    CATEGORY: ClassVar[str] = "Normalization"
    DESCRIPTION: ClassVar[str] = "Normalizes each depth slice over the batch, then scales by γ and shifts by β."
    FORMULA: ClassVar[str] = "y = γ·(x − μ)/√(σ² + ε) + β; params = 2·D"

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

    def output_shape(self, v: Volume) -> Volume:
        return Volume(1, 1, v.elements)


@dataclass
class FC(Layer):
    TYPE: ClassVar[str] = "fc"
    SHORT: ClassVar[str] = "fc"
    TITLE: ClassVar[str] = "Fully connected"
    CATEGORY: ClassVar[str] = "Fully connected"
    DESCRIPTION: ClassVar[str] = "Every output unit sees every input number: a matrix product plus a bias."
    FORMULA: ClassVar[str] = "y = W·x + b; params = D·units + units"

    units: int = hp(10, "int", "number of output units", 1, LIMITS["units"], label="Units")
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

    body: list = hp([], "layers", "the inner stack F", label="Body")
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

    branches: list = hp([[], []], "branches", "the parallel stacks (an empty one passes the input through)", label="Branches")

    def stacks(self) -> list[tuple[str, list]]:
        return [(f"b{i + 1}", stack) for i, stack in enumerate(self.branches)]

    def brief(self) -> str:
        return f"branch ×{len(self.branches)} (concat)"


#: Every layer type by its JSON "type", in palette order.
LAYER_TYPES: dict[str, type[Layer]] = {
    cls.TYPE: cls
    for cls in (
        Conv, LocallyConnected,
        MaxPool, AvgPool, GlobalAvgPool,
        ReLU, LeakyReLU, Tanh, Sigmoid,
        BatchNorm, LRN, Dropout,
        Flatten, FC, Softmax,
        Residual, Branch,
    )
}

CATEGORIES = ("Convolution", "Pooling", "Activation", "Normalization", "Fully connected", "Blocks")
