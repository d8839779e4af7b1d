"""The ledger: a table of the terms that make one number, their subtotals and the engine's value.

:func:`conv_output_rows` and friends turn an engine explanation into :class:`Row`s (plain data);
:class:`LedgerTable` shows them, every number in full, and says which term was clicked.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
)

from convviz.engine.explain_layers import Term

STYLES = {"term": None, "pad": "#f1f3f4", "subtotal": "#e8f0fe", "total": "#fce8b2", "check": "#e6f4ea",
          "wrong": "#fce8e6", "winner": "#fce8b2"}


def number(value: float) -> str:
    """A number with 6 significant digits and its sign; −0 is 0."""
    return f"{value + 0.0:+.6g}"


def index(values) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


@dataclass(frozen=True)
class Row:
    """One row of the ledger: its cells' text, its style (a key of STYLES) and, for a term, the
    number of the term it shows (else None)."""

    cells: tuple[str, ...]
    style: str = "term"
    term: int | None = None


CONV_HEADERS = ("#", "x[c,y,x]", "x", "w[d,c,i,j]", "w", "x·w = p", "running Σ")


def conv_output_rows(terms: list[Term], bias: float | None, result: float, engine: float, matches: bool,
                     activation: tuple[str, float] | None = None) -> list[Row]:
    """x · w = p for every term, a subtotal after each input channel, + bias, = the output, the
    engine's value (and the activation after it, when the next layer is one)."""
    rows, running, subtotal, channel = [], 0.0, 0.0, None
    for i, t in enumerate(terms):
        c = t.left[1][0]
        if channel is not None and c != channel:
            rows.append(Row(("", f"channel {channel}", "", "", "", number(subtotal), number(running)), "subtotal"))
            subtotal = 0.0
        channel = c
        running += t.product
        subtotal += t.product
        x_text = index(t.left[1]) + (" pad" if t.padding else "")
        rows.append(Row((str(i + 1), x_text, number(t.left[2]), index(t.right[1]), number(t.right[2]),
                         number(t.product), number(running)), "pad" if t.padding else "term", i))
    if channel is not None:
        rows.append(Row(("", f"channel {channel}", "", "", "", number(subtotal), number(running)), "subtotal"))
    if bias is not None:
        rows.append(Row(("", "+ bias b[d]", "", "", "", number(bias), number(running + bias)), "subtotal"))
    rows.append(Row(("", "= output", "", "", "", "", number(result)), "total"))
    rows.append(Row(("", "engine", "", "", "", "", number(engine)), "check" if matches else "wrong"))
    if activation is not None:
        name, value = activation
        rows.append(Row(("", f"after {name}", "", "", "", "", number(value)), "subtotal"))
    return rows


SCATTER_HEADERS = ("#", "dY[k,y,x]", "dY", "w[k,c,i,j]", "w", "dY·w", "running Σ")


def scatter_rows(terms: list[Term], total: float, gather: float, engine: float, matches: bool) -> list[Row]:
    rows, running = [], 0.0
    for i, t in enumerate(terms):
        running += t.product
        rows.append(Row((str(i + 1), index(t.left[1]), number(t.left[2]), index(t.right[1]), number(t.right[2]),
                         number(t.product), number(running)), "term", i))
    rows.append(Row(("", "= scatter Σ", "", "", "", "", number(total)), "total"))
    rows.append(Row(("", "gather (rotated filters)", "", "", "", "", number(gather)), "subtotal"))
    rows.append(Row(("", "engine dX", "", "", "", "", number(engine)), "check" if matches else "wrong"))
    return rows


class LedgerTable(QTableWidget):
    """Rows of a ledger; ``term_selected(i)`` when the user clicks term i (−1: not a term)."""

    term_selected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[Row] = []
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        self.setWordWrap(False)
        self.horizontalHeader().setStretchLastSection(True)
        self.setFont(QFont("monospace", 9))
        self.currentCellChanged.connect(self._on_current)

    def show_rows(self, headers: tuple[str, ...], rows: list[Row]) -> None:
        self.blockSignals(True)
        self.clear()
        self.rows = rows
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        self.setRowCount(len(rows))
        bold = QFont(self.font())
        bold.setBold(True)
        for r, row in enumerate(rows):
            colour = STYLES.get(row.style)
            for c, text in enumerate(row.cells):
                item = QTableWidgetItem(text)
                if c > 0 and (text[:1] in "+-" or text[:1].isdigit()) and not text.startswith("["):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if colour:
                    item.setBackground(QBrush(QColor(colour)))
                if row.style in ("total", "check", "wrong", "winner"):
                    item.setFont(bold)
                self.setItem(r, c, item)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.resizeColumnsToContents()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.blockSignals(False)

    def row_text(self, label: str) -> str | None:
        """The last cell of the first row whose second cell is ``label`` (``= output``, ``engine`` …)."""
        for row in self.rows:
            if len(row.cells) > 1 and row.cells[1] == label:
                return row.cells[-1]
        return None

    def _on_current(self, row: int, *_):
        term = self.rows[row].term if 0 <= row < len(self.rows) else None
        self.term_selected.emit(-1 if term is None else term)
