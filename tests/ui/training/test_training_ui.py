"""Training in the window: the worker's signals, the panel's controls, and closing mid-run."""

from __future__ import annotations

import pytest
from run_helpers import tiny_spec

from convviz.training.records import Metrics, Snapshot


def test_worker_emits_metrics_and_coalesced_snapshots(qtbot, small_data):
    from convviz.training.config import TrainConfig
    from convviz.training.trainer import Trainer
    from convviz.ui.training.worker import WorkerThread

    def make(control):
        return Trainer(tiny_spec(), small_data, TrainConfig(epochs=20, batch_size=16, metrics_every=2), control=control)

    session = WorkerThread(make)
    session.control.set_snapshot_schedule(every_steps=1)  # a snapshot every step: far more than a view takes
    metrics: list[Metrics] = []
    session.worker.metrics.connect(metrics.append)
    ready = []
    session.worker.snapshot_ready.connect(lambda: ready.append(1))
    try:
        with qtbot.waitSignal(session.worker.snapshot_ready, timeout=20_000):
            session.start()
        qtbot.waitUntil(lambda: len(metrics) >= 3, timeout=20_000)
        assert len(ready) == 1  # not taken yet: no second signal, the newest simply replaces it
        snapshot = session.worker.take_snapshot()
        assert isinstance(snapshot, Snapshot) and snapshot.step >= 1
        assert snapshot.layer("conv1").activation.shape[1:] == (6, 16, 16)
        qtbot.waitUntil(lambda: len(ready) == 2, timeout=20_000)  # re-armed once taken
        assert [m.step for m in metrics[:3]] == [2, 4, 6]
    finally:
        assert session.shutdown(10_000)
    assert not session.thread.isRunning()


def test_panel_trains_the_builders_network_and_shows_curves(qtbot, builder, quick_data):
    panel, session = builder.training, builder.session

    def steps() -> list[int]:
        return [m.step for m in session.records.metrics]

    builder.document.reset(tiny_spec())
    panel.epochs.setValue(30)
    panel.batch.setValue(16)
    builder.start_training()
    assert builder.training_dock.isVisible() and builder.curves.isVisible()
    qtbot.waitUntil(lambda: len(steps()) >= 3, timeout=20_000)
    assert session.state == "running"
    assert "step" in panel.status.text() and "images/s" in panel.status.text()
    qtbot.waitUntil(lambda: builder.snapshots.snapshot is not None, timeout=20_000)
    assert builder.snapshots.layer_choice.count() == 6  # conv1 … fc1 and softmax1
    assert "conv1 gives 16×16×6" in builder.snapshots.caption.text()
    qtbot.waitUntil(lambda: "‖ΔW‖/‖W‖" in builder.snapshots.caption.text(), timeout=10_000)  # a snapshot after a step
    assert "(about 1e-3 is healthy)" in builder.snapshots.caption.text()
    qtbot.wait(REDRAW_WAIT)
    x, y = builder.curves.smooth_curve.getData()
    assert len(x) >= 3 and x[0] == steps()[0]
    low, high = builder.curves.band_low.getData()[1], builder.curves.band_high.getData()[1]
    assert len(low) == len(x) and (low <= high).all()  # every step's loss as a band under the curves

    panel.pause_button.click()
    qtbot.waitUntil(lambda: any("paused at step" in panel.status.text() for _ in [0]), timeout=10_000)
    paused_at = steps()[-1] if steps() else 0
    panel.step_button.click()
    qtbot.waitUntil(lambda: steps() and steps()[-1] == paused_at + 1, timeout=10_000)
    assert panel.pause_button.text() == "Resume"
    panel.stop_button.click()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=10_000)
    assert "stopped at step" in panel.status.text()
    assert panel.start_button.isEnabled()


REDRAW_WAIT = 300


