"""Every layer at once: one row per layer, in network order, for the selected probe image.

A row names its layer and volume and draws what the newest snapshot holds for it: each depth slice
of a volume as a tile (tiles grow with the space, a few to a line), all of a row's tiles on one
colour scale with its legend (blue–white–red about 0 where the values are signed, viridis where not),
and a flat output (an FC layer's scores, the softmax layer's probabilities) as labelled bars, by
class where there is one unit per class. The inner layers of residual and branch blocks follow
their block, indented, named by their path (``body › conv1``).

Click a tile to see it large beside the rows, with the value under the cursor. A toggle shows the
gradients dL/d activation of the probe's own loss instead, when the snapshot carries them
(``gradients_wanted`` tells the window to ask the trainer for them).

Drawing is bounded: the newest snapshot only, at most every ``REDRAW_MS``, and only rows that are on
screen; a row scrolled into view draws then. pyqtgraph items are made once per row and updated.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from convviz.training.records import LayerSnapshot, Snapshot
from convviz.ui.session import RunSession
from convviz.ui.training.maps import (
    Legend,
    caption_label,
    color_scale,
    colormap,
    fixed_box,
    grid_shape,
    image_item,
    mosaic,
    number,
    row_column,
    tile_at,
)

REDRAW_MS = 500  # rows are redrawn at most twice a second
BUDGET_S = 0.006  # the GUI thread makes or draws rows for at most this long, then lets other events in
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


def path_name(name: str) -> tuple[str, int]:
    """How a row names its layer, and how deep it is in blocks: ``res1.body.conv1`` → (``body › conv1``, 1)."""
    parts = name.split(".")
    if len(parts) == 1:
        return name, 0
    return " › ".join(parts[1:]), len(parts) - 1 if len(parts) > 2 else 1


def shown_values(layer: LayerSnapshot, probe: int, mode: str) -> np.ndarray | None:
    """One probe's activations (or their gradients; None if the snapshot has none) of ``layer``."""
    source = layer.activation_grad if mode == GRADIENTS else layer.activation
    return None if source is None else np.asarray(source[probe])


def row_key(layer: LayerSnapshot) -> tuple:
    """What a row is made for: the layer's name, type and one probe's output shape."""
    return layer.name, layer.type, tuple(layer.activation.shape[1:])


def is_flat(shape: tuple[int, ...]) -> bool:
    """Drawn as bars: a flat output, or depth slices of a single cell each (after a global pool)."""
    return len(shape) == 1 or shape[1] * shape[2] == 1


