"""Build a network the way a user does, and check what the cards, the inspector and the summary show."""

from __future__ import annotations

from builder_helpers import drop, lower_half, names, upper_half
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from convviz.model import Volume, analyze, preset
from convviz.model.summary import format_bytes, summary_rows
from convviz.ui.builder.document import INPUT


def card(window, path):
    return window.stack_view.stack_model.card(path)


def type_into(qtbot, spin, text: str) -> None:
    """Select the spin box's text and type ``text`` key by key, as a user does."""
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, text)


def test_first_start_shows_the_convnetjs_network_with_its_volumes(builder):
    assert builder.windowTitle().startswith("ConvNetJS CIFAR-10")
    assert card(builder, INPUT).output == "32×32×3"
    conv1 = card(builder, (0,))
    assert (conv1.name, conv1.brief, conv1.output, conv1.params) == ("conv1", "conv 5×5, 16, S1 P2", "32×32×16", "1,216 params")
    assert [card(builder, (i,)).output for i in (2, 5, 8, 9, 10)] == ["16×16×16", "8×8×20", "4×4×20", "1×1×320", "1×1×10"]
    assert builder.hint.isVisible()
    assert "palette" in builder.hint.label.text() and "formula" in builder.hint.label.text()
    assert builder.network_status.text().startswith("✓ Valid: 32×32×3 → 1×1×10")
    # the inspector shows conv1 with its arithmetic
    assert builder.inspector.size_label.text() == "(32 − 5 + 2·2)/1 + 1 = 32"
    assert builder.inspector.params_label.text() == "16×5×5×3 + 16 = 1,216"


def test_palette_lists_every_layer_type_with_description_and_formula(builder):
    from convviz.model import LAYER_TYPES
    from convviz.ui.builder.palette import DESCRIPTION_ROLE, PATTERN, TYPE_ROLE

    model = builder.palette.palette_model
    groups = [model.item(r).text() for r in range(model.rowCount())]
    assert groups == ["Convolution", "Pooling", "Activation", "Normalization", "Fully connected", "Blocks"]
    entries = {}
    for r in range(model.rowCount()):
        for k in range(model.item(r).rowCount()):
            item = model.item(r).child(k)
            entries[item.data(TYPE_ROLE)] = item
    assert set(entries) == set(LAYER_TYPES) | {PATTERN}
    assert not entries[PATTERN].flags() & Qt.ItemFlag.ItemIsDragEnabled  # it opens a dialog, it is not a layer
    conv = entries["conv"]
    assert not conv.icon().isNull()
    assert conv.data(DESCRIPTION_ROLE).startswith("K filters")
    assert "W' = (W − F + 2P)/S + 1" in conv.toolTip()


def test_insert_from_the_palette_reorder_edit_undo_redo(builder, qtbot):
    view = builder.stack_view
    doc = builder.document
    # 1. drag "Convolution" from the palette onto the upper half of maxpool1's card: it lands before it
    drop(view, builder.palette.drag_mime("conv"), upper_half(view, (2,)))
    assert names(builder)[:4] == ["conv1", "relu1", "conv2", "maxpool1"]
    new = card(builder, (2,))
    assert (new.brief, new.output, new.params) == ("conv 3×3, 16, S1", "30×30×16", "2,320 params")
    assert card(builder, (3,)).output == "15×15×16"  # maxpool1 now sees 30×30
    assert doc.selected == (2,)
    assert builder.inspector.title.text().find("conv2") >= 0
    assert builder.isWindowModified()

    # 2. drag the new card below relu… i.e. reorder: onto the lower half of maxpool1 → after it
    mime = view.stack_model.mimeData([view.stack_model.index_of((2,))])
    drop(view, mime, lower_half(view, (3,)))
    assert names(builder)[:4] == ["conv1", "relu1", "maxpool1", "conv2"]
    assert card(builder, (3,)).output == "14×14×16"

    # 3. edit its padding in the inspector: type 1 → the card and everything after it follow
    pad = builder.inspector.editors["pad"].spin_h
    type_into(qtbot, pad, "1")
    assert card(builder, (3,)).brief == "conv 3×3, 16, S1 P1"
    assert card(builder, (3,)).output == "16×16×16"
    assert builder.inspector.size_label.text() == "(16 − 3 + 2·1)/1 + 1 = 16"
    summary = builder.summary.model
    row = next(i for i, r in enumerate(summary.rows) if r.name == "conv2")
    assert summary.data(summary.index(row, 1)) == "16×16×16"

    # 4. undo the edit, the move, the insert; then redo all three
    doc.undo_stack.undo()
    assert card(builder, (3,)).output == "14×14×16"
    assert builder.inspector.editors["pad"].spin_h.value() == 0
    doc.undo_stack.undo()
    assert names(builder)[:4] == ["conv1", "relu1", "conv2", "maxpool1"]
    doc.undo_stack.undo()
    assert names(builder)[:3] == ["conv1", "relu1", "maxpool1"]
    assert card(builder, (2,)).output == "16×16×16"
    assert not builder.isWindowModified()
    for _ in range(3):
        doc.undo_stack.redo()
    assert names(builder)[:4] == ["conv1", "relu1", "maxpool1", "conv2"]
    assert card(builder, (3,)).output == "16×16×16"


