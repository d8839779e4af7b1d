"""The Analyze workspace: what the network gets right and wrong on a test set, and where it looks.

Evaluate (the button, the end of a run, new weights, or each epoch's end while a run goes on) runs the
session's current weights over the chosen test set on a thread of its own, with a progress bar and
Cancel; the window goes on meanwhile. Then:

- the confusion matrix (rows true class × columns predicted class, counts or row percentages,
  hover for the numbers) and each class's accuracy, precision and recall;
- a click on a cell lists its images, most confident first, with their true and predicted labels and
  top-3 probabilities; "Most confident mistakes" lists the worst errors of all;
- the selected image with its saliency (max over channels of |dS/dx|, S the predicted — or the true
  — class's score) and Grad-CAM at a chosen conv layer laid over it, each with a colour legend, on
  one scale across images when asked; it can go to the Step workspace or become the Train
  workspace's probe (``open_in_step``, ``open_as_probe``);
- "Your image…" (or a picture dropped on the page): fitted to the input, classified and explained
  the same way;
- "What each filter responds to": every filter's top-9 test patches of a chosen conv layer;
- "Compare architectures" (a page of its own, :mod:`convviz.ui.analysis.compare`): the case studies
  and the session's network by parameters, multiply-adds and training memory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from convviz.analysis import (
    Cancelled,
    ClassEvaluation,
    evaluate,
    grad_cam,
    saliency,
    saliency_map,
)
from convviz.ui.analysis.compare import CompareView
from convviz.ui.analysis.confusion import (
    ClassFiguresModel,
    ConfusionModel,
    ConfusionView,
    percent,
)
from convviz.ui.analysis.filters import PatchGrid, image_pixmap
from convviz.ui.analysis.looks import LooksPanel
from convviz.ui.session import RunSession

SALIENCY_PERCENTILE = 99  # a saliency legend tops out here: its largest values are a few pixels
LIST_LIMIT = 200  # images listed at most (the rest are counted in the heading)
THUMB = 40
ORIGINS = {"fresh": "fresh, untrained weights", "trained": "the weights the last run ended with",
           "training": "weights taken between two steps of the run", "imported": "imported weights"}


def synthetic_test_set():
    """The synthetic set the Step workspace steps through (its test images and their numbering)."""
    from convviz.ui.stepper.workspace import synthetic_images

    return synthetic_images()


@dataclass(frozen=True)
class OwnImage:
    """The user's picture: as read (H, W, 3), fitted to the input (h, w, C) uint8, normalized x (1, C, h, w)."""

    name: str
    original: np.ndarray
    pixels: np.ndarray
    x: np.ndarray
    fit: str  # "640×480 fitted to 32×32×3"


class _Float64Net:
    """A result's weights in a float64 network, built once on first use (by one thread at a time)."""

    def __init__(self, spec, weights):
        self.spec, self.weights, self.lock, self._net = spec, weights, threading.Lock(), None

    def get(self):
        if self._net is None:
            from convviz.engine import Network

            self._net = Network(self.spec, seed=0, dtype=np.float64)
            self._net.set_weights(self.weights)
        return self._net


class _Jobs(QObject):
    """Carries work done on threads back to the GUI thread (queued signals)."""

    progress = Signal(int, int, int)  # ticket, done, total
    patch_progress = Signal(int, int, int)  # ticket, done, total
    done = Signal(str, int, object, object)  # kind, ticket, result, error


