"""The network stack: one card per layer, in order, with blocks expanding to their inner stacks.

:class:`StackModel` is a tree model over the document's spec and report: the input card, then one
node per layer; a block (Residual, Branch) has one header node per inner stack (body, shortcut,
b1, b2 …) holding that stack's layers. Edits that keep the tree's shape only emit ``dataChanged``
(the cards repaint in place); edits that change it reset the model and the view restores its
expanded blocks, selection and scroll position.

:class:`StackView` paints the cards (:class:`CardDelegate`) and turns drops into document edits:
a layer type from the palette inserts a new layer, a dragged card moves, a ``.json`` file opens.
:meth:`StackView.handle_drop` is what a drop calls, and tests call it through ``dropEvent``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractItemModel,
    QMimeData,
    QModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPolygon
from PySide6.QtWidgets import QAbstractItemView, QMenu, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTreeView

from convviz.model import CATEGORIES, LAYER_TYPES
from convviz.model.analysis import LayerReport
from convviz.model.summary import format_count
from convviz.ui.builder.document import INPUT, NetworkDocument, stack_at
from convviz.ui.widgets.layer_style import (
    INVALID_COLOR,
    INVALID_FILL,
    SELECTED_COLOR,
    UNRESOLVED_COLOR,
    UNRESOLVED_FILL,
    category_color,
    layer_icon,
)

#: A layer type key (b"conv"), what the palette drags.
LAYER_TYPE_MIME = "application/x-convviz-layer-type"
#: A layer path as JSON ([3] or [2, 0, 1]), what a dragged card carries.
LAYER_PATH_MIME = "application/x-convviz-layer-path"


def layer_type_mime(type_key: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(LAYER_TYPE_MIME, type_key.encode())
    mime.setText(type_key)
    return mime


def layer_path_mime(path: tuple) -> QMimeData:
    mime = QMimeData()
    mime.setData(LAYER_PATH_MIME, json.dumps(list(path)).encode())
    return mime


def json_files(mime: QMimeData) -> list[str]:
    """Local ``.json`` files among the URLs of a drop."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile().lower().endswith(".json")]


class Role(IntEnum):
    KIND = Qt.ItemDataRole.UserRole + 1  # "input", "layer" or "stack"
    PATH = Qt.ItemDataRole.UserRole + 2
    CARD = Qt.ItemDataRole.UserRole + 3  # the Card the delegate paints


@dataclass
class Card:
    """What one card shows: everything the delegate paints, as text."""

    kind: str  # input, layer, stack
    name: str  # conv1, or the stack label (body, shortcut, b1)
    brief: str  # conv 5×5, 16, S1 P2
    output: str  # 32×32×16, or "—"
    params: str  # "1,216 params"
    status: str  # ok, invalid, unresolved
    problem: str  # the reason, for an invalid layer
    note: str  # the second line: params and mult-adds, or why it has no shape
    category: str
    type_key: str
    composite: bool = False


class Node:
    __slots__ = ("kind", "path", "parent", "children", "row", "label", "__weakref__")

    def __init__(self, kind: str, path, parent: "Node | None", row: int, label: str = ""):
        self.kind, self.path, self.parent, self.row, self.label = kind, path, parent, row, label
        self.children: list[Node] = []


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


