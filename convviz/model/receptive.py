"""Receptive fields: how many input pixels each layer's output cell sees, and the jump between cells.

Along one axis, a window of F taps with dilation d (F′ = d(F − 1) + 1), stride S and padding P
turns the field ``r`` and jump ``j`` of its input into

    r′ = r + (F′ − 1)·j        j′ = j·S        start′ = start + ((F′ − 1)/2 − P)·j

starting from r = 1, j = 1, start = 0.5 (the centre of the first pixel), as in Dumoulin & Visin's
guide and the CS231n notes. Element-wise layers keep the field; a residual block or a branch takes
its largest path; FC, flatten and global pooling see the whole input.
"""

from __future__ import annotations

from dataclasses import dataclass

from convviz.model.analysis import LayerReport, NetworkReport
from convviz.model.geometry import span


@dataclass(frozen=True)
class ReceptiveField:
    """Input pixels one output cell sees (``size_h`` × ``size_w``), the jump between neighbouring
    cells in input pixels, and where the first cell's field is centred (``start``, in pixels from the
    top-left corner). ``whole``: the cell sees the whole input (after FC, flatten or global pooling)."""

    size_h: int
    size_w: int
    jump_h: int
    jump_w: int
    start_h: float = 0.5
    start_w: float = 0.5
    whole: bool = False

    def short(self) -> str:
        """``196×196 (16)``: the size and, in brackets, the jump (``all`` for the whole input), as the
        summary table's column shows it in the window and in ``convviz summary``."""
        if self.whole:
            return "all"
        jump = f"{self.jump_h}" if self.jump_h == self.jump_w else f"{self.jump_h}×{self.jump_w}"
        return f"{self.size_w}×{self.size_h} ({jump})"

    def text(self) -> str:
        """``196×196, jump 16`` (or ``the whole input``), as the summary and inspector show it."""
        if self.whole:
            return "the whole input"
        jump = f"{self.jump_h}" if self.jump_h == self.jump_w else f"{self.jump_h}×{self.jump_w}"
        return f"{self.size_w}×{self.size_h}, jump {jump}"


INPUT_FIELD = ReceptiveField(1, 1, 1, 1)


def receptive_fields(report: NetworkReport) -> dict[str, ReceptiveField]:
    """The receptive field of every layer with a known output, by full name (inner layers too)."""
    fields: dict[str, ReceptiveField] = {}
    _stack(report.layers, INPUT_FIELD, fields)
    return fields


def _stack(reports: list[LayerReport], field: ReceptiveField, out: dict) -> ReceptiveField:
    for report in reports:
        if report.output is None:
            return field
        field = _layer(report, field, out)
        out[report.name] = field
    return field


def _layer(report: LayerReport, field: ReceptiveField, out: dict) -> ReceptiveField:
    layer = report.layer
    if field.whole:
        return field
    if layer.COMPOSITE:
        paths = [_stack(children, field, out) if children else field for _, children in report.children]
        return max(paths, key=lambda f: (f.whole, f.size_h * f.size_w))
    geo = report.geometry
    if geo is not None:
        (top, _), (left, _) = geo.pad
        h_size, h_jump, h_start = _slide(field.size_h, field.jump_h, field.start_h, geo.taps_h, geo.stride[0], top, geo.dilation[0])
        w_size, w_jump, w_start = _slide(field.size_w, field.jump_w, field.start_w, geo.taps_w, geo.stride[1], left, geo.dilation[1])
        return ReceptiveField(h_size, w_size, h_jump, w_jump, h_start, w_start)
    if layer.KEEPS_FIELD:
        return field
    return ReceptiveField(field.size_h, field.size_w, field.jump_h, field.jump_w, whole=True)  # FC, flatten, GAP


def _slide(size: int, jump: int, start: float, taps: int, stride: int, pad: int, dilation: int):
    reach = span(taps, dilation) - 1
    return size + reach * jump, jump * stride, start + (reach / 2 - pad) * jump
