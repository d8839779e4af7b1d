"""The open network: one :class:`NetworkSpec`, its analysis, its undo stack and the selected layer.

The spec stays plain Python and is the single source of truth. Every edit is a ``QUndoCommand``
(see :mod:`convviz.ui.builder.commands`) pushed on :attr:`NetworkDocument.undo_stack`; after each one the
document re-runs :func:`convviz.model.analyze` and emits :attr:`NetworkDocument.changed` once, and
the views (cards, inspector, summary, diagram, status bar, title) redraw from :attr:`report`.

Addresses:

- a *layer path* is ``(i,)`` for the i-th top-level layer and ``(i, k, j)`` for layer j of inner
  stack k of block i (deeper blocks add pairs), the same as :attr:`LayerReport.path`;
- a *stack path* is the path of a stack: ``()`` for the top-level stack, ``(i, k)`` for inner stack k
  of block i. ``stack_path + (j,)`` is the path of its j-th layer;
- :data:`INPUT` addresses the input volume (the card at the top of the stack).
"""

from __future__ import annotations

import copy
import dataclasses

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from convviz.model import (
    LAYER_TYPES,
    BatchNorm,
    Branch,
    Conv,
    Fix,
    Layer,
    NetworkSpec,
    ReLU,
    Residual,
    Volume,
    analyze,
)
from convviz.model.analysis import LayerReport, NetworkReport

#: What every view says while a run trains the network and edits are refused.
READ_ONLY_NOTICE = "Training — stop the run to edit the network"

#: The selection address of the input volume.
INPUT = "input"


# -- addressing (plain Python) ------------------------------------------------------------------------


def inner_stacks(block: Layer) -> list[tuple[str, list]]:
    """(label, stack) of a composite block, the lists themselves (editing them edits the block)."""
    return block.stacks() if block.COMPOSITE else []


def stack_at(spec: NetworkSpec, stack_path: tuple) -> list:
    """The list of layers at ``stack_path`` (``()`` is ``spec.layers``)."""
    stack = spec.layers
    for d in range(0, len(stack_path), 2):
        stack = inner_stacks(stack[stack_path[d]])[stack_path[d + 1]][1]
    return stack


def layer_at(spec: NetworkSpec, path: tuple) -> Layer:
    return stack_at(spec, path[:-1])[path[-1]]


def path_exists(spec: NetworkSpec, path) -> bool:
    if path == INPUT:
        return True
    if not isinstance(path, tuple) or not path or len(path) % 2 == 0:
        return False
    try:
        stack = spec.layers
        for d in range(0, len(path) - 1, 2):
            stacks = inner_stacks(stack[path[d]])
            stack = stacks[path[d + 1]][1]
        return 0 <= path[-1] < len(stack)
    except (IndexError, TypeError):
        return False


def stack_input(report: NetworkReport, stack_path: tuple) -> Volume | None:
    """The volume flowing into the stack at ``stack_path`` (its block's input)."""
    if not stack_path:
        return report.spec.input
    block = find_report(report, stack_path[:-1])
    return block.input if block is not None else None


def volume_at(report: NetworkReport, stack_path: tuple, index: int) -> Volume | None:
    """The volume a layer inserted at ``index`` of ``stack_path`` would receive."""
    if index == 0:
        return stack_input(report, stack_path)
    previous = find_report(report, stack_path + (index - 1,))
    return previous.output if previous is not None else None


def find_report(report: NetworkReport, path: tuple) -> LayerReport | None:
    """The :class:`LayerReport` at a layer path, or None."""
    reports = report.layers
    found = None
    for d in range(0, len(path), 2):
        if not 0 <= path[d] < len(reports):
            return None
        found = reports[path[d]]
        if d + 1 < len(path):
            if not 0 <= path[d + 1] < len(found.children):
                return None
            reports = found.children[path[d + 1]][1]
    return found


