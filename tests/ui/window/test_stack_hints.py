"""The stack as the window shows it: an empty network's hint, and "Show in the stack" scrolling the
opened block into view."""

from __future__ import annotations

from PySide6.QtGui import QColor

from convviz.model import preset
from convviz.ui.builder.document import INPUT


def _hint_drawn(view) -> bool:
    """Some of the hint's grey pixels are on the screen inside its rectangle."""
    rect = view.empty_hint_rect()
    image = view.viewport().grab().toImage()
    grey = {QColor("#9aa0a6").rgb(), QColor("#5f6368").rgb()}
    return any(image.pixel(x, y) in grey for x in range(rect.left(), rect.right(), 2)
               for y in range(rect.top(), rect.bottom(), 2))


def test_an_empty_network_shows_where_to_drag_layers(qtbot, builder):
    view = builder.stack_view
    assert view.empty_hint_rect() is None  # ConvNetJS has layers: no hint
    builder.menus.new_action.trigger()
    assert builder.document.spec.layers == []
    rect = view.empty_hint_rect()
    assert rect is not None and view.viewport().rect().contains(rect.topLeft())
    input_card = view.visualRect(view.stack_model.index_of(INPUT))
    assert rect.top() > input_card.bottom()  # under the input card
    assert _hint_drawn(view)
    builder.document.insert_type_below_selection("conv")
    assert view.empty_hint_rect() is None


def test_show_in_the_stack_opens_the_block_and_scrolls_it_into_view(qtbot, builder):
    builder.resize(1000, 600)
    builder.document.reset(preset("resnet18"))
    view = builder.stack_view
    blocks = [(i,) for i, layer in enumerate(builder.document.spec.layers) if layer.COMPOSITE]
    last = blocks[-1]
    view.verticalScrollBar().setValue(0)
    builder.document.select(last)
    view.verticalScrollBar().setValue(0)  # the user scrolled back to the top meanwhile
    qtbot.wait(50)
    builder.inspector.expand_button.click()
    qtbot.wait(50)
    index = view.stack_model.index_of(last)
    assert view.isExpanded(index)
    viewport = view.viewport().rect()
    assert viewport.intersects(view.visualRect(index))  # the block's card is in view …
    first_inside = view.stack_model.index(0, 0, index)
    assert viewport.intersects(view.visualRect(first_inside))  # … and what it opened
