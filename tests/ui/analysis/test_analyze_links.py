"""An image of the Analyze workspace goes on: to the Step workspace, or as a probe to the Train workspace."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage


def save_png(pixels: np.ndarray, path) -> str:
    pixels = np.ascontiguousarray(pixels)
    h, w, _ = pixels.shape
    QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).save(str(path))
    return str(path)


def test_a_listed_image_opens_in_step_or_becomes_a_probe_with_its_pixels_and_label(qtbot, make_view, analyze_data):
    view = make_view()
    i = view.listed_images()[1]
    view.images.setCurrentRow(1)
    with qtbot.waitSignal(view.open_in_step, timeout=2000) as step:
        qtbot.mouseClick(view.step_button, Qt.MouseButton.LeftButton)
    assert step.args == ["synthetic", i]
    with qtbot.waitSignal(view.open_as_probe, timeout=2000) as probe:
        qtbot.mouseClick(view.probe_button, Qt.MouseButton.LeftButton)
    image, label, name = probe.args
    assert image.dtype == np.uint8 and (image == analyze_data.raw_image("test", i)).all()
    assert label == int(analyze_data.split("test").labels[i]) == int(view.result.labels[i])
    assert name == f"{analyze_data.name} test image {i}"


def test_the_right_click_menu_offers_step_and_probe(qtbot, make_view, monkeypatch):
    from PySide6.QtWidgets import QMenu

    view = make_view()
    shown = []
    monkeypatch.setattr(QMenu, "popup", lambda menu, _pos: shown.append([a.text() for a in menu.actions()]))
    rect = view.images.visualItemRect(view.images.item(2))
    view._image_menu(rect.center())
    assert shown == [["Open in Step", "Use as probe in Train"]]
    assert view.selected_image == view.listed_images()[2]


def test_your_own_picture_goes_to_step_and_becomes_an_unlabelled_probe(qtbot, make_view, analyze_data, tmp_path):
    view = make_view()
    path = save_png(np.repeat(np.repeat(analyze_data.raw_image("test", 3), 2, axis=0), 2, axis=1), tmp_path / "cat.png")
    with qtbot.waitSignal(view.explained, timeout=10_000):
        assert view.open_image(path)
    assert view.saliency_values.shape == view.cam_values.shape == (32, 32)  # it reaches "where it looks"
    assert view.step_button.isEnabled() and view.probe_button.isEnabled()
    with qtbot.waitSignal(view.open_file_in_step, timeout=2000) as step:
        qtbot.mouseClick(view.step_button, Qt.MouseButton.LeftButton)
    assert step.args == [path]
    with qtbot.waitSignal(view.open_as_probe, timeout=2000) as probe:
        qtbot.mouseClick(view.probe_button, Qt.MouseButton.LeftButton)
    image, label, name = probe.args
    assert (image == view.own_image.pixels).all() and image.shape == (32, 32, 3)
    assert label is None and name == "cat.png"


def test_the_window_adds_the_probe_and_shows_the_probe_images_tab(builder):
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)  # ConvNetJS takes 32×32×3
    builder.analyzer.open_as_probe.emit(image, 4, "CIFAR-10 test image 12")
    assert builder.workspaces.current == "train"
    name, pixels, label = builder.session.user_probes[-1]
    assert name == "CIFAR-10 test image 12" and label == 4 and (pixels == image).all()
    assert builder.probes_dock.isVisible() and not builder.probes_dock.visibleRegion().isEmpty()  # in front
    assert "CIFAR-10 test image 12 is a probe image of the Train workspace now." in builder.statusBar().currentMessage()
    builder.analyzer.open_as_probe.emit(image, None, "CIFAR-10 test image 12")  # the same name again
    assert builder.session.user_probes[-1][0] == "CIFAR-10 test image 12 (2)" and builder.session.user_probes[-1][2] == -1


def test_a_probe_that_does_not_fit_the_network_is_refused_saying_why(builder):
    builder.workspaces.switch("analyze")
    builder.analyzer.open_as_probe.emit(np.zeros((28, 28, 1), np.uint8), 3, "mnist digit")
    assert builder.workspaces.current == "analyze" and builder.session.user_probes == []
    assert builder.statusBar().currentMessage().startswith("Cannot use mnist digit as a probe: a probe image must be 32×32×3")


def test_your_own_picture_is_stepped_in_the_step_workspace(builder, qtbot, tmp_path):
    path = save_png(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8), tmp_path / "mine.png")
    builder.analyzer.open_file_in_step.emit(path)
    assert builder.workspaces.current == "step"
    assert builder.stepper.image_file == path and builder.stepper.source.currentData() == "file"
    qtbot.waitUntil(lambda: not builder.stepper.tracing, timeout=20_000)


@pytest.mark.parametrize("shape", [(64, 96), (96, 64), (50, 50), (33, 100)])
def test_the_window_outlined_is_the_one_fit_image_keeps(shape):
    from convviz.data import fit_image
    from convviz.ui.analysis.own_image import fit_window

    picture = np.random.default_rng(2).integers(0, 256, (*shape, 3), dtype=np.uint8)
    top, left, h, w = fit_window(*shape, 32, 32)
    assert (fit_image(picture, 32, 32, 3) == fit_image(picture[top:top + h, left:left + w], 32, 32, 3)).all()
    assert h == w and (h == shape[0] or w == shape[1])


def test_your_picture_shows_as_opened_with_its_fitted_window_outlined(qtbot, make_view, analyze_data, tmp_path):
    view = make_view()
    picture = np.repeat(np.repeat(analyze_data.raw_image("test", 5), 2, axis=0), 3, axis=1)  # 64×96
    with qtbot.waitSignal(view.explained, timeout=10_000):
        assert view.open_image(save_png(picture, tmp_path / "wide.png"))
    box = view.looks.image_box
    assert box.image.image.shape == (64, 96, 3)  # the picture as opened
    assert box.outline.isVisible() and box.outline.rect().getRect() == (16, 0, 64, 64)  # left, top, w, h
    assert "outlined: the 64×64 window fitted to the input" in box.caption.text()
    assert view.looks.saliency_box.image.image.shape == (32, 32, 3)  # the maps on the fitted image
    with qtbot.waitSignal(view.explained, timeout=10_000):
        view.select_image(view.listed_images()[0])
    assert not box.outline.isVisible() and box.image.image.shape == (32, 32, 3)
