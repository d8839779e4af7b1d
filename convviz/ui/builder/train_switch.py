"""The inspector's fine-tuning box: a layer's "Train this layer" switch, and freezing every layer up to it.

Shown for layers with parameters (``FREEZABLE``: conv, locally connected, batch norm, FC). Each
change is one undoable edit of the specification's ``trainable`` field; "Freeze up to here" is one
undo step that freezes every parameter layer from the first to this one and lets the later ones train
(what ``convviz train --freeze LAYER`` does).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from convviz.model.fine_tune import parameter_layers
from convviz.ui.builder.document import NetworkDocument

TRAINS = "Its parameters train with the rest of the network."
FROZEN = ("❄ Frozen: training leaves its weights exactly as they are (imported or trained before) "
          "while the layers after it learn: fine-tuning.")


class TrainSwitch(QGroupBox):
    """The selected layer's train switch (see the module docstring)."""

    def __init__(self, document: NetworkDocument, parent=None) -> None:
        super().__init__("Fine-tuning", parent)
        self.document = document
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.check = QCheckBox("Train this layer")
        self.check.setToolTip("Off: the layer is frozen, its weights stay as they are while the others train")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout()
        row.addWidget(self.check)
        row.addStretch(1)
        self.freeze_up_to_button = QPushButton("Freeze up to here")
        self.freeze_up_to_button.setToolTip("Freeze every layer with parameters from the first to this one; "
                                            "the later ones train")
        row.addWidget(self.freeze_up_to_button)
        layout.addLayout(row)
        layout.addWidget(self.note)
        self._path = None
        self.check.toggled.connect(self._toggled)
        self.freeze_up_to_button.clicked.connect(lambda: self.freeze_up_to(self._path))

    def show_for(self, path: tuple | None, layer) -> None:
        """Show ``layer``'s switch (hidden for a layer without parameters)."""
        self._path = path
        if layer is None or not layer.FREEZABLE:
            self.setVisible(False)
            return
        self.check.blockSignals(True)
        self.check.setChecked(layer.trainable)
        self.check.blockSignals(False)
        self.note.setText(TRAINS if layer.trainable else FROZEN)
        self.setVisible(True)

    def _toggled(self, on: bool) -> None:
        if not isinstance(self._path, tuple):
            return
        name = self.document.layer_report(self._path).name
        self.document.set_fields(self._path, {"trainable": on}, merge=False,
                                 text=f"{'Train' if on else 'Freeze'} {name}")

    def freeze_up_to(self, path: tuple | None) -> None:
        """Freeze every parameter layer up to and including the one at ``path``, train the later ones:
        one undo step (nothing happens if no switch would change)."""
        doc = self.document
        if not isinstance(path, tuple) or doc.read_only:
            return
        reports = parameter_layers(doc.report)
        paths = [r.path for r in reports]
        if path not in paths:
            return
        last = paths.index(path)
        changes = [(r.path, i > last) for i, r in enumerate(reports) if r.layer.trainable != (i > last)]
        if not changes:
            return
        name = doc.layer_report(path).name
        doc.seal()
        doc.undo_stack.beginMacro(f"Freeze up to {name}")
        for where, trainable in changes:
            doc.set_fields(where, {"trainable": trainable}, merge=False)
        doc.undo_stack.endMacro()
        doc.select(path)
