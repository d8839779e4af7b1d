"""The Step workspace: walk one image's training step with the run session's current weights.

Pick an image, then move along the timeline (input → each layer forward → softmax and loss → each
layer backward → update) with → / ← (one stop), Shift+→ / Shift+← (one cell inside the stop), Home
and End, or click a cell; Space plays (every cell in turn, at the chosen speed). Each stop draws the two volumes it joins on one signed colour scale and explains the
selected cell with the engine's own numbers: a Conv output as its dot-product ledger with the
receptive field outlined on the input (zero padding hatched), a pooling window and its winner, the
routing of a max pool's gradient, a Conv input gradient as the stamps w·dY that reach it (equal to
the gather with rotated filters), the softmax and loss, and the update of each parameter.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from convviz.engine import windowed as W
from convviz.engine.explain_layers import (
    BatchNormOutputExplanation,
    FCOutputExplanation,
)
from convviz.engine.explain_step import ledger_terms
from convviz.engine.layer_base import as_4d
from convviz.engine.trace import ConvOutputExplanation
from convviz.model import analyze
from convviz.training.config import TrainConfig
from convviz.ui.session import RunSession
from convviz.ui.stepper.ledger import (
    CONV_HEADERS,
    FC_HEADERS,
    SCATTER_HEADERS,
    LedgerTable,
    Row,
    conv_output_rows,
    index,
    number,
    scatter_rows,
)
from convviz.ui.stepper.stepping import (
    AvgPoolBackward,
    ConvBackward,
    MaxPoolBackward,
    StepRun,
    Stop,
)
from convviz.ui.stepper.volumes import VolumeCanvas

EXPLAINED_TERMS = (ConvOutputExplanation, FCOutputExplanation)  # ledgers whose terms point at an input cell
SYNC_MACS = 200_000_000  # a network with more multiply-adds than this is traced on a thread
ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid")
KIND_COLOURS = {"input": "#e8eaed", "forward": "#e8f0fe", "loss": "#fce8b2", "backward": "#fce8e6", "update": "#e6f4ea"}
ORIGIN_NOTES = {
    "fresh": "Weights: fresh, seeded and untrained (train the network, or open a checkpoint, to step a trained one).",
    "trained": "Weights: what the last run ended with.",
    "training": "Weights: taken between two steps of the run, which is paused while you step.",
}


class _Tracer(QObject):
    """Carries a trace or a gradient check made on a thread back to the GUI thread (queued signals)."""

    done = Signal(object, object, object)  # the job, the StepRun (or None), the error (or None)
    checked = Signal(object, object)  # the StepRun checked, the GradientCheck (or the error)


def _trace(args) -> tuple[StepRun | None, Exception | None]:
    try:
        return StepRun(*args), None
    except (ValueError, MemoryError) as exc:
        return None, exc


@lru_cache(maxsize=1)
def synthetic_images():
    """The synthetic data set as a default run trains on it (its normalization included)."""
    from convviz.data import synthetic_dataset

    config = TrainConfig()
    return synthetic_dataset(validation=config.validation, seed=config.seed)


class StepWorkspaceView(QWidget):
    """The Step workspace's page; it reads weights and the network from ``session`` only.

    Signals: ``current_layer_changed(str)`` (the layer of the current stop, "" at input, loss and
    update: the window highlights it in the builder), ``stop_changed(int)`` (the index in ``stops``),
    ``position_changed(object)`` (the selected cell, a tuple) and ``traced()`` (a new trace is
    shown, after ``reload``, a new image or new weights).
    """

    current_layer_changed = Signal(str)
    stop_changed = Signal(int)
    position_changed = Signal(object)
    traced = Signal()  # a new trace is shown (or tracing failed: ``run`` is None)
    gradient_checked = Signal(object)  # a GradientCheck (convviz.engine.explain_step)

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.run: StepRun | None = None
        self.stop_index = 0
        self.position: tuple[int, ...] = ()
        self.explanation = None  # the engine explanation of the selected cell (None where there is none)
        self.image_text = ""
        self._cifar = None  # the CIFAR-10 data set once loaded
        self._network_key = None
        self._term: int | None = None  # the ledger term clicked, while it is drawn
        self._ticket = 0  # the newest trace asked for; older ones are dropped when they arrive
        self.tracing = False  # a big network is being traced on a thread
        self._tracer = _Tracer(self)
        self._tracer.done.connect(self._on_traced)
        self._tracer.checked.connect(self._on_checked)
        self.last_check = None  # the newest GradientCheck shown

        self.source = QComboBox()
        self.source.addItem("Synthetic test image", "synthetic")
        self.source.addItem("CIFAR-10 test image", "cifar10")
        self.source.setToolTip("Where the image comes from: the synthetic set (always there) or CIFAR-10's test set "
                               "(once fetched: File → Get CIFAR-10)")
        self.class_choice = QComboBox()
        self.class_choice.setToolTip("The image's class: the n-th test image of this class is stepped")
        self.image_number = QSpinBox(minimum=0, maximum=999)
        self.image_number.setToolTip("Which image of the class")
        self.reload_button = QPushButton("Use current weights")
        self.reload_button.setToolTip("Take the run session's current weights again (pauses a run that trains)")
        self.origin_note = QLabel()
        self.origin_note.setWordWrap(True)
        top = QHBoxLayout()
        for w in (QLabel("Image"), self.source, self.class_choice, QLabel("#"), self.image_number, self.reload_button):
            top.addWidget(w)
        top.addWidget(self.origin_note, 1)

        self.back_button = QPushButton("◀")
        self.back_button.setToolTip("Previous stop (←); Shift+← the previous cell")
        self.forward_button = QPushButton("▶")
        self.forward_button.setToolTip("Next stop (→); Shift+→ the next cell")
        self.timeline = QListWidget()
        self.timeline.setFlow(QListWidget.Flow.LeftToRight)
        self.timeline.setWrapping(False)
        self.timeline.setFixedHeight(34)
        self.timeline.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.timeline.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # follows the stop
        self.timeline.setSpacing(1)
        self.stop_label = QLabel()
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Step through the cells, then the next stops, on its own (Space)")
        self.speed = QComboBox()
        for label, per_second in (("1 cell/s", 1), ("4 cells/s", 4), ("16 cells/s", 16), ("60 cells/s", 60)):
            self.speed.addItem(label, per_second)
        self.speed.setCurrentIndex(1)
        self.speed.setToolTip("How fast Play steps")
        self.player = QTimer(self)
        bar = QHBoxLayout()
        bar.addWidget(self.back_button)
        bar.addWidget(self.timeline, 1)
        bar.addWidget(self.forward_button)
        bar.addWidget(self.stop_label)
        bar.addWidget(self.play_button)
        bar.addWidget(self.speed)

        self.canvas = VolumeCanvas()
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.ledger = LedgerTable()
        self.check_button = QPushButton("Check this gradient numerically")
        self.check_button.setToolTip("Compare the backward pass's number with a centred difference of the loss "
                                     "(float64, four forward passes)")
        self.check_label = QLabel()
        self.check_label.setWordWrap(True)
        checks = QHBoxLayout()
        checks.addWidget(self.check_button)
        checks.addWidget(self.check_label, 1)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.heading)
        side_layout.addWidget(self.ledger, 1)
        side_layout.addLayout(checks)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([650, 630])
        self.splitter = splitter
        self.caption = QLabel("Press → to step forward through the network.")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.caption)

        for keys, slot in (("Right", self.next_stop), ("Left", self.previous_stop), ("Shift+Right", self.next_position),
                           ("Shift+Left", self.previous_position), ("Home", self.first_stop), ("End", self.last_stop),
                           ("Space", self.toggle_play)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.back_button.clicked.connect(self.previous_stop)
        self.forward_button.clicked.connect(self.next_stop)
        self.timeline.currentRowChanged.connect(lambda row: row >= 0 and self.go_to(row))
        self.source.currentIndexChanged.connect(self._source_changed)
        self.class_choice.currentIndexChanged.connect(lambda _: self._image_changed())
        self.image_number.valueChanged.connect(lambda _: self._image_changed())
        self.reload_button.clicked.connect(self.reload)
        self.ledger.term_selected.connect(self._highlight_term)
        self.check_button.clicked.connect(self.check_gradient)
        self.play_button.toggled.connect(self._play_toggled)
        self.speed.currentIndexChanged.connect(lambda _: self._play_toggled(self.play_button.isChecked()))
        self.player.timeout.connect(self._play_step)
        self.canvas.plots.scene().sigMouseClicked.connect(self._clicked)
        session.run_finished.connect(self._weights_changed)
        session.run_started.connect(self._weights_changed)
        self._fill_classes()

    # -- public API -------------------------------------------------------------------------------------------
    @property
    def stops(self) -> list[Stop]:
        self._ensure()
        return self.run.stops if self.run else []

    @property
    def current_stop(self) -> Stop | None:
        stops = self.stops
        return stops[self.stop_index] if stops else None

    def reload(self, wait: bool | None = None) -> None:
        """Trace the chosen image again with the session's current weights (pausing a training run).

        A small network is traced at once; a big one (``wait`` None and more than SYNC_MACS
        multiply-adds, or ``wait`` False) on a thread of its own while the window goes on, and the
        stops appear when it is done (``traced`` is emitted either way)."""
        if self.session.running:
            self.session.pause()
        try:
            weights = self.session.current_weights()
            spec = self.session.network()
            x, label, classes, image_text = self._image(spec)
            macs = analyze(spec).total_macs
        except (ValueError, TimeoutError) as exc:
            self._failed(exc)
            return
        self._ticket += 1
        job = (self._ticket, spec, image_text, (spec, weights, x, label, classes, TrainConfig().lr))
        if wait or (wait is None and macs <= SYNC_MACS):
            self._on_traced(job, *_trace(job[3]))
            return
        self.tracing = True
        self.caption.setText(f"Tracing {spec.name or 'the network'} on one image in float64, forward and backward "
                             f"({macs / 1e9:.1f} G multiply-adds each way) …")
        threading.Thread(target=lambda: self._tracer.done.emit(job, *_trace(job[3])), daemon=True).start()

    def _on_traced(self, job, run, error) -> None:
        ticket, spec, image_text, _ = job
        if ticket != self._ticket:
            return  # a newer image or newer weights were asked for meanwhile
        self.tracing = False
        if error is not None:
            self._failed(error)
            return
        previous = self.current_stop if self.run else None
        self.run, self.image_text, self._network_key = run, image_text, spec
        self.origin_note.setText(ORIGIN_NOTES.get(self.session.weights_origin, ""))
        self.timeline.blockSignals(True)
        self.timeline.clear()
        for stop in run.stops:
            item = QListWidgetItem(stop.title)
            item.setBackground(QBrush(QColor(KIND_COLOURS[stop.kind])))
            item.setToolTip(f"{stop.kind} {stop.layer}".strip())
            self.timeline.addItem(item)
        self.timeline.blockSignals(False)
        self.stop_index = run.stops.index(previous) if previous in run.stops else 0
        self._arrive(keep_position=True)
        self.traced.emit()

    def _failed(self, error: Exception) -> None:
        self.run, self.tracing = None, False
        self.timeline.clear()
        self.caption.setText(f"Cannot step this network: {error}")
        self.traced.emit()

    def set_image(self, source: str, number: int, class_index: int | None = None) -> None:
        """Step test image ``number`` of class ``class_index`` (any class: None) of ``source``
        (``synthetic`` or ``cifar10``)."""
        self.source.blockSignals(True)
        self.source.setCurrentIndex(max(0, self.source.findData(source)))
        self.source.blockSignals(False)
        self._fill_classes()
        self.class_choice.blockSignals(True)
        self.class_choice.setCurrentIndex(0 if class_index is None else class_index + 1)
        self.class_choice.blockSignals(False)
        self.image_number.blockSignals(True)
        self.image_number.setValue(number)
        self.image_number.blockSignals(False)
        self.reload()

    def go_to(self, index: int) -> None:
        self._ensure()
        if self.run is None:
            return
        index = max(0, min(index, len(self.run.stops) - 1))
        if index != self.stop_index:
            self.stop_index = index
            self._arrive(keep_position=False)

    def next_stop(self) -> None:
        self.go_to(self.stop_index + 1)

    def previous_stop(self) -> None:
        self.go_to(self.stop_index - 1)

    def first_stop(self) -> None:
        self.go_to(0)

    def last_stop(self) -> None:
        self._ensure()
        if self.run:
            self.go_to(len(self.run.stops) - 1)

    def go_to_layer(self, layer: str, kind: str = "forward", part: str = "") -> None:
        """The ``kind`` (forward or backward) stop of ``layer`` (``part="weights"``: its weight gradient)."""
        for i, stop in enumerate(self.stops):
            if stop.layer == layer and stop.kind == kind and stop.part == part:
                self.go_to(i)
                return
        raise KeyError(f"no {kind} {part} stop for layer {layer!r}".replace("  ", " "))

    def set_position(self, position: tuple[int, ...]) -> None:
        shape = self._shape()
        if shape and len(position) == len(shape) and all(0 <= p < s for p, s in zip(position, shape)):
            self.position = tuple(int(p) for p in position)
            self._render()

    def next_position(self) -> None:
        self._step_position(+1)

    def check_target(self) -> tuple[str, tuple[int, ...]] | None:
        """What the gradient check would check at this stop: ("input", (0, c, y, x)) at the input,
        (``conv1.weight``, (k, c, i, j)) at a weight-gradient stop, the first number of the chosen
        parameter at the update; None elsewhere."""
        stop = self.current_stop
        if stop is None:
            return None
        if stop.kind == "input":
            return "input", (0, *self.position)
        if stop.part == "weights":
            return f"{stop.layer}.weight", tuple(self.position)
        if stop.kind == "update" and self.explanation is not None:
            name = self.explanation.name
            layer, key = name.rsplit(".", 1)
            return name, (0,) * self.run.trace[layer].params[key].ndim
        return None

    def check_gradient(self) -> None:
        """Check the gradient of ``check_target()`` by centred differences, on a thread; the result
        is shown beside the button and emitted as ``gradient_checked``."""
        target = self.check_target()
        if target is None or self.run is None:
            return
        from convviz.engine.explain_step import gradient_check

        run = self.run
        self.check_button.setEnabled(False)
        self.check_label.setText("checking …")

        def work():
            try:
                result = gradient_check(run.net, run.trace, [run.label], *target)
            except (ValueError, KeyError) as exc:
                result = exc
            self._tracer.checked.emit(run, result)

        threading.Thread(target=work, daemon=True).start()

    def _on_checked(self, run, result) -> None:
        self.check_button.setEnabled(self.check_target() is not None)
        if run is not self.run:
            return
        if isinstance(result, Exception):
            self.check_label.setText(f"Cannot check: {result}")
            return
        self.last_check = result
        verdict = "agree" if result.rel_error < 1e-6 else "DISAGREE"
        self.check_label.setText(
            f"{result.what}{index(result.index)}: backward {result.analytic:.8g}, centred difference "
            f"{result.numeric:.8g}; relative error {result.rel_error:.1e}: they {verdict}")
        self.gradient_checked.emit(result)

    def toggle_play(self) -> None:
        """Space: play (every cell of each stop in turn, at the chosen speed) or pause."""
        self.play_button.toggle()

    def previous_position(self) -> None:
        self._step_position(-1)

    def _play_toggled(self, playing: bool) -> None:
        self.player.stop()
        if playing:
            self.player.start(round(1000 / self.speed.currentData()))

    def _play_step(self) -> None:
        """One cell on; after a stop's last cell, the next stop; at the update, stop playing."""
        shape = self._shape()
        last = len(self.position) == len(shape) and shape and all(p == s - 1 for p, s in zip(self.position, shape))
        if not shape or last:
            if self.run is None or self.stop_index >= len(self.run.stops) - 1:
                self.play_button.setChecked(False)
                return
            self.next_stop()
        else:
            self.next_position()

    def _position_panel(self):
        """The panel whose cells are the positions of the current stop (None: not on a panel)."""
        stop = self.current_stop
        if stop is None or stop.kind == "update" or stop.part == "weights":
            return None
        if stop.kind in ("input", "loss") or isinstance(self.explanation, (MaxPoolBackward, AvgPoolBackward)):
            return self.canvas.left
        return self.canvas.right

    def _clicked(self, event) -> None:
        """A click on a cell of the volume the stop steps through selects it."""
        panel = self._position_panel()
        cell = panel.cell_at(event.scenePos()) if panel is not None else None
        if cell is None:
            return
        shape = self._shape()
        self.set_position(cell[:1] if len(shape) == 1 else cell)

    # -- images and weights ------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.run is None or self._network_key != self.session.network():
            self.reload()

    def _ensure(self) -> None:
        if self.run is None and not self.tracing:
            self.reload()

    def _weights_changed(self) -> None:
        if self.isVisible():
            self.reload()
        else:
            self.run = None  # traced again when next shown

    def _dataset(self):
        if self.source.currentData() == "cifar10":
            if self._cifar is None:
                from convviz.data import DataError, load_dataset

                folder = self.session.data_folder
                try:
                    self._cifar = load_dataset("cifar10", validation=0, **({"cache": folder} if folder else {}))
                except DataError as exc:
                    self.source.setCurrentIndex(0)
                    self.caption.setText(f"CIFAR-10 is not here yet ({exc}); showing a synthetic image.")
                    return synthetic_images()
            return self._cifar
        return synthetic_images()

    def _fill_classes(self) -> None:
        """The class choice of the chosen source (the synthetic set is only made once an image is needed)."""
        from convviz.data import SYNTHETIC_CLASSES

        names = self._dataset().class_names if self.source.currentData() == "cifar10" else SYNTHETIC_CLASSES
        current = self.class_choice.currentIndex()
        self.class_choice.blockSignals(True)
        self.class_choice.clear()
        self.class_choice.addItem("any class")
        self.class_choice.addItems(list(names))
        self.class_choice.setCurrentIndex(max(0, current) if current < self.class_choice.count() else 0)
        self.class_choice.blockSignals(False)

    def _source_changed(self) -> None:
        self._fill_classes()
        self._image_changed()

    def _image_changed(self) -> None:
        if self.run is not None or self.isVisible():
            self.reload()

    def _image(self, spec):
        """(x (1, C, H, W), label, class names, a description) of the chosen image, fitted to ``spec``'s input."""
        from convviz.data import fit_image

        data = self._dataset()
        test = data.split("test")
        wanted = self.class_choice.currentIndex() - 1
        indices = np.arange(len(test)) if wanted < 0 else np.flatnonzero(test.labels == wanted)
        if not len(indices):
            raise ValueError(f"the {data.name} test set has no image of class {data.class_names[wanted]}")
        number = min(self.image_number.value(), len(indices) - 1)
        i = int(indices[number])
        pixels = data.raw_image("test", i)
        c, h, w = spec.input.chw()
        text = f"{data.name} test image {i} ({data.class_names[data.label('test', i)]})"
        if pixels.shape != (h, w, c):
            pixels = fit_image(pixels, h, w, c)
            text += f", fitted to {w}×{h}×{c}"
        if c != len(data.normalization.mean):
            x = (pixels.transpose(2, 0, 1)[None] / 255.0 - 0.5) / 0.25
        else:
            x = data.normalization.apply(pixels.transpose(2, 0, 1)[None])
        return x.astype(np.float64), data.label("test", i), data.class_names, text

    # -- moving ---------------------------------------------------------------------------------------------
    def _shape(self) -> tuple[int, ...]:
        stop = self.current_stop
        return self.run.position_shape(stop) if stop else ()

    def _step_position(self, step: int) -> None:
        shape = self._shape()
        if not shape:
            return
        flat = int(np.ravel_multi_index(self.position, shape)) if len(self.position) == len(shape) else 0
        flat = (flat + step) % int(np.prod(shape))
        self.position = tuple(int(i) for i in np.unravel_index(flat, shape))
        self._render()

    def _arrive(self, keep_position: bool) -> None:
        shape = self._shape()
        ok = keep_position and len(self.position) == len(shape) and all(0 <= p < s for p, s in zip(self.position, shape))
        if not ok:
            self.position = (0,) * len(shape)
        self.timeline.blockSignals(True)
        self.timeline.setCurrentRow(self.stop_index)
        self.timeline.blockSignals(False)
        self.timeline.scrollToItem(self.timeline.item(self.stop_index))
        stop = self.current_stop
        self.stop_label.setText(f"{self.stop_index + 1} / {len(self.run.stops)}")
        self._render()
        self.stop_changed.emit(self.stop_index)
        self.current_layer_changed.emit(stop.layer)

    # -- drawing --------------------------------------------------------------------------------------------
    def _render(self) -> None:
        run, stop = self.run, self.current_stop
        if run is None or stop is None:
            return
        self.explanation = run.explain(stop, self.position)
        checkable = self.check_target() is not None
        self.check_button.setVisible(checkable)
        self.check_label.setVisible(checkable)
        if self._term is None:
            self.check_label.setText("")
        left, right = run.volumes(stop)
        self.canvas.set_scale(left, right)
        draw = {"input": self._draw_input, "forward": self._draw_forward, "loss": self._draw_loss,
                "backward": self._draw_backward, "update": self._draw_update}[stop.kind]
        draw(stop, left, right)
        self.position_changed.emit(self.position)

    def _key(self, *parts):
        """What a panel shows at this stop, so moving the cell does not redraw it."""
        return (self._ticket, self.stop_index, *parts)

    def _pad_of(self, stop: Stop):
        layer = self.run.layer(stop)
        return layer.geometry.pad if isinstance(layer, W.WindowLayer) else ((0, 0), (0, 0))

    def _select_cell(self, panel, position) -> None:
        """The selected cell outlined in black, with a wider ring around it so a small cell is found."""
        cell = tuple(position) + (0,) * (3 - len(position))
        if not panel.zoomed:
            panel.zoom_to(cell[0], cell[1], cell[2], margin=2)
        panel.outline(cell[0], cell[1], cell[2], colour="#202124", width=2.5)
        if panel.shape[1] * panel.shape[2] > 1:
            panel.outline(cell[0], cell[1] - 1, cell[2] - 1, 3, 3, colour="#20212480", width=1.0)

    def _draw_input(self, stop, volume, _):
        c, y, x = self.position
        self.canvas.left.show(volume, "the input image, normalised (one slice per channel)", focus=c,
                              key=self._key("left"))
        self.canvas.right.clear("")
        self._select_cell(self.canvas.left, self.position)
        self.heading.setText(f"<b>Input</b>: {self.image_text}, label <b>{self.run.class_name(self.run.label)}</b>")
        self.ledger.show_rows(("", "what", "value"), [
            Row(("", f"x[{c}, {y}, {x}]", number(float(volume[c, y, x]))), "total"),
            Row(("", "pixels", "(p/255 − mean[c]) / std[c]"), "term"),
        ])
        self.caption.setText("→ steps into the first layer; Shift+→ moves the selected cell.")

    def _draw_forward(self, stop, left, right):
        run, e = self.run, self.explanation
        layer = run.layer(stop)
        cell = tuple(self.position) + (0,) * (3 - len(self.position))
        in_shape, out_shape = np.shape(left), np.shape(right)
        self.canvas.left.show(left, f"input {self._shape_text(in_shape)}", self._pad_of(stop),
                              focus=cell[0] if in_shape == out_shape or isinstance(layer, W.Pool) else 0,
                              key=self._key("left"))
        self.canvas.right.show(right, f"output {self._shape_text(out_shape)} of {stop.layer}", focus=cell[0],
                               key=self._key("right"))
        self._select_cell(self.canvas.right, self.position)
        if type(layer) is W.Conv:
            self._draw_conv_forward(stop, layer, e)
        elif isinstance(e, FCOutputExplanation):
            self._draw_fc_forward(stop, e, in_shape)
        elif isinstance(e, BatchNormOutputExplanation):
            self._select_cell(self.canvas.left, self.position)
            self.ledger.show_rows(("", "what", "value"), [
                Row(("", f"x{index(self.position)}", number(e.x)), "term"),
                Row(("", f"μ: running mean of slice {e.cell[0]}", number(e.mean)), "term"),
                Row(("", f"σ²: running variance of slice {e.cell[0]}", number(e.var)), "term"),
                Row(("", "ε", f"{e.eps:g}"), "term"),
                Row(("", "x̂ = (x − μ)/√(σ² + ε)", number(e.xhat)), "sum"),
                Row(("", "γ (weight)", number(e.gamma)), "term"),
                Row(("", "β (bias)", number(e.beta)), "term"),
                Row(("", "= output γ·x̂ + β", number(e.result)), "total"),
                Row(("", "engine", number(e.engine)), "check" if e.matches else "wrong")])
            self.heading.setText(f"<b>{stop.layer}</b> (batch norm) forward: output {index(self.position)} = "
                                 f"<b>{number(e.result)}</b>, normalised with the running statistics (evaluation)")
            self.caption.setText(e.text + ".")
        elif isinstance(layer, W.Pool):
            self._draw_pool_forward(stop, layer, e)
        else:
            if in_shape == out_shape:
                self._select_cell(self.canvas.left, self.position)
            value = float(np.asarray(right)[tuple(self.position)])
            self.heading.setText(f"<b>{stop.layer}</b> ({layer.spec.TITLE}) forward")
            rows = [Row(("", f"output {index(self.position)}", number(value)), "total")]
            if np.shape(left) == np.shape(right):
                rows.insert(0, Row(("", f"input {index(self.position)}", number(float(np.asarray(left)[tuple(self.position)]))), "term"))
                changed = int(np.sum(np.asarray(left) != np.asarray(right)))
                rows.append(Row(("", "cells changed", f"{changed} of {np.size(left)}"), "subtotal"))
            self.ledger.show_rows(("", "cell", "value"), rows)
            self.caption.setText(f"{stop.layer}: {self._shape_text(in_shape)} → {self._shape_text(out_shape)}.")

    def _draw_conv_forward(self, stop, layer, e):
        geo = layer.geometry
        rows, cols = e.rows, e.cols
        dh, dw = geo.dilation
        terms = ledger_terms(self.run.net, e)
        term = terms[self._term] if self._term is not None and self._term < len(terms) else None
        zoom_channel = term.left[1][0] if term is not None else 0
        self.canvas.left.zoom_to(zoom_channel, int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1),
                                 int(cols[-1] - cols[0] + 1))
        for c in range(e.window.shape[0]):
            self.canvas.left.outline(c, int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1),
                                     colour="#ff8c00", width=2.5)
            if dh > 1 or dw > 1:  # the taps a dilated filter reads, the cells between them skipped
                for r in rows:
                    for col in cols:
                        self.canvas.left.outline(c, int(r), int(col), colour="#ff8c00", width=1.0)
        activation = None
        nxt = self.run.stops[self.stop_index + 1] if self.stop_index + 1 < len(self.run.stops) else None
        if nxt is not None and nxt.kind == "forward" and nxt.type in ACTIVATIONS:
            activation = (nxt.layer, float(as_4d(self.run.trace[nxt.layer].output)[(0, e.d, e.y, e.x)]))
        if term is not None:
            self.canvas.left.outline(*term.left[1], colour="#1a73e8", width=3.0)
        else:  # a new cell: the ledger again (a click on a term keeps it as it is)
            has_bias = "bias" in self.run.trace[stop.layer].params
            self.ledger.show_rows(CONV_HEADERS, conv_output_rows(terms, e.bias if has_bias else None, e.result,
                                                                 e.engine, e.matches, activation))
        pads = int(e.padding.sum()) * e.window.shape[0]
        self.heading.setText(
            f"<b>{stop.layer}</b> forward: output <b>[d={e.d}, y={e.y}, x={e.x}]</b> = Σ x · w<sub>{e.d}</sub> "
            f"+ b<sub>{e.d}</sub> over {e.products.size} terms ({pads} read zero padding) = <b>{number(e.result)}</b>; "
            f"the engine: {number(e.engine)} ({'equal' if e.matches else 'DIFFERENT'})")
        self.caption.setText(self._formula(geo) + " The orange box is the receptive field on every input slice; "
                             "hatched cells are zero padding.")

    def _draw_fc_forward(self, stop, e, in_shape):
        terms = ledger_terms(self.run.net, e)
        term = terms[self._term] if self._term is not None and self._term < len(terms) else None
        if term is not None:  # the clicked term's input cell (x is flattened in (C, H, W) order)
            cell = np.unravel_index(term.left[1][0], in_shape)
            self._select_cell(self.canvas.left, tuple(int(i) for i in cell))
        else:
            has_bias = "bias" in self.run.trace[stop.layer].params
            self.ledger.show_rows(FC_HEADERS, conv_output_rows(terms, e.bias if has_bias else None, e.result, e.engine,
                                                               e.matches, channels=False, bias_label="+ bias b[o]"))
        unit = self.run.class_name(e.o) if self._is_last_fc(stop) else f"unit {e.o}"
        self.heading.setText(
            f"<b>{stop.layer}</b> forward: output <b>{unit}</b> = Σ x · W[{e.o}] + b[{e.o}] over {e.inputs.size} "
            f"inputs = <b>{number(e.result)}</b>; the engine: {number(e.engine)} ({'equal' if e.matches else 'DIFFERENT'})")
        self.caption.setText("Every input is connected to every output: one row of W per output unit. "
                             "Click a term to find its input.")

    def _is_last_fc(self, stop) -> bool:
        forward = [s for s in self.run.stops if s.kind == "forward" and s.type == "fc"]
        return bool(forward) and forward[-1] == stop and self.run.trace.scores.shape[1] == len(self.run.class_names)

    def _formula(self, geo) -> str:
        parts = []
        for axis, n, f, s, d, (before, after), out in (
                ("W", geo.in_w, geo.taps_w, geo.stride[1], geo.dilation[1], geo.pad[1], geo.out_w),
                ("H", geo.in_h, geo.taps_h, geo.stride[0], geo.dilation[0], geo.pad[0], geo.out_h)):
            span = d * (f - 1) + 1
            pad = f"2·{before}" if before == after else f"{before}+{after}"
            parts.append(f"{axis}: ({n} − {span} + {pad})/{s} + 1 = {out}" + (f" (F′ = {d}·({f} − 1) + 1 = {span})" if d > 1 else ""))
        return "Output size (W − F′ + 2P)/S + 1 — " + "; ".join(parts) + "."

    def _draw_pool_forward(self, stop, layer, e):
        rows, cols = e.rows, e.cols
        self.canvas.left.zoom_to(e.c, int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))
        self.canvas.left.outline(e.c, int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1),
                                 colour="#ff8c00", width=2.5)
        if e.winner_cell is not None:
            self.canvas.left.outline(e.c, *e.winner_cell, colour="#d93025", width=3.0)
        self.ledger.show_rows(("", "input x[c, y, x]", "x", ""), self._window_rows(e) + [
            Row(("", "= output", number(e.result), ""), "total"),
            Row(("", "engine", number(e.engine), ""), "check" if e.matches else "wrong")])
        how = "the largest value (red)" if e.kind == "max" else "the mean (padding counts as 0)"
        self.heading.setText(f"<b>{stop.layer}</b> forward: output <b>[c={e.c}, y={e.y}, x={e.x}]</b> is {how} "
                             f"of its {e.window.size}-cell window = <b>{number(e.result)}</b>")
        self.caption.setText(e.text + ".")

    def _window_rows(self, e, upstream: float | None = None) -> list[Row]:
        rows = []
        for (p, q), value in np.ndenumerate(e.window):
            r, c = int(e.rows[p]), int(e.cols[q])
            won = e.winner == (p, q)
            text = "padding" if e.padding[p, q] else number(float(value))
            note = "← max" if won else ""
            if upstream is not None:
                note = f"gets {number(upstream)}" if won else "gets 0"
            rows.append(Row((str(p * e.window.shape[1] + q + 1), index((e.c, r, c)), text, note),
                            "winner" if won else ("pad" if e.padding[p, q] else "term")))
        return rows

    def _draw_loss(self, stop, *_):
        e = self.explanation
        k = self.position[0] if self.position else 0
        self.canvas.left.show(e.scores, "scores s (logits), one cell per class", key=self._key("left"))
        self.canvas.right.show(e.gradient, "dL/ds = p − onehot(label)", key=self._key("right"))
        self.canvas.set_scale(e.scores, e.gradient)
        self._select_cell(self.canvas.left, (k,))
        self._select_cell(self.canvas.right, (k,))
        rows = []
        for i, (s, p, g) in enumerate(zip(e.scores, e.probabilities, e.gradient)):
            style = "winner" if i == e.label else ("subtotal" if i == k else "term")
            rows.append(Row((str(i), self.run.class_name(i), number(float(s)), f"{p:.4%}", number(float(g))), style))
        rows.append(Row(("", "loss −log p_label", "", "", f"{e.loss:.6g}"), "total"))
        rows.append(Row(("", "engine dL/ds matches", "", "", "yes" if e.matches else "NO"), "check" if e.matches else "wrong"))
        self.ledger.show_rows(("", "class", "score s", "p", "p − onehot"), rows)
        self.heading.setText(f"<b>Softmax and loss</b>: p = e<sup>s</sup> / Σ e<sup>s</sup>; label "
                             f"<b>{self.run.class_name(e.label)}</b> has p = {e.probabilities[e.label]:.2%}, "
                             f"the loss −log p = <b>{e.loss:.4g}</b>")
        self.caption.setText(e.text + ".")

    def _draw_weight_grad(self, stop, upstream, inputs):
        """dW[k, c, i, j] = Σ over every output position (y, x) of dY[k, y, x] · X[c, y·S + i·d, x·S + j·d]."""
        e, layer = self.explanation, self.run.layer(stop)
        geo = layer.geometry
        (sh, sw), (dh, dw), ((top, _), (left, _)) = geo.stride, geo.dilation, geo.pad
        self.canvas.left.show(upstream, f"dL/d output {self._shape_text(np.shape(upstream))} arriving: slice {e.k} "
                              "is every position's dY", focus=e.k, key=self._key("left"))
        self.canvas.right.show(inputs, f"the input {self._shape_text(np.shape(inputs))} of {stop.layer}: slice {e.c}, "
                               f"the cells tap ({e.p}, {e.q}) reads", self._pad_of(stop), focus=e.c, key=self._key("right"))
        Ho, Wo = upstream.shape[1:]
        self.canvas.left.zoom_to(e.k, 0, 0, min(Ho, 5), min(Wo, 5), margin=0)
        self.canvas.left.outline(e.k, 0, 0, Ho, Wo, colour="#ff8c00", width=2.5)
        r0, c0 = e.p * dh - top, e.q * dw - left
        self.canvas.right.zoom_to(e.c, r0, c0, min(5 * sh, Ho * sh), min(5 * sw, Wo * sw), margin=0)
        for y in range(min(Ho, 64)):
            for x in range(min(Wo, 64)):
                self.canvas.right.outline(e.c, r0 + y * sh, c0 + x * sw, colour="#ff8c00", width=1.0)
        rows, running = [], 0.0
        for i, t in enumerate(ledger_terms(self.run.net, e)):
            running += t.product
            rows.append(Row((str(i + 1), index(t.left[1][1:]) + (" pad" if t.padding else ""), number(t.left[2]),
                             index(t.right[1][1:]), number(t.right[2]), number(t.product), number(running)),
                            "pad" if t.padding else "term", i))  # one image: its index n (0) left out
        rows.append(Row(("", "= Σ over positions", "", "", "", "", number(e.total)), "total"))
        rows.append(Row(("", "engine dW", "", "", "", "", number(e.engine)), "check" if e.matches else "wrong"))
        record = self.run.trace[stop.layer]
        if "bias" in record.param_grads:
            rows.append(Row(("", f"bias: db[{e.k}] = Σ dY[{e.k}]", "", "", "", "",
                             number(float(record.param_grads["bias"][e.k]))), "sum"))
        self.ledger.show_rows(("#", "x[c,y,x]", "x", "dY[k,y,x]", "dY", "x·dY", "running Σ"), rows)
        self.heading.setText(
            f"<b>{stop.layer}</b> weight gradient: dW[{e.k}, {e.c}, {e.p}, {e.q}] = Σ over all {Ho}×{Wo} output "
            f"positions of x · dY = <b>{number(e.total)}</b>; the engine: {number(e.engine)} "
            f"({'equal' if e.matches else 'DIFFERENT'}). One weight is used at every position, so its gradient "
            "adds up what every position says.")
        self.caption.setText("Shift+→ steps through the weights w[k, c, i, j]; the orange cells on the input are the "
                             f"ones weight ({e.p}, {e.q}) multiplied, one per output position.")

    def _draw_backward(self, stop, upstream, downstream):
        run, e = self.run, self.explanation
        if stop.part == "weights":
            self._draw_weight_grad(stop, upstream, downstream)
            return
        layer = run.layer(stop)
        self.canvas.left.show(upstream, f"dL/d output {self._shape_text(np.shape(upstream))} arriving",
                              focus=self.position[0] if isinstance(e, (MaxPoolBackward, AvgPoolBackward)) else 0,
                              key=self._key("left"))
        self.canvas.right.show(downstream, f"dL/d input {self._shape_text(np.shape(downstream))} sent down",
                               self._pad_of(stop) if isinstance(e, (ConvBackward, AvgPoolBackward)) else ((0, 0), (0, 0)),
                               focus=self.position[0], key=self._key("right"))
        if isinstance(e, AvgPoolBackward):
            w = e.window
            self._select_cell(self.canvas.left, self.position)
            span = (int(w.rows[0]), int(w.cols[0]), int(w.rows[-1] - w.rows[0] + 1), int(w.cols[-1] - w.cols[0] + 1))
            self.canvas.right.zoom_to(w.c, *span)
            self.canvas.right.outline(w.c, *span, colour="#ff8c00", width=2.5)
            rows = [Row((str(i + 1), index((w.c, int(w.rows[p]), int(w.cols[q]))) + (" pad" if w.padding[p, q] else ""),
                         f"gets {number(e.share)}" + (" (dropped)" if w.padding[p, q] else "")),
                        "pad" if w.padding[p, q] else "term")
                    for i, (p, q) in enumerate(np.ndindex(w.window.shape))]
            rows.append(Row(("", "sharing = engine dX", "yes" if e.sharing.matches else "NO"),
                            "check" if e.sharing.matches else "wrong"))
            self.ledger.show_rows(("", "input x[c,y,x]", "gradient"), rows)
            self.heading.setText(
                f"<b>{stop.layer}</b> backward: dY[{w.c}, {w.y}, {w.x}] = <b>{number(e.upstream)}</b> is shared equally "
                f"by the {w.window.size} cells of its window: {number(e.upstream)}/{w.window.size} = "
                f"<b>{number(e.share)}</b> each (an average takes every cell in equal part)")
            self.caption.setText(e.sharing.text + ".")
        elif isinstance(e, MaxPoolBackward):
            w = e.window
            self._select_cell(self.canvas.left, self.position)
            self.canvas.right.zoom_to(w.c, int(w.rows[0]), int(w.cols[0]), int(w.rows[-1] - w.rows[0] + 1),
                                      int(w.cols[-1] - w.cols[0] + 1))
            self.canvas.right.outline(w.c, int(w.rows[0]), int(w.cols[0]), int(w.rows[-1] - w.rows[0] + 1),
                                      int(w.cols[-1] - w.cols[0] + 1), colour="#ff8c00", width=2.5)
            self.canvas.right.outline(w.c, *w.winner_cell, colour="#d93025", width=3.0)
            ties = (f" {w.ties} cells tie for the maximum: the engine sends it to the first in row-major order."
                    if w.ties > 1 else "")
            self.heading.setText(
                f"<b>{stop.layer}</b> backward: dY[{w.c}, {w.y}, {w.x}] = <b>{number(e.upstream)}</b> goes to the cell "
                f"that won the forward max, input [{w.c}, {w.winner_cell[0]}, {w.winner_cell[1]}]; the other "
                f"{w.window.size - 1} cells of the window get 0 from it.{ties}")
            self.ledger.show_rows(("", "input x[c, y, x]", "forward x", "gradient"), self._window_rows(w, e.upstream) + [
                Row(("", "routing = engine dX", "", "yes" if e.routing.matches else "NO"),
                    "check" if e.routing.matches else "wrong")])
            self.caption.setText(e.routing.text + ".")
        elif isinstance(e, ConvBackward):
            s = e.scatter
            self._select_cell(self.canvas.right, self.position)
            if len(s.sources):
                k0 = int(s.sources[np.argmax(np.abs(s.upstream))][0])  # the slice with the largest dY reaching it
                ys, xs = s.sources[s.sources[:, 0] == k0][:, 1], s.sources[s.sources[:, 0] == k0][:, 2]
                self.canvas.left.zoom_to(k0, int(ys.min()), int(xs.min()), int(ys.max() - ys.min() + 1),
                                         int(xs.max() - xs.min() + 1))
            for k, y, x in {(int(k), int(y), int(x)) for k, y, x, _, _ in s.sources}:
                self.canvas.left.outline(k, y, x, colour="#ff8c00", width=2.0)
            self.ledger.show_rows(SCATTER_HEADERS, scatter_rows(ledger_terms(run.net, s), s.total, e.gather.total, s.engine,
                                                                s.matches and e.gather.matches))
            self.heading.setText(
                f"<b>{stop.layer}</b> backward: dX[{s.c}, {s.i}, {s.j}] = Σ dY · w over the outputs whose window "
                f"covers it (orange) = <b>{number(s.total)}</b>; as a gather, a full convolution of the padded dY with "
                f"the filters rotated 180°: {number(e.gather.total)}")
            self.caption.setText(e.whole.text + ".")
        else:
            self._select_cell(self.canvas.right, self.position)
            if np.shape(upstream) == np.shape(downstream):
                self._select_cell(self.canvas.left, self.position)
            value = float(np.asarray(downstream)[tuple(self.position)])
            self.heading.setText(f"<b>{stop.layer}</b> ({layer.spec.TITLE}) backward")
            rows = [Row(("", f"dL/d input {index(self.position)}", number(value)), "total")]
            if np.shape(upstream) == np.shape(downstream):  # element-wise: dX = dY · f′(x)
                dy = float(np.asarray(upstream)[tuple(self.position)])
                x = float(np.asarray(run.trace[stop.layer].input[0])[tuple(self.position)])
                rows[:0] = [Row(("", f"dL/d output {index(self.position)}", number(dy)), "term"),
                            Row(("", "forward input x", number(x)), "term")]
                if stop.type == "relu":
                    rows.append(Row(("", "x > 0: the gate", "open: dY passes" if x > 0 else "shut: 0"), "sum"))
                elif dy != 0:
                    rows.append(Row(("", "f′(x) = dX / dY", number(value / dy)), "sum"))
                gated = int(np.sum((np.asarray(upstream) != 0) & (np.asarray(downstream) == 0)))
                rows.append(Row(("", "cells the layer stopped", f"{gated} of {np.size(upstream)}"), "sum"))
            self.ledger.show_rows(("", "cell", "value"), rows)
            self.caption.setText(f"{stop.layer} sends dL/d input {self._shape_text(np.shape(downstream))} to the layer before.")

    def _draw_update(self, stop, *_):
        chosen = self.explanation
        before, after = self.run.update_volumes(chosen.name)
        self.canvas.set_scale(before, after)
        self.canvas.left.show(before, f"{chosen.name} W before", key=self._key("left", chosen.name))
        self.canvas.right.show(after, f"W − lr·dW after (lr = {chosen.lr:g})", key=self._key("right", chosen.name))
        self._select_cell(self.canvas.left, (0,) * before.ndim)
        self._select_cell(self.canvas.right, (0,) * after.ndim)
        rows = []
        for name in self.run.update_names():
            u = self.run.update(name)
            style = "winner" if name == chosen.name else "term"
            ratio = f"{u.ratio:.2e}" if np.isfinite(u.ratio) else "— (W = 0)"
            rows.append(Row((name, f"{u.weight_norm:.4g}", f"{u.grad_norm:.4g}", ratio), style))
        self.ledger.show_rows(("parameter", "‖W‖", "‖dW‖", "lr·‖dW‖/‖W‖"), rows)
        w, dw, new = chosen.first
        self.heading.setText(
            f"<b>Update</b> (plain SGD, lr = {chosen.lr:g}): {chosen.name}[first] {number(w)} − {chosen.lr:g} · "
            f"{number(dw)} = <b>{number(new)}</b>; the update/weight ratio of {chosen.name} is {chosen.ratio:.1e} "
            "(about 1e-3 is healthy)")
        self.caption.setText("Shift+→ picks the next parameter; momentum and Adam terms are not shown yet.")

    def _highlight_term(self, term: int) -> None:
        """A click on term ``term`` of a conv or FC ledger: its input cell outlined, in the zoom of its slice."""
        stop = self.current_stop
        if term < 0 or stop is None or stop.kind != "forward" or not isinstance(self.explanation, EXPLAINED_TERMS):
            return
        self._term = term
        self._render()
        self._term = None

    @staticmethod
    def _shape_text(shape) -> str:
        if len(shape) == 1:
            return f"1×1×{shape[0]}"
        c, h, w = shape
        return f"{w}×{h}×{c}"
