"""The curves view: learning-rate and images/s curves, values read by hovering, export as CSV and PNG,
and no drawing while hidden."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from run_helpers import tiny_spec

from convviz.training.config import TrainConfig


@pytest.fixture
def trained(qtbot, quick_data):
    """A session after a 2-epoch run, and its curves view shown at 1280×800."""
    from convviz.ui.session import RunSession
    from convviz.ui.training.curves import CurvesView

    session = RunSession(lambda: tiny_spec())
    view = CurvesView(session)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    with qtbot.waitSignal(session.run_finished, timeout=60_000):
        session.start(TrainConfig(epochs=2, batch_size=40, metrics_every=2, schedule="cosine", lr=0.05), "synthetic")
    # the plots are redrawn in turn, the images/s plot last: wait for a round that began after the last
    # record (a round under way when it came draws its later plots with it, its earlier ones without)
    def drawn():
        x = view.rate_curve.getData()[0]
        idle = not view._redraw_timer.isActive() and not view._lower_timer.isActive()
        return idle and len(x if x is not None else ()) == len(session.records.metrics)

    qtbot.waitUntil(drawn, timeout=5_000)
    yield session, view
    assert session.shutdown(10_000)


def test_the_learning_rate_and_images_per_second_are_drawn_by_step(trained):
    session, view = trained
    metrics = session.records.metrics
    x, y = view.lr_curve.getData()
    assert x.tolist() == [m.step for m in metrics] and y.tolist() == pytest.approx([m.lr for m in metrics])
    assert y[0] > y[-1]  # the cosine schedule decays
    x, y = view.rate_curve.getData()
    assert y.tolist() == pytest.approx([m.images_per_second for m in metrics]) and (y > 0).all()
    assert "Learning rate" in view.lr_legend.text() and "Images/s" in view.rate_legend.text()
    for legend, plot in ((view.lr_legend, view.lr_plot), (view.rate_legend, view.rate_plot)):
        assert legend.geometry().bottom() < plot.geometry().top()  # above the plot, never over the data


def test_hovering_marks_the_step_on_every_plot_and_reads_each_curve(trained):
    session, view = trained
    metrics, evaluations = session.records.metrics, session.records.evaluations
    target = metrics[len(metrics) // 2 + 1]  # in the second epoch, after the first evaluation
    box = view.acc_plot.getPlotItem().getViewBox()
    pos = box.mapViewToScene(QPointF(target.step + 0.4, 0.5))
    view.acc_plot.scene().sigMouseMoved.emit(pos)  # what the mouse does over the plot
    assert all(line.isVisible() and line.value() == target.step for line in view.hover_lines)
    text = view.readout.text()
    assert f"step {target.step:,}" in text and f"loss</span> {target.loss:.4g}" in text
    assert f"lr</span> {target.lr:.3g}" in text and f"images/s</span> {target.images_per_second:,.0f}" in text
    first = next(e for e in evaluations if e.split == "validation")
    assert f"validation</span> {first.accuracy:.1%} (at {first.step:,})" in text  # the latest evaluation before it
    view.acc_plot.scene().sigMouseMoved.emit(QPointF(-50, -50))  # off the plot
    assert not any(line.isVisible() for line in view.hover_lines) and "Hover" in view.readout.text()


def test_the_curves_export_as_csv_with_a_row_per_record(trained, tmp_path):
    from convviz.ui.training.curve_export import CSV_COLUMNS

    session, view = trained
    path = tmp_path / "curves.csv"
    assert view.export_csv(str(path)) == len(session.records.metrics)
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["step", *CSV_COLUMNS]
    assert len(rows) == 1 + len(session.records.metrics)
    table = {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}
    metrics = session.records.metrics
    assert [int(float(s)) for s in table["step"]] == [m.step for m in metrics]
    assert [float(v) for v in table["loss"]] == pytest.approx([m.loss for m in metrics])
    assert [float(v) for v in table["learning rate"]] == pytest.approx([m.lr for m in metrics])
    accuracy = [float(v) for v in table["validation accuracy"]]
    evaluations = [e for e in session.records.evaluations if e.split == "validation"]
    assert sum(np.isfinite(accuracy)) == len(evaluations) == 2  # one per epoch, on its step's row
    row = [m.step for m in metrics].index(evaluations[-1].step)
    assert accuracy[row] == pytest.approx(evaluations[-1].accuracy)


def test_the_curves_export_as_png_and_a_failed_write_keeps_the_old_file(trained, tmp_path):
    from PySide6.QtGui import QImage

    _, view = trained
    path = tmp_path / "curves.png"
    width, height = view.export_png(str(path))
    image = QImage(str(path))
    assert not image.isNull() and (image.width(), image.height()) == (width, height)
    assert (width, height) == (view.plots_area.width(), view.plots_area.height()) and width > 1000
    assert not list(tmp_path.glob(".curves.png.*"))  # no temporary file left
    with pytest.raises(OSError):
        view.export_csv(str(tmp_path / "no such folder" / "curves.csv"))


def test_a_hidden_view_does_no_work_and_catches_up_when_shown(qtbot, trained):
    session, view = trained
    from convviz.ui.training.curves import CurvesView

    calls = []
    original = CurvesView.redraw
    view.hide()
    view.redraw = lambda: (calls.append(1), original(view))
    view._redraw_timer.timeout.disconnect()
    view._redraw_timer.timeout.connect(view.redraw)
    with qtbot.waitSignal(session.run_finished, timeout=60_000):
        session.start(TrainConfig(epochs=1, batch_size=40, metrics_every=2), "synthetic")
    qtbot.wait(400)
    assert calls == [] and view._stale  # records came, nothing was drawn
    view.show()
    qtbot.waitUntil(lambda: bool(calls), timeout=5_000)
    assert len(view.lr_curve.getData()[0]) == len(session.records.metrics)


def test_before_a_run_the_loss_plot_reads_from_step_0_not_around_it(qtbot):
    """No records yet: the loss plot's steps start at 0 (an empty loss band once centred it on 0, with
    negative steps counted as "(x0.001)")."""
    from convviz.ui.session import RunSession
    from convviz.ui.training.curves import CurvesView

    view = CurvesView(RunSession(lambda: tiny_spec()))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    view.redraw()
    (x_low, _), _ = view.loss_plot.getPlotItem().getViewBox().viewRange()
    assert x_low >= -0.1
    assert not view.loss_plot.getAxis("bottom").autoSIPrefix
