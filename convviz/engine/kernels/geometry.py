"""Window arithmetic shared by every kernel: argument normalisation and the output size.

Along one axis of size H, with ``top`` and ``bottom`` zero rows padded, F taps of dilation d and
stride S, the output size is the floor

    Ho = (H + top + bottom − d(Fh − 1) − 1) // S + 1

The floor is the network specification's uneven-stride policy ``crop``: the last rows of the padded
input that no window reaches are dropped, and their gradient is zero. Policy ``pad`` is the same
formula with the extra zero rows added to ``bottom`` (and ``right``). The specification's own
arithmetic lives in ``convviz.model.geometry``; these kernels only apply the padding they are given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window2d:
    """A 2-D sliding window over a (H, W) plane: taps, stride, padding, dilation and output size.

    ``pad`` is ((top, bottom), (left, right)); ``out_h``/``out_w`` follow the floor formula above.
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


def pair(value, name: str) -> tuple[int, int]:
    """``2`` → (2, 2); ``(2, 3)`` → (2, 3); each a positive integer."""
    sh, sw = _two(value, name)
    if sh < 1 or sw < 1:
        raise ValueError(f"{name} must be positive integers, got {name}={value!r}")
    return sh, sw


def padding(value) -> tuple[tuple[int, int], tuple[int, int]]:
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


def window(in_h, in_w, taps_h, taps_w, stride, pad, dilation, what: str = "window") -> Window2d:
    """Check the arguments and compute the output size; ``what`` names the window in messages."""
    stride, dilation, pad = pair(stride, "stride"), pair(dilation, "dilation"), padding(pad)
    sizes = []
    for axis, n, taps, s, (before, after), d in (
        ("H", in_h, taps_h, stride[0], pad[0], dilation[0]),
        ("W", in_w, taps_w, stride[1], pad[1], dilation[1]),
    ):
        span = d * (taps - 1) + 1
        padded = n + before + after
        if span > padded:
            size = f"{taps}" if d == 1 else f"d·(F − 1) + 1 = {d}·({taps} − 1) + 1 = {span}"
            raise ValueError(
                f"the {what} ({size}) is larger than the padded input along {axis}: "
                f"{n} + {before} + {after} = {padded}"
            )
        sizes.append((padded - span) // s + 1)
    return Window2d(in_h, in_w, taps_h, taps_w, stride, pad, dilation, sizes[0], sizes[1])


def _two(value, name):
    try:
        first, second = (value, value) if _is_int(value) else tuple(value)
    except (TypeError, ValueError):
        first = second = None
    if not (_is_int(first) and _is_int(second)):
        raise ValueError(f"{name} must be an integer or a pair of integers, got {name}={value!r}")
    return int(first), int(second)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
