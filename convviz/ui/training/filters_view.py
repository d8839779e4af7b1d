"""The conv filters of the newest snapshot, big enough to see what they look for.

The first conv layer's filters look at the RGB image, so each is drawn as one colour tile: its
three input slices as red, green and blue. ``normalised per filter`` stretches each filter over the
whole range on its own, so faint filters show their pattern too; ``one scale for all`` draws every
filter on one scale about 0 (grey is 0), so their strengths compare. A deeper layer's filters look
at many channels: each is drawn as a strip of its input channels side by side, as many strips to a
line as make the tiles largest, on one blue–white–red scale about 0 with its legend.

**Show** chooses what is drawn of each filter: its weights W; what training has **learned**, W − W₀,
the change since the run's first kept snapshot (a random start hides a young filter's pattern: the
change shows the edges and colour blobs it is forming); or its **gradients** dL/dW of the last step
(signed: the same strips on a scale about 0 with its legend, conv1's as its R, G and B channels).
The view asks the session for gradients (``want_filter_gradients``) only while it is shown with
them chosen.

Redrawn from the snapshot shown (the newest, or the time slider's) at most every ``REDRAW_MS``, and
not while hidden.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

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
    tile_at,
)

REDRAW_MS = 700  # apart from the other views' delays (probes 250, rows 400, health 550): never one frame for all
MAX_FILTERS = 64  # filters drawn (the rest are counted)
MAX_CHANNELS = 32  # input channels drawn of a deeper layer's filters
GROUP_GAP = 3  # pixels of the grid between two filters (one between two input channels of a filter)
PER_FILTER, ONE_SCALE = "per filter", "one scale"
WEIGHTS, LEARNED, GRADIENTS = "weights", "learned", "gradients"  # what the view shows of each filter


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


def channel_strips(weights: np.ndarray, gap: int = 1) -> np.ndarray:
    """(K, C, F1, F2) filters → (K, F1, C·(F2+gap)−gap): each filter's input channels side by side, NaN between."""
    k, c, f1, f2 = weights.shape
    out = np.full((k, f1, c, f2 + gap), np.nan, dtype=np.float32)
    out[..., :f2] = np.asarray(weights).transpose(0, 2, 1, 3)
    return out.reshape(k, f1, c * (f2 + gap))[:, :, :-gap]


def filter_grid(weights: np.ndarray, cols: int) -> np.ndarray:
    """(K, C, F1, F2) filters → one image: each filter a strip of its C input channels, ``cols``
    filters to a line, GROUP_GAP pixels (NaN) between two filters."""
    return mosaic(channel_strips(weights), cols, gap=GROUP_GAP)


def filter_cell(x: float, y: float, shape: tuple[int, ...], cols: int) -> tuple[int, int, int, int] | None:
    """Which (filter, input channel, row, column) of :func:`filter_grid`'s image lies under (x, y)."""
    k, c, f1, f2 = shape
    cell = tile_at(x, y, (f1, c * (f2 + 1) - 1), k, cols, gap=GROUP_GAP)
    if cell is None:
        return None
    filter_, fy, strip_x = cell
    channel, fx = divmod(strip_x, f2 + 1)
    return None if fx >= f2 else (filter_, channel, fy, fx)


