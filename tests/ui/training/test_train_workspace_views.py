"""The Train workspace's views in the window: the time slider sits above the tabs of views it drives,
and with every new view open a run fills them, pauses, steps by exactly one step and stops."""

from __future__ import annotations

import numpy as np
from run_helpers import tiny_spec


def test_the_views_fill_pause_step_by_one_and_stop_with_the_time_slider(qtbot, builder, quick_data):
    panel, session, slider = builder.training, builder.session, builder.time_slider

    def steps() -> list[int]:
        return [m.step for m in session.records.metrics]

    builder.document.reset(tiny_spec())
    panel.epochs.setValue(500)  # never over before the test is
    panel.batch.setValue(16)
    builder.start_training()
    # the slider is under the curves, above the bottom tabs of views
    assert slider.isVisible() and slider.mapTo(builder, slider.rect().topLeft()).y() > builder.curves.mapTo(
        builder, builder.curves.rect().topLeft()).y()
    assert slider.mapTo(builder, slider.rect().bottomLeft()).y() <= builder.layer_rows.mapTo(
        builder, builder.layer_rows.rect().topLeft()).y()
    rows = builder.layer_rows
    qtbot.waitUntil(lambda: len(rows.rows) == 6 and rows.rows[0].drawn is not None, timeout=20_000)
    qtbot.waitUntil(lambda: len(session.records.snapshots) >= 3, timeout=20_000)
    assert slider.slider.isEnabled() and slider.live

    panel.pause_button.click()
    qtbot.waitUntil(lambda: "paused at step" in panel.status.text(), timeout=10_000)
    paused_at = steps()[-1] if steps() else 0
    panel.step_button.click()
    qtbot.waitUntil(lambda: steps() and steps()[-1] == paused_at + 1, timeout=10_000)
    qtbot.wait(1_500)
    assert steps()[-1] == paused_at + 1  # exactly one step
    # back in time while paused: the rows show the first kept snapshot
    slider.slider.setValue(0)
    first = session.records.snapshots[0]
    conv1 = rows.rows[0]
    qtbot.waitUntil(lambda: rows.snapshot is first and conv1.drawn[0] == rows.serial, timeout=20_000)
    np.testing.assert_array_equal(conv1.values, first.layer("conv1").activation[rows.probe])
    assert builder.health.cursor_step == first.step
    slider.live_button.click()
    assert slider.live and builder.health.cursor_step is None
    qtbot.waitUntil(lambda: rows.snapshot is session.records.snapshot, timeout=20_000)
    panel.stop_button.click()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=10_000)
    assert "stopped at step" in panel.status.text()
