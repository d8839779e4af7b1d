"""The inspector's "Design rules" box: the selected layer's receptive field, the sizing hints it breaks,
and, for a convolution, what the same mapping would cost fully or locally connected.

Everything shown comes from the model (:mod:`convviz.model.receptive`, ``hints``, ``patterns``),
the same figures ``convviz summary`` prints. A check box turns the hint markers on the cards on and
off (remembered in the settings); the box lists the hints either way.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QVBoxLayout

from convviz.model import Conv, LocallyConnected
from convviz.model.patterns import connection_costs
from convviz.ui.builder.document import INPUT, NetworkDocument
from convviz.ui.widgets.layer_style import HINT_COLOR

SETTING = "builder/show_hints"


class DesignNotes(QGroupBox):
    """Receptive field, hints and the cost of not sharing weights, for the document's selection."""

    def __init__(self, document: NetworkDocument, settings: QSettings | None = None, parent=None) -> None:
        super().__init__("Design rules", parent)
        self.document, self.settings = document, settings
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        self.field_label = QLabel()
        self.hints_label = QLabel()
        self.costs_label = QLabel()
        for label in (self.field_label, self.hints_label, self.costs_label):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)
        self.show_hints = QCheckBox("Mark the cards that break a rule")
        layout.addWidget(self.show_hints)
        if settings is not None:
            document.set_show_hints(str(settings.value(SETTING, "true")).lower() != "false")
        self.show_hints.setChecked(document.show_hints)
        self.show_hints.toggled.connect(self._toggled)

    def _toggled(self, checked: bool) -> None:
        if self.settings is not None:
            self.settings.setValue(SETTING, checked)
        self.document.set_show_hints(checked)

    def show_for(self, path) -> bool:
        """Fill the box for a layer path or INPUT; False (and hidden) when there is nothing to say."""
        hints, fields = self.document.design()
        report = self.document.layer_report(path) if path != INPUT else None
        name = "input" if path == INPUT else (report.name if report is not None else None)
        field = fields.get(name) if report is not None and report.output is not None else None
        self.field_label.setText(
            f"<b>Receptive field:</b> {field.text()}" + ("" if field.whole else " (input pixels one output cell "
                                                          "sees; jump: input pixels between neighbouring cells)")
            if field is not None else "")
        self.field_label.setVisible(field is not None)
        found = hints.get(name, [])
        self.hints_label.setText("<br>".join(
            f"<span style='color:{HINT_COLOR}'>◆ <b>{h.rule}</b></span>: {h.message}" for h in found))
        self.hints_label.setVisible(bool(found))
        costs = None
        if report is not None and report.output is not None and isinstance(report.layer, Conv) \
                and not isinstance(report.layer, LocallyConnected):
            costs = connection_costs(report.layer, report.input, report.output)
            self.costs_label.setText(
                f"<b>Why convolution:</b> fully connected, every one of the {report.output.elements:,} outputs "
                f"would need {costs.fc_per_neuron:,} weights ({costs.fc:,} in all); locally connected, "
                f"{costs.local:,}; shared as a convolution, {costs.conv:,}.")
        self.costs_label.setVisible(costs is not None)
        shown = field is not None or bool(found) or costs is not None
        self.setVisible(shown)
        return shown
