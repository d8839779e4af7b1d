"""The summary's memory estimate is that of the run the Training panel would start: one batch size
and one optimizer for both, the column says its batch, and the help speaks of this computer's memory."""

from __future__ import annotations

from PySide6.QtCore import Qt


def test_the_summary_sizes_the_run_the_training_panel_would_start(builder, qtbot, test_settings, fake_dialogs):
    from convviz.model import analyze
    from convviz.model.summary import format_bytes, summary_rows
    from convviz.training.config import TrainConfig

    summary, panel = builder.summary, builder.training
    assert summary.optimizer.currentText() == panel.optimizer.currentText() == TrainConfig().optimizer == "momentum"
    assert summary.batch.value() == panel.batch.value() == panel.config().batch_size
    panel.optimizer.setCurrentText("adam")
    panel.batch.setValue(16)
    assert summary.optimizer.currentText() == "adam" and summary.batch.value() == 16
    report = analyze(builder.document.spec)
    assert summary.training_value.text() == f"<b>{format_bytes(report.memory(16, 'adam').training)}</b>"
    assert "batch of 16, adam" in summary.memory_title.text()
    summary.optimizer.setCurrentText("sgd")
    summary.batch.setValue(32)
    assert panel.optimizer.currentText() == "sgd" and panel.config().batch_size == 32
    assert summary.training_value.text() == f"<b>{format_bytes(report.memory(32, 'sgd').training)}</b>"

    model = summary.model
    assert model.headerData(4, Qt.Orientation.Horizontal) == "Memory per\nbatch of 32"
    assert model.data(model.index(0, 4)) == format_bytes(summary_rows(report, 32)[0].activation_bytes)

    from convviz.ui.window.main_window import MainWindow

    again = MainWindow(settings=test_settings, dialogs=fake_dialogs)  # the choice is remembered for both
    qtbot.addWidget(again)
    assert (again.training.config().batch_size, again.training.config().optimizer) == (32, "sgd")
    assert again.summary.batch.value() == 32


def test_memory_help_speaks_of_this_computer_not_a_gpu(builder):
    from convviz.ui.window.help import HELP_HTML

    texts = [HELP_HTML, builder.summary.budget.toolTip(), builder.summary.optimizer.toolTip()]
    assert not any("GPU" in text for text in texts)
    assert "this computer's memory" in " ".join(HELP_HTML.split()) and "CPU" in builder.summary.budget.toolTip()


def test_a_narrow_summary_hides_the_receptive_field_before_it_cuts_a_number(builder, qtbot):
    """Issue 10 item 14: at 1280×800 every number stays whole; the names elide instead."""
    from convviz.model import preset
    from convviz.ui.builder.summary_table import SummaryTableModel

    builder.document.reset(preset("vgg16"))
    summary = builder.summary
    table = summary.table
    for width, rf_shown in ((1400, True), (715, False)):  # 715: the dock at a 1280×800 window
        summary.resize(width, 300)
        summary._fit_columns()
        shown = [c for c in range(1, len(SummaryTableModel.HEADERS)) if not table.isColumnHidden(c)]
        assert (5 in shown) == rf_shown
        used = sum(table.columnWidth(c) for c in shown)
        assert used <= table.viewport().width(), (width, used, table.viewport().width())
    row = next(i for i, r in enumerate(summary.model.rows) if r.name == "conv13")
    assert summary.model.data(summary.model.index(row, 5)) == "196×196 (16)"
    assert "receptive field: 196×196, jump 16" in summary.model.data(summary.model.index(row, 0), 3)  # tooltip
