"""Inside the network while it learns: a probe image, one layer's activation maps, and conv filters.

Shows the newest :class:`~convviz.training.records.Snapshot` the run session has: pick a probe image and a layer to see
every depth slice of its output side by side (as the CS231n notes draw them), and the filters of the
chosen (or first) conv layer, in colour when they look at an RGB image. A flat output (an FC layer's
scores, the softmax layer's probabilities) is one number per unit, so it is drawn as labelled
horizontal bars instead, named by class when there is one unit per class; the softmax layer's bars
run from 0 to 1 with their percentages.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from convviz.training.records import Snapshot
from convviz.ui.session import RunSession

MAX_TILES = 64
MAX_BARS = 32
BAR_BRUSH, LABEL_BRUSH = "#4a78b5", "#2e9e4f"  # the probe's true class stands out


def bar_labels(count: int, class_names: tuple[str, ...], label: int) -> list[str]:
    """What each of ``count`` flat outputs is called: class names when there is one unit per class
    (the probe's own class marked), else ``unit 1`` …"""
    if count == len(class_names):
        return [f"{name} (label)" if i == label else name for i, name in enumerate(class_names)]
    return [f"unit {i + 1}" for i in range(count)]


def tile(maps: np.ndarray, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """(K, H, W) or (K, H, W, 3) → one image of the K maps in a near-square grid, ``gap`` pixels apart."""
    k, h, w = maps.shape[:3]
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    shape = (rows * (h + gap) - gap, cols * (w + gap) - gap) + maps.shape[3:]
    out = np.full(shape, fill, dtype=np.float32)
    for i in range(k):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = maps[i]
    return out


def normalize_each(maps: np.ndarray) -> np.ndarray:
    """Scale each map (first axis) to [0, 1] on its own, so faint and strong filters both show."""
    flat = maps.reshape(len(maps), -1)
    low = flat.min(axis=1).reshape((-1,) + (1,) * (maps.ndim - 1))
    high = flat.max(axis=1).reshape((-1,) + (1,) * (maps.ndim - 1))
    return (maps - low) / np.where(high > low, high - low, 1.0)


def filter_image(weights: np.ndarray) -> tuple[np.ndarray, bool]:
    """(K, C, F, F) filters → (tiled image, is_rgb): RGB tiles for C = 3, else each filter's first slices."""
    if weights.shape[1] == 3:
        rgb = normalize_each(weights[:MAX_TILES].transpose(0, 2, 3, 1))
        return tile(rgb, fill=1.0), True
    slices = weights[:MAX_TILES, 0]
    return tile(normalize_each(slices)), False


class SnapshotView(QWidget):
    """Probe image, activation maps of a chosen layer, and conv filters, from the newest snapshot."""

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.snapshot: Snapshot | None = None
        self.layer_choice = QComboBox()
        self.layer_choice.setToolTip("The layer whose output is shown: one depth slice per tile, or one bar per "
                                     "output of a flat layer (FC scores, softmax probabilities)")
        self.layer_choice.currentIndexChanged.connect(self._render)
        self.probe_choice = QSpinBox(minimum=0, maximum=0)
        self.probe_choice.setToolTip("Which probe image (a fixed validation image) goes through the network")
        self.probe_choice.valueChanged.connect(self._render)
        self.caption = QLabel("Start training to see activations and filters.")
        self.caption.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Image"))
        controls.addWidget(self.probe_choice)
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_choice, 1)

        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("w")
        self.image_box = self._box()
        self.activation_box = self._box()
        self.filter_box = self._box()
        grid = self.canvas.ci.layout
        for column, stretch in enumerate((1, 3, 2)):
            grid.setColumnStretchFactor(column, stretch)
        self.image_item = pg.ImageItem()
        self.activation_item = pg.ImageItem()
        self.filter_item = pg.ImageItem()
        self.activation_item.setColorMap(pg.colormap.get("viridis"))
        self.image_box.addItem(self.image_item)
        self.activation_box.addItem(self.activation_item)
        self.filter_box.addItem(self.filter_item)
        self.bar_plot = pg.PlotItem()  # takes the activation maps' place for a flat output
        self.bar_plot.setMenuEnabled(False)
        self.bar_plot.setMouseEnabled(False, False)
        self.bar_plot.hideButtons()
        self.bar_plot.invertY(True)  # the first class on top
        self.bar_item = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7)
        self.bar_plot.addItem(self.bar_item)
        self.bar_texts: list[pg.TextItem] = []
        self.bars: list[tuple[str, float, str]] = []  # what the bars show: (label, value, its text)
        self.middle = self.activation_box  # what the middle column shows now
        self._park(self.bar_plot)

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        session.snapshot.connect(self.show_snapshot)
        if session.records.snapshot is not None:
            self.show_snapshot(session.records.snapshot)

    def _box(self) -> pg.ViewBox:
        box = self.canvas.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        box.setMenuEnabled(False)
        return box

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        names = [layer.name for layer in snapshot.layers]
        if names != [self.layer_choice.itemText(i) for i in range(self.layer_choice.count())]:
            current = self.layer_choice.currentText()
            self.layer_choice.blockSignals(True)
            self.layer_choice.clear()
            self.layer_choice.addItems(names)
            self.layer_choice.setCurrentIndex(max(0, names.index(current)) if current in names else 0)
            self.layer_choice.blockSignals(False)
        self.probe_choice.setMaximum(len(snapshot.probe_images) - 1)
        self._render()

    def _render(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not snapshot.layers:
            return
        probe = min(self.probe_choice.value(), len(snapshot.probe_images) - 1)
        layer = snapshot.layers[max(0, self.layer_choice.currentIndex())]
        self.image_item.setImage(snapshot.probe_images[probe], autoLevels=False, levels=(0, 255))
        volume = layer.activation[probe]  # (C, H, W), or (D,) for a flat 1×1×D volume
        filters_name = layer.name if layer.name in snapshot.filters else next(iter(snapshot.filters), None)
        if filters_name is not None:
            image, rgb = filter_image(np.asarray(snapshot.filters[filters_name]))
            self.filter_item.setImage(image, autoLevels=False, levels=(0, 1))
        if volume.ndim == 1:
            self._show_middle(self.bar_plot)
            described = self._draw_bars(layer, volume, snapshot.class_names, int(snapshot.probe_labels[probe]))
        else:
            self._show_middle(self.activation_box)
            described = self._draw_tiles(volume)
        for box in (self.image_box, self.filter_box) + ((self.activation_box,) if volume.ndim > 1 else ()):
            box.autoRange(padding=0.02)
        scores = snapshot.probe_scores[probe]
        label, predicted = int(snapshot.probe_labels[probe]), int(np.argmax(scores))
        names = snapshot.class_names
        if len(names) > max(label, predicted):
            label, predicted = names[label], names[predicted]
        health = ""
        if layer.update_ratio is not None:
            health = (f" Weights ‖W‖ {layer.weight_norm:.3g}, gradient ‖dW‖ {layer.grad_norm:.3g}, "
                      f"last update ‖ΔW‖/‖W‖ {layer.update_ratio:.1e} (about 1e-3 is healthy).")
        self.caption.setText(
            f"Step {snapshot.step}: {layer.name} gives {described}.{health} "
            f"Label {label}, predicted {predicted}. "
            + (f"Filters of {filters_name}." if filters_name else "No conv layer.")
        )

    def _show_middle(self, item) -> None:
        """Put the activation maps or the bars in the middle column."""
        if self.middle is item:
            return
        grid = self.canvas.ci
        grid.removeItem(self.middle)
        self._park(self.middle)
        item.show()
        grid.addItem(item, row=0, col=1)
        self.middle = item

    def _park(self, item) -> None:
        """Keep an item out of the layout, hidden, but in the scene: the scene owns it and deletes
        it with the view (a Qt item nothing owns may outlive the application and crash its exit)."""
        item.hide()
        self.canvas.scene().addItem(item)

    def _draw_tiles(self, volume: np.ndarray) -> str:
        shown = volume[:MAX_TILES]
        mosaic = tile(shown)
        finite = mosaic[np.isfinite(mosaic)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.activation_item.setImage(np.nan_to_num(mosaic, nan=low), autoLevels=False, levels=(low, high if high > low else low + 1))
        c, h, w = volume.shape
        shown_text = f" (first {len(shown)} shown)" if c > len(shown) else ""
        return f"{w}×{h}×{c}{shown_text}; range {low:.3g} to {high:.3g}"

    def _draw_bars(self, layer, values: np.ndarray, class_names: tuple[str, ...], label: int) -> str:
        """One horizontal bar per output (the first MAX_BARS), labelled; returns the caption's words."""
        probabilities = layer.type == "softmax"
        labels = bar_labels(len(values), class_names, label)[:MAX_BARS]
        shown = np.asarray(values[:MAX_BARS], dtype=np.float64)
        texts = [f"{v:.1%}" if probabilities else f"{v:.3g}" for v in shown]
        self.bars = list(zip(labels, shown.tolist(), texts, strict=True))
        ys = np.arange(len(shown))
        by_class = len(values) == len(class_names)
        self.bar_item.setOpts(x0=np.minimum(shown, 0), y=ys, width=np.abs(shown), height=0.7,
                              brushes=[LABEL_BRUSH if by_class and i == label else BAR_BRUSH for i in ys])
        self.bar_plot.getAxis("left").setTicks([list(enumerate(labels))])
        while len(self.bar_texts) < len(shown):
            text = pg.TextItem(color="#333", anchor=(0, 0.5))
            self.bar_plot.addItem(text)
            self.bar_texts.append(text)
        for i, text in enumerate(self.bar_texts):
            text.setVisible(i < len(shown))
            if i < len(shown):
                text.setText(texts[i])
                text.setPos(max(shown[i], 0.0), i)
        if probabilities:
            self.bar_plot.setLabel("bottom", "probability")
            self.bar_plot.setXRange(0, 1.2, padding=0)  # room for "100.0%" after a full bar
        else:
            self.bar_plot.setLabel("bottom", "score")
            low, high = min(float(shown.min()), 0.0), max(float(shown.max()), 0.0)
            self.bar_plot.setXRange(low, high + 0.25 * (high - low or 1.0), padding=0.02)
        self.bar_plot.setYRange(-0.5, len(shown) - 0.5, padding=0)
        more = f" (first {len(shown)} shown)" if len(values) > len(shown) else ""
        if probabilities:
            top = int(np.argmax(values))
            name = class_names[top] if by_class else f"unit {top + 1}"
            return (f"{len(values)} class probabilities{more} that add up to 1; the most likely is {name} "
                    f"at {values[top]:.1%}")
        what = "scores, one per class" if by_class else "numbers"
        return f"{len(values)} {what}{more}; range {float(values.min()):.3g} to {float(values.max()):.3g}"
