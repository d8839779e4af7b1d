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
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

MAX_TILES = 64
MAX_UNITS = 4096  # slices of one cell each (a flat 1×1×D volume) shown at once
SIGNED_MAP = "CET-D1"  # blue – white – red: 0 is white, the sign is the hue
PAD_COLOUR = "#9aa0a6"


def number_exponent(values: np.ndarray) -> int:
    """A power of ten to write ``values`` with in two digits (0 when the largest is from 1 to 99)."""
    finite = np.abs(values[np.isfinite(values)])
    peak = float(finite.max()) if finite.size else 0.0
    if peak == 0.0 or 1 <= peak < 100:
        return 0
    return int(np.floor(np.log10(peak)))


def grid_columns(count: int) -> int:
    return max(1, math.ceil(math.sqrt(count)))


def image_and_hatch(box: pg.ViewBox) -> tuple[pg.ImageItem, QGraphicsPathItem]:
    """An image of cells in ``box`` and, above it, the hatched path that marks zero padding."""
    image = pg.ImageItem(axisOrder="row-major")
    box.addItem(image)
    hatch = QGraphicsPathItem()
    hatch.setBrush(QBrush(QColor(PAD_COLOUR), Qt.BrushStyle.BDiagPattern))
    hatch.setPen(QPen(Qt.PenStyle.NoPen))
    box.addItem(hatch)
    return image, hatch


