"""Values typed into the inspector: the limits are the file format's, and a number out of range is
explained where it is typed instead of silently changed. Counts read "1 layer", "1 epoch"."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from convviz.model import (
    LAYER_TYPES,
    Conv,
    NetworkSpec,
    Volume,
    spec_from_dict,
    spec_to_dict,
)
from convviz.model.layers import LIMITS


def type_into(spin, text: str, finish: bool = False) -> None:
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, text)
    if finish:
        QTest.keyClick(spin, Qt.Key.Key_Return)


def whole_number_fields(cls):
    return [f for f in cls().hyperparameters() if f.metadata.get("kind") in ("int", "pair")]


@pytest.mark.parametrize("type_key", [k for k, cls in LAYER_TYPES.items() if whole_number_fields(cls)])
def test_every_whole_number_box_allows_what_the_file_format_allows(builder, type_key):
    cls = LAYER_TYPES[type_key]
    builder.document.reset(NetworkSpec(Volume(32, 32, 3), [cls()]))
    builder.document.select((0,))
    for f in whole_number_fields(cls):
        if f.name not in builder.inspector.editors:
            continue
        editor = builder.inspector.editors[f.name]
        spin = editor.spin_h if f.metadata["kind"] == "pair" else editor
        low, high = f.metadata["low"], f.metadata["high"]
        assert (spin.minimum(), spin.maximum()) == (low, high), f.name
        layer = cls(**{f.name: high})
        assert not [p for p in layer.field_problems() if p[0] == f.name], f.name  # the highest a box takes is valid
        assert [p for p in cls(**{f.name: high + 1}).field_problems() if p[0] == f.name], f.name  # one more is not


def test_filters_go_up_to_the_file_formats_65536(builder):
    builder.document.reset(NetworkSpec(Volume(8, 8, 1), [Conv(filters=16, size=3)]))
    builder.document.select((0,))
    filters = builder.inspector.editors["filters"]
    type_into(filters, "65536")
    assert builder.document.layer((0,)).filters == LIMITS["filters"] == 65_536
    assert spec_from_dict(spec_to_dict(builder.document.spec)).layers[0].filters == 65_536  # and a file keeps it
    type_into(filters, "70000")
    problem = builder.inspector.problems["filters"]
    assert problem.isVisible()
    assert problem.text() == "Filters K must be a whole number from 1 to 65,536, got 70,000"
    assert filters.text() == "70000"  # what was typed stays in view, not cut to 7000
    QTest.keyClick(filters, Qt.Key.Key_Return)
    kept = builder.document.layer((0,)).filters  # the last number in range typed on the way (7,000)
    assert problem.text() == f"Filters K must be a whole number from 1 to 65,536, got 70,000; {kept:,} is kept."
    assert filters.value() == kept and filters.text().replace(",", "") == str(kept)


def test_stride_0_is_explained_where_it_is_typed_and_the_value_kept(builder):
    doc = builder.document
    doc.select((0,))
    stride = builder.inspector.editors["stride"].spin_h
    edits = doc.undo_stack.count()
    type_into(stride, "0")
    problem = builder.inspector.problems["stride"]
    assert problem.isVisible() and problem.text() == "Stride S must be a whole number from 1 to 1,024, got 0"
    QTest.keyClick(stride, Qt.Key.Key_Return)
    assert problem.text() == "Stride S must be a whole number from 1 to 1,024, got 0; 1 is kept."
    assert doc.layer((0,)).stride == 1 and doc.undo_stack.count() == edits  # nothing changed behind the user's back
    type_into(stride, "2")
    assert not problem.isVisible() and doc.layer((0,)).stride == 2


def test_the_input_volume_explains_out_of_range_too(builder):
    builder.document.select("input")
    type_into(builder.inspector.input_w, "20000")
    assert builder.inspector.input_problems["Width W"].text() == (
        "Width W must be a whole number from 1 to 16,384, got 20,000")


def test_counts_say_1_layer_and_1_epoch(builder, small_data):
    from convviz.model import Flatten
    from convviz.training.config import TrainConfig
    from convviz.training.trainer import Trainer

    builder.document.reset(NetworkSpec(Volume(8, 8, 1), [Flatten()]))
    assert builder.network_status.text().endswith("in 1 layer")
    builder.document.reset(NetworkSpec(Volume(8, 8, 1), [Flatten(), Flatten()]))
    assert builder.network_status.text().endswith("in 2 layers")
    from run_helpers import tiny_spec

    trainer = Trainer(tiny_spec(), small_data, TrainConfig(epochs=1, batch_size=800))
    messages = [r.message for r in trainer.run() if getattr(r, "kind", "") in ("started", "finished")]
    assert ": 1 epoch of 1 step (batch 800, " in messages[0]
    assert messages[-1].startswith("finished 1 epoch (1 step) in")
