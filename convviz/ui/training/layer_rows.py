"""The every-layer view's rows and its tile inspector: how one layer of a snapshot is drawn.

A row names its layer and volume and draws one probe's values for it: a volume's depth slices as
tiles on one colour scale with its legend (:class:`MapRow`), a flat output as labelled bars, by
class where there is one unit per class (:class:`BarRow`). :class:`MapInspector` shows one tile
large, on its row's scale, with the value under the cursor. :mod:`convviz.ui.training.layers_view`
lays the rows out and decides when they draw.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from convviz.training.records import LayerSnapshot
from convviz.ui.training.maps import (
    Legend,
    color_scale,
    colormap,
    fixed_box,
    grid_shape,
    image_item,
    mosaic,
    number,
    tile_at,
)
from convviz.ui.training.paths import PathMargin, PlanItem, join_text

MIN_TILE, MAX_TILE = 64, 176  # a tile's edge on screen, in pixels
MAX_TILES = 64  # depth slices drawn per row (the rest are counted in the heading)
MAX_BARS = 64  # flat outputs drawn per row
BAR_TEXTS = 16  # up to this many bars carry their value as text
BAR_HEIGHT = 190
BAR_BRUSH, LABEL_BRUSH = "#4a78b5", "#2e9e4f"  # the probe's true class stands out
ACTIVATIONS, GRADIENTS = "activations", "gradients"


def volume_text(shape: tuple[int, ...]) -> str:
    """W×H×D of one probe's (C, H, W) output, or 1×1×D for a flat (D,) one."""
    if len(shape) == 1:
        return f"1×1×{shape[0]}"
    c, h, w = shape
    return f"{w}×{h}×{c}"


def path_name(name: str) -> str:
    """How a row names its layer: its path inside its blocks, ``res1.body.conv1`` → ``body › conv1``."""
    parts = name.split(".")
    return name if len(parts) == 1 else " › ".join(parts[1:])


class LayerRow(QFrame):
    """One layer's heading (name, type, volume, range and legend) over what it draws, the bars of
    the paths it lies in on its left; a block's own row is where its paths join (``join``)."""

    def __init__(self, layer: LayerSnapshot, parent: QWidget | None = None, bars: tuple[str, ...] = (),
                 join: PlanItem | None = None) -> None:
        super().__init__(parent)
        self.name, self.type = layer.name, layer.type
        self.shape = tuple(layer.activation.shape[1:])
        self.drawn = None  # what was drawn last: (snapshot serial, probe, mode, columns)
        self.join = join
        self.setFrameShape(QFrame.Shape.NoFrame)
        volume = f"<span style='color:#666'>{layer.type} · {volume_text(self.shape)}</span>"
        if join is not None:
            self.title = QLabel(f"<b>{path_name(layer.name)}</b>&nbsp;&nbsp;{join_text(join)}&nbsp;&nbsp;{volume}")
            self.setStyleSheet("LayerRow { background: #f4f6fa; }")
        else:
            self.title = QLabel(f"<b>{path_name(layer.name)}</b>&nbsp;&nbsp;{volume}")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.details = QLabel()
        self.details.setStyleSheet("color: #555;")
        self.legend = Legend()
        heading = QHBoxLayout()
        heading.setContentsMargins(0, 0, 0, 0)
        heading.addWidget(self.title)
        heading.addSpacing(12)
        heading.addWidget(self.details, 1)
        heading.addWidget(self.legend)
        self.margin = PathMargin(bars)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.margin)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(6, 6, 6, 2)
        self.body.setSpacing(2)
        self.body.addLayout(heading)
        outer.addLayout(self.body, 1)

    @property
    def indent(self) -> int:
        """Pixels left of the row's drawing: the path bars and the margin."""
        return self.margin.width() + self.body.contentsMargins().left() + self.body.contentsMargins().right()

    def on_screen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def draw(self, values: np.ndarray, mode: str, context: dict) -> None:
        raise NotImplementedError


