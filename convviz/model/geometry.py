"""Sliding-window arithmetic: the one place where (W − F + 2P)/S + 1 is computed.

A window of F taps with dilation d spans F' = d(F − 1) + 1 input positions. Along one axis of size W,
with P zeros padded on both sides and stride S, the output size is

    W' = (W − F' + 2P)/S + 1

When that is not a whole number the layer's *policy* decides (CS231n calls such strides invalid):

- ``error`` (default): the layer is invalid, and the message shows the arithmetic and the nearest
  valid P and S;
- ``pad``: zero-pad ``extra`` rows/columns at the bottom/right so that it divides (the ceiling);
- ``crop``: drop the last ``dropped`` rows/columns of the padded input (the floor).

The engine pads with ``(P, P + extra)`` and uses the floor, so the size computed here is exactly the
size the engine produces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

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
    def formula(self) -> str:
        """``(10 − 3 + 2·0)/2 + 1 = 4.5``; with a policy, what it added or dropped (made on demand)."""
        if not all(isinstance(x, int) for x in (self.n, self.f, self.s, self.p, self.d)) or self.s < 1:
            return ""
        room = self.n + 2 * self.p - span(self.f, self.d) + self.extra - self.dropped
        text = f"{base_formula(self.n, self.f, self.s, self.p, self.d, self.extra, self.dropped)} = {fmt_num(Fraction(room, self.s) + 1)}"
        rows = "row" if self.axis == "H" else "column"
        if self.extra:
            where = "bottom" if self.axis == "H" else "right"
            text += f" ({self.extra} zero {rows}{'s' if self.extra > 1 else ''} added at the {where})"
        if self.dropped:
            text += f" (last {rows} dropped)" if self.dropped == 1 else f" (last {self.dropped} {rows}s dropped)"
        return text


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
        return AxisWindow(**args, size=room // s + 1)
    if policy == "pad":
        return AxisWindow(**args, size=room // s + 2, extra=s - remainder)
    if policy == "crop":
        return AxisWindow(**args, size=room // s + 1, dropped=remainder)
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
