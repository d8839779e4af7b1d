"""The layers that slide a window (convolution, locally connected, max and average pooling) and
the global average pool.

Their sizes come from :func:`convviz.model.geometry.slide` per axis; ``geometry(v)`` is the
:class:`~convviz.model.geometry.Window2d` the engine runs. When a window does not fit, the error
shows the arithmetic and offers fixes that are checked to work (:func:`search_fixes` finds some
where no single axis's arithmetic can).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import ClassVar

from convviz.model.geometry import POLICIES, AxisWindow, Fix, Window2d, pool_padding_problem, slide, span, window_of
from convviz.model.layer_base import LIMITS, Layer, Pair, ShapeError, Trainable, fmt_int, fmt_pair, fmt_size, hp, pair
from convviz.model.volume import Volume




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
    fixes = _both_axes_fixes(layer, along_h, along_w)  # out_hw searches when none of them works
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
        return along_w.formula_for(both_axes=True) if square else f"W: {along_w.formula}; H: {along_h.formula}"

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
class Conv(Trainable, WindowLayer):
    TYPE: ClassVar[str] = "conv"
    SHORT: ClassVar[str] = "conv"
    TITLE: ClassVar[str] = "Convolution"
    CATEGORY: ClassVar[str] = "Convolution"
    DESCRIPTION: ClassVar[str] = "K filters of F×F×D slide over the input; each gives one depth slice of the output."
    FORMULA: ClassVar[str] = "W' = (W − F + 2P)/S + 1, D' = K; params = K·F·F·D + K"

    filters: int = hp(16, "int", "number of filters K (output depth)", 1, LIMITS["filters"], label="Filters K", required=True)
    size: Pair = hp(3, "pair", "filter size F (one number or [along H, along W])", 1, LIMITS["size"], label="Size F", required=True)
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
    INIT_TRANSPARENT: ClassVar[bool] = True
    dilation = 1  # not a field: pooling windows are never dilated (Conv's dilation is a field)

    size: Pair = hp(2, "pair", "window size F", 1, LIMITS["size"], label="Size F", required=True)
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
    INIT_TRANSPARENT: ClassVar[bool] = True
    FORMULA: ClassVar[str] = "W×H×D → 1×1×D"

    def output_shape(self, v: Volume) -> Volume:
        return Volume(1, 1, v.depth)

    def brief(self) -> str:
        return "global avg pool"


