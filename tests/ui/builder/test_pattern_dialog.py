"""Insert Pattern…: the notes' layer pattern, previewed, inserted as one undo step."""

from convviz.model import NetworkSpec, Volume
from convviz.model.patterns import conv_pattern
from convviz.ui.builder.document import INPUT
from convviz.ui.builder.pattern_dialog import PatternDialog


def test_the_pattern_previews_its_volumes_and_inserts_as_one_undo_step(builder, qtbot):
    doc = builder.document
    doc.reset(NetworkSpec(Volume(32, 32, 3), []))
    doc.select(INPUT)
    dialog = PatternDialog(doc)
    qtbot.addWidget(dialog)
    assert "20 layers" in dialog.preview.text() and "4×4×64" in dialog.preview.text()
    dialog.size.setValue(4)
    assert "size must be odd" in dialog.preview.text() and not dialog.insert_button.isEnabled()
    dialog.size.setValue(3)
    dialog.k.setValue(0)
    assert dialog.insert_button.isEnabled()
    dialog.insert()
    assert doc.spec.layers == conv_pattern(n=2, m=3, k=0)
    assert doc.report.valid and str(doc.report.output) == "1×1×10"
    doc.undo_stack.undo()
    assert doc.spec.layers == []
    doc.undo_stack.redo()
    assert len(doc.spec.layers) == 18


def test_a_pattern_that_cannot_fit_the_volume_says_where(builder, qtbot):
    doc = builder.document
    doc.reset(NetworkSpec(Volume(4, 4, 3), []))
    dialog = PatternDialog(doc)
    qtbot.addWidget(dialog)
    dialog.m.setValue(4)  # 4 → 2 → 1 → a 2×2 pool on 1×1
    assert "maxpool3" in dialog.preview.text() and not dialog.insert_button.isEnabled()
