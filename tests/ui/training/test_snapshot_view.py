"""What the snapshot view draws: activation maps as tiles, flat FC and softmax outputs as labelled bars."""

from __future__ import annotations

import numpy as np
import pytest
from run_helpers import tiny_spec

from convviz.training.records import LayerSnapshot, Snapshot

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def snapshot(probabilities: np.ndarray, scores: np.ndarray, hidden: np.ndarray) -> Snapshot:
    """Two probe images through conv1 → fc1 (scores) → softmax1, as the trainer records them."""
    probes = len(probabilities)
    layers = (
        LayerSnapshot("conv1", "conv", np.random.default_rng(0).random((probes, 6, 16, 16), dtype=np.float32), 1.0, 0.1, 1e-3),
        LayerSnapshot("fc0", "fc", hidden, 1.0, 0.1, 1e-3),
        LayerSnapshot("fc1", "fc", scores, 1.0, 0.1, 1e-3),
        LayerSnapshot("softmax1", "softmax", probabilities, 0.0, 0.0, None),
    )
    return Snapshot(step=7, epoch=1, probe_images=np.zeros((probes, 32, 32, 3), np.uint8),
                    probe_labels=np.array([3, 8]), probe_scores=scores, layers=layers,
                    filters={"conv1": np.ones((6, 3, 4, 4), np.float32)}, class_names=CLASSES)


@pytest.fixture
def view(qtbot):
    from convviz.ui.session import RunSession
    from convviz.ui.training.snapshot_view import SnapshotView

    view = SnapshotView(RunSession(lambda: tiny_spec()))
    qtbot.addWidget(view)
    scores = np.array([np.linspace(-2, 2, 10), np.linspace(2, -2, 10)], np.float32)
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    view.show_snapshot(snapshot(probabilities, scores, np.arange(80, dtype=np.float32).reshape(2, 40)))
    return view


def test_softmax_is_shown_as_class_probabilities_in_bars(view):
    view.layer_choice.setCurrentText("softmax1")
    assert view.middle is view.bar_plot  # bars, not a grid of 1×1 tiles
    assert view.bar_plot in view.canvas.ci.items and view.activation_box not in view.canvas.ci.items
    labels = [label for label, _, _ in view.bars]
    assert labels == ["plane", "car", "bird", "cat (label)", "deer", "dog", "frog", "horse", "ship", "truck"]
    values = np.array([value for _, value, _ in view.bars])
    assert values.sum() == pytest.approx(1.0) and values.argmax() == 9
    assert view.bars[9][2] == f"{values[9]:.1%}" and view.bars[9][2].endswith("%")
    assert [t.toPlainText() for t in view.bar_texts] == [text for _, _, text in view.bars]
    assert view.bar_plot.getAxis("left")._tickLevels[0][3] == (3, "cat (label)")
    assert view.bar_plot.viewRange()[0] == pytest.approx([0, 1.2])  # probabilities: 0 to 1
    caption = view.caption.text()
    assert "softmax1 gives 10 class probabilities that add up to 1; the most likely is truck at" in caption
    assert f"{values[9]:.1%}" in caption and "predicted truck" in caption

    view.probe_choice.setValue(1)  # the other probe image: its own probabilities and label
    assert view.bars[0][0] == "plane" and view.bars[8][0] == "ship (label)"
    assert max(view.bars, key=lambda bar: bar[1])[0] == "plane"


def test_fc_scores_are_bars_named_by_class_and_wide_fc_layers_by_unit(view):
    view.layer_choice.setCurrentText("fc1")
    assert view.middle is view.bar_plot
    assert [label for label, _, _ in view.bars][:2] == ["plane", "car"]
    assert view.bars[0][1] == pytest.approx(-2.0) and view.bars[0][2] == "-2"  # raw scores, negative ones too
    assert "fc1 gives 10 scores, one per class; range -2 to 2" in view.caption.text()
    view.layer_choice.setCurrentText("fc0")  # 40 units: no classes, and only the first 32 drawn
    assert len(view.bars) == 32 and view.bars[0][0] == "unit 1" and view.bars[31][0] == "unit 32"
    assert "fc0 gives 40 numbers (first 32 shown)" in view.caption.text()
    assert sum(t.isVisible() for t in view.bar_texts) == 32


def test_volumes_stay_tiles(view):
    view.layer_choice.setCurrentText("softmax1")
    view.layer_choice.setCurrentText("conv1")
    assert view.middle is view.activation_box
    assert view.activation_box in view.canvas.ci.items and view.bar_plot not in view.canvas.ci.items
    assert view.bar_plot.scene() is view.canvas.scene() and not view.bar_plot.isVisible()  # parked, owned by the scene
    assert view.activation_box.isVisible()
    assert view.activation_item.image.shape == (2 * 17 - 1, 3 * 17 - 1)  # 6 maps of 16×16 in a 2×3 grid
    assert "conv1 gives 16×16×6" in view.caption.text()
