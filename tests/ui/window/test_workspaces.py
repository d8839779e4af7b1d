"""Workspaces: the bar and Ctrl+1 … Ctrl+4 switch the docks and the centre, each workspace keeps the
arrangement the user gives it across windows, Reset Workspace brings the default back, and
``--workspace train --screenshot`` renders the Train workspace."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QImage

BUILD_DOCKS = ("palette", "diagram", "inspector", "summary")
TRAIN_DOCKS = ("training", "layers", "activations", "probes", "health", "filters")  # the last five share one place as tabs


def shown(window) -> set[str]:
    return {d.objectName() for d in window.docks() if d.isVisible()}


def test_switching_workspaces_changes_the_visible_docks(qtbot, builder):
    assert shown(builder) == set(BUILD_DOCKS)
    assert builder.workspaces.centre.currentWidget().isAncestorOf(builder.stack_view)
    bar = builder.workspaces.bar
    train = builder.workspaces.actions["train"]
    bar.widgetForAction(train).click()  # the tab at the top
    assert shown(builder) == set(TRAIN_DOCKS)
    tabs = {d.objectName() for d in builder.tabifiedDockWidgets(builder.layers_dock)}
    assert tabs == {"probes", "health", "filters", "activations"}
    assert builder.curves.isVisible() and not builder.stack_view.isVisible()
    assert train.isChecked() and not builder.workspaces.actions["build"].isChecked()

    builder.activateWindow()
    qtbot.waitUntil(builder.isActiveWindow)
    qtbot.keyClick(builder, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert shown(builder) == set(BUILD_DOCKS) and builder.stack_view.isVisible()
    qtbot.keyClick(builder, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert shown(builder) == set(TRAIN_DOCKS)
    # Analyze: the analysis page, no docks
    action = builder.workspaces.actions["analyze"]
    assert action.isEnabled() and action.shortcut().toString() == "Ctrl+3"
    assert action in builder.menus.view_menu.actions() and action in bar.actions()
    qtbot.keyClick(builder, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert builder.workspaces.current == "analyze" and shown(builder) == set() and builder.analyzer.isVisible()
    # Step: the step-through page with the diagram above it
    qtbot.keyClick(builder, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert builder.workspaces.current == "step" and shown(builder) == {"diagram"}
    assert builder.stepper.isVisible() and builder.workspaces.actions["step"].isEnabled()
    qtbot.keyClick(builder, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    # Start Training from the Build workspace shows the Train workspace
    builder.workspaces.switch("build")
    builder.document.set_fields((0,), {"stride": 2})  # a network that cannot be built: nothing starts
    builder.menus.train_start_action.trigger()
    assert builder.workspaces.current == "train" and builder.session.state == "idle"


def test_a_rearranged_workspace_is_remembered_across_windows(qtbot, settings_path, fake_dialogs):
    from convviz.ui.window.main_window import MainWindow

    window = MainWindow(settings=QSettings(settings_path, QSettings.Format.IniFormat), dialogs=fake_dialogs)
    qtbot.addWidget(window)
    window.show()
    window.workspaces.switch("train")
    assert window.dockWidgetArea(window.snapshot_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.snapshot_dock)  # what dragging it there does
    window.workspaces.switch("build")
    window.summary_dock.hide()
    window.workspaces.switch("train")
    assert window.dockWidgetArea(window.snapshot_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    window.close()

    again = MainWindow(settings=QSettings(settings_path, QSettings.Format.IniFormat), dialogs=fake_dialogs)
    qtbot.addWidget(again)
    again.show()
    assert again.workspaces.current == "train"  # where the user left off
    assert shown(again) == set(TRAIN_DOCKS)
    assert again.dockWidgetArea(again.snapshot_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    again.workspaces.actions["build"].trigger()
    assert shown(again) == set(BUILD_DOCKS) - {"summary"}  # Build kept its own change
    again.workspaces.reset_action.trigger()
    assert shown(again) == set(BUILD_DOCKS)
    again.workspaces.switch("train")
    again.workspaces.reset()
    assert again.dockWidgetArea(again.snapshot_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert again.layers_dock.width() > again.training_dock.width()  # the front tab under the curves, not squeezed


def test_screenshot_of_the_train_workspace(qtbot, tmp_path):
    from convviz.ui.window.app import run_app

    shots = {}
    for workspace in ("train", "build"):
        out = tmp_path / f"{workspace}.png"
        assert run_app(["--workspace", workspace, "--screenshot", str(out), "--size", "1280x800"]) == 0
        shots[workspace] = QImage(str(out))
    image = shots["train"]
    assert (image.width(), image.height()) == (1280, 800)

    def pixels(image, x0, y0, x1, y1) -> list:
        return [image.pixel(x, y) for x in range(x0, x1, 3) for y in range(y0, y1, 3)]

    # the training panel's form and buttons on the left, the two plots above the activations, each
    # drawn (not an empty grey panel) and not what the Build workspace shows there
    regions = {"training panel": (5, 70, 300, 320), "loss plot": (400, 70, 1250, 230), "accuracy plot": (400, 240, 1250, 400)}
    for name, box in regions.items():
        assert len(set(pixels(image, *box))) > 15, f"the {name} looks empty"
        assert pixels(image, *box) != pixels(shots["build"], *box), f"the {name} shows the Build workspace"


def test_the_step_workspace_highlights_its_layer_in_the_builder(builder, qtbot):
    builder.workspaces.switch("step")
    stepper = builder.stepper
    qtbot.waitUntil(lambda: bool(stepper.stops) and not stepper.tracing, timeout=20_000)
    stepper.go_to_layer("conv2")
    assert builder.document.layer_report(builder.document.selected).name == "conv2"


def test_insert_pattern_is_in_the_edit_menu_and_the_palette(builder, monkeypatch):
    from convviz.ui.builder import pattern_dialog

    opened = []
    monkeypatch.setattr(pattern_dialog.PatternDialog, "exec", lambda self: opened.append(self) or 0)
    builder.menus.pattern_action.trigger()
    builder.palette.pattern_requested.emit()
    assert len(opened) == 2 and all(d.document is builder.document for d in opened)


def test_an_image_of_the_analyze_workspace_opens_in_the_step_workspace(builder, qtbot):
    builder.analyzer.open_in_step.emit("synthetic", 7)
    assert builder.workspaces.current == "step"
    qtbot.waitUntil(lambda: bool(builder.stepper.stops) and not builder.stepper.tracing, timeout=20_000)
    assert "7" in builder.stepper.image_text


def test_the_step_update_uses_the_training_panels_learning_rate(builder):
    builder.training.lr.setValue(0.05)
    assert builder.stepper.learning_rate == 0.05
