"""Where a block's paths split and join, for the every-layer rows: pure layout from the layers' names.

A snapshot names a block's inner layers by their path: ``res1.body.conv1`` (a residual block's body),
``res4.shortcut.conv1`` (its projection shortcut), ``branch1.b2.relu1`` (a branch's second path), and
lists the block itself (its output: the sum, or the concatenation) *before* them. The rows read
better the way the data flows: the block's **split** (a heading naming its paths), each path's layers
(a coloured bar in the left margin per path, one more per nested block), then the **join** (the
block's own row: ``+`` for a sum, ``concat`` for a depth concatenation). A residual block without
shortcut layers gets a row saying the identity shortcut carries x unchanged to the sum.

:func:`row_plan` turns the snapshot's layer names and types into that sequence of :class:`PlanItem`;
:class:`PathMargin` draws a row's bars and :class:`PathNote` a split or an identity path.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

BLOCK_TYPES = ("residual", "branch")
PATH_COLOURS = ("#3b73c4", "#e08a1e", "#2e9e4f", "#9c4dc4", "#c4463b", "#2a9d9d")  # body, shortcut, b3 …
SPLIT, LAYER, IDENTITY, JOIN = "split", "layer", "identity", "join"


@dataclass(frozen=True)
class PlanItem:
    """One line of the rows: ``kind`` is ``split`` (a block's paths begin), ``layer`` (a layer's row;
    for a block's own layer, its join), ``identity`` (an identity shortcut) or ``join``.

    ``name``: the layer's (or block's) full name; ``bars``: the path colours in the left margin,
    outermost first; ``paths``: for a split or join, the block's paths as (name, colour, slices)."""

    kind: str
    name: str
    block_type: str = ""
    bars: tuple[str, ...] = ()
    paths: tuple[tuple[str, str, int], ...] = ()
    empty: tuple[str, ...] = ()  # the paths without layers (an identity shortcut, a branch passing its input)


def path_colour(block_type: str, path: str, index: int) -> str:
    """A residual block's body is blue and its shortcut orange; a branch's paths take the colours in turn."""
    if block_type == "residual":
        return PATH_COLOURS[1] if path == "shortcut" else PATH_COLOURS[0]
    return PATH_COLOURS[index % len(PATH_COLOURS)]


def row_plan(layers: list[tuple[str, str, int]]) -> list[PlanItem]:
    """(name, type, depth slices) of each layer in the snapshot's order → the rows' order with the
    paths' splits and joins; every layer appears exactly once, as a ``layer`` or a ``join``."""
    children: dict[str, list[tuple[str, str, int]]] = {}
    top: list[tuple[str, str, int]] = []
    blocks = {name for name, kind, _ in layers if kind in BLOCK_TYPES}
    for item in layers:
        parent = _parent_block(item[0], blocks)
        (children.setdefault(parent, []) if parent else top).append(item)
    plan: list[PlanItem] = []
    _place(top, (), children, plan)
    return plan


