"""Sliding-window arithmetic: the one place where (W − F + 2P)/S + 1 is computed.

A window of F taps with dilation d spans F' = d(F − 1) + 1 input positions. Along one axis of size W,
with P zeros padded on both sides and stride S, the output size is

    W' = (W − F' + 2P)/S + 1

When that is not a whole number the layer's *policy* decides (CS231n calls such strides invalid):

- ``error`` (default): the layer is invalid, and the message shows the arithmetic and the nearest
  valid P and S;
- ``pad``: zero-pad ``extra`` rows/columns at the bottom/right so that it divides (the ceiling);
- ``crop``: drop the last ``dropped`` rows/columns of the padded input (the floor).

Every size is the one floor formula of :func:`output_size` over the padded input
``(top, bottom) = (P, P + extra)``. :class:`Window2d` is the result the engine's kernels are given
(``LayerReport.geometry``); they apply it and never recompute or re-judge it. :func:`window2d`
builds one from raw kernel arguments (tests, benchmarks) with the same arithmetic and checks.
Pooling adds one rule, :func:`pool_padding_problem`: every window must hold an input value, so the
padding on each side, the rows added to fit included, must be smaller than the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Integral

POLICIES = ("error", "pad", "crop")


@dataclass(frozen=True)
class Fix:
    """A one-click way out of a problem: set these fields of the layer (or insert a layer before it)."""

    label: str
    changes: dict = field(default_factory=dict)
    insert_before: object | None = None  # a Layer to insert in front of the broken one


@dataclass(frozen=True)
class AxisWindow:
    """The outcome of sliding one window along one axis.

    ``size`` is the output size (None when impossible); ``extra`` zero rows are added at the end
    (policy pad) or ``dropped`` rows are removed from the end (policy crop); ``formula`` is the
    arithmetic with the user's numbers; ``error`` says what is wrong, with ``fixes``.
    """

    n: int
    f: int
    s: int
    p: int
    d: int
    policy: str
    axis: str
    size: int | None
    extra: int = 0
    dropped: int = 0
    error: str | None = None
    fixes: tuple[Fix, ...] = ()

    @property
    def before(self) -> int:
        """Zero rows/columns padded at the top/left: P."""
        return self.p

    @property
    def after(self) -> int:
        """Zero rows/columns padded at the bottom/right: P plus the rows policy ``pad`` adds."""
        return self.p + self.extra

    @property
    def formula(self) -> str:
        """``(10 − 3 + 2·0)/2 + 1 = 4.5``; with a policy, what it added or dropped (made on demand)."""
        return self.formula_for(both_axes=False)

    def formula_for(self, both_axes: bool) -> str:
        """The formula; ``both_axes`` says what the policy adds or drops for H and W alike (a square
        layer on a square input), e.g. "(1 zero row and column added at the bottom and right)"."""
        if not all(isinstance(x, int) for x in (self.n, self.f, self.s, self.p, self.d)) or self.s < 1:
            return ""
        room = self.n + 2 * self.p - span(self.f, self.d) + self.extra - self.dropped
        text = f"{base_formula(self.n, self.f, self.s, self.p, self.d, self.extra, self.dropped)} = {fmt_num(Fraction(room, self.s) + 1)}"
        count = self.extra or self.dropped
        if not count:
            return text
        plural = "s" if count > 1 else ""
        if both_axes:
            rows, where = f"row{plural} and column{plural}", "bottom and right"
        else:
            rows, where = (f"row{plural}", "bottom") if self.axis == "H" else (f"column{plural}", "right")
        if self.extra:
            return text + f" ({count} zero {rows} added at the {where})"
        return text + (f" (last {rows} dropped)" if count == 1 else f" (last {count} {rows} dropped)")


def span(f: int, d: int = 1) -> int:
    """Input positions covered by ``f`` taps with dilation ``d``: F' = d(F − 1) + 1."""
    return d * (f - 1) + 1


