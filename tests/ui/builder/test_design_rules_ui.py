"""The builder shows the notes' design rules: hint markers on cards, and the inspector's Design rules box."""

from convviz.model import preset
from convviz.ui.builder.document import INPUT


def test_cards_mark_broken_sizing_rules_and_the_inspector_explains(builder, qtbot):
    builder.document.reset(preset("alexnet"))
    model = builder.stack_view.model()
    assert model.card((0,)).hint == "a stack of 3×3 filters sees the same"
    assert model.card(INPUT).hint == "the input does not halve cleanly"
    assert model.card((1,)).hint == ""  # relu1 follows every rule
    builder.document.select((0,))
    design = builder.inspector.design
    assert not design.isHidden()
    assert "11×11, jump 4" in design.field_label.text()
    assert "five 3×3 convs of C channels see 11×11 with 45C² weights against 121C²" in design.hints_label.text()
    assert "would need 154,587 weights" in design.costs_label.text()  # 227×227×3, every output sees all
    design.show_hints.setChecked(False)
    assert model.card((0,)).hint == "" and not builder.document.show_hints
    assert "five 3×3 convs" in design.hints_label.text()  # still listed in the inspector


def test_vgg16_cards_carry_no_hint(builder):
    builder.document.reset(preset("vgg16"))
    model = builder.stack_view.model()
    assert all(not model.card((i,)).hint for i in range(len(builder.document.spec.layers)))


def test_the_summary_can_show_what_each_conv_would_cost_unshared(builder):
    from convviz.ui.builder.summary_table import SummaryTableModel

    summary = builder.summary
    summary.resize(1400, 300)
    summary._fit_columns()
    assert summary.table.isColumnHidden(SummaryTableModel.SHARING)  # off until asked for
    summary.set_show_sharing(True)
    assert not summary.table.isColumnHidden(SummaryTableModel.SHARING)
    conv1 = summary.model.data(summary.model.index(0, SummaryTableModel.SHARING))
    assert conv1 == "50.33 M / 1.23 M"  # 3,072 inputs × 16,384 outputs; 16,384 × 75
    assert summary.model.data(summary.model.index(1, SummaryTableModel.SHARING)) == ""  # relu1
