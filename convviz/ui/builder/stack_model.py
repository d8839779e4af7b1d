"""The stack's tree model: one card per layer, in order, with blocks holding their inner stacks.

:class:`StackModel` is a tree model over the document's spec and report: the input card, then one
node per layer; a block (Residual, Branch) has one header node per inner stack (body, shortcut,
b1, b2 …) holding that stack's layers. Edits that keep the tree's shape only emit ``dataChanged``
(the cards repaint in place); edits that change it reset the model, and the view restores its
expanded blocks, selection and scroll position. A :class:`Card` is what one row shows, as text; the
mime helpers say what a drag carries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import QAbstractItemModel, QMimeData, QModelIndex, Qt

from convviz.model.analysis import LayerReport
from convviz.model.summary import format_count
from convviz.model.fine_tune import is_frozen
from convviz.ui.builder.document import INPUT, NetworkDocument
from convviz.ui.widgets.layer_style import layer_icon
from convviz.ui.widgets.text import counted

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
    hint: str = ""  # the rule of a sizing hint the layer (or the input) breaks, when hints are shown
    frozen: bool = False  # its train switch is off (fine-tuning keeps its weights)


class Node:
    __slots__ = ("kind", "path", "parent", "children", "row", "label", "__weakref__")

    def __init__(self, kind: str, path, parent: "Node | None", row: int, label: str = ""):
        self.kind, self.path, self.parent, self.row, self.label = kind, path, parent, row, label
        self.children: list[Node] = []


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
                        f"{volume.elements:,} numbers per image", "Input", "input", hint=self._hint("input"))
        if node.kind == "stack":
            block = self._reports[node.path[:-1]]
            label, stack = block.children[node.path[-1]]
            out = stack[-1].output if stack else block.input
            empty = {"shortcut": "empty: identity, x passes through"}.get(label, "empty: passes the input through")
            brief = empty if not stack else counted(len(stack), "layer")
            status = "ok" if out is not None else "unresolved"
            return Card("stack", label, brief, str(out) if out is not None else "—", "", status, "", "", "Blocks", "")
        r = self._reports[node.path]
        layer = r.layer
        status = r.status
        output = str(r.output) if r.output is not None else "—"
        params = (counted(r.params, "param") if r.params else "no parameters") if status != "unresolved" else ""
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
                    layer.TYPE, layer.COMPOSITE, hint=self._hint(r.name) if status == "ok" else "",
                    frozen=is_frozen(layer))

    def _hint(self, name: str) -> str:
        if not self.document.show_hints:
            return ""
        hints = self.document.design()[0].get(name)
        return hints[0].rule if hints else ""

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

