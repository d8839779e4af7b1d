"""The conv filters of the newest snapshot, big enough to see what they look for.

The first conv layer's filters look at the RGB image, so each is drawn as one colour tile: its
three input slices as red, green and blue. ``normalised per filter`` stretches each filter over the
whole range on its own, so faint filters show their pattern too; ``one scale for all`` draws every
filter on one scale about 0 (grey is 0), so their strengths compare. A deeper layer's filters look
at many channels: a layer chosen there is drawn as a grid, one line per filter and one column per
input channel, on one blue–white–red scale about 0 with its legend.

Redrawn from the newest snapshot only, at most every ``REDRAW_MS``, and not while hidden.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from convviz.training.records import Snapshot
from convviz.ui.session import RunSession
from convviz.ui.training.maps import (
    Legend,
    caption_label,
    color_scale,
    fixed_box,
    grid_shape,
    image_item,
    mosaic,
)

REDRAW_MS = 500
MAX_FILTERS = 64  # filters drawn (the rest are counted)
MAX_CHANNELS = 32  # input channels drawn of a deeper layer's filters
PER_FILTER, ONE_SCALE = "per filter", "one scale"


def rgb_filters(weights: np.ndarray, scale: str) -> np.ndarray:
    """(K, 3, F, F) filters → (K, F, F, 3) colours in [0, 1]: each filter stretched over [0, 1] on its
    own (``per filter``), or all on one scale about 0, 0 being grey (``one scale``)."""
    colours = np.asarray(weights, dtype=np.float64).transpose(0, 2, 3, 1)
    if scale == ONE_SCALE:
        bound = float(np.abs(colours).max()) or 1.0
        return 0.5 + 0.5 * colours / bound
    flat = colours.reshape(len(colours), -1)
    low, high = flat.min(axis=1)[:, None, None, None], flat.max(axis=1)[:, None, None, None]
    return (colours - low) / np.where(high > low, high - low, 1.0)


def rgb_mosaic(colours: np.ndarray, cols: int, gap: int = 1) -> np.ndarray:
    """(K, F, F, 3) colours → one (rows, cols) mosaic of them, white between."""
    return np.stack([mosaic(colours[..., c], cols, gap, fill=1.0) for c in range(3)], axis=-1)


def channel_grid(weights: np.ndarray, gap: int = 1) -> np.ndarray:
    """(K, C, F, F) filters → one image: a line per filter, a column per input channel, NaN between."""
    k, c, f1, f2 = weights.shape
    out = np.full((k, f1 + gap, c, f2 + gap), np.nan, dtype=np.float32)
    out[:, :f1, :, :f2] = np.asarray(weights).transpose(0, 2, 1, 3)
    return out.reshape(k * (f1 + gap), c * (f2 + gap))[:-gap, :-gap]


class FiltersView(QWidget):
    """Conv filters: the first layer's as colour tiles, a deeper one's per input channel."""

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.session = session
        self.snapshot: Snapshot | None = None
        self.serial = 0  # which snapshot was drawn (an id() may come again once the old one is freed)
        self._drawn = None
        self.layer_choice = QComboBox()
        self.layer_choice.setToolTip("The conv layer whose filters are drawn")
        self.layer_choice.currentIndexChanged.connect(self._schedule)
        self.scale_choice = QComboBox()
        self.scale_choice.addItem("Normalised per filter", PER_FILTER)
        self.scale_choice.addItem("One scale for all", ONE_SCALE)
        self.scale_choice.setToolTip("Per filter: each filter's own range, so faint ones show their pattern. "
                                     "One scale: strengths compare (0 is grey)")
        self.scale_choice.currentIndexChanged.connect(self._schedule)
        self.caption = caption_label("The conv filters appear with the run's first snapshot.")
        self.legend = Legend(width=160)
        self.legend.hide()
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_choice, 1)
        controls.addWidget(QLabel("Colours"))
        controls.addWidget(self.scale_choice)
        controls.addStretch(1)
        controls.addWidget(self.legend)
        self.view = pg.GraphicsView()
        self.box = fixed_box(self.view)
        self.rgb_item = pg.ImageItem(axisOrder="row-major")
        self.grid_item = image_item(signed=True)
        self.box.addItem(self.rgb_item)
        self.box.addItem(self.grid_item)
        self.view.scene().sigMouseMoved.connect(self._hovered)
        self.grid = np.zeros((1, 1), np.float32)
        self.shape: tuple[int, ...] = ()
        self.cols = 1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self._timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._timer.timeout.connect(self.redraw)
        session.snapshot.connect(self.show_snapshot)
        if session.records.snapshot is not None:
            self.show_snapshot(session.records.snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.serial += 1
        names = list(snapshot.filters)
        if names != [self.layer_choice.itemText(i) for i in range(self.layer_choice.count())]:
            current = self.layer_choice.currentText()
            self.layer_choice.blockSignals(True)
            self.layer_choice.clear()
            self.layer_choice.addItems(names)
            if current in names:
                self.layer_choice.setCurrentText(current)
            self.layer_choice.blockSignals(False)
        self._schedule()

    def set_layer(self, name: str) -> None:
        """Draw the filters of conv layer ``name`` (if it has filters)."""
        index = self.layer_choice.findText(name)
        if index >= 0:
            self.layer_choice.setCurrentIndex(index)

    @property
    def scale(self) -> str:
        return self.scale_choice.currentData()

    def _schedule(self, *_args) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._schedule()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._drawn = None
        self._schedule()

    def redraw(self) -> None:
        snapshot = self.snapshot
        name = self.layer_choice.currentText()
        key = (self.serial, name, self.scale, self.view.width(), self.view.height())
        if snapshot is None or not self.isVisible() or name not in snapshot.filters or key == self._drawn:
            return
        weights = np.asarray(snapshot.filters[name])
        shown = weights[:MAX_FILTERS]
        k, c, f1, f2 = weights.shape
        more = f"; the first {len(shown)} of {k} drawn" if k > len(shown) else ""
        if c == 3:
            self.cols = self._columns(len(shown), f1, f2)
            self.rgb_item.setImage(rgb_mosaic(rgb_filters(shown, self.scale), self.cols), autoLevels=False, levels=(0, 1))
            self.rgb_item.show()
            self.grid_item.hide()
            self.legend.hide()
            self.scale_choice.setEnabled(True)
            how = ("each stretched over its own range" if self.scale == PER_FILTER
                   else "on one scale about 0 (grey is 0)")
            self.caption.setText(f"Step {snapshot.step}: the {k} filters of {name}, {f2}×{f1} over the RGB image, "
                                 f"each one colour tile (its red, green and blue slices), {how}{more}.")
        else:
            shown = shown[:, :MAX_CHANNELS]
            self.grid = channel_grid(shown)
            low, high, _ = color_scale(shown, signed=True)
            self.grid_item.setImage(self.grid, autoLevels=False, levels=(low, high))
            self.grid_item.show()
            self.rgb_item.hide()
            self.legend.set_scale(low, high, True)
            self.legend.show()
            self.scale_choice.setEnabled(False)
            channels = f"the first {shown.shape[1]} of {c}" if c > shown.shape[1] else f"all {c}"
            self.caption.setText(f"Step {snapshot.step}: the {k} filters of {name} ({f2}×{f1}×{c}), a line each, "
                                 f"{channels} input channels across, on one scale about 0{more}.")
        self.shape = shown.shape
        self.box.autoRange(padding=0.01)
        self._drawn = key

    def _columns(self, count: int, h: int, w: int) -> int:
        """Columns that make the tiles largest in the view's space."""
        width, height = max(self.view.width(), 1), max(self.view.height(), 1)
        best, best_edge = 1, 0.0
        for cols in range(1, count + 1):
            rows, cols = grid_shape(count, cols)
            edge = min(width / (cols * (w + 1)), height / (rows * (h + 1)))
            if edge > best_edge:
                best, best_edge = cols, edge
        return best

    def _hovered(self, scene_pos) -> None:
        if self.grid_item.isVisible() and len(self.shape) == 4:
            point = self.box.mapSceneToView(scene_pos)
            k, c, f1, f2 = self.shape
            line, y = divmod(int(np.floor(point.y())), f1 + 1)
            column, x = divmod(int(np.floor(point.x())), f2 + 1)
            if 0 <= line < k and 0 <= column < c and y < f1 and x < f2 and point.x() >= 0 and point.y() >= 0:
                value = self.grid[line * (f1 + 1) + y, column * (f2 + 1) + x]
                self.view.setToolTip(f"filter {line + 1}, input channel {column + 1}, x {x}, y {y}: {value:.3g}")
                return
        self.view.setToolTip("")
