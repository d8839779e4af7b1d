"""The time slider: it takes the rows, the probes and the filters back to an earlier kept snapshot
(they show that snapshot's own arrays), holds it while the run goes on, and returns to live."""

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


def shown(qtbot, widget, size=(1280, 800)):
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_the_slider_goes_back_to_an_earlier_snapshot_holds_it_and_returns_to_live(qtbot, session):
    from convviz.ui.training.filters_view import FiltersView, rgb_filters, rgb_mosaic
    from convviz.ui.training.layers_view import LayersView
    from convviz.ui.training.probes_view import ProbesView, probe_probabilities
    from convviz.ui.training.time_slider import TimeSlider

    layers, probes, filters = (shown(qtbot, view(session)) for view in (LayersView, ProbesView, FiltersView))
    slider = shown(qtbot, TimeSlider(session, [layers, probes, filters]), (1280, 40))
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(session.records.snapshots) >= 4, timeout=20_000)
    assert slider.live and slider.slider.value() == slider.slider.maximum() == len(session.records.snapshots) - 1
    assert slider.label.text().startswith("Live: step")

    slider.slider.setValue(0)  # the user drags the handle to the left end
    earliest = session.records.snapshots[0]
    assert slider.held is earliest and not slider.live and not slider.live_button.isChecked()
    assert slider.label.text().startswith(f"Snapshot 1 of {len(session.records.snapshots)}: step {earliest.step:,}")
    qtbot.waitUntil(lambda: len(layers.rows) == 6, timeout=20_000)
    conv1 = layers.rows[0]
    qtbot.waitUntil(lambda: layers.snapshot is earliest and conv1.drawn is not None and conv1.drawn[0] == layers.serial,
                    timeout=20_000)
    np.testing.assert_array_equal(conv1.values, earliest.layer("conv1").activation[0])
    assert f"Step {earliest.step}," in layers.caption.text() and "held by the time slider" in layers.caption.text()
    qtbot.waitUntil(lambda: probes._drawn is earliest and filters.snapshot is earliest and filters._drawn is not None
                    and filters._drawn[0] == filters.serial,  # drawn since it was given the held snapshot
                    timeout=20_000)
    expected = probe_probabilities(earliest)[0]
    assert probes.cards[0].classes[0][2] == pytest.approx(expected.max())
    weights = earliest.filters["conv1"]
    np.testing.assert_allclose(filters.rgb_item.image, rgb_mosaic(rgb_filters(weights, "per filter"), filters.cols))

    # the run goes on: the views keep the held snapshot, the slider follows the ring
    held_count = len(session.records.snapshots)
    qtbot.waitUntil(lambda: len(session.records.snapshots) > held_count, timeout=20_000)
    qtbot.wait(700)
    assert layers.snapshot is earliest and probes.snapshot is earliest and filters.snapshot is earliest
    assert slider.slider.value() == 0 and slider.slider.maximum() == len(session.records.snapshots) - 1

    session.pause()
    qtbot.wait(1_500)  # the snapshot of the step the pause ended
    slider.go_live()
    newest = session.records.snapshot
    assert slider.live and slider.slider.value() == slider.slider.maximum() and slider.live_button.isChecked()
    qtbot.waitUntil(lambda: layers.snapshot is newest and conv1.drawn[0] == layers.serial, timeout=20_000)
    np.testing.assert_array_equal(conv1.values, newest.layer("conv1").activation[0])
    assert "held" not in layers.caption.text()
    # moving to the right end is live too
    slider.slider.setValue(0)
    assert not slider.live
    slider.slider.setValue(slider.slider.maximum())
    assert slider.live and layers.live and probes.live and filters.live


def test_show_step_finds_the_nearest_kept_snapshot(qtbot, session):
    from convviz.ui.training.layers_view import LayersView
    from convviz.ui.training.time_slider import TimeSlider

    layers = shown(qtbot, LayersView(session))
    slider = TimeSlider(session, [layers])
    qtbot.addWidget(slider)
    assert not slider.slider.isEnabled() and slider.label.text() == "No snapshots yet"
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(session.records.snapshots) >= 2, timeout=20_000)
    session.pause()
    first = session.records.snapshots[0]
    assert slider.show_step(first.step) is first and slider.held is first and layers.snapshot is first
