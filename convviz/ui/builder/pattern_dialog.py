"""Insert Pattern…: the notes' INPUT → [[CONV → RELU] × N → POOL] × M → [FC → RELU] × K → FC.

The dialog sets N, M, K, the first stage's filter count and its growth from stage to stage, the conv
size, the hidden FC units and the number of classes, and previews, as the values change, every
volume the pattern gives from the volume it will be inserted after, with its parameter count. Insert
puts the layers below the selected card as one undo step (:meth:`NetworkDocument.insert_layers`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

from convviz.model import NetworkSpec, analyze
from convviz.model.patterns import conv_pattern
from convviz.ui.builder.document import INPUT, NetworkDocument, volume_at


class PatternDialog(QDialog):
    """Choose the pattern's counts, see its volumes and parameters, insert it as one undo step."""

    def __init__(self, document: NetworkDocument, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.setWindowTitle("Insert Layer Pattern")
        layout = QVBoxLayout(self)
        intro = QLabel("INPUT → [[CONV → RELU] × <b>N</b> → POOL] × <b>M</b> → [FC → RELU] × <b>K</b> → FC "
                       "(CS231n, “Layer Patterns”): every conv keeps W×H, every 2×2 pool halves it.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.n, self.m, self.k = self._spin(0, 8, 2), self._spin(0, 8, 3), self._spin(0, 4, 1)
        self.filters, self.growth = self._spin(1, 4096, 16), self._spin(1, 4, 2)
        self.size = QSpinBox(minimum=1, maximum=11, singleStep=2, value=3)
        self.size.valueChanged.connect(self._preview)
        self.units, self.classes = self._spin(1, 65_536, 128), self._spin(1, 100_000, 10)
        self.softmax = QCheckBox("end with softmax")
        self.softmax.setChecked(True)
        self.softmax.toggled.connect(self._preview)
        for label, widget in (("N: convs per stage", self.n), ("M: stages (each ends in a 2×2 pool)", self.m),
                              ("K: hidden FC layers", self.k), ("Filters in the first stage", self.filters),
                              ("× per stage", self.growth), ("Conv size F (odd; P = (F − 1)/2)", self.size),
                              ("Hidden FC units", self.units), ("Classes", self.classes), ("", self.softmax)):
            form.addRow(label, widget)
        layout.addLayout(form)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.RichText)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setMinimumWidth(460)
        layout.addWidget(self.preview)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.insert_button = buttons.addButton("Insert", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.insert)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._preview()

    def _spin(self, low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox(minimum=low, maximum=high, value=value)
        spin.setGroupSeparatorShown(True)
        spin.valueChanged.connect(self._preview)
        return spin

    def layers(self) -> list:
        """The pattern's layers for the current values (ValueError for an even conv size)."""
        return conv_pattern(n=self.n.value(), m=self.m.value(), k=self.k.value(), filters=self.filters.value(),
                            growth=self.growth.value(), size=self.size.value(), classes=self.classes.value(),
                            units=self.units.value(), softmax=self.softmax.isChecked())

    def start_volume(self):
        """The volume the pattern is inserted after: the selected layer's output, or the input."""
        doc = self.document
        selected = doc.selected
        if isinstance(selected, tuple):
            return volume_at(doc.report, selected[:-1], selected[-1] + 1)
        return doc.spec.input if selected == INPUT or not doc.spec.layers else volume_at(doc.report, (), len(doc.spec.layers))

    def _preview(self, *_args) -> None:
        try:
            layers = self.layers()
        except ValueError as exc:
            self.preview.setText(f"<span style='color:#c5221f'>{exc}</span>")
            self.insert_button.setEnabled(False)
            return
        start = self.start_volume()
        if start is None:
            self.preview.setText("The layer above has no shape yet: fix it first.")
            self.insert_button.setEnabled(False)
            return
        report = analyze(NetworkSpec(input=start, layers=layers))
        shown = [str(start)] + [f"{r.name}&nbsp;{r.output}" if r.output is not None else f"<b>{r.name}&nbsp;✗</b>"
                                for r in report.layers if not r.layer.ELEMENTWISE]
        problems = "".join(f"<br><span style='color:#c5221f'>{r.name}: {r.error.message}</span>" for r in report.problems)
        self.preview.setText(
            f"<b>{len(layers)} layers, {report.total_params:,} parameters</b> from {start}:<br>"
            + " → ".join(shown) + problems)
        self.insert_button.setEnabled(not report.problems)

    def insert(self) -> None:
        layers = self.layers()
        n, m, k = self.n.value(), self.m.value(), self.k.value()
        if self.document.insert_layers(layers, f"Insert pattern (N={n}, M={m}, K={k})") is not None:
            self.accept()