class ZoomView:
    """A few cells of one slice, large, with their numbers written in: the part of the volume the
    current explanation is about (the receptive field, a pooling window, the selected cell)."""

    MAX_CELLS = 13  # per side; more are cut around the middle
    NUMBERS = 11  # per side at most, for the numbers to fit in their cells

    def __init__(self, box: pg.ViewBox, caption: QLabel):
        self.box, self.caption = box, caption
        self.image, self.hatch = image_and_hatch(box)
        self.items: list = []
        self.channel: int | None = None
        self.origin = (0, 0)  # input (row, col) of the zoom's top-left cell
        self.size = (0, 0)

    def clear(self) -> None:
        self.image.clear()
        self.hatch.setPath(QPainterPath())
        for item in self.items:
            self.box.removeItem(item)
        self.items, self.channel = [], None
        self.caption.setText("")

    def show(self, values: np.ndarray, pad, channel: int, row0: int, col0: int, rows: int, cols: int,
             margin: int = 1) -> None:
        """Cells [row0 − margin, row0 + rows + margin) × [col0 − margin, …) of slice ``channel`` of
        ``values`` (C, H, W), as far as the slice and its padding ``pad`` reach; padding hatched."""
        self.clear()
        _, H, Wd = values.shape
        (top, bottom), (left, right) = pad
        r0, r1 = max(row0 - margin, -top), min(row0 + rows + margin, H + bottom)
        c0, c1 = max(col0 - margin, -left), min(col0 + cols + margin, Wd + right)
        if r1 - r0 > self.MAX_CELLS:  # keep the middle of what was asked for
            r0 = max(-top, min(row0 + rows // 2 - self.MAX_CELLS // 2, H + bottom - self.MAX_CELLS))
            r1 = r0 + self.MAX_CELLS
        if c1 - c0 > self.MAX_CELLS:
            c0 = max(-left, min(col0 + cols // 2 - self.MAX_CELLS // 2, Wd + right - self.MAX_CELLS))
            c1 = c0 + self.MAX_CELLS
        if r1 <= r0 or c1 <= c0:
            return
        rr, cc = np.arange(r0, r1), np.arange(c0, c1)
        inside = ((rr >= 0) & (rr < H))[:, None] & ((cc >= 0) & (cc < Wd))[None, :]
        cut = values[channel][np.clip(rr, 0, H - 1)][:, np.clip(cc, 0, Wd - 1)]
        cut = np.where(inside, cut, np.nan)
        self.channel, self.origin, self.size = channel, (int(r0), int(c0)), cut.shape
        self.image.setImage(cut, autoLevels=False)
        hatch = QPainterPath()
        for (i, j), pad_cell in np.ndenumerate(~inside):
            if pad_cell:
                hatch.addRect(QRectF(j, i, 1, 1))
        self.hatch.setPath(hatch)
        scale_text = ""
        cell_px = min(self.box.width() / cut.shape[1], self.box.height() / cut.shape[0])
        if max(cut.shape) <= self.NUMBERS and cell_px >= 22:
            exponent = number_exponent(cut)
            scale_text = f", numbers ×1e{exponent}" if exponent else ""
            font = QFont()
            font.setPointSize(7)
            for (i, j), v in np.ndenumerate(cut):
                shown = "0" if np.isnan(v) else f"{v / 10.0 ** exponent + 0.0:.2g}"
                text = pg.TextItem(shown, color="#202124", anchor=(0.5, 0.5))
                text.setFont(font)
                text.setPos(j + 0.5, i + 0.5)
                self.box.addItem(text)
                self.items.append(text)
        self.caption.setText(f"slice {channel}, rows {r0}–{r1 - 1}, cols {c0}–{c1 - 1}{scale_text}"
                             + ("; hatched: zero padding" if (~inside).any() else ""))
        self.box.autoRange(padding=0.02)

    def outline(self, channel: int, row0: int, col0: int, rows: int, cols: int, colour: str, width: float) -> None:
        if channel != self.channel:
            return
        item = QGraphicsRectItem(QRectF(col0 - self.origin[1], row0 - self.origin[0], cols, rows))
        item.setPen(pg.mkPen(colour, width=width + 1))
        self.box.addItem(item)
        self.items.append(item)


class VolumePanel:
    """One volume: a ViewBox holding the mosaic of its slices, its padding hatch and its outlines."""

    def __init__(self, box: pg.ViewBox, title: QLabel):
        self.box, self.title = box, title
        self.image, self.hatch = image_and_hatch(box)
        self.overlays: list = []
        self.shape = (0, 0, 0)  # (C, H, W) of the volume shown
        self.pad = ((0, 0), (0, 0))
        self.first = 0  # the first slice shown
        self.count = 0  # slices shown
        self.columns = 1
        self.gap = 1
        self._drawn = None  # (key, first slice, padding) of what the mosaic shows
        self.values = np.zeros((0, 0, 0))
        self.zoom: ZoomView | None = None

    def clear(self, title: str = "") -> None:
        self.image.clear()
        self.hatch.setPath(QPainterPath())
        self.clear_overlays()
        self.title.setText(title)
        self.shape, self.count = (0, 0, 0), 0
        self._drawn = None
        if self.zoom is not None:
            self.zoom.clear()

    def show(self, volume: np.ndarray, title: str, pad=((0, 0), (0, 0)), focus: int = 0, key=None) -> None:
        """Draw ``volume`` (C, H, W), or (D,) as D one-cell slices, with ``pad`` zero rows/columns
        ((top, bottom), (left, right)) hatched around each slice; at most MAX_TILES slices, the
        ones around slice ``focus``. Given the ``key`` of the last volume drawn (and the same
        slices), only the outlines are cleared: moving the selected cell redraws nothing else."""
        C = int(np.shape(volume)[0])
        limit = MAX_UNITS if np.ndim(volume) == 1 or np.shape(volume)[1:] == (1, 1) else MAX_TILES
        first = (focus // limit) * limit if C > limit else 0
        count = min(limit, C - first)
        more = f" (slices {first}–{first + count - 1} of {C})" if C > count else ""
        self.title.setText(title + more)
        if key is not None and (key, first, pad) == self._drawn:
            self.clear_overlays()
            return
        self._drawn = (key, first, pad)
        v = np.asarray(volume, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None, None]
        self.values = v
        C, H, Wd = v.shape
        self.shape, self.pad = (C, H, Wd), pad
        self.first = first
        shown = v[self.first:self.first + count]
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
        self.box.autoRange(padding=0.02)

    def origin(self, channel: int) -> tuple[int, int]:
        """Top-left (row, column) in the mosaic of slice ``channel``'s tile (its padding included)."""
        (top, bottom), (left, right) = self.pad
        th, tw = self.shape[1] + top + bottom, self.shape[2] + left + right
        r, c = divmod(channel - self.first, self.columns)
        return r * (th + self.gap), c * (tw + self.gap)

    def cell_at(self, scene_pos) -> tuple[int, int, int] | None:
        """The (slice, row, column) under a point of the scene (a click), or None off the cells."""
        if not self.count or not self.box.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.box.mapSceneToView(scene_pos)
        (top, bottom), (left, right) = self.pad
        th, tw = self.shape[1] + top + bottom, self.shape[2] + left + right
        x, y = point.x(), point.y()
        if x < 0 or y < 0:
            return None
        col, row = int(x // (tw + self.gap)), int(y // (th + self.gap))
        channel = self.first + row * self.columns + col
        r, c = int(y - row * (th + self.gap)) - top, int(x - col * (tw + self.gap)) - left
        if col >= self.columns or not self.shows(channel) or not (0 <= r < self.shape[1] and 0 <= c < self.shape[2]):
            return None
        return channel, r, c

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
        if self.zoom is not None:
            self.zoom.outline(channel, row0, col0, rows, cols, colour, width)

    def outline_cells(self, channel: int, cells, colour: str = "#ff8c00", width: float = 1.0, zoomed=()) -> None:
        """Outline every (row, col) of ``cells`` on slice ``channel`` as one item (thousands at once), and in
        the zoom the ``zoomed`` ones (those it shows)."""
        if not self.shows(channel):
            return
        path = QPainterPath()
        for row, col in cells:
            path.addRect(self.cell_rect(channel, row, col, 1, 1))
        item = QGraphicsPathItem(path)
        item.setPen(pg.mkPen(colour, width=width))
        self.box.addItem(item)
        self.overlays.append(item)
        if self.zoom is not None:
            for row, col in zoomed:
                self.zoom.outline(channel, row, col, 1, 1, colour, width)

    def zoom_to(self, channel: int, row0: int, col0: int, rows: int = 1, cols: int = 1, margin: int = 1) -> None:
        """Show cells [row0, row0 + rows) × [col0, col0 + cols) of slice ``channel`` (and ``margin``
        around them) large in the zoom below; outlines drawn afterwards appear there too. Slices of
        one cell (a flat volume) are not zoomed."""
        if self.zoom is not None and self.values.size and self.values.shape[1:] != (1, 1):
            self.zoom.show(self.values, self.pad, channel, row0, col0, rows, cols, margin)

    @property
    def zoomed(self) -> bool:
        return self.zoom is not None and self.zoom.channel is not None

    def clear_overlays(self) -> None:
        for item in self.overlays:
            self.box.removeItem(item)
        self.overlays = []
        if self.zoom is not None:
            self.zoom.clear()


class VolumeCanvas(QWidget):
    """``left`` and ``right`` volume panels and the colour bar they share (symmetric around 0).

    The titles are Qt labels above the plots (word-wrapped), so a long title never widens a
    column of the plots."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.colour_map = pg.colormap.get(SIGNED_MAP)
        titles = QHBoxLayout()
        titles.setContentsMargins(4, 0, 4, 0)
        panels = []
        for column in range(2):
            title = QLabel()
            title.setWordWrap(True)
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            titles.addWidget(title, 1)
            box = self.plots.addViewBox(row=0, col=column, lockAspect=True, invertY=True, enableMouse=False)
            box.setMenuEnabled(False)
            panels.append(VolumePanel(box, title))
        titles.addSpacing(70)  # above the colour bar
        self.left, self.right = panels
        captions = QHBoxLayout()
        captions.setContentsMargins(4, 0, 4, 0)
        for column, panel in enumerate(panels):
            caption = QLabel()
            caption.setWordWrap(True)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setStyleSheet("color: #5f6368;")
            captions.addWidget(caption, 1)
            box = self.plots.addViewBox(row=1, col=column, lockAspect=True, invertY=True, enableMouse=False)
            box.setMenuEnabled(False)
            panel.zoom = ZoomView(box, caption)
        captions.addSpacing(70)
        self.plots.ci.layout.setRowStretchFactor(0, 3)
        self.plots.ci.layout.setRowStretchFactor(1, 2)
        self.bar = pg.ColorBarItem(values=(-1, 1), colorMap=self.colour_map, interactive=False, width=14,
                                   label="value (0 is white)")
        self.bar.setImageItem([self.left.image, self.right.image, self.left.zoom.image, self.right.zoom.image])
        self.plots.addItem(self.bar, row=0, col=2, rowspan=2)
        self.plots.ci.layout.setColumnStretchFactor(0, 1)
        self.plots.ci.layout.setColumnStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(titles)
        layout.addWidget(self.plots, 1)
        layout.addLayout(captions)
        self.scale = 1.0

    def set_scale(self, *volumes) -> float:
        """One signed scale for both panels: ±max |value| of ``volumes``; returns it."""
        peaks = [float(np.nanmax(np.abs(v))) for v in volumes if v is not None and np.size(v)]
        m = max([p for p in peaks if np.isfinite(p)] or [1.0])
        self.scale = m if m > 0 else 1.0
        self.bar.setLevels((-self.scale, self.scale))
        return self.scale
