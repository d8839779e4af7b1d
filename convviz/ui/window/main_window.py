"""The ConvViz window: it composes the app's parts and holds no view logic of its own.

It makes the document (:mod:`convviz.ui.builder.document`) and the run session
(:mod:`convviz.ui.session`), hands them to the views of the builder and of training, puts each view
in a dock (or in the centre of its workspace), and assembles the workspaces
(:mod:`convviz.ui.window.workspaces`), the menus (:mod:`convviz.ui.window.menus`), the file handling
(:mod:`convviz.ui.window.files`) and the status bar. It also keeps the window's settings (geometry,
first start, data folder) in the ``QSettings`` it is given, and asks its questions through
``self.dialogs`` (:mod:`convviz.ui.widgets.dialogs`), so tests never block on a dialog or touch
real settings.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QVBoxLayout, QWidget

from convviz.model import NetworkSpec, preset
from convviz.ui.builder.diagram import NetworkDiagram
from convviz.ui.builder.document import NetworkDocument
from convviz.ui.builder.inspector import Inspector
from convviz.ui.builder.palette import LayerPalette
from convviz.ui.builder.stack_model import json_files
from convviz.ui.builder.stack_view import StackView
from convviz.ui.builder.status import NetworkStatus, ReadOnlyNotice
from convviz.ui.builder.summary_view import SummaryPanel
from convviz.ui.analysis import AnalyzeWorkspaceView
from convviz.ui.session import ACTIVE_STATES, RunSession
from convviz.ui.stepper import StepWorkspaceView
from convviz.ui.training.curves import CurvesView
from convviz.ui.training.panel import TrainingPanel
from convviz.ui.training.filters_view import FiltersView
from convviz.ui.training.health_view import HealthView
from convviz.ui.training.layers_view import LayersView
from convviz.ui.training.probes_view import ProbesView
from convviz.ui.training.snapshot_view import SnapshotView
from convviz.ui.training.time_slider import TimeSlider, with_time_slider
from convviz.ui.widgets.dialogs import Dialogs
from convviz.ui.widgets.layer_style import app_icon
from convviz.ui.window.files import NetworkFiles
from convviz.ui.window.help import ABOUT_HTML, HELP_HTML, FirstStartHint
from convviz.ui.window.menus import WindowMenus
from convviz.ui.window.run_files import RunFiles, is_run_path
from convviz.ui.window.workspaces import Workspaces

FIRST_PRESET = "convnetjs"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, dialogs: Dialogs | None = None,
                 spec: NetworkSpec | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        self.dialogs = dialogs if dialogs is not None else Dialogs(self)
        self._network_answered = False  # closing after a run was saved on the way out
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        for corner, area in (
            (Qt.Corner.TopLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea),
            (Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea),
            (Qt.Corner.TopRightCorner, Qt.DockWidgetArea.TopDockWidgetArea),
            (Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea),
        ):
            self.setCorner(corner, area)

        doc = self.document = NetworkDocument(parent=self)
        self.files = NetworkFiles(doc, self.settings, self.dialogs, self)
        self.session = RunSession(lambda: self.document.spec, self)
        self.session.state_changed.connect(lambda state: doc.set_read_only(state in ACTIVE_STATES))
        self.session.data_folder = self.data_folder()
        build_page = self._build_views()
        self.workspaces = Workspaces(self, self.settings, {d.objectName(): d for d in self.docks()},
                                     {"build": build_page, "train": self.train_page, "analyze": self.analyzer,
                                      "step": self.stepper})
        self.setCentralWidget(self.workspaces.centre)
        self.run_files = RunFiles(doc, self.session, self.files, self.training, self.dialogs, self.settings,
                                  self.statusBar(), self)
        self.menus = WindowMenus(self, doc, self.files, self.session, self.workspaces, self.docks(), self.stack_view,
                                 self.run_files)
        self.network_status = NetworkStatus(doc, self.statusBar())

        doc.undo_stack.cleanChanged.connect(self._update_title)
        doc.file_changed.connect(self._update_title)
        doc.file_changed.connect(lambda _path: self.hint.show_network_name(self.document.spec.name))
        self.files.saved.connect(lambda path: self.statusBar().showMessage(f"Saved {path}", 3000))

        self.first_start = not self.settings.value("app/first_start_done", False, type=bool)
        self.hint.setVisible(self.first_start)
        if self.first_start:
            self.settings.setValue("app/first_start_done", True)
        doc.reset(spec if spec is not None else preset(FIRST_PRESET))
        self._update_title()
        self._restore_layout()

    # -- assembling -------------------------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        """A dock holding ``widget``; the workspaces place it."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        return dock

    def _build_views(self) -> QWidget:
        """Every view and its dock; returns the centre of the Build workspace (the hint and the stack)."""
        doc, session = self.document, self.session
        self.stack_view = StackView(doc)
        self.stack_view.file_dropped.connect(self.open_any_path)
        self.hint = FirstStartHint()
        self.hint.help_requested.connect(self.show_help)
        build_page = QWidget()
        centre = QVBoxLayout(build_page)
        centre.setContentsMargins(4, 4, 4, 0)
        centre.setSpacing(4)
        centre.addWidget(self.hint)
        self.read_only_notice = ReadOnlyNotice(doc)
        centre.addWidget(self.read_only_notice)
        centre.addWidget(self.stack_view, 1)

        self.palette = LayerPalette()
        self.palette.insert_requested.connect(doc.insert_type_below_selection)
        self.palette.pattern_requested.connect(self.insert_pattern)
        doc.read_only_changed.connect(lambda read_only: self.palette.setEnabled(not read_only))
        self.inspector = Inspector(doc, settings=self.settings)
        self.inspector.expand_requested.connect(self.stack_view.show_block)
        self.diagram = NetworkDiagram(doc)
        self.summary = SummaryPanel(doc, session, self.settings)
        self.training = TrainingPanel(session, self.dialogs, self.settings)
        self.training.close_ready.connect(self._close_once_the_run_is_saved)
        self.curves = CurvesView(session)
        self.analyzer = AnalyzeWorkspaceView(session)
        self.analyzer.open_in_step.connect(self._step_image)
        self.analyzer.open_file_in_step.connect(self._step_file)
        self.analyzer.open_as_probe.connect(self._probe_image)
        self.stepper = StepWorkspaceView(session)
        self.stepper.current_layer_changed.connect(self._show_stepped_layer)
        self.stepper.set_learning_rate(self.training.lr.value())  # the update stop steps with the panel's lr
        self.training.lr.valueChanged.connect(self.stepper.set_learning_rate)
        self.snapshots = SnapshotView(session)
        self.layer_rows = LayersView(session)
        self.layer_rows.gradients_wanted.connect(session.want_gradients)
        self.probes = ProbesView(session)
        self.probes.probe_selected.connect(self.layer_rows.set_probe)
        self.health = HealthView(session)
        self.health.layer_chosen.connect(self.layer_rows.show_layer)
        self.filters = FiltersView(session)
        self.time_slider = TimeSlider(session, [self.layer_rows, self.probes, self.filters], self.health)
        self.train_page = with_time_slider(self.curves, self.time_slider)  # the slider just above the views' tabs

        self.palette_dock = self._dock("Layers", "palette", self.palette)
        self.inspector_dock = self._dock("Inspector", "inspector", self.inspector)
        self.diagram_dock = self._dock("Network diagram", "diagram", self.diagram)
        self.summary_dock = self._dock("Summary and memory", "summary", self.summary)
        self.training_dock = self._dock("Training", "training", self.training)
        self.snapshot_dock = self._dock("Activations and filters", "activations", self.snapshots)
        self.layers_dock = self._dock("Every layer", "layers", self.layer_rows)
        self.probes_dock = self._dock("Probe images", "probes", self.probes)
        self.health_dock = self._dock("Layer health", "health", self.health)
        self.filters_dock = self._dock("Filters", "filters", self.filters)
        return build_page

    def insert_pattern(self) -> None:
        """Edit → Insert Pattern… (and the palette's entry): the notes' layer pattern, previewed."""
        from convviz.ui.builder.pattern_dialog import PatternDialog

        if not self.document.read_only:
            PatternDialog(self.document, self).exec()

    def _step_image(self, source: str, index: int) -> None:
        """An image chosen in the Analyze workspace, stepped through in the Step workspace."""
        self.workspaces.switch("step")
        self.stepper.set_image(source, index)

    def _step_file(self, path: str) -> None:
        """The user's own picture in the Analyze workspace, stepped through in the Step workspace."""
        self.workspaces.switch("step")
        self.stepper.set_image_file(path)

    def _probe_image(self, image, label, name: str) -> None:
        """An image chosen in the Analyze workspace, added to the Train workspace's probe images
        (shown in front): (H, W, C) uint8, its class or None."""
        try:
            name = self.session.add_probe(image, label, name)
        except ValueError as exc:  # the builder's network takes other images than the evaluated one did
            self.statusBar().showMessage(f"Cannot use {name} as a probe: {exc}", 15_000)
            return
        self.workspaces.show_dock("train", "probes")
        self.statusBar().showMessage(f"{name} is a probe image of the Train workspace now.", 10_000)

    def _show_stepped_layer(self, name: str) -> None:
        """The Step workspace's current layer is selected in the builder (stack, diagram, inspector)."""
        report = next((r for r in self.document.report.walk() if r.name == name), None) if name else None
        if report is not None:
            self.document.select(report.path)

    def docks(self) -> list[QDockWidget]:
        """Every dock, Build's then Train's (the order of View → Panels)."""
        return [self.palette_dock, self.inspector_dock, self.diagram_dock, self.summary_dock,
                self.training_dock, self.snapshot_dock, self.layers_dock, self.probes_dock, self.health_dock,
                self.filters_dock]

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        self.workspaces.restore()

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.workspaces.save()
        self.settings.sync()

    # -- training ------------------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Show the Train workspace and start a run of the network in the builder."""
        self.workspaces.switch("train")
        if not self.document.report.valid:
            self.dialogs.show_error("Cannot train", f"The network has problems: {self.network_status.text()}")
            return
        self.training.start()

    def fetch_cifar10(self, archive: str | None = None) -> bool:
        """Download CIFAR-10 (or check and keep ``archive``) with a progress dialog; True on success."""
        from convviz.ui.training.data_fetch import FetchDialog

        dialog = self.fetch_dialog = FetchDialog(self, archive, self.data_folder())
        dialog.start()
        dialog.exec()
        ok, text = dialog.outcome or (False, "cancelled")
        if ok:
            self.statusBar().showMessage(text, 15_000)
            self.training.use_source("cifar10")
        else:
            self.dialogs.show_error("CIFAR-10", text)
        return ok

    def data_folder(self) -> str | None:
        """The data folder setting (None: $CONVVIZ_CACHE_DIR or the per-user cache)."""
        return self.settings.value("data/folder", "", type=str) or None

    def choose_data_folder(self) -> None:
        from convviz.data import cache_dir

        folder = self.dialogs.choose_data_folder(str(cache_dir(self.data_folder())))
        if folder:
            self.settings.setValue("data/folder", folder)
            self.session.data_folder = folder
            self.statusBar().showMessage(f"CIFAR-10 is kept in {folder}/cifar10", 10_000)

    def adopt_cifar10(self) -> bool:
        path = self.dialogs.open_cifar10_archive(self.files.last_dir())
        return bool(path) and self.fetch_cifar10(path)

    # -- the window itself ------------------------------------------------------------------------------------
    def _update_title(self, *_args) -> None:
        self.setWindowTitle(f"{self.document.title()}[*] — ConvViz")
        self.setWindowModified(self.document.modified)

    def show_help(self) -> None:
        self.dialogs.show_help("What am I looking at?", HELP_HTML)

    def show_about(self) -> None:
        self.dialogs.about("About ConvViz", ABOUT_HTML)

    def open_any_path(self, path: str) -> bool:
        """A dropped or named file: a run (a checkpoint folder or its checkpoint.json), or a network file."""
        if is_run_path(path):
            return self.run_files.open_run_path(path)
        return self.files.open_path(path)

    @staticmethod
    def _dropped(mime) -> list[str]:
        """Network files and runs among the URLs of a drop."""
        runs = [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and is_run_path(u.toLocalFile())] \
            if mime.hasUrls() else []
        return runs + [f for f in json_files(mime) if f not in runs]

    def dragEnterEvent(self, event) -> None:
        if self._dropped(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        files = self._dropped(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.open_any_path(files[0])

    def _close_once_the_run_is_saved(self) -> None:
        """The run was saved on the way out: close without asking about the network again."""
        self._network_answered = True
        if not self.close():
            self._network_answered = False

    def closeEvent(self, event) -> None:
        network_ok = self._network_answered or self.files.maybe_save()
        if not network_ok or not self.training.shutdown(ask=True):
            event.ignore()
            return
        self._save_layout()
        event.accept()