def make_layer(type_key: str, input_volume: Volume | None = None) -> Layer:
    """A new layer of ``type_key`` as the palette inserts it.

    Plain layers take their defaults. Blocks come with a small inner stack that fits the volume they
    are dropped on, so a new block is already valid: a residual block keeps the depth D
    (conv 3×3 P1 → batch norm → ReLU → conv 3×3 P1 → batch norm, identity shortcut); a branch block
    has a 1×1 and a 3×3 (P1) convolution side by side.
    """
    cls = LAYER_TYPES[type_key]
    depth = input_volume.depth if input_volume is not None else 16
    if cls is Residual:
        body = [Conv(filters=depth, size=3, pad=1), BatchNorm(), ReLU(), Conv(filters=depth, size=3, pad=1), BatchNorm()]
        return Residual(body=body, shortcut=[])
    if cls is Branch:
        return Branch(branches=[[Conv(filters=16, size=1), ReLU()], [Conv(filters=16, size=3, pad=1), ReLU()]])
    return cls()


def fix_changes(layer: Layer, fix: Fix) -> dict:
    """The field values a fix sets, copied so the layer never shares a list with the report."""
    fields = {f.name for f in dataclasses.fields(layer)}
    return {key: copy.deepcopy(value) for key, value in fix.changes.items() if key in fields}


# -- the document -------------------------------------------------------------------------------------