def test_drop_below_the_last_card_appends(builder):
    view = builder.stack_view
    view.scrollToBottom()
    drop(view, builder.palette.drag_mime("dropout"), lower_half(view, (11,)))
    assert names(builder)[-1] == "dropout1"
    # softmax is no longer last: it turns red and says why, and the dropout after it waits
    softmax = card(builder, (11,))
    assert softmax.status == "invalid" and "Softmax must be the last layer" in softmax.problem
    assert card(builder, (12,)).status == "unresolved"
    assert "softmax1: Softmax must be the last layer" in builder.network_status.text()


def test_an_edit_updates_cards_in_place_without_rebuilding(builder, qtbot):
    model = builder.stack_view.stack_model
    resets = model.resets
    spin = builder.inspector.editors["filters"]
    type_into(qtbot, spin, "32")
    assert model.resets == resets
    assert card(builder, (0,)).params == "2,432 params"
    assert card(builder, (3,)).params == "16,020 params"  # conv2 now sees 32 slices
    assert builder.document.undo_stack.count() == 1  # typing "32" is one undo step


def test_uneven_stride_shows_4_5_and_its_fixes_and_a_fix_makes_it_valid(builder, fake_dialogs, qtbot):
    builder.files.new_network()
    doc = builder.document
    view = builder.stack_view
    assert names(builder) == [] and doc.selected == INPUT
    # input 10×10×3, typed into the inspector
    type_into(qtbot, builder.inspector.input_w, "10")
    type_into(qtbot, builder.inspector.input_h, "10")
    assert card(builder, INPUT).output == "10×10×3"
    # a conv from the palette, dropped onto the input card (→ first layer), then a ReLU after it
    drop(view, builder.palette.drag_mime("conv"), upper_half(view, INPUT))
    drop(view, builder.palette.drag_mime("relu"), QPoint(40, view.viewport().height() - 3))  # empty space
    assert names(builder) == ["conv1", "relu1"]
    doc.select((0,))
    editors = builder.inspector.editors
    type_into(qtbot, editors["size"].spin_h, "3")
    type_into(qtbot, editors["stride"].spin_h, "2")
    conv = card(builder, (0,))
    assert conv.status == "invalid"
    assert "(10 − 3 + 2·0)/2 + 1 = 4.5 is not a whole number" in conv.problem
    assert card(builder, (1,)).status == "unresolved"
    assert "conv1" in builder.network_status.text() and "4.5" in builder.network_status.text()
    assert builder.inspector.size_label.text() == "(10 − 3 + 2·0)/2 + 1 = 4.5"
    assert builder.inspector.problem_box.isVisible()
    buttons = [b.text() for b in builder.inspector.fix_buttons]
    assert buttons == ["Fix: S=1 (→ 8)", "Fix: zero-pad to fit (→ 5)", "Fix: crop to fit (→ 4)"]
    rows = builder.summary.model.rows
    assert [r.status for r in rows] == ["invalid", "unresolved"]

    fix = next(b for b in builder.inspector.findChildren(QPushButton) if b.text() == "Fix: zero-pad to fit (→ 5)")
    qtbot.mouseClick(fix, Qt.MouseButton.LeftButton)
    conv = card(builder, (0,))
    assert (conv.status, conv.output, conv.brief) == ("ok", "5×5×16", "conv 3×3, 16, S2 pad-to-fit")
    assert card(builder, (1,)).output == "5×5×16"
    assert not builder.inspector.problem_box.isVisible()
    assert builder.inspector.editors["policy"].value() == "pad"
    assert builder.network_status.text().startswith("✓ Valid")

    doc.undo_stack.undo()  # the fix is one undo step
    assert card(builder, (0,)).status == "invalid"
    qtbot.mouseClick(builder.inspector.fix_buttons[0], Qt.MouseButton.LeftButton)  # S=1
    assert card(builder, (0,)).output == "8×8×16"


