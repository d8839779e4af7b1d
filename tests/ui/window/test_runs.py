"""Runs in the window: File → Open Run… (or a dropped checkpoint) shows a saved run's network, weights
and curves, and Train → Resume Run goes on with it to the numbers ``convviz train --resume`` gives."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from run_helpers import tiny_spec

from convviz.training.checkpoint import resume_trainer, save_checkpoint
from convviz.training.config import TrainConfig
from convviz.training.records import Evaluation, Metrics
from convviz.training.trainer import Trainer


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def saved_run(tmp_path, small_data):
    """A short run stopped mid-epoch (step 7 of epoch 1, 2 epochs asked) and saved, as the CLI saves it."""
    trainer = Trainer(tiny_spec(), small_data, TrainConfig(epochs=2, batch_size=16, metrics_every=1, augment=True))
    for _record in trainer.run():
        if trainer.step == 7:
            break
    folder = tmp_path / "run"
    save_checkpoint(trainer, folder)
    return folder


def test_open_run_shows_the_network_weights_and_curves(builder, fake_dialogs, saved_run, small_data):
    fake_dialogs.open_run = lambda directory: str(saved_run)
    builder.menus.open_run_action.trigger()
    assert not fake_dialogs.asked("error")
    session = builder.session
    assert builder.document.spec.layers == tiny_spec().layers and builder.document.spec.name == "tiny"
    assert session.weights_origin == "trained"
    expected = resume_trainer(saved_run, small_data).net.get_weights()
    assert same(session.current_weights(), expected)
    assert [m.step for m in session.records.metrics] == list(range(1, 8))  # the run's history, on the curves
    builder.curves.redraw()
    x, _ = builder.curves.loss_curve.getData()
    assert list(x) == list(range(1, 8))
    assert "at step 7" in builder.training.status.text()
    log = [builder.training.log.item(i).text() for i in range(builder.training.log.count())]
    assert log and "training tiny on synthetic" in log[0]  # the run's own log, as its checkpoint kept it
    assert builder.training.epochs.value() == 2 and builder.training.batch.value() == 16
    assert builder.menus.train_resume_action.isEnabled()
    assert not session.can_save  # the checkpoint holds every step: nothing to lose


def test_resume_gives_the_numbers_the_cli_gives(qtbot, builder, fake_dialogs, saved_run, quick_data, tmp_path):
    reference_folder = tmp_path / "reference"
    shutil.copytree(saved_run, reference_folder)  # the app's resumed run writes its checkpoints into its own folder
    assert builder.run_files.open_run_path(str(saved_run))
    assert builder.training.cores.currentData() == 2  # the run's own (TrainConfig's default), so the numbers match
    session = builder.session
    builder.training.use_source("synthetic")
    builder.training.epochs.setValue(3)  # as `convviz train --resume run --epochs 3`
    with qtbot.waitSignal(session.run_finished, timeout=60_000):
        builder.menus.train_resume_action.trigger()
    assert session.records.events[-1].kind == "finished", session.records.events[-1].message

    cli = resume_trainer(reference_folder, quick_data, epochs=3)
    records = list(cli.run())
    assert cli.step == 3 * cli.steps_per_epoch
    assert same(session.current_weights(), cli.net.get_weights())  # bit-identical
    assert session.weights_origin == "trained"

    def numbers(items):
        return [(m.step, m.loss, m.smoothed_loss, m.batch_accuracy, m.lr) for m in items if isinstance(m, Metrics)]

    resumed = [m for m in session.records.metrics if m.step > 7]
    assert numbers(resumed) == numbers(records) and len(resumed) == cli.step - 7
    assert [m.step for m in session.records.metrics[:7]] == list(range(1, 8))  # the history goes on
    app_evals = [(e.step, e.split, e.accuracy, e.loss) for e in session.records.evaluations if e.step > 7]
    assert app_evals == [(e.step, e.split, e.accuracy, e.loss) for e in records if isinstance(e, Evaluation)]
    assert json.loads((saved_run / "checkpoint.json").read_text())["step"] == cli.step  # as the CLI keeps it


def _hostile(folder) -> None:
    """An arrays file whose conv1.weight header declares 10¹⁰ floats in 64 bytes, its checksum updated."""
    index = json.loads((folder / "checkpoint.json").read_text())
    path = folder / index["arrays"]
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f4", "fortran_order": False, "shape": (10**10,)})
    members["weights/conv1.weight.npy"] = npy.getvalue() + bytes(64)
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    index["arrays_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "checkpoint.json").write_text(json.dumps(index))


@pytest.mark.parametrize("damage", ["hostile header", "not json", "no checkpoint"])
def test_a_run_that_cannot_be_used_changes_nothing(builder, fake_dialogs, saved_run, tmp_path, damage):
    before = builder.document.spec
    if damage == "hostile header":
        _hostile(saved_run)
        expected = "weights/conv1.weight declares shape (10000000000,) of float32"
    elif damage == "not json":
        (saved_run / "checkpoint.json").write_text("{ not json")
        expected = "checkpoint.json is damaged"
    else:
        saved_run = tmp_path / "empty"
        saved_run.mkdir()
        expected = "it has no checkpoint.json"
    assert not builder.run_files.open_run_path(str(saved_run))
    (error,) = fake_dialogs.asked("error")
    assert expected in error[1] and "nothing was changed" in error[1]
    assert builder.document.spec is before and builder.session.weights_origin == "fresh"
    assert not builder.session.records.metrics and not builder.menus.train_resume_action.isEnabled()


def test_dropping_a_checkpoint_folder_or_its_index_opens_the_run(builder, saved_run):
    for path in (saved_run, saved_run / "checkpoint.json"):
        builder.document.reset(tiny_spec().copy())
        builder.document.spec.name = "other"
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier)
        builder.dropEvent(event)
        assert builder.document.spec.name == "tiny" and builder.session.weights_origin == "trained"
        assert builder.session.opened.folder == str(saved_run)


def test_an_edited_network_cannot_resume_the_opened_run(builder, saved_run):
    from convviz.model import ReLU

    assert builder.run_files.open_run_path(str(saved_run))
    assert builder.menus.train_resume_action.isEnabled()
    builder.document.insert((), 2, ReLU())
    assert not builder.menus.train_resume_action.isEnabled()
    assert builder.session.weights_origin == "fresh"
    builder.document.undo_stack.undo()
    assert builder.menus.train_resume_action.isEnabled() and builder.session.weights_origin == "trained"


def test_a_run_named_on_the_command_line_opens_in_the_train_workspace(saved_run, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    main = Path(__file__).resolve().parents[3] / "main.py"
    out = tmp_path / "train.png"
    result = subprocess.run([sys.executable, str(main), str(saved_run), "--screenshot", str(out), "--workspace", "train",
                             "--size", "1280x800"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-800:]
    assert "default network" not in result.stderr and out.stat().st_size > 10_000
