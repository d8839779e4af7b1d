"""The layer health strip: one row per layer with parameters, its numbers over the run's snapshots.

Each row plots, against the step: the mean of the layer's output on the probe images with a band of
± one standard deviation; the share of dead units of the ReLU after it (0 for every probe image:
they get no gradient and so never come back); the norm of its gradient ‖dW‖; and the update/weight
ratio ‖ΔW‖/‖W‖ on a log scale, against the band around 1e-3 that CS231n calls healthy (far above:
the learning rate is too high; far below: too low). Its heading gives the newest numbers. Clicking
a row says which layer (``layer_chosen``), for the layer rows to show it.

Every snapshot adds a point (a bounded history of ``MAX_POINTS`` per layer, kept by the view); the
rows redraw at most every ``REDRAW_MS``, and only those on screen.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from convviz.training.records import LayerSnapshot, Snapshot
from convviz.ui.session import RunSession
from convviz.ui.training.maps import caption_label, number, row_column

REDRAW_MS = 500
BUDGET_S = 0.006  # the GUI thread draws (or builds) rows for at most this long, then lets other events in
MAX_POINTS = 600  # snapshots kept per layer (at one a second: the last ten minutes)
ROW_HEIGHT = 104
HEALTHY = 1e-3
BAND = (3e-4, 3e-3)  # drawn around 1e-3: about half a decade either side
MEAN, DEAD, GRAD, RATIO = (40, 60, 200), (200, 60, 40), (90, 90, 90), (30, 150, 60)
PLOTS = ("activation mean ± std", "dead ReLUs", "gradient norm ‖dW‖", "update/weight ‖ΔW‖/‖W‖")


@dataclass(frozen=True)
class HealthPoint:
    """One layer's numbers at one snapshot (NaN where there is none)."""

    step: int
    mean: float
    std: float
    dead: float
    grad_norm: float
    ratio: float


def health_rows(snapshot: Snapshot) -> list[tuple[LayerSnapshot, LayerSnapshot | None]]:
    """The layers with parameters, in order, each with the ReLU that follows it before the next such
    layer (whose dead share its row shows), or None."""
    rows: list[list] = []
    for layer in snapshot.layers:
        if layer.weight_norm > 0:
            rows.append([layer, None])
        elif layer.dead_share is not None and rows and rows[-1][1] is None:
            rows[-1][1] = layer
    return [(layer, relu) for layer, relu in rows]


def health_point(step: int, layer: LayerSnapshot, relu: LayerSnapshot | None) -> HealthPoint:
    def value(x):
        return float("nan") if x is None else float(x)

    mean = layer.activation_mean if layer.activation_mean is not None else float(np.mean(layer.activation))
    std = layer.activation_std if layer.activation_std is not None else float(np.std(layer.activation))
    return HealthPoint(step, value(mean), value(std), value(relu.dead_share if relu else None),
                       value(layer.grad_norm), value(layer.update_ratio))


PANEL_GAP = 0.24  # between two panels, in panel widths: room for the next one's range


def power(value: float) -> str:
    """A ratio as one digit and a power of ten: ``3e-4``."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def scaled(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` mapped from [low, high] onto a panel's [0, 1]."""
    return (values - low) / ((high - low) or 1.0)


class Panel:
    """One sparkline panel of a row, at x offset ``index``·(1 + PANEL_GAP) of the row's view box: a
    frame, a title, its y range as two numbers, and curves fed in the panel's own [0, 1] square."""

    def __init__(self, box: pg.ViewBox, index: int, title: str) -> None:
        self.left = index * (1 + PANEL_GAP)
        frame = pg.QtWidgets.QGraphicsRectItem(self.left, 0, 1, 1)
        frame.setPen(pg.mkPen((0, 0, 0, 40), width=0))
        frame.setBrush(pg.mkBrush(None))
        box.addItem(frame)
        self.box = box
        self.title = pg.TextItem(title, color="#555", anchor=(0, 1))
        self.title.setPos(self.left, 1.0)
        self.high = pg.TextItem("", color="#777", anchor=(1, 0.3))  # the range, left of the frame
        self.low = pg.TextItem("", color="#777", anchor=(1, 0.7))
        self.high.setPos(self.left - 0.01, 1.0)
        self.low.setPos(self.left - 0.01, 0.0)
        for item in (self.title, self.high, self.low):
            box.addItem(item)

    def curve(self, colour, width: int = 2, alpha: int = 255) -> pg.PlotCurveItem:
        item = pg.PlotCurveItem(pen=pg.mkPen((*colour, alpha), width=width))
        self.box.addItem(item)
        return item

    def put(self, curve: pg.PlotCurveItem, x: np.ndarray, y: np.ndarray) -> None:
        """Draw ``y`` (already in [0, 1]) against ``x`` (in [0, 1]) in this panel."""
        keep = np.isfinite(y)
        curve.setData(self.left + x[keep], np.clip(y[keep], -0.02, 1.02))

    def set_range(self, low: str, high: str) -> None:
        self.low.setText(low)
        self.high.setText(high)


