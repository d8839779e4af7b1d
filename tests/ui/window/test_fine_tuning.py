"""Fine-tuning in the app: the inspector's "Train this layer" switch and "Freeze up to here" (undoable,
marked ❄ on the card and in the summary), Edit → Replace Last FC Layer… (undoable; the other layers
keep the imported weights), and a run that starts from the imported weights and leaves frozen
layers exactly as imported."""

from __future__ import annotations

import numpy as np
import pytest
from run_helpers import tiny_spec

from convviz.engine import Network
from convviz.export.safetensors_io import write_weights
from convviz.model import FC, BatchNorm, Conv, Flatten, MaxPool, NetworkSpec, ReLU, Softmax, Volume
from convviz.ui.builder.stack_model import Role


def two_conv_spec() -> NetworkSpec:
    return NetworkSpec(
        Volume(32, 32, 3),
        [Conv(filters=6, size=4, stride=2, pad=1), BatchNorm(), ReLU(), MaxPool(size=2),
         Conv(filters=6, size=3, pad=1), ReLU(), Flatten(), FC(units=10), Softmax()],
        name="two convs",
    )


def card(builder, row: int):
    model = builder.stack_view.model()
    return model.index(row + 1, 0).data(Role.CARD)  # row 0 is the input card


@pytest.fixture
def imported(builder, fake_dialogs, tmp_path):
    """The window showing the two-conv network with weights imported from a file."""
    builder.document.reset(two_conv_spec())
    weights = {name: a + 0.25 for name, a in Network(two_conv_spec(), seed=3).get_weights().items()}
    path = write_weights(tmp_path / "w.safetensors", weights)
    assert builder.run_files.import_weights(str(path))
    return weights


def test_the_train_switch_freezes_a_layer_and_undoes(builder):
    builder.document.reset(tiny_spec())
    builder.document.select((0,))
    switch = builder.inspector.train_switch
    assert switch.isVisibleTo(builder.inspector) and switch.check.isChecked()
    switch.check.click()
    assert builder.document.spec.layers[0].trainable is False
    assert card(builder, 0).frozen and not card(builder, 4).frozen
    assert "❄ 294 frozen" in builder.summary.totals.text()
    assert "Frozen" in switch.note.text()
    assert builder.document.undo_stack.undoText() == "Freeze conv1"
    builder.document.undo_stack.undo()
    assert builder.document.spec.layers[0].trainable is True and switch.check.isChecked()
    assert not card(builder, 0).frozen and "frozen" not in builder.summary.totals.text()
    builder.document.select((1,))  # ReLU: nothing to freeze
    assert not switch.isVisibleTo(builder.inspector)


def test_freeze_up_to_here_is_one_undo_step(builder):
    builder.document.reset(two_conv_spec())
    builder.document.select((4,))  # conv2
    builder.inspector.train_switch.freeze_up_to_button.click()
    assert [layer.trainable for layer in builder.document.spec.layers if layer.FREEZABLE] == [False, False, False, True]
    assert builder.document.undo_stack.undoText() == "Freeze up to conv2"
    builder.document.undo_stack.undo()
    assert all(layer.trainable for layer in builder.document.spec.layers if layer.FREEZABLE)


def test_replacing_the_head_keeps_the_imported_weights_of_every_other_layer(builder, imported, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    session = builder.session
    monkeypatch.setattr(QInputDialog, "getInt", lambda *args, **kwargs: (4, True))
    assert builder.menus.replace_head_action.isEnabled()
    builder.menus.replace_head_action.trigger()
    head = builder.document.spec.layers[7]
    assert (head.name, head.units) == ("head", 4)
    assert builder.document.undo_stack.undoText() == "Replace fc1 by head (4 classes)"
    weights = session.current_weights()
    assert session.weights_origin == "imported"
    for name in ("conv1.weight", "bn1.running_var", "conv2.weight"):
        np.testing.assert_array_equal(weights[name], imported[name], err_msg=name)
    assert weights["head.weight"].shape == (4, imported["fc1.weight"].shape[1])
    builder.document.select((0,))
    builder.inspector.train_switch.check.click()  # freezing keeps the weights too
    np.testing.assert_array_equal(session.current_weights()["conv1.weight"], imported["conv1.weight"])
    builder.document.undo_stack.undo()
    builder.document.undo_stack.undo()  # back to the imported network itself
    assert isinstance(builder.document.spec.layers[7], FC) and builder.document.spec.layers[7].units == 10
    assert session.weights_origin == "imported"
    np.testing.assert_array_equal(session.current_weights()["fc1.weight"], imported["fc1.weight"])


def test_a_network_without_fc_cannot_replace_its_head(builder):
    builder.document.reset(NetworkSpec(Volume(8, 8, 3), [Conv(filters=2, size=3)]))
    assert not builder.menus.replace_head_action.isEnabled()


def test_training_fine_tunes_from_the_imported_weights(qtbot, builder, fake_dialogs, imported, quick_data, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getInt", lambda *args, **kwargs: (10, True))
    builder.menus.replace_head_action.trigger()
    builder.document.select((1,))  # bn1: frozen with everything before it
    builder.inspector.train_switch.freeze_up_to_button.click()
    builder.training.use_source("synthetic")
    builder.training.epochs.setValue(1)
    with qtbot.waitSignal(builder.session.run_finished, timeout=60_000):
        builder.menus.train_start_action.trigger()
    session = builder.session
    assert session.records.events[-1].kind == "finished", session.records.events[-1].message
    after = session.current_weights()
    for name in ("conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias"):
        np.testing.assert_array_equal(after[name], imported[name], err_msg=name)  # frozen: as imported
    assert not np.array_equal(after["conv2.weight"], imported["conv2.weight"])  # trained from them
    assert np.abs(after["conv2.weight"] - imported["conv2.weight"]).max() < 0.5  # …not from a fresh start
    # a second run of the fine-tuned network goes on from the first one's weights, the frozen layers as imported
    fake_dialogs.unsaved_run_answer = "discard"
    with qtbot.waitSignal(builder.session.run_finished, timeout=60_000):
        builder.menus.train_start_action.trigger()
    again = session.current_weights()
    np.testing.assert_array_equal(again["conv1.weight"], imported["conv1.weight"])
    assert np.abs(again["conv2.weight"] - after["conv2.weight"]).max() < 0.5
    assert not np.array_equal(again["conv2.weight"], after["conv2.weight"])