class LayerRow(QFrame):
    """One layer's heading (name, type, volume, range and legend) over what it draws."""

    def __init__(self, layer: LayerSnapshot, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name, self.type = layer.name, layer.type
        self.shape = tuple(layer.activation.shape[1:])
        self.drawn = None  # what was drawn last: (snapshot serial, probe, mode, columns)
        self.setFrameShape(QFrame.Shape.NoFrame)
        shown, depth = path_name(layer.name)
        self.title = QLabel(f"<b>{shown}</b>&nbsp;&nbsp;<span style='color:#666'>{layer.type} · "
                            f"{volume_text(self.shape)}</span>")
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
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(6 + 22 * depth, 6, 6, 2)
        self.body.setSpacing(2)
        self.body.addLayout(heading)
        if depth:
            self.setStyleSheet("LayerRow { border-left: 3px solid #c9d3e0; }")

    def on_screen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def draw(self, values: np.ndarray, mode: str, context: dict) -> None:
        raise NotImplementedError


class MapRow(LayerRow):
    """A volume's depth slices as tiles on one colour scale."""

    tile_clicked = Signal(str, int)  # layer name, depth slice

    def __init__(self, layer: LayerSnapshot, parent: QWidget | None = None) -> None:
        super().__init__(layer, parent)
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

    def __init__(self, layer: LayerSnapshot, parent: QWidget | None = None) -> None:
        super().__init__(layer, parent)
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


class LayersView(QWidget):
    """Every layer of the newest snapshot, one row each, for one probe image; see the module docstring."""

    gradients_wanted = Signal(bool)  # the user chose gradients (True) or activations (False)

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.session = session
        self.snapshot: Snapshot | None = None
        self.serial = 0
        self.probe = 0
        self.rows: list[LayerRow] = []
        self.row_keys: list[tuple] = []  # (name, type, shape) of each row there is or is being made
        self._to_build: list[LayerSnapshot] = []
        self.mode_choice = QComboBox()
        self.mode_choice.addItem("Activations", ACTIVATIONS)
        self.mode_choice.addItem("Gradients dL/d activation", GRADIENTS)
        self.mode_choice.setToolTip("What each row draws for the probe image: the layer's output, or the gradient "
                                    "of the probe's loss with respect to it")
        self.mode_choice.currentIndexChanged.connect(self._mode_chosen)
        self.caption = caption_label("Start training to see every layer's activations.")
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(QLabel("Show"))
        top.addWidget(self.mode_choice)

        self.column, self.column_layout, self.scroll = row_column(spacing=4)
        self.scroll.verticalScrollBar().valueChanged.connect(self._schedule)
        self.inspector = MapInspector()
        self.inspector.hide()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.scroll)
        self.splitter.addWidget(self.inspector)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

        self._timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._timer.timeout.connect(self.redraw)
        self._width = 0
        session.snapshot.connect(self.show_snapshot)
        session.run_started.connect(self._run_started)
        if session.records.snapshot is not None:
            self.show_snapshot(session.records.snapshot)

    # -- what is shown ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.mode_choice.currentData()

    def set_probe(self, index: int) -> None:
        """Draw the rows for probe image ``index``."""
        if index != self.probe:
            self.probe = max(0, int(index))
            self._schedule()

    def set_mode(self, mode: str) -> None:
        """``activations`` or ``gradients``."""
        self.mode_choice.setCurrentIndex(self.mode_choice.findData(mode))

    def show_layer(self, name: str) -> None:
        """Scroll so that ``name``'s row is in view."""
        row = self.row(name)
        if row is not None:
            self.scroll.ensureWidgetVisible(row, 0, 0)
            self._schedule()

    def row(self, name: str) -> LayerRow | None:
        return next((row for row in self.rows if row.name == name), None)

    def inspect(self, layer: str, index: int) -> None:
        """Show depth slice ``index`` of ``layer`` large beside the rows (a row of tiles only)."""
        if not isinstance(self.row(layer), MapRow):
            return
        opening = self.inspector.isHidden()
        self.inspector.open(layer, index)
        if opening:
            total = max(self.splitter.width(), 400)
            side = min(420, total // 3)
            self.splitter.setSizes([total - side, side])
        row = self.row(layer)
        if isinstance(row, MapRow) and row.values is not None:
            self.inspector.draw(row)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.serial += 1  # which snapshot a row drew (an id() may come again once the old one is freed)
        if [row_key(layer) for layer in snapshot.layers] != self.row_keys:
            self._build_rows(snapshot)
        self._schedule()

    def _run_started(self) -> None:
        self.caption.setText("Waiting for the run's first snapshot…")

    def _mode_chosen(self) -> None:
        self.gradients_wanted.emit(self.mode == GRADIENTS)
        self._schedule()

    def _build_rows(self, snapshot: Snapshot) -> None:
        """Rows for this snapshot's layers, made a few at a time by :meth:`redraw` (a deep network's
        many rows never hold the GUI thread at once)."""
        for row in self.rows:
            self.column_layout.removeWidget(row)
            row.deleteLater()
        self.rows = []
        self.row_keys = [row_key(layer) for layer in snapshot.layers]
        self._to_build = list(snapshot.layers)
        self._width = 0  # lay them out at the next redraw
        if self.inspector.layer is not None and self.inspector.layer not in {key[0] for key in self.row_keys}:
            self.inspector.close_inspector()

    def _make_row(self, layer: LayerSnapshot) -> None:
        row = BarRow(layer) if is_flat(tuple(layer.activation.shape[1:])) else MapRow(layer)
        if isinstance(row, MapRow):
            row.tile_clicked.connect(self.inspect)
            if self._width:
                row.fit(self._width - row.body.contentsMargins().left())
        self.column_layout.insertWidget(len(self.rows), row)
        self.rows.append(row)

    # -- drawing -------------------------------------------------------------------------------------------
    def _schedule(self, *_args) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._schedule()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._schedule()

    def redraw(self) -> None:
        """Make the rows still to be made, then draw the rows on screen that do not show the newest
        snapshot's values yet, for at most ``BUDGET_S`` at a time (the rest follow at once, after
        the events waiting: the GUI thread never stalls on a deep network)."""
        snapshot = self.snapshot
        if snapshot is None or not self.isVisible():
            return
        start = time.perf_counter()
        probe = min(self.probe, len(snapshot.probe_images) - 1)
        mode = self.mode
        gradients = snapshot.has_activation_grads
        if mode == GRADIENTS and not gradients:
            mode = ACTIVATIONS
        self._show_caption(snapshot, probe, mode, gradients)
        width = self.scroll.viewport().width() - 16
        if width != self._width:
            for row in self.rows:
                if isinstance(row, MapRow):
                    row.fit(width - row.body.contentsMargins().left())
            self._width = width
        while self._to_build:
            self._make_row(self._to_build.pop(0))
            if time.perf_counter() - start > BUDGET_S:
                return self._continue()
        label = int(snapshot.probe_labels[probe])
        context = {"class_names": snapshot.class_names, "label": label}
        for row, layer in zip(self.rows, snapshot.layers, strict=False):
            key = (self.serial, probe, mode, getattr(row, "cols", 0))
            if row.drawn == key or not row.on_screen():
                continue
            row.draw(shown_values(layer, probe, mode), mode, context)
            row.drawn = key
            if time.perf_counter() - start > BUDGET_S:
                return self._continue()
        if self.inspector.layer is not None:
            row = self.row(self.inspector.layer)
            if isinstance(row, MapRow):
                self.inspector.draw(row)
        return None

    def _continue(self) -> None:
        # The rest after a pause twice the work just done: the GUI thread (and the GIL it holds while
        # drawing) is never busy more than a third of the time, so the trainer's thread keeps its pace.
        QTimer.singleShot(int(2000 * BUDGET_S), self, self.redraw)

    def _show_caption(self, snapshot: Snapshot, probe: int, mode: str, gradients: bool) -> None:
        names = snapshot.class_names
        label = int(snapshot.probe_labels[probe])
        predicted = int(np.argmax(snapshot.probe_scores[probe]))
        name = (lambda i: names[i] if i < len(names) else str(i))
        what = "gradients dL/d activation of its loss" if mode == GRADIENTS else "activations"
        missing = "" if gradients or self.mode != GRADIENTS else " (this snapshot has no gradients: activations shown)"
        self.caption.setText(f"Step {snapshot.step}, epoch {snapshot.epoch}: probe {probe + 1} "
                             f"(a {name(label)}, predicted {name(predicted)}), {what}{missing}.")
