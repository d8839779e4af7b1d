"""Files, case studies, the modified marker, prompts, settings and the screenshot of the builder window."""

from __future__ import annotations

import json

from builder_helpers import names
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QCloseEvent, QDropEvent, QImage

from convviz.model import dumps, load_spec, preset, preset_names, save_spec


def test_opening_a_malformed_file_leaves_the_network_as_it_was(builder, fake_dialogs, tmp_path):
    doc = builder.document
    doc.set_fields((0,), {"filters": 8})  # some unsaved work
    before = dumps(doc.spec)
    title = builder.windowTitle()
    bad = tmp_path / "bad.json"
    data = json.loads(dumps(preset("lenet5")))
    data["layers"][3]["stride"] = 0
    data["layers"][5]["type"] = "convolution"
    bad.write_text(json.dumps(data))
    fake_dialogs.unsaved_answer = "discard"
    assert builder.files.open_path(str(bad)) is False
    (call,) = fake_dialogs.asked("problems")
    assert "bad.json" in call[1] and "unchanged" in call[1]
    assert "layers[3].stride: must be a positive whole number, got 0" in call[2]
    assert any(p.startswith("layers[5].type: unknown layer type 'convolution'") for p in call[2])
    assert dumps(doc.spec) == before
    assert builder.windowTitle() == title and builder.isWindowModified()
    assert doc.undo_stack.count() == 1  # the edit can still be undone
    # not JSON at all
    (tmp_path / "junk.json").write_bytes(b"\x00\xff not json")
    assert builder.files.open_path(str(tmp_path / "junk.json")) is False
    assert dumps(doc.spec) == before


def test_save_as_then_save_writes_the_file_and_clears_the_marker(builder, fake_dialogs, tmp_path):
    doc = builder.document
    doc.set_fields((0,), {"filters": 8})
    assert builder.isWindowModified() and "[*]" in builder.windowTitle()
    target = tmp_path / "mine.json"
    fake_dialogs.save_answer = str(target)
    assert builder.files.save() is True  # no file yet: Save asks where (Save As)
    assert fake_dialogs.asked("save")[0][1].endswith("convnetjs-cifar-10.json")
    assert load_spec(target).layers[0].filters == 8
    assert not builder.isWindowModified()
    assert builder.windowTitle().startswith("mine.json")
    doc.set_fields((0,), {"filters": 4})
    assert builder.isWindowModified()
    assert builder.files.save() is True
    assert len(fake_dialogs.asked("save")) == 1  # Save now writes to the same file
    assert load_spec(target).layers[0].filters == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left behind
    doc.undo_stack.undo()
    assert builder.isWindowModified()  # undoing past the save point is a change again


