"""The Analyze workspace driven as a learner does: evaluate, read the matrix, click a cell, look at an image."""

from __future__ import annotations

import numpy as np
import pytest
from analyze_helpers import two_conv_spec
from PySide6.QtCore import Qt

from convviz.analysis import evaluate, grad_cam, saliency, saliency_map
from convviz.engine import Network


def engine_result(view, data, weights, dtype=np.float32):
    net = Network(two_conv_spec(), dtype=dtype)
    net.set_weights(weights)
    return net, evaluate(net, data)


def click_cell(qtbot, view, t, p):
    rect = view.matrix.visualRect(view.confusion_model.index(t, p))
    qtbot.mouseClick(view.matrix.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_the_matrix_shown_is_evaluates_and_says_its_numbers(make_view, analyze_data, trained_weights):
    view = make_view()
    _, expected = engine_result(view, analyze_data, trained_weights)
    model = view.confusion_model
    assert model.rowCount() == model.columnCount() == 10
    assert (model.shown() == expected.confusion).all() and model.shown().sum() == 300
    for t in range(10):
        assert model.headerData(t, Qt.Orientation.Vertical) == analyze_data.class_names[t]
        assert model.headerData(t, Qt.Orientation.Horizontal) == analyze_data.class_names[t]
        for p in range(10):
            text = model.data(model.index(t, p))
            assert text == (str(expected.confusion[t, p]) if expected.confusion[t, p] else "")
    t, p = np.unravel_index(np.argmax(expected.confusion - np.diag(np.diag(expected.confusion))), (10, 10))
    tip = model.data(model.index(t, p), Qt.ItemDataRole.ToolTipRole)
    names = analyze_data.class_names
    row = expected.confusion[t].sum()
    assert tip.startswith(f"true {names[t]}, predicted {names[p]}: {expected.confusion[t, p]} image")
    assert f"{expected.confusion[t, p] / row:.1%} of the {row} {names[t]} images" in tip
    # row percentages: the same cells, each row summing to 100 %
    view.normalise.setChecked(True)
    assert np.allclose(model.shown(), expected.row_normalised())
    assert model.data(model.index(t, t)) == f"{expected.row_normalised()[t, t]:.0%}"
    # the per-class figures and the overall accuracy
    figures = view.figures_model
    for k in range(10):
        cells = figures.cells(k)
        assert cells[0] == names[k] and cells[1] == str(expected.support[k])
        assert cells[2] == cells[4] == f"{expected.recall[k]:.1%}"
        assert cells[3] == ("—" if np.isnan(expected.precision[k]) else f"{expected.precision[k]:.1%}")
    assert figures.cells(10)[2] == f"{expected.accuracy:.1%}"
    assert f"Accuracy {expected.accuracy:.2%}: {expected.correct} of 300" in view.accuracy_label.text()
    assert 0.2 < expected.accuracy < 1.0


def test_clicking_a_cell_lists_its_images_most_confident_first(qtbot, make_view, analyze_data, trained_weights):
    view = make_view()
    result = view.result
    c = result.confusion
    t, p = (int(v) for v in np.unravel_index(np.argmax(c - np.diag(np.diag(c))), c.shape))
    click_cell(qtbot, view, t, p)
    listed = view.listed_images()
    assert listed == list(result.cell(t, p)) and len(listed) == c[t, p] > 0
    names = analyze_data.class_names
    assert view.list_heading.text().startswith(f"{names[t]} predicted as {names[p]}: {c[t, p]} image")
    first = view.images.item(0).text()
    i = listed[0]
    assert first.startswith(f"test image {i}: true {names[t]}, predicted {names[p]} (wrong)")
    k0, k1, k2 = result.top_classes[i]
    assert f"{names[k0]} {result.top_probs[i, 0]:.0%}  ·  {names[k1]}" in first and names[k2] in first
    assert [result.confidence[j] for j in listed] == sorted((result.confidence[j] for j in listed), reverse=True)
    # a diagonal cell: the class's images classified right
    click_cell(qtbot, view, t, t)
    assert view.listed_images() == list(result.cell(t, t))
    assert view.list_heading.text().startswith(f"{names[t]} classified right")
    # the most confident mistakes
    qtbot.mouseClick(view.mistakes_button, Qt.MouseButton.LeftButton)
    mistakes = view.listed_images()
    assert mistakes == list(result.mistakes(limit=200))  # 200 at most are listed
    count = len(result.mistakes())
    assert view.list_heading.text().startswith(f"Most confident mistakes: {count} misclassified images")
    assert all(result.labels[j] != result.predicted[j] for j in mistakes)


def test_the_selected_image_gets_its_saliency_and_grad_cam(qtbot, make_view, analyze_data, trained_weights):
    view = make_view()
    assert view.conv_layers() == ["conv1", "conv2"] and view.layer_choice.currentData() == "conv2"
    result = view.result
    i = int(result.mistakes()[1])
    with qtbot.waitSignal(view.explained, timeout=10_000):
        view.select_image(i)
    net = Network(two_conv_spec(), dtype=np.float64)
    net.set_weights(trained_weights)
    x = analyze_data.batch("test", np.array([i]))[0].astype(np.float64)
    predicted = int(result.predicted[i])
    assert np.allclose(view.saliency_values, saliency_map(saliency(net, x, predicted)))
    assert np.allclose(view.cam_values, grad_cam(net, x, predicted, "conv2").upsampled)
    assert view.saliency_values.shape == view.cam_values.shape == (32, 32)
    assert view.looks.image_box.image.image.shape == (32, 32, 3)
    assert view.looks.saliency_box.heat.image.shape == (32, 32, 4)  # the map over the image
    assert view.looks.cam_box.heat.image.shape == (32, 32, 4)
    assert "Grad-CAM at conv2" in view.looks.cam_box.title.text()
    # the true class and another layer
    with qtbot.waitSignal(view.explained, timeout=10_000):
        view.class_choice.setCurrentIndex(view.class_choice.findData("true"))
    assert np.allclose(view.saliency_values, saliency_map(saliency(net, x, int(result.labels[i]))))
    with qtbot.waitSignal(view.explained, timeout=10_000):
        view.set_cam_layer("conv1")
    assert np.allclose(view.cam_values, grad_cam(net, x, int(result.labels[i]), "conv1").upsampled)


def test_same_scale_keeps_the_legend_over_the_images_shown(qtbot, make_view):
    view = make_view()
    a, b = (int(j) for j in view.result.mistakes()[:2])
    with qtbot.waitSignal(view.explained, timeout=10_000):
        view.select_image(a)
    with qtbot.waitSignal(view.explained, timeout=10_000):
        view.same_scale.setChecked(True)
    first = view.looks.scales
    with qtbot.waitSignal(view.explained, timeout=10_000):
        view.select_image(b)
    cam_b = float(view.cam_values.max())
    assert view.looks.scales[1] == pytest.approx(max(first[1], cam_b))
    assert view.looks.scales[0] >= first[0]
    assert "the same scale over the 2 images" in view.looks.cam_box.caption.text()
    assert view.looks.cam_bar.levels() == pytest.approx((0, view.looks.scales[1]))
    with qtbot.waitSignal(view.explained, timeout=10_000):
        view.same_scale.setChecked(False)
    assert view.looks.scales[1] == pytest.approx(cam_b)  # its own scale again


def test_new_weights_are_evaluated_again(qtbot, make_view, analyze_data):
    view = make_view()
    before = view.result
    fresh = Network(two_conv_spec(), seed=3).get_weights()
    with qtbot.waitSignal(view.evaluated, timeout=20_000):
        view.session.use_weights(two_conv_spec(), fresh, origin="imported")
    _, expected = engine_result(view, analyze_data, fresh)
    assert view.result is not before
    assert (view.confusion_model.shown() == expected.confusion).all()
    assert "imported weights" in view.status.text()


def test_evaluating_runs_on_a_thread_with_progress_and_cancel(qtbot, make_view, monkeypatch):
    from convviz.data import synthetic_dataset
    from convviz.ui.analysis import workspace

    view = make_view()
    shown = view.result
    big = synthetic_dataset(train=200, test=6000, validation=20, seed=1)
    monkeypatch.setattr(workspace, "synthetic_test_set", lambda: big)
    values = []
    view.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(view.evaluated, timeout=30_000) as done:
        assert view.evaluate_now()
        assert view.evaluating and view.progress.isVisible() and view.cancel_button.isVisible()
        qtbot.waitUntil(lambda: bool(values) and values[-1] > 0, timeout=20_000)  # the window goes on meanwhile
        qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert done.args == [None]
    assert "Evaluation cancelled: the matrix is the previous one." in view.status.text()
    assert view.result is shown and not view.progress.isVisible()
    assert 0 < values[-1] < 6000


def test_a_network_that_does_not_fit_the_images_says_why(qtbot, make_view):
    from convviz.model import FC, Flatten, NetworkSpec, Volume

    view = make_view(NetworkSpec(Volume(28, 28, 1), [Flatten(), FC(units=10)]), weights=False, show=False)
    with qtbot.waitSignal(view.evaluated, timeout=20_000) as done:
        view.show()
    assert done.args == [None] and view.result is None
    assert "Cannot evaluate: the network takes 28×28×1 images but synthetic has 32×32×3" in view.status.text()
    assert not view.mistakes_button.isEnabled()


def test_cifar10_test_set_when_it_is_in_the_data_folder_without_stuttering_the_window(qtbot, make_view, tmp_path):
    """10,000 CIFAR-10 test images evaluated on a thread; a 20 ms timer on the window keeps its beat."""
    import time

    from analyze_paths import SHARED_CIFAR10
    from PySide6.QtCore import QTimer

    if not SHARED_CIFAR10.exists():
        pytest.skip(f"the CIFAR-10 archive is not at {SHARED_CIFAR10} (a fresh clone has none)")
    view = make_view(show=False)
    assert not view.cifar10_available()  # the default data folder of a test has none
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / SHARED_CIFAR10.name).symlink_to(SHARED_CIFAR10)
    view.session.data_folder = str(tmp_path)
    assert view.cifar10_available()
    beats = []
    timer = QTimer()
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start(20)
    with qtbot.waitSignal(view.evaluated, timeout=120_000) as done:
        view.set_source("cifar10")
        view.show()
    timer.stop()
    result = done.args[0]
    assert result is not None and result.count == 10_000 and result.confusion.sum() == 10_000
    assert result.class_names[:2] == ("airplane", "automobile")
    assert (result.support == 1000).all()
    assert view.accuracy_label.text().endswith(f"cifar10 test images right (mean loss {result.loss:.3f})")
    gaps = np.diff(beats)
    late = gaps.max() - 0.020
    print(f"timer lateness while evaluating CIFAR-10: max {late * 1000:.0f} ms, "
          f"95th percentile {(np.percentile(gaps, 95) - 0.020) * 1000:.0f} ms over {len(gaps)} beats")
    assert len(gaps) > 20 and late < 0.5
    qtbot.waitUntil(lambda: not view.explaining, timeout=20_000)
    assert view.saliency_values is not None


