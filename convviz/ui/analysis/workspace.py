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
- "What each filter responds to": every filter's top-9 test patches of a chosen conv layer, found
  on a thread with progress for each new evaluation (new weights, an epoch's end), hover a crop
  for its image, class, cell and activation;
- "Compare architectures" (a page of its own, :mod:`convviz.ui.analysis.compare`): the case studies
  and the session's network by parameters, multiply-adds and training memory.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from convviz.analysis import ClassEvaluation
from convviz.ui.analysis.compare import CompareView
from convviz.ui.analysis.confusion import (
    ClassFiguresModel,
    ConfusionModel,
    ConfusionView,
)
from convviz.ui.analysis.drilldown import LIST_LIMIT, THUMB, DrillDownPart
from convviz.ui.analysis.evaluating import (
    CLICK_A_CELL,
    NOT_EVALUATED,
    ORIGINS,
    EvaluatingPart,
)
from convviz.ui.analysis.explaining import SALIENCY_PERCENTILE, ExplainingPart
from convviz.ui.analysis.filters import PatchGrid
from convviz.ui.analysis.jobs import LatestJob, _Float64Net, _Jobs
from convviz.ui.analysis.looks import LooksPanel
from convviz.ui.analysis.own_image import OwnImage, OwnImagePart
from convviz.ui.analysis.patches import PatchesPart
from convviz.ui.session import RunSession

__all__ = ["LIST_LIMIT", "ORIGINS", "SALIENCY_PERCENTILE", "THUMB", "AnalyzeWorkspaceView", "OwnImage",
           "_Float64Net", "_Jobs", "synthetic_test_set"]


def synthetic_test_set():
    """The synthetic set the Step workspace steps through (its test images and their numbering)."""
    from convviz.ui.stepper.workspace import synthetic_images

    return synthetic_images()


class AnalyzeWorkspaceView(EvaluatingPart, DrillDownPart, OwnImagePart, ExplainingPart, PatchesPart, QWidget):
    """The Analyze workspace's page; it reads weights and the network from ``session`` only.

    Signals: ``open_in_step(source, index)`` (source ``synthetic`` or ``cifar10``, index of the test
    image), ``open_file_in_step(path)`` (the user's own picture), ``open_as_probe(image, label, name)``
    (the selected image as shown, (H, W, C) uint8, its true class or None for the user's own picture,
    and a name for it), ``evaluated(object)`` (a new
    :class:`~convviz.analysis.ClassEvaluation` is shown, or None when evaluating failed or was
    cancelled), ``explained()`` (the selected image's saliency and Grad-CAM are drawn),
    ``patches_found()`` (each filter's top-9 patches are drawn: ``patch_rows``).
    """

    open_in_step = Signal(str, int)
    open_file_in_step = Signal(str)
    open_as_probe = Signal(object, object, str)
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
        self._evaluations = LatestJob("analyze-evaluate")
        self._explanations = LatestJob("analyze-explain")
        self._net64: _Float64Net | None = None  # the result's weights, for saliency and Grad-CAM
        self._peaks = [0.0, 0.0]  # the largest saliency and Grad-CAM values since "same scale" was ticked
        self._peak_images: set[int] = set()
        self._jobs = _Jobs(self)
        self._jobs.progress.connect(self._on_progress)
        self._jobs.patch_progress.connect(self._on_patch_progress)
        self.patch_rows: list[list] = []  # each filter's top patches, as shown
        self.finding_patches = False
        self._patch_ticket = 0
        self._patch_jobs = LatestJob("analyze-patches")
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
        self.accuracy_label = QLabel(NOT_EVALUATED)
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
        self.list_heading = QLabel(CLICK_A_CELL)
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
        self.images.setToolTip("Click an image to see where the network looks; double-click to step it; "
                               "right-click to step it or use it as a probe in Train")
        self.images.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.images.customContextMenuRequested.connect(self._image_menu)

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
        self.probe_button.setToolTip("Use as probe in Train: add this image to the Train workspace's probe images, "
                                     "which every snapshot runs through the network")
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
        self.images.itemDoubleClicked.connect(lambda item: self.step_selected())
        self.layer_choice.currentIndexChanged.connect(lambda _: self._explain())
        self.class_choice.currentIndexChanged.connect(lambda _: self._explain())
        self.same_scale.toggled.connect(self._same_scale_toggled)
        self.tabs.currentChanged.connect(lambda _: self._find_patches())
        self.patch_layer.currentIndexChanged.connect(lambda _: self._find_patches())
        self.step_button.clicked.connect(self.step_selected)
        self.probe_button.clicked.connect(self.probe_selected)
        session.run_finished.connect(self._weights_changed)
        session.weights_changed.connect(self._weights_changed)
        session.evaluation.connect(self._epoch_evaluated)
        self._enable()

    # -- public API (and the parts' in evaluating, drilldown, own_image, explaining, patches) ------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            self.open_image(files[0])
            event.acceptProposedAction()

    def heightForWidth(self, width: int) -> int:
        """No height for a width: the holder's scroll area would ask the wrapped labels for their
        preferred heights and scroll a page that fits (its minimum height is what counts)."""
        return -1

    def conv_layers(self) -> list[str]:
        """The layers Grad-CAM can be taken at (every conv layer, inner ones too)."""
        return [self.layer_choice.itemData(i) for i in range(self.layer_choice.count())]

    def set_cam_layer(self, name: str) -> None:
        self.layer_choice.setCurrentIndex(max(0, self.layer_choice.findData(name)))

    def shutdown(self) -> None:
        """Cancel an evaluation or a search for patches going on (their threads end at the next batch)."""
        self._evaluations.cancel()
        self._patch_jobs.cancel()

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

    def _on_done(self, kind: str, ticket: int, result, error) -> None:
        if kind == "evaluate":
            self._evaluation_done(ticket, result, error)
        elif kind == "patches":
            self._patches_done(ticket, result, error)
        else:
            self._explanation_done(ticket, result, error)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.cifar10_available()
        if self._stale and not self.evaluating:
            self.evaluate_now()

    def _enable(self) -> None:
        has = self.result is not None
        for w in (self.mistakes_button, self.layer_choice, self.class_choice, self.same_scale, self.own_button):
            w.setEnabled(has)
        chosen = has and (self.selected_image is not None or self.own_image is not None)
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
