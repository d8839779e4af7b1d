"""The filters' gradients on request, and the user's own probe images: a picture file added (or
dropped) becomes a card with its name and top 3, and can be removed."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QImage
from run_helpers import tiny_spec

from convviz.training.config import TrainConfig


@pytest.fixture
def session(qtbot, quick_data):
    from convviz.ui.session import RunSession

    run = RunSession(lambda: tiny_spec())
    yield run
    assert run.shutdown(10_000)


def shown(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def picture(path, width=48, height=40, colour="#d03020") -> str:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(colour))
    assert image.save(str(path))
    return str(path)


def test_the_gradients_toggle_shows_each_filters_dL_dW_and_asks_only_while_shown(qtbot, session, monkeypatch):
    from convviz.ui.training.filters_view import FiltersView, filter_cell, filter_grid, rgb_filters, rgb_mosaic

    asked = []
    real = session.want_filter_gradients
    monkeypatch.setattr(session, "want_filter_gradients", lambda on: (asked.append(on), real(on)))
    view = shown(qtbot, FiltersView(session))
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: view._drawn is not None, timeout=20_000)
    assert asked == [] and view.rgb_item.isVisible()  # weights, no gradients asked for
    view.set_showing("gradients")
    assert asked == [True]
    qtbot.waitUntil(lambda: view.drawn_gradients and view._drawn[0] == view.serial, timeout=20_000)
    session.pause()
    qtbot.wait(1_500)  # the snapshot of the step the pause ended
    qtbot.waitUntil(lambda: view.drawn_gradients and view._drawn[0] == view.serial, timeout=20_000)
    gradient = view.snapshot.filter_gradients["conv1"]
    assert gradient.shape == view.snapshot.filters["conv1"].shape == (6, 3, 4, 4)
    assert not np.allclose(gradient, view.snapshot.filters["conv1"])
    assert view.grid_item.isVisible() and not view.rgb_item.isVisible()  # signed strips, not colour tiles
    np.testing.assert_array_equal(view.grid, filter_grid(gradient, view.cols), strict=True)
    low, high, signed = view.legend.scale
    assert signed and low == -high == -float(np.abs(gradient).max()) and "(0 is white)" in view.legend.text()
    assert "gradients dL/dW of the 6 filters of conv1" in view.caption.text() and "R, G and B" in view.caption.text()
    assert filter_cell(0.5, 0.5, view.shape, view.cols) == (0, 0, 0, 0)
    view.hide()
    assert asked == [True, False]  # hidden: no gradients wanted
    view.show()
    assert asked == [True, False, True]
    view.set_showing("learned")
    assert asked == [True, False, True, False]
    qtbot.waitUntil(lambda: not view.drawn_gradients and view.rgb_item.isVisible() and view._drawn[3] == "learned",
                    timeout=20_000)
    # what conv1 learned since the first kept snapshot: W − W₀, each filter stretched over its range
    start = session.records.snapshots[0]
    change = view.snapshot.filters["conv1"] - start.filters["conv1"]
    np.testing.assert_allclose(view.shown, change)
    np.testing.assert_allclose(view.rgb_item.image, rgb_mosaic(rgb_filters(change, "per filter"), view.cols))
    assert f"learned since step {start.step} (W − W₀)" in view.caption.text()


def test_a_picture_file_added_is_a_card_with_its_name_and_top_3_and_can_be_removed(qtbot, session, tmp_path):
    from convviz.ui.training.probes_view import ProbesView

    view = shown(qtbot, ProbesView(session))
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    qtbot.waitUntil(lambda: len(view.cards) == 10 and bool(view.cards[0].classes), timeout=20_000)
    assert all(card.remove.isHidden() for card in view.cards)  # the data set's probes stay
    name = view.add_image_file(picture(tmp_path / "my picture.png"))
    assert name == "my picture.png" and "my picture.png added (48×40 → centre crop 40×40, resampled to 32×32×3)" in view.caption.text()
    qtbot.waitUntil(lambda: len(view.cards) == 11 and bool(view.cards[-1].classes), timeout=20_000)
    card = view.cards[-1]
    assert card.name == "my picture.png" and card.label.toolTip() == "my picture.png" and not card.remove.isHidden()
    assert len(card.classes) == 3 and "%" in card.top.text()
    assert "centre crop" in card.image.toolTip() and "class unknown" in card.image.toolTip()
    assert card.label.text().replace("\u200b", "") == "<b>my picture.png</b>"
    snapshot = view._drawn
    assert snapshot.probe_names[-1] == "my picture.png" and int(snapshot.probe_labels[-1]) == -1
    pixels = snapshot.probe_images[-1]
    assert pixels.shape == (32, 32, 3) and tuple(pixels[16, 16]) == (0xd0, 0x30, 0x20)  # the picture, fitted
    assert "1 of them yours" in view.caption.text()
    # a class name in the file's name is its label
    assert view.add_image_file(picture(tmp_path / "dots_2.png", colour="#2040d0")) == "dots_2.png"
    qtbot.waitUntil(lambda: len(view.cards) == 12, timeout=20_000)
    assert int(view.snapshot.probe_labels[-1]) == view.snapshot.class_names.index("dots")
    # the user's probe selected drives the rows; then it is removed with its ×
    card = view.cards[10]
    with qtbot.waitSignal(view.probe_selected) as selected:
        qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert selected.args == [10] and view.selected == 10
    card.remove.click()
    assert [entry[0] for entry in session.user_probes] == ["dots_2.png"]
    qtbot.waitUntil(lambda: len(view.cards) == 11, timeout=20_000)
    assert [c.name for c in view.cards[10:]] == ["dots_2.png"]


def test_an_unreadable_file_says_why_and_adds_nothing(qtbot, session, tmp_path):
    from convviz.ui.training.probes_view import ProbesView

    view = shown(qtbot, ProbesView(session))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    assert view.add_image_file(str(bad)) is None
    assert view.caption.text().startswith("Could not add broken.png as a probe image: cannot read")
    assert session.user_probes == []


def test_image_files_dropped_on_the_strip_become_probes(qtbot, session, tmp_path):
    from convviz.ui.training.probes_view import ProbesView

    view = shown(qtbot, ProbesView(session))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(picture(tmp_path / "a.png")), QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    drop = QDropEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    view.dropEvent(drop)
    assert [entry[0] for entry in session.user_probes] == ["a.png"]
    qtbot.waitUntil(lambda: bool(view.cards) and view.cards[-1].name == "a.png", timeout=20_000)
