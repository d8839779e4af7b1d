"""Scatter labels placed so none overlaps another, a marker, or the edge."""

from hypothesis import given, settings
from hypothesis import strategies as st

from convviz.ui.analysis.label_layout import _overlap, place_labels


def test_labels_of_markers_on_one_spot_stack_apart():
    points = [(200.0, 100.0)] * 2 + [(204.0, 102.0), (210.0, 98.0)]  # ConvNetJS and "your network" coincide
    rects, far = place_labels(points, [6.0] * 4, [(90.0, 14.0)] * 4, (0.0, 0.0, 600.0, 300.0))
    assert all(_overlap(a, b) == 0 for i, a in enumerate(rects) for b in rects[i + 1:])
    markers = [(x - 6, y - 6, 12, 12) for x, y in points]
    assert all(_overlap(r, m) == 0 for r in rects for m in markers)
    alone, _ = place_labels([(200.0, 100.0)], [6.0], [(90.0, 14.0)], (0.0, 0.0, 600.0, 300.0))
    assert alone[0][:2] == (200 + 6 + 3, 100 - 7)  # a marker alone has its label at its right
    assert not any(far)
    crowd, far = place_labels([(300.0, 150.0)] * 12, [6.0] * 12, [(90.0, 14.0)] * 12, (0.0, 0.0, 600.0, 300.0))
    assert all(_overlap(a, b) == 0 for i, a in enumerate(crowd) for b in crowd[i + 1:])
    assert any(far)  # twelve round one spot: some move out to a further ring (and get leader lines)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(100, 500), st.floats(60, 240)), min_size=1, max_size=8))
def test_labels_never_overlap_when_there_is_room(points):
    bounds = (0.0, 0.0, 600.0, 300.0)
    rects, _ = place_labels(points, [5.0] * len(points), [(70.0, 14.0)] * len(points), bounds)
    assert all(_overlap(a, b) == 0 for i, a in enumerate(rects) for b in rects[i + 1:])
    assert all(r[0] >= 0 and r[1] >= 0 and r[0] + r[2] <= 600 and r[1] + r[3] <= 300 for r in rects)


def test_the_compare_scatter_labels_do_not_overlap_at_either_size(qtbot, make_view):
    view = make_view()
    view.pages.setCurrentIndex(1)
    compare = view.compare
    qtbot.waitUntil(lambda: bool(compare.labels), timeout=5000)
    for size in ((1280, 800), (1600, 1000)):
        view.resize(*size)
        qtbot.wait(100)
        boxes = [label.sceneBoundingRect() for label in compare.labels]
        assert [label.toPlainText() for label in compare.labels] == [r.name for r in compare.rows]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                both = a.intersected(b)
                assert both.width() * both.height() < 1.0, f"{size}: labels overlap"
        inside = compare.scatter.getViewBox().sceneBoundingRect().adjusted(-1, -1, 1, 1)
        assert all(inside.contains(box) for box in boxes), f"{size}: a label leaves the plot"