def _close_mid_run(qtbot, builder, fake_dialogs, folder, *, paused=False, think_ms=2000):
    """Start a long run, close the window, and answer "save" to ``folder`` after ``think_ms``."""
    builder.document.reset(tiny_spec())
    builder.training.epochs.setValue(100)
    builder.training.batch.setValue(16)
    builder.start_training()
    session = builder.session
    qtbot.waitUntil(lambda: len(session.records.metrics) >= 2, timeout=20_000)
    if paused:
        builder.training.pause_button.click()
        qtbot.waitUntil(lambda: "paused at step" in builder.training.status.text(), timeout=10_000)
    fake_dialogs.run_answer = "save"
    fake_dialogs.run_folder = str(folder)
    fake_dialogs.think = lambda: qtbot.wait(think_ms)  # the trainer waits paused meanwhile
    builder.document.undo_stack.setClean()
    assert not builder.close()  # not yet: the checkpoint is written first
    assert builder.isVisible()
    return session


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_closing_mid_run_and_saving_writes_a_checkpoint_that_resumes(qtbot, builder, quick_data, fake_dialogs,
                                                                     tmp_path, paused):
    from convviz.training.checkpoint import resume_trainer

    session = _close_mid_run(qtbot, builder, fake_dialogs, tmp_path / "run", paused=paused)
    assert f"Saving the run to {tmp_path / 'run'}" in builder.training.status.text()
    assert builder.training.closing_progress.labelText() == builder.training.status.text()  # the progress box
    qtbot.waitUntil(lambda: not builder.isVisible(), timeout=20_000)  # closes once it is written
    assert not session.running
    assert ("save run?",) in fake_dialogs.calls
    told = fake_dialogs.asked("info")
    assert told and str(tmp_path / "run") in told[-1][1]  # where it went
    trainer = resume_trainer(tmp_path / "run", quick_data)
    steps = [m.step for m in session.records.metrics]
    assert trainer.step >= steps[-1] >= 2  # every step trained is in it
    assert not fake_dialogs.asked("error")


def test_a_run_that_cannot_be_saved_keeps_the_window_open(qtbot, builder, quick_data, fake_dialogs, tmp_path):
    blocked = tmp_path / "a file"  # a folder inside a file cannot be made (a read-only folder is no bar to root)
    blocked.write_text("not a folder")
    session = _close_mid_run(qtbot, builder, fake_dialogs, blocked / "run", think_ms=200)
    qtbot.waitUntil(lambda: bool(fake_dialogs.asked("error")), timeout=20_000)
    text = fake_dialogs.asked("error")[-1][1]
    assert f"could not write the checkpoint to {blocked / 'run'}" in text and "stays open" in text
    assert builder.isVisible() and session.running and session.state == "paused"
    assert builder.training.closing_to is None and not builder.training.closing_progress.isVisible()
    fake_dialogs.run_folder = str(tmp_path / "elsewhere")  # a second try, to a folder that can be written
    fake_dialogs.think = None
    assert not builder.close()
    qtbot.waitUntil(lambda: not builder.isVisible(), timeout=20_000)
    from convviz.training.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "elsewhere").index["step"] >= 2


def test_cancel_keeps_the_window_and_the_run(qtbot, builder, quick_data, fake_dialogs):
    builder.document.reset(tiny_spec())
    builder.training.epochs.setValue(100)
    builder.start_training()
    qtbot.waitUntil(lambda: len(builder.session.records.metrics) >= 1, timeout=20_000)
    fake_dialogs.run_answer = "cancel"
    builder.document.undo_stack.setClean()
    assert not builder.close()
    assert builder.session.running
    builder.session.shutdown()


def test_a_network_that_does_not_fit_the_data_says_so(qtbot, builder, quick_data):
    from convviz.model import preset

    builder.document.reset(preset("lenet5"))
    builder.start_training()
    qtbot.waitUntil(lambda: builder.session.state == "finished", timeout=20_000)
    assert "takes 32×32×1 images but synthetic has 32×32×3" in builder.training.status.text()


def _data_samples():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data"))
    import cifar_samples

    return cifar_samples


