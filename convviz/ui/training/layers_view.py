"""Every layer at once: one row per layer, in network order, for the selected probe image.

A row names its layer and volume and draws what the newest snapshot holds for it: each depth slice
of a volume as a tile (tiles grow with the space, a few to a line), all of a row's tiles on one
colour scale with its legend (blue–white–red about 0 where the values are signed, viridis where not),
and a flat output (an FC layer's scores, the softmax layer's probabilities) as labelled bars, by
class where there is one unit per class. A residual or branch block shows its paths (:mod:`convviz.ui.training.paths`): a line where
the input splits, each path's layers named by their path (``body › conv1``) with a coloured bar per
path in the left margin, and the block's own row where they join (``+`` for the sum, ``concat``).

Click a tile to see it large beside the rows, with the value under the cursor. A toggle shows the
gradients dL/d activation of the probe's own loss instead, when the snapshot carries them
(``gradients_wanted`` tells the window to ask the trainer for them).

Drawing is bounded: the newest snapshot only (or the one the time slider holds), at most every ``REDRAW_MS``, and only rows that are on
screen; a row scrolled into view draws then. pyqtgraph items are made once per row and updated.

The rows themselves and the tile inspector are in :mod:`convviz.ui.training.layer_rows`.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from convviz.training.records import LayerSnapshot, Snapshot
from convviz.ui.session import RunSession
from convviz.ui.training.layer_rows import (
    ACTIVATIONS,
    GRADIENTS,
    BarRow,
    LayerRow,
    MapInspector,
    MapRow,
)
from convviz.ui.training.maps import caption_label, row_column
from convviz.ui.training.paths import JOIN, LAYER, PathNote, PlanItem, row_plan

REDRAW_MS = 400  # rows are redrawn at most every 0.4 s (the views wait different times, so they never draw in one frame)
BUDGET_S = 0.006  # the GUI thread makes or draws rows for at most this long, then lets other events in


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


class LayersView(QWidget):
    """Every layer of the newest snapshot, one row each, for one probe image; see the module docstring."""

    gradients_wanted = Signal(bool)  # the user chose gradients (True) or activations (False)

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.session = session
        self.snapshot: Snapshot | None = None
        self.live = True  # follows the session's newest snapshot (False: the time slider holds one)
        self.serial = 0
        self.probe = 0
        self.rows: list[LayerRow] = []  # in the order shown (a block's row after its paths)
        self.notes: list[PathNote] = []  # where blocks' paths split, and identity paths
        self.row_keys: list[tuple] = []  # (name, type, shape) of each row there is or is being made
        self._to_build: list[tuple[PlanItem, LayerSnapshot | None]] = []
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
        session.snapshot.connect(self._newest)
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

    def _newest(self, snapshot: Snapshot) -> None:
        if self.live:
            self.show_snapshot(snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Draw ``snapshot`` (the newest, or the one the time slider holds) from the next redraw on."""
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
        """Rows for this snapshot's layers (and the notes where blocks' paths split), made a few at a
        time by :meth:`redraw` (a deep network's many rows never hold the GUI thread at once)."""
        for widget in self.rows + self.notes:
            self.column_layout.removeWidget(widget)
            widget.deleteLater()
        self.rows, self.notes = [], []
        self.row_keys = [row_key(layer) for layer in snapshot.layers]
        by_name = {layer.name: layer for layer in snapshot.layers}
        plan = row_plan([(layer.name, layer.type, layer.activation.shape[1]) for layer in snapshot.layers])
        self._to_build = [(item, by_name.get(item.name) if item.kind in (LAYER, JOIN) else None) for item in plan]
        self._width = 0  # lay them out at the next redraw
        if self.inspector.layer is not None and self.inspector.layer not in by_name:
            self.inspector.close_inspector()

    def _make_row(self, item: PlanItem, layer: LayerSnapshot | None) -> None:
        at = len(self.rows) + len(self.notes)
        if layer is None:
            note = PathNote(item)
            self.column_layout.insertWidget(at, note)
            self.notes.append(note)
            return
        path = {"bars": item.bars, "join": item if item.kind == JOIN else None}
        flat = is_flat(tuple(layer.activation.shape[1:]))
        row = BarRow(layer, **path) if flat else MapRow(layer, **path)
        if isinstance(row, MapRow):
            row.tile_clicked.connect(self.inspect)
            if self._width:
                row.fit(self._width - row.indent)
        self.column_layout.insertWidget(at, row)
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
                    row.fit(width - row.indent)
            self._width = width
        while self._to_build:
            self._make_row(*self._to_build.pop(0))
            if time.perf_counter() - start > BUDGET_S:
                return self._continue()
        label = int(snapshot.probe_labels[probe])
        context = {"class_names": snapshot.class_names, "label": label}
        layers = {layer.name: layer for layer in snapshot.layers}
        for row in self.rows:
            key = (self.serial, probe, mode, getattr(row, "cols", 0))
            if row.drawn == key or not row.on_screen() or row.name not in layers:
                continue
            row.draw(shown_values(layers[row.name], probe, mode), mode, context)
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
        name = (lambda i: names[i] if 0 <= i < len(names) else f"class {i + 1}")
        what = "gradients dL/d activation of its loss" if mode == GRADIENTS else "activations"
        missing = "" if gradients or self.mode != GRADIENTS else " (this snapshot has no gradients: activations shown)"
        held = "" if self.live else " (held by the time slider)"
        if probe < len(snapshot.probe_names):
            shown = snapshot.probe_names[probe] + ("" if label >= 0 else ", class unknown")
        else:
            shown = f"a {name(label)}" if label >= 0 else "class unknown"
        self.caption.setText(f"Step {snapshot.step}, epoch {snapshot.epoch}{held}: probe {probe + 1} "
                             f"({shown}, predicted {name(predicted)}), {what}{missing}.")