class AnalyzeWorkspaceView(QWidget):
    """The Analyze workspace's page; it reads weights and the network from ``session`` only.

    Signals: ``open_in_step(source, index)`` and ``open_as_probe(source, index)`` (source
    ``synthetic`` or ``cifar10``, index of the test image), ``evaluated(object)`` (a new
    :class:`~convviz.analysis.ClassEvaluation` is shown, or None when evaluating failed or was
    cancelled), ``explained()`` (the selected image's saliency and Grad-CAM are drawn),
    ``patches_found()`` (each filter's top-9 patches are drawn: ``patch_rows``).
    """

    open_in_step = Signal(str, int)
    open_as_probe = Signal(str, int)
    evaluated = Signal(object)
    explained = Signal()
    patches_found = Signal()

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.result: ClassEvaluation | None = None
        self.dataset = None  # the data set of ``result``
        self.source_of_result = "synthetic"
        self.evaluating = False
        self.explaining = False
        self.saliency_values: np.ndarray | None = None  # (H, W) the saliency map shown
        self.cam_values: np.ndarray | None = None  # (H, W) the upsampled Grad-CAM shown
        self.selected_image: int | None = None
        self.own_image: OwnImage | None = None  # the user's picture, when it is the one explained
        self.own_probabilities: np.ndarray | None = None  # its class probabilities, once classified
        self.listing: tuple = ()  # ("cell", t, p) or ("mistakes",)
        self._stale = True  # the weights changed since the last evaluation
        self._cifar = None
        self._ticket = 0
        self._explain_ticket = 0
        self._cancel = threading.Event()
        self._net64: _Float64Net | None = None  # the result's weights, for saliency and Grad-CAM
        self._peaks = [0.0, 0.0]  # the largest saliency and Grad-CAM values since "same scale" was ticked
        self._peak_images: set[int] = set()
        self._jobs = _Jobs(self)
        self._jobs.progress.connect(self._on_progress)
        self._jobs.patch_progress.connect(self._on_patch_progress)
        self.patch_rows: list[list] = []  # each filter's top patches, as shown
        self.finding_patches = False
        self._patch_ticket = 0
        self._patch_cancel = threading.Event()
        self._patches_for = None  # (result, layer) the patches shown belong to
        self._jobs.done.connect(self._on_done)

        # -- the bar ------------------------------------------------------------------------------------
        self.source = QComboBox()
        self.source.addItem("Synthetic test set", "synthetic")
        self.source.addItem("CIFAR-10 test set", "cifar10")
        self.source.setToolTip("The test images to evaluate: the synthetic set (always there) or CIFAR-10's "
                               "(once it is in the data folder: File → Get CIFAR-10)")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Run the session's current weights over the test set now")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(180)
        self.progress.setFormat("%v / %m images")
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.follow = QCheckBox("At each epoch's end")
        self.follow.setChecked(True)
        self.follow.setToolTip("While a run trains, evaluate again whenever an epoch ends (and when it finishes)")
        self.normalise = QCheckBox("Row %")
        self.normalise.setToolTip("Show each row (a true class) as percentages of its images instead of counts")
        self.status = QLabel()
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        for w in (QLabel("Images"), self.source, self.evaluate_button, self.progress, self.cancel_button,
                  self.follow, self.normalise):
            bar.addWidget(w)
        bar.addWidget(self.status, 1)

        # -- the matrix and the figures --------------------------------------------------------------------
        self.confusion_model = ConfusionModel(self)
        self.matrix = ConfusionView(self.confusion_model)
        self.matrix.setToolTip("")
        self.accuracy_label = QLabel("Not evaluated yet: press Evaluate.")
        self.accuracy_label.setStyleSheet("font-weight: bold;")
        self.accuracy_label.setWordWrap(True)
        axes = QLabel("Rows: true class · columns: predicted class · the diagonal is right")
        axes.setStyleSheet("color: #5f6368;")
        self.figures_model = ClassFiguresModel(self)
        self.figures = QTableView()
        self.figures.setModel(self.figures_model)
        self.figures.verticalHeader().setVisible(False)
        self.figures.verticalHeader().setDefaultSectionSize(20)
        self.figures.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.figures.setSelectionMode(QTableView.SelectionMode.NoSelection)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.accuracy_label)
        left_layout.addWidget(axes)
        left_layout.addWidget(self.matrix)
        left_layout.addWidget(self.figures, 1)

        # -- drilling down -------------------------------------------------------------------------------------
        self.list_heading = QLabel("Click a cell of the matrix to list its images.")
        self.list_heading.setWordWrap(True)
        self.mistakes_button = QPushButton("Most confident mistakes")
        self.mistakes_button.setToolTip("Every misclassified image, the most confident mistake first")
        heading = QHBoxLayout()
        heading.addWidget(self.list_heading, 1)
        heading.addWidget(self.mistakes_button)
        self.own_button = QPushButton("Your image…")
        self.own_button.setToolTip("Open a PNG or JPEG of your own (or drop one on this page): it is fitted to the "
                                   "network's input, classified, and explained below")
        heading.addWidget(self.own_button)
        self.setAcceptDrops(True)
        self.images = QListWidget()
        self.images.setIconSize(QSize(THUMB, THUMB))
        self.images.setUniformItemSizes(True)
        self.images.setToolTip("Click an image to see where the network looks; double-click to step it")

        self.layer_choice = QComboBox()
        self.layer_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer_choice.setToolTip("The conv layer whose activations Grad-CAM weighs")
        self.class_choice = QComboBox()
        self.class_choice.addItem("predicted class", "predicted")
        self.class_choice.addItem("true class", "true")
        self.class_choice.setToolTip("Whose score S the maps explain")
        self.same_scale = QCheckBox("Same scale")
        self.same_scale.setToolTip("Same scale across images: keep each legend's top at the largest value of every image shown since, "
                                   "so maps of different images compare (otherwise each map fills its own scale)")
        self.step_button = QPushButton("Open in Step")
        self.step_button.setToolTip("Step this image's training pass in the Step workspace")
        self.probe_button = QPushButton("Use as probe")
        self.probe_button.setToolTip("Make this image the Train workspace's probe")
        controls = QHBoxLayout()
        for w in (QLabel("Explain"), self.class_choice, QLabel("Grad-CAM at"), self.layer_choice, self.same_scale):
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(self.step_button)
        controls.addWidget(self.probe_button)
        self.looks = LooksPanel()
        looks = QWidget()
        looks_layout = QVBoxLayout(looks)
        looks_layout.setContentsMargins(0, 0, 0, 0)
        looks_layout.addLayout(controls)
        looks_layout.addWidget(self.looks, 1)
        listing = QWidget()
        listing_layout = QVBoxLayout(listing)
        listing_layout.setContentsMargins(0, 0, 0, 0)
        listing_layout.addLayout(heading)
        listing_layout.addWidget(self.images, 1)
        self.patch_layer = QComboBox()
        self.patch_layer.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.patch_layer.setToolTip("The conv layer whose filters are shown")
        self.patch_progress = QProgressBar()
        self.patch_progress.setFixedWidth(180)
        self.patch_progress.setFormat("%v / %m images")
        self.patch_progress.setVisible(False)
        self.patch_note = QLabel()
        self.patch_note.setWordWrap(True)
        patch_bar = QHBoxLayout()
        for w in (QLabel("Filters of"), self.patch_layer, self.patch_progress):
            patch_bar.addWidget(w)
        patch_bar.addWidget(self.patch_note, 1)
        self.patch_grid = PatchGrid()
        filters = QWidget()
        filters_layout = QVBoxLayout(filters)
        filters_layout.setContentsMargins(0, 0, 0, 0)
        filters_layout.addLayout(patch_bar)
        filters_layout.addWidget(self.patch_grid, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(looks, "Where it looks")
        self.tabs.addTab(filters, "What each filter responds to")
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(listing)
        right.addWidget(self.tabs)
        right.setSizes([300, 400])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([600, 680])
        self.splitter = splitter

        test_page = QWidget()
        test_layout = QVBoxLayout(test_page)
        test_layout.setContentsMargins(0, 4, 0, 0)
        test_layout.addLayout(bar)
        test_layout.addWidget(splitter, 1)
        self.compare = CompareView(session)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(test_page, "Test set: right, wrong, where it looks")
        self.pages.addTab(self.compare, "Compare architectures")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages, 1)

        self.evaluate_button.clicked.connect(self.evaluate_now)
        self.cancel_button.clicked.connect(self.cancel)
        self.normalise.toggled.connect(self.confusion_model.set_normalised)
        self.source.currentIndexChanged.connect(lambda _: self._weights_changed())
        self.matrix.clicked.connect(lambda index: self.show_cell(index.row(), index.column()))
        self.mistakes_button.clicked.connect(self.show_mistakes)
        self.own_button.clicked.connect(self._choose_image)
        self.images.currentItemChanged.connect(self._image_clicked)
        self.images.itemDoubleClicked.connect(lambda item: self._open(self.open_in_step))
        self.layer_choice.currentIndexChanged.connect(lambda _: self._explain())
        self.class_choice.currentIndexChanged.connect(lambda _: self._explain())
        self.same_scale.toggled.connect(self._same_scale_toggled)
        self.tabs.currentChanged.connect(lambda _: self._find_patches())
        self.patch_layer.currentIndexChanged.connect(lambda _: self._find_patches())
        self.step_button.clicked.connect(lambda: self._open(self.open_in_step))
        self.probe_button.clicked.connect(lambda: self._open(self.open_as_probe))
        session.run_finished.connect(self._weights_changed)
        session.weights_changed.connect(self._weights_changed)
        session.evaluation.connect(self._epoch_evaluated)
        self._enable()

    # -- public API --------------------------------------------------------------------------------------------
    @property
    def source_name(self) -> str:
        """``synthetic`` or ``cifar10``: the test set evaluated next."""
        return self.source.currentData()

    def set_source(self, source: str) -> None:
        """Evaluate ``synthetic`` or ``cifar10`` next (and now, when shown)."""
        self.source.setCurrentIndex(max(0, self.source.findData(source)))

    def cifar10_available(self) -> bool:
        """Whether CIFAR-10 is in the session's data folder; the source choice offers it only then."""
        from convviz.data import find_cifar10

        found = self._cifar is not None or find_cifar10(self.session.data_folder) is not None
        item = self.source.model().item(self.source.findData("cifar10"))
        item.setEnabled(found)
        item.setToolTip("" if found else "CIFAR-10 is not in the data folder yet: File → Get CIFAR-10")
        return found

    def evaluate_now(self) -> bool:
        """Evaluate the session's current weights on the chosen test set, on a thread (cancelling one
        that is going); ``evaluated`` follows. False when the weights cannot be had (said in the status)."""
        try:
            weights = self.session.current_weights()
            spec = self.session.network()
        except (ValueError, TimeoutError) as exc:
            self.status.setText(f"Cannot evaluate: {exc}")
            return False
        self._cancel.set()  # an evaluation going on stops at its next batch
        self._cancel = cancel = threading.Event()
        self._ticket += 1
        ticket, source, origin = self._ticket, self.source_name, self.session.weights_origin
        self.evaluating, self._stale = True, False
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.status.setText(f"Evaluating {ORIGINS.get(origin, origin)} on the {source} test set …")

        def work():
            try:
                from convviz.engine import Network

                dataset = self._load(source)
                net = Network(spec, seed=0)
                net.set_weights(weights)
                result = evaluate(net, dataset, progress=lambda done, total: self._jobs.progress.emit(ticket, done, total),
                                  cancelled=cancel.is_set)
                self._jobs.done.emit("evaluate", ticket, (result, dataset, spec, weights, source, origin), None)
            except Cancelled as exc:
                self._jobs.done.emit("evaluate", ticket, None, exc)
            except Exception as exc:  # a network that does not fit the data, data that do not load …  # noqa: BLE001
                self._jobs.done.emit("evaluate", ticket, None, exc)

        threading.Thread(target=work, daemon=True, name="analyze-evaluate").start()
        return True

    def cancel(self) -> None:
        """Stop the evaluation going on at its next batch (the last result stays shown)."""
        self._cancel.set()

    def show_cell(self, true: int, predicted: int) -> None:
        """List the images of class ``true`` predicted as ``predicted``, most confident first."""
        if self.result is None:
            return
        self.listing = ("cell", int(true), int(predicted))
        names = self.result.class_names
        indices = self.result.cell(true, predicted)
        what = f"{names[true]} classified right" if true == predicted else f"{names[true]} predicted as {names[predicted]}"
        self._fill(indices, f"{what}: {len(indices):,} image{'s' if len(indices) != 1 else ''}, most confident first")
        self.matrix.setCurrentIndex(self.confusion_model.index(true, predicted))

    def show_mistakes(self) -> None:
        """List every misclassified image, the most confident mistake first."""
        if self.result is None:
            return
        self.listing = ("mistakes",)
        indices = self.result.mistakes()
        self._fill(indices, f"Most confident mistakes: {len(indices):,} misclassified images, most confident first")

    def listed_images(self) -> list[int]:
        """The test images listed, in order."""
        return [self.images.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.images.count())]

    def select_image(self, index: int) -> None:
        """Explain test image ``index`` (listed or not)."""
        self.own_image = None
        for row in range(self.images.count()):
            if self.images.item(row).data(Qt.ItemDataRole.UserRole) == index:
                if row == self.images.currentRow():
                    self._explain()  # explained again (with the same scale's legend as it is now)
                else:
                    self.images.setCurrentRow(row)
                return
        self.selected_image = int(index)
        self._explain()

    def open_image(self, path: str) -> bool:
        """Fit the picture at ``path`` to the network's input (the largest centred crop of its shape,
        resized), classify it with the evaluated weights and explain it; False (said in the status)
        when it cannot be read or nothing was evaluated yet."""
        from convviz.data import DataError, fit_image
        from convviz.ui.widgets.image_file import read_image_file

        if self.result is None or self._net64 is None:
            self.status.setText("Evaluate first: your image is classified with the evaluated weights.")
            return False
        c, h, w = self._net64.spec.input.chw()
        try:
            original = read_image_file(path)
            pixels = fit_image(original, h, w, c)
        except (DataError, OSError) as exc:
            self.status.setText(f"Cannot open {path}: {exc}")
            return False
        norm = self.dataset.normalization
        mean, std = (norm.mean, norm.std) if len(norm.mean) == c else ((0.5,) * c, (0.25,) * c)
        x = (pixels.transpose(2, 0, 1)[None] / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
        oh, ow = original.shape[:2]
        fit = f"{ow}×{oh} fitted to {w}×{h}×{c}" if (oh, ow) != (h, w) or c != 3 else f"{w}×{h}"
        from pathlib import Path

        self.own_image = OwnImage(Path(path).name, original, pixels, x, fit)
        self.selected_image = None
        self.images.blockSignals(True)
        self.images.setCurrentRow(-1)
        self.images.blockSignals(False)
        self._enable()
        self._explain()
        return True

    def _choose_image(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Your image", "", "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.webp)")
        if path:
            self.open_image(path)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            self.open_image(files[0])
            event.acceptProposedAction()

    def conv_layers(self) -> list[str]:
        """The layers Grad-CAM can be taken at (every conv layer, inner ones too)."""
        return [self.layer_choice.itemData(i) for i in range(self.layer_choice.count())]

    def set_cam_layer(self, name: str) -> None:
        self.layer_choice.setCurrentIndex(max(0, self.layer_choice.findData(name)))

    def shutdown(self) -> None:
        """Cancel an evaluation or a search for patches going on (their threads end at the next batch)."""
        self._cancel.set()
        self._patch_cancel.set()

    def show_filters(self, layer: str | None = None) -> None:
        """Show the "What each filter responds to" tab (of ``layer``, a conv layer's name)."""
        if layer is not None:
            self.patch_layer.setCurrentIndex(max(0, self.patch_layer.findData(layer)))
        self.tabs.setCurrentIndex(1)

    # -- evaluating --------------------------------------------------------------------------------------------
    def _load(self, source: str):
        """The data set ``source`` (on the evaluation thread: CIFAR-10 takes a few seconds to read)."""
        if source == "cifar10":
            if self._cifar is None:
                from convviz.data import load_dataset

                folder = self.session.data_folder
                self._cifar = load_dataset("cifar10", validation=0, **({"cache": folder} if folder else {}))
            return self._cifar
        return synthetic_test_set()

    def _on_progress(self, ticket: int, done: int, total: int) -> None:
        if ticket == self._ticket and self.evaluating:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)

    def _on_done(self, kind: str, ticket: int, result, error) -> None:
        if kind == "evaluate":
            self._evaluation_done(ticket, result, error)
        elif kind == "patches":
            self._patches_done(ticket, result, error)
        else:
            self._explanation_done(ticket, result, error)

    def _evaluation_done(self, ticket: int, result, error) -> None:
        if ticket != self._ticket:
            return  # a newer evaluation was asked for meanwhile
        self.evaluating = False
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        if error is not None:
            if isinstance(error, Cancelled):
                self.status.setText("Evaluation cancelled" + (": the matrix is the previous one." if self.result else "."))
            else:
                self.status.setText(f"Cannot evaluate: {error}")
            self.evaluated.emit(None)
            return
        evaluation, dataset, spec, weights, source, origin = result
        self.result, self.dataset, self.source_of_result = evaluation, dataset, source
        self._net64 = _Float64Net(spec, weights)
        self.confusion_model.set_result(evaluation)
        self.figures_model.set_result(evaluation)
        self.figures.resizeColumnsToContents()
        self.accuracy_label.setText(
            f"Accuracy {percent(evaluation.accuracy, 2)}: {evaluation.correct:,} of {evaluation.count:,} "
            f"{dataset.name} test images right (mean loss {evaluation.loss:.3f})")
        self.status.setText(f"{spec.name or 'The network'} with {ORIGINS.get(origin, origin)}.")
        self._fill_layers(spec)
        if self.listing and self.listing[0] == "cell":
            self.show_cell(*self.listing[1:])
        else:
            self.show_mistakes()
        self._enable()
        self.evaluated.emit(evaluation)
        self._find_patches()

    def _weights_changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self.evaluate_now()

    def _epoch_evaluated(self, record) -> None:
        """Each epoch's end of a run (its test evaluation): evaluate again when following the run."""
        if self.follow.isChecked() and getattr(record, "split", "") == "test" and record.reason != "request":
            self._weights_changed()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.cifar10_available()
        if self._stale and not self.evaluating:
            self.evaluate_now()

    def _enable(self) -> None:
        has = self.result is not None
        for w in (self.mistakes_button, self.layer_choice, self.class_choice, self.same_scale, self.own_button):
            w.setEnabled(has)
        chosen = has and self.selected_image is not None
        self.step_button.setEnabled(chosen)
        self.probe_button.setEnabled(chosen)

    def _fill_layers(self, spec) -> None:
        from convviz.model import analyze

        current = self.layer_choice.currentData()
        convs = [(r.name, r.output) for r in analyze(spec).walk()
                 if r.layer.TYPE == "conv" and r.output is not None and not r.output.is_flat]
        self.layer_choice.blockSignals(True)
        self.layer_choice.clear()
        for name, volume in convs:
            self.layer_choice.addItem(name, name)
            self.layer_choice.setItemData(self.layer_choice.count() - 1, f"{name}: output {volume}",
                                          Qt.ItemDataRole.ToolTipRole)
        index = self.layer_choice.findData(current)
        self.layer_choice.setCurrentIndex(index if index >= 0 else len(convs) - 1)  # the last conv by default
        self.layer_choice.blockSignals(False)
        current = self.patch_layer.currentData()
        self.patch_layer.blockSignals(True)
        self.patch_layer.clear()
        for name, volume in convs:
            self.patch_layer.addItem(f"{name} ({volume.depth} filters)", name)
        self.patch_layer.setCurrentIndex(max(0, self.patch_layer.findData(current)))  # the first conv by default
        self.patch_layer.blockSignals(False)

    # -- drilling down -----------------------------------------------------------------------------------------
    def _fill(self, indices: np.ndarray, heading: str) -> None:
        result, data = self.result, self.dataset
        names = result.class_names
        shown = indices[:LIST_LIMIT]
        if len(indices) > LIST_LIMIT:
            heading += f" (the first {LIST_LIMIT} listed)"
        self.list_heading.setText(heading)
        keep = self.selected_image
        self.images.blockSignals(True)
        self.images.clear()
        for i in shown:
            i = int(i)
            top = "  ·  ".join(f"{names[k]} {p:.0%}" for k, p in zip(result.top_classes[i], result.top_probs[i]))
            true, pred = names[result.labels[i]], names[result.predicted[i]]
            verdict = "right" if true == pred else "wrong"
            item = QListWidgetItem(QIcon(image_pixmap(data.raw_image("test", i), THUMB)),
                                   f"test image {i}: true {true}, predicted {pred} ({verdict})\n{top}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(f"test image {i}\ntrue class: {true}\npredicted: {pred}\ntop 3: {top}")
            self.images.addItem(item)
        self.images.blockSignals(False)
        rows = [r for r in range(self.images.count()) if self.images.item(r).data(Qt.ItemDataRole.UserRole) == keep]
        if rows:
            self.images.setCurrentRow(rows[0])
        elif self.images.count():
            self.images.setCurrentRow(0)
        else:
            self.selected_image = None
            self.looks.clear("No image in this cell.")
            self._enable()

    def _image_clicked(self, item, _previous=None) -> None:
        if item is None:
            return
        self.selected_image, self.own_image = int(item.data(Qt.ItemDataRole.UserRole)), None
        self._enable()
        self._explain()

    def _open(self, signal) -> None:
        if self.selected_image is not None and self.result is not None:
            signal.emit(self.source_of_result, self.selected_image)

    # -- where the network looks ------------------------------------------------------------------------------
    def _same_scale_toggled(self, on: bool) -> None:
        self._peaks, self._peak_images = [0.0, 0.0], set()
        self._explain()

    def _explain(self) -> None:
        """Saliency and Grad-CAM of the selected test image (or the user's own), on a thread; drawn when
        done (``explained``)."""
        if self.result is None or self._net64 is None or (self.selected_image is None and self.own_image is None):
            return
        layer = self.layer_choice.currentData()
        result, data, own = self.result, self.dataset, self.own_image if self.selected_image is None else None
        wanted = self.class_choice.currentData()
        if own is None:
            i = self.selected_image
            subject = ("test", i)
            cls = int(result.predicted[i] if wanted == "predicted" else result.labels[i])
        else:
            subject, cls = ("own", own), None  # the class it is predicted as: known after the forward pass
        self._explain_ticket += 1
        ticket, holder = self._explain_ticket, self._net64
        self.explaining = True

        def work():
            try:
                from convviz.engine.loss import softmax

                with holder.lock:
                    net = holder.get()
                    x = (data.batch("test", np.array([subject[1]]))[0] if own is None else own.x).astype(np.float64)
                    probs = softmax(net.forward(x, train=False))[0]
                    c = int(np.argmax(probs)) if cls is None else cls
                    g = saliency_map(saliency(net, x, c))
                    cam = grad_cam(net, x, c, layer) if layer else None
                self._jobs.done.emit("explain", ticket, (subject, c, layer, g, cam, probs), None)
            except Exception as exc:  # noqa: BLE001 (said in the panel)
                self._jobs.done.emit("explain", ticket, None, exc)

        threading.Thread(target=work, daemon=True, name="analyze-explain").start()

    def _explanation_done(self, ticket: int, result, error) -> None:
        if ticket != self._explain_ticket:
            return
        self.explaining = False
        if error is not None:
            self.looks.clear(f"Cannot explain this image: {error}")
            self.explained.emit()
            return
        subject, cls, layer, g, cam, probs = result
        names = self.result.class_names
        i = subject[1] if subject[0] == "test" else None
        heat = cam.upsampled if cam is not None else np.zeros_like(g)
        peaks = (float(g.max()), float(heat.max()))
        # A few pixels hold saliency's largest values: its own legend tops out at a high percentile.
        tops = (float(np.percentile(g, SALIENCY_PERCENTILE)) or peaks[0], peaks[1])
        if self.same_scale.isChecked():
            self._peaks = [max(a, b) for a, b in zip(self._peaks, tops)]
            self._peak_images.add(i if i is not None else subject[1].name)
            scales = tuple(self._peaks)
            count = len(self._peak_images)
            note = f"the same scale over the {count} image{'s' if count > 1 else ''} shown since ticked"
        else:
            scales, note = tops, "its own scale"
        self.saliency_values, self.cam_values = g, heat
        order = np.argsort(-probs, kind="stable")[:3]
        top = ", ".join(f"{names[k]} {probs[k]:.1%}" for k in order)
        if i is not None:
            r = self.result
            pixels = self.dataset.raw_image("test", i)
            heading = f"test image {i}: true {names[r.labels[i]]}, predicted {names[r.predicted[i]]}"
        else:
            own = subject[1]
            pixels = own.pixels
            heading = f"your image {own.name}: predicted {names[cls]} ({own.fit})"
        self.own_probabilities = probs if i is None else None
        if peaks[0] == 0:
            saliency_caption = "0 everywhere: no path from the input to this score passes every ReLU"
        else:
            saliency_caption = (f"max over channels of |dS/dx|, legend 0–{scales[0]:.3g} ({note}; pixels up to "
                                f"the peak {peaks[0]:.3g} draw at the top)")
        if cam is None:
            cam_title, cam_caption = "Grad-CAM: the network has no conv layer", ""
        else:
            cam_title = f"Grad-CAM at {layer} for {names[cls]}"
            cam_caption = (f"ReLU(Σ α_k A_k) at {cam.map.shape[1]}×{cam.map.shape[0]}, upsampled bilinearly; "
                           f"legend 0–{scales[1]:.3g} ({note})")
        self.looks.show(
            pixels, g, heat, scales,
            (heading, f"Saliency for {names[cls]}", cam_title),
            (f"top 3: {top}", saliency_caption, cam_caption))
        self.explained.emit()

    # -- what each filter responds to ------------------------------------------------------------------------
    def _find_patches(self) -> None:
        """Every filter's top-9 patches of the chosen layer, on a thread, while their tab is shown
        and the result or the layer is new."""
        layer = self.patch_layer.currentData()
        if self.tabs.currentIndex() != 1 or self.result is None or self._net64 is None or not layer:
            if self.result is not None and not layer:
                self.patch_grid.clear_rows("The network has no conv layer.")
            return
        if self._patches_for is not None and self._patches_for[0] is self.result and self._patches_for[1] == layer:
            return
        self._patch_cancel.set()
        self._patch_cancel = cancel = threading.Event()
        self._patch_ticket += 1
        ticket, holder, data, result = self._patch_ticket, self._net64, self.dataset, self.result
        self.finding_patches = True
        self.patch_progress.setRange(0, 1)
        self.patch_progress.setValue(0)
        self.patch_progress.setVisible(True)
        self.patch_note.setText(f"Finding where each filter of {layer} fires most …")

        def work():
            try:
                from convviz.analysis import layer_top_patches
                from convviz.engine import Network

                net = Network(holder.spec, seed=0)
                net.set_weights(holder.weights)
                rows = layer_top_patches(net, data, layer, k=9, cancelled=cancel.is_set,
                                         progress=lambda d, t: self._jobs.patch_progress.emit(ticket, d, t))
                self._jobs.done.emit("patches", ticket, (result, layer, rows), None)
            except Exception as exc:  # noqa: BLE001 (said beside the grid)
                self._jobs.done.emit("patches", ticket, None, exc)

        threading.Thread(target=work, daemon=True, name="analyze-patches").start()

    def _on_patch_progress(self, ticket: int, done: int, total: int) -> None:
        if ticket == self._patch_ticket and self.finding_patches:
            self.patch_progress.setRange(0, max(total, 1))
            self.patch_progress.setValue(done)

    def _patches_done(self, ticket: int, result, error) -> None:
        if ticket != self._patch_ticket:
            return
        self.finding_patches = False
        self.patch_progress.setVisible(False)
        if error is not None:
            self.patch_note.setText("" if isinstance(error, Cancelled) else f"Cannot find the patches: {error}")
            return
        evaluation, layer, rows = result
        from convviz.model import analyze
        from convviz.model.receptive import receptive_fields

        field = receptive_fields(analyze(self._net64.spec))[layer]
        self._patches_for, self.patch_rows = (evaluation, layer), rows
        self.patch_grid.show_rows(rows, max(field.size_h, field.size_w))
        self.patch_note.setText(
            f"Each row a filter of {layer}; its 9 test images where it fires most, strongest first, each cropped "
            f"to the {field.size_w}×{field.size_h} pixels one cell sees (padding black).")
        self.patches_found.emit()