def test_fc_after_a_volume_offers_insert_flatten(builder, qtbot):
    doc = builder.document
    doc.remove((9,))  # flatten1
    assert card(builder, (9,)).status == "invalid"
    assert builder.inspector.fix_buttons[0].text() == "Fix: insert Flatten before (→ 1×1×320)"
    qtbot.mouseClick(builder.inspector.fix_buttons[0], Qt.MouseButton.LeftButton)
    assert [card(builder, (i,)).output for i in (9, 10)] == ["1×1×320", "1×1×10"]
    assert doc.report.valid


def test_blocks_expand_and_take_drops_into_their_inner_stacks(builder, qtbot):
    view = builder.stack_view
    doc = builder.document
    drop(view, builder.palette.drag_mime("residual"), upper_half(view, (3,)))  # after maxpool1, 16×16×16
    block = view.stack_model.index_of((3,))
    assert view.isExpanded(block)
    body = card(builder, (3, 0))
    shortcut = card(builder, (3, 1))
    assert (body.name, body.brief, body.output) == ("body", "5 layers", "16×16×16")
    assert (shortcut.name, shortcut.brief) == ("shortcut", "empty: identity, x passes through")
    assert card(builder, (3,)).output == "16×16×16"
    # a dropout dropped onto the "body" header goes first into the body
    drop(view, builder.palette.drag_mime("dropout"), upper_half(view, (3, 0)))
    assert card(builder, (3, 0, 0)).name == "res1.body.dropout1"
    assert card(builder, (3, 0)).brief == "6 layers"
    assert doc.selected == (3, 0, 0)
    # select the body's last conv and give it 8 filters: body and identity shortcut no longer match
    doc.select((3, 0, 4))
    assert "res1.body.conv2" in builder.inspector.title.text()
    type_into(qtbot, builder.inspector.editors["filters"], "8")
    assert card(builder, (3, 0, 4)).output == "16×16×8"
    res = card(builder, (3,))
    assert res.status == "invalid" and "the identity shortcut gives 16×16×16" in res.problem
    assert card(builder, (4,)).status == "unresolved"
    doc.select((3,))
    (fix,) = builder.inspector.fix_buttons
    assert fix.text() == "Fix: use a projection shortcut (1×1 conv, 8 filters, S1)"
    qtbot.mouseClick(fix, Qt.MouseButton.LeftButton)
    assert card(builder, (3,)).output == "16×16×8"
    assert card(builder, (3, 1)).brief == "2 layers"
    assert card(builder, (3, 1, 0)).brief == "conv 1×1, 8, S1 no bias"
    assert card(builder, (4,)).status == "ok"
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert card(builder, (3,)).status == "ok" and card(builder, (3,)).output == "16×16×16"


