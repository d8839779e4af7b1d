"""The layer health strip over the run: each row's weight histograms from the session's kept snapshots
as a ridgeline (the newest in front), and the time cursor marking a step on every plot with the
numbers at that step."""

from __future__ import annotations

import numpy as np
import pytest
from run_helpers import tiny_spec

from convviz.training.config import TrainConfig


@pytest.fixture
def session(qtbot, quick_data):
    from convviz.ui.session import RunSession

    run = RunSession(lambda: tiny_spec())
    yield run
    assert run.shutdown(10_000)


@pytest.fixture
def health(qtbot, session):
    from convviz.ui.training.health_view import HealthView

    view = HealthView(session)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    return view


def drawn(qtbot, view):
    qtbot.waitUntil(lambda: view.rows and all(row.drawn == view.serial for row in view.rows), timeout=20_000)


def test_each_row_draws_its_weight_histograms_over_the_run_newest_in_front(qtbot, session, health):
    from convviz.ui.training.health_panels import MAX_RIDGES

    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(session.records.snapshots) >= 4, timeout=30_000)
    session.pause()
    qtbot.waitUntil(lambda: session.state == "paused", timeout=10_000)
    health.serial += 1  # draw again from what is kept now
    health._schedule()
    drawn(qtbot, health)
    kept = session.records.snapshots
    row = health.rows[0]
    ridges = row.ridgeline.shown
    assert len(ridges) == min(MAX_RIDGES, len(kept))
    assert ridges[0][0] == kept[0].step and ridges[-1][0] == kept[-1].step  # from the first kept to now
    for step, counts, edges in ridges:
        assert counts.sum() == 6 * 3 * 4 * 4  # every weight of conv1 (not its bias)
    # the newest in front (highest z), at the bottom; the oldest at the back, at the top
    front, back = row.ridgeline.ridges[len(ridges) - 1], row.ridgeline.ridges[0]
    assert front.zValue() > back.zValue()
    assert front.getData()[1].min() == pytest.approx(0.0, abs=1e-9) and back.getData()[1].min() > 0.5
    ridgeline = row.ridgeline
    assert ridgeline.oldest.toPlainText() == f"{kept[0].step:,}"  # at the back, on top
    assert ridgeline.newest.toPlainText() == f"{kept[-1].step:,}"  # in front, at the bottom
    assert ridgeline.oldest.pos().y() > ridgeline.newest.pos().y() and ridgeline.axis_low.toPlainText()


def test_the_time_cursor_marks_the_step_on_every_plot_and_shows_its_values(qtbot, session, health):
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(health.points("conv1")) >= 4, timeout=30_000)
    session.pause()
    qtbot.waitUntil(lambda: session.state == "paused", timeout=10_000)
    qtbot.wait(300)
    points = health.points("conv1")
    chosen = points[1]
    health.set_time_cursor(chosen.step)
    drawn(qtbot, health)
    row = health.rows[0]
    xs, ys = row.cursor.item.getData()
    first, last = points[0].step, points[-1].step
    expected = (chosen.step - first) / (last - first)
    assert row.cursor_x == pytest.approx(expected)
    assert xs.tolist() == pytest.approx(np.repeat([p.left + expected for p in row.panels], 2).tolist())
    assert ys.tolist() == [0.0, 1.0] * 4  # a full-height marker in each of the four plots
    assert f"step {chosen.step:,}" in row.title.text()
    from convviz.ui.training.maps import number

    assert f"mean {number(chosen.mean)}" in row.numbers.text()  # the numbers at that step
    near = min(row.ridgeline.shown, key=lambda h: abs(h[0] - chosen.step))
    assert abs(near[0] - chosen.step) == min(abs(s.step - chosen.step) for s in session.records.snapshots)
    health.set_time_cursor(None)
    drawn(qtbot, health)
    assert len(row.cursor.item.getData()[0]) == 0 and "step" not in row.title.text()
    assert f"mean {number(health.points('conv1')[-1].mean)}" in row.numbers.text()  # the newest again
