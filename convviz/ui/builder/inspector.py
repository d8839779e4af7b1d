"""The inspector: the selected layer's hyperparameters, its arithmetic with the user's numbers, and fixes.

Editors are made from the layer class's fields (``cls.hyperparameters()`` and their ``kind``, see
:mod:`convviz.ui.builder.editors`): spin boxes for whole numbers and per-axis pairs, a choice for the
uneven-stride policy, a check box for biases. Every keystroke is an edit
(``NetworkDocument.set_fields``; a run of keystrokes in one field is one undo step), so the size
formula ``(32 − 5 + 2·2)/1 + 1 = 32`` and the parameter arithmetic ``16×5×5×3 + 16 = 1,216``
follow as the user types. An invalid layer shows its reason and one button
per fix of its :class:`~convviz.model.ShapeError` (:mod:`convviz.ui.builder.problem_box`); a layer with
parameters has its "Train this layer" switch for fine-tuning (:mod:`convviz.ui.builder.train_switch`).

The editors are rebuilt only when another layer is selected; after an edit they are updated in
place (never the one being typed into), so typing is never interrupted.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from convviz.model import Branch, Residual, Volume, WindowLayer
from convviz.model.layers import LIMITS
from convviz.model.summary import format_count
from convviz.ui.builder.design_notes import DesignNotes
from convviz.ui.builder.document import INPUT, NetworkDocument, editable_fields
from convviz.ui.builder.editors import IntEditor, make_editor
from convviz.ui.builder.problem_box import ProblemBox
from convviz.ui.builder.problem_box import rich as _rich
from convviz.ui.builder.train_switch import TrainSwitch
from convviz.ui.widgets.layer_style import (
    INVALID_COLOR,
    UNRESOLVED_COLOR,
    category_color,
)

#: Common input volumes offered for the input card.
COMMON_INPUTS = [
    ("CIFAR-10 colour images", Volume(32, 32, 3)),
    ("MNIST digits", Volume(28, 28, 1)),
    ("LeNet-5 (padded digits)", Volume(32, 32, 1)),
    ("ImageNet crop (VGG, ResNet)", Volume(224, 224, 3)),
    ("AlexNet crop", Volume(227, 227, 3)),
]


# -- the panel ----------------------------------------------------------------------------------------------


class Inspector(QScrollArea):
    """The inspector dock's contents for a :class:`NetworkDocument`."""

    expand_requested = Signal(tuple)

    def __init__(self, document: NetworkDocument, parent=None, settings=None) -> None:
        super().__init__(parent)
        self.document = document
        document.read_only_changed.connect(lambda read_only: self.setEnabled(not read_only))
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.setWidget(body)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(6)

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.rule = QLabel()  # the generic formula of the layer type
        self.rule.setWordWrap(True)
        self.rule.setStyleSheet("color: #3c4043; background: #f1f3f4; border-radius: 3px; padding: 3px;")
        self.rule.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.title, self.description, self.rule):
            outer.addWidget(w)

        self.problem_box = ProblemBox(document)
        outer.addWidget(self.problem_box)

        self.fields_box = QGroupBox("Hyperparameters")
        self.form = QFormLayout(self.fields_box)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setContentsMargins(8, 6, 8, 6)
        outer.addWidget(self.fields_box)
        self.train_switch = TrainSwitch(document)  # fine-tuning: the layer's train switch
        outer.addWidget(self.train_switch)

        self.shapes_box = QGroupBox("Shapes and arithmetic")
        shapes = QFormLayout(self.shapes_box)
        shapes.setContentsMargins(8, 6, 8, 6)
        self.input_label = QLabel()
        self.size_label = QLabel()
        self.output_label = QLabel()
        self.params_label = QLabel()
        self.macs_label = QLabel()
        for w in (self.input_label, self.size_label, self.output_label, self.params_label, self.macs_label):
            w.setWordWrap(True)
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.size_label.setStyleSheet("font-weight: bold;")
        self.params_label.setStyleSheet("font-weight: bold;")
        shapes.addRow("Input:", self.input_label)
        shapes.addRow("Output size:", self.size_label)
        shapes.addRow("Output:", self.output_label)
        shapes.addRow("Parameters:", self.params_label)
        shapes.addRow("Mult-adds:", self.macs_label)
        outer.addWidget(self.shapes_box)
        self.design = DesignNotes(document, settings)  # receptive field, sizing hints, why convolution
        outer.addWidget(self.design)

        self.block_box = QGroupBox("Inner stacks")
        block = QVBoxLayout(self.block_box)
        block.setContentsMargins(8, 6, 8, 6)
        self.block_label = QLabel()
        self.block_label.setWordWrap(True)
        self.block_label.setTextFormat(Qt.TextFormat.RichText)
        block.addWidget(self.block_label)
        buttons = QHBoxLayout()
        self.expand_button = QPushButton("Show in the stack")
        self.add_branch_button = QPushButton("Add branch")
        self.identity_button = QPushButton("Use identity shortcut")
        for b in (self.expand_button, self.add_branch_button, self.identity_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        block.addLayout(buttons)
        outer.addWidget(self.block_box)
        self.expand_button.clicked.connect(lambda: self.expand_requested.emit(self._path))
        self.add_branch_button.clicked.connect(lambda: self.document.add_branch(self._path))
        self.identity_button.clicked.connect(
            lambda: self.document.set_fields(self._path, {"shortcut": []}, merge=False, text="Use identity shortcut")
        )

        self.input_box = QGroupBox("Input volume")
        input_form = QFormLayout(self.input_box)
        input_form.setContentsMargins(8, 6, 8, 6)
        self.input_w = IntEditor(1, LIMITS["extent"], what="Width W")
        self.input_h = IntEditor(1, LIMITS["extent"], what="Height H")
        self.input_d = IntEditor(1, LIMITS["depth"], what="Depth D")
        self.input_problems = {}
        for label, spin in (("Width W:", self.input_w), ("Height H:", self.input_h), ("Depth D:", self.input_d)):
            input_form.addRow(label, spin)
            self.input_problems[spin.what] = self._problem_row(input_form, spin)
        self.common_inputs = QComboBox()
        self.common_inputs.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.common_inputs.setMinimumContentsLength(14)
        self.common_inputs.addItem("Common inputs…", None)
        for label, volume in COMMON_INPUTS:
            self.common_inputs.addItem(f"{label}: {volume}", volume)
        input_form.addRow("", self.common_inputs)
        for spin in (self.input_w, self.input_h, self.input_d):
            spin.edited.connect(self._input_edited)
            spin.editingFinished.connect(self.document.seal)
        self.common_inputs.activated.connect(self._common_input)
        outer.addWidget(self.input_box)

        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {UNRESOLVED_COLOR};")
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.note.linkActivated.connect(self._link)
        outer.addWidget(self.note)
        outer.addStretch(1)

        self.editors: dict[str, QWidget] = {}
        self._path = None
        self._layer = None
        document.changed.connect(self.refresh)
        document.selection_changed.connect(self.refresh)
        self.refresh()

    # -- showing ----------------------------------------------------------------------------------------------
    def refresh(self, *_args) -> None:
        doc = self.document
        path = doc.selected
        if path is None:
            self._show_nothing()
        elif path == INPUT:
            self._show_input()
        else:
            self._show_layer(path)

    def _set_visible(self, *, layer: bool, problem: bool = False, block: bool = False, inp: bool = False) -> None:
        self.fields_box.setVisible(layer)
        self.train_switch.setVisible(False)  # shown by _show_layer for a layer with parameters
        self.shapes_box.setVisible(layer)
        self.design.setVisible(False)  # shown by _show_layer / _show_input when it has something to say
        self.rule.setVisible(layer)
        self.problem_box.setVisible(problem)
        self.block_box.setVisible(block)
        self.input_box.setVisible(inp)

    def _show_nothing(self) -> None:
        self._path = self._layer = None
        self._clear_editors()
        self._set_visible(layer=False)
        self.title.setText("<b>Nothing selected</b>")
        self.description.setText(
            "Select a card in the stack, or a box in the diagram, to see its hyperparameters and the "
            "arithmetic behind its output volume."
        )
        self.note.setText("")

    def _show_input(self) -> None:
        spec = self.document.spec
        if self._path != INPUT:
            self._clear_editors()
            self._path, self._layer = INPUT, None
        self._set_visible(layer=False, inp=True)
        v = spec.input
        self.title.setText(f"<span style='font-size: 13pt'><b>Input</b></span> &nbsp; {v}")
        self.description.setText(
            "One image as a volume: width W × height H × depth D (3 colour channels, or 1 for grey). "
            "Every layer's output volume follows from it."
        )
        self.input_w.set_value(v.width)
        self.input_h.set_value(v.height)
        self.input_d.set_value(v.depth)
        self.note.setText(f"{v.elements:,} numbers per image.")
        self.design.show_for(INPUT)

    def _show_layer(self, path: tuple) -> None:
        doc = self.document
        layer = doc.layer(path)
        report = doc.layer_report(path)
        if layer is not self._layer or path != self._path:
            self._build_editors(path, layer)
        for name, editor in self.editors.items():
            editor.set_value(getattr(layer, name))
            if name == "name":
                editor.setPlaceholderText(report.name.rsplit(".", 1)[-1] if not layer.name else "")
        color = category_color(layer.CATEGORY).name()
        self.title.setText(
            f"<span style='font-size: 13pt'><b>{_rich(report.name)}</b></span> &nbsp; "
            f"<span style='color:{color}'>{_rich(layer.TITLE)}</span>"
        )
        self.description.setText(layer.DESCRIPTION)
        self.rule.setText(layer.FORMULA)
        self._show_shapes(report)
        self.design.show_for(path)
        self.problem_box.show_for(path, report)
        self.train_switch.show_for(path, layer)
        self._show_block(layer, report)
        self.fields_box.setVisible(bool(self.editors))
        if report.status == "unresolved":
            first = doc.report.problems[0] if doc.report.problems else None
            where = f"<a href='select'>{_rich(first.name)}</a>" if first is not None else "the layer above"
            self.note.setText(f"Its input is unknown until {where} is fixed, so it has no shape yet.")
        else:
            self.note.setText("")

    def _show_shapes(self, report) -> None:
        self.shapes_box.setVisible(True)
        self.rule.setVisible(True)
        self.input_label.setText(str(report.input) if report.input is not None else "unknown")
        formula = report.size_formula() if report.input is not None else ""
        if formula and not isinstance(report.layer, WindowLayer) and report.input == report.output:
            formula += " (unchanged)"
        self.size_label.setText(formula.replace("; ", "\n") if formula else "—")
        if report.output is not None:
            self.output_label.setText(f"{report.output}  ({report.output.elements:,} numbers)")
        else:
            self.output_label.setText("— (the layer cannot be built)" if report.status == "invalid" else "— (input unknown)")
        if report.layer.COMPOSITE:
            params = f"{report.params:,} (the inner layers together)" if report.input is not None else "—"
        elif report.output is None:
            params = "—"
        else:
            params = report.param_formula() if report.params else "none: nothing to learn"
        self.params_label.setText(params)
        self.macs_label.setText(f"{report.macs:,} per image ({format_count(report.macs)})" if report.output is not None else "—")

    @property
    def fix_buttons(self) -> list[QPushButton]:
        """The fix buttons the problem box shows now."""
        return self.problem_box.fix_buttons

    def _show_block(self, layer, report) -> None:
        if not layer.COMPOSITE:
            self.block_box.setVisible(False)
            return
        lines = []
        for label, stack in report.children:
            if stack:
                chain = " → ".join(_rich(r.layer.brief()) for r in stack)
                out = stack[-1].output
            else:
                chain = "identity (x passes through)" if label == "shortcut" else "passes the input through"
                out = report.input
            lines.append(f"<b>{_rich(label)}</b>: {chain} <i>→ {out if out is not None else '—'}</i>")
        merge = layer.MERGE
        lines.append(f"The outputs are {merge}.")
        self.block_label.setText("<br>".join(lines))
        self.add_branch_button.setVisible(isinstance(layer, Branch))
        self.identity_button.setVisible(isinstance(layer, Residual) and bool(layer.shortcut))
        self.block_box.setVisible(True)

    # -- editors -------------------------------------------------------------------------------------------------
    def _clear_editors(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        self.problems: dict[str, QLabel] = {}  # field name → the line saying why a typed number is not used

    def _build_editors(self, path: tuple, layer) -> None:
        self._clear_editors()
        self._path, self._layer = path, layer
        for f in editable_fields(layer):
            if f.name == "trainable":
                continue  # the fine-tuning box shows it
            editor = make_editor(f)
            if editor is None:
                continue
            label = f.metadata.get("label") or f.name
            editor.setToolTip(f.metadata.get("doc", ""))
            editor.edited.connect(lambda value, name=f.name: self._edited(name, value))
            for spin in editor.findChildren(QSpinBox) + ([editor] if isinstance(editor, (QSpinBox, QDoubleSpinBox, QLineEdit)) else []):
                spin.editingFinished.connect(self.document.seal)
            self.form.addRow(f"{label}:", editor)
            self.editors[f.name] = editor
            if hasattr(type(editor), "problem"):
                self.problems[f.name] = self._problem_row(self.form, editor)

    @staticmethod
    def _problem_row(form: QFormLayout, editor) -> QLabel:
        """A line under ``editor`` saying why a number typed there is not used (hidden while it is fine)."""
        message = QLabel()
        message.setWordWrap(True)
        message.setStyleSheet(f"color: {INVALID_COLOR};")
        message.setVisible(False)
        editor.problem.connect(lambda text: (message.setText(text), message.setVisible(bool(text))))
        form.addRow("", message)
        return message

    def _edited(self, name: str, value) -> None:
        if isinstance(self._path, tuple):
            self.document.set_fields(self._path, {name: value})

    def _input_edited(self, _value) -> None:
        self.document.set_input(Volume(self.input_w.value(), self.input_h.value(), self.input_d.value()))

    def _common_input(self, index: int) -> None:
        volume = self.common_inputs.itemData(index)
        self.common_inputs.setCurrentIndex(0)
        if volume is not None:
            self.document.seal()
            self.document.set_input(volume)
            self.document.seal()

    def _link(self, _href: str) -> None:
        if self.document.report.problems:
            self.document.select(self.document.report.problems[0].path)
