"""The summary table: one row per layer, as ``convviz summary`` prints it, with inline share bars.

:class:`SummaryTableModel` shows :func:`convviz.model.summary.summary_rows` (the same text as
``summary_text``); :class:`ShareBarDelegate` draws, behind the Param # and Memory cells of the
top-level rows, a bar for the layer's share of the network's parameters and of its activation
memory, so the notes' point shows at a glance: memory sits in the early convolutions, parameters
in the last FC layers.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QStyledItemDelegate

from convviz.model import Conv
from convviz.model.patterns import connection_costs
from convviz.model.summary import SummaryRow, format_bytes, format_count, summary_rows
from convviz.ui.builder.document import NetworkDocument
from convviz.ui.widgets.layer_style import INVALID_COLOR, UNRESOLVED_COLOR

SHARE_ROLE = Qt.ItemDataRole.UserRole + 1  # a top-level row's share of the parameters / memory, 0–1
SHARE_COLORS = {2: QColor(26, 115, 232, 46), 4: QColor(227, 116, 0, 46)}  # Param #, Memory
COLUMN_TIPS = {
    2: "Learnable parameters; the bar is the layer's share of the network's",
    4: "The layer's output for a batch of {batch:,} images (float32); the bar is its share of the forward activations",
    5: "Receptive field: the input pixels one output cell sees, and (in brackets) the jump between "
       "neighbouring cells in input pixels, the product of the strides",
    6: "Why convolution: the weights the same mapping would need fully connected (every output sees the "
       "whole input) and locally connected (a filter per position, no sharing)",
}


class SummaryTableModel(QAbstractTableModel):
    """One row per layer (inner layers of blocks indented), as ``summary_text`` prints them."""

    HEADERS = ("Layer (type)", "Output shape", "Param #", "Mult-adds", "Memory", "RF (jump)", "If FC / local")
    MEMORY = 4  # its header says its batch
    SHARING = 6  # shown on request (the header's context menu)

    def __init__(self, document: NetworkDocument, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.batch = 1
        self.rows: list[SummaryRow] = summary_rows(document.report, self.batch)
        self.cells = [self._cells(row) for row in self.rows]

    def _cells(self, row: SummaryRow) -> tuple:
        return tuple(self.cell(row, c) for c in range(len(self.HEADERS))) + (row.status, row.problem)

    def refresh(self, batch: int | None = None) -> bool:
        """Take the document's report; returns True when the rows changed in number (a reset).

        With the same rows, only the rows whose text changed are announced, so an edit repaints the
        few lines it touches.
        """
        if batch is not None:
            self.batch = batch
        rows = summary_rows(self.document.report, self.batch)
        cells = [self._cells(row) for row in rows]
        if len(rows) != len(self.rows):
            self.beginResetModel()
            self.rows, self.cells = rows, cells
            self.endResetModel()
            return True
        changed = [i for i, (old, new) in enumerate(zip(self.cells, cells)) if old != new]
        self.rows, self.cells = rows, cells
        if changed:
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], len(self.HEADERS) - 1))
        return False

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return f"Memory per\nbatch of {self.batch:,}" if section == self.MEMORY else self.HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS.get(section, "").format(batch=self.batch)
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole and section:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def cell(row: SummaryRow, column: int) -> str:
        """The text of one cell, formatted exactly as ``convviz summary`` prints it."""
        if column == 0:
            return "    " * row.depth + f"{row.name} ({row.brief})" + ("  ✗" if row.status == "invalid" and row.problem else "")
        if column == 1:
            return row.output
        if column == 2:
            return f"{row.params:,}" if row.status != "unresolved" else "—"
        if column == 3:
            return f"{row.macs:,}" if row.status != "unresolved" else "—"
        if column == 4:
            return format_bytes(row.activation_bytes) if row.status == "ok" else "—"
        if column == 5:
            return row.receptive_field.short() if row.receptive_field is not None else "—"
        r = row.report
        if row.status != "ok" or type(r.layer) is not Conv:
            return ""
        costs = connection_costs(r.layer, r.input, r.output)
        return f"{format_count(costs.fc)} / {format_count(costs.local)}"

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells[index.row()][column]
        if role == SHARE_ROLE and row.depth == 0 and row.status == "ok":
            return row.param_share if column == 2 else row.activation_share if column == self.MEMORY else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.status == "invalid":
                return QBrush(QColor(INVALID_COLOR))
            if row.status == "unresolved":
                return QBrush(QColor(UNRESOLVED_COLOR))
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.problem:
                return f"{row.name}: {row.problem}"
            formula = row.report.param_formula()
            lines = [f"{row.name}: {row.brief}"] + ([f"params: {formula}"] if formula else [])
            lines.append(f"mult-adds per image: {row.macs:,} ({format_count(row.macs)})")
            if row.receptive_field is not None:
                lines.append(f"receptive field: {row.receptive_field.text()}")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.FontRole and column == 0 and row.depth == 0:
            font = QFont()
            font.setBold(row.report.layer.COMPOSITE)
            return font
        return None


class ShareBarDelegate(QStyledItemDelegate):
    """Paints the share (``SHARE_ROLE``) as a faint bar from the left of the cell, then the text."""

    def paint(self, painter, option, index) -> None:
        share = index.data(SHARE_ROLE)
        if share:
            rect = QRectF(option.rect).adjusted(1, 3, -1, -3)
            rect.setWidth(max(1.0, rect.width() * min(1.0, share)))
            painter.fillRect(rect, SHARE_COLORS.get(index.column(), QColor(0, 0, 0, 30)))
        super().paint(painter, option, index)
