"""What each filter responds to: hovering a crop names it, and the crops follow new weights."""

from __future__ import annotations

import threading

import numpy as np
from analyze_helpers import two_conv_spec
from PySide6.QtCore import QPoint

from convviz.analysis import layer_top_patches
from convviz.engine import Network


class Kept:
    """Every layer's output of a whole traced forward pass (independent of the page's early stop)."""

    def __init__(self):
        self.outputs = {}

    def forward_in(self, layer, x):
        pass

    def forward_out(self, layer, y):
        self.outputs[layer.name] = np.array(y, copy=True)


def whole_pass_maps(net, x, layer):
    kept = Kept()
    net.forward_recorded(x, False, kept)
    return kept.outputs[layer]


def found_patches(qtbot, view, layer=None):
    with qtbot.waitSignal(view.patches_found, timeout=30_000):
        view.show_filters(layer)
    return view.patch_rows


def test_hovering_a_crop_names_its_image_cell_and_activation(qtbot, make_view, analyze_data, trained_weights):
    view = make_view()
    rows = found_patches(qtbot, view, "conv2")
    grid = view.patch_grid
    net = Network(two_conv_spec())
    net.set_weights(trained_weights)
    names = analyze_data.class_names
    labels = analyze_data.split("test").labels
    for f, k in ((0, 0), (3, 4), (7, 8)):
        p = rows[f][k]
        assert grid.patch_at(grid.centre_of(f, k)) == (f, k)
        text = grid.text_at(grid.centre_of(f, k))
        maps = whole_pass_maps(net, analyze_data.batch("test", np.array([p.image]))[0], "conv2")[0, f]
        y, x = np.unravel_index(np.argmax(maps), maps.shape)  # the filter's map at its argmax
        assert (p.row, p.col) == (y, x)
        assert text.splitlines() == [
            f"conv2 filter {f}, crop {k + 1} of 9",
            f"test image {p.image} ({names[labels[p.image]]})",
            f"output cell y {y}, x {x} (it sees input rows {p.box[0]}–{p.box[2] - 1}, columns {p.box[1]}–{p.box[3] - 1})",
            f"activation {float(maps[y, x]):.4g}",
        ]
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    view.tabs.setCurrentIndex(1)
    at = grid.centre_of(2, 1)
    QApplication.sendEvent(grid.label, QHelpEvent(QEvent.Type.ToolTip, at, grid.label.mapToGlobal(at)))
    assert QToolTip.text() == grid.text_at(at) and f"test image {rows[2][1].image} " in QToolTip.text()
    assert grid.text_at(QPoint(5, 5)) == ""  # the filter numbers at the left
    gap = grid.centre_of(0, 0) + QPoint(grid.tile // 2 + 1, 0)  # between two crops
    assert grid.text_at(gap) == ""


def test_the_crops_follow_new_weights_and_each_epochs_end(qtbot, make_view, analyze_data):
    from convviz.training.records import Evaluation

    view = make_view()
    before = [[p.image for p in row] for row in found_patches(qtbot, view)]
    fresh = Network(two_conv_spec(), seed=5).get_weights()
    with qtbot.waitSignal(view.patches_found, timeout=30_000):
        view.session.use_weights(two_conv_spec(), fresh, origin="imported")  # weights_changed
    net = Network(two_conv_spec())
    net.set_weights(fresh)
    expected = layer_top_patches(net, analyze_data, "conv1")
    assert [[p.image for p in row] for row in view.patch_rows] == [[p.image for p in row] for row in expected] != before
    record = Evaluation(step=10, epoch=1, split="test", accuracy=0.5, loss=1.0, images=300, reason="epoch end")
    shown = view.patch_rows
    with qtbot.waitSignal(view.patches_found, timeout=30_000):
        view.session.evaluation.emit(record)  # a run's epoch ended: evaluated again, the crops found again
    assert view.patch_rows is not shown and not view.finding_patches
    assert not view.patch_progress.isVisible()


def test_a_newer_request_replaces_a_waiting_one():
    from convviz.ui.analysis.jobs import LatestJob

    job, ran, release, began = LatestJob("test-job"), [], threading.Event(), threading.Event()
    stopped = []

    def blocking(cancelled):
        began.set()
        release.wait(5)
        stopped.append(cancelled())
        ran.append("first")

    job.submit(blocking)
    assert began.wait(5)
    for name in ("second", "third", "fourth"):
        job.submit(lambda cancelled, name=name: ran.append(name))
    release.set()
    for _ in range(500):
        if not job.busy:
            break
        threading.Event().wait(0.01)
    assert ran == ["first", "fourth"] and stopped == [True] and job.started == 2
