"""The summary dock: the torchinfo-style table and the memory of a training step.

The table shows :func:`convviz.model.summary.summary_rows` with the same formatting as
``convviz summary`` (``summary_text``), so the window and the command line always agree. Beside it:
totals, a batch-size, optimizer and memory-budget control, the memory per category, whether a training
step fits the budget, and the largest batch that does. The batch size and optimizer are the run
session's (the Training panel shows the same two), so the memory estimate is that of the run the
panel would start. The engine trains on the CPU: the budget is this computer's memory.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from convviz.model.analysis import OPTIMIZER_STATE
from convviz.model.summary import format_bytes, format_count, parse_bytes
from convviz.ui.builder.document import NetworkDocument
from convviz.ui.builder.summary_table import ShareBarDelegate, SummaryTableModel
from convviz.ui.session import MAX_BATCH, RunSession
from convviz.ui.widgets.layer_style import INVALID_COLOR, OK_COLOR, UNRESOLVED_COLOR

NAME_MIN_WIDTH = 72  # the layer names keep at least this much (elided: "conv1 (…")
OPTIONAL_COLUMNS = (6, 5, 3)  # if-FC, receptive field, then mult-adds, give way on a narrow table

BUDGETS = ["2GB", "4GB", "8GB", "12GB", "16GB", "24GB", "40GB", "80GB"]


class SummaryPanel(QWidget):
    """The summary dock's contents: the table on the left, totals and memory on the right."""

    def __init__(self, document: NetworkDocument, session: RunSession, settings: QSettings | None = None,
                 parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.session = session
        self.settings = settings
        self.model = SummaryTableModel(document, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setItemDelegate(ShareBarDelegate(self.table))
        self.table.viewport().installEventFilter(self)  # a new width fits the columns again
        # Numbers are never cut: the name column takes what the others leave, and elides.
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.show_sharing = settings is not None and str(settings.value("summary/show_sharing", "false")).lower() == "true"
        header.setMinimumSectionSize(40)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)  # numbers: right
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Fitted to their contents when the rows change, not on every edit (which would read every cell).
        for column in range(1, len(SummaryTableModel.HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        self.table.setAccessibleName("Summary table")

        self.totals = QLabel()
        self.totals.setTextFormat(Qt.TextFormat.RichText)
        self.totals.setWordWrap(True)

        self.batch = QSpinBox()
        self.batch.setRange(1, MAX_BATCH)
        self.batch.setGroupSeparatorShown(True)
        self.batch.setAccelerated(True)
        self.batch.setToolTip("Images per training step: the Training panel's batch size")
        self.optimizer = QComboBox()
        for name in OPTIMIZER_STATE:
            self.optimizer.addItem(name)
        self.optimizer.setToolTip("The Training panel's optimizer: SGD keeps no extra numbers, "
                                  "momentum and Nesterov 1 per parameter, Adam 2")
        self.budget = QComboBox()
        self.budget.setEditable(True)
        self.budget.addItems(BUDGETS)
        self.budget.setToolTip("The memory this computer can give a run, e.g. 4GB, 512MB or 2GiB "
                               "(ConvViz trains on the CPU, in the computer's own memory)")
        controls = QGridLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setHorizontalSpacing(6)
        controls.setVerticalSpacing(2)
        for row, (label, widget) in enumerate((("Batch size:", self.batch), ("Optimizer:", self.optimizer), ("Memory budget:", self.budget))):
            controls.addWidget(QLabel(label), row, 0)
            controls.addWidget(widget, row, 1)

        self.memory_grid = QGridLayout()
        self.memory_grid.setContentsMargins(0, 0, 0, 0)
        self.memory_grid.setHorizontalSpacing(12)
        self.memory_grid.setVerticalSpacing(0)
        self.memory_labels: list[tuple[QLabel, QLabel]] = []
        for row in range(7):
            name, value = QLabel(), QLabel()
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.memory_grid.addWidget(name, row + 3, 0)
            self.memory_grid.addWidget(value, row + 3, 1)
            self.memory_labels.append((name, value))
        # The totals come first, so a short panel never hides them behind its scroll bar.
        self.training_name, self.training_value = QLabel("<b>training step</b>"), QLabel()
        self.inference_name, self.inference_value = QLabel("inference (forward only)"), QLabel()
        for r, (name, value) in enumerate(((self.training_name, self.training_value), (self.inference_name, self.inference_value))):
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.memory_grid.addWidget(name, r, 0)
            self.memory_grid.addWidget(value, r, 1)
        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setStyleSheet("color: #dadce0;")
        self.memory_grid.addWidget(rule, 2, 0, 1, 2)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)

        side = QVBoxLayout()
        side.setContentsMargins(6, 0, 6, 0)
        side.setSpacing(4)
        side.addLayout(controls)
        side.addWidget(self.verdict)
        self.memory_title = QLabel("<b>Memory of a training step</b>")
        self.memory_title.setWordWrap(True)  # its batch and optimizer never widen the panel
        side.addWidget(self.memory_title)
        side.addLayout(self.memory_grid)
        side.addStretch(1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_scroll = QScrollArea()
        side_scroll.setWidget(side_widget)
        side_scroll.setWidgetResizable(True)
        side_scroll.setFrameShape(QFrame.Shape.NoFrame)
        side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side_scroll.setMinimumWidth(200)
        self.side_widget, self.side_scroll = side_widget, side_scroll
        side_width = side_widget.sizeHint().width() + 14

        left_widget = QWidget()
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)
        left.setSpacing(3)
        left.addWidget(self.table, 1)
        left.addWidget(self.totals)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left_widget)
        self.splitter.addWidget(side_scroll)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([10_000, side_width])  # the table takes what the memory panel leaves
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

        self._fitted_batch = None
        self._restore()
        self.batch.valueChanged.connect(lambda value: session.set_choices(batch_size=value))
        self.optimizer.currentTextChanged.connect(lambda name: session.set_choices(optimizer=name))
        session.choices_changed.connect(self._show_choices)
        self.budget.currentTextChanged.connect(self._controls_changed)
        self.table.selectionModel().currentRowChanged.connect(self._row_selected)
        document.changed.connect(self.refresh)
        document.selection_changed.connect(self._show_selection)
        self.refresh()

    # -- settings ---------------------------------------------------------------------------------------------
    def _restore(self) -> None:
        """The batch size and optimizer last chosen (in either view) become the session's."""
        s, session = self.settings, self.session
        batch = int(s.value("run/batch", session.batch_size)) if s is not None else session.batch_size
        optimizer = str(s.value("run/optimizer", session.optimizer)) if s is not None else session.optimizer
        budget = str(s.value("summary/budget", "8GB")) if s is not None else "8GB"
        session.set_choices(batch_size=min(max(1, batch), MAX_BATCH),
                            optimizer=optimizer if optimizer in OPTIMIZER_STATE else None)
        self.batch.setValue(session.batch_size)
        self.optimizer.setCurrentText(session.optimizer)
        self.budget.setCurrentText(budget)

    def _show_choices(self) -> None:
        """The session's batch size or optimizer changed (here or in the Training panel)."""
        for widget, set_value in ((self.batch, lambda: self.batch.setValue(self.session.batch_size)),
                                  (self.optimizer, lambda: self.optimizer.setCurrentText(self.session.optimizer))):
            widget.blockSignals(True)
            set_value()
            widget.blockSignals(False)
        self._controls_changed()

    def _controls_changed(self, *_args) -> None:
        if self.settings is not None:
            self.settings.setValue("run/batch", self.session.batch_size)
            self.settings.setValue("run/optimizer", self.session.optimizer)
            self.settings.setValue("summary/budget", self.budget.currentText())
        self.refresh()

    def budget_bytes(self) -> int | None:
        try:
            return parse_bytes(self.budget.currentText())
        except ValueError:
            return None

    # -- showing ------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        report = self.document.report
        batch = self.session.batch_size
        optimizer = self.session.optimizer
        if self.model.refresh(batch) or batch != self._fitted_batch:
            self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 4, 4)  # "Memory per batch of N"
            self._fit_columns()
            self._fitted_batch = batch
        out = report.output
        status = (
            f"<span style='color:{OK_COLOR}'>✓ valid</span>"
            if report.valid
            else f"<span style='color:{INVALID_COLOR}'>✗ {len(report.problems)} problem{'s' if len(report.problems) != 1 else ''}</span>"
        )
        self.totals.setText(
            f"<b>{report.spec.name or 'Network'}</b> {status} &nbsp; {report.spec.input} → {out if out is not None else '—'}"
            f" &nbsp; Total params: <b>{report.total_params:,}</b>{_frozen_note(report)}"
            f" &nbsp; Mult-adds per image: <b>{format_count(report.total_macs)}</b> ({report.total_macs:,})"
        )
        memory = report.memory(batch, optimizer)
        self.memory_title.setText(f"<b>Memory of a training step</b> (batch of {batch:,}, {optimizer}, float32)")
        for (name, value), (label, amount) in zip(self.memory_labels, memory.categories()):
            name.setText(label)
            value.setText(format_bytes(amount))
        self.training_value.setText(f"<b>{format_bytes(memory.training)}</b>")
        self.inference_value.setText(format_bytes(memory.inference))
        self._fit_side()
        budget = self.budget_bytes()
        if budget is None:
            self.verdict.setText(f"<span style='color:{INVALID_COLOR}'>A budget looks like 4GB, 512MB or 2GiB.</span>")
        elif not report.valid:
            self.verdict.setText(f"<span style='color:{UNRESOLVED_COLOR}'>Fix the network to size it against the budget.</span>")
        else:
            largest = report.max_batch(budget, optimizer)
            if memory.training <= budget:
                verdict = f"<span style='color:{OK_COLOR}'>✓ batch {batch:,} fits in {format_bytes(budget)}</span>"
            else:
                verdict = f"<span style='color:{INVALID_COLOR}'>✗ batch {batch:,} does not fit in {format_bytes(budget)}</span>"
            self.verdict.setText(f"{verdict}<br>Largest batch that fits: <b>{largest:,}</b>")
        self._show_selection(self.document.selected)

    def _fit_side(self) -> None:
        """Wide enough for every figure ("optimizer state (momentum)" is longer than "(adam)"); the table gives way."""
        self.side_scroll.setMinimumWidth(max(200, self.side_widget.sizeHint().width() + 14))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fit_side()  # the labels' sizes are known once the panel is polished

    def _fit_columns(self) -> None:
        self._widths = {}
        for column in range(1, len(SummaryTableModel.HEADERS)):
            self.table.setColumnHidden(column, False)
            self.table.resizeColumnToContents(column)
            self._widths[column] = self.table.columnWidth(column)
        self._fit_width()

    def _fit_width(self) -> None:
        """Numbers are never cut: where the table is too narrow for every column, the receptive field
        and then the mult-adds column give way (both stay in each row's tooltip and the inspector)."""
        widths = getattr(self, "_widths", None)
        if not widths:
            return
        available = self.table.viewport().width() - NAME_MIN_WIDTH
        hidden = set() if self.show_sharing else {SummaryTableModel.SHARING}
        for column in OPTIONAL_COLUMNS:
            if sum(w for c, w in widths.items() if c not in hidden) <= available:
                break
            hidden.add(column)
        for column, width in widths.items():
            if self.table.isColumnHidden(column) != (column in hidden):
                self.table.setColumnHidden(column, column in hidden)
                if column not in hidden:
                    self.table.setColumnWidth(column, width)
        self.table.horizontalScrollBar().setValue(0)  # the names' start is never scrolled away

    def _header_menu(self, position) -> None:
        menu = QMenu(self)
        action = menu.addAction("Show what each conv would cost fully / locally connected")
        action.setCheckable(True)
        action.setChecked(self.show_sharing)
        action.toggled.connect(self.set_show_sharing)
        menu.exec(self.table.horizontalHeader().mapToGlobal(position))

    def set_show_sharing(self, show: bool) -> None:
        """The "If FC / local" column on or off (remembered)."""
        self.show_sharing = show
        if self.settings is not None:
            self.settings.setValue("summary/show_sharing", show)
        self._fit_width()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_width()
        return super().eventFilter(watched, event)

    def _row_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not getattr(self, "_syncing", False):
            self.document.select(self.model.rows[current.row()].report.path)

    def _show_selection(self, path) -> None:
        row = next((i for i, r in enumerate(self.model.rows) if r.report.path == path), None)
        current = self.table.selectionModel().selectedRows()
        if (row is None and not current) or (row is not None and [i.row() for i in current] == [row]):
            return  # already showing it
        self._syncing = True
        try:
            if row is None:
                self.table.clearSelection()
            else:
                self.table.selectRow(row)
                self.table.scrollTo(self.model.index(row, 0))
        finally:
            self._syncing = False


def _frozen_note(report) -> str:
    """`` (❄ 13,236 frozen)`` after the total when fine-tuning freezes layers, else ""."""
    from convviz.model.fine_tune import trainable_counts

    frozen = trainable_counts(report)[1]
    return f" (❄ {frozen:,} frozen)" if frozen else ""