def test_the_filters_tab_shows_each_filters_top_9_patches(qtbot, make_view, analyze_data, trained_weights):
    from convviz.analysis import layer_top_patches

    view = make_view()
    assert view.patch_rows == []  # found only once their tab is shown
    with qtbot.waitSignal(view.patches_found, timeout=20_000):
        view.show_filters()
    net = Network(two_conv_spec())
    net.set_weights(trained_weights)
    expected = layer_top_patches(net, analyze_data, "conv1", k=9)
    assert len(view.patch_rows) == 8 and all(len(row) == 9 for row in view.patch_rows)
    assert [[(p.image, p.row, p.col) for p in row] for row in view.patch_rows] == \
        [[(p.image, p.row, p.col) for p in row] for row in expected]
    assert "4×4 pixels one cell sees" in view.patch_note.text()
    assert not view.patch_grid.label.pixmap().isNull()
    with qtbot.waitSignal(view.patches_found, timeout=20_000):
        view.show_filters("conv2")
    assert len(view.patch_rows) == 8 and "conv2" in view.patch_note.text()
    assert [p.image for p in view.patch_rows[3]] == [p.image for p in layer_top_patches(net, analyze_data, "conv2")[3]]


def test_your_own_picture_is_fitted_classified_and_explained(qtbot, make_view, analyze_data, trained_weights, tmp_path):
    from PySide6.QtGui import QImage

    from convviz.data import fit_image

    view = make_view()
    picture = np.ascontiguousarray(np.repeat(np.repeat(analyze_data.raw_image("test", 7), 2, axis=0), 3, axis=1))
    h, w, _ = picture.shape  # 64×96: wider than the input, so the middle is cropped
    QImage(picture.data, w, h, 3 * w, QImage.Format.Format_RGB888).save(str(tmp_path / "mine.png"))
    with qtbot.waitSignal(view.explained, timeout=10_000):
        assert view.open_image(str(tmp_path / "mine.png"))
    fitted = fit_image(picture, 32, 32, 3)
    assert (view.own_image.pixels == fitted).all() and view.own_image.fit == "96×64 fitted to 32×32×3"
    norm = analyze_data.normalization
    x = (fitted.transpose(2, 0, 1)[None] / 255.0 - np.array(norm.mean)[:, None, None]) / np.array(norm.std)[:, None, None]
    net = Network(two_conv_spec(), dtype=np.float64)
    net.set_weights(trained_weights)
    probs = net.predict_proba(x)[0]
    assert np.allclose(view.own_probabilities, probs)
    predicted = int(np.argmax(probs))
    names = analyze_data.class_names
    assert view.looks.image_box.title.text() == f"your image mine.png: predicted {names[predicted]} (96×64 fitted to 32×32×3)"
    assert np.allclose(view.saliency_values, saliency_map(saliency(net, x, predicted)))
    assert view.step_button.isEnabled() and view.probe_button.isEnabled()  # it goes on to Step or Train
    (tmp_path / "not.png").write_text("no picture")
    assert not view.open_image(str(tmp_path / "not.png"))
    assert view.status.text().startswith(f"Cannot open {tmp_path / 'not.png'}: cannot read")


def test_compare_architectures_lines_up_the_case_studies_and_the_builders_network(qtbot, make_view):
    from convviz.model import analyze

    view = make_view()
    view.pages.setCurrentIndex(1)
    qtbot.waitUntil(lambda: bool(view.compare.rows), timeout=5000)
    compare = view.compare
    names = [r.name for r in compare.rows]
    assert names[0] == "LeNet-5" and "VGG-16" in names and names[-1] == "your network"
    mine = compare.rows[-1]
    report = analyze(two_conv_spec())
    assert (mine.params, mine.macs) == (report.total_params, report.total_macs)
    assert mine.training_bytes == report.memory(view.session.batch_size, view.session.optimizer).training
    assert compare.model.cells(len(names) - 1)[:2] == ("your network", f"{report.total_params:,}")
    vgg = names.index("VGG-16")
    assert compare.model.cells(vgg)[4] == "89%"  # VGG-16's parameters sit in its FC layers
    compare.batch.setValue(8)
    assert compare.rows[-1].training_bytes == report.memory(8, view.session.optimizer).training
    bars = [item for item in compare.bars.getPlotItem().items if type(item).__name__ == "BarGraphItem"]
    assert len(bars) == 2 * len(names)  # a parameters bar and a memory bar per network