def test_open_recent_lists_saved_and_opened_files(builder, fake_dialogs, tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    save_spec(preset("lenet5"), first)
    save_spec(preset("tinyvgg"), second)
    assert builder.files.open_path(str(first)) and builder.files.open_path(str(second))
    assert builder.files.recent_files() == [str(second), str(first)]
    builder.menus.recent_menu.aboutToShow.emit()
    entries = [a.text() for a in builder.menus.recent_menu.actions() if a.text()]
    assert entries[:2] == ["&1 b.json", "&2 a.json"]
    builder.menus.recent_menu.actions()[1].trigger()
    assert builder.windowTitle().startswith("a.json") and names(builder)[0] == "C1"  # LeNet-5 names its layers
    # a recent file that has gone away is reported and forgotten
    first.unlink()
    assert builder.files.open_recent(str(first)) is False
    assert "no longer exists" in fake_dialogs.asked("error")[0][1]
    assert str(first) not in builder.files.recent_files()


def test_the_prompt_guards_unsaved_work(builder, fake_dialogs):
    doc = builder.document
    doc.remove((0,))
    fake_dialogs.unsaved_answer = "cancel"
    builder.files.new_network()
    assert len(doc.spec.layers) == 11  # kept
    builder.menus.preset_actions["vgg16"].trigger()
    assert doc.spec.name == "ConvNetJS CIFAR-10"
    event = QCloseEvent()
    builder.closeEvent(event)
    assert not event.isAccepted()
    assert len(fake_dialogs.asked("unsaved")) == 3
    fake_dialogs.unsaved_answer = "discard"
    builder.files.new_network()
    assert doc.spec.layers == [] and not builder.isWindowModified()
    assert builder.windowTitle().startswith("untitled")


def test_prompt_answer_save_saves_first(builder, fake_dialogs, tmp_path):
    builder.document.remove((0,))
    fake_dialogs.unsaved_answer = "save"
    fake_dialogs.save_answer = str(tmp_path / "kept.json")
    builder.files.load_preset("lenet5")
    assert len(load_spec(tmp_path / "kept.json").layers) == 11
    assert builder.document.spec.name == "LeNet-5"


def test_case_studies_menu_has_every_preset(builder):
    assert set(builder.menus.preset_actions) == set(preset_names())
    expected = {"vgg16": "138,357,544", "resnet18": "11,689,512", "googlenet": "6,624,904"}
    for name, params in expected.items():
        builder.menus.preset_actions[name].trigger()
        assert builder.windowTitle().startswith(preset(name).name)
        assert builder.stack_view.stack_model.card((0,)).name == "conv1"
        assert builder.network_status.text().startswith("✓ Valid")
        assert builder.network_status.totals_label.text().startswith(params)
        assert f"Total params: <b>{params}</b>" in builder.summary.totals.text()
        assert not builder.isWindowModified()
    assert builder.menus.case_menu.actions()  # sections and entries
    tip = builder.menus.preset_actions["alexnet"].statusTip()
    assert "Krizhevsky" in tip


def test_dropping_a_json_file_on_the_window_opens_it(builder, tmp_path):
    path = tmp_path / "drop.json"
    save_spec(preset("resnet20"), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    builder.dropEvent(event)
    assert builder.windowTitle().startswith("drop.json")
    assert builder.document.spec.name == "ResNet-20"


def test_first_start_hint_shows_once_and_help_explains(qtbot, settings_path, fake_dialogs):
    from convviz.ui.window.main_window import MainWindow

    first = MainWindow(settings=QSettings(settings_path, QSettings.Format.IniFormat), dialogs=fake_dialogs)
    qtbot.addWidget(first)
    assert first.first_start and not first.hint.isHidden()
    first.hint.label.linkActivated.emit("help")
    (call,) = fake_dialogs.asked("help")
    assert "Palette" in call[1] and "(W − F + 2P)/S + 1" in call[1] and "Case Studies" in call[1]
    first.menus.help_action.trigger()
    assert len(fake_dialogs.asked("help")) == 2
    first.close()
    again = MainWindow(settings=QSettings(settings_path, QSettings.Format.IniFormat), dialogs=fake_dialogs)
    qtbot.addWidget(again)
    assert not again.first_start and again.hint.isHidden()
    assert again.document.spec.name == "ConvNetJS CIFAR-10"


def test_window_layout_persists(qtbot, settings_path, fake_dialogs):
    from convviz.ui.window.main_window import MainWindow

    window = MainWindow(settings=QSettings(settings_path, QSettings.Format.IniFormat), dialogs=fake_dialogs)
    qtbot.addWidget(window)
    window.show()
    window.summary_dock.hide()
    window.close()
    settings = QSettings(settings_path, QSettings.Format.IniFormat)
    assert settings.value("workspaces/build/state") is not None
    again = MainWindow(settings=settings, dialogs=fake_dialogs)
    qtbot.addWidget(again)
    again.show()
    assert again.summary_dock.isHidden() and not again.inspector_dock.isHidden()
    again.workspaces.reset()
    assert not again.summary_dock.isHidden()


def test_edit_menu_actions_follow_the_selection(builder):
    doc = builder.document
    doc.select((0,))
    assert builder.menus.delete_action.isEnabled() and not builder.menus.move_up_action.isEnabled()
    builder.menus.move_down_action.trigger()
    assert names(builder)[:2] == ["relu1", "conv1"]
    assert builder.menus.undo_action.isEnabled() and builder.menus.undo_action.text() == "&Undo Move conv1"
    builder.menus.undo_action.trigger()
    assert names(builder)[:2] == ["conv1", "relu1"]
    builder.menus.insert_menu.actions()[1].trigger()  # the first entry after the section: Convolution
    assert doc.selected == (1,) and doc.layer((1,)).TYPE == "conv"
    doc.select("input")
    assert not builder.menus.delete_action.isEnabled()


def test_screenshot_renders_every_panel(qtbot, tmp_path):
    from convviz.ui.window.app import run_app

    out = tmp_path / "shot.png"
    assert run_app(["preset:vgg16", "--screenshot", str(out), "--size", "1200x800"]) == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1200, 800)
    assert not QSettings().contains("app/first_start_done")  # the screenshot used throw-away settings

    def colours(x0, y0, x1, y1) -> int:
        return len({image.pixel(x, y) for x in range(x0, x1, 3) for y in range(y0, y1, 3)})

    # palette (left), diagram (top middle), stack (middle), inspector (right), summary (bottom middle):
    # each region holds drawn text and shapes, not an empty grey panel
    regions = {"palette": (5, 60, 200, 700), "diagram": (260, 40, 900, 150), "stack": (260, 300, 800, 450),
               "inspector": (880, 250, 1190, 500), "summary": (260, 560, 800, 720)}
    for name, box in regions.items():
        assert colours(*box) > 20, f"the {name} looks empty"