def fmt_num(x: Fraction | int | float) -> str:
    """4.5 for Fraction(9, 2), 8 for Fraction(8, 1); a Fraction that is not a short decimal shows 2 places."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    text = f"{float(x):.4f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == x else f"{float(x):.2f}"


def base_formula(n: int, f: int, s: int, p: int, d: int = 1, extra: int = 0, dropped: int = 0) -> str:
    """``(10 − 3 + 2·0)/2 + 1`` with the user's numbers (dilation shows F' = d(F−1)+1)."""
    window = str(f) if d == 1 else f"({d}·({f} − 1) + 1)"
    terms = f"{n}"
    if dropped:
        terms += f" − {dropped}"
    terms += f" − {window} + 2·{p}"
    if extra:
        terms += f" + {extra}"
    return f"({terms})/{s} + 1"


def output_size(n: int, before: int, after: int, f: int, s: int, d: int = 1) -> int:
    """The floor ``(n + before + after − d(f − 1) − 1) // s + 1``: how many windows fit (≥ 1 when the
    window fits in the padded input). Every output size of the model and the engine comes from here."""
    return (n + before + after - span(f, d)) // s + 1


def slide(n: int, f: int, s: int = 1, p: int = 0, d: int = 1, policy: str = "error", axis: str = "W") -> AxisWindow:
    """Slide a window of ``f`` taps (stride ``s``, padding ``p``, dilation ``d``) along ``n`` inputs.

    ``axis`` names the axis in messages ("W" or "H"); the fixes it proposes change P, S or the policy.
    """
    args = dict(n=n, f=f, s=s, p=p, d=d, policy=policy, axis=axis)
    for name, value, low in (("F", f, 1), ("S", s, 1), ("P", p, 0), ("dilation", d, 1)):
        if not isinstance(value, int) or value < low:
            what = "a positive whole number" if low else "a whole number ≥ 0"
            return AxisWindow(**args, size=None, error=f"{name} must be {what}, got {name}={value}")
    if policy not in POLICIES:
        return AxisWindow(**args, size=None, error=f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    f_eff = d * (f - 1) + 1
    room = n + 2 * p - f_eff  # input positions left once the window is placed at the start
    if room < 0:
        what = f"F={f}" if d == 1 else f"the dilated window d·(F − 1) + 1 = {f_eff}"
        need_p = -(-(f_eff - n) // 2)
        fixes = [Fix(f"P={need_p} (→ {(n + 2 * need_p - f_eff) // s + 1})", {"pad": need_p})]
        if d == 1 and n + 2 * p >= 1:
            fixes.append(Fix(f"F={n + 2 * p} (→ 1)", {"size": n + 2 * p}))
        error = (
            f"{what} is larger than the padded input {axis} + 2P = {n} + 2·{p} = {n + 2 * p}: "
            f"use P ≥ {need_p} or a smaller window"
        )
        return AxisWindow(**args, size=None, error=error, fixes=tuple(fixes))
    remainder = room % s
    if remainder == 0:
        return AxisWindow(**args, size=output_size(n, p, p, f, s, d))
    if policy == "pad":
        extra = s - remainder
        return AxisWindow(**args, size=output_size(n, p, p + extra, f, s, d), extra=extra)
    if policy == "crop":
        return AxisWindow(**args, size=output_size(n, p, p, f, s, d), dropped=remainder)
    return _uneven(n, f, s, p, d, axis, args)


def _uneven(n, f, s, p, d, axis, args) -> AxisWindow:
    """The invalid-stride message: the arithmetic, the nearest valid P and S, and the pad/crop ways out."""
    f_eff = span(f, d)
    formula = f"{base_formula(n, f, s, p, d)} = {fmt_num(Fraction(n + 2 * p - f_eff, s) + 1)}"
    fixes: list[Fix] = []
    tries: list[str] = []
    p_fit = nearest_valid_pad(n, f_eff, s, p)
    if p_fit is not None:
        size = (n + 2 * p_fit - f_eff) // s + 1
        fixes.append(Fix(f"P={p_fit} (→ {size})", {"pad": p_fit}))
        tries.append(f"P={p_fit} (→ {size})")
    s_fit = nearest_valid_stride(n, f_eff, s, p)
    size = (n + 2 * p - f_eff) // s_fit + 1
    fixes.append(Fix(f"S={s_fit} (→ {size})", {"stride": s_fit}))
    tries.append(f"S={s_fit} (→ {size})")
    room = n + 2 * p - f_eff
    pad_size, crop_size = -(-room // s) + 1, room // s + 1
    fixes.append(Fix(f"zero-pad to fit (→ {pad_size})", {"policy": "pad"}))
    fixes.append(Fix(f"crop to fit (→ {crop_size})", {"policy": "crop"}))
    why_no_p = ""
    if p_fit is None:
        odd = f": {axis} − F = {n - f_eff} is odd" if s == 2 else ""
        why_no_p = f" (no P works with S={s}{odd})"
    error = (
        f"{formula} is not a whole number: try {' or '.join(tries)}{why_no_p}, "
        f"or zero-pad to fit (→ {pad_size}) or crop to fit (→ {crop_size})"
    )
    return AxisWindow(**args, size=None, error=error, fixes=tuple(fixes))


def nearest_valid_pad(n: int, f_eff: int, s: int, p: int) -> int | None:
    """The padding closest to ``p`` (ties: the smaller) that makes the stride divide, or None."""
    best = None
    for cand in range(0, max(p, f_eff) + s + 1):
        room = n + 2 * cand - f_eff
        if room >= 0 and room % s == 0:
            if best is None or abs(cand - p) < abs(best - p):
                best = cand
    return best


def nearest_valid_stride(n: int, f_eff: int, s: int, p: int) -> int:
    """The stride closest to ``s`` (ties: the smaller) that divides W − F' + 2P (S = 1 always does)."""
    room = n + 2 * p - f_eff
    divisors = [c for c in range(1, room + 1) if room % c == 0]
    return min(divisors, key=lambda c: (abs(c - s), c))