class NetworkDocument(QObject):
    """The network being edited. Edit only through the methods below: each pushes one undo command.

    Signals: ``changed`` after every edit, undo, redo or reset (``report`` is fresh);
    ``selection_changed(path)``; ``file_changed(path or None)`` when the file name changes;
    ``read_only_changed(bool)``.

    While :attr:`read_only` (a run trains this network), every edit and :meth:`reset` is refused
    (returns without a change) and the views say so; selecting layers still works.
    """

    changed = Signal()
    selection_changed = Signal(object)
    file_changed = Signal(object)
    read_only_changed = Signal(bool)

    def __init__(self, spec: NetworkSpec | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.spec = spec if spec is not None else NetworkSpec()
        self.report = analyze(self.spec)
        self.file_path: str | None = None
        self.selected = None  # a layer path, INPUT or None
        self.edits = 0  # analyses run since start (for tests and the benchmark)
        self.read_only = False
        self.show_hints = True  # the cards mark the layers a design rule would change (a setting)
        self._design = (None, {}, {})  # (report, hints, receptive fields) worked out for that report

    def set_read_only(self, read_only: bool) -> None:
        """Refuse every edit (a run trains this network) or allow them again."""
        if read_only != self.read_only:
            self.read_only = read_only
            self.read_only_changed.emit(read_only)

    def _push(self, command) -> bool:
        if self.read_only:
            return False
        self.undo_stack.push(command)
        return True

    # -- state -------------------------------------------------------------------------------------
    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def title(self) -> str:
        """What the window title calls this network: the file name, or the network's name."""
        if self.file_path:
            from pathlib import Path

            return Path(self.file_path).name
        return self.spec.name or "untitled"

    def layer(self, path: tuple) -> Layer:
        return layer_at(self.spec, path)

    def layer_report(self, path) -> LayerReport | None:
        if not isinstance(path, tuple):
            return None
        return find_report(self.report, path)

    def design(self) -> tuple[dict, dict]:
        """(sizing hints, receptive fields) by layer name for the current report (``input`` for the
        input's hints), worked out once per report (:mod:`convviz.model.hints`, ``model.receptive``)."""
        report, hints, fields = self._design
        if report is not self.report:
            from convviz.model.hints import sizing_hints
            from convviz.model.receptive import receptive_fields

            hints, fields = sizing_hints(self.report), receptive_fields(self.report)
            self._design = (self.report, hints, fields)
        return hints, fields

    def set_show_hints(self, show: bool) -> None:
        """Mark (or stop marking) the cards of layers with sizing hints; the inspector lists them either way."""
        if show != self.show_hints:
            self.show_hints = show
            self.changed.emit()

    # -- whole network ---------------------------------------------------------------------------------
    def reset(self, spec: NetworkSpec, file_path: str | None = None) -> None:
        """Replace the network (New, Open, a case study): the undo history starts afresh."""
        if self.read_only:
            return
        self.undo_stack.clear()
        self.spec = spec
        self.file_path = file_path
        self.selected = None
        self._refresh()
        self.undo_stack.setClean()
        self.file_changed.emit(file_path)
        first_problem = self.report.problems[0].path if self.report.problems else None
        self.select(first_problem or ((0,) if spec.layers else INPUT))

    def mark_saved(self, file_path: str) -> None:
        self.file_path = file_path
        self.undo_stack.setClean()
        self.file_changed.emit(file_path)

    # -- selection ---------------------------------------------------------------------------------------
    def select(self, path) -> None:
        if path is not None and not path_exists(self.spec, path):
            path = None
        if path != self.selected:
            self.selected = path
            self.selection_changed.emit(path)

    # -- edits (each one undoable) ------------------------------------------------------------------------
    def insert(self, stack_path: tuple, index: int, layer: Layer, text: str | None = None) -> tuple:
        """Insert ``layer`` at ``index`` of the stack at ``stack_path``; returns the new layer's path
        (None while read-only)."""
        from convviz.ui.builder.commands import InsertLayer

        stack = stack_at(self.spec, stack_path)
        index = max(0, min(index, len(stack)))
        if not self._push(InsertLayer(self, stack_path, index, layer, text)):
            return None
        return stack_path + (index,)

    def insert_layers(self, layers: list[Layer], text: str) -> tuple | None:
        """Insert ``layers`` below the selection (first for the input, last with nothing selected) as
        one undo step; returns the first one's path (None while read-only or for no layers)."""
        from convviz.ui.builder.commands import InsertLayers

        selected = self.selected
        if isinstance(selected, tuple):
            stack_path, index = selected[:-1], selected[-1] + 1
        else:
            stack_path, index = (), 0 if selected == INPUT else len(self.spec.layers)
        if not layers or not self._push(InsertLayers(self, stack_path, index, copy.deepcopy(layers), text)):
            return None
        return stack_path + (index,)

    def insert_type(self, type_key: str, stack_path: tuple, index: int) -> tuple:
        """Insert a new layer of ``type_key`` (what a drop from the palette does)."""
        if type_key not in LAYER_TYPES:
            raise KeyError(f"unknown layer type {type_key!r}")
        index = max(0, min(index, len(stack_at(self.spec, stack_path))))
        layer = make_layer(type_key, volume_at(self.report, stack_path, index))
        return self.insert(stack_path, index, layer, f"Insert {layer.TITLE}")

    def remove(self, path: tuple) -> None:
        from convviz.ui.builder.commands import RemoveLayer

        if path_exists(self.spec, path) and path != INPUT:
            self._push(RemoveLayer(self, path))

    def duplicate(self, path: tuple) -> tuple | None:
        """Insert a copy right after the layer (a named layer's copy takes an automatic name)."""
        if not path_exists(self.spec, path) or path == INPUT:
            return None
        twin = copy.deepcopy(self.layer(path))
        twin.name = ""
        return self.insert(path[:-1], path[-1] + 1, twin, f"Duplicate {self.layer_report(path).name}")

    def move(self, path: tuple, stack_path: tuple, index: int) -> tuple | None:
        """Move a layer to ``index`` of the stack at ``stack_path`` (``index`` counts before the move).

        Returns the layer's new path, or None when the move is impossible (a block into itself) or
        changes nothing.
        """
        from convviz.ui.builder.commands import MoveLayer

        if not path_exists(self.spec, path) or path == INPUT:
            return None
        if stack_path[: len(path)] == path:
            return None  # a block cannot go inside itself
        command = MoveLayer(self, path, stack_path, index)
        if command.new_path == path:
            return None
        return command.new_path if self._push(command) else None

    def can_move_by(self, path, step: int) -> bool:
        """Whether :meth:`move_by` would move the layer at ``path`` (it stays inside its stack)."""
        if not path_exists(self.spec, path) or path == INPUT:
            return False
        return 0 <= path[-1] + step < len(stack_at(self.spec, path[:-1]))

    def move_by(self, path, step: int) -> tuple | None:
        """Move a layer up (−1) or down (+1) within its stack."""
        if not self.can_move_by(path, step):
            return None
        target = path[-1] + step
        return self.move(path, path[:-1], target if step < 0 else target + 1)

    def insert_type_below_selection(self, type_key: str) -> tuple:
        """Insert a new layer below the selected one: first for the input, last with nothing selected
        (the palette's double-click and Edit → Insert Layer)."""
        selected = self.selected
        if isinstance(selected, tuple):
            return self.insert_type(type_key, selected[:-1], selected[-1] + 1)
        return self.insert_type(type_key, (), 0 if selected == INPUT else len(self.spec.layers))

    def set_fields(self, path: tuple, changes: dict, merge: bool = True, text: str | None = None) -> None:
        """Change hyperparameters of one layer; consecutive edits of the same fields merge into one undo step."""
        from convviz.ui.builder.commands import SetFields

        layer = self.layer(path)
        changes = {k: v for k, v in changes.items() if getattr(layer, k) != v}
        if changes:
            self._push(SetFields(self, path, changes, merge, text))

    def apply_fix(self, path: tuple, fix: Fix) -> None:
        """Apply one of a :class:`ShapeError`'s fixes (change fields, or insert a layer before this one)."""
        name = self.layer_report(path).name
        if fix.insert_before is not None:
            layer = copy.deepcopy(fix.insert_before)
            self.insert(path[:-1], path[-1], layer, f"Fix {name}: {fix.label}")
            self.select(path[:-1] + (path[-1] + 1,))
        else:
            self.set_fields(path, fix_changes(self.layer(path), fix), merge=False, text=f"Fix {name}: {fix.label}")

    def set_input(self, volume: Volume) -> None:
        from convviz.ui.builder.commands import SetInput

        if volume != self.spec.input:
            self._push(SetInput(self, volume))

    def add_branch(self, path: tuple) -> None:
        """Add an empty branch (it passes its input through) to a Branch block."""
        block = self.layer(path)
        branches = copy.deepcopy(block.branches) + [[]]
        self.set_fields(path, {"branches": branches}, merge=False, text="Add branch")

    def remove_branch(self, path: tuple, k: int) -> None:
        """Remove branch ``k`` of a Branch block (a block keeps at least one branch)."""
        block = self.layer(path)
        if len(block.branches) <= 1:
            return
        branches = copy.deepcopy(block.branches)
        del branches[k]
        self.set_fields(path, {"branches": branches}, merge=False, text=f"Remove branch b{k + 1}")

    def seal(self) -> None:
        """End the current run of merged edits: the next change starts a new undo step."""
        command = self.undo_stack.command(self.undo_stack.index() - 1)
        if command is not None and hasattr(command, "merge"):
            command.merge = False

    # -- for the commands -------------------------------------------------------------------------------------
    def _refresh(self, select=None) -> None:
        """Re-analyze the whole network and tell the views; then select ``select`` if given."""
        self.report = analyze(self.spec)
        self.edits += 1
        if self.selected is not None and not path_exists(self.spec, self.selected):
            self.selected = None
            self.selection_changed.emit(None)
        self.changed.emit()
        if select is not None:
            self.select(select)


def field_value_copy(layer: Layer, name: str):
    value = getattr(layer, name)
    return copy.deepcopy(value) if isinstance(value, list) else value


def editable_fields(layer: Layer) -> list[dataclasses.Field]:
    """The fields the inspector shows for ``layer`` (inner stacks are edited in the stack view)."""
    return [f for f in layer.hyperparameters() if f.metadata.get("kind") not in ("layers", "branches")]
