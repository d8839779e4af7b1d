"""The layer health strip: one row per layer with parameters, its numbers over the run's snapshots.

Each row plots, against the step: the mean of the layer's output on the probe images with a band of
± one standard deviation; the share of dead units of the ReLU after it (0 for every probe image:
they get no gradient and so never come back); the norm of its gradient ‖dW‖; and the update/weight
ratio ‖ΔW‖/‖W‖ on a log scale, against the band around 1e-3 that CS231n calls healthy (far above:
the learning rate is too high; far below: too low); and the layer's weight histograms over the run
as a ridgeline (from the session's ring of kept snapshots: the oldest at the back, the newest in
front). Its heading gives the newest numbers, or those at the time cursor's step
(:meth:`HealthView.set_time_cursor`, which also marks that step on every plot). Clicking a row says
which layer (``layer_chosen``), for the layer rows to show it.

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
from convviz.ui.training.health_panels import (
    LEFT_MARGIN,
    PANEL_GAP,
    WIDE_PANEL,
    Panel,
    Ridgeline,
    TimeCursor,
    power,
    scaled,
)
from convviz.ui.training.maps import caption_label, number, row_column

REDRAW_MS = 550  # apart from the other views' delays (probes 250, rows 400, filters 700): never one frame for all
BUDGET_S = 0.006  # the GUI thread draws (or builds) rows for at most this long, then lets other events in
MAX_POINTS = 600  # snapshots kept per layer (at one a second: the last ten minutes)
ROW_HEIGHT = 104
HEALTHY = 1e-3
BAND = (3e-4, 3e-3)  # drawn around 1e-3: about half a decade either side
MEAN, DEAD, GRAD, RATIO = (40, 60, 200), (200, 60, 40), (90, 90, 90), (30, 150, 60)
PLOTS = ("activation mean ± std", "dead ReLUs", "gradient norm ‖dW‖", "update/weight ‖ΔW‖/‖W‖")
SHORT_PLOTS = ("mean ± std", "dead", "‖dW‖", "‖ΔW‖/‖W‖")  # in a narrow row
PANEL_UNITS = LEFT_MARGIN + 5 + 4 * PANEL_GAP + 0.5  # the view box's width in panel widths


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


class HealthRow(QFrame):
    """One layer's four sparkline panels (one view box, no axes: cheap to make and to draw) and its
    newest numbers."""

    clicked = Signal(str)

    def __init__(self, layer: LayerSnapshot, relu: LayerSnapshot | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = layer.name
        self.type = layer.type
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
        side.setFixedWidth(165)
        side.setLayout(heading)
        self.view = pg.GraphicsView()
        self.view.setBackground("w")
        self.view.setFixedHeight(ROW_HEIGHT)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.box = pg.ViewBox(enableMouse=False, enableMenu=False)
        self.box.setMouseEnabled(False, False)
        self.view.setCentralItem(self.box)
        # four sparklines and the ridgeline, and its steps right of it
        self.box.setRange(xRange=(-LEFT_MARGIN, PANEL_UNITS - LEFT_MARGIN), yRange=(-0.22, 1.3), padding=0)
        dead_title = PLOTS[1] + (f" ({self.relu})" if self.relu else ": no ReLU after it")
        dead_short = SHORT_PLOTS[1] + (f" ({self.relu})" if self.relu else ": no ReLU")
        titles = zip((PLOTS[0], dead_title, PLOTS[2], PLOTS[3]), (SHORT_PLOTS[0], dead_short, *SHORT_PLOTS[2:]))
        self.panels = [Panel(self.box, i, title, short) for i, (title, short) in enumerate(titles)]
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
        self.ridgeline = Ridgeline(self.box, 4)
        self.cursor = TimeCursor(self.box)
        self.cursor_x: float | None = None  # where the time cursor is drawn, in the panels' [0, 1]
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(side)
        layout.addWidget(self.view, 1)
        self.view.scene().sigMouseClicked.connect(lambda _event: self.clicked.emit(self.name))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        compact = self.view.width() / PANEL_UNITS < WIDE_PANEL
        for panel in (*self.panels, self.ridgeline):
            panel.set_compact(compact)

    def on_screen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.name)
        super().mousePressEvent(event)

    def draw(self, points: deque[HealthPoint], histograms: list | None = None, cursor: int | None = None) -> None:
        """Draw ``points`` in the four sparklines, ``histograms`` ((step, counts, edges) of the kept
        snapshots, in step order) as the ridgeline, and the time cursor at step ``cursor`` (None: none;
        the heading then gives the newest numbers, else those at the cursor)."""
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
        self.ridgeline.draw(histograms or [], cursor, number)
        if cursor is None:
            self.cursor_x, last = None, points[-1]
        else:
            self.cursor_x = float(np.clip(scaled(cursor, steps[0], steps[-1]), 0, 1)) if len(steps) > 1 else 0.5
            last = points[int(np.argmin(np.abs(steps - cursor)))]
        self.cursor.put([panel.left for panel in self.panels], self.cursor_x)
        self.title.setText(f"<b>{self.name}</b> <span style='color:#666'>{self.type}"
                           f"{'' if cursor is None else f' · step {last.step:,}'}</span>")
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
        self.cursor_step: int | None = None  # the time cursor's step (None: none)
        self._histograms: tuple[int, dict] = (-1, {})  # (serial, layer name → its histograms), see histograms()
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
                row.draw(points, self.histograms(row.name), self.cursor_step)
                row.drawn = self.serial
                if time.perf_counter() - start > BUDGET_S:
                    self._continue()
                    return

    def _continue(self) -> None:
        QTimer.singleShot(0, self, self.redraw)

    def points(self, name: str) -> list[HealthPoint]:
        return list(self.history.get(name, ()))

    def histograms(self, name: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(step, counts, edges) of layer ``name``'s weights in each snapshot the session keeps, in step
        order (read once per redraw for every row)."""
        if self._histograms[0] != self.serial:
            table: dict[str, list] = {}
            for snapshot in self.session.records.snapshots:
                for layer in snapshot.layers:
                    if layer.weight_histogram is not None:
                        table.setdefault(layer.name, []).append((snapshot.step, *layer.weight_histogram))
            self._histograms = (self.serial, table)
        return self._histograms[1].get(name, [])

    def set_time_cursor(self, step: int | None) -> None:
        """Mark ``step`` on every plot of the strip and give each row's numbers at that step (the time
        slider's); None: no marker, the newest numbers."""
        step = None if step is None else int(step)
        if step != self.cursor_step:
            self.cursor_step = step
            self.serial += 1
            self._schedule()
