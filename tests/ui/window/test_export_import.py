"""File → Export → PyTorch… / ONNX… write the builder's network with the session's weights, and File →
Import Weights… makes a weights file's tensors the session's, checked against the network first."""

from __future__ import annotations

import numpy as np
import pytest
from run_helpers import tiny_spec

from convviz.export.safetensors_io import read_weights, write_weights
from convviz.training.checkpoint import save_checkpoint
from convviz.training.config import TrainConfig
from convviz.training.trainer import Trainer


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def trained(builder, small_data, tmp_path):
    """The window showing a run of the tiny network opened from its checkpoint (trained weights)."""
    trainer = Trainer(tiny_spec(), small_data, TrainConfig(epochs=1, batch_size=16))
    for _record in trainer.run():
        if trainer.step == 5:
            break
    save_checkpoint(trainer, tmp_path / "run")
    assert builder.run_files.open_run_path(str(tmp_path / "run"))
    return trainer.net.get_weights()


def test_export_pytorch_writes_the_trained_weights_where_chosen(builder, fake_dialogs, trained, tmp_path):
    out = tmp_path / "exported"
    fake_dialogs.choose_export_folder = lambda suggested: str(out)
    builder.menus.export_pytorch_action.trigger()
    assert not fake_dialogs.asked("error")
    assert sorted(p.name for p in out.iterdir()) == ["model.py", "network.json", "train.py", "weights.safetensors"]
    assert same(read_weights(out / "weights.safetensors"), trained)
    (info,) = fake_dialogs.asked("info")
    assert str(out) in info[1] and "trained weights" in info[1]
    assert f"Exported to {out}" in builder.statusBar().currentMessage()


def test_export_onnx_writes_one_file(builder, fake_dialogs, trained, tmp_path):
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "tiny.onnx"
    fake_dialogs.save_onnx = lambda suggested: str(path)
    builder.menus.export_onnx_action.trigger()
    assert not fake_dialogs.asked("error")
    model = onnx.load(str(path))
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert any(np.array_equal(a, trained["conv1.weight"]) for a in stored.values())
    assert str(path) in fake_dialogs.asked("info")[-1][1]


def test_export_a_fresh_network_says_its_weights_are_seeded(builder, fake_dialogs, tmp_path):
    builder.document.reset(tiny_spec())
    assert builder.run_files.export_pytorch(str(tmp_path / "fresh"))
    assert "fresh weights" in fake_dialogs.asked("info")[-1][1]


def test_an_export_that_cannot_be_written_says_so(builder, fake_dialogs, tmp_path):
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    builder.document.reset(tiny_spec())
    assert not builder.run_files.export_pytorch(str(blocked / "out"))
    (error,) = fake_dialogs.asked("error")
    assert f"Nothing was exported to {blocked / 'out'}" in error[1]


def test_import_weights_makes_them_the_sessions(builder, fake_dialogs, tmp_path):
    from convviz.engine import Network

    builder.document.reset(tiny_spec())
    weights = {name: a + 0.25 for name, a in Network(tiny_spec(), seed=3).get_weights().items()}
    path = write_weights(tmp_path / "tiny.safetensors", weights)
    fake_dialogs.open_weights = lambda directory: str(path)
    builder.menus.import_weights_action.trigger()
    assert not fake_dialogs.asked("problems")
    assert builder.session.weights_origin == "imported"
    assert same(builder.session.current_weights(), weights)
    assert "Imported" in builder.statusBar().currentMessage()


def test_weights_that_do_not_fit_are_listed_and_change_nothing(builder, fake_dialogs, tmp_path):
    from convviz.engine import Network

    other = tiny_spec()
    other.layers[4].units = 12
    path = write_weights(tmp_path / "other.safetensors", Network(other, seed=0).get_weights())
    builder.document.reset(tiny_spec())
    before = builder.session.current_weights()
    assert not builder.run_files.import_weights(str(path))
    (problems,) = fake_dialogs.asked("problems")
    assert "other.safetensors was not loaded" in problems[1]
    assert problems[2] == ["fc1.weight has shape (12, 384), expected (10, 384)", "fc1.bias has shape (12,), expected (10,)"]
    assert builder.session.weights_origin == "fresh" and same(builder.session.current_weights(), before)
