"""The network's verdict in the status bar: ✓ valid with input → output and the layer count, or the
first problem as a link that selects its layer; and the totals (parameters, mult-adds per image).
Above the stack, :class:`ReadOnlyNotice` says why the network cannot be edited while a run trains it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from convviz.model.summary import format_count
from convviz.ui.builder.document import READ_ONLY_NOTICE, NetworkDocument
from convviz.ui.widgets.layer_style import INVALID_COLOR, OK_COLOR
from convviz.ui.widgets.text import counted


class NetworkStatus:
    """Two labels in ``bar`` that follow ``document``."""

    def __init__(self, document: NetworkDocument, bar: QStatusBar) -> None:
        self.document = document
        self.problem_label = QLabel()
        self.problem_label.setTextFormat(Qt.TextFormat.RichText)
        self.problem_label.linkActivated.connect(self._select_first_problem)
        self.totals_label = QLabel()
        bar.addWidget(self.problem_label, 1)
        bar.addPermanentWidget(self.totals_label)
        # A passing message (a menu's status tip) hides the problem line instead of overprinting it.
        bar.messageChanged.connect(lambda text: self.problem_label.setVisible(not text))
        document.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        report = self.document.report
        problems = report.problems
        if problems:
            first = problems[0]
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            message = first.error.message.replace("&", "&amp;").replace("<", "&lt;")
            self.problem_label.setText(
                f"<span style='color:{INVALID_COLOR}'>✗ <a href='first'>{first.name}</a>: {message}{more}</span>"
            )
            self.problem_label.setToolTip(first.error.message)
        else:
            self.problem_label.setText(
                f"<span style='color:{OK_COLOR}'>✓ Valid:</span> {report.spec.input} → {report.output} "
                f"in {counted(len(list(report.walk())), 'layer')}"
            )
            self.problem_label.setToolTip("")
        self.totals_label.setText(f"{report.total_params:,} params · {format_count(report.total_macs)} mult-adds per image")

    def text(self) -> str:
        """The verdict as plain text (what a test or a screen reader reads)."""
        text = QTextDocument()
        text.setHtml(self.problem_label.text())
        return text.toPlainText()

    def _select_first_problem(self, _href: str = "") -> None:
        problems = self.document.report.problems
        if problems:
            self.document.select(problems[0].path)


class ReadOnlyNotice(QLabel):
    """A band above the stack, shown while the document is read-only (a run trains the network)."""

    def __init__(self, document: NetworkDocument, parent: QWidget | None = None) -> None:
        super().__init__(f"<b>{READ_ONLY_NOTICE}.</b> The builder shows the network being trained; "
                         "stop the run (Train → Stop) or let it finish to change it.", parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setStyleSheet("QLabel { background: #fff4d6; border: 1px solid #e0b84c; border-radius: 3px; padding: 6px; }")
        self.setVisible(document.read_only)
        document.read_only_changed.connect(self.setVisible)