class HealthRow(QFrame):
    """One layer's four sparkline panels (one view box, no axes: cheap to make and to draw) and its
    newest numbers."""

    clicked = Signal(str)

    def __init__(self, layer: LayerSnapshot, relu: LayerSnapshot | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = layer.name
        self.relu = relu.name if relu is not None else None
        self.drawn = -1
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.title = QLabel(f"<b>{layer.name}</b> <span style='color:#666'>{layer.type}</span>")
        self.numbers = QLabel()
        self.numbers.setStyleSheet("color: #444;")
        heading = QVBoxLayout()
        heading.setContentsMargins(0, 0, 0, 0)
        heading.addWidget(self.title)
        heading.addWidget(self.numbers, 1)
        side = QWidget()
        side.setFixedWidth(190)
        side.setLayout(heading)
        self.view = pg.GraphicsView()
        self.view.setBackground("w")
        self.view.setFixedHeight(ROW_HEIGHT)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.box = pg.ViewBox(enableMouse=False, enableMenu=False)
        self.box.setMouseEnabled(False, False)
        self.view.setCentralItem(self.box)
        width = 4 + 3 * PANEL_GAP
        self.box.setRange(xRange=(-PANEL_GAP, width + 0.02), yRange=(-0.1, 1.3), padding=0)
        dead_title = PLOTS[1] + (f" ({self.relu})" if self.relu else ": no ReLU after it")
        self.panels = [Panel(self.box, i, title) for i, title in enumerate((PLOTS[0], dead_title, PLOTS[2], PLOTS[3]))]
        mean, dead, grad, ratio = self.panels
        self.upper, self.lower = mean.curve(MEAN, 1, 110), mean.curve(MEAN, 1, 110)  # ± one std
        self.mean_curve = mean.curve(MEAN)
        self.dead_curve = dead.curve(DEAD)
        self.grad_curve = grad.curve(GRAD)
        self.band = pg.QtWidgets.QGraphicsRectItem(ratio.left, 0, 1, 0)
        self.band.setPen(pg.mkPen(None))
        self.band.setBrush(pg.mkBrush((*RATIO, 45)))
        self.box.addItem(self.band)
        self.healthy = pg.PlotCurveItem(pen=pg.mkPen(RATIO, style=Qt.PenStyle.DashLine))
        self.box.addItem(self.healthy)
        self.healthy_text = pg.TextItem("1e-3", color=RATIO, anchor=(0, 0.5))
        self.box.addItem(self.healthy_text)
        self.ratio_curve = ratio.curve((20, 20, 20))
        self.ratio_range = (math.log10(BAND[0]), math.log10(BAND[1]))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(side)
        layout.addWidget(self.view, 1)
        self.view.scene().sigMouseClicked.connect(lambda _event: self.clicked.emit(self.name))

    def on_screen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.name)
        super().mousePressEvent(event)

    def draw(self, points: deque[HealthPoint]) -> None:
        data = np.array([(p.step, p.mean, p.std, p.dead, p.grad_norm, p.ratio) for p in points], dtype=np.float64)
        self.shown = data  # what the panels draw: step, mean, std, dead, grad_norm, ratio per point
        steps, mean, std, dead, grad, ratio = data.T
        x = scaled(steps, steps[0], steps[-1]) if len(steps) > 1 else np.full(1, 0.5)
        mean_panel, dead_panel, grad_panel, ratio_panel = self.panels
        low, high = float(np.nanmin(mean - std)), float(np.nanmax(mean + std))
        for curve, y in ((self.mean_curve, mean), (self.upper, mean + std), (self.lower, mean - std)):
            mean_panel.put(curve, x, scaled(y, low, high))
        mean_panel.set_range(number(low), number(high))
        if self.relu:
            dead_panel.put(self.dead_curve, x, dead)
            dead_panel.set_range("0%", "100%")
        top = max(float(np.nanmax(grad)), 1e-12)
        grad_panel.put(self.grad_curve, x, grad / top)
        grad_panel.set_range("0", number(top))
        known = np.isfinite(ratio) & (ratio > 0)
        logs = np.log10(ratio[known])
        low = min(math.log10(BAND[0]), float(logs.min())) if known.any() else math.log10(BAND[0])
        high = max(math.log10(BAND[1]), float(logs.max())) if known.any() else math.log10(BAND[1])
        low, high = low - 0.1, high + 0.1
        self.ratio_range = (low, high)
        ratio_panel.put(self.ratio_curve, x[known], scaled(logs, low, high))
        ratio_panel.set_range(power(10 ** low), power(10 ** high))
        band_low, band_high = scaled(np.log10(np.array(BAND)), low, high)
        self.band.setRect(ratio_panel.left, band_low, 1, band_high - band_low)
        line = float(scaled(np.array(math.log10(HEALTHY)), low, high))
        self.healthy.setData([ratio_panel.left, ratio_panel.left + 1], [line, line])
        self.healthy_text.setPos(ratio_panel.left + 0.01, line)
        last = points[-1]
        dead_text = f"dead {last.dead:.0%}" if self.relu else "no ReLU after it"
        ratio_text = "no update yet" if not math.isfinite(last.ratio) else f"‖ΔW‖/‖W‖ {last.ratio:.1e}"
        self.numbers.setText(f"mean {number(last.mean)} ± {number(last.std)}\n{dead_text}\n"
                             f"‖dW‖ {number(last.grad_norm)}\n{ratio_text}")


