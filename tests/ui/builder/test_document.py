"""The document: every edit is one undo step, undo puts the network back exactly, paths stay right."""

from __future__ import annotations

import pytest

from convviz.model import FC, Conv, Flatten, ReLU, Residual, Volume, dumps, preset
from convviz.ui.builder.document import INPUT, NetworkDocument, layer_at


@pytest.fixture
def doc(qapp):
    document = NetworkDocument()
    document.reset(preset("convnetjs"))
    return document


def briefs(doc, stack=None) -> list[str]:
    layers = doc.spec.layers if stack is None else stack
    return [layer.brief() for layer in layers]


def test_reset_selects_the_first_layer_and_is_clean(doc):
    assert doc.selected == (0,)
    assert not doc.modified
    assert doc.undo_stack.count() == 0


def test_each_edit_is_one_undo_step_and_undo_restores_the_file_text(doc):
    original = dumps(doc.spec)
    doc.insert_type("relu", (), 3)
    doc.duplicate((0,))
    doc.move((5,), (), 0)
    doc.remove((2,))
    doc.set_fields((0,), {"filters": 8})
    doc.set_input(Volume(64, 64, 3))
    assert doc.undo_stack.count() == 6
    assert doc.modified
    edited = dumps(doc.spec)
    for _ in range(6):
        doc.undo_stack.undo()
    assert dumps(doc.spec) == original
    assert not doc.modified
    for _ in range(6):
        doc.undo_stack.redo()
    assert dumps(doc.spec) == edited


def test_changed_is_emitted_once_per_edit(doc, qtbot):
    seen = []
    doc.changed.connect(lambda: seen.append(doc.report.output))
    doc.set_fields((10,), {"units": 7})
    assert seen == [Volume(1, 1, 7)]
    doc.undo_stack.undo()
    assert seen[-1] == Volume(1, 1, 10) and len(seen) == 2


def test_typing_into_one_field_merges_until_sealed(doc):
    for value in (1, 12, 128):
        doc.set_fields((0,), {"filters": value})
    assert doc.undo_stack.count() == 1
    doc.seal()
    doc.set_fields((0,), {"filters": 64})
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert doc.layer((0,)).filters == 128
    doc.undo_stack.undo()
    assert doc.layer((0,)).filters == 16


def test_typing_back_to_the_old_value_leaves_no_undo_step(doc):
    doc.set_fields((0,), {"filters": 1})
    doc.set_fields((0,), {"filters": 16})
    assert doc.undo_stack.count() == 0
    assert not doc.modified


def test_move_down_and_up_within_a_stack(doc):
    doc.move_by((0,), +1)
    assert briefs(doc)[:2] == ["ReLU", "conv 5×5, 16, S1 P2"]
    assert doc.selected == (1,)
    doc.move_by((1,), -1)
    assert briefs(doc)[:2] == ["conv 5×5, 16, S1 P2", "ReLU"]


def test_move_into_and_out_of_a_block(doc):
    path = doc.insert((), 3, Residual(body=[Conv(16, 3, pad=1)], shortcut=[]))
    assert path == (3,)
    # move relu1 (index 1, before the block) into the block's body: the block shifts up to index 2
    new_path = doc.move((1,), (3, 0), 1)
    assert new_path == (2, 0, 1)
    block = doc.layer((2,))
    assert [layer.brief() for layer in block.body] == ["conv 3×3, 16, S1 P1", "ReLU"]
    assert doc.selected == (2, 0, 1)
    doc.undo_stack.undo()
    assert briefs(doc)[1] == "ReLU" and len(doc.layer((3,)).body) == 1
    # and out again, to the end of the network
    doc.move((3, 0, 0), (), len(doc.spec.layers))
    assert doc.layer((3,)).body == [] and briefs(doc)[-1] == "conv 3×3, 16, S1 P1"


def test_a_block_cannot_move_into_itself(doc):
    doc.insert((), 0, Residual(body=[ReLU()], shortcut=[]))
    assert doc.move((0,), (0, 0), 0) is None
    assert doc.undo_stack.count() == 1


def test_insert_fix_puts_flatten_before_fc_and_keeps_the_fc_selected(doc):
    doc.remove((9,))  # the flatten before fc1
    fc_path = (9,)
    report = doc.layer_report(fc_path)
    assert isinstance(report.layer, FC) and report.status == "invalid"
    (fix,) = report.error.fixes
    doc.apply_fix(fc_path, fix)
    assert isinstance(doc.layer((9,)), Flatten)
    assert doc.selected == (10,)
    assert doc.report.valid


def test_new_blocks_come_with_an_inner_stack_that_fits(doc):
    path = doc.insert_type("residual", (), 3)  # after maxpool1: 16×16×16
    report = doc.layer_report(path)
    assert report.status == "ok" and report.output == Volume(16, 16, 16)
    path = doc.insert_type("branch", (), 3)
    assert doc.layer_report(path).output == Volume(16, 16, 32)


def test_branches_can_be_added_and_removed(doc):
    path = doc.insert_type("branch", (), 3)
    doc.add_branch(path)
    assert len(doc.layer(path).branches) == 3
    assert doc.layer_report(path).output.depth == 16 + 16 + 16  # an empty branch passes 16 slices through
    doc.remove_branch(path, 0)
    assert [len(b) for b in doc.layer(path).branches] == [2, 0]
    doc.undo_stack.undo()
    assert [len(b) for b in doc.layer(path).branches] == [2, 2, 0]


def test_removing_the_last_inner_layer_selects_its_block(doc):
    doc.insert((), 0, Residual(body=[ReLU()], shortcut=[]))
    doc.remove((0, 0, 0))
    assert doc.selected == (0,)
    assert layer_at(doc.spec, (0,)).body == []


def test_input_edits_merge_and_select_the_input(doc):
    doc.set_input(Volume(3, 32, 3))
    doc.set_input(Volume(31, 32, 3))
    assert doc.undo_stack.count() == 1
    assert doc.selected == INPUT
    assert doc.layer_report((0,)).output == Volume(31, 32, 16)
