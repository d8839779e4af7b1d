"""Compare architectures: the case studies and the session's network side by side.

A table (parameters, multiply-adds per image, training memory at the chosen batch with the session's
optimizer), a scatter of parameters against multiply-adds on log axes with each marker's size by its
memory (as the classic accuracy-vs-operations charts draw them), and per network two bars stacked by
layer, each 100 %: where its parameters sit and where its activation memory goes, coloured by the
kind of layer (conv, FC, other), so the early convs' memory and the last FCs' parameters show.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPointF, Qt
from PySide6.QtWidgets import (
    QGraphicsLineItem,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from convviz.analysis.architectures import (
    ArchitectureFigures,
    case_studies,
    compare,
    figures,
)
from convviz.ui.analysis.label_layout import place_labels

KIND_COLOURS = {"conv": "#4285f4", "fc": "#f29900", "other": "#bdc1c6"}
MINE = "#d93025"


def _si(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:,.0f}"


def _bytes(value: float) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:,.0f} B"


class FiguresModel(QAbstractTableModel):
    HEADERS = ("network", "parameters", "multiply-adds", "training memory", "params in FC", "memory in convs")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[ArchitectureFigures] = []

    def set_rows(self, rows: list[ArchitectureFigures]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return len(self.HEADERS)

    def cells(self, row: int) -> tuple[str, ...]:
        r = self.rows[row]
        return (r.name, f"{r.params:,}", _si(r.macs), _bytes(r.training_bytes),
                f"{r.share('params', 'fc'):.0%}", f"{r.share('activation_bytes', 'conv'):.0%}")

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells(index.row())[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column():
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


class CompareView(QWidget):
    """The case studies and the session's network ("your network"): table, scatter and stacked bars."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.rows: list[ArchitectureFigures] = []
        self.labels: list[pg.TextItem] = []  # the scatter's labels, placed clear of each other in pixels
        self.label_rects: list[tuple[float, float, float, float]] = []
        self.leaders: list[QGraphicsLineItem] = []
        self.marker_sizes: list[float] = []
        self.batch = QSpinBox(minimum=1, maximum=65_536)
        self.batch.setValue(session.batch_size)
        self.batch.setToolTip("The batch size the training memory is counted at")
        self.note = QLabel()
        self.note.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Training memory at batch"))
        bar.addWidget(self.batch)
        bar.addWidget(self.note, 1)
        self.model = FiguresModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.scatter = pg.PlotWidget(background="w")
        self.scatter.setLogMode(True, True)
        self.scatter.setLabel("bottom", "parameters")
        self.scatter.setLabel("left", "multiply-adds per image")
        self.scatter.setTitle("marker area: training memory", color="#5f6368", size="9pt")
        self.scatter.setMouseEnabled(False, False)
        for axis in ("left", "bottom"):
            self.scatter.getAxis(axis).enableAutoSIPrefix(False)
        self.scatter.getViewBox().sigResized.connect(lambda _box: self._place_labels())
        self.bars = pg.PlotWidget(background="w")
        self.bars.setMouseEnabled(False, False)
        self.bars.setLabel("bottom", "share of the network's parameters (upper bar) and activation memory (lower bar)")
        self.bars.setTitle(" · ".join(f"<span style='color:{c}'>■</span> {k}" for k, c in KIND_COLOURS.items()),
                           size="9pt")
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.scatter)
        plots.addWidget(self.bars)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(plots)
        split.setSizes([260, 440])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self.batch.valueChanged.connect(lambda _: self.refresh())
        session.choices_changed.connect(lambda: self.batch.setValue(session.batch_size))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Figures again: the case studies and the session's network at the chosen batch."""
        batch, optimizer = self.batch.value(), self.session.optimizer
        rows = compare(case_studies(), batch, optimizer)
        try:
            mine = figures("your network", self.session.network(), batch, optimizer)
        except ValueError as exc:
            mine = None
            self.note.setText(f"Your network is left out: {exc}")
        else:
            rows.append(mine)
            self.note.setText(f"with the {optimizer} optimizer's state; your network is the builder's, in red")
        self.rows = rows
        self.model.set_rows(rows)
        height = (self.table.horizontalHeader().height() + sum(self.table.rowHeight(i) for i in range(len(rows)))
                  + 2 * self.table.frameWidth())
        self.table.setFixedHeight(height)  # every row, no scrolling; the plots take the rest
        self._draw_scatter()
        self._draw_bars()

    def _draw_scatter(self) -> None:
        plot = self.scatter
        plot.clear()
        rows = self.rows
        memory = np.array([r.training_bytes for r in rows], dtype=float)
        sizes = 8 + 30 * np.sqrt(memory / memory.max())
        colours = [MINE if r.name == "your network" else KIND_COLOURS["conv"] for r in rows]
        plot.plot([r.params for r in rows], [max(r.macs, 1) for r in rows], pen=None, symbol="o", symbolSize=list(sizes),
                  symbolBrush=[pg.mkBrush(c + "99") for c in colours], symbolPen=[pg.mkPen(c) for c in colours])
        xs = np.log10([max(r.params, 1) for r in rows])
        ys = np.log10([max(r.macs, 1) for r in rows])
        plot.enableAutoRange(False)
        plot.setXRange(xs.min() - 0.35, xs.max() + 0.35, padding=0)
        plot.setYRange(ys.min() - 0.45, ys.max() + 0.45, padding=0)
        self.marker_sizes = list(sizes)
        self.labels = [pg.TextItem(r.name, color=colour, anchor=(0, 0)) for r, colour in zip(rows, colours)]
        self.leaders = []
        for label in self.labels:
            plot.addItem(label)
        self._place_labels()

    def _place_labels(self) -> None:
        """Labels beside their markers, none over another or a marker (:func:`place_labels`, in pixels),
        a leader line to a label pushed further out; again whenever the plot is resized."""
        box = self.scatter.getViewBox()
        if not self.labels or box.width() <= 1:
            return
        for line in self.leaders:
            box.removeItem(line)
        self.leaders = []
        points = [box.mapViewToScene(QPointF(math.log10(max(r.params, 1)), math.log10(max(r.macs, 1))))
                  for r in self.rows]
        sizes = [(label.textItem.boundingRect().width(), label.textItem.boundingRect().height()) for label in self.labels]
        bounds = box.sceneBoundingRect()
        rects, far = place_labels([(p.x(), p.y()) for p in points], [s / 2 for s in self.marker_sizes], sizes,
                                  (bounds.left(), bounds.top(), bounds.width(), bounds.height()))
        self.label_rects = rects
        for label, point, (left, top, w, h), moved, r in zip(self.labels, points, rects, far, self.rows):
            label.setPos(box.mapSceneToView(QPointF(left, top)))
            if moved:  # from the marker to the nearest point of its label
                nearest = QPointF(min(max(point.x(), left), left + w), min(max(point.y(), top), top + h))
                a, b = box.mapSceneToView(point), box.mapSceneToView(nearest)
                line = QGraphicsLineItem(a.x(), a.y(), b.x(), b.y())
                pen = pg.mkPen(MINE if r.name == "your network" else "#9aa0a6", width=1)
                pen.setCosmetic(True)
                line.setPen(pen)
                box.addItem(line)
                self.leaders.append(line)

    def _draw_bars(self) -> None:
        plot = self.bars
        plot.clear()
        ticks = []
        for j, r in enumerate(reversed(self.rows)):
            for what, y in (("params", j + 0.18), ("activation_bytes", j - 0.18)):
                total = sum(getattr(layer, what) for layer in r.layers) or 1
                x0, starts, widths, brushes = 0.0, [], [], []
                for layer in r.layers:
                    width = getattr(layer, what) / total
                    if width > 0:
                        starts.append(x0)
                        widths.append(width)
                        brushes.append(pg.mkBrush(KIND_COLOURS[layer.kind]))
                        x0 += width
                if widths:
                    plot.addItem(pg.BarGraphItem(x0=starts, y=[y] * len(widths), width=widths, height=0.32,
                                                 brushes=brushes, pen=pg.mkPen("w", width=0.5)))
            ticks.append((j, r.name))
        plot.getAxis("left").setTicks([ticks])
        plot.setXRange(0, 1, padding=0.01)
        plot.setYRange(-0.6, len(self.rows) - 0.4, padding=0)
