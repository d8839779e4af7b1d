"""The confusion matrix and the per-class figures, as Qt models over a :class:`ClassEvaluation`.

Rows are the true classes and columns the predicted ones, both labelled with the class names (the
column names written upwards, so ten names fit above ten cells). Each cell is shaded by its share of
its row: the diagonal in green (the class's images classified right), the rest in red (its
confusions), the same in both modes, so the colours never change when counts become percentages.
Hovering a cell says every number: the count, the share of the true class and of the predicted one.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from convviz.analysis import ClassEvaluation

CELL = 42  # pixels per cell width: "1000" and "100%" fit
ROW = 26  # pixels per cell height


def _mix(colour: tuple[int, int, int], share: float) -> QColor:
    """White mixed towards ``colour`` by ``share`` (0 white, 1 the colour)."""
    share = min(max(share, 0.0), 1.0) ** 0.6  # small shares still show
    return QColor(*(round(255 + (c - 255) * share) for c in colour))


RIGHT, WRONG = (30, 142, 62), (197, 34, 31)


def percent(value: float, digits: int = 1) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}%}"


class ConfusionModel(QAbstractTableModel):
    """The matrix of a :class:`ClassEvaluation`: counts, or each row as percentages (``normalised``)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result: ClassEvaluation | None = None
        self.normalised = False
        self._confusion = np.zeros((0, 0), dtype=np.int64)
        self._shares = np.zeros((0, 0))

    def set_result(self, result: ClassEvaluation | None) -> None:
        self.beginResetModel()
        self.result = result
        self._confusion = result.confusion if result is not None else np.zeros((0, 0), dtype=np.int64)
        self._shares = result.row_normalised() if result is not None else np.zeros((0, 0))
        self.endResetModel()

    def set_normalised(self, on: bool) -> None:
        self.normalised = bool(on)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    def shown(self) -> np.ndarray:
        """What the cells say, as numbers: the counts, or the row shares (0–1) when ``normalised``."""
        return self._shares.copy() if self.normalised else self._confusion.copy()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._confusion)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return self.rowCount(parent)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        t, p = index.row(), index.column()
        count, share = int(self._confusion[t, p]), float(self._shares[t, p])
        if role == Qt.ItemDataRole.DisplayRole:
            if self.normalised:
                return f"{share:.0%}" if count else ""
            return f"{count}" if count else ""
        if role == Qt.ItemDataRole.BackgroundRole:
            return _mix(RIGHT if t == p else WRONG, share)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("white") if share > 0.45 else QColor("#202124")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.cell_text(t, p)
        return None

    def cell_text(self, t: int, p: int) -> str:
        """Every number of cell (t, p), as its tooltip says it."""
        names = self.result.class_names
        count = int(self._confusion[t, p])
        row, column = int(self._confusion[t].sum()), int(self._confusion[:, p].sum())
        what = "classified right" if t == p else f"predicted as {names[p]}"
        lines = [f"true {names[t]}, predicted {names[p]}: {count:,} image{'s' if count != 1 else ''}",
                 f"{percent(count / row if row else float('nan'))} of the {row:,} {names[t]} images ({what})",
                 f"{percent(count / column if column else float('nan'))} of the {column:,} images predicted {names[p]}"]
        if count:
            lines.append("Click to list them, most confident first")
        return "\n".join(lines)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if self.result is None or section >= len(self.result.class_names):
            return None
        name = self.result.class_names[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == Qt.ItemDataRole.ToolTipRole:
            c = self._confusion
            if orientation == Qt.Orientation.Vertical:
                return f"true class {name}: {int(c[section].sum()):,} images, recall {percent(self.result.recall[section])}"
            return (f"predicted class {name}: {int(c[:, section].sum()):,} images, "
                    f"precision {percent(self.result.precision[section])}")
        return None


class UpwardHeader(QHeaderView):
    """A horizontal header whose section names are written bottom to top, so long names fit narrow columns."""

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setDefaultSectionSize(CELL)

    def _texts(self) -> list[str]:
        model = self.model()
        if model is None:
            return []
        return [str(model.headerData(i, Qt.Orientation.Horizontal) or "") for i in range(model.columnCount())]

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        longest = max([metrics.horizontalAdvance(t) for t in self._texts()] or [40])
        return QSize(super().sizeHint().width(), longest + 14)

    def paintSection(self, painter: QPainter, rect: QRect, index: int) -> None:
        if not rect.isValid():
            return
        painter.save()
        painter.fillRect(rect, self.palette().window())
        painter.setPen(QColor("#dadce0"))
        painter.drawLine(rect.topRight(), rect.bottomRight())
        painter.setPen(self.palette().windowText().color())
        painter.translate(rect.left(), rect.bottom())
        painter.rotate(-90)
        text = str(self.model().headerData(index, Qt.Orientation.Horizontal) or "")
        painter.drawText(QRect(6, 0, rect.height() - 8, rect.width()),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        painter.restore()


class ConfusionView(QTableView):
    """The matrix: fixed square cells, class names on both axes, a click selects one cell."""

    def __init__(self, model: ConfusionModel, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self.setHorizontalHeader(UpwardHeader(self))
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(ROW)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setMouseTracking(True)
        self.setWordWrap(False)
        model.modelReset.connect(self._fit)

    def _fit(self) -> None:
        """Room for every cell and both headers: the matrix is never cut (the window scrolls it last).
        A new result of the same classes keeps the size, and the window is not laid out again."""
        hint = self.sizeHint()
        if hint != self.minimumSize():
            self.horizontalHeader().updateGeometry()
            self.setMinimumSize(hint)
            self.updateGeometry()

    def sizeHint(self) -> QSize:
        n = self.model().columnCount()
        width = self.verticalHeader().sizeHint().width() + n * CELL + 2 * self.frameWidth() + 4
        height = self.horizontalHeader().sizeHint().height() + n * ROW + 2 * self.frameWidth() + 4
        return QSize(width, height)


class ClassFiguresModel(QAbstractTableModel):
    """Per-class rows: images, accuracy (= recall), precision, recall; a last row for all classes."""

    HEADERS = ("class", "images", "accuracy", "precision", "recall")
    TIPS = ("", "test images of the class",
            "of the class's images, the fraction classified right (its recall)",
            "of the images predicted as the class, the fraction that are of it (— : none was predicted so)",
            "of the class's images, the fraction predicted as the class")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result: ClassEvaluation | None = None
        self._rows: list[tuple[str, ...]] = []

    def set_result(self, result: ClassEvaluation | None) -> None:
        """Show ``result``; its texts are made here once (each figure recounts the matrix: the view asks often)."""
        self.beginResetModel()
        self.result = result
        self._rows = [] if result is None else self._texts(result)
        self.endResetModel()

    @staticmethod
    def _texts(r: ClassEvaluation) -> list[tuple[str, ...]]:
        support, accuracy, precision, recall = r.support, r.class_accuracy, r.precision, r.recall
        rows = [(name, f"{int(support[k]):,}", percent(accuracy[k]), percent(precision[k]), percent(recall[k]))
                for k, name in enumerate(r.class_names)]
        return rows + [("all classes", f"{r.count:,}", percent(r.accuracy), "", "")]

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return len(self.HEADERS)

    def cells(self, row: int) -> tuple[str, ...]:
        return self._rows[row]

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.result is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells(index.row())[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column():
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and index.row() == len(self.result.class_names):
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.TIPS[section] or None
        return None