class StackModel(QAbstractItemModel):
    """The tree of cards over a :class:`NetworkDocument` (read-only: edits go through the document)."""

    def __init__(self, document: NetworkDocument, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self._root = Node("root", None, None, 0)
        self._nodes: dict = {}
        self._reports: dict[tuple, LayerReport] = {}
        self._cards: dict = {}
        self._shape = None
        self.resets = 0  # structural refreshes (for tests)
        self._rebuild()
        document.changed.connect(self.refresh)

    # -- building ----------------------------------------------------------------------------------
    def _shape_of(self) -> tuple:
        return tuple((r.path, len(r.children)) for r in self.document.report.walk())

    def _rebuild(self) -> None:
        report = self.document.report
        self._root = Node("root", None, None, 0)
        self._nodes = {}
        inp = Node("input", INPUT, self._root, 0)
        self._root.children.append(inp)
        self._nodes[INPUT] = inp

        def add_layers(parent: Node, reports: list[LayerReport], offset: int) -> None:
            for j, r in enumerate(reports):
                node = Node("layer", r.path, parent, j + offset)
                parent.children.append(node)
                self._nodes[r.path] = node
                for k, (label, stack) in enumerate(r.children):
                    header = Node("stack", r.path + (k,), node, k, label)
                    node.children.append(header)
                    self._nodes[header.path] = header
                    add_layers(header, stack, 0)

        add_layers(self._root, report.layers, 1)
        self._reports = {r.path: r for r in report.walk()}
        self._cards = {}
        self._shape = self._shape_of()

    def refresh(self) -> None:
        """Bring every card up to date with the document's report (one call per edit)."""
        shape = self._shape_of()
        if shape != self._shape:
            self.beginResetModel()
            self._rebuild()
            self.resets += 1
            self.endResetModel()
            return
        self._reports = {r.path: r for r in self.document.report.walk()}
        self._cards = {}
        self._emit_changed(self._root)

    def _emit_changed(self, node: Node) -> None:
        if not node.children:
            return
        first = self.createIndex(0, 0, node.children[0])
        last = self.createIndex(len(node.children) - 1, 0, node.children[-1])
        self.dataChanged.emit(first, last, [Role.CARD, Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])
        for child in node.children:
            if child.children:
                self._emit_changed(child)

    # -- lookup -----------------------------------------------------------------------------------------
    def node(self, index: QModelIndex) -> Node | None:
        return index.internalPointer() if index.isValid() else None

    def index_of(self, path) -> QModelIndex:
        """The index of a layer path, a stack path or INPUT (invalid if there is none)."""
        node = self._nodes.get(path)
        return self.createIndex(node.row, 0, node) if node is not None else QModelIndex()

    def report_of(self, path) -> LayerReport | None:
        return self._reports.get(path)

    def card(self, index_or_path) -> Card | None:
        """The card at an index or path: what the delegate paints (tests read it too)."""
        node = self.node(index_or_path) if isinstance(index_or_path, QModelIndex) else self._nodes.get(index_or_path)
        if node is None:
            return None
        card = self._cards.get(node.path)
        if card is None:
            card = self._cards[node.path] = self._make_card(node)
        return card

    def _make_card(self, node: Node) -> Card:
        doc = self.document
        if node.kind == "input":
            volume = doc.spec.input
            return Card("input", "input", "one image, W×H×D", str(volume), "", "ok", "",
                        f"{volume.elements:,} numbers per image", "Input", "input")
        if node.kind == "stack":
            block = self._reports[node.path[:-1]]
            label, stack = block.children[node.path[-1]]
            out = stack[-1].output if stack else block.input
            empty = {"shortcut": "empty: identity, x passes through"}.get(label, "empty: passes the input through")
            brief = empty if not stack else _plural(len(stack), "layer")
            status = "ok" if out is not None else "unresolved"
            return Card("stack", label, brief, str(out) if out is not None else "—", "", status, "", "", "Blocks", "")
        r = self._reports[node.path]
        layer = r.layer
        status = r.status
        output = str(r.output) if r.output is not None else "—"
        params = (_plural(r.params, "param") if r.params else "no parameters") if status != "unresolved" else ""
        problem = r.error.message if r.error is not None else ""
        if status == "invalid" and not problem:
            problem = "a layer inside this block has a problem (expand it)"
        if status == "unresolved":
            note = "input unknown until the red layer above is fixed"
        elif status == "invalid":
            note = problem
        else:
            note = params + (f" · {format_count(r.macs)} mult-adds" if r.macs else "")
        return Card("layer", r.name, layer.brief(), output, params, status, problem, note, layer.CATEGORY,
                    layer.TYPE, layer.COMPOSITE)

    # -- QAbstractItemModel -----------------------------------------------------------------------------------
    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        node = self.node(parent) if parent.isValid() else self._root
        if node is None or column != 0 or not 0 <= row < len(node.children):
            return QModelIndex()
        return self.createIndex(row, 0, node.children[row])

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        node = self.node(index)
        if node is None or node.parent is None or node.parent is self._root:
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if parent.column() > 0:
            return 0
        node = self.node(parent) if parent.isValid() else self._root
        return len(node.children) if node is not None else 0

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 1

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        node = self.node(index)
        if node is None:
            return None
        if role == Role.KIND:
            return node.kind
        if role == Role.PATH:
            return node.path
        card = self.card(index)
        if role == Role.CARD:
            return card
        if role == Qt.ItemDataRole.DisplayRole:
            if card.kind == "stack":
                return f"{card.name}: {card.brief} → {card.output}"
            return f"{card.name}  {card.brief}  → {card.output}"
        if role == Qt.ItemDataRole.ToolTipRole:
            if card.problem:
                return f"{card.name}: {card.problem}"
            if card.kind == "layer":
                r = self._reports[node.path]
                lines = [f"{card.name}: {card.brief}", f"{r.input} → {card.output}" if r.input else card.output]
                if r.param_formula():
                    lines.append(f"params: {r.param_formula()}")
                return "\n".join(lines)
            return card.note or None
        if role == Qt.ItemDataRole.DecorationRole and card.kind == "layer":
            return layer_icon(card.type_key)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        node = self.node(index)
        if node is None:
            return Qt.ItemFlag.ItemIsDropEnabled
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDropEnabled
        if node.kind in ("layer", "input"):
            flags |= Qt.ItemFlag.ItemIsSelectable
        if node.kind == "layer":
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def mimeTypes(self) -> list[str]:
        return [LAYER_TYPE_MIME, LAYER_PATH_MIME, "text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        nodes = [self.node(i) for i in indexes if self.node(i) is not None and self.node(i).kind == "layer"]
        return layer_path_mime(nodes[0].path) if nodes else QMimeData()

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def removeRows(self, row: int, count: int, parent: QModelIndex = QModelIndex()) -> bool:
        """Refused: after a card is dragged, the view asks to remove the source rows, but the
        document has already moved the layer (and the model follows the document)."""
        return False


# -- painting ------------------------------------------------------------------------------------------


class CardDelegate(QStyledItemDelegate):
    """Paints a card: category strip, icon, name and hyperparameters, output volume, and a second line
    with the parameter count or, for an invalid layer, its reason in red."""

    LAYER_HEIGHT = 42
    INPUT_HEIGHT = 40
    STACK_HEIGHT = 24

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.paints = 0  # cards painted (the benchmark checks the cards really repaint)
        self._fonts_for: QFont | None = None

    def fonts(self, base: QFont):
        """(regular, bold, small, header) fonts and their metrics for the view's font, made once."""
        if self._fonts_for != base:
            bold = QFont(base)
            bold.setBold(True)
            small = QFont(base)
            small.setPointSizeF(base.pointSizeF() * 0.88)
            header = QFont(base)
            header.setBold(True)
            header.setPointSizeF(base.pointSizeF() * 0.9)
            header_light = QFont(header)
            header_light.setBold(False)
            self._fonts = {name: (font, QFontMetrics(font)) for name, font in
                           (("base", QFont(base)), ("bold", bold), ("small", small), ("header", header), ("header_light", header_light))}
            self._fonts_for = QFont(base)
        return self._fonts

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        kind = index.data(Role.KIND)
        height = {"stack": self.STACK_HEIGHT, "input": self.INPUT_HEIGHT}.get(kind, self.LAYER_HEIGHT)
        return QSize(200, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        card: Card | None = index.data(Role.CARD)
        if card is None:
            return
        self.paints += 1
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if card.kind == "stack":
            self._paint_stack(painter, option, card)
        else:
            self._paint_card(painter, option, card, selected)
        painter.restore()

    def _paint_stack(self, painter: QPainter, option: QStyleOptionViewItem, card: Card) -> None:
        rect = option.rect.adjusted(4, 2, -8, -2)
        fonts = self.fonts(option.font)
        painter.setPen(QColor("#9aa0a6"))
        font, metrics = fonts["header"]
        painter.setFont(font)
        label = card.name
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
        x = rect.left() + metrics.horizontalAdvance(label) + 8
        font, metrics = fonts["header_light"]
        painter.setFont(font)
        right = f"→ {card.output}"
        right_w = metrics.horizontalAdvance(right)
        brief = metrics.elidedText(card.brief, Qt.TextElideMode.ElideRight, max(0, rect.right() - right_w - 12 - x))
        painter.drawText(QRect(x, rect.top(), rect.right() - x, rect.height()), Qt.AlignmentFlag.AlignVCenter, brief)
        painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, right)
        painter.setPen(QPen(QColor("#dadce0"), 1))
        painter.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())

    def _paint_card(self, painter: QPainter, option: QStyleOptionViewItem, card: Card, selected: bool) -> None:
        rect = option.rect.adjusted(2, 3, -6, -3)
        base = option.palette.color(QPalette.ColorRole.Base)
        text_color = option.palette.color(QPalette.ColorRole.Text)
        fill, border = base, QColor("#dadce0")
        if card.status == "invalid":
            fill, border = QColor(INVALID_FILL), QColor(INVALID_COLOR)
        elif card.status == "unresolved":
            fill, border, text_color = QColor(UNRESOLVED_FILL), QColor("#bdc1c6"), QColor(UNRESOLVED_COLOR)
        if selected:
            border = QColor(SELECTED_COLOR)
            if card.status == "ok":
                fill = QColor("#e8f0fe")
        pen = QPen(border, 2 if selected or card.status == "invalid" else 1)
        if card.status == "unresolved" and not selected:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 5, 5)
        # category strip
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(category_color(card.category))
        painter.drawRoundedRect(QRect(rect.left() + 1, rect.top() + 1, 5, rect.height() - 1), 2, 2)
        x = rect.left() + 12
        if card.kind == "layer":
            icon = layer_icon(card.type_key)
            icon.paint(painter, QRect(x, rect.top() + (rect.height() - 22) // 2, 22, 22))
            x += 30
        fonts = self.fonts(option.font)
        base_font, base_metrics = fonts["base"]
        bold, bold_metrics = fonts["bold"]
        small, small_metrics = fonts["small"]
        one_line = card.kind == "input"
        top = QRect(x, rect.top() + 3, rect.right() - x - 8, (rect.height() - 6) if one_line else (rect.height() - 6) // 2)
        bottom = QRect(x, top.bottom(), top.width(), rect.bottom() - 3 - top.bottom())
        # right: the output volume
        painter.setFont(bold)
        painter.setPen(text_color if card.status != "invalid" else QColor(INVALID_COLOR))
        right = card.output if card.status != "invalid" or card.output != "—" else "✗"
        right_w = bold_metrics.horizontalAdvance(right)
        painter.drawText(top, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, right)
        # left: name, then the hyperparameters
        painter.setPen(text_color)
        name_w = bold_metrics.horizontalAdvance(card.name)
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, card.name)
        painter.setFont(base_font)
        avail = top.width() - name_w - right_w - 20
        brief = base_metrics.elidedText(card.brief, Qt.TextElideMode.ElideRight, max(0, avail))
        painter.drawText(top.adjusted(name_w + 8, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, brief)
        if card.kind == "input":
            painter.setFont(small)
            painter.setPen(QColor(UNRESOLVED_COLOR))
            note_rect = top.adjusted(name_w + 8 + base_metrics.horizontalAdvance(brief) + 12, 0, -right_w - 12, 0)
            painter.drawText(note_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             small_metrics.elidedText(card.note, Qt.TextElideMode.ElideRight, max(0, note_rect.width())))
            return
        # second line
        painter.setFont(small)
        if card.status == "invalid":
            painter.setPen(QColor(INVALID_COLOR))
            note = "✗ " + card.note
        else:
            painter.setPen(QColor(UNRESOLVED_COLOR) if card.status == "unresolved" else QColor("#5f6368"))
            note = card.note
        note = small_metrics.elidedText(note, Qt.TextElideMode.ElideRight, bottom.width())
        painter.drawText(bottom, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, note)


# -- the view ------------------------------------------------------------------------------------------------


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
        self.setAcceptDrops(True)
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
            if hasattr(layer, "branches"):
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