def test_download_cifar10_with_progress_into_the_cache(qtbot, builder, tmp_path, monkeypatch):
    samples = _data_samples()
    archive = samples.write_archive(tmp_path / "served.tar.gz", samples.make_members()).read_bytes()
    server = samples.LocalServer()
    server.thread.start()
    try:
        import convviz.data.store as store

        monkeypatch.setattr(store, "CIFAR10_URL", server.serve("/cifar-10-python.tar.gz", archive))
        monkeypatch.setattr(store, "CIFAR10_MD5", samples.md5_hex(archive))
        monkeypatch.setenv("CONVVIZ_CACHE_DIR", str(tmp_path / "cache"))
        assert builder.fetch_cifar10()
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    seen = builder.fetch_dialog.progress_seen
    assert seen and seen[-1].done == len(archive) and seen[-1].total == len(archive)
    assert (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").is_file()
    assert builder.training.data_source.currentData() == "cifar10"
    assert "CIFAR-10 downloaded" in builder.statusBar().currentMessage()


def test_a_bad_archive_is_refused_with_its_reason(qtbot, builder, tmp_path, monkeypatch, fake_dialogs):
    monkeypatch.setenv("CONVVIZ_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"not an archive at all")
    fake_dialogs.archive_answer = str(bad)
    assert not builder.adopt_cifar10()
    errors = [call for call in fake_dialogs.calls if call[0] == "error"]
    assert errors and "cifar-10-python.tar.gz" in errors[-1][1]
    assert builder.training.data_source.currentData() == "synthetic"


def test_the_data_folder_setting_is_where_cifar10_goes(qtbot, builder, tmp_path, fake_dialogs, test_settings):
    samples = _data_samples()
    archive = samples.write_archive(tmp_path / "mine.tar.gz", samples.make_members())
    fake_dialogs.data_folder_answer = str(tmp_path / "my data")
    builder.choose_data_folder()
    assert test_settings.value("data/folder") == str(tmp_path / "my data")
    fake_dialogs.archive_answer = str(archive)
    assert builder.adopt_cifar10()
    assert list((tmp_path / "my data" / "cifar10").iterdir())
    assert builder.session.data_folder == str(tmp_path / "my data")


def _run_to_the_end(qtbot, builder, *, epochs=1, stop_after=None):
    builder.document.reset(tiny_spec())
    builder.training.epochs.setValue(epochs)
    builder.training.batch.setValue(50)
    builder.start_training()
    session = builder.session
    if stop_after is not None:
        qtbot.waitUntil(lambda: len(session.records.metrics) >= stop_after, timeout=20_000)
        builder.training.stop_button.click()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=30_000)
    return session


@pytest.mark.parametrize("how", ["finished", "stopped"])
def test_an_ended_run_can_be_saved_until_the_next_starts(qtbot, builder, quick_data, fake_dialogs, tmp_path, how):
    from convviz.training.checkpoint import resume_trainer

    session = _run_to_the_end(qtbot, builder, epochs=1 if how == "finished" else 100,
                              stop_after=None if how == "finished" else 3)
    assert session.records.events[-1].kind == how
    panel, menus = builder.training, builder.menus
    assert panel.save_button.isEnabled() and menus.train_save_action.isEnabled()
    last_step = session.records.events[-1].step  # the stop or the end: every step trained
    assert session.unsaved_steps == last_step
    fake_dialogs.run_folder = str(tmp_path / "run")
    panel.save_button.click()
    assert resume_trainer(tmp_path / "run", quick_data).step == last_step
    assert f"checkpoint written to {tmp_path / 'run'}" in panel.log.item(panel.log.count() - 1).text()
    assert session.unsaved_steps == 0 and panel.save_button.isEnabled()  # saved: a new run loses nothing

    panel.start()
    assert not fake_dialogs.asked("unsaved run")  # nothing to warn about
    assert not panel.save_button.isEnabled()  # the new run is loading
    session.shutdown()


def test_a_new_run_warns_before_it_discards_unsaved_training(qtbot, builder, quick_data, fake_dialogs, tmp_path):
    session = _run_to_the_end(qtbot, builder, epochs=100, stop_after=2)
    steps = session.unsaved_steps
    assert steps >= 2
    fake_dialogs.unsaved_run_answer = "cancel"
    builder.start_training()
    assert fake_dialogs.asked("unsaved run")[-1] == ("unsaved run", steps, "starting a new run")
    assert session.state == "finished" and builder.training.save_button.isEnabled()  # nothing started or lost

    fake_dialogs.unsaved_run_answer = "save"
    fake_dialogs.run_folder = str(tmp_path / "first")
    builder.start_training()  # saved first, then the new run starts
    from convviz.training.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "first").index["step"] == steps
    assert session.running
    session.shutdown()