def _parent_block(name: str, blocks: set[str]) -> str | None:
    """The innermost block ``name`` lies in: ``res1.body.conv1`` → ``res1`` (None at the top level)."""
    parts = name.split(".")
    for end in range(len(parts) - 2, 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in blocks and len(parts) - end >= 2:
            return candidate
    return None


def _place(items, bars: tuple[str, ...], children: dict, plan: list[PlanItem]) -> None:
    for name, kind, slices in items:
        if kind not in BLOCK_TYPES:
            plan.append(PlanItem(LAYER, name, bars=bars))
            continue
        inner = children.get(name, [])
        by_path: dict[str, list] = {}
        for child in inner:
            by_path.setdefault(child[0][len(name) + 1:].split(".")[0], []).append(child)
        names = list(by_path)
        if kind == "residual":
            names = ["body", "shortcut"] + [p for p in names if p not in ("body", "shortcut")]
        else:
            names = _branch_paths(names, slices - sum(by_path[path][-1][2] for path in names))
        known = sum(by_path[path][-1][2] for path in names if path in by_path)
        # a path without layers passes its input on: all of it for a sum, the rest of the depth for a concat
        passed = slices if kind == "residual" else max(slices - known, 0)
        paths = tuple((path, path_colour(kind, path, index), by_path[path][-1][2] if path in by_path else passed)
                      for index, path in enumerate(names))
        empty = tuple(path for path, *_ in paths if path not in by_path)
        plan.append(PlanItem(SPLIT, name, kind, bars, paths, empty))
        for path, colour, _ in paths:
            members = by_path.get(path, [])
            if members:
                _place(members, bars + (colour,), children, plan)
            else:
                plan.append(PlanItem(IDENTITY, f"{name}.{path}", kind, bars + (colour,)))
        plan.append(PlanItem(JOIN, name, kind, bars, paths, empty))


def _branch_paths(names: list[str], left_over: int) -> list[str]:
    """A branch block's paths ``b1``, ``b2`` …, with the empty ones (they pass the input on, so they
    have no layers to name them) put back: the gaps in the numbering, and one more after the last
    when the concatenation holds more slices than the named paths give."""
    numbers = sorted(int(p[1:]) for p in names if p[:1] == "b" and p[1:].isdigit())
    last = (numbers[-1] if numbers else 0) + (1 if left_over > 0 else 0)
    return [f"b{i}" for i in range(1, last + 1)] + [p for p in names if not (p[:1] == "b" and p[1:].isdigit())]


def split_text(item: PlanItem) -> str:
    """What a block's split heading says: where its input goes."""
    short = item.name.split(".")[-1]
    if item.block_type == "residual":
        shortcut = "the identity x" if "shortcut" in item.empty else "a projection"
        return (f"<b>{short}</b> residual block: the input splits into {_swatch(item.paths[0][1])} body F(x) "
                f"and {_swatch(item.paths[1][1])} shortcut ({shortcut}), added at the end")
    names = ", ".join(f"{_swatch(colour)} {path}" for path, colour, _ in item.paths)
    return f"<b>{short}</b> branch block: the input goes along {len(item.paths)} paths side by side, {names}"


def join_text(item: PlanItem) -> str:
    """What a block's join says: how its paths meet (the sum, or the depth concatenation)."""
    if item.block_type == "residual":
        return "<b style=\"font-size:14px\">+</b> sum: " + " + ".join(f"{_swatch(colour)} {path}" for path, colour, _ in item.paths[:2])
    parts = " | ".join(f"{_swatch(colour)} {path} ({slices})" for path, colour, slices in item.paths)
    total = sum(slices for *_, slices in item.paths)
    return f"concat in depth: {parts} = {total} slices"


def _swatch(colour: str) -> str:
    return f"<span style='color:{colour}'>■</span>"


class PathMargin(QWidget):
    """The left margin of a row: one vertical bar per path the row lies in, outermost first."""

    STEP = 14  # pixels from one bar to the next

    def __init__(self, bars: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars = bars
        self.setFixedWidth(4 + self.STEP * len(bars))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        for i, colour in enumerate(self.bars):
            painter.fillRect(4 + self.STEP * i, 0, 4, self.height(), QColor(colour))
        painter.end()


class PathNote(QFrame):
    """A line between the rows where a block's paths split, or where an identity shortcut (or an
    empty branch path) carries its input on unchanged."""

    def __init__(self, item: PlanItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item = item
        self.setStyleSheet("PathNote { background: #f4f6fa; }")
        if item.kind == SPLIT:
            text = split_text(item)
        else:
            path = item.name.split(".")[-1]
            text = (f"{path}: identity, x goes on unchanged to the sum" if item.block_type == "residual"
                    else f"{path}: no layers, the input goes on unchanged to the concatenation")
        self.label = QLabel(text)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setStyleSheet("color: #333; background: transparent;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(PathMargin(item.bars))
        layout.addWidget(self.label, 1)
        self.setFixedHeight(self.label.sizeHint().height() + 8)

    def text(self) -> str:
        return self.label.text()
