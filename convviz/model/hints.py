"""Sizing hints: the design rules of the CS231n notes, checked against a network (never blocking).

- A stride-1 convolution keeps W×H only with P = (F − 1)/2 ("P = 2 keeps 32×32").
- Pooling is usually 2×2 with stride 2 and no padding; anything else is unusual.
- The input should halve cleanly as often as the network downsamples ("32 = 2⁵: five 2× poolings fit").
- A large filter sees what a stack of 3×3 filters sees, with more weights: n = (F − 1)/2 stacked 3×3
  convolutions of C channels see F×F with 9n·C² weights against F²·C² for one F×F.

Each :class:`Hint` names its rule and says the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from convviz.model.analysis import LayerReport, NetworkReport
from convviz.model.layer_base import pair
from convviz.model.windows import Conv, LocallyConnected, Pool

SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
INPUT = "input"


@dataclass(frozen=True)
class Hint:
    """A design rule a layer does not follow: ``rule`` (short, for a marker's tooltip title) and
    ``message`` (the rule with the layer's numbers)."""

    rule: str
    message: str


def sizing_hints(report: NetworkReport) -> dict[str, list[Hint]]:
    """Hints by layer name (``input`` for the input volume); layers that follow every rule are absent."""
    hints: dict[str, list[Hint]] = {}
    first_conv = next((r for r in report.walk() if isinstance(r.layer, Conv)), None)
    for layer_report in report.walk():
        large = _large_filter(layer_report) if layer_report is first_conv else None
        found = [hint for hint in (_padding(layer_report), _pooling(layer_report), large) if hint]
        if found:
            hints[layer_report.name] = found
    halving = _input_halving(report)
    if halving:
        hints[INPUT] = [halving]
    return hints


def _padding(r: LayerReport) -> Hint | None:
    layer, v = r.layer, r.input
    if type(layer) is not Conv or r.output is None or pair(layer.stride) != (1, 1):
        return None
    (fh, fw), (ph, pw), (dh, dw) = pair(layer.size), pair(layer.pad), pair(layer.dilation)
    keep_h, keep_w = dh * (fh - 1), dw * (fw - 1)
    if keep_h % 2 or keep_w % 2 or (ph, pw) == (keep_h // 2, keep_w // 2):
        return None  # an even window cannot keep the size with equal padding on both sides
    keep = keep_h // 2 if keep_h == keep_w else f"({keep_h // 2}, {keep_w // 2})"
    return Hint(
        "padding changes the size",
        f"with stride 1, P = (F − 1)/2 keeps the size: P = {keep} keeps {v.width}×{v.height} "
        f"(P = {pair(layer.pad)[0] if ph == pw else (ph, pw)} gives {r.output.width}×{r.output.height})",
    )


def _pooling(r: LayerReport) -> Hint | None:
    layer = r.layer
    if not isinstance(layer, Pool) or r.output is None:
        return None
    usual = pair(layer.size) == (2, 2) and pair(layer.stride) == (2, 2) and pair(layer.pad) == (0, 0)
    if usual:
        return None
    return Hint(
        "unusual pooling",
        f"pooling is usually 2×2 with stride 2 and no padding (it halves W and H and discards 75% of the "
        f"values); this one is {layer.brief()}",
    )


def _large_filter(r: LayerReport) -> Hint | None:
    layer = r.layer
    if not isinstance(layer, Conv) or isinstance(layer, LocallyConnected) or r.output is None:
        return None
    fh, fw = pair(layer.size)
    if fh != fw or fh < 5 or fh % 2 == 0 or pair(layer.dilation) != (1, 1):
        return None
    n = (fh - 1) // 2
    count = {2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))
    return Hint(
        "a stack of 3×3 filters sees the same",
        f"{count} 3×3 convs of C channels see {fh}×{fh} with {9 * n}C² weights against {fh * fh}C² for one "
        f"{fh}×{fh}, and put {n - 1} more non-linearit{'ies' if n > 2 else 'y'} in between",
    )


def _input_halving(report: NetworkReport) -> Hint | None:
    """The input halves cleanly as many times as the network downsamples by 2 (its total stride)."""
    from convviz.model.receptive import receptive_fields

    jumps = [f.jump_h for f in receptive_fields(report).values() if not f.whole and f.jump_h == f.jump_w]
    total = max(jumps, default=1)
    halvings = _twos(total)
    if total < 2 or 2 ** halvings != total:
        return None
    v = report.spec.input
    fits = min(_twos(v.width), _twos(v.height))
    if fits >= halvings:
        return None
    n = min(v.width, v.height)
    better = 2 ** halvings * max(1, round(n / 2 ** halvings))
    times = "is odd: it does not halve cleanly" if fits == 0 else (
        f"= {_factor(n)} halves cleanly only {'once' if fits == 1 else f'{fits} times'}")
    return Hint(
        "the input does not halve cleanly",
        f"the network downsamples by {total} = 2{str(halvings).translate(SUPERSCRIPTS)} but {n} {times}; "
        f"{halving_text(better)}",
    )


def halving_text(n: int) -> str:
    """``32 = 2⁵: five 2× poolings fit``."""
    twos = _twos(n)
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
    if twos == 0:
        return f"{n} is odd: no 2× pooling fits"
    count = words.get(twos, str(twos))
    return f"{n} = {_factor(n)}: {count} 2× pooling{'s' if twos != 1 else ''} fit{'s' if twos == 1 else ''}"


def _twos(n: int) -> int:
    count = 0
    while n > 1 and n % 2 == 0:
        n //= 2
        count += 1
    return count


def _factor(n: int) -> str:
    twos = _twos(n)
    rest = n >> twos
    power = f"2{str(twos).translate(SUPERSCRIPTS)}" if twos > 1 else ("2" if twos == 1 else "")
    if rest == 1:
        return power or "1"
    return f"{power}·{rest}" if power else str(rest)
