"""Workspaces: full-window arrangements of the docks, one per part of the app, switched from a bar
of tabs at the top (View → Build / Train …, Ctrl+1 … Ctrl+4).

A :class:`Workspace` names the page shown in the centre of the window and the docks around it, each
in its default area and size. :class:`Workspaces` switches between them with Qt's own facilities:
the arrangement the user leaves behind is ``QMainWindow.saveState`` kept in ``QSettings`` under
``workspaces/<key>/state``, and coming back is ``restoreState``; a workspace never arranged (or a
state from an older version of the app) gets its default arrangement, as does Reset Workspace.
Analyze and Step are full-window pages (Step with the diagram above it).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QMainWindow,
    QScrollArea,
    QStackedWidget,
    QToolBar,
    QWidget,
)

Area = Qt.DockWidgetArea

#: Bumped when a default arrangement changes, so states saved by an older version are not restored.
STATE_VERSION = 3


@dataclass(frozen=True)
class Workspace:
    """``docks``: (dock object name, default area, default size as a fraction of the window: of its
    width for a side dock, of its height for a top or bottom one); ``tabs``: (dock, the dock it shares
    a place with as a tab), the first dock of each group in front."""

    key: str
    title: str
    shortcut: str
    tip: str
    docks: tuple[tuple[str, Area, float], ...] = ()
    ready: bool = True
    tabs: tuple[tuple[str, str], ...] = ()


WORKSPACES = (
    Workspace("build", "Build", "Ctrl+1", "Build the network: layers, shapes, costs and memory", (
        ("palette", Area.LeftDockWidgetArea, 0.165),
        ("diagram", Area.TopDockWidgetArea, 0.19),
        ("inspector", Area.RightDockWidgetArea, 0.27),
        ("summary", Area.BottomDockWidgetArea, 0.31),
    )),
    Workspace("train", "Train", "Ctrl+2", "Train the network and watch every layer learn", (
        ("training", Area.LeftDockWidgetArea, 0.24),
        ("layers", Area.BottomDockWidgetArea, 0.42),
        ("probes", Area.BottomDockWidgetArea, 0.50),
        ("health", Area.BottomDockWidgetArea, 0.50),
        ("filters", Area.BottomDockWidgetArea, 0.50),
        ("activations", Area.BottomDockWidgetArea, 0.50),
    ), tabs=(("probes", "layers"), ("health", "layers"), ("filters", "layers"), ("activations", "layers"))),
    Workspace("analyze", "Analyze", "Ctrl+3", "What the network gets right and wrong, and where it looks"),
    Workspace("step", "Step", "Ctrl+4", "Step through one image's forward and backward pass, down to one multiply-add", (
        ("diagram", Area.TopDockWidgetArea, 0.17),
    )),
)
BY_KEY = {w.key: w for w in WORKSPACES}

BAR_STYLE = """
QToolBar#workspaces { border: none; border-bottom: 1px solid #dadce0; spacing: 2px; padding: 0 6px; }
QToolBar#workspaces QToolButton { padding: 4px 14px; border: none; border-bottom: 2px solid transparent; }
QToolBar#workspaces QToolButton:checked { color: #1a73e8; border-bottom: 2px solid #1a73e8; font-weight: bold; }
QToolBar#workspaces QToolButton:hover:!checked:enabled { background: #f1f3f4; }
QToolBar#workspaces QToolButton:disabled { color: #9aa0a6; }
"""


def state_key(key: str) -> str:
    return f"workspaces/{key}/state"


class Workspaces(QObject):
    """Switches ``window`` between the workspaces and remembers each one's arrangement."""

    changed = Signal(str)  # the key of the workspace now shown

    def __init__(self, window: QMainWindow, settings: QSettings, docks: dict[str, QDockWidget],
                 pages: dict[str, QWidget]) -> None:
        """``docks``: every dock by object name; ``pages``: the centre widget of each ready workspace."""
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.docks = docks
        self.centre = QStackedWidget()
        self.pages = pages
        self.holders: dict[str, QScrollArea] = {}
        for key, page in pages.items():
            # Each page scrolls inside its holder rather than widening the window: a stacked widget is
            # as wide as its widest page, and one page's minimum must not push another off a laptop screen.
            holder = QScrollArea()
            holder.setWidget(page)
            holder.setWidgetResizable(True)
            holder.setFrameShape(QFrame.Shape.NoFrame)
            self.holders[key] = holder
            self.centre.addWidget(holder)
        self.current: str | None = None

        self.actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for workspace in WORKSPACES:
            action = QAction(workspace.title if workspace.ready else f"{workspace.title} (coming)", window)
            action.setShortcut(QKeySequence(workspace.shortcut))
            action.setCheckable(True)
            action.setEnabled(workspace.ready)
            action.setStatusTip(workspace.tip)
            action.setToolTip(f"{workspace.tip} ({workspace.shortcut})")
            action.triggered.connect(lambda _=False, k=workspace.key: self.switch(k))
            group.addAction(action)
            self.actions[workspace.key] = action
        self.reset_action = QAction("Reset &Workspace", window)
        self.reset_action.setStatusTip("Put the docks of this workspace back where they start")
        self.reset_action.triggered.connect(self.reset)

        self.bar = QToolBar("Workspaces")
        self.bar.setObjectName("workspaces")
        self.bar.setStyleSheet(BAR_STYLE)
        self.bar.setMovable(False)
        self.bar.setFloatable(False)
        self.bar.toggleViewAction().setVisible(False)  # never hidden from the docks' context menu
        self.bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for workspace in WORKSPACES:
            self.bar.addAction(self.actions[workspace.key])
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.bar)

    def switch(self, key: str) -> bool:
        """Show workspace ``key`` as the user left it (its default the first time); False if it is not ready."""
        workspace = BY_KEY.get(key)
        if workspace is None or not workspace.ready:
            return False
        if key == self.current:
            return True
        if self.current is not None:
            self.save()
        self.current = key
        self.centre.setCurrentWidget(self.holders[key])
        state = self.settings.value(state_key(key))
        if state is None or not self.window.restoreState(state, STATE_VERSION):
            self.arrange_default()
        self.actions[key].setChecked(True)
        self.settings.setValue("workspaces/current", key)
        self.changed.emit(key)
        return True

    def show_dock(self, key: str, dock: str) -> bool:
        """Show workspace ``key`` with dock ``dock`` in front of its tab group (e.g. Train's probe images)."""
        if not self.switch(key):
            return False
        self.docks[dock].show()
        self.docks[dock].raise_()
        return True

    def restore(self) -> None:
        """Show the workspace the user was last in (Build on a first start)."""
        key = str(self.settings.value("workspaces/current", "build"))
        if not self.switch(key):
            self.switch("build")

    def save(self) -> None:
        """Keep the current workspace's arrangement in the settings."""
        if self.current is not None:
            self.settings.setValue(state_key(self.current), self.window.saveState(STATE_VERSION))

    def reset(self) -> None:
        """Put the current workspace's docks back in their default places and sizes."""
        self.arrange_default()
        self.save()

    def arrange_default(self) -> None:
        window = self.window
        wanted = {name: (area, size) for name, area, size in BY_KEY[self.current].docks}
        tabbed = {name: first for name, first in BY_KEY[self.current].tabs}
        for name, dock in self.docks.items():
            if name not in wanted:
                dock.hide()
                continue
            window.removeDockWidget(dock)
            dock.setFloating(False)
            if name not in tabbed:  # a tab joins its group below, never side by side first (that widens the window)
                window.addDockWidget(wanted[name][0], dock)
                dock.show()
        for name, first in tabbed.items():
            window.tabifyDockWidget(self.docks[first], self.docks[name])
            self.docks[name].show()
        for name in dict.fromkeys(tabbed.values()):
            self.docks[name].raise_()
        wanted = {name: place for name, place in wanted.items() if name not in tabbed}
        horizontal = (Area.LeftDockWidgetArea, Area.RightDockWidgetArea)
        for orientation, extent, sides in (
            (Qt.Orientation.Horizontal, window.width(), horizontal),
            (Qt.Orientation.Vertical, window.height(), (Area.TopDockWidgetArea, Area.BottomDockWidgetArea)),
        ):
            chosen = [(self.docks[name], size) for name, (area, size) in wanted.items() if area in sides]
            if chosen:
                window.resizeDocks([dock for dock, _ in chosen], [round(size * extent) for _, size in chosen], orientation)