def test_a_failed_save_is_said_and_the_new_run_waits(qtbot, builder, quick_data, fake_dialogs, tmp_path):
    session = _run_to_the_end(qtbot, builder, epochs=100, stop_after=2)
    (tmp_path / "a file").write_text("not a folder")
    fake_dialogs.unsaved_run_answer = "save"
    fake_dialogs.run_folder = str(tmp_path / "a file" / "run")
    builder.start_training()
    assert "could not write the checkpoint to" in fake_dialogs.asked("error")[-1][1]
    assert session.state == "finished" and session.unsaved_steps >= 2  # not started: the training is still there


def test_editing_the_network_after_a_run_loses_nothing(qtbot, builder, quick_data, fake_dialogs, tmp_path):
    from convviz.training.checkpoint import load_checkpoint

    session = _run_to_the_end(qtbot, builder, epochs=100, stop_after=2)
    trained = session.current_weights()
    builder.document.set_fields((0,), {"filters": 4})
    assert not fake_dialogs.asked("unsaved run")  # an edit discards nothing, so it asks nothing
    assert session.weights_origin == "fresh" and session.current_weights()["conv1.weight"].shape[0] == 4
    assert builder.training.save_button.isEnabled()
    fake_dialogs.run_folder = str(tmp_path / "run")
    assert builder.training.save_run()
    assert load_checkpoint(tmp_path / "run").spec.layers[0].filters == 6  # the network that was trained
    builder.document.undo_stack.undo()  # back to the trained network: its trained weights again
    assert session.weights_origin == "trained"
    assert all((session.current_weights()[k] == trained[k]).all() for k in trained)


def test_closing_after_a_run_asks_about_unsaved_training(qtbot, builder, quick_data, fake_dialogs):
    session = _run_to_the_end(qtbot, builder, epochs=100, stop_after=2)
    builder.document.undo_stack.setClean()
    fake_dialogs.unsaved_run_answer = "cancel"
    assert not builder.close()
    assert fake_dialogs.asked("unsaved run")[-1][2] == "closing"
    fake_dialogs.unsaved_run_answer = "discard"
    assert builder.close()
    assert session.unsaved_steps  # discarded on request


def test_the_builder_is_read_only_while_a_run_trains_its_network(qtbot, builder, quick_data, fake_dialogs):
    from builder_helpers import drop, upper_half
    from PySide6.QtCore import QMimeData

    from convviz.ui.builder.stack_model import LAYER_TYPE_MIME

    doc, menus, view = builder.document, builder.menus, builder.stack_view
    doc.reset(tiny_spec())
    doc.set_fields((0,), {"filters": 8})  # something to undo
    edits = doc.undo_stack.count()
    builder.training.epochs.setValue(100)
    builder.start_training()
    qtbot.waitUntil(lambda: builder.session.state == "running", timeout=20_000)
    builder.workspaces.switch("build")
    assert builder.read_only_notice.isVisible()
    assert "Training — stop the run to edit the network" in builder.read_only_notice.text()
    assert not builder.palette.isEnabled() and not builder.inspector.isEnabled()
    assert not any(a.isEnabled() for a in (menus.undo_action, menus.delete_action, menus.duplicate_action,
                                           menus.new_action, menus.open_action))
    assert not menus.case_menu.isEnabled() and not menus.insert_menu.isEnabled()

    doc.set_fields((0,), {"filters": 4})  # whatever reaches the document is refused
    mime = QMimeData()
    mime.setData(LAYER_TYPE_MIME, b"relu")
    drop(view, mime, upper_half(view, (1,)))
    assert doc.spec.layers[0].filters == 8 and len(doc.spec.layers) == 6 and doc.undo_stack.count() == edits
    actions = view.context_menu(view.stack_model.index_of((0,))).actions()
    assert [a.text() for a in actions] == ["Training — stop the run to edit the network"] and not actions[0].isEnabled()
    assert not builder.files.open_path("preset:lenet5")
    assert "stop the run to edit the network" in fake_dialogs.asked("error")[-1][1]
    assert doc.spec.name == "tiny"

    builder.training.stop_button.click()
    qtbot.waitUntil(lambda: builder.session.state == "finished", timeout=10_000)
    assert not builder.read_only_notice.isVisible()
    assert builder.palette.isEnabled() and builder.inspector.isEnabled() and menus.undo_action.isEnabled()
    doc.set_fields((0,), {"filters": 4})
    assert doc.spec.layers[0].filters == 4


