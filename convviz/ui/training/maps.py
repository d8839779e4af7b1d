"""What the Train workspace's views share: depth slices laid out as tiles, one colour scale per row
and its legend, and the colour maps (viridis for values of one sign, blue–white–red around 0 for
signed ones, so 0 is always white and the two signs never look alike).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

GAP = 1  # pixels of the mosaic between two tiles (drawn in the background colour)
UNSIGNED_MAP, SIGNED_MAP = "viridis", "CET-D1"


def colormap(signed: bool) -> pg.ColorMap:
    return pg.colormap.get(SIGNED_MAP if signed else UNSIGNED_MAP)


def color_scale(values: np.ndarray, signed: bool | None = None) -> tuple[float, float, bool]:
    """One scale for all of ``values``: (low, high, signed). Signed values (any below 0, or
    ``signed=True``) get a scale symmetric about 0; others run from their least to their greatest.
    Never an empty range."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if signed is None:
        signed = low < 0
    if signed:
        bound = max(abs(low), abs(high)) or 1.0
        return -bound, bound, True
    if high <= low:
        high = low + (abs(low) or 1.0)
    return low, high, False


def grid_shape(count: int, cols: int) -> tuple[int, int]:
    """(rows, cols) of ``count`` tiles in at most ``cols`` columns."""
    cols = max(1, min(count, cols))
    return -(-count // cols), cols


def mosaic(maps: np.ndarray, cols: int, gap: int = GAP, fill: float = np.nan) -> np.ndarray:
    """(K, H, W) maps → one (rows·(H+gap)−gap, cols·(W+gap)−gap) image, row by row; the gaps and the
    cells after the last map are ``fill`` (NaN: transparent)."""
    k, h, w = maps.shape
    rows, cols = grid_shape(k, cols)
    out = np.full((rows * cols, h + gap, w + gap), fill, dtype=np.float32)
    out[:k, :h, :w] = maps
    out = out.reshape(rows, cols, h + gap, w + gap).transpose(0, 2, 1, 3).reshape(rows * (h + gap), cols * (w + gap))
    return out[: rows * (h + gap) - gap, : cols * (w + gap) - gap]


def tile_at(x: float, y: float, shape: tuple[int, int], count: int, cols: int, gap: int = GAP) -> tuple[int, int, int] | None:
    """The map and its cell under mosaic coordinates (x, y): (index, row, column), or None over a gap."""
    h, w = shape
    col, cx = divmod(int(np.floor(x)), w + gap)
    row, cy = divmod(int(np.floor(y)), h + gap)
    _, cols = grid_shape(count, cols)
    if x < 0 or y < 0 or col >= cols or cx >= w or cy >= h:
        return None
    index = row * cols + col
    return (index, cy, cx) if index < count else None


def number(value: float) -> str:
    """A value short enough for a legend or a caption, whole: 0.0123, -1.5, 2.3e-05, 1.2e+03."""
    if value == 0:
        return "0"
    return f"{value:.3g}"


class Legend(QWidget):
    """A colour bar with its ends (and 0 in the middle of a signed scale) as numbers."""

    def __init__(self, parent: QWidget | None = None, width: int = 110) -> None:
        super().__init__(parent)
        self._bars = {signed: _bar_pixmap(colormap(signed), width) for signed in (False, True)}
        self.low, self.middle, self.high = QLabel(), QLabel(), QLabel()
        self.bar = QLabel()
        for label in (self.low, self.middle, self.high, self.bar):
            label.setStyleSheet("color: #333; font-size: 11px;")
            label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.low)
        layout.addWidget(self.bar)
        layout.addWidget(self.high)
        layout.addWidget(self.middle)
        self.scale: tuple[float, float, bool] | None = None

    def set_scale(self, low: float, high: float, signed: bool) -> None:
        if self.scale == (low, high, signed):
            return
        self.scale = (low, high, signed)
        self.bar.setPixmap(self._bars[signed])
        self.low.setText(number(low))
        self.high.setText(number(high))
        self.middle.setText("(0 is white)" if signed else "")
        for label in (self.low, self.middle, self.high):
            label.adjustSize()

    def text(self) -> str:
        """What the legend says, for tests and screen readers: ``-0.5 … 0.5 (0 is white)``."""
        return " ".join(t for t in (f"{self.low.text()} … {self.high.text()}", self.middle.text()) if t)


def caption_label(text: str, lines: int = 2) -> QLabel:
    """A word-wrapped caption ``lines`` lines high whatever it says, so that a new text never moves
    (and so repaints) everything below it."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    label.setFixedHeight(label.fontMetrics().lineSpacing() * lines + 4)
    return label


def _bar_pixmap(cmap: pg.ColorMap, width: int, height: int = 12) -> QPixmap:
    colors = cmap.getLookupTable(0.0, 1.0, width, alpha=False)
    image = QImage(width, height, QImage.Format.Format_RGB32)
    for x, (r, g, b) in enumerate(colors):
        color = QColor(int(r), int(g), int(b)).rgb()
        for y in range(height):
            image.setPixel(x, y, color)
    pixmap = QPixmap.fromImage(image)
    return pixmap


def image_item(signed: bool = False) -> pg.ImageItem:
    """An image item drawn with the row's colour map, never auto-levelled."""
    item = pg.ImageItem(axisOrder="row-major")
    item.setColorMap(colormap(signed))
    return item


def fixed_box(view: pg.GraphicsView) -> pg.ViewBox:
    """A view box that keeps the image's aspect, top row first, with no mouse panning or menu."""
    box = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False)
    box.setMouseEnabled(False, False)
    view.setCentralItem(box)
    view.setBackground("w")
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return box


def row_column(spacing: int) -> tuple[QWidget, QVBoxLayout, QScrollArea]:
    """A white column of rows (ending in a stretch) inside a vertical scroll area: (column, its
    layout, the scroll area). The rows views and the health strip are laid out in one."""
    column = QWidget()
    column.setStyleSheet("background: white;")
    layout = QVBoxLayout(column)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.setSpacing(spacing)
    layout.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(column)
    return column, layout, scroll
