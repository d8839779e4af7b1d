"""The curves of the run: batch loss (every step's as a band) and its smoothed line; batch,
validation and test accuracy; the learning rate; and the images trained per second. Redrawn from the
session's records at most five times a second however fast the trainer reports, and not at all
while the view is hidden (it catches up when shown); the items are made once and updated in place.

Each plot's title and legend are one row of text above it (:func:`legend_row`), never an item in the
plot, so no legend covers a curve or an evaluation's marker wherever the data lies. Hovering a plot
marks that step on every plot and reads every curve's value there in the row at the top, beside
**Export…** (the curves as PNG or CSV: ``convviz.ui.training.curve_export``). The plots pan and zoom
with the mouse, as every pyqtgraph plot does.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from convviz.ui.session import RunSession
from convviz.ui.training import curve_export

REDRAW_MS = 200  # curves are redrawn at most five times a second
STAGGER_MS = 40  # each plot below the loss is redrawn this much after the one before, in a frame of its own


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
LEARNING_RATE, RATE = (120, 60, 160), (60, 130, 150)
HOVER = (60, 60, 60)
PLOT_HEIGHT = 110  # the least height of a plot: the curves fit the Train workspace at 1280×800 unscrolled
HOVER_HINT = "Hover over a plot to read every curve at that step."


def plot_widget(minimum_height: int) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setBackground("w")
    plot.setLabel("bottom", "step")
    plot.getAxis("bottom").enableAutoSIPrefix(False)  # steps are counted, never "(x0.001)"
    plot.addItem(light_grid())
    plot.setMinimumHeight(minimum_height)
    return plot


def titled(legend: QLabel, plot: pg.PlotWidget) -> QVBoxLayout:
    column = QVBoxLayout()
    column.setSpacing(0)
    column.addWidget(legend)
    column.addWidget(plot, 1)
    return column


class CurvesView(QWidget):
    """Loss (top); accuracy, learning rate and images/s (below, side by side), over training steps."""

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.loss_legend = legend_row("Loss", [("every step (least to largest)", BAND, "██"), ("batch", BATCH_LOSS, "━━"),
                                               ("smoothed", SMOOTHED, "━━")])
        self.loss_plot = plot_widget(PLOT_HEIGHT)
        # Every step's loss as a band (the least and largest since the previous record), under the curves.
        self.band_low = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band_high = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(*BAND, 90))
        for item in (self.band_low, self.band_high, self.band):
            self.loss_plot.addItem(item)
        self.band.setVisible(False)
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(BATCH_LOSS, width=1), name="batch")
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen(SMOOTHED, width=2), name="smoothed")
        self.acc_legend = legend_row("Accuracy", [("batch", BATCH_ACCURACY, "━━"), ("validation", VALIDATION, "━●━"),
                                                  ("test", TEST, "━■━")])
        self.acc_plot = plot_widget(PLOT_HEIGHT)
        self.acc_plot.setYRange(0, 1)
        self.batch_acc_curve = self.acc_plot.plot(pen=pg.mkPen(BATCH_ACCURACY, width=1), name="batch")
        self.val_curve = self.acc_plot.plot(pen=pg.mkPen(VALIDATION, width=2), symbol="o", symbolSize=6,
                                            symbolBrush=VALIDATION, name="validation")
        self.test_curve = self.acc_plot.plot(pen=pg.mkPen(TEST, width=2), symbol="s", symbolSize=6,
                                             symbolBrush=TEST, name="test")
        self.lr_legend = legend_row("Learning rate", [])
        self.lr_plot = plot_widget(PLOT_HEIGHT)
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen(LEARNING_RATE, width=2), name="learning rate")
        self.rate_legend = legend_row("Images/s", [])
        self.rate_plot = plot_widget(PLOT_HEIGHT)
        self.rate_curve = self.rate_plot.plot(pen=pg.mkPen(RATE, width=2), name="images per second")
        self.plots = (self.loss_plot, self.acc_plot, self.lr_plot, self.rate_plot)
        self.hover_lines = []
        for plot in self.plots:
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(HOVER, width=1, style=Qt.PenStyle.DashLine))
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self.hover_lines.append(line)
            plot.scene().sigMouseMoved.connect(lambda pos, plot=plot: self._mouse_moved(plot, pos))

        self.readout = QLabel(HOVER_HINT)
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setStyleSheet("color: #333; padding: 1px 4px;")
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # never widens the view
        self.export_button = QToolButton(text="Export…", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("Curves as PNG…", lambda: self._export("png"))
        menu.addAction("Curves as CSV…", lambda: self._export("csv"))
        self.export_button.setMenu(menu)
        self.export_button.setToolTip("Save the curves as a picture (PNG) or their numbers by step (CSV)")
        self.export_button.setStyleSheet("QToolButton { padding-right: 14px; }")  # room for the menu arrow
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.readout, 1)
        top.addWidget(self.export_button)
        self.plots_area = QWidget()  # what the PNG shows: the plots with their legends
        self.plots_area.setStyleSheet("background: white;")
        below = QHBoxLayout()
        below.setSpacing(6)
        below.addLayout(titled(self.acc_legend, self.acc_plot), 2)
        below.addLayout(titled(self.lr_legend, self.lr_plot), 1)
        below.addLayout(titled(self.rate_legend, self.rate_plot), 1)
        area = QVBoxLayout(self.plots_area)
        area.setContentsMargins(0, 0, 0, 0)
        area.setSpacing(0)
        area.addLayout(titled(self.loss_legend, self.loss_plot), 1)
        area.addSpacing(4)
        area.addLayout(below, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.plots_area, 1)

        self._steps = np.zeros(0)  # the metrics records' steps, as last drawn (for hovering)
        self._stale = False  # records came while hidden: redraw when shown
        self._redraw_timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._redraw_timer.timeout.connect(self._redraw_in_turn)
        self._lower_timer = QTimer(self, interval=STAGGER_MS, singleShot=True)
        self._lower_timer.timeout.connect(self._next_turn)
        self._lower_parts = (self._redraw_accuracy, self._redraw_lr, self._redraw_rate)
        self._turn = 0
        session.run_started.connect(self._schedule)
        session.metrics.connect(self._schedule)
        session.evaluation.connect(self._schedule)
        self.redraw()

    def _schedule(self, _record=None) -> None:
        if not self.isVisible():
            self._stale = True  # hidden views do no work
        elif not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._schedule()

    def redraw(self) -> None:
        """Every curve from the session's records, at once."""
        self._redraw_loss()
        self._redraw_lower()

    def _redraw_in_turn(self) -> None:
        """The loss plot now, each plot below it a moment after the one before: each repaint is then a
        frame of its own, so the GUI thread is never busy painting all four plots in one go."""
        self._redraw_loss()
        self._turn = 0
        self._lower_timer.start()

    def _next_turn(self) -> None:
        self._lower_parts[self._turn]()
        self._turn += 1
        if self._turn < len(self._lower_parts):
            self._lower_timer.start()

    def _redraw_loss(self) -> None:
        self._stale = False
        records = self.session.records
        steps = np.array([m.step for m in records.metrics], dtype=float)
        self._steps = steps
        self.loss_curve.setData(steps, np.array([m.loss for m in records.metrics], dtype=float))
        self.smooth_curve.setData(steps, np.array([m.smoothed_loss for m in records.metrics], dtype=float))
        banded = [m for m in records.metrics if m.loss_min is not None and m.loss_max is not None]
        band_steps = np.array([m.step for m in banded], dtype=float)
        self.band_low.setData(band_steps, np.array([m.loss_min for m in banded], dtype=float))
        self.band_high.setData(band_steps, np.array([m.loss_max for m in banded], dtype=float))
        self.band.setVisible(len(banded) > 0)  # an empty band's bounds would centre the empty plot on 0

    def _redraw_lower(self) -> None:
        for part in self._lower_parts:
            part()

    def _redraw_accuracy(self) -> None:
        records = self.session.records
        steps = np.array([m.step for m in records.metrics], dtype=float)
        self.batch_acc_curve.setData(steps, np.array([m.batch_accuracy for m in records.metrics], dtype=float))
        for split, curve in (("validation", self.val_curve), ("test", self.test_curve)):
            shown = [e for e in records.evaluations if e.split == split]
            curve.setData(np.array([e.step for e in shown], dtype=float), np.array([e.accuracy for e in shown], dtype=float))

    def _redraw_lr(self) -> None:
        metrics = self.session.records.metrics
        self.lr_curve.setData(np.array([m.step for m in metrics], dtype=float), np.array([m.lr for m in metrics], dtype=float))

    def _redraw_rate(self) -> None:
        metrics = self.session.records.metrics
        self.rate_curve.setData(np.array([m.step for m in metrics], dtype=float),
                                np.array([m.images_per_second for m in metrics], dtype=float))

    # -- hover values ----------------------------------------------------------------------------------------
    def _mouse_moved(self, plot: pg.PlotWidget, pos) -> None:
        box = plot.getPlotItem().getViewBox()
        if not box.sceneBoundingRect().contains(pos):
            self.hover_at(None)
            return
        self.hover_at(box.mapSceneToView(pos).x())

    def hover_at(self, step: float | None) -> int | None:
        """Mark the metrics record nearest ``step`` on every plot and read every curve there into the row
        at the top; returns that record's step (None, and the hint, when there is none or ``step`` is None)."""
        records = self.session.records
        # the records drawn are the first len(_steps) (records only grow, until a new run)
        if step is None or not len(self._steps) or len(records.metrics) < len(self._steps):
            for line in self.hover_lines:
                line.setVisible(False)
            self.readout.setText(HOVER_HINT)
            return None
        i = int(np.clip(np.searchsorted(self._steps, step), 0, len(self._steps) - 1))
        if i > 0 and abs(self._steps[i - 1] - step) <= abs(self._steps[i] - step):
            i -= 1
        m = records.metrics[i]
        for line in self.hover_lines:
            line.setPos(m.step)
            line.setVisible(True)
        parts = [f"<b>step {m.step:,}</b>",
                 f"<span style='color: rgb{BATCH_LOSS}'>loss</span> {m.loss:.4g}",
                 f"<span style='color: rgb{SMOOTHED}'>smoothed</span> {m.smoothed_loss:.4g}",
                 f"<span style='color: rgb{BATCH_ACCURACY}'>batch</span> {m.batch_accuracy:.1%}"]
        for split, colour in (("validation", VALIDATION), ("test", TEST)):
            before = [e for e in records.evaluations if e.split == split and e.step <= m.step]
            if before:
                e = before[-1]
                at = "" if e.step == m.step else f" (at {e.step:,})"
                parts.append(f"<span style='color: rgb{colour}'>{split}</span> {e.accuracy:.1%}{at}")
        parts += [f"<span style='color: rgb{LEARNING_RATE}'>lr</span> {m.lr:.3g}",
                  f"<span style='color: rgb{RATE}'>images/s</span> {m.images_per_second:,.0f}"]
        self.readout.setText(" · ".join(parts))
        return m.step

    # -- export ------------------------------------------------------------------------------------------------
    def export_png(self, path: str) -> tuple[int, int]:
        """The plots with their legends as a PNG at ``path`` (written atomically), without the hover
        marker; returns its size."""
        shown = [line.isVisible() for line in self.hover_lines]
        for line in self.hover_lines:
            line.setVisible(False)
        try:
            return curve_export.export_png(self.plots_area, path)
        finally:
            for line, visible in zip(self.hover_lines, shown):
                line.setVisible(visible)

    def export_csv(self, path: str) -> int:
        """Every curve by step as CSV at ``path`` (written atomically); returns the rows written."""
        return curve_export.export_csv(self.session.records, path)

    def _export(self, kind: str) -> None:
        names = {"png": ("Save the curves as a picture", "PNG pictures (*.png)"),
                 "csv": ("Save the curves' numbers", "CSV tables (*.csv)")}
        title, pattern = names[kind]
        path, _ = QFileDialog.getSaveFileName(self, title, f"curves.{kind}", pattern)
        if not path:
            return
        if not path.lower().endswith(f".{kind}"):
            path += f".{kind}"
        try:
            done = self.export_png(path) if kind == "png" else self.export_csv(path)
        except OSError as exc:
            self.readout.setText(f"<span style='color: #b00'>Could not save {path}: {exc.strerror or exc}</span>")
            return
        what = f"{done[0]}×{done[1]} picture" if kind == "png" else f"{done:,} rows"
        self.readout.setText(f"Saved the curves to {path} ({what}).")
