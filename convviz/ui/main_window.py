"""The main window: menus, central area, status bar."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox

from convviz import __version__


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("ConvViz")
        self._build_menus()
        placeholder = QLabel("ConvViz")
        self.setCentralWidget(placeholder)
        self.statusBar().showMessage("Ready")

    def _build_menus(self) -> None:
        menus = self.menuBar()
        self.file_menu = menus.addMenu("&File")
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.file_menu.addAction(quit_action)
        self.edit_menu = menus.addMenu("&Edit")
        self.view_menu = menus.addMenu("&View")
        self.help_menu = menus.addMenu("&Help")
        about = QAction("&About ConvViz", self)
        about.triggered.connect(self.show_about)
        self.help_menu.addAction(about)

    def show_about(self) -> None:
        QMessageBox.about(self, "About ConvViz", f"ConvViz {__version__}: see and touch convolutional networks.")

    def open_path(self, path: str) -> None:
        self.statusBar().showMessage(f"Opened {path}")