class MapRow(LayerRow):
    """A volume's depth slices as tiles on one colour scale."""

    tile_clicked = Signal(str, int)  # layer name, depth slice

    def __init__(self, layer: LayerSnapshot, parent: QWidget | None = None, **path) -> None:
        super().__init__(layer, parent, **path)
        self.count = min(self.shape[0], MAX_TILES)
        self.view = pg.GraphicsView()
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.box = fixed_box(self.view)
        self.image = image_item()
        self.box.addItem(self.image)
        self.signed: bool | None = None
        self.scale = (0.0, 1.0, False)
        self.values: np.ndarray | None = None
        self.cols = 1
        self.body.addWidget(self.view)
        self.view.scene().sigMouseClicked.connect(self._clicked)
        self.view.scene().sigMouseMoved.connect(self._hovered)
        self.fit(600)

    def columns_for(self, width: int) -> int:
        """Tiles to a line in ``width`` pixels: as many as fit at MIN_TILE, then balanced over the lines."""
        most = max(1, width // MIN_TILE)
        rows, _ = grid_shape(self.count, most)
        return -(-self.count // rows)

    def fit(self, width: int) -> int:
        """Lay the tiles out for ``width`` pixels; returns the columns (the row's height follows)."""
        _, h, w = self.shape
        cols = self.columns_for(width)
        rows, cols = grid_shape(self.count, cols)
        edge = min(MAX_TILE, width / cols)
        height = int(np.ceil(rows * edge * h / w + (rows - 1) * 2)) + 4
        if self.view.height() != height:
            self.view.setFixedHeight(height)
        self.cols = cols
        return cols

    def draw(self, values: np.ndarray, mode: str, context: dict) -> None:
        shown = values[: self.count]
        low, high, signed = color_scale(shown, signed=True if mode == GRADIENTS else None)
        if signed != self.signed:
            self.image.setColorMap(colormap(signed))
            self.signed = signed
        self.scale, self.values = (low, high, signed), shown
        self.image.setImage(mosaic(shown, self.cols), autoLevels=False, levels=(low, high))
        self.box.autoRange(padding=0.01)
        self.legend.set_scale(low, high, signed)
        more = f" · first {self.count} of {self.shape[0]} slices" if self.shape[0] > self.count else ""
        what = "dL/d output" if mode == GRADIENTS else "range"
        self.details.setText(f"{what} {number(float(np.nanmin(shown)))} to {number(float(np.nanmax(shown)))}{more}")

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int, int] | None:
        point = self.box.mapSceneToView(scene_pos)
        return tile_at(point.x(), point.y(), self.shape[1:], self.count, self.cols)

    def _clicked(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.tile_clicked.emit(self.name, cell[0])

    def _hovered(self, scene_pos: QPointF) -> None:
        cell = self.cell_at(scene_pos)
        if cell is None or self.values is None:
            self.view.setToolTip("")
            return
        d, y, x = cell
        self.view.setToolTip(f"slice {d + 1}, x {x}, y {y}: {number(float(self.values[d, y, x]))} (click to enlarge)")


class BarRow(LayerRow):
    """A flat output as one bar per unit, by class name where there is one unit per class."""

    def __init__(self, layer: LayerSnapshot, parent: QWidget | None = None, **path) -> None:
        super().__init__(layer, parent, **path)
        self.legend.hide()
        self.units = self.shape[0]
        self.count = min(self.units, MAX_BARS)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setFixedHeight(BAR_HEIGHT)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.bars = pg.BarGraphItem(x=np.arange(self.count), height=np.zeros(self.count), width=0.7, brush=BAR_BRUSH)
        self.plot.addItem(self.bars)
        self.plot.addLine(y=0, pen=pg.mkPen("#999"))
        # each bar's value over (or under) it, when the bars are few enough to read them
        self.texts = [pg.TextItem(color="#222", anchor=(0.5, 1.0)) for _ in range(self.count if self.count <= BAR_TEXTS else 0)]
        for text in self.texts:
            self.plot.addItem(text)
        self.labels: list[str] = []
        self.values: np.ndarray | None = None
        self.body.addWidget(self.plot)

    def draw(self, values: np.ndarray, mode: str, context: dict) -> None:
        values = np.asarray(values, dtype=np.float64).reshape(-1)[: self.count]
        classes, label = context["class_names"], context["label"]
        by_class = self.units == len(classes)
        labels = ([f"{name} ✓" if i == label else name for i, name in enumerate(classes)] if by_class
                  else [f"{i + 1}" for i in range(self.count)])
        if labels != self.labels:
            step = 1 if len(labels) <= 16 else 8
            self.plot.getAxis("bottom").setTicks([[(i, labels[i]) for i in range(0, len(labels), step)]])
            self.labels = labels
        self.values = values
        brushes = [LABEL_BRUSH if by_class and i == label else BAR_BRUSH for i in range(self.count)]
        self.bars.setOpts(x=np.arange(self.count), height=values, width=0.7, brushes=brushes)
        probabilities = self.type == "softmax" and mode == ACTIVATIONS
        texts = [f"{v:.0%}" if probabilities else number(v) for v in values[: len(self.texts)]]
        for i, text in enumerate(self.texts):
            text.setText(texts[i])
            text.setAnchor((0.5, 1.0) if values[i] >= 0 else (0.5, 0.0))
            text.setPos(i, values[i])
        low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
        if probabilities:
            low, high = 0.0, 1.0
        span = (high - low) or 1.0
        self.plot.setYRange(low - (0.18 * span if low < 0 else 0), high + 0.18 * span, padding=0)
        self.plot.setXRange(-0.6, self.count - 0.4, padding=0)
        more = f" · first {self.count} of {self.units} units" if self.units > self.count else ""
        if probabilities:
            top = int(np.argmax(values))
            name = classes[top] if by_class else f"unit {top + 1}"
            self.details.setText(f"probabilities: most likely {name} at {values[top]:.1%}{more}")
        else:
            if mode == GRADIENTS:
                what = "dL/d scores (p − onehot)" if self.type == "softmax" else "dL/d output"
            else:
                what = "scores" if by_class else "range"
            self.details.setText(f"{what} {number(float(values.min()))} to {number(float(values.max()))}{more}")

    def value_texts(self) -> list[str]:
        return [text.toPlainText() for text in self.texts]


class MapInspector(QFrame):
    """One depth slice large, on its row's colour scale, with the value under the cursor."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setWordWrap(True)
        close = QPushButton("Close")
        close.clicked.connect(self.close_inspector)
        self.view = pg.GraphicsView()
        self.view.setMinimumSize(260, 260)
        self.box = fixed_box(self.view)
        self.image = image_item()
        self.box.addItem(self.image)
        self.legend = Legend(width=160)
        self.value = QLabel("Move the cursor over the map to read its values.")
        self.value.setWordWrap(True)
        heading = QHBoxLayout()
        heading.addWidget(self.title, 1)
        heading.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.value)
        self.layer: str | None = None
        self.index = 0
        self.values: np.ndarray | None = None
        self.signed: bool | None = None
        self.view.scene().sigMouseMoved.connect(self._hovered)

    def open(self, layer: str, index: int) -> None:
        self.layer, self.index = layer, index
        self.show()

    def close_inspector(self) -> None:
        self.layer = None
        self.hide()
        self.closed.emit()

    def draw(self, row: MapRow) -> None:
        if row.values is None or self.index >= len(row.values):
            return
        low, high, signed = row.scale
        if signed != self.signed:
            self.image.setColorMap(colormap(signed))
            self.signed = signed
        self.values = row.values[self.index]
        self.image.setImage(self.values, autoLevels=False, levels=(low, high))
        self.box.autoRange(padding=0.01)
        self.legend.set_scale(low, high, signed)
        h, w = self.values.shape
        self.title.setText(f"<b>{row.name}</b>, slice {self.index + 1} of {row.shape[0]} ({w}×{h}), "
                           f"on its row's scale")

    def value_at(self, x: int, y: int) -> str:
        return f"x {x}, y {y}: {number(float(self.values[y, x]))}"

    def _hovered(self, scene_pos: QPointF) -> None:
        if self.values is None:
            return
        point = self.box.mapSceneToView(scene_pos)
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        h, w = self.values.shape
        if 0 <= x < w and 0 <= y < h:
            self.value.setText(self.value_at(x, y))

