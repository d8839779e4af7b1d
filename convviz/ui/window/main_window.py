"""The network builder window: palette, stack, inspector, diagram and summary around one document.

The window owns a :class:`~convviz.ui.builder.document.NetworkDocument` and wires the views to it; it handles
files (New, Open, Save, Save As, Open Recent, a dropped ``.json``, the case studies), the prompt
before unsaved work is lost, the first-start hint, and the settings it keeps (window layout, recent
files, first start). Dialogs go through ``self.dialogs`` (:mod:`convviz.ui.widgets.dialogs`) and settings
through the ``QSettings`` it is given, so tests never block on a dialog or touch real settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from convviz import __version__
from convviz.model import NetworkSpec, SpecFormatError, Volume, load_spec, preset, preset_names, save_spec
from convviz.model.presets import PRESET_PREFIX
from convviz.model.summary import format_count
from convviz.ui.builder.diagram import NetworkDiagram
from convviz.ui.widgets.dialogs import Dialogs
from convviz.ui.builder.document import INPUT, NetworkDocument
from convviz.ui.builder.inspector import Inspector
from convviz.ui.widgets.layer_style import INVALID_COLOR, OK_COLOR, app_icon
from convviz.ui.builder.palette import LayerPalette
from convviz.ui.builder.stack_view import StackView, insert_menu, json_files

FIRST_PRESET = "convnetjs"
CASE_STUDIES = ("lenet5", "alexnet", "zfnet", "vgg16", "googlenet", "resnet18")
MAX_RECENT = 8

HELP_HTML = """
<h3>What am I looking at?</h3>
<p>A convolutional network as a stack of layers. An image enters as the <b>input volume</b>
W×H×D (32×32×3 for a CIFAR-10 colour image) and every layer turns one volume into the next.</p>
<ul>
<li><b>Palette</b> (left): every kind of layer. Drag one into the stack, or double-click it to
insert it below the selected card.</li>
<li><b>Stack</b> (centre): one card per layer: its hyperparameters (<i>conv 5×5, 16, S1 P2</i>), the
volume it outputs (<i>32×32×16</i>) and its parameter count. Drag cards to reorder them; Delete removes
one, Ctrl+D duplicates it, right-click for more. Residual and Branch blocks open to show their inner
stacks.</li>
<li><b>Inspector</b> (right): the selected layer's values and the arithmetic behind its shape, with
your numbers: W′ = (W − F + 2P)/S + 1, e.g. (32 − 5 + 2·2)/1 + 1 = 32, and its parameters,
16×5×5×3 + 16 = 1,216. Change a value and every card follows.</li>
<li><b>Red cards</b> cannot be built, e.g. a stride that does not fit: (10 − 3 + 2·0)/2 + 1 = 4.5.
The inspector says why and offers one-click fixes; the grey cards after it wait for the fix.</li>
<li><b>Diagram</b> (top): the classic picture of the network as a row of volumes. Click a box to
select its layer.</li>
<li><b>Summary</b> (bottom): the whole table, the totals, and the memory a training step needs for a
batch size, and whether it fits your GPU.</li>
<li><b>Case Studies</b> menu: LeNet-5, AlexNet, ZFNet, VGG-16, GoogLeNet and ResNet, as the CS231n
notes describe them, plus small networks that train on CIFAR-10.</li>
</ul>
<p>Every change can be undone with Ctrl+Z.</p>
"""

FIRST_START_HINT = (
    "<b>Welcome!</b> {what}: an image flows down the stack and every card shows the volume W×H×D it "
    "becomes. Drag layers in from the <b>palette</b>, select a card to see its <b>formula</b> in the "
    "inspector, and open <b>Case Studies</b> for AlexNet, VGG or ResNet. <a href='help'>What am I looking at?</a>"
)


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, dialogs: Dialogs | None = None, spec: NetworkSpec | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        self.dialogs = dialogs if dialogs is not None else Dialogs(self)
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

        self.document = NetworkDocument(parent=self)
        self._build_views()
        self._build_actions()
        self._build_menus()
        self._build_status_bar()

        doc = self.document
        doc.changed.connect(self._update_status)
        doc.undo_stack.cleanChanged.connect(self._update_title)
        doc.file_changed.connect(self._update_title)
        doc.selection_changed.connect(self._update_actions)
        doc.changed.connect(self._update_actions)

        self.first_start = not self.settings.value("app/first_start_done", False, type=bool)
        self.hint.setVisible(self.first_start)
        if self.first_start:
            self.settings.setValue("app/first_start_done", True)
        doc.reset(spec if spec is not None else preset(FIRST_PRESET))
        self._set_hint_text()
        doc.file_changed.connect(self._set_hint_text)
        self._update_title()
        self._update_status()
        self._update_actions()
        self._restore_layout()

    # -- building -----------------------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea | None) -> QDockWidget:
        """A dock holding ``widget``, added to ``area`` (None: the caller tabifies it)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        if area is not None:
            self.addDockWidget(area, dock)
        return dock

    def _build_views(self) -> None:
        doc = self.document
        self.stack_view = StackView(doc)
        self.stack_view.file_dropped.connect(self.open_path)

        self.hint = QFrame()
        self.hint.setObjectName("hint")
        self.hint.setStyleSheet("QFrame#hint { background: #fef7e0; border: 1px solid #f9ab00; border-radius: 4px; }")
        hint_layout = QHBoxLayout(self.hint)
        hint_layout.setContentsMargins(8, 5, 4, 5)
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        self.hint_label.setTextFormat(Qt.TextFormat.RichText)
        self.hint_label.linkActivated.connect(lambda _href: self.show_help())
        close_hint = QToolButton()
        close_hint.setText("✕")
        close_hint.setToolTip("Hide this hint (Help → What am I looking at? shows more)")
        close_hint.setAutoRaise(True)
        close_hint.clicked.connect(self.hint.hide)
        hint_layout.addWidget(self.hint_label, 1)
        hint_layout.addWidget(close_hint, 0, Qt.AlignmentFlag.AlignTop)

        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(4, 4, 4, 0)
        centre_layout.setSpacing(4)
        centre_layout.addWidget(self.hint)
        centre_layout.addWidget(self.stack_view, 1)
        self.setCentralWidget(centre)

        self.palette = LayerPalette()
        self.palette.insert_requested.connect(self.insert_below_selection)
        self.inspector = Inspector(doc)
        self.inspector.expand_requested.connect(self.stack_view.expand_block)
        self.diagram = NetworkDiagram(doc)
        from convviz.ui.builder.summary_view import SummaryPanel

        self.summary = SummaryPanel(doc, self.settings)

        self.palette_dock = self._dock("Layers", "palette", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.diagram_dock = self._dock("Network diagram", "diagram", self.diagram, Qt.DockWidgetArea.TopDockWidgetArea)
        self.summary_dock = self._dock("Summary and memory", "summary", self.summary, Qt.DockWidgetArea.BottomDockWidgetArea)

        from convviz.ui.training.snapshot_view import SnapshotView
        from convviz.ui.training.panel import TrainingPanel

        self.training = TrainingPanel(lambda: self.document.spec, self.dialogs)
        self.snapshots = SnapshotView()
        self.training.data_folder = self.data_folder()
        self.training.snapshot_taken.connect(self.snapshots.show_snapshot)
        self.training.run_state_changed.connect(self._on_run_state)
        self.training_dock = self._dock("Training", "training", self.training, Qt.DockWidgetArea.RightDockWidgetArea)
        self.snapshot_dock = self._dock("Activations and filters", "activations", self.snapshots, None)
        self.tabifyDockWidget(self.summary_dock, self.snapshot_dock)
        self.summary_dock.raise_()
        # Qt 6.11 leaves a stray tab bar on screen when two dock groups are tabified before the
        # window is first shown, so the training dock joins the inspector's tabs in showEvent.
        self._training_tab_pending = True

    def _build_actions(self) -> None:
        doc = self.document
        stack = doc.undo_stack

        def action(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        Key = QKeySequence.StandardKey
        self.new_action = action("&New", self.new_network, Key.New, "Start an empty network")
        self.open_action = action("&Open…", self.open_file, Key.Open, "Open a network file")
        self.save_action = action("&Save", self.save, Key.Save, "Save the network")
        self.save_as_action = action("Save &As…", self.save_as, Key.SaveAs, "Save the network in a new file")
        self.quit_action = action("&Quit", self.close, Key.Quit)
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(Key.Undo))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence(Key.Redo))
        self.duplicate_action = action("D&uplicate", self.duplicate_selected, "Ctrl+D", "Insert a copy below the selected layer")
        self.delete_action = action("&Delete", self.delete_selected, Key.Delete, "Delete the selected layer")
        self.move_up_action = action("Move &Up", lambda: self._move_selected(-1), "Ctrl+Up", "Move the selected layer up")
        self.move_down_action = action("Move Do&wn", lambda: self._move_selected(+1), "Ctrl+Down", "Move the selected layer down")
        # Delete and the moves act on the stack only while it has the focus, so they never fire while
        # the user types in the inspector.
        for a in (self.duplicate_action, self.delete_action, self.move_up_action, self.move_down_action):
            self.stack_view.addAction(a)
        for a in (self.delete_action, self.move_up_action, self.move_down_action):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.train_start_action = action("&Start Training", self.start_training, "F5", "Train this network in the background")
        self.train_pause_action = action("&Pause / Resume", self.training.toggle_pause, "F6", "Pause or resume the run")
        self.train_step_action = action("S&tep One Batch", self.training.step, "F7", "Run one batch, then pause")
        self.train_stop_action = action("St&op", self.training.stop, "Shift+F5", "Stop the run")
        self.train_save_action = action("Save &Run…", lambda: self.training.save_run(), tip="Save the run as a checkpoint")
        self.fetch_action = action("&Download CIFAR-10…", lambda: self.fetch_cifar10(), tip="Download CIFAR-10 (170 MB) into the cache")
        self.adopt_action = action("Use a CIFAR-10 &Archive…", self.adopt_cifar10, tip="Check a CIFAR-10 archive you have and keep it in the cache")
        self.data_folder_action = action("Data &Folder…", self.choose_data_folder, tip="Where ConvViz keeps CIFAR-10")
        self.help_action = action("&What am I looking at?", self.show_help, Key.HelpContents)
        self.about_action = action("&About ConvViz", self.show_about)

    def _build_menus(self) -> None:
        menus = self.menuBar()
        self.file_menu = menus.addMenu("&File")
        self.file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = self.file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.file_menu.addSeparator()
        self.file_menu.addActions([self.save_action, self.save_as_action])
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)

        self.edit_menu = menus.addMenu("&Edit")
        self.edit_menu.addActions([self.undo_action, self.redo_action])
        self.edit_menu.addSeparator()
        self.insert_menu = insert_menu(self.edit_menu, "&Insert Layer", self.insert_below_selection)
        self.edit_menu.addActions([self.duplicate_action, self.delete_action, self.move_up_action, self.move_down_action])

        self.case_menu = menus.addMenu("&Case Studies")
        self.preset_actions: dict[str, QAction] = {}
        self.case_menu.addSection("Case studies (CS231n)")
        names = preset_names()
        for name in [n for n in names if n in CASE_STUDIES] + [None] + [n for n in names if n not in CASE_STUDIES]:
            if name is None:
                self.case_menu.addSection("Small networks that train on CIFAR-10")
                continue
            spec = preset(name)
            a = QAction(f"{spec.name}  ({spec.input})", self)
            a.setStatusTip(spec.description)
            a.setToolTip(spec.description)
            a.triggered.connect(lambda _=False, n=name: self.load_preset(n))
            self.case_menu.addAction(a)
            self.preset_actions[name] = a
        self.case_menu.setToolTipsVisible(True)

        self.train_menu = menus.addMenu("&Train")
        self.train_menu.addActions([self.train_start_action, self.train_pause_action, self.train_step_action, self.train_stop_action])
        self.train_menu.addSeparator()
        self.train_menu.addAction(self.train_save_action)
        self.train_menu.addSeparator()
        self.train_menu.addActions([self.fetch_action, self.adopt_action, self.data_folder_action])
        self._on_run_state(self.training.state)

        self.view_menu = menus.addMenu("&View")
        for dock in self.docks():
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction("Reset &Layout", self.reset_layout)

        self.help_menu = menus.addMenu("&Help")
        self.help_menu.addActions([self.help_action, self.about_action])

    def _set_hint_text(self, *_args) -> None:
        name = self.document.spec.name
        what = f"This is the {name} network" if name else "This is your network"
        self.hint_label.setText(FIRST_START_HINT.format(what=what))

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        # A passing message (a menu's status tip) hides the problem line instead of overprinting it.
        bar.messageChanged.connect(lambda text: self.problem_label.setVisible(not text))
        self.problem_label = QLabel()
        self.problem_label.setTextFormat(Qt.TextFormat.RichText)
        self.problem_label.linkActivated.connect(self._select_first_problem)
        self.totals_label = QLabel()
        bar.addWidget(self.problem_label, 1)
        bar.addPermanentWidget(self.totals_label)

    # -- layout and settings -----------------------------------------------------------------------------
    def _default_sizes(self) -> None:
        self.resizeDocks([self.palette_dock, self.inspector_dock], [230, 380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.diagram_dock, self.summary_dock], [165, 285], Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._training_tab_pending:
            self._training_tab_pending = False
            if not self.tabifiedDockWidgets(self.training_dock):
                self.tabifyDockWidget(self.inspector_dock, self.training_dock)
                self.inspector_dock.raise_()
            if not self._restored_state:
                self._default_state = self.saveState()

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        self._default_state = self.saveState()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        self._restored_state = state is not None and self.restoreState(state)
        if not self._restored_state:
            self._default_sizes()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in self.docks():
            dock.setFloating(False)
            dock.show()
        if not self.tabifiedDockWidgets(self.training_dock):
            self.tabifyDockWidget(self.inspector_dock, self.training_dock)
        self.inspector_dock.raise_()
        self.summary_dock.raise_()
        self._default_sizes()

    def docks(self) -> list[QDockWidget]:
        return [self.palette_dock, self.inspector_dock, self.training_dock, self.diagram_dock, self.summary_dock, self.snapshot_dock]

    # -- training ------------------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Show the training panel and start a run of the network in the builder."""
        self.training_dock.show()
        self.training_dock.raise_()
        if not self.document.report.valid:
            self.dialogs.show_error("Cannot train", f"The network has problems: {self.status_text()}")
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
            self.training.data_folder = folder
            self.statusBar().showMessage(f"CIFAR-10 is kept in {folder}/cifar10", 10_000)

    def adopt_cifar10(self) -> bool:
        path = self.dialogs.open_cifar10_archive(self._last_dir())
        return bool(path) and self.fetch_cifar10(path)

    def _on_run_state(self, state: str) -> None:
        if not hasattr(self, "train_start_action"):
            return
        active = state in ("loading", "running", "paused")
        self.train_start_action.setEnabled(not active)
        for a in (self.train_pause_action, self.train_step_action, self.train_save_action):
            a.setEnabled(state in ("running", "paused"))
        self.train_stop_action.setEnabled(active)

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    def recent_files(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: str) -> None:
        path = os.path.abspath(path)
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("files/recent", recent[:MAX_RECENT])
        self.settings.setValue("files/last_dir", os.path.dirname(path))

    def _forget_recent(self, path: str) -> None:
        self.settings.setValue("files/recent", [p for p in self.recent_files() if p != path])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for i, path in enumerate(recent, start=1):
            a = self.recent_menu.addAction(f"&{i} {Path(path).name}", lambda p=path: self.open_recent(p))
            a.setStatusTip(path)
            a.setToolTip(path)
        if not recent:
            self.recent_menu.addAction("(no recent files)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Files", lambda: self.settings.setValue("files/recent", []))

    def _last_dir(self) -> str:
        return str(self.settings.value("files/last_dir", str(Path.home())))

    # -- files -----------------------------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """True when it is safe to replace the network (saved, discarded on request, or unchanged)."""
        if not self.document.modified:
            return True
        answer = self.dialogs.ask_unsaved(self.document.title())
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_network(self) -> None:
        if self.maybe_save():
            self.document.reset(NetworkSpec(input=Volume(32, 32, 3), layers=[], name=""))

    def open_file(self) -> None:
        if not self.maybe_save():
            return
        path = self.dialogs.open_network(self._last_dir())
        if path:
            self.open_path(path, ask=False)

    def open_recent(self, path: str) -> bool:
        if not os.path.exists(path):
            self.dialogs.show_error("Open recent", f"{path} no longer exists; it is removed from the recent files.")
            self._forget_recent(path)
            return False
        return self.open_path(path)

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open a network file (or ``preset:NAME``). A file that cannot be read leaves the network as it was."""
        path = str(path)
        if path.startswith(PRESET_PREFIX):
            name = path[len(PRESET_PREFIX):]
            if name not in preset_names():
                self.dialogs.show_error("No such case study", f"There is no preset named “{name}”. Presets: {', '.join(preset_names())}.")
                return False
            return self.load_preset(name, ask=ask)
        if ask and not self.maybe_save():
            return False
        try:
            spec = load_spec(path)
        except SpecFormatError as exc:
            name = Path(path).name
            self.dialogs.show_problems(
                "Cannot open network",
                f"{name} is not a network ConvViz can open; your current network is unchanged.",
                exc.problems,
            )
            return False
        self.document.reset(spec, file_path=os.path.abspath(path))
        self._add_recent(path)
        return True

    def load_preset(self, name: str, ask: bool = True) -> bool:
        if ask and not self.maybe_save():
            return False
        self.document.reset(preset(name))
        return True

    def save(self) -> bool:
        if not self.document.file_path:
            return self.save_as()
        return self._write(self.document.file_path)

    def save_as(self) -> bool:
        spec = self.document.spec
        stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in (spec.name or "network").lower()).strip("-")
        current = self.document.file_path
        suggested = current if current else os.path.join(self._last_dir(), f"{stem or 'network'}.json")
        path = self.dialogs.save_network(suggested)
        return bool(path) and self._write(path)

    def _write(self, path: str) -> bool:
        try:
            save_spec(self.document.spec, path)  # atomic: a temp file, then os.replace
        except OSError as exc:
            self.dialogs.show_error("Cannot save", f"Could not save {path}: {exc.strerror or exc}")
            return False
        self.document.mark_saved(os.path.abspath(path))
        self._add_recent(path)
        self.statusBar().showMessage(f"Saved {path}", 3000)
        return True

    # -- edits from menus --------------------------------------------------------------------------------------
    def insert_below_selection(self, type_key: str) -> None:
        doc = self.document
        selected = doc.selected
        if isinstance(selected, tuple):
            doc.insert_type(type_key, selected[:-1], selected[-1] + 1)
        elif selected == INPUT:
            doc.insert_type(type_key, (), 0)
        else:
            doc.insert_type(type_key, (), len(doc.spec.layers))

    def duplicate_selected(self) -> None:
        if isinstance(self.document.selected, tuple):
            self.document.duplicate(self.document.selected)

    def delete_selected(self) -> None:
        if isinstance(self.document.selected, tuple):
            self.document.remove(self.document.selected)

    def _move_selected(self, step: int) -> None:
        if isinstance(self.document.selected, tuple):
            self.document.move_by(self.document.selected, step)

    # -- showing state -------------------------------------------------------------------------------------------
    def _update_title(self, *_args) -> None:
        self.setWindowTitle(f"{self.document.title()}[*] — ConvViz")
        self.setWindowModified(self.document.modified)

    def _update_actions(self, *_args) -> None:
        selected = self.document.selected
        layer = isinstance(selected, tuple)
        for a in (self.duplicate_action, self.delete_action):
            a.setEnabled(layer)
        self.move_up_action.setEnabled(layer and selected[-1] > 0)
        if layer:
            from convviz.ui.builder.document import stack_at

            self.move_down_action.setEnabled(selected[-1] < len(stack_at(self.document.spec, selected[:-1])) - 1)
        else:
            self.move_down_action.setEnabled(False)

    def _update_status(self) -> None:
        report = self.document.report
        problems = report.problems
        if problems:
            first = problems[0]
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            message = first.error.message.replace("&", "&amp;").replace("<", "&lt;")
            self.problem_label.setText(
                f"<span style='color:{INVALID_COLOR}'>✗ <a href='first'>{first.name}</a>: {message}{more}</span>"
            )
            self.problem_label.setToolTip(first.error.message)
        else:
            out = report.output
            self.problem_label.setText(
                f"<span style='color:{OK_COLOR}'>✓ Valid:</span> {report.spec.input} → {out} in {len(list(report.walk()))} layers"
            )
            self.problem_label.setToolTip("")
        self.totals_label.setText(f"{report.total_params:,} params · {format_count(report.total_macs)} mult-adds per image")

    def status_text(self) -> str:
        """The status bar's message as plain text (what a test or a screen reader reads)."""
        from PySide6.QtGui import QTextDocument

        text = QTextDocument()
        text.setHtml(self.problem_label.text())
        return text.toPlainText()

    def _select_first_problem(self, _href: str = "") -> None:
        problems = self.document.report.problems
        if problems:
            self.document.select(problems[0].path)

    def show_help(self) -> None:
        self.dialogs.show_help("What am I looking at?", HELP_HTML)

    def show_about(self) -> None:
        self.dialogs.about(
            "About ConvViz",
            f"<b>ConvViz {__version__}</b><br>See and touch convolutional networks: build them, size them, "
            "train them and step through them. After the Stanford CS231n notes.",
        )

    # -- drops and closing ---------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if json_files(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        files = json_files(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])

    def closeEvent(self, event) -> None:
        if not self.maybe_save() or not self.training.shutdown(ask=True):
            event.ignore()
            return
        self._save_layout()
        event.accept()
