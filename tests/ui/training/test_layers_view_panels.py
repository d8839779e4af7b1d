"""The probe strip, the layer health strip and the filters, from a short run on the synthetic set: the
probes' top classes follow the run and select the probe the rows show, the health strip gains a point
per snapshot, and the filters draw as colour tiles and per input channel."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from run_helpers import tiny_spec

from convviz.model import FC, Conv, Flatten, MaxPool, NetworkSpec, ReLU, Softmax, Volume
from convviz.training.config import TrainConfig


def two_convs() -> NetworkSpec:
    return NetworkSpec(Volume(32, 32, 3), [Conv(filters=6, size=4, stride=2, pad=1), ReLU(), MaxPool(size=2),
                                           Conv(filters=5, size=3, pad=1), ReLU(), Flatten(), FC(units=10), Softmax()],
                       name="two convs")


@pytest.fixture
def network():
    return {"spec": tiny_spec()}


@pytest.fixture
def session(qtbot, quick_data, network):
    from convviz.ui.session import RunSession

    run = RunSession(lambda: network["spec"])
    yield run
    assert run.shutdown(10_000)


def shown(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_probe_strip_shows_top_classes_that_change_and_selects_the_rows_probe(qtbot, session):
    from convviz.ui.training.layers_view import LayersView
    from convviz.ui.training.probes_view import ProbesView, probe_probabilities

    probes = shown(qtbot, ProbesView(session))
    layers = shown(qtbot, LayersView(session))
    probes.probe_selected.connect(layers.set_probe)
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(probes.cards) == 10 and bool(probes.cards[0].classes), timeout=20_000)  # one per class
    snapshot = probes._drawn
    card = probes.cards[0]
    assert len(card.classes) == 3
    expected = probe_probabilities(snapshot)[0]
    assert [k for k, _, _ in card.classes] == list(np.argsort(-expected)[:3])
    assert card.classes[0][2] == pytest.approx(expected.max())
    assert f"{card.classes[0][2]:.1%}" in card.top.text()
    assert card.label.toolTip() == snapshot.probe_names[0]  # validation #23 (horizontal stripes)
    assert card.label.text().replace("\u200b", "") == f"<b>{snapshot.probe_names[0]}</b>"
    assert not card.image.pixmap().isNull() and card.image.pixmap().width() == 96
    first = [c.classes for c in probes.cards]
    qtbot.waitUntil(lambda: probes._drawn is not None and probes._drawn.step > snapshot.step + 5, timeout=20_000)
    assert [c.classes for c in probes.cards] != first  # the probabilities follow the run
    # a click on the fourth probe selects it, and the rows follow
    with qtbot.waitSignal(probes.probe_selected) as selected:
        qtbot.mouseClick(probes.cards[3], Qt.MouseButton.LeftButton)
    assert selected.args == [3] and probes.selected == 3 and layers.probe == 3
    assert "3px solid" in probes.cards[3].styleSheet() and "1px solid" in probes.cards[0].styleSheet()
    qtbot.waitUntil(lambda: layers.rows[0].drawn is not None and layers.rows[0].drawn[1] == 3, timeout=20_000)
    assert "probe 4" in layers.caption.text()


def test_health_strip_gains_points_and_a_click_chooses_the_layer(qtbot, session, network):
    from convviz.ui.training.health_view import BAND, HealthView, power
    from convviz.ui.training.layers_view import LayersView

    network["spec"] = two_convs()
    health = shown(qtbot, HealthView(session))
    layers = shown(qtbot, LayersView(session))
    health.layer_chosen.connect(layers.show_layer)
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(health.points("conv1")) >= 3, timeout=30_000)
    assert [row.name for row in health.rows] == ["conv1", "conv2", "fc1"]  # the layers with parameters
    assert [row.relu for row in health.rows] == ["relu1", "relu2", None]
    points = health.points("conv2")
    assert [p.step for p in points] == sorted({p.step for p in points})  # one point per step, in order
    snapshot = session.records.snapshot
    qtbot.waitUntil(lambda: health.rows[0].drawn == health.serial, timeout=20_000)
    row = health.rows[0]
    drawn = row.shown
    points = health.points("conv1")[: len(drawn)]
    assert drawn[:, 0].tolist() == [p.step for p in points]
    assert drawn[-1, 1] == pytest.approx(points[-1].mean) and drawn[-1, 3] == pytest.approx(points[-1].dead)
    last = points[-1]
    if snapshot.step == last.step:
        assert last.mean == pytest.approx(snapshot.layer("conv1").activation_mean)
        assert last.dead == snapshot.layer("relu1").dead_share
    assert "mean" in row.numbers.text() and "dead" in row.numbers.text() and "‖dW‖" in row.numbers.text()
    xs, ys = row.mean_curve.getData()
    assert len(xs) == len(points) and 0 <= ys.min() and ys.max() <= 1.02  # in its panel
    known = [p.ratio for p in points if np.isfinite(p.ratio)]
    assert len(row.ratio_curve.getData()[0]) == len(known) >= 1  # updates happened: a point each
    band = row.band.rect()
    _, line = row.healthy.getData()
    assert 0 <= band.top() < line[0] < band.bottom() <= 1  # the 1e-3 line inside its band, inside the panel
    assert power(BAND[0]) == "3e-4" and power(1e-3) == "1e-3"
    before = len(health.points("conv1"))
    qtbot.waitUntil(lambda: len(health.points("conv1")) > before, timeout=10_000)  # it keeps gaining
    with qtbot.waitSignal(health.layer_chosen) as chosen:
        qtbot.mouseClick(health.rows[2], Qt.MouseButton.LeftButton)
    assert chosen.args == ["fc1"]
    qtbot.waitUntil(lambda: layers.row("fc1").drawn is not None, timeout=20_000)  # scrolled to, and drawn
    assert layers.row("fc1").on_screen()


def test_filters_as_colour_tiles_and_per_input_channel(qtbot, session, network):
    from convviz.ui.training.filters_view import ONE_SCALE, FiltersView, filter_cell, rgb_filters

    network["spec"] = two_convs()
    view = shown(qtbot, FiltersView(session))
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: view._drawn is not None, timeout=20_000)
    assert [view.layer_choice.itemText(i) for i in range(view.layer_choice.count())] == ["conv1", "conv2"]
    image = view.rgb_item.image
    assert view.rgb_item.isVisible() and image.ndim == 3 and image.shape[2] == 3  # colour tiles
    assert image.shape[0] >= 4 and np.nanmin(image) >= 0 and np.nanmax(image) <= 1
    weights = view.snapshot.filters["conv1"]
    colours = rgb_filters(weights, "per filter")
    assert colours.shape == (6, 4, 4, 3)
    assert colours.reshape(6, -1).min(axis=1) == pytest.approx(0) and colours.reshape(6, -1).max(axis=1) == pytest.approx(1)
    assert "6 filters of conv1, 4×4 over the RGB image" in view.caption.text()
    view.scale_choice.setCurrentIndex(view.scale_choice.findData(ONE_SCALE))
    qtbot.waitUntil(lambda: view._drawn[2] == ONE_SCALE, timeout=20_000)
    assert "one scale about 0" in view.caption.text()
    assert np.abs(rgb_filters(weights, ONE_SCALE) - 0.5).max() == pytest.approx(0.5)
    view.set_layer("conv2")
    qtbot.waitUntil(lambda: view._drawn[1] == "conv2", timeout=20_000)
    assert view.grid_item.isVisible() and not view.rgb_item.isVisible()
    conv2 = view.snapshot.filters["conv2"]
    # each filter a strip of its 6 input channels (3×3 each, 1 apart), strips 3 apart, view.cols to a line
    lines = -(-5 // view.cols)
    assert view.grid.shape == (lines * 6 - 3, min(5, view.cols) * (6 * 4 - 1 + 3) - 3)
    line, column = divmod(1, view.cols)  # filter 2
    y0, x0 = line * 6, column * (6 * 4 - 1 + 3) + 2 * 4  # its input channel 3
    np.testing.assert_array_equal(view.grid[y0:y0 + 3, x0:x0 + 3], conv2[1, 2])
    assert filter_cell(x0 + 1.5, y0 + 2.5, view.shape, view.cols) == (1, 2, 2, 1)
    assert view.legend.isVisible() and "(0 is white)" in view.legend.text()
    assert "5 filters of conv2 (3×3×6)" in view.caption.text() and not view.scale_choice.isEnabled()