class FiltersView(QWidget):
    """Conv filters (or their gradients): the first layer's as colour tiles, a deeper one's per input channel."""

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.session = session
        self.snapshot: Snapshot | None = None
        self.live = True  # follows the session's newest snapshot (False: the time slider holds one)
        self.serial = 0  # which snapshot was drawn (an id() may come again once the old one is freed)
        self._drawn = None
        self._wanted = False  # what was last asked of the session
        self.layer_choice = QComboBox()
        self.layer_choice.setToolTip("The conv layer whose filters are drawn")
        self.layer_choice.currentIndexChanged.connect(self._schedule)
        self.scale_choice = QComboBox()
        self.scale_choice.addItem("Normalised per filter", PER_FILTER)
        self.scale_choice.addItem("One scale for all", ONE_SCALE)
        self.scale_choice.setToolTip("Per filter: each filter's own range, so faint ones show their pattern. "
                                     "One scale: strengths compare (0 is grey)")
        self.scale_choice.currentIndexChanged.connect(self._schedule)
        self.show_choice = QComboBox()
        self.show_choice.addItem("Weights W", WEIGHTS)
        self.show_choice.addItem("Learned W − W₀ (since the first snapshot)", LEARNED)
        self.show_choice.addItem("Gradients dL/dW", GRADIENTS)
        self.show_choice.setToolTip("Each filter's weights; what training has changed since the run's first kept "
                                    "snapshot (the random start taken away); or its gradient of the last step's loss")
        self.show_choice.currentIndexChanged.connect(self._gradients_toggled)
        self.caption = caption_label("The conv filters appear with the run's first snapshot.", lines=3)
        self.legend = Legend(width=160)
        self.legend.hide()
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_choice, 1)
        controls.addWidget(QLabel("Colours"))
        controls.addWidget(self.scale_choice)
        controls.addStretch(1)
        shown = QHBoxLayout()  # a line of its own: the view stays readable in a narrow dock
        shown.addWidget(QLabel("Show"))
        shown.addWidget(self.show_choice)
        shown.addStretch(1)
        shown.addWidget(self.legend)
        self.view = pg.GraphicsView()
        self.box = fixed_box(self.view)
        self.rgb_item = pg.ImageItem(axisOrder="row-major")
        self.grid_item = image_item(signed=True)
        self.box.addItem(self.rgb_item)
        self.box.addItem(self.grid_item)
        self.view.scene().sigMouseMoved.connect(self._hovered)
        self.grid = np.zeros((1, 1), np.float32)
        self.shown: np.ndarray | None = None  # the (K, C, F, F) arrays drawn (weights or gradients)
        self.drawn_gradients = False  # whether they are gradients
        self.shape: tuple[int, ...] = ()
        self.cols = 1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addLayout(shown)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self._timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._timer.timeout.connect(self.redraw)
        session.snapshot.connect(self._newest)
        if session.records.snapshot is not None:
            self.show_snapshot(session.records.snapshot)

    def _newest(self, snapshot: Snapshot) -> None:
        if self.live:
            self.show_snapshot(snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Draw ``snapshot``'s filters (at the next redraw)."""
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

    @property
    def showing(self) -> str:
        return self.show_choice.currentData()

    @property
    def showing_gradients(self) -> bool:
        return self.showing == GRADIENTS

    def set_showing(self, what: str) -> None:
        """``weights``, ``learned`` (W − W₀) or ``gradients``."""
        self.show_choice.setCurrentIndex(self.show_choice.findData(what))

    def _gradients_toggled(self) -> None:
        self._ask_for_gradients()
        self._schedule()

    def _ask_for_gradients(self) -> None:
        """The session's snapshots carry dL/dW while this view is shown with Gradients on, and only then."""
        wanted = self.showing_gradients and self.isVisible()
        if wanted != self._wanted:
            self._wanted = wanted
            self.session.want_filter_gradients(wanted)

    def _schedule(self, *_args) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._ask_for_gradients()
        self._schedule()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._ask_for_gradients()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._drawn = None
        self._schedule()

    def redraw(self) -> None:
        snapshot = self.snapshot
        name = self.layer_choice.currentText()
        gradients = self.showing_gradients
        key = (self.serial, name, self.scale, self.showing, self.view.width(), self.view.height())
        if snapshot is None or not self.isVisible() or name not in snapshot.filters or key == self._drawn:
            return
        if gradients and name not in snapshot.filter_gradients:
            self.caption.setText(f"Step {snapshot.step}: this snapshot has no gradients of the filters yet; the next "
                                 f"one will have them (weights shown).")
            gradients = False
        arrays = snapshot.filter_gradients if gradients else snapshot.filters
        weights = np.asarray(arrays[name])
        base = self._start(name) if self.showing == LEARNED and not gradients else None
        if base is not None:
            weights = weights - np.asarray(base.filters[name])
        shown = weights[:MAX_FILTERS]
        k, c, f1, f2 = weights.shape
        more = f"; the first {len(shown)} of {k} drawn" if k > len(shown) else ""
        learned = f"what the {k} filters of {name} learned since step {base.step} (W − W₀)" if base is not None else ""
        if base is snapshot:
            learned += ": none yet, this is that snapshot"
        if c == 3 and not gradients:
            self.cols = self._columns(len(shown), f1, f2)
            self.rgb_item.setImage(rgb_mosaic(rgb_filters(shown, self.scale), self.cols), autoLevels=False, levels=(0, 1))
            self.rgb_item.show()
            self.grid_item.hide()
            self.legend.hide()
            self.scale_choice.setEnabled(True)
            how = ("each stretched over its own range" if self.scale == PER_FILTER
                   else "on one scale about 0 (grey is 0)")
            what = learned or f"the {k} filters of {name}"
            self.caption.setText(f"Step {snapshot.step}: {what}, {f2}×{f1} over the RGB image, "
                                 f"each one colour tile (its red, green and blue slices), {how}{more}.")
        else:
            shown = shown[:, :MAX_CHANNELS]
            self.cols = self._columns(len(shown), f1, shown.shape[1] * (f2 + 1) - 1, GROUP_GAP)
            self.grid = filter_grid(shown, self.cols)
            low, high, _ = color_scale(shown, signed=True)
            self.grid_item.setImage(self.grid, autoLevels=False, levels=(low, high))
            self.grid_item.show()
            self.rgb_item.hide()
            self.legend.set_scale(low, high, True)
            self.legend.show()
            self.scale_choice.setEnabled(False)
            channels = ("its R, G and B input channels" if c == 3 else
                        f"the first {shown.shape[1]} of its {c} input channels" if c > shown.shape[1]
                        else f"its {c} input channels")
            what = (f"the gradients dL/dW of the {k} filters of {name}" if gradients
                    else learned or f"the {k} filters of {name}")
            self.caption.setText(f"Step {snapshot.step}: {what} ({f2}×{f1}×{c}), each a strip of "
                                 f"{channels} side by side, on one scale about 0{more}.")
        self.shown, self.shape, self.drawn_gradients = shown, shown.shape, gradients
        self.box.autoRange(padding=0.01)
        self._drawn = key

    def _start(self, name: str) -> Snapshot | None:
        """The run's first kept snapshot with filters ``name`` of the same shape (W₀ for the learned change)."""
        kept = self.session.records.snapshots
        first = kept[0] if kept else self.snapshot
        if first is None or name not in first.filters or first.filters[name].shape != self.snapshot.filters[name].shape:
            return None
        return first

    def _columns(self, count: int, h: int, w: int, gap: int = 1) -> int:
        """Columns of ``count`` h×w tiles (``gap`` apart) that make them largest in the view's space."""
        width, height = max(self.view.width(), 1), max(self.view.height(), 1)
        best, best_edge = 1, 0.0
        for cols in range(1, count + 1):
            rows, cols = grid_shape(count, cols)
            edge = min(width / (cols * (w + gap)), height / (rows * (h + gap)))
            if edge > best_edge:
                best, best_edge = cols, edge
        return best

    def _hovered(self, scene_pos) -> None:
        if self.grid_item.isVisible() and len(self.shape) == 4:
            point = self.box.mapSceneToView(scene_pos)
            cell = filter_cell(point.x(), point.y(), self.shape, self.cols)
            if cell is not None:
                k, c, y, x = cell
                what = "dL/dW" if self.drawn_gradients else "weight"
                self.view.setToolTip(f"filter {k + 1}, input channel {c + 1}, x {x}, y {y}: "
                                     f"{what} {self.shown[k, c, y, x]:.3g}")
                return
        self.view.setToolTip("")
