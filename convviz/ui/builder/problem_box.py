"""The inspector's problem box: why the selected layer cannot be built, and one button per fix.

A layer's :class:`~convviz.model.ShapeError` gives the reason and the fixes (``Fix: S=1 (→ 8)``); a
block whose inner layer is invalid names that layer and offers to go to it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from convviz.ui.builder.document import NetworkDocument
from convviz.ui.widgets.layer_style import INVALID_COLOR, INVALID_FILL, POLICY_LABELS


def rich(text: str) -> str:
    """``text`` safe inside a rich-text label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ProblemBox(QFrame):
    """A red-edged box with the selected layer's problem and its fix buttons (hidden when it has none)."""

    def __init__(self, document: NetworkDocument, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.setObjectName("problem")
        self.setStyleSheet(
            f"QFrame#problem {{ background: {INVALID_FILL}; border: 1px solid {INVALID_COLOR}; border-radius: 4px; }}"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label)
        self.fix_row = QVBoxLayout()
        self.fix_row.setSpacing(3)
        layout.addLayout(self.fix_row)
        self.fix_buttons: list[QPushButton] = []

    def show_for(self, path: tuple, report) -> None:
        """Show the problem of the layer at ``path`` (its ``report``), or hide the box if it has none."""
        for button in self.fix_buttons:
            self.fix_row.removeWidget(button)
            button.deleteLater()
        self.fix_buttons = []
        error = report.error
        if error is None and report.status == "invalid":
            inner = next((r for r in report.walk() if r.error is not None), None)
            if inner is not None:
                self.label.setText(
                    f"<b style='color:{INVALID_COLOR}'>✗ {rich(inner.name)}</b> inside this block: {rich(inner.error.message)}"
                )
                button = QPushButton(f"Go to {inner.name}")
                button.clicked.connect(lambda _=False, p=inner.path: self.document.select(p))
                self._add_fix_button(button)
                self.setVisible(True)
                return
        if error is None:
            self.setVisible(False)
            return
        self.label.setText(f"<b style='color:{INVALID_COLOR}'>✗ Invalid:</b> {rich(error.message)}")
        for fix in error.fixes:
            button = QPushButton(f"Fix: {fix.label}")
            button.setToolTip(fix_tooltip(fix))
            button.clicked.connect(lambda _=False, f=fix: self.document.apply_fix(path, f))
            self._add_fix_button(button)
        self.setVisible(True)

    def _add_fix_button(self, button: QPushButton) -> None:
        button.setStyleSheet("text-align: left; padding: 3px 8px;")
        # a long label may be clipped in a narrow dock, but never widens the panel
        button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.fix_row.addWidget(button)
        self.fix_buttons.append(button)


def fix_tooltip(fix) -> str:
    """What a fix button changes, in words: ``Set stride = 1``, ``Insert Flatten in front of this layer``."""
    if fix.insert_before is not None:
        return f"Insert {fix.insert_before.TITLE} in front of this layer"
    parts = []
    for key, value in fix.changes.items():
        if key == "policy":
            parts.append(f"uneven stride: {POLICY_LABELS.get(value, value)}")
        elif isinstance(value, list):
            parts.append(f"{key}: " + " → ".join(layer.brief() for layer in value))
        else:
            parts.append(f"{key} = {value}")
    return "Set " + ", ".join(parts)
