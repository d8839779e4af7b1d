"""Two volumes side by side as grids of depth slices, on one shared signed colour scale with a legend.

Each slice is a tile; a slice of a padded layer's input is drawn with its zero padding around it,
hatched. Outlines (the receptive field, the selected cell, the winner of a pooling window) are
drawn over the tiles in cell coordinates: ``panel.outline(slice, rows, cols)``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem

MAX_TILES = 64
SIGNED_MAP = "CET-D1"  # blue – white – red: 0 is white, the sign is the hue
PAD_COLOUR = "#9aa0a6"


def grid_columns(count: int) -> int:
    return max(1, math.ceil(math.sqrt(count)))


class VolumePanel:
    """One volume: a ViewBox holding the mosaic of its slices, its padding hatch and its outlines."""

    def __init__(self, box: pg.ViewBox, title: pg.LabelItem):
        self.box, self.title = box, title
        self.image = pg.ImageItem()
        box.addItem(self.image)
        self.hatch = QGraphicsPathItem()
        self.hatch.setBrush(QBrush(QColor(PAD_COLOUR), Qt.BrushStyle.BDiagPattern))
        self.hatch.setPen(QPen(Qt.PenStyle.NoPen))
        box.addItem(self.hatch)
        self.overlays: list = []
        self.shape = (0, 0, 0)  # (C, H, W) of the volume shown
        self.pad = ((0, 0), (0, 0))
        self.first = 0  # the first slice shown
        self.count = 0  # slices shown
        self.columns = 1
        self.gap = 1

    def clear(self, title: str = "") -> None:
        self.image.clear()
        self.hatch.setPath(QPainterPath())
        self.clear_overlays()
        self.title.setText(title)
        self.shape, self.count = (0, 0, 0), 0

    def show(self, volume: np.ndarray, title: str, pad=((0, 0), (0, 0)), focus: int = 0) -> None:
        """Draw ``volume`` (C, H, W), or (D,) as D one-cell slices, with ``pad`` zero rows/columns
        ((top, bottom), (left, right)) hatched around each slice; at most MAX_TILES slices, the
        ones around slice ``focus``."""
        v = np.asarray(volume, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None, None]
        C, H, Wd = v.shape
        self.shape, self.pad = (C, H, Wd), pad
        self.first = (focus // MAX_TILES) * MAX_TILES if C > MAX_TILES else 0
        shown = v[self.first:self.first + MAX_TILES]
        self.count = len(shown)
        (top, bottom), (left, right) = pad
        th, tw = H + top + bottom, Wd + left + right
        self.gap = 1 if th * tw > 1 else 0
        self.columns = grid_columns(self.count)
        rows = math.ceil(self.count / self.columns)
        mosaic = np.full((rows * (th + self.gap) - self.gap, self.columns * (tw + self.gap) - self.gap), np.nan)
        hatch = QPainterPath()
        for i, values in enumerate(shown):
            oy, ox = self.origin(self.first + i)
            mosaic[oy + top:oy + top + H, ox + left:ox + left + Wd] = values
            if top or bottom or left or right:
                outer, inner = QPainterPath(), QPainterPath()
                outer.addRect(QRectF(ox, oy, tw, th))
                inner.addRect(QRectF(ox + left, oy + top, Wd, H))
                hatch.addPath(outer.subtracted(inner))
        self.image.setImage(mosaic, autoLevels=False)
        self.hatch.setPath(hatch)
        self.clear_overlays()
        more = f" (slices {self.first}–{self.first + self.count - 1} of {C})" if C > self.count else ""
        self.title.setText(title + more)
        self.box.autoRange(padding=0.02)

    def origin(self, channel: int) -> tuple[int, int]:
        """Top-left (row, column) in the mosaic of slice ``channel``'s tile (its padding included)."""
        (top, bottom), (left, right) = self.pad
        th, tw = self.shape[1] + top + bottom, self.shape[2] + left + right
        r, c = divmod(channel - self.first, self.columns)
        return r * (th + self.gap), c * (tw + self.gap)

    def shows(self, channel: int) -> bool:
        return self.first <= channel < self.first + self.count

    def cell_rect(self, channel: int, row0: float, col0: float, rows: float = 1, cols: float = 1) -> QRectF:
        """The rectangle of cells [row0, row0 + rows) × [col0, col0 + cols) of slice ``channel`` (input
        coordinates: negative or past the edge is padding)."""
        (top, _), (left, _) = self.pad
        oy, ox = self.origin(channel)
        return QRectF(ox + left + col0, oy + top + row0, cols, rows)

    def outline(self, channel: int, row0: int, col0: int, rows: int = 1, cols: int = 1, colour: str = "#ff8c00",
                width: float = 2.0, fill: str | None = None) -> None:
        if not self.shows(channel):
            return
        item = QGraphicsRectItem(self.cell_rect(channel, row0, col0, rows, cols))
        pen = pg.mkPen(colour, width=width)
        item.setPen(pen)
        if fill is not None:
            item.setBrush(QBrush(QColor(fill)))
        self.box.addItem(item)
        self.overlays.append(item)

    def clear_overlays(self) -> None:
        for item in self.overlays:
            self.box.removeItem(item)
        self.overlays = []


class VolumeCanvas(pg.GraphicsLayoutWidget):
    """``left`` and ``right`` volume panels and the colour bar they share (symmetric around 0)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.colour_map = pg.colormap.get(SIGNED_MAP)
        panels = []
        for column in range(2):
            title = self.addLabel("", row=0, col=column, color="#202124", size="10pt")
            box = self.addViewBox(row=1, col=column, lockAspect=True, invertY=True, enableMouse=False)
            box.setMenuEnabled(False)
            panels.append(VolumePanel(box, title))
        self.left, self.right = panels
        self.bar = pg.ColorBarItem(values=(-1, 1), colorMap=self.colour_map, interactive=False, width=14,
                                   label="value (0 is white)")
        self.bar.setImageItem([self.left.image, self.right.image])
        self.addItem(self.bar, row=1, col=2)
        self.ci.layout.setColumnStretchFactor(0, 1)
        self.ci.layout.setColumnStretchFactor(1, 1)
        self.scale = 1.0

    def set_scale(self, *volumes) -> float:
        """One signed scale for both panels: ±max |value| of ``volumes``; returns it."""
        peaks = [float(np.nanmax(np.abs(v))) for v in volumes if v is not None and np.size(v)]
        m = max([p for p in peaks if np.isfinite(p)] or [1.0])
        self.scale = m if m > 0 else 1.0
        self.bar.setLevels((-self.scale, self.scale))
        return self.scale
