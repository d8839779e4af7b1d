"""What each filter responds to: for a chosen conv layer, every filter's top-9 test patches (and the
thumbnails the workspace lists images with).

One row per filter: its nine receptive-field crops, strongest first (one per image, at the cell
where the filter's map is largest), each enlarged to the same size with sharp pixels; zero padding
in a crop is black. Computed from the workspace's evaluated weights on a thread, with progress.
Hovering a crop says what it is (``describe(filter, k)``: its image, class, cell and activation).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QScrollArea, QToolTip


def image_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """(H, W, C) uint8 (C = 3 or 1) → a pixmap ``size`` pixels wide, each pixel a sharp block."""
    image = np.ascontiguousarray(image if image.shape[2] == 3 else np.repeat(image[:, :, :1], 3, axis=2), dtype=np.uint8)
    h, w, _ = image.shape
    qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # the copy owns its bytes
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation)


LABEL_WIDTH = 44
GAP = 3
TILE = 40  # pixels per crop at least


def mosaic(rows: list[list], tile: int) -> np.ndarray:
    """(H, W, 3) uint8: each filter's crops side by side, ``tile`` pixels each, GAP apart, rows GAP apart."""
    k = max((len(r) for r in rows), default=0)
    height = len(rows) * (tile + GAP) + GAP
    width = k * (tile + GAP) + GAP
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    for r, patches in enumerate(rows):
        for c, patch in enumerate(patches):
            crop = patch.crop if patch.crop.shape[2] == 3 else np.repeat(patch.crop[:, :, :1], 3, axis=2)
            h, w = crop.shape[:2]
            scale = max(1, tile // max(h, w))
            big = np.repeat(np.repeat(crop, scale, axis=0), scale, axis=1)[:tile, :tile]
            y, x = GAP + r * (tile + GAP), GAP + c * (tile + GAP)
            out[y:y + big.shape[0], x:x + big.shape[1]] = big
    return out


class _Picture(QLabel):
    """The grid's picture; a tooltip event over a crop shows what the grid says of it."""

    def __init__(self, grid: PatchGrid):
        super().__init__()
        self.grid = grid

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            text = self.grid.text_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)


class PatchGrid(QScrollArea):
    """The rows of patches as one picture (filter numbers at the left), scrolled when tall."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = _Picture(self)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setWidget(self.label)
        self.setWidgetResizable(True)
        self.rows: list[list] = []
        self.tile = TILE
        self.describe: Callable[[int, int], str] | None = None

    def patch_at(self, pos: QPoint) -> tuple[int, int] | None:
        """(filter, k) of the crop under ``pos`` (the picture's coordinates), None between crops."""
        step = self.tile + GAP
        x, y = pos.x() - LABEL_WIDTH - GAP, pos.y() - GAP
        if x < 0 or y < 0 or x % step >= self.tile or y % step >= self.tile:
            return None
        f, k = y // step, x // step
        return (f, k) if f < len(self.rows) and k < len(self.rows[f]) else None

    def text_at(self, pos: QPoint) -> str:
        """What the crop under ``pos`` is ('' between crops)."""
        at = self.patch_at(pos)
        return self.describe(*at) if at is not None and self.describe is not None else ""

    def centre_of(self, f: int, k: int) -> QPoint:
        """The middle of crop k of filter f, in the picture's coordinates."""
        step = self.tile + GAP
        return QPoint(LABEL_WIDTH + GAP + k * step + self.tile // 2, GAP + f * step + self.tile // 2)

    def show_rows(self, rows: list[list], field_size: int, describe: Callable[[int, int], str] | None = None) -> None:
        """Draw ``rows`` (a list of Patch per filter); ``describe(filter, k)`` is a crop's hover text."""
        self.rows, self.describe = rows, describe
        tile = max(TILE, field_size * max(1, TILE // max(field_size, 1)))
        tile = self.tile = min(tile, 96)
        pixels = np.ascontiguousarray(mosaic(rows, tile))
        h, w, _ = pixels.shape
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        canvas = QPixmap(w + LABEL_WIDTH, h)
        canvas.fill(QColor("white"))
        painter = QPainter(canvas)
        painter.drawImage(LABEL_WIDTH, 0, image)
        painter.setPen(QColor("#202124"))
        for r in range(len(rows)):
            y = GAP + r * (tile + GAP)
            painter.drawText(0, y, LABEL_WIDTH - 6, tile, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                             f"f{r}")
        painter.end()
        self.label.setPixmap(canvas)

    def clear_rows(self, message: str = "") -> None:
        self.rows, self.describe = [], None
        self.label.clear()
        self.label.setText(message)