@pytest.mark.parametrize("choice", ["cifar10", "archive", "synthetic"])
def test_the_data_choice_is_remembered_across_restarts(qtbot, settings_path, fake_dialogs, tmp_path, choice):
    from PySide6.QtCore import QSettings

    from convviz.ui.window.main_window import MainWindow

    def window():
        w = MainWindow(settings=QSettings(settings_path, QSettings.Format.IniFormat), dialogs=fake_dialogs)
        qtbot.addWidget(w)
        return w

    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"checked when a run loads it")
    first = window()
    assert first.training.data_source.currentData() == "synthetic"  # a first start
    if choice == "archive":
        fake_dialogs.archive_answer = str(archive)
        first.training.data_source.setCurrentIndex(first.training.data_source.findData("choose"))
        first.training.data_source.activated.emit(first.training.data_source.currentIndex())  # as a click does
    else:
        first.training.use_source("cifar10")
        first.training.use_source(choice)
    first.close()
    second = window()
    expected = str(archive) if choice == "archive" else choice
    assert second.training.data_source.currentData() == expected
    second.close()
    if choice == "archive":  # an archive that has gone since: back to synthetic, no error
        archive.unlink()
        third = window()
        assert third.training.data_source.currentData() == "synthetic" and not fake_dialogs.asked("error")
        third.close()


def test_the_legends_sit_above_the_plots_never_over_the_data(qtbot, builder):
    curves = builder.curves
    builder.workspaces.switch("train")
    qtbot.waitUntil(curves.isVisible)
    for legend, plot, names in ((curves.loss_legend, curves.loss_plot, ["Loss", "batch", "smoothed"]),
                                (curves.acc_legend, curves.acc_plot, ["Accuracy", "batch", "validation", "test"])):
        assert plot.getPlotItem().legend is None  # no legend item inside the plot
        assert all(name in legend.text() for name in names)
        assert legend.isVisible() and legend.geometry().bottom() < plot.geometry().top()  # a row of its own above


def test_the_cores_setting_trains_on_that_many_cores_and_is_remembered(qtbot, settings_path, fake_dialogs):
    from PySide6.QtCore import QSettings

    from convviz.ui.training.panel import DEFAULT_CORES
    from convviz.ui.window.main_window import MainWindow

    def window():
        w = MainWindow(settings=QSettings(settings_path, QSettings.Format.IniFormat), dialogs=fake_dialogs)
        qtbot.addWidget(w)
        return w

    first = window()
    assert first.training.cores.currentData() == DEFAULT_CORES == first.training.config().threads == 1
    assert first.training.cores.itemText(0) == "1 core" and first.training.cores.itemText(1) == "2 cores"
    first.training.cores.setCurrentIndex(first.training.cores.findData(2))
    assert first.training.config().threads == 2
    first.close()
    second = window()
    assert second.training.cores.currentData() == 2  # remembered
    second.document.reset(tiny_spec())
    second.training.epochs.setValue(30)
    second.training.batch.setValue(16)
    second.start_training()
    qtbot.waitUntil(lambda: len(second.session.records.metrics) >= 2, timeout=30_000)
    started = [e.message for e in second.session.records.events if e.kind == "started"]
    assert started and started[0].endswith("(batch 16, 2 cores)")
    second.session.stop()
    qtbot.waitUntil(lambda: second.session.state == "finished", timeout=10_000)
    second.close()
