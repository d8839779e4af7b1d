"""Loss and accuracy curves of the run: batch loss and its smoothed line, batch accuracy, and the
validation and test accuracy of each evaluation, redrawn from the session's records at most five
times a second however fast the trainer reports."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

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


class CurvesView(QWidget):
    """Two plots over training steps: loss (top) and accuracy (bottom)."""

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen((150, 150, 220), width=1), name="batch")
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen((40, 60, 200), width=2), name="smoothed")
        self.acc_plot = pg.PlotWidget(title="Accuracy")
        self.acc_plot.setLabel("bottom", "step")
        self.acc_plot.setYRange(0, 1)
        self.acc_plot.addLegend(offset=(-10, -10))
        self.batch_acc_curve = self.acc_plot.plot(pen=pg.mkPen((200, 160, 120), width=1), name="batch")
        self.val_curve = self.acc_plot.plot(pen=pg.mkPen((30, 150, 60), width=2), symbol="o", symbolSize=6,
                                            symbolBrush=(30, 150, 60), name="validation")
        self.test_curve = self.acc_plot.plot(pen=pg.mkPen((200, 60, 40), width=2), symbol="s", symbolSize=6,
                                             symbolBrush=(200, 60, 40), name="test")
        for plot in (self.loss_plot, self.acc_plot):
            plot.setBackground("w")
            plot.addItem(light_grid())
            plot.setMinimumHeight(140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.loss_plot, 1)
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
        self.batch_acc_curve.setData(steps, np.array([m.batch_accuracy for m in records.metrics], dtype=float))
        for split, curve in (("validation", self.val_curve), ("test", self.test_curve)):
            shown = [e for e in records.evaluations if e.split == split]
            curve.setData(np.array([e.step for e in shown], dtype=float), np.array([e.accuracy for e in shown], dtype=float))
