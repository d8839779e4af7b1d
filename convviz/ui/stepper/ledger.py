"""The ledger: a table of the terms that make one number, their subtotals and the engine's value.

:func:`conv_output_rows` and friends turn an engine explanation into :class:`Row`s (plain data);
:class:`LedgerTable` shows them, every number in full, sorts the terms by the size of a column's
numbers, and says which term was clicked.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QTableView

from convviz.engine.explain_step import Term

STYLES = {"term": None, "pad": "#f1f3f4", "subtotal": "#e8f0fe", "sum": "#e8f0fe", "total": "#fce8b2", "check": "#e6f4ea",
          "wrong": "#fce8e6", "winner": "#fce8b2"}


SHOWN_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.BackgroundRole,
               Qt.ItemDataRole.FontRole)
BOLD_STYLES = ("total", "check", "wrong", "winner")
SAMPLE = 1000  # rows measured for the column widths
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


def number(value: float) -> str:
    """A number with 6 significant digits and its sign; −0 is 0."""
    return f"{value + 0.0:+.6g}"


def index(values) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


@dataclass(frozen=True)
class Row:
    """One row of the ledger: its cells' text, its style (a key of STYLES: ``subtotal`` rows belong
    to the ledger's own order, ``sum`` rows follow the terms however sorted) and, for a term, the
    number of the term it shows (else None)."""

    cells: tuple[str, ...]
    style: str = "term"
    term: int | None = None


class LazyRow:
    """A :class:`Row` whose cells are made by ``make()`` when first read: a ledger of 50,000 terms (a
    weight gradient of VGG-16's first layer) is shown at once, its rows formatted as they scroll by."""

    __slots__ = ("_cells", "_make", "style", "term")

    def __init__(self, make, style: str = "term", term: int | None = None):
        self._make, self._cells, self.style, self.term = make, None, style, term

    @property
    def cells(self) -> tuple[str, ...]:
        if self._cells is None:
            self._cells = self._make()
        return self._cells


CONV_HEADERS = ("#", "x[c,y,x]", "x", "w[d,c,i,j]", "w", "x·w = p", "running Σ")


FC_HEADERS = ("#", "x[i]", "x", "W[o,i]", "w", "x·w = p", "running Σ")


def term_cells(i: int, t: Term, running: float) -> tuple[str, ...]:
    """The cells of term ``i``: #, the left factor's index (`` pad`` at padding) and value, the right's, x·w, Σ so far."""
    return (str(i + 1), index(t.left[1]) + (" pad" if t.padding else ""), number(t.left[2]), index(t.right[1]),
            number(t.right[2]), number(t.product), number(running))


def conv_output_rows(terms: list[Term], bias: float | None, result: float, engine: float, matches: bool,
                     activation: tuple[str, float] | None = None, channels: bool = True,
                     bias_label: str = "+ bias b[d]") -> list[Row]:
    """x · w = p for every term, a subtotal after each input channel (``channels``), + bias, = the
    output, the engine's value (and the activation after it, when the next layer is one)."""
    rows, running, subtotal, channel = [], 0.0, 0.0, None
    for i, t in enumerate(terms):
        c = t.left[1][0] if channels else 0
        if channel is not None and c != channel:
            rows.append(Row(("", f"channel {channel}", "", "", "", number(subtotal), number(running)), "subtotal"))
            subtotal = 0.0
        channel = c
        running += t.product
        subtotal += t.product
        rows.append(LazyRow(lambda i=i, t=t, r=running: term_cells(i, t, r), "pad" if t.padding else "term", i))
    if channel is not None and channels:
        rows.append(Row(("", f"channel {channel}", "", "", "", number(subtotal), number(running)), "subtotal"))
    if bias is not None:
        rows.append(Row(("", bias_label, "", "", "", number(bias), number(running + bias)), "sum"))
    rows.append(Row(("", "= output", "", "", "", "", number(result)), "total"))
    rows.append(Row(("", "engine", "", "", "", "", number(engine)), "check" if matches else "wrong"))
    if activation is not None:
        name, value = activation
        rows.append(Row(("", f"after {name}", "", "", "", "", number(value)), "sum"))
    return rows


SCATTER_HEADERS = ("#", "dY[k,y,x]", "dY", "w[k,c,i,j]", "w", "dY·w", "running Σ")


def scatter_rows(terms: list[Term], total: float, gather: float, engine: float, matches: bool) -> list[Row]:
    rows, running = [], 0.0
    for i, t in enumerate(terms):
        running += t.product
        rows.append(LazyRow(lambda i=i, t=t, r=running: term_cells(i, t, r), "term", i))
    rows.append(Row(("", "= scatter Σ", "", "", "", "", number(total)), "total"))
    rows.append(Row(("", "gather (rotated filters)", "", "", "", "", number(gather)), "sum"))
    rows.append(Row(("", "engine dX", "", "", "", "", number(engine)), "check" if matches else "wrong"))
    return rows


def _magnitude(text: str) -> float:
    try:
        return abs(float(text))
    except ValueError:
        return -1.0


class LedgerModel(QAbstractTableModel):
    """The rows of a ledger, as a Qt model: cells are made only when shown, so a ledger of
    thousands of terms (a conv layer of VGG-16) is drawn at once. Sorting a column orders the terms
    by the magnitude of its numbers (the subtotals, which belong to the original order, step aside;
    the totals stay last); sorting by column 0 gives the original order back."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.headers: tuple[str, ...] = ()
        self.original: list[Row] = []
        self.rows: list[Row] = []
        self._bold = QFont("monospace", 9)
        self._bold.setBold(True)
        self._brushes = {style: QBrush(QColor(colour)) for style, colour in STYLES.items() if colour}

    def set_rows(self, headers: tuple[str, ...], rows: list[Row]) -> None:
        self.beginResetModel()
        self.headers, self.original, self.rows = headers, rows, list(rows)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal and section < len(self.headers):
            return self.headers[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role not in SHOWN_ROLES:  # asked for many times per cell while sizing columns: answered first
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._brushes.get(row.style)
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if row.style in BOLD_STYLES else None
        cells, column = row.cells, index.column()
        text = cells[column] if column < len(cells) else ""
        if role == Qt.ItemDataRole.DisplayRole:
            return text
        numeric = column > 0 and _magnitude(text) >= 0  # a number (not "+ bias b[d]")
        return RIGHT if numeric else LEFT

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        if column <= 0:
            self.rows = list(self.original)
        else:
            terms = [r for r in self.original if r.term is not None]
            tail = [r for r in self.original if r.term is None and r.style != "subtotal"]
            terms.sort(key=lambda r: _magnitude(r.cells[column]) if column < len(r.cells) else -1.0,
                       reverse=order == Qt.SortOrder.DescendingOrder)
            self.rows = terms + tail
        self.layoutChanged.emit()


class LedgerTable(QTableView):
    """Rows of a ledger; ``term_selected(i)`` when the user clicks term i (−1: not a term). Click a
    column's header to sort the terms by the size of its numbers (|p| for the products)."""

    term_selected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model_ = LedgerModel(self)
        self.setModel(self.model_)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        self.setWordWrap(False)
        self.setFont(QFont("monospace", 9))
        self.setStyleSheet("QTableView::item { padding: 0px 3px; }")
        header = self.horizontalHeader()
        header.setSortIndicatorShown(True)
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self._sort)
        self.selectionModel().currentRowChanged.connect(self._on_current)

    @property
    def rows(self) -> list[Row]:
        """The rows in the order shown."""
        return self.model_.rows

    def show_rows(self, headers: tuple[str, ...], rows: list[Row]) -> None:
        self.model_.set_rows(headers, rows)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._span_labels()
        self._fit_columns()
        self.horizontalHeader().setStretchLastSection(True)

    def _fit_columns(self) -> None:
        """Every column as wide as its widest text and its header: measured here with the font's metrics,
        as ``resizeColumnsToContents`` would but without asking Qt for every cell's data; a ledger of more
        than SAMPLE rows is measured on its first and last 200 (indices grow along it) and every k-th."""
        rows = self.rows
        if len(rows) <= SAMPLE:
            sample = rows
        else:
            step = max(1, (len(rows) - 400) // (SAMPLE - 400))
            sample = rows[:200] + rows[200:-200:step] + rows[-200:]
        plain, bold = self.fontMetrics(), QFontMetrics(self.model_._bold)
        header = self.horizontalHeader().fontMetrics()
        widths = [header.horizontalAdvance(text) + 18 for text in self.model_.headers]  # + the sort arrow
        for row in sample:
            cells = row.cells
            metrics = bold if row.style in BOLD_STYLES else plain
            spans = row.term is None and len(cells) > 3 and not cells[2]
            for column, text in enumerate(cells[:len(widths)]):
                if text and not (spans and column == 1):  # a spanning label takes the empty cells after it
                    widths[column] = max(widths[column], metrics.horizontalAdvance(text) + 15)  # + the margins (13 elides)
        for column, width in enumerate(widths):
            self.setColumnWidth(column, width)

    def _span_labels(self) -> None:
        """A summary row's label (``= output``, ``engine`` …) spans the empty cells after it, so it
        never widens the column of the terms' indices."""
        self.clearSpans()
        for r, row in enumerate(self.rows):
            if row.term is not None:
                continue
            cells = row.cells
            if len(cells) > 3:
                empty = 0
                while 2 + empty < len(cells) - 1 and not cells[2 + empty]:
                    empty += 1
                if empty:
                    self.setSpan(r, 1, 1, 1 + empty)

    def sort_by(self, column: int, order=Qt.SortOrder.DescendingOrder) -> None:
        """Order the terms by the magnitude of ``column`` (0: the ledger's own order)."""
        self.model_.sort(column, order)
        self._span_labels()
        self.horizontalHeader().setSortIndicator(column if column > 0 else -1, order)

    def _sort(self, column: int) -> None:
        header = self.horizontalHeader()
        descending = not (header.sortIndicatorSection() == column and header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder)
        self.sort_by(column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)

    def row_text(self, label: str) -> str | None:
        """The last cell of the first row whose second cell is ``label`` (``= output``, ``engine`` …)."""
        for row in self.rows:
            if len(row.cells) > 1 and row.cells[1] == label:
                return row.cells[-1]
        return None

    def _on_current(self, current, _previous):
        row = current.row()
        term = self.rows[row].term if 0 <= row < len(self.rows) else None
        self.term_selected.emit(-1 if term is None else term)
