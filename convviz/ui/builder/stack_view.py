"""The network stack in the centre of the Build workspace: the cards, drag and drop, the context menu.

:class:`StackView` shows a :class:`~convviz.ui.builder.stack_model.StackModel` painted by the
:class:`~convviz.ui.builder.card_delegate.CardDelegate`, keeps blocks open across edits, and turns
drops into document edits: a layer type from the palette inserts a new layer, a dragged card moves,
a ``.json`` file opens. :meth:`StackView.handle_drop` is what a drop calls, and tests call it
through ``dropEvent``. A network without layers shows a hint under its input card
(:data:`EMPTY_HINT`); :meth:`StackView.show_block` opens a block and scrolls it into view.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QAction, QColor, QPainter, QPalette, QPen, QPolygon
from PySide6.QtWidgets import QAbstractItemView, QMenu, QTreeView

from convviz.model import CATEGORIES, LAYER_TYPES, Branch
from convviz.ui.builder.card_delegate import CardDelegate
from convviz.ui.builder.document import (
    INPUT,
    READ_ONLY_NOTICE,
    NetworkDocument,
    stack_at,
)
from convviz.ui.builder.stack_model import (
    LAYER_PATH_MIME,
    LAYER_TYPE_MIME,
    StackModel,
    json_files,
)
from convviz.ui.widgets.layer_style import SELECTED_COLOR, layer_icon


EMPTY_HINT = ("Drag layers here from the Layers panel (or double-click one there) to build the network; "
              "right-click for a menu of every layer, or open a case study from Case Studies.")


class StackView(QTreeView):
    """The centre of the window: the cards, drag and drop, the context menu."""

    file_dropped = Signal(str)

    def __init__(self, document: NetworkDocument, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.stack_model = StackModel(document, self)
        self.setModel(self.stack_model)
        self.delegate = CardDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setHeaderHidden(True)
        self.setIndentation(18)
        self.setUniformRowHeights(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDragEnabled(True)
        document.read_only_changed.connect(lambda read_only: self.setDragEnabled(not read_only))
        self.setAcceptDrops(True)  # a network file dropped while training is refused with a reason
        self.setDropIndicatorShown(False)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setAutoScroll(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setAnimated(False)
        self.setExpandsOnDoubleClick(True)
        self.setAccessibleName("Network stack")
        palette = self.palette()  # the cards draw their own selection: no highlight band beside them
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            palette.setColor(group, QPalette.ColorRole.Highlight, QColor(0, 0, 0, 0))
        self.setPalette(palette)
        self._expanded_ids: set[int] = set()
        self._syncing = False
        self._drop_line: tuple[int, int, int] | None = None
        self._scroll = 0
        self.customContextMenuRequested.connect(self._context_menu)
        self.expanded.connect(lambda i: self._remember(i, True))
        self.collapsed.connect(lambda i: self._remember(i, False))
        self.stack_model.modelAboutToBeReset.connect(self._before_reset)
        self.stack_model.modelReset.connect(self._after_reset)
        self.selectionModel().currentChanged.connect(self._current_changed)
        document.selection_changed.connect(self.show_selection)
        self.show_selection(document.selected)

    # -- expansion and selection ------------------------------------------------------------------------
    def _remember(self, index: QModelIndex, expanded: bool) -> None:
        node = self.stack_model.node(index)
        if node is None or node.kind != "layer":
            return
        key = id(self.document.layer(node.path))
        (self._expanded_ids.add if expanded else self._expanded_ids.discard)(key)

    def expand_block(self, path: tuple) -> None:
        index = self.stack_model.index_of(path)
        if index.isValid():
            self.expand(index)
            for k in range(self.stack_model.rowCount(index)):
                self.expand(self.stack_model.index(k, 0, index))

    def show_block(self, path: tuple) -> None:
        """"Show in the stack": open the block at ``path`` (and the blocks around it) and scroll so its
        card and as much of its inside as fits are in view."""
        for depth in range(1, len(path), 2):
            self.expand_block(path[:depth])
        self.expand_block(path)
        index = self.stack_model.index_of(path)
        if not index.isValid():
            return
        self.doItemsLayout()  # the rows just opened have their heights before scrolling to them
        last = index
        while self.stack_model.rowCount(last) and self.isExpanded(last):
            last = self.stack_model.index(self.stack_model.rowCount(last) - 1, 0, last)
        self.scrollTo(last, QAbstractItemView.ScrollHint.EnsureVisible)  # the end of the block if it fits …
        self.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)  # … and its own card always

    def empty_hint_rect(self) -> QRect | None:
        """Where the empty network's hint is drawn (viewport coordinates), or None with layers."""
        if self.document.spec.layers:
            return None
        below = self.visualRect(self.stack_model.index_of(INPUT))
        top = below.bottom() + 12 if below.isValid() else 12
        width = self.viewport().width()
        return QRect(16, top, max(0, width - 32), 80)

    def _before_reset(self) -> None:
        self._scroll = self.verticalScrollBar().value()

    def _after_reset(self) -> None:
        alive = set()

        def restore(stack: list, path: tuple) -> None:
            for j, layer in enumerate(stack):
                if layer.COMPOSITE:
                    here = path + (j,)
                    if id(layer) in self._expanded_ids:
                        alive.add(id(layer))
                        self.expand_block(here)
                    for k, (_, inner) in enumerate(layer.stacks()):
                        restore(inner, here + (k,))

        restore(self.document.spec.layers, ())
        self._expanded_ids = alive
        self.show_selection(self.document.selected)
        self.verticalScrollBar().setValue(self._scroll)

    def show_selection(self, path) -> None:
        """Select the card of ``path`` (expanding the blocks around it) without echoing back."""
        self._syncing = True
        try:
            if isinstance(path, tuple):
                for depth in range(1, len(path), 2):
                    self.expand_block(path[:depth])
            index = self.stack_model.index_of(path) if path is not None else QModelIndex()
            if index.isValid():
                self.setCurrentIndex(index)
                self.scrollTo(index)
            else:
                self.selectionModel().clearSelection()
                self.selectionModel().setCurrentIndex(QModelIndex(), self.selectionModel().SelectionFlag.NoUpdate)
        finally:
            self._syncing = False

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing:
            return
        node = self.stack_model.node(current)
        if node is not None and node.kind in ("layer", "input"):
            self.document.select(node.path)

    def drawBranches(self, painter: QPainter, rect: QRect, index: QModelIndex) -> None:
        """Only the open/closed arrow of a block, never a selection band beside the card."""
        if not self.stack_model.hasChildren(index):
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#5f6368"))
        cx, cy = rect.right() - self.indentation() / 2 + 2, rect.center().y()
        if self.isExpanded(index):
            points = [QPoint(cx - 5, cy - 3), QPoint(cx + 5, cy - 3), QPoint(cx, cy + 3)]
        else:
            points = [QPoint(cx - 3, cy - 5), QPoint(cx - 3, cy + 5), QPoint(cx + 3, cy)]
        painter.drawPolygon(QPolygon(points))
        painter.restore()

    # -- drops ------------------------------------------------------------------------------------------------
    def drop_target(self, pos: QPoint) -> tuple[tuple, int]:
        """(stack path, index) where a drop at ``pos`` (viewport coordinates) inserts."""
        index = self.indexAt(pos)
        node = self.stack_model.node(index)
        if node is None:
            return (), len(self.document.spec.layers)
        if node.kind == "input":
            return (), 0
        if node.kind == "stack":
            return node.path, 0
        rect = self.visualRect(index)
        if pos.y() < rect.center().y():
            return node.path[:-1], node.path[-1]
        if node.children and self.isExpanded(index):
            return node.children[0].path, 0
        return node.path[:-1], node.path[-1] + 1

    def handle_drop(self, mime: QMimeData, stack_path: tuple, index: int) -> bool:
        """Apply a drop: insert a palette layer type, move a dragged card, or open a dropped file."""
        files = json_files(mime)
        if files:
            self.file_dropped.emit(files[0])
            return True
        if mime.hasFormat(LAYER_TYPE_MIME):
            type_key = bytes(mime.data(LAYER_TYPE_MIME).data()).decode()
            if type_key not in LAYER_TYPES:
                return False
            path = self.document.insert_type(type_key, stack_path, index)
            if path is None:  # read-only while a run trains the network
                return False
            if self.document.layer(path).COMPOSITE:
                self.expand_block(path)
            return True
        if mime.hasFormat(LAYER_PATH_MIME):
            try:
                path = tuple(json.loads(bytes(mime.data(LAYER_PATH_MIME).data()).decode()))
            except (ValueError, TypeError):
                return False
            return self.document.move(path, stack_path, index) is not None
        return False

    def _accepts(self, mime: QMimeData) -> bool:
        return bool(json_files(mime)) or mime.hasFormat(LAYER_TYPE_MIME) or mime.hasFormat(LAYER_PATH_MIME)

    def dragEnterEvent(self, event) -> None:
        if self._accepts(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction if not event.mimeData().hasFormat(LAYER_PATH_MIME) else Qt.DropAction.MoveAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        super().dragMoveEvent(event)  # auto-scroll near the edges
        if not self._accepts(event.mimeData()):
            event.ignore()
            return
        move = event.mimeData().hasFormat(LAYER_PATH_MIME)
        event.setDropAction(Qt.DropAction.MoveAction if move else Qt.DropAction.CopyAction)
        event.accept()
        self._drop_line = None if json_files(event.mimeData()) else self._line_for(*self.drop_target(event.position().toPoint()))
        self.viewport().update()

    def dragLeaveEvent(self, event) -> None:
        self._drop_line = None
        self.viewport().update()
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:
        self._drop_line = None
        self.viewport().update()
        mime = event.mimeData()
        stack_path, index = self.drop_target(event.position().toPoint())
        if self.handle_drop(mime, stack_path, index):
            move = mime.hasFormat(LAYER_PATH_MIME)
            event.setDropAction(Qt.DropAction.MoveAction if move else Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def _line_for(self, stack_path: tuple, index: int) -> tuple[int, int, int] | None:
        """(y, x0, x1) of the insertion line shown while dragging."""
        model = self.stack_model
        stack = stack_at(self.document.spec, stack_path)
        if index < len(stack):
            rect = self.visualRect(model.index_of(stack_path + (index,)))
            y = rect.top()
        elif stack:
            rect = self.visualRect(model.index_of(stack_path + (len(stack) - 1,)))
            y = rect.bottom()
        else:
            rect = self.visualRect(model.index_of(stack_path if stack_path else INPUT))
            y = rect.bottom()
        if rect.isNull():
            return None
        return y, rect.left(), rect.right()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        hint = self.empty_hint_rect()
        if hint is not None:
            painter = QPainter(self.viewport())
            painter.setPen(QPen(QColor("#9aa0a6"), 2, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(hint, 8, 8)
            painter.setPen(QColor("#5f6368"))
            painter.drawText(hint.adjusted(12, 6, -12, -6), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             EMPTY_HINT)
            painter.end()
        if self._drop_line is not None:
            y, x0, x1 = self._drop_line
            painter = QPainter(self.viewport())
            painter.setPen(QPen(QColor(SELECTED_COLOR), 3))
            painter.drawLine(x0 + 2, y, x1 - 2, y)
            painter.end()

    # -- context menu -------------------------------------------------------------------------------------------
    def _context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu(self.indexAt(pos))
        if menu is not None and not menu.isEmpty():
            menu.exec(self.viewport().mapToGlobal(pos))

    def context_menu(self, index: QModelIndex) -> QMenu | None:
        """The menu for the card at ``index`` (built separately so tests can read and trigger it)."""
        doc = self.document
        node = self.stack_model.node(index)
        menu = QMenu(self)
        if doc.read_only:
            menu.addAction(READ_ONLY_NOTICE).setEnabled(False)
            return menu
        if node is None:
            insert_menu(menu, "Append layer", lambda t: doc.insert_type(t, (), len(doc.spec.layers)))
            return menu
        if node.kind == "input":
            insert_menu(menu, "Insert below", lambda t: doc.insert_type(t, (), 0))
            return menu
        if node.kind == "stack":
            stack = stack_at(doc.spec, node.path)
            insert_menu(menu, f"Insert into {node.label}", lambda t: doc.insert_type(t, node.path, len(stack)))
            block_path = node.path[:-1]
            if node.label.startswith("b") and len(doc.layer(block_path).branches) > 1:
                k = node.path[-1]
                menu.addAction(f"Remove branch {node.label}", lambda: doc.remove_branch(block_path, k))
            return menu
        path = node.path
        doc.select(path)
        insert_menu(menu, "Insert above", lambda t: doc.insert_type(t, path[:-1], path[-1]))
        insert_menu(menu, "Insert below", lambda t: doc.insert_type(t, path[:-1], path[-1] + 1))
        menu.addSeparator()
        for action in self.actions():  # Duplicate, Delete, Move up/down (with their shortcuts)
            menu.addAction(action)
        layer = doc.layer(path)
        if layer.COMPOSITE:
            menu.addSeparator()
            if isinstance(layer, Branch):
                menu.addAction("Add branch", lambda: doc.add_branch(path))
            expanded = self.isExpanded(index)
            menu.addAction("Collapse block" if expanded else "Expand block",
                           (lambda: self.collapse(index)) if expanded else (lambda: self.expand_block(path)))
        return menu


def insert_menu(menu: QMenu, title: str, insert) -> QMenu:
    """A submenu of every layer type, grouped by category, calling ``insert(type_key)``."""
    sub = menu.addMenu(title)
    for category in CATEGORIES:
        section = sub.addSection(category)
        section.setEnabled(False)
        for key, cls in LAYER_TYPES.items():
            if cls.CATEGORY == category:
                action = QAction(layer_icon(key), cls.TITLE, sub)
                action.triggered.connect(lambda _=False, k=key: insert(k))
                sub.addAction(action)
    return sub