class HealthView(QWidget):
    """The layer health strip of the run; see the module docstring."""

    layer_chosen = Signal(str)

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.history: dict[str, deque[HealthPoint]] = {}
        self.rows: list[HealthRow] = []
        self.layout_names: list[tuple[str, str | None]] = []  # the rows there are (or are being made)
        self._to_build: list = []
        self.serial = 0
        self.caption = caption_label("The health of each layer with parameters appears with the run's snapshots.")
        self.column, self.column_layout, self.scroll = row_column(spacing=2)
        self.scroll.verticalScrollBar().valueChanged.connect(self._schedule)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.scroll, 1)
        self._timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._timer.timeout.connect(self.redraw)
        session.snapshot.connect(self.add_snapshot)
        session.run_started.connect(self.clear)
        if session.records.snapshot is not None:
            self.add_snapshot(session.records.snapshot)

    def clear(self) -> None:
        """Forget the points (a new run)."""
        self.history = {}
        self.serial += 1

    def add_snapshot(self, snapshot: Snapshot) -> None:
        """Add a point per layer (once per step), and redraw soon."""
        pairs = health_rows(snapshot)
        if [(layer.name, relu.name if relu else None) for layer, relu in pairs] != self.layout_names:
            self._build_rows(pairs)
        for layer, relu in pairs:
            points = self.history.setdefault(layer.name, deque(maxlen=MAX_POINTS))
            if points and points[-1].step == snapshot.step:
                points.pop()  # a newer look at the same step
            points.append(health_point(snapshot.step, layer, relu))
        self.serial += 1
        self.caption.setText(f"Step {snapshot.step}: {len(pairs)} layers with parameters, "
                             f"{len(self.history[pairs[0][0].name]) if pairs else 0} snapshots. The update/weight "
                             f"ratio should stay in the green band about 1e-3. Click a row to show that layer.")
        self._schedule()

    def _build_rows(self, pairs) -> None:
        """Rows for these layers, made a few at a time by :meth:`redraw` (so a deep network's many rows
        never hold the GUI thread at once)."""
        for row in self.rows:
            self.column_layout.removeWidget(row)
            row.deleteLater()
        self.rows = []
        self.layout_names = [(layer.name, relu.name if relu else None) for layer, relu in pairs]
        self._to_build = list(pairs)
        names = {layer.name for layer, _ in pairs}
        self.history = {name: points for name, points in self.history.items() if name in names}

    def _schedule(self, *_args) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._schedule()

    def redraw(self) -> None:
        """Make the rows still to be made, then draw those on screen with new points, for at most
        ``BUDGET_S`` at a time (the rest follow at once, after the events waiting)."""
        if not self.isVisible():
            return
        start = time.perf_counter()
        while self._to_build:
            layer, relu = self._to_build.pop(0)
            row = HealthRow(layer, relu)
            row.clicked.connect(self.layer_chosen)
            self.column_layout.insertWidget(len(self.rows), row)
            self.rows.append(row)
            if time.perf_counter() - start > BUDGET_S:
                self._continue()
                return
        for row in self.rows:
            points = self.history.get(row.name)
            if points and row.drawn != self.serial and row.on_screen():
                row.draw(points)
                row.drawn = self.serial
                if time.perf_counter() - start > BUDGET_S:
                    self._continue()
                    return

    def _continue(self) -> None:
        QTimer.singleShot(0, self, self.redraw)

    def points(self, name: str) -> list[HealthPoint]:
        return list(self.history.get(name, ()))
