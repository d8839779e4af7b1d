"""Loss and accuracy curves of the run: batch loss and its smoothed line, batch accuracy, and the
validation and test accuracy of each evaluation, redrawn from the session's records at most five
times a second however fast the trainer reports.

Each plot's title and legend are one row of text above it (:func:`legend_row`), never an item in the
plot, so no legend covers a curve or an evaluation's marker wherever the data lies.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from convviz.ui.session import RunSession

REDRAW_MS = 200  # curves are redrawn at most five times a second


def light_grid() -> pg.GridItem:
    """Faint grid lines at one automatic spacing. Costs a few ms a repaint, where the axes' own grid
    (``showGrid``) took 60–120 ms for the two plots and made the window late while training."""
    grid = pg.GridItem(textPen=None)
    grid.setTickSpacing(x=[None], y=[None])
    grid.setPen(pg.mkPen((0, 0, 0, 30)))
    grid.setZValue(-100)
    return grid


def legend_row(title: str, entries: list[tuple[str, tuple[int, int, int], str]]) -> QLabel:
    """``title`` and a sample of each curve, ``(name, colour, glyph)`` (``━`` a line, ``●`` ``■`` markers),
    in one line of text above a plot: the legend lives outside the data."""
    samples = "".join(f"&nbsp;&nbsp;&nbsp;<span style='color: rgb{colour}'>{glyph}</span>&nbsp;{name}"
                      for name, colour, glyph in entries)
    label = QLabel(f"<b>{title}</b>{samples}")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("background: white; color: #333; padding: 2px 0px;")
    return label


BATCH_LOSS, SMOOTHED, BATCH_ACCURACY = (150, 150, 220), (40, 60, 200), (200, 160, 120)
BAND = (190, 195, 235)  # every step's loss, least to largest between two records
VALIDATION, TEST = (30, 150, 60), (200, 60, 40)


class CurvesView(QWidget):
    """Two plots over training steps: loss (top) and accuracy (bottom)."""

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.loss_legend = legend_row("Loss", [("every step (least to largest)", BAND, "██"), ("batch", BATCH_LOSS, "━━"),
                                               ("smoothed", SMOOTHED, "━━")])
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setLabel("bottom", "step")
        # Every step's loss as a band (the least and largest since the previous record), under the curves.
        self.band_low = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band_high = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(*BAND, 90))
        for item in (self.band_low, self.band_high, self.band):
            self.loss_plot.addItem(item)
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(BATCH_LOSS, width=1), name="batch")
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen(SMOOTHED, width=2), name="smoothed")
        self.acc_legend = legend_row("Accuracy", [("batch", BATCH_ACCURACY, "━━"), ("validation", VALIDATION, "━●━"),
                                                  ("test", TEST, "━■━")])
        self.acc_plot = pg.PlotWidget()
        self.acc_plot.setLabel("bottom", "step")
        self.acc_plot.setYRange(0, 1)
        self.batch_acc_curve = self.acc_plot.plot(pen=pg.mkPen(BATCH_ACCURACY, width=1), name="batch")
        self.val_curve = self.acc_plot.plot(pen=pg.mkPen(VALIDATION, width=2), symbol="o", symbolSize=6,
                                            symbolBrush=VALIDATION, name="validation")
        self.test_curve = self.acc_plot.plot(pen=pg.mkPen(TEST, width=2), symbol="s", symbolSize=6,
                                             symbolBrush=TEST, name="test")
        for plot in (self.loss_plot, self.acc_plot):
            plot.setBackground("w")
            plot.addItem(light_grid())
            plot.setMinimumHeight(140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(0)
        layout.addWidget(self.loss_legend)
        layout.addWidget(self.loss_plot, 1)
        layout.addSpacing(4)
        layout.addWidget(self.acc_legend)
        layout.addWidget(self.acc_plot, 1)

        self._redraw_timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._redraw_timer.timeout.connect(self.redraw)
        session.run_started.connect(self.redraw)
        session.metrics.connect(self._schedule)
        session.evaluation.connect(self._schedule)
        self.redraw()

    def _schedule(self, _record=None) -> None:
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def redraw(self) -> None:
        records = self.session.records
        steps = np.array([m.step for m in records.metrics], dtype=float)
        self.loss_curve.setData(steps, np.array([m.loss for m in records.metrics], dtype=float))
        self.smooth_curve.setData(steps, np.array([m.smoothed_loss for m in records.metrics], dtype=float))
        banded = [m for m in records.metrics if m.loss_min is not None and m.loss_max is not None]
        band_steps = np.array([m.step for m in banded], dtype=float)
        self.band_low.setData(band_steps, np.array([m.loss_min for m in banded], dtype=float))
        self.band_high.setData(band_steps, np.array([m.loss_max for m in banded], dtype=float))
        self.batch_acc_curve.setData(steps, np.array([m.batch_accuracy for m in records.metrics], dtype=float))
        for split, curve in (("validation", self.val_curve), ("test", self.test_curve)):
            shown = [e for e in records.evaluations if e.split == split]
            curve.setData(np.array([e.step for e in shown], dtype=float), np.array([e.accuracy for e in shown], dtype=float))
