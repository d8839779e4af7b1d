"""The window's actions and menus: File, Edit (with Replace Last FC Layer… for fine-tuning), Case
Studies, Train, View and Help.

:class:`WindowMenus` makes every ``QAction`` once, connects it to the object that does the work (the
document, its files, the run session, the workspaces, the window), puts it in the menu bar, and
keeps it enabled only when it can act: the edit actions follow the selection, the training actions
follow the run's state.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

from convviz.model import preset, preset_names
from convviz.ui.builder.document import NetworkDocument
from convviz.ui.builder.head import ask_and_replace_head, can_replace_head
from convviz.ui.builder.stack_view import insert_menu
from convviz.ui.session import ACTIVE_STATES, RunSession
from convviz.ui.window.files import NetworkFiles
from convviz.ui.window.run_files import RunFiles
from convviz.ui.window.workspaces import Workspaces

CASE_STUDIES = ("lenet5", "alexnet", "alexnet_torchvision", "zfnet", "vgg16", "googlenet", "resnet18")  # menu order


class WindowMenus:
    """Every action of ``window`` and the menus holding them (see the module docstring)."""

    def __init__(self, window: QMainWindow, document: NetworkDocument, files: NetworkFiles, session: RunSession,
                 workspaces: Workspaces, docks: list[QDockWidget], stack_view: QWidget, run_files: RunFiles) -> None:
        self.window = window
        self.document = document
        self.session = session
        self._make_actions(window, document, files, session)
        self._make_run_actions(run_files)
        self._make_menus(window.menuBar(), document, files, workspaces, docks)
        # Delete and the moves act on the stack only while it has the focus, so they never fire while
        # the user types in the inspector.
        for a in (self.duplicate_action, self.delete_action, self.move_up_action, self.move_down_action):
            stack_view.addAction(a)
        for a in (self.delete_action, self.move_up_action, self.move_down_action):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        document.selection_changed.connect(self.follow_selection)
        document.changed.connect(self.follow_selection)
        document.read_only_changed.connect(self.follow_read_only)
        document.changed.connect(lambda *_: self.follow_run_state(session.state))
        session.state_changed.connect(self.follow_run_state)
        session.run_opened.connect(lambda _folder: self.follow_run_state(session.state))
        self.follow_selection()
        self.follow_run_state(session.state)

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self.window)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda _=False: slot())
        return a

    def _make_actions(self, window, document: NetworkDocument, files: NetworkFiles, session: RunSession) -> None:
        action, doc, Key = self._action, document, QKeySequence.StandardKey
        self.new_action = action("&New", files.new_network, Key.New, "Start an empty network")
        self.open_action = action("&Open…", files.open_file, Key.Open, "Open a network file")
        self.save_action = action("&Save", files.save, Key.Save, "Save the network")
        self.save_as_action = action("Save &As…", files.save_as, Key.SaveAs, "Save the network in a new file")
        self.quit_action = action("&Quit", window.close, Key.Quit)
        self.undo_action = doc.undo_stack.createUndoAction(window, "&Undo")
        self.undo_action.setShortcut(QKeySequence(Key.Undo))
        self.redo_action = doc.undo_stack.createRedoAction(window, "&Redo")
        self.redo_action.setShortcut(QKeySequence(Key.Redo))
        self.duplicate_action = action("D&uplicate", lambda: doc.duplicate(doc.selected), "Ctrl+D",
                                       "Insert a copy below the selected layer")
        self.delete_action = action("&Delete", lambda: doc.remove(doc.selected), Key.Delete, "Delete the selected layer")
        self.move_up_action = action("Move &Up", lambda: doc.move_by(doc.selected, -1), "Ctrl+Up", "Move the selected layer up")
        self.move_down_action = action("Move Do&wn", lambda: doc.move_by(doc.selected, +1), "Ctrl+Down",
                                       "Move the selected layer down")
        self.replace_head_action = action("Replace Last &FC Layer…", lambda: ask_and_replace_head(window, doc),
                                          tip="Fine-tuning: a fresh last FC layer for N classes; the other "
                                              "layers keep their weights")
        self.train_start_action = action("&Start Training", window.start_training, "F5", "Train this network in the background")
        self.train_pause_action = action("&Pause / Resume", session.toggle_pause, "F6", "Pause or resume the run")
        self.train_step_action = action("S&tep One Batch", session.step, "F7", "Run one batch, then pause")
        self.train_stop_action = action("St&op", session.stop, "Shift+F5", "Stop the run")
        self.train_save_action = action("Save &Run…", window.training.save_run, tip="Save the run as a checkpoint")
        self.fetch_action = action("&Download CIFAR-10…", window.fetch_cifar10, tip="Download CIFAR-10 (170 MB) into the cache")
        self.adopt_action = action("Use a CIFAR-10 &Archive…", window.adopt_cifar10,
                                   tip="Check a CIFAR-10 archive you have and keep it in the cache")
        self.data_folder_action = action("Data &Folder…", window.choose_data_folder, tip="Where ConvViz keeps CIFAR-10")
        self.help_action = action("&What am I looking at?", window.show_help, Key.HelpContents)
        self.about_action = action("&About ConvViz", window.show_about)

    def _make_run_actions(self, run_files: RunFiles) -> None:
        action = self._action
        self.open_run_action = action("Open R&un…", run_files.open_run, "Ctrl+Shift+O",
                                      "Open a training run saved as a checkpoint folder: its network and weights")
        self.export_pytorch_action = action("&PyTorch…", run_files.export_pytorch,
                                            tip="model.py, weights.safetensors, network.json and train.py in a folder")
        self.export_onnx_action = action("&ONNX…", run_files.export_onnx, tip="An .onnx file with the weights")
        self.import_weights_action = action("&Import Weights…", run_files.import_weights,
                                            tip="Load a .safetensors or PyTorch .pth file into the builder's network")
        self.train_resume_action = action("&Resume Run", self.window.training.resume_run, "Ctrl+F5",
                                          "Go on with the opened run exactly as convviz train --resume does")

    def _make_menus(self, menus, document: NetworkDocument, files: NetworkFiles, workspaces: Workspaces,
                    docks: list[QDockWidget]) -> None:
        self.file_menu = menus.addMenu("&File")
        self.file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu: QMenu = self.file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: files.fill_recent_menu(self.recent_menu))
        self.file_menu.addAction(self.open_run_action)
        self.file_menu.addSeparator()
        self.file_menu.addActions([self.save_action, self.save_as_action])
        self.file_menu.addSeparator()
        self.export_menu: QMenu = self.file_menu.addMenu("&Export")
        self.export_menu.addActions([self.export_pytorch_action, self.export_onnx_action])
        self.file_menu.addAction(self.import_weights_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)

        self.edit_menu = menus.addMenu("&Edit")
        self.edit_menu.addActions([self.undo_action, self.redo_action])
        self.edit_menu.addSeparator()
        self.insert_menu = insert_menu(self.edit_menu, "&Insert Layer", document.insert_type_below_selection)
        self.pattern_action = self.edit_menu.addAction("Insert &Pattern…", self.window.insert_pattern)
        self.pattern_action.setStatusTip("The notes' [[CONV → RELU]×N → POOL]×M → [FC → RELU]×K → FC, previewed")
        self.edit_menu.addActions([self.duplicate_action, self.delete_action, self.move_up_action, self.move_down_action])
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.replace_head_action)

        self.case_menu = menus.addMenu("&Case Studies")
        self.preset_actions: dict[str, QAction] = {}
        self.case_menu.addSection("Case studies (CS231n)")
        names = preset_names()
        for name in [n for n in CASE_STUDIES if n in names] + [None] + [n for n in names if n not in CASE_STUDIES]:
            if name is None:
                self.case_menu.addSection("Small networks that train on CIFAR-10")
                continue
            spec = preset(name)
            a = QAction(f"{spec.name}  ({spec.input})", self.window)
            a.setStatusTip(spec.description)
            a.setToolTip(spec.description)
            a.triggered.connect(lambda _=False, n=name: files.load_preset(n))
            self.case_menu.addAction(a)
            self.preset_actions[name] = a
        self.case_menu.setToolTipsVisible(True)

        self.train_menu = menus.addMenu("&Train")
        self.train_menu.addActions([self.train_start_action, self.train_resume_action, self.train_pause_action,
                                    self.train_step_action, self.train_stop_action])
        self.train_menu.addSeparator()
        self.train_menu.addAction(self.train_save_action)
        self.train_menu.addSeparator()
        self.train_menu.addActions([self.fetch_action, self.adopt_action, self.data_folder_action])

        self.view_menu = menus.addMenu("&View")
        self.view_menu.addSection("Workspaces")
        self.view_menu.addActions(list(workspaces.actions.values()))
        self.view_menu.addSection("Panels")
        for dock in docks:
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(workspaces.reset_action)

        self.help_menu = menus.addMenu("&Help")
        self.help_menu.addActions([self.help_action, self.about_action])

    def follow_selection(self, *_args) -> None:
        doc = self.document
        layer = isinstance(doc.selected, tuple) and not doc.read_only
        self.duplicate_action.setEnabled(layer)
        self.delete_action.setEnabled(layer)
        self.move_up_action.setEnabled(layer and doc.can_move_by(doc.selected, -1))
        self.move_down_action.setEnabled(layer and doc.can_move_by(doc.selected, +1))
        self.replace_head_action.setEnabled(can_replace_head(doc))

    def follow_read_only(self, read_only: bool) -> None:
        """While a run trains the network, nothing that edits or replaces it can be chosen."""
        stack = self.document.undo_stack
        self.undo_action.setEnabled(not read_only and stack.canUndo())  # no edit happens meanwhile,
        self.redo_action.setEnabled(not read_only and stack.canRedo())  # so the stack will not re-enable them
        for a in (self.new_action, self.open_action, self.open_run_action, self.import_weights_action, self.pattern_action):
            a.setEnabled(not read_only)
        for menu in (self.recent_menu, self.insert_menu, self.case_menu):
            menu.setEnabled(not read_only)
        self.follow_selection()

    def follow_run_state(self, state: str) -> None:
        self.train_start_action.setEnabled(state not in ACTIVE_STATES)
        self.train_resume_action.setEnabled(self.session.can_resume)
        for a in (self.train_pause_action, self.train_step_action):
            a.setEnabled(state in ("running", "paused"))
        self.train_save_action.setEnabled(state in ("running", "paused") or self.session.can_save)
        self.train_stop_action.setEnabled(state in ACTIVE_STATES)
