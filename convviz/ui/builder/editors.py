"""The inspector's value editors, one per kind of layer field (``int``, ``pair``, ``float``, ``bool``,
``choice``, ``str``), each with an ``edited(value)`` signal and a ``set_value`` that never echoes.

:func:`make_editor` picks the editor for a field from its metadata (``kind``, ``low``, ``high``,
``choices``): the same limits the model checks and the file format allows. Spin boxes change on the
mouse wheel only when focused, so scrolling the inspector never edits a value. A whole number typed
outside its range is not silently replaced: the editor's ``problem(text)`` signal says what is
allowed and what was typed (and ``""`` once the text is fine again), for the inspector to show
next to it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from convviz.model.layers import pair
from convviz.ui.widgets.layer_style import POLICY_LABELS


class _NoWheelMixin:
    """Spin boxes in a scrolling panel change only when focused, so scrolling never edits a value."""

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


def _whole_number(text: str) -> int | None:
    """``"65,536"`` → 65536 (group separators and spaces allowed); None if it is not a whole number."""
    digits = text.replace(",", "").replace("\u202f", "").replace("\u00a0", "").replace(" ", "").strip()
    try:
        return int(digits)
    except ValueError:
        return None


class IntEditor(_NoWheelMixin, QSpinBox):
    """A whole number from ``low`` to ``high``; ``what`` names it in the problem message."""

    edited = Signal(object)
    problem = Signal(str)  # why the typed text is not used ("" when it is fine)

    def __init__(self, low: int, high: int, parent=None, what: str = "the value") -> None:
        super().__init__(parent)
        self.what = what
        self.setRange(low, high)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setGroupSeparatorShown(True)
        self.setAccelerated(True)
        self.valueChanged.connect(lambda v: self.edited.emit(int(v)))
        self.lineEdit().textEdited.connect(self._check)
        self.editingFinished.connect(self._finished)
        self.problem_text = ""

    def validate(self, text: str, pos: int):
        """Any whole number may be typed (so one out of range can be explained); only one in range is used."""
        stripped = text.replace(",", "").strip()
        if stripped in ("", "-", "+"):
            return QValidator.State.Intermediate, text, pos
        value = _whole_number(text)
        if value is None:
            return QValidator.State.Invalid, text, pos
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def out_of_range(self, text: str) -> str:
        """What is wrong with ``text`` as this value, or "" if nothing is."""
        value = _whole_number(text)
        if value is None or self.minimum() <= value <= self.maximum():
            return ""
        return (f"{self.what} must be a whole number from {self.minimum():,} to {self.maximum():,}, "
                f"got {value:,}")

    def _check(self, text: str) -> None:
        self._say(self.out_of_range(text))

    def _finished(self) -> None:
        """Focus left with an out-of-range number: Qt puts the last good value back; say so."""
        if self.problem_text and not self.problem_text.endswith("kept."):
            self._say(f"{self.problem_text}; {self.value():,} is kept.")

    def _say(self, text: str) -> None:
        if text != self.problem_text:
            self.problem_text = text
            self.problem.emit(text)

    def set_value(self, value) -> None:
        if self.value() != value:
            self.blockSignals(True)
            self.setValue(value)
            self.blockSignals(False)
        self._say("")


class FloatEditor(_NoWheelMixin, QDoubleSpinBox):
    """A number shown as the user writes it (0.5, 1e-05), not with a fixed count of decimals."""

    edited = Signal(object)

    def __init__(self, low: float, high: float, default: float, parent=None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(low, high)
        self.setSingleStep(10 ** (math.floor(math.log10(default)) - 1) if default > 0 else 0.01)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.valueChanged.connect(lambda v: self.edited.emit(float(v)))

    def textFromValue(self, value: float) -> str:  # noqa: N802
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        try:
            value = float(text)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def set_value(self, value) -> None:
        if self.value() != value:
            self.blockSignals(True)
            self.setValue(value)
            self.blockSignals(False)


class PairEditor(QWidget):
    """One number for a square window, or H and W apart (the ⇄ button splits them)."""

    edited = Signal(object)
    problem = Signal(str)

    def __init__(self, low: int, high: int, parent=None, what: str = "the value") -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.spin_h = IntEditor(low, high, what=what)
        self.spin_w = IntEditor(low, high, what=what)
        self.spin_h.problem.connect(self.problem)
        self.spin_w.problem.connect(self.problem)
        self.label_x = QLabel("×")
        self.split = QToolButton()
        self.split.setText("H≠W")
        self.split.setCheckable(True)
        self.split.setToolTip("Use different values along H (rows) and W (columns)")
        layout.addWidget(self.spin_h, 1)
        layout.addWidget(self.label_x)
        layout.addWidget(self.spin_w, 1)
        layout.addWidget(self.split)
        self.spin_h.edited.connect(self._changed)
        self.spin_w.edited.connect(self._changed)
        self.split.toggled.connect(self._toggled)
        self._show_split(False)

    def _show_split(self, split: bool) -> None:
        self.spin_w.setVisible(split)
        self.label_x.setVisible(split)
        self.spin_h.setToolTip("along H (rows)" if split else "")
        self.spin_w.setToolTip("along W (columns)")

    def _toggled(self, split: bool) -> None:
        self._show_split(split)
        if not split and self.spin_w.value() != self.spin_h.value():
            self.spin_w.set_value(self.spin_h.value())
            self._changed()

    def _changed(self, *_args) -> None:
        self.edited.emit(self.value())

    def value(self):
        h = self.spin_h.value()
        w = self.spin_w.value() if self.split.isChecked() else h
        return h if h == w else (h, w)

    def set_value(self, value) -> None:
        h, w = pair(value)
        self.spin_h.set_value(h)
        self.spin_w.set_value(w)
        if h != w and not self.split.isChecked():
            self.split.blockSignals(True)
            self.split.setChecked(True)
            self.split.blockSignals(False)
            self._show_split(True)


class BoolEditor(QCheckBox):
    edited = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.toggled.connect(lambda v: self.edited.emit(bool(v)))

    def value(self) -> bool:
        return self.isChecked()

    def set_value(self, value) -> None:
        if self.isChecked() != value:
            self.blockSignals(True)
            self.setChecked(value)
            self.blockSignals(False)


class ChoiceEditor(QComboBox):
    edited = Signal(object)

    def __init__(self, choices, labels: dict | None = None, parent=None) -> None:
        super().__init__(parent)
        for choice in choices:
            self.addItem((labels or {}).get(choice, choice), choice)
        self.currentIndexChanged.connect(lambda i: self.edited.emit(self.itemData(i)))

    def value(self):
        return self.currentData()

    def set_value(self, value) -> None:
        i = self.findData(value)
        if i != self.currentIndex():
            self.blockSignals(True)
            self.setCurrentIndex(i)
            self.blockSignals(False)


class TextEditor(QLineEdit):
    edited = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.textEdited.connect(lambda t: self.edited.emit(t.strip()))

    def value(self) -> str:
        return self.text().strip()

    def set_value(self, value) -> None:
        if self.value() != value:
            self.setText(value)


def make_editor(f) -> QWidget | None:
    """The editor for the layer field ``f`` (a dataclass field), or None for a field without one."""
    meta = f.metadata
    kind = meta.get("kind")
    what = meta.get("label") or f.name
    if kind == "int":
        return IntEditor(meta.get("low") or 0, meta.get("high") or 1_000_000, what=what)
    if kind == "pair":
        return PairEditor(meta.get("low") or 0, meta.get("high") or 1_000_000, what=what)
    if kind == "float":
        return FloatEditor(meta.get("low") or 0.0, meta.get("high") or 1e6, f.default)
    if kind == "bool":
        return BoolEditor()
    if kind == "choice":
        return ChoiceEditor(meta["choices"], POLICY_LABELS if f.name == "policy" else None)
    if kind == "str":
        return TextEditor()
    return None
