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

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from convviz.training.config import TrainConfig
from convviz.ui.session import RunSession
from convviz.ui.stepper.bars import ProbabilityBars
from convviz.ui.stepper.controls import StepControls
from convviz.ui.stepper.drawing import StopDrawing
from convviz.ui.stepper.drawing_backward import BackwardDrawing
from convviz.ui.stepper.drawing_blocks import BlockDrawing
from convviz.ui.stepper.drawing_field import FieldDrawing
from convviz.ui.stepper.drawing_slide import SlideDrawing
from convviz.ui.stepper.drawing_update import UpdateDrawing
from convviz.ui.stepper.images import ImageChoice, synthetic_images  # noqa: F401 (the Analyze workspace imports it from here)
from convviz.ui.stepper.jobs import BusyBar, Jobs
from convviz.ui.stepper.ledger import LedgerTable
from convviz.ui.stepper.stepping import StepRun, Stop
from convviz.ui.stepper.tracing import SYNC_MACS, StepTracing
from convviz.ui.stepper.volumes import VolumeCanvas


class StepWorkspaceView(StepTracing, StepControls, ImageChoice, StopDrawing, BackwardDrawing, BlockDrawing, UpdateDrawing,
                        FieldDrawing, SlideDrawing, QWidget):
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
        self._data_note = ""  # why the image is not from the source asked for
        self.pixels = None  # (pixels (H, W, C) uint8, mean, std per channel) of the image traced
        self._pixels = None
        self._cifar = None  # the CIFAR-10 data set once loaded
        self._network_key = None
        self._term: int | None = None  # the ledger term clicked, while it is drawn
        self._ticket = 0  # the newest trace asked for; older ones are dropped when they arrive
        self.jobs = Jobs(self)  # the trace, field, FC → CONV and gradient check of a big network, on threads
        self.sync_macs = SYNC_MACS  # more multiply-adds than this: slow work goes on a thread
        self._macs = 0  # the traced network's
        self._checking = None  # (run, layer) whose whole-image dX check runs on a thread
        self.last_check = None  # the newest GradientCheck shown
        self.learning_rate = TrainConfig().lr  # the next run's (set_learning_rate), when no run goes on
        self.config_note = ""
        self._lr_given = False
        self.optimizer_state = None  # the run's OptimizerState the update stop steps from (None: a first step)
        self._state_note = ""  # why there is none, when reading it failed

        self.source = QComboBox()
        self.source.addItem("Synthetic test image", "synthetic")
        self.source.addItem("CIFAR-10 test image", "cifar10")
        self.source.addItem("Image file…", "file")
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
        self.field_button = QPushButton("Receptive field")
        self.field_button.setCheckable(True)
        self.field_button.setToolTip("The selected cell's receptive field on the input and every earlier layer: the "
                                     "analytic box, and the cell's gradient from one backward pass")
        self.field_volume = 0  # which earlier volume the field view shows (0: the input)
        self.slide_button = QPushButton("FC → CONV")
        self.slide_button.setCheckable(True)
        self.slide_button.setToolTip("Convert the FC layers to convolutions and slide the network over a larger image "
                                     "in one pass: the class-score map")
        self.slide = None  # the SlideMap of the FC → CONV view, once made for this trace
        self.slide_cells = {}  # the newest SlideCell made, by (map, k, i, j)
        self.slide_text = ""
        bar = QHBoxLayout()
        bar.addWidget(self.back_button)
        bar.addWidget(self.timeline, 1)
        bar.addWidget(self.forward_button)
        bar.addWidget(self.stop_label)
        bar.addWidget(self.play_button)
        bar.addWidget(self.speed)
        bar.addWidget(self.field_button)
        bar.addWidget(self.slide_button)
        self.busy = BusyBar(self.jobs)
        bar.addWidget(self.busy)

        self.canvas = VolumeCanvas()
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.bars = ProbabilityBars()  # the softmax's probabilities, at the loss stop
        self.bars.hide()
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
        side_layout.addWidget(self.bars)
        side_layout.addWidget(self.ledger, 1)
        side_layout.addLayout(checks)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([615, 665])  # the ledger of a conv layer: seven columns of numbers, whole
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
        self.ledger.term_selected.connect(self._field_row)
        self.field_button.toggled.connect(self._field_toggled)
        self.slide_button.toggled.connect(self.show_slide)
        self.check_button.clicked.connect(self.check_gradient)
        self.play_button.toggled.connect(self._play_toggled)
        self.speed.currentIndexChanged.connect(lambda _: self._play_toggled(self.play_button.isChecked()))
        self.player.timeout.connect(self._play_step)
        self.canvas.plots.scene().sigMouseClicked.connect(self._clicked)
        session.run_finished.connect(self._weights_changed)
        session.weights_changed.connect(self._weights_changed)  # a run opened or weights imported
        session.run_started.connect(self._weights_changed)
        session.choices_changed.connect(self._config_changed)  # another optimizer for the next run
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

    def go_to(self, index: int) -> None:
        self._ensure()
        if self.run is None:
            return
        index = max(0, min(index, len(self.run.stops) - 1))
        if index != self.stop_index or self.in_slide_view():
            self.slide_button.blockSignals(True)
            self.slide_button.setChecked(False)  # a stop of the timeline leaves the FC → CONV view
            self.slide_button.blockSignals(False)
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

    def previous_position(self) -> None:
        self._step_position(-1)

    def heightForWidth(self, width: int) -> int:
        """No height for a width: the holder's scroll area would ask the wrapped labels for their
        preferred heights and scroll a page that fits (its minimum height is what counts)."""
        return -1

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.cifar10_available()
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

    def _shape(self) -> tuple[int, ...]:
        if self.in_slide_view():
            return self.slide[1].scores.shape
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
        self.field_button.setVisible(run.has_field(stop) and not self.in_slide_view())
        if self.in_slide_view():
            for widget in (self.check_button, self.check_label, self.bars):
                widget.setVisible(False)
            self._draw_slide()
            self.position_changed.emit(self.position)
            return
        if self.in_field_view():
            field = self._field_of(stop)
            if field is None:
                return  # made on a thread: drawn when it arrives
            self.explanation = field
            for widget in (self.check_button, self.check_label, self.bars):
                widget.setVisible(False)
            self._draw_field(stop, *self.field_volumes(stop))
            self.position_changed.emit(self.position)
            return
        self.explanation = run.explain(stop, self.position, later=self.in_background())
        checkable = self.check_target() is not None
        self.check_button.setVisible(checkable)
        self.check_label.setVisible(checkable)
        if self._term is None:
            self.check_label.setText("")
        left, right = run.volumes(stop)
        self.bars.setVisible(stop.kind == "loss")
        self.canvas.set_scale(left, right)
        draw = {"input": self._draw_input, "forward": self._draw_forward, "loss": self._draw_loss,
                "backward": self._draw_backward, "update": self._draw_update}[stop.kind]
        draw(stop, left, right)
        self.position_changed.emit(self.position)