# -- the geometry the engine runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window2d:
    """A 2-D sliding window over a (H, W) plane, as the kernels apply it.

    ``pad`` is ((top, bottom), (left, right)) zero rows/columns; ``out_h``/``out_w`` are
    :func:`output_size` of each axis. Built by :func:`window_of` for a layer of a specification, or
    by :func:`window2d` from raw kernel arguments.
    """

    in_h: int
    in_w: int
    taps_h: int
    taps_w: int
    stride: tuple[int, int]
    pad: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    out_h: int
    out_w: int

    @property
    def padded_h(self) -> int:
        return self.in_h + self.pad[0][0] + self.pad[0][1]

    @property
    def padded_w(self) -> int:
        return self.in_w + self.pad[1][0] + self.pad[1][1]


def window_of(along_h: AxisWindow, along_w: AxisWindow) -> Window2d:
    """The kernels' geometry of a layer whose two axes slid without error."""
    return Window2d(
        along_h.n, along_w.n, along_h.f, along_w.f, (along_h.s, along_w.s),
        ((along_h.before, along_h.after), (along_w.before, along_w.after)), (along_h.d, along_w.d),
        along_h.size, along_w.size,
    )


def pool_padding_problem(along: AxisWindow, both_axes: bool = False) -> str | None:
    """Why a pooling window along this axis would hold padding alone, or None.

    The first window starts at the top (padding P) and the last one ends at most at the bottom
    (padding P + extra), so both being smaller than F keeps an input value in every window.
    ``both_axes`` words it for H and W alike (a square layer on a square input).
    """
    if along.p >= along.f:
        return f"P={along.p} with F={along.f} would give windows of padding alone"
    if along.after >= along.f:
        if both_axes:
            rows, where, axis = "rows and columns", "bottom and right", "H and W"
        else:
            rows = "rows" if along.axis == "H" else "columns"
            where, axis = ("bottom" if along.axis == "H" else "right"), along.axis
        formula = along.formula_for(both_axes)
        return (
            f"{formula} puts P + {along.extra} = {along.after} zero {rows} at the {where}, as many as the "
            f"window's F={along.f}, so the last window along {axis} holds padding alone"
        )
    return None


def window2d(in_h: int, in_w: int, taps_h: int, taps_w: int, stride=1, pad=0, dilation=1,
             what: str = "window", pool: bool = False) -> Window2d:
    """The geometry of a raw kernel call: ``stride``/``dilation`` an int or (H, W) pair, ``pad`` an int,
    (rows, cols) or ((top, bottom), (left, right)). Raises ValueError saying what is wrong; ``what``
    names the window in messages; ``pool`` adds the pooling-padding rule."""
    stride, dilation, pad = pair_of(stride, "stride"), pair_of(dilation, "dilation"), padding_of(pad)
    pair_of((taps_h, taps_w), "size")
    sizes = []
    for axis, n, taps, s, (before, after), d in (
        ("H", in_h, taps_h, stride[0], pad[0], dilation[0]),
        ("W", in_w, taps_w, stride[1], pad[1], dilation[1]),
    ):
        padded = n + before + after
        if span(taps, d) > padded:
            size = f"{taps}" if d == 1 else f"d·(F − 1) + 1 = {d}·({taps} − 1) + 1 = {span(taps, d)}"
            raise ValueError(
                f"the {what} ({size}) is larger than the padded input along {axis}: {n} + {before} + {after} = {padded}"
            )
        sizes.append(output_size(n, before, after, taps, s, d))
    if pool and (max(pad[0]) >= taps_h or max(pad[1]) >= taps_w):
        raise ValueError(
            f"pad must be smaller than the pooling window so every window holds an input value, "
            f"got pad={pad} for a {taps_h}×{taps_w} window"
        )
    return Window2d(in_h, in_w, taps_h, taps_w, stride, pad, dilation, sizes[0], sizes[1])


def pair_of(value, name: str) -> tuple[int, int]:
    """``2`` → (2, 2); ``(2, 3)`` → (2, 3); each a positive integer, else ValueError."""
    first, second = _two(value, name)
    if first < 1 or second < 1:
        raise ValueError(f"{name} must be positive integers, got {name}={value!r}")
    return first, second


def padding_of(value) -> tuple[tuple[int, int], tuple[int, int]]:
    """``1`` → ((1, 1), (1, 1)); ``(1, 2)`` → ((1, 1), (2, 2)); ``((0, 1), (0, 1))`` as given."""
    try:
        rows, cols = (value, value) if _is_int(value) else value
        (top, bottom), (left, right) = _two(rows, "pad"), _two(cols, "pad")
    except (TypeError, ValueError):
        raise ValueError(
            f"pad must be an integer, (rows, cols) or ((top, bottom), (left, right)), got pad={value!r}"
        ) from None
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"pad must be ≥ 0, got pad={value!r}")
    return (top, bottom), (left, right)


def _two(value, name):
    try:
        first, second = (value, value) if _is_int(value) else tuple(value)
    except (TypeError, ValueError):
        first = second = None
    if not (_is_int(first) and _is_int(second)):
        raise ValueError(f"{name} must be an integer or a pair of integers, got {name}={value!r}")
    return int(first), int(second)


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)
