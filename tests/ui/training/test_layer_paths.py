"""Residual and branch blocks in the every-layer rows: where the paths split, each path's layers with
its coloured bar, an identity shortcut said, and the block's own row where they join (+ or concat)."""

from __future__ import annotations

import numpy as np

from convviz.engine import Network
from convviz.model import (
    FC,
    Branch,
    Conv,
    Flatten,
    MaxPool,
    NetworkSpec,
    ReLU,
    Softmax,
    Volume,
    preset,
)
from convviz.training.snapshot import take_snapshot


def branch_network() -> NetworkSpec:
    return NetworkSpec(Volume(32, 32, 3), [
        Conv(filters=4, size=3, pad=1),
        Branch(branches=[[Conv(filters=2, size=1)], [Conv(filters=3, size=3, pad=1), ReLU()], []]),
        MaxPool(size=2), Flatten(), FC(units=10), Softmax()], name="branches")


def snapshot_of(spec: NetworkSpec, small_data):
    return take_snapshot(Network(spec, seed=0), small_data, "validation", np.arange(3), step=7, epoch=1)


def test_row_plan_of_resnet20_splits_each_block_and_joins_it_after_its_paths(small_data):
    from convviz.ui.training.paths import IDENTITY, JOIN, LAYER, SPLIT, row_plan

    snapshot = snapshot_of(preset("resnet20"), small_data)
    plan = row_plan([(layer.name, layer.type, layer.activation.shape[1]) for layer in snapshot.layers])
    assert sorted(item.name for item in plan if item.kind in (LAYER, JOIN)) == sorted(layer.name for layer in snapshot.layers)
    kinds = [(item.kind, item.name) for item in plan]
    first = kinds.index((SPLIT, "res1"))
    assert kinds[first:first + 8] == [(SPLIT, "res1"), (LAYER, "res1.body.conv1"), (LAYER, "res1.body.bn1"),
                                      (LAYER, "res1.body.relu1"), (LAYER, "res1.body.conv2"), (LAYER, "res1.body.bn2"),
                                      (IDENTITY, "res1.shortcut"), (JOIN, "res1")]
    # the first shrinking block has a projection shortcut: its layers, in their own (orange) path
    projection = [item for item in plan if item.name.startswith("res4.shortcut.")]
    assert [item.name for item in projection] == ["res4.shortcut.conv1", "res4.shortcut.bn1"]
    body = next(item for item in plan if item.name == "res4.body.conv1")
    assert projection[0].bars != body.bars and len(body.bars) == 1
    assert next(item for item in plan if item.kind == SPLIT and item.name == "res4").empty == ()


def test_resnet20_rows_show_the_body_the_shortcut_and_the_sum(qtbot, small_data):
    from convviz.ui.session import RunSession
    from convviz.ui.training.layers_view import LayersView
    from convviz.ui.training.paths import PATH_COLOURS

    spec = preset("resnet20")
    view = LayersView(RunSession(lambda: spec))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    snapshot = snapshot_of(spec, small_data)
    view.show_snapshot(snapshot)
    qtbot.waitUntil(lambda: len(view.rows) == len(snapshot.layers), timeout=20_000)
    names = [row.name for row in view.rows]
    assert names.index("res1") == names.index("res1.body.bn2") + 1  # the sum after the body
    split = next(note for note in view.notes if note.item.name == "res1" and note.item.kind == "split")
    assert "body F(x)" in split.text() and "shortcut (the identity x)" in split.text()
    identity = next(note for note in view.notes if note.item.name == "res1.shortcut")
    assert "identity, x goes on unchanged to the sum" in identity.text()
    assert view.column_layout.indexOf(split) < view.column_layout.indexOf(view.row("res1.body.conv1"))
    assert view.column_layout.indexOf(identity) < view.column_layout.indexOf(view.row("res1"))
    sum_row = view.row("res1")
    assert "+</b> sum" in sum_row.title.text() and "body" in sum_row.title.text() and "shortcut" in sum_row.title.text()
    assert view.row("res1.body.conv1").margin.bars == (PATH_COLOURS[0],)  # the body's blue bar
    assert view.row("res4.shortcut.conv1").margin.bars == (PATH_COLOURS[1],)  # the projection's orange one
    assert view.row("relu2").margin.bars == () and "body › conv1" in view.row("res1.body.conv1").title.text()
    # a path's rows draw their own values
    view.show_layer("res1.body.conv1")
    row = view.row("res1.body.conv1")
    qtbot.waitUntil(lambda: row.drawn is not None, timeout=20_000)
    np.testing.assert_array_equal(row.values, snapshot.layer("res1.body.conv1").activation[0][: row.count])


