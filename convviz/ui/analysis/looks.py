"""Where the network looks: the selected image, its saliency and its Grad-CAM, each map laid over the
image with a colour legend.

A map is drawn in the ``inferno`` colours with an opacity that grows with the value, so where the map
is 0 the image shows through untouched. Each map has its own legend from 0 to its scale: the map's
own largest value, or (``same scale`` ticked) the largest of every image shown since, so two
images' maps can be compared cell by cell.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

HEAT_MAP = "inferno"
MAX_ALPHA = 0.85


def overlay_rgba(values: np.ndarray, scale: float, cmap: pg.ColorMap) -> np.ndarray:
    """(H, W) ≥ 0 → (H, W, 4) uint8: the colour of value/scale, opaque in proportion to it."""
    t = np.clip(np.asarray(values, dtype=np.float64) / (scale if scale > 0 else 1.0), 0.0, 1.0)
    rgba = cmap.map(t.ravel(), mode="byte").reshape(*t.shape, 4).copy()
    rgba[..., 3] = np.round(255 * MAX_ALPHA * np.sqrt(t)).astype(np.uint8)
    return rgba


class _MapBox:
    """One panel: the image, optionally a map over it, a title above and a caption below."""

    def __init__(self, plots: pg.GraphicsLayoutWidget, col: int, title: QLabel, caption: QLabel):
        self.box = plots.addViewBox(row=0, col=col, lockAspect=True, invertY=True, enableMouse=False)
        self.box.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        self.box.addItem(self.heat)
        self.outline = QGraphicsRectItem()  # the window of a picture that was fitted to the input
        pen = pg.mkPen("#1a73e8", width=2)
        pen.setCosmetic(True)
        self.outline.setPen(pen)
        self.outline.setVisible(False)
        self.box.addItem(self.outline)
        self.title, self.caption = title, caption

    def clear(self) -> None:
        self.image.clear()
        self.heat.clear()
        self.outline.setVisible(False)
        self.title.setText("")
        self.caption.setText("")

    def show(self, pixels: np.ndarray, heat: np.ndarray | None = None,
             window: tuple[int, int, int, int] | None = None) -> None:
        """``pixels`` (H, W, C) uint8, ``heat`` (H, W, 4) over it, ``window`` (top, left, height, width) outlined."""
        self.outline.setVisible(window is not None)
        if window is not None:
            top, left, height, width = window
            self.outline.setRect(QRectF(left, top, width, height))
        self.image.setImage(pixels if pixels.shape[2] == 3 else pixels[:, :, 0], autoLevels=False, levels=(0, 255))
        if heat is None:
            self.heat.clear()
        else:
            self.heat.setImage(heat, autoLevels=False)
        h, w = pixels.shape[:2]
        self.box.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)


class LooksPanel(QWidget):
    """The image, its saliency over it and its Grad-CAM over it, with a legend for each map.

    ``show(pixels, saliency, cam, scales, texts)`` draws them; ``scales`` (saliency, Grad-CAM) are the
    legends' tops."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.cmap = pg.colormap.get(HEAT_MAP)
        titles, captions = QHBoxLayout(), QHBoxLayout()
        for row in (titles, captions):
            row.setContentsMargins(4, 0, 4, 0)
        panels = []
        for col, bar_after in ((0, False), (1, True), (3, True)):
            title, caption = QLabel(), QLabel()
            for label in (title, caption):
                label.setWordWrap(True)
                label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            caption.setStyleSheet("color: #5f6368;")
            titles.addWidget(title, 1)
            captions.addWidget(caption, 1)
            if bar_after:
                titles.addSpacing(62)
                captions.addSpacing(62)
            panels.append(_MapBox(self.plots, col, title, caption))
        self.image_box, self.saliency_box, self.cam_box = panels
        self.saliency_bar = pg.ColorBarItem(values=(0, 1), colorMap=self.cmap, interactive=False, width=12,
                                            label="|dS/dx|")
        self.cam_bar = pg.ColorBarItem(values=(0, 1), colorMap=self.cmap, interactive=False, width=12,
                                       label="Grad-CAM")
        self.plots.addItem(self.saliency_bar, row=0, col=2)
        self.plots.addItem(self.cam_bar, row=0, col=4)
        for col in (0, 1, 3):
            self.plots.ci.layout.setColumnStretchFactor(col, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(titles)
        layout.addWidget(self.plots, 1)
        layout.addLayout(captions)
        self.scales = (1.0, 1.0)

    def clear(self, message: str = "") -> None:
        for box in (self.image_box, self.saliency_box, self.cam_box):
            box.clear()
        self.image_box.title.setText(message)

    def show(self, pixels: np.ndarray, saliency: np.ndarray, cam: np.ndarray, scales: tuple[float, float],
             titles: tuple[str, str, str], captions: tuple[str, str, str],
             original: np.ndarray | None = None, window: tuple[int, int, int, int] | None = None) -> None:
        """``pixels`` (H, W, C) uint8; ``saliency`` and ``cam`` (H, W) ≥ 0 drawn up to ``scales``. A picture
        fitted to the input shows as ``original`` in the first panel with the ``window`` it was fitted from."""
        self.scales = tuple(s if s > 0 else 1.0 for s in scales)
        if original is None:
            self.image_box.show(pixels)
        else:
            self.image_box.show(original, window=window)
        self.saliency_box.show(pixels, overlay_rgba(saliency, self.scales[0], self.cmap))
        self.cam_box.show(pixels, overlay_rgba(cam, self.scales[1], self.cmap))
        self.saliency_bar.setLevels((0, self.scales[0]))
        self.cam_bar.setLevels((0, self.scales[1]))
        for box, title, caption in zip((self.image_box, self.saliency_box, self.cam_box), titles, captions):
            box.title.setText(title)
            box.caption.setText(caption)
