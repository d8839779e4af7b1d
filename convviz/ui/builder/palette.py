"""The layer palette: every layer type, grouped by category, to drag into the stack.

Each entry shows its icon, title and one-line description; its tooltip adds the formula. Dragging an
entry carries :data:`~convviz.ui.builder.stack_model.LAYER_TYPE_MIME`; double-clicking (or Enter) asks for it
to be inserted below the selected layer (:attr:`LayerPalette.insert_requested`).
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
)

from convviz.model import CATEGORIES, LAYER_TYPES
from convviz.ui.builder.stack_model import layer_type_mime
from convviz.ui.widgets.layer_style import category_color, layer_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 2
PATTERN = "pattern"  # the entry that opens Insert Pattern… (not a layer type: it cannot be dragged)


def tooltip_for(cls) -> str:
    return f"<b>{cls.TITLE}</b><br>{cls.DESCRIPTION}<br><br><code>{cls.FORMULA}</code><br><br><i>Drag into the stack, or double-click to insert below the selected layer.</i>"


class PaletteModel(QStandardItemModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        for category in CATEGORIES:
            group = QStandardItem(category)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setData(category_color(category), Qt.ItemDataRole.ForegroundRole)
            font = QFont()
            font.setBold(True)
            group.setData(font, Qt.ItemDataRole.FontRole)
            for key, cls in LAYER_TYPES.items():
                if cls.CATEGORY != category:
                    continue
                item = QStandardItem(layer_icon(key), cls.TITLE)
                item.setData(key, TYPE_ROLE)
                item.setData(cls.DESCRIPTION, DESCRIPTION_ROLE)
                item.setToolTip(tooltip_for(cls))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                group.appendRow(item)
            if category == "Blocks":
                group.appendRow(self._pattern_item())
            self.appendRow(group)

    @staticmethod
    def _pattern_item() -> QStandardItem:
        item = QStandardItem(layer_icon("pattern"), "Layer pattern…")
        item.setData(PATTERN, TYPE_ROLE)
        item.setData("[[CONV → RELU]×N → POOL]×M → [FC → RELU]×K → FC, previewed", DESCRIPTION_ROLE)
        item.setToolTip("<b>Layer pattern</b><br>The notes' INPUT → [[CONV → RELU]×N → POOL]×M → [FC → RELU]×K → FC, "
                        "with its volumes and parameters previewed.<br><br><i>Double-click to choose N, M and K.</i>")
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        return item

    def mimeTypes(self) -> list[str]:
        from convviz.ui.builder.stack_model import LAYER_TYPE_MIME

        return [LAYER_TYPE_MIME]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction  # a palette entry is copied into the stack, never moved out

    def mimeData(self, indexes):
        keys = [i.data(TYPE_ROLE) for i in indexes if i.data(TYPE_ROLE)]
        return layer_type_mime(keys[0]) if keys else QMimeData()

    def index_of_type(self, type_key: str) -> QModelIndex:
        for row in range(self.rowCount()):
            group = self.item(row)
            for k in range(group.rowCount()):
                if group.child(k).data(TYPE_ROLE) == type_key:
                    return group.child(k).index()
        return QModelIndex()


class PaletteDelegate(QStyledItemDelegate):
    """An entry: icon, title in bold, and the one-line description in grey below it."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        if not index.data(TYPE_ROLE):
            return QSize(100, 26)
        return QSize(100, 40)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        if not index.data(TYPE_ROLE):
            super().paint(painter, option, index)
            return
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, QColor("#e8f0fe"))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(option.rect, QColor("#f1f3f4"))
        rect = option.rect.adjusted(2, 2, -4, -2)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        icon.paint(painter, QRect(rect.left(), rect.top() + (rect.height() - 24) // 2, 24, 24))
        x = rect.left() + 32
        title_font = QFont(option.font)
        title_font.setBold(True)
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.85)
        half = rect.height() // 2
        painter.setFont(title_font)
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        painter.drawText(QRect(x, rect.top(), rect.right() - x, half + 1), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, index.data())
        painter.setFont(small)
        painter.setPen(QColor("#5f6368"))
        text = QFontMetrics(small).elidedText(index.data(DESCRIPTION_ROLE), Qt.TextElideMode.ElideRight, rect.right() - x)
        painter.drawText(QRect(x, rect.top() + half + 1, rect.right() - x, half), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)
        painter.restore()


class LayerPalette(QTreeView):
    """The palette dock's view. Drag an entry, or double-click it, to add that layer."""

    insert_requested = Signal(str)
    pattern_requested = Signal()  # the "Layer pattern…" entry was activated

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.palette_model = PaletteModel(self)
        self.setModel(self.palette_model)
        self.setItemDelegate(PaletteDelegate(self))
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(6)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMouseTracking(True)
        self.setAccessibleName("Layer palette")
        self.expandAll()
        self.setItemsExpandable(False)
        self.activated.connect(self._activated)

    def _activated(self, index: QModelIndex) -> None:
        key = index.data(TYPE_ROLE)
        if key == PATTERN:
            self.pattern_requested.emit()
        elif key:
            self.insert_requested.emit(key)

    def drag_mime(self, type_key: str):
        """The MIME data a drag of ``type_key`` carries (exactly what ``startDrag`` sends)."""
        return self.palette_model.mimeData([self.palette_model.index_of_type(type_key)])