def test_delete_duplicate_and_context_menu(builder, qtbot):
    view = builder.stack_view
    doc = builder.document
    view.setFocus()
    doc.select((1,))
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert names(builder)[:3] == ["conv1", "maxpool1", "conv2"]
    doc.select((0,))
    QTest.keyClick(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert [card(builder, (i,)).brief for i in (0, 1)] == ["conv 5×5, 16, S1 P2"] * 2
    assert [card(builder, (i,)).name for i in (0, 1)] == ["conv1", "conv2"]
    assert card(builder, (1,)).params == "6,416 params"  # 16×5×5×16 + 16: it sees conv1's 16 slices
    menu = view.context_menu(view.stack_model.index_of((0,)))
    titles = [a.text() for a in menu.actions()]
    assert "Insert above" in titles and "Insert below" in titles and "&Delete" in titles
    insert_below = next(a for a in menu.actions() if a.text() == "Insert below").menu()
    next(a for a in insert_below.actions() if a.text() == "Batch norm").trigger()
    assert card(builder, (1,)).brief == "batch norm"


def test_dropping_a_network_file_on_the_stack_opens_it(builder, tmp_path):
    from convviz.model import save_spec

    path = tmp_path / "lenet.json"
    save_spec(preset("lenet5"), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop(builder.stack_view, mime, QPoint(30, 30))
    assert builder.windowTitle().startswith("lenet.json")
    assert card(builder, INPUT).output == "32×32×1"


def test_summary_shows_the_same_numbers_as_the_summary_table(builder, qtbot):
    panel = builder.summary
    report = analyze(preset("convnetjs"))
    rows = summary_rows(report, panel.batch.value())
    model = panel.model
    assert model.rowCount() == len(rows)
    conv1 = [model.data(model.index(0, c)) for c in range(5)]
    assert conv1 == ["conv1 (conv 5×5, 16, S1 P2)", "32×32×16", "1,216", "1,228,800", format_bytes(rows[0].activation_bytes)]
    assert "22,466" in panel.totals.text()
    # memory follows the batch size
    panel.batch.setValue(1)
    memory = report.memory(1, panel.optimizer.currentText())
    assert panel.training_value.text() == f"<b>{format_bytes(memory.training)}</b>"
    labels = {name.text(): value.text() for name, value in panel.memory_labels}
    assert labels["activations (forward)"] == format_bytes(memory.activations)
    assert labels["gradients"] == format_bytes(memory.gradients)
    # a budget too small for the batch: it says so, and gives the largest batch that fits
    panel.budget.setCurrentText("20MB")
    panel.batch.setValue(4096)
    largest = report.max_batch(20 * 10**6, panel.optimizer.currentText())
    assert "does not fit in 20.00 MB" in panel.verdict.text()
    assert f"Largest batch that fits: <b>{largest:,}</b>" in panel.verdict.text()
    panel.budget.setCurrentText("lots")
    assert "looks like 4GB" in panel.verdict.text()
    # clicking a row selects its layer
    panel.table.selectRow(3)
    assert builder.document.selected == (3,)


def test_diagram_draws_the_volumes_and_a_click_selects(builder, qtbot):
    canvas = builder.diagram.canvas
    boxes = [(b.name, b.label) for b in canvas.boxes]
    assert boxes == [
        ("input", "32×32×3"), ("conv1", "32×32×16"), ("maxpool1", "16×16×16"), ("conv2", "16×16×20"),
        ("maxpool2", "8×8×20"), ("conv3", "8×8×20"), ("maxpool3", "4×4×20"), ("flatten1", "1×1×320"), ("fc1", "1×1×10"),
    ]
    assert canvas.box_of((1,)).name == "conv1"  # relu1 is drawn within conv1's box
    heights = [b.front_h for b in canvas.boxes[:7]]
    assert heights == sorted(heights, reverse=True) or heights[0] >= heights[-1]
    maxpool2 = canvas.box_of((5,))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.box_rect(maxpool2).center().toPoint())
    assert builder.document.selected == (5,)
    assert "maxpool2" in builder.inspector.title.text()
    # an invalid layer is a red box
    builder.document.set_fields((5,), {"size": 3})
    assert canvas.box_of((5,)).status == "invalid" and canvas.box_of((5,)).label == "✗ invalid"
    assert canvas.box_of((6,)).status == "unresolved"


def test_diagram_log_scale_keeps_vgg_readable(builder):
    builder.files.load_preset("vgg16")
    canvas = builder.diagram.canvas
    first, last = canvas.boxes[1], canvas.boxes[-1]
    assert (first.label, last.label) == ("224×224×64", "1×1×1000")
    assert 0 < last.front_w < first.front_w + first.depth and last.front_h > 10 * canvas.scale
    assert first.front_h < 10 * last.front_h  # log scale: 50,000× the numbers, not 50,000× the size


def test_input_card_edits_the_input_volume(builder, qtbot):
    doc = builder.document
    doc.select(INPUT)
    assert builder.inspector.input_box.isVisible()
    type_into(qtbot, builder.inspector.input_d, "1")
    assert card(builder, INPUT).output == "32×32×1"
    assert card(builder, (0,)).params == "416 params"
    index = builder.inspector.common_inputs.findText("ImageNet crop (VGG, ResNet): 224×224×3")
    builder.inspector.common_inputs.activated.emit(index)
    assert doc.spec.input == Volume(224, 224, 3)
    assert card(builder, (9,)).output == "1×1×15680"  # flatten: 28×28×20
    assert card(builder, (10,)).params == "156,810 params"
    builder.document.undo_stack.undo()
    assert card(builder, (9,)).output == "1×1×320"


def test_double_click_in_the_palette_inserts_below_the_selected_card(builder, qtbot):
    palette = builder.palette
    builder.document.select((2,))  # maxpool1
    index = palette.palette_model.index_of_type("batchnorm")
    palette.scrollTo(index)
    rect = palette.visualRect(index)
    qtbot.mouseClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # a double click's
    qtbot.mouseDClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # two halves
    assert card(builder, (3,)).brief == "batch norm"
    assert card(builder, (3,)).params == "32 params"  # 2 × 16 slices
    assert builder.document.selected == (3,)


def test_branch_blocks_add_and_remove_branches_from_the_stack(builder):
    view = builder.stack_view
    doc = builder.document
    drop(view, builder.palette.drag_mime("branch"), upper_half(view, (3,)))
    assert [card(builder, (3, k)).name for k in range(2)] == ["b1", "b2"]
    assert card(builder, (3,)).output == "16×16×32"
    menu = view.context_menu(view.stack_model.index_of((3,)))
    next(a for a in menu.actions() if a.text() == "Add branch").trigger()
    assert card(builder, (3, 2)).brief == "empty: passes the input through"
    assert card(builder, (3,)).output == "16×16×48"
    header_menu = view.context_menu(view.stack_model.index_of((3, 0)))
    next(a for a in header_menu.actions() if a.text() == "Remove branch b1").trigger()
    assert card(builder, (3,)).output == "16×16×32"
    assert doc.layer((3,)).branches[0][0].size == 3  # b2 (the 3×3 conv) is now first
    # the inspector lists the branches and what each gives
    doc.select((3,))
    text = builder.inspector.block_label.text()
    assert "<b>b1</b>: conv 3×3, 16, S1 P1 → ReLU" in text and "concatenated in depth" in text


def test_a_card_cannot_be_dropped_into_itself(builder):
    view = builder.stack_view
    drop(view, builder.palette.drag_mime("residual"), upper_half(view, (3,)))
    count = builder.document.undo_stack.count()
    mime = view.stack_model.mimeData([view.stack_model.index_of((3,))])
    event = drop(view, mime, upper_half(view, (3, 0, 1)))
    assert not event.isAccepted()
    assert builder.document.undo_stack.count() == count


def test_a_window_can_differ_along_h_and_w(builder, qtbot):
    size = builder.inspector.editors["size"]
    assert size.spin_w.isHidden()
    size.split.click()
    assert not size.spin_w.isHidden()
    type_into(qtbot, size.spin_w, "3")
    assert builder.document.layer((0,)).size == (5, 3)
    assert card(builder, (0,)).brief == "conv 5×3, 16, S1 P2"
    assert card(builder, (0,)).output == "34×32×16"  # W' = (32 − 3 + 4)/1 + 1 = 34, H' = 32
    assert builder.inspector.size_label.text() == "W: (32 − 3 + 2·2)/1 + 1 = 34\nH: (32 − 5 + 2·2)/1 + 1 = 32"
    size.split.click()  # back to square: W takes H's value
    assert builder.document.layer((0,)).size == 5