def test_branch_rows_show_each_path_and_the_concatenation(qtbot, small_data):
    from convviz.ui.session import RunSession
    from convviz.ui.training.layers_view import LayersView

    spec = branch_network()
    view = LayersView(RunSession(lambda: spec))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    snapshot = snapshot_of(spec, small_data)
    view.show_snapshot(snapshot)
    qtbot.waitUntil(lambda: len(view.rows) == len(snapshot.layers), timeout=20_000)
    names = [row.name for row in view.rows]
    assert names[:5] == ["conv1", "branch1.b1.conv1", "branch1.b2.conv1", "branch1.b2.relu1", "branch1"]
    split = next(note for note in view.notes if note.item.kind == "split")
    assert "3 paths side by side" in split.text() and all(f"b{i}" in split.text() for i in (1, 2, 3))
    empty = next(note for note in view.notes if note.item.name == "branch1.b3")
    assert "no layers, the input goes on unchanged" in empty.text()
    joined = view.row("branch1").title.text()
    assert "concat in depth" in joined and "b1 (2)" in joined and "b2 (3)" in joined and "b3 (4)" in joined
    assert "= 9 slices" in joined
    bars = {view.row(name).margin.bars for name in ("branch1.b1.conv1", "branch1.b2.conv1")}
    assert len(bars) == 2  # each path its own colour


def _names(draw_tree, prefix: str = "") -> list[tuple[str, str, int]]:
    """Snapshot-ordered (name, type, slices) of a tree of layers: a block before its paths' layers."""
    out = []
    for i, node in enumerate(draw_tree):
        if isinstance(node, tuple):  # (kind, {path: subtree})
            kind, paths = node
            name = f"{prefix}{'res' if kind == 'residual' else 'branch'}{i + 1}"
            out.append((name, kind, 4))
            for path, subtree in paths.items():
                out += _names(subtree, f"{name}.{path}.")
        else:
            out.append((f"{prefix}{node}{i + 1}", node, 4))
    return out


def _trees():
    from hypothesis import strategies as st

    leaf = st.sampled_from(["conv", "relu", "batchnorm"])
    return st.recursive(
        st.lists(leaf, min_size=1, max_size=3),
        lambda inner: st.lists(st.one_of(
            leaf,
            st.tuples(st.just("residual"), st.fixed_dictionaries({"body": inner}, optional={"shortcut": inner})),
            st.tuples(st.just("branch"), st.fixed_dictionaries({"b1": inner, "b2": inner})),
        ), min_size=1, max_size=3),
        max_leaves=12,
    )


def test_row_plan_keeps_every_layer_once_and_a_block_joins_after_all_its_paths():
    from hypothesis import given, settings

    from convviz.ui.training.paths import JOIN, LAYER, SPLIT, row_plan

    @settings(max_examples=150, deadline=None)
    @given(_trees())
    def check(tree):
        layers = _names(tree)
        plan = row_plan(layers)
        rows = [item.name for item in plan if item.kind in (LAYER, JOIN)]
        assert sorted(rows) == sorted(name for name, *_ in layers)
        for name, kind, _ in layers:
            if kind not in ("residual", "branch"):
                continue
            split = next(i for i, item in enumerate(plan) if item.kind == SPLIT and item.name == name)
            join = next(i for i, item in enumerate(plan) if item.kind == JOIN and item.name == name)
            inside = [i for i, item in enumerate(plan) if item.name.startswith(name + ".")]
            assert inside and all(split < i < join for i in inside)
            depth = len(plan[split].bars)
            assert all(len(plan[i].bars) > depth for i in inside)  # each inner row has its path's bar

    check()
