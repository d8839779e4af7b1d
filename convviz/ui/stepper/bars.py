"""Softmax probabilities as labelled bars: one row per class, its name, a bar as long as p, and p.

:class:`ProbabilityBars` draws the rows it is given (plain data, kept in ``rows`` for tests); the
label's row is green, the selected one outlined. With many classes only the most probable ones and the
label are shown, and a last line says how many were left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

ROW = 18  # pixels per bar
MOST = 10  # bars at most (the label's always among them)


@dataclass(frozen=True)
class Bar:
    """One class: its index, name, probability, and whether it is the label / the selected class."""

    k: int
    name: str
    p: float
    label: bool = False
    selected: bool = False


class ProbabilityBars(QWidget):
    """Horizontal bars of p, labelled with the class names and the probabilities in full."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[Bar] = []
        self.left_out = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_probabilities(self, probabilities, names, label: int, selected: int) -> None:
        """The most probable ``MOST`` classes (the label and the selected class always among them), most
        probable first."""
        p = np.asarray(probabilities, dtype=float)
        order = [int(k) for k in np.argsort(-p, kind="stable")]
        keep = order[:MOST]
        for k in (label, selected):
            if k not in keep:
                keep = keep[:-1] + [k]
        keep.sort(key=lambda k: (-p[k], k))
        self.rows = [Bar(k, names[k], float(p[k]), k == label, k == selected) for k in keep]
        self.left_out = len(p) - len(keep)
        self.setFixedHeight(ROW * (len(self.rows) + (1 if self.left_out else 0)) + 6)
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = QFontMetrics(self.font())
        name_w = max([metrics.horizontalAdvance(r.name) for r in self.rows] + [40]) + 8
        value_w = metrics.horizontalAdvance("100.00%") + 8
        width = max(20, self.width() - name_w - value_w - 8)
        for i, r in enumerate(self.rows):
            top = 3 + i * ROW
            painter.setPen(QColor("#202124"))
            painter.drawText(QRectF(0, top, name_w - 6, ROW), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             r.name)
            bar = QRectF(name_w, top + 3, max(1.0, width * r.p), ROW - 6)
            painter.fillRect(bar, QColor("#34a853" if r.label else "#1a73e8"))
            if r.selected:
                painter.setPen(QPen(QColor("#202124"), 1.5))
                painter.drawRect(QRectF(name_w, top + 2, width, ROW - 4))
            painter.setPen(QColor("#202124"))
            painter.drawText(QRectF(name_w + width + 4, top, value_w, ROW), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"{r.p:.2%}")
        if self.left_out:
            painter.setPen(QColor("#5f6368"))
            painter.drawText(QRectF(name_w, 3 + len(self.rows) * ROW, width, ROW), Qt.AlignmentFlag.AlignLeft,
                             f"… and {self.left_out} less probable classes")
        painter.end()
