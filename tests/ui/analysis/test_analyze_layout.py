"""The Analyze page as a laptop shows it: one clear state while the first evaluation runs, and no
scrolling in a 1280×800 window."""

from __future__ import annotations

import pytest


def test_the_first_evaluation_says_one_state(qtbot, make_view, monkeypatch):
    from convviz.data import synthetic_dataset
    from convviz.ui.analysis import workspace

    view = make_view(show=False)
    assert view.accuracy_label.text() == "Not evaluated yet: press Evaluate."
    big = synthetic_dataset(train=200, test=4000, validation=20, seed=1)
    monkeypatch.setattr(workspace, "synthetic_test_set", lambda: big)
    seen = []
    view.progress.valueChanged.connect(lambda _: seen.append((view.accuracy_label.text(), view.status.text())))
    with qtbot.waitSignal(view.evaluated, timeout=60_000):
        view.show()
        assert view.evaluating
        texts = view.accuracy_label.text() + view.status.text() + view.list_heading.text()
        assert "Not evaluated" not in texts and "press Evaluate" not in texts
        assert view.accuracy_label.text().startswith("Evaluating")
        assert view.status.text() == "Evaluating the weights the last run ended with on the Synthetic test set …"
    assert seen and all("Not evaluated" not in a and b.startswith("Evaluating") for a, b in seen)
    assert view.accuracy_label.text().startswith("Accuracy ")


def test_a_cancelled_first_evaluation_says_it_was_not_evaluated(qtbot, make_view, monkeypatch):
    from convviz.data import synthetic_dataset
    from convviz.ui.analysis import workspace

    view = make_view(show=False)
    big = synthetic_dataset(train=200, test=6000, validation=20, seed=2)
    monkeypatch.setattr(workspace, "synthetic_test_set", lambda: big)
    with qtbot.waitSignal(view.evaluated, timeout=60_000) as done:
        view.show()
        view.cancel()
    assert done.args == [None] and view.result is None
    assert view.accuracy_label.text() == "Not evaluated yet: press Evaluate."
    assert view.status.text() == "Evaluation cancelled."


@pytest.mark.parametrize("size", [(1280, 800), (1600, 1000)])
def test_the_page_fits_the_window_without_scrolling(builder, qtbot, monkeypatch, analyze_data, size):
    from convviz.ui.analysis import workspace

    monkeypatch.setattr(workspace, "synthetic_test_set", lambda: analyze_data)
    builder.resize(*size)
    page = builder.analyzer
    with qtbot.waitSignal(page.evaluated, timeout=60_000):
        builder.workspaces.switch("analyze")
    qtbot.waitUntil(lambda: not page.explaining, timeout=20_000)
    holder = builder.workspaces.holders["analyze"]
    for tab in (0, 1):  # the test set and Compare architectures
        page.pages.setCurrentIndex(tab)
        qtbot.wait(50)
        assert page.minimumSizeHint().height() <= holder.viewport().height()
        assert holder.verticalScrollBar().maximum() == 0, f"the page scrolls at {size} (tab {tab})"
        assert page.height() == holder.viewport().height()
