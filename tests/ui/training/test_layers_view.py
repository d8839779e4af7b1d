"""Every layer at once: a row per layer that fills from the run's snapshots and follows them, tiles on one
colour scale with a legend, bars by class, the probe chosen, gradients on request, a tile enlarged."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from run_helpers import tiny_spec

from convviz.training.config import TrainConfig

NAMES = ["conv1", "relu1", "maxpool1", "flatten1", "fc1", "softmax1"]


@pytest.fixture
def session(qtbot, quick_data):
    from convviz.ui.session import RunSession

    run = RunSession(lambda: tiny_spec())
    yield run
    assert run.shutdown(10_000)


@pytest.fixture
def with_gradients(session):
    """Snapshots carry dL/d activation (what the window asks the session for when the view wants them)."""
    session.want_gradients(True)


def make_view(qtbot, session):
    from convviz.ui.training.layers_view import LayersView

    view = LayersView(session)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    return view


def drawn_image(row) -> np.ndarray:
    return np.array(row.image.image, copy=True)


def test_every_layer_has_a_row_that_fills_and_changes_between_snapshots(qtbot, session):
    from convviz.ui.training.layers_view import BarRow, MapRow

    view = make_view(qtbot, session)
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(view.rows) == 6 and view.rows[0].drawn is not None, timeout=20_000)
    assert [row.name for row in view.rows] == NAMES
    assert [type(row) for row in view.rows] == [MapRow, MapRow, MapRow, BarRow, BarRow, BarRow]
    conv1 = view.rows[0]
    assert "conv1" in conv1.title.text() and "16×16×6" in conv1.title.text()
    assert conv1.image.image.shape[0] >= 16 and conv1.view.height() >= 100  # six 16×16 maps, big enough to see
    assert conv1.legend.isVisible() and conv1.legend.scale is not None
    relu = view.rows[1]
    assert relu.legend.scale[0] == 0.0 and not relu.legend.scale[2]  # ReLU: unsigned, from 0
    first = drawn_image(conv1)
    # the bottom rows are off screen: they wait (no work) until scrolled to
    assert view.rows[-1].drawn is None or view.rows[-1].on_screen()
    view.show_layer("softmax1")
    qtbot.waitUntil(lambda: view.rows[-1].drawn is not None, timeout=20_000)
    softmax = view.rows[-1]
    assert softmax.labels[0].startswith("horizontal stripes") and len(softmax.labels) == 10
    assert softmax.values.sum() == pytest.approx(1.0, abs=1e-5)
    assert all(text.endswith("%") for text in softmax.value_texts())
    assert "most likely" in softmax.details.text()
    first_probabilities, drawn_step = softmax.values.copy(), view.snapshot.step
    qtbot.waitUntil(lambda: view.snapshot.step > drawn_step + 5 and softmax.drawn[0] == view.serial, timeout=20_000)
    assert not np.allclose(softmax.values, first_probabilities)  # it learns
    view.show_layer("conv1")
    qtbot.waitUntil(lambda: conv1.drawn is not None and conv1.drawn[0] == view.serial, timeout=20_000)
    assert not np.array_equal(drawn_image(conv1), first, equal_nan=True)
    assert f"Step {view.snapshot.step}" in view.caption.text()


def test_the_probe_chosen_drives_the_rows_and_a_tile_opens_large_with_its_values(qtbot, session):
    view = make_view(qtbot, session)
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(view.rows) == 6 and view.rows[0].drawn is not None, timeout=20_000)
    session.pause()
    qtbot.wait(1_500)  # the snapshot of the step the pause ended
    conv1 = view.rows[0]
    view.set_probe(3)
    qtbot.waitUntil(lambda: conv1.drawn[1] == 3 and conv1.drawn[0] == view.serial, timeout=20_000)
    expected = view.snapshot.layer("conv1").activation[3]
    np.testing.assert_array_equal(conv1.values, expected)
    assert "probe 4" in view.caption.text()
    # click the third tile (first line, third column): it opens beside the rows
    h, w = conv1.shape[1:]
    scene = conv1.box.mapViewToScene(QPointF(2 * (w + 1) + w / 2, h / 2))
    qtbot.mouseClick(conv1.view.viewport(), Qt.MouseButton.LeftButton, pos=conv1.view.mapFromScene(scene))
    qtbot.waitUntil(lambda: view.inspector.isVisible(), timeout=3_000)
    assert view.inspector.layer == "conv1" and view.inspector.index == 2
    assert "slice 3 of 6 (16×16)" in view.inspector.title.text()
    np.testing.assert_array_equal(view.inspector.values, expected[2])
    assert view.inspector.legend.scale == conv1.scale  # the row's scale
    assert view.inspector.value_at(5, 7) == f"x 5, y 7: {expected[2, 7, 5]:.3g}"
    inside = view.inspector.box.mapViewToScene(QPointF(5.5, 7.5))
    view.inspector._hovered(inside)  # what moving the mouse there does
    assert view.inspector.value.text() == view.inspector.value_at(5, 7)
    view.inspector.close_inspector()
    assert not view.inspector.isVisible()


def test_gradients_of_the_probe_on_request(qtbot, session, with_gradients):
    view = make_view(qtbot, session)
    wanted = []
    view.gradients_wanted.connect(wanted.append)
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(view.rows) == 6 and view.rows[0].drawn is not None, timeout=20_000)
    session.pause()
    view.set_mode("gradients")
    assert wanted == [True]
    conv1 = view.rows[0]
    qtbot.wait(1_500)  # the snapshot of the step the pause ended
    qtbot.waitUntil(lambda: conv1.drawn[2] == "gradients" and conv1.drawn[0] == view.serial, timeout=20_000)
    layer = view.snapshot.layer("conv1")
    np.testing.assert_array_equal(conv1.values, layer.activation_grad[0])
    low, high, signed = conv1.scale
    assert signed and low == -high and "(0 is white)" in conv1.legend.text()
    assert "dL/d output" in conv1.details.text() and "gradients" in view.caption.text()
    view.set_mode("activations")
    assert wanted == [True, False]
    qtbot.waitUntil(lambda: conv1.drawn[2] == "activations", timeout=20_000)


def test_without_gradients_the_toggle_says_so_and_shows_activations(qtbot, session):
    view = make_view(qtbot, session)
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(view.rows) == 6 and view.rows[0].drawn is not None, timeout=20_000)
    session.pause()
    view.set_mode("gradients")
    qtbot.wait(1_500)  # the snapshot of the step the pause ended
    qtbot.waitUntil(lambda: view.rows[0].drawn[0] == view.serial, timeout=20_000)
    assert "this snapshot has no gradients" in view.caption.text()
    np.testing.assert_array_equal(view.rows[0].values, view.snapshot.layer("conv1").activation[0])


def test_a_hidden_view_draws_nothing(qtbot, session):
    from convviz.ui.training.layers_view import LayersView

    view = LayersView(session)
    qtbot.addWidget(view)
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: view.snapshot is not None, timeout=20_000)
    qtbot.wait(600)
    assert view.rows == []  # nothing made, nothing drawn
    assert view.row_keys[0] == ("conv1", "conv", (6, 16, 16))  # but it knows what it will show
    view.resize(1280, 800)
    view.show()
    qtbot.waitUntil(lambda: len(view.rows) == 6 and view.rows[0].drawn is not None, timeout=20_000)
