"""The undoable edits of a :class:`~convviz.ui.builder.document.NetworkDocument`, one ``QUndoCommand`` each.

A command changes the plain-Python spec in ``redo`` and puts it back in ``undo``, then asks the
document to re-analyze (``document._refresh``), which emits ``changed`` once. Commands keep the layer
objects they remove, so undoing a removal brings back the very same layer.
"""

from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from convviz.model import Layer, Volume
from convviz.ui.builder.document import (
    INPUT,
    NetworkDocument,
    field_value_copy,
    layer_at,
    stack_at,
)

#: Command ids for merging consecutive edits (typing 1, 2, 8 into a spin box is one undo step).
SET_FIELDS_ID = 1
SET_INPUT_ID = 2


class InsertLayer(QUndoCommand):
    def __init__(self, doc: NetworkDocument, stack_path: tuple, index: int, layer: Layer, text: str | None = None):
        super().__init__(text or f"Insert {layer.TITLE}")
        self.doc, self.stack_path, self.index, self.layer = doc, stack_path, index, layer
        self.previous_selection = doc.selected

    def redo(self) -> None:
        stack_at(self.doc.spec, self.stack_path).insert(self.index, self.layer)
        self.doc._refresh(select=self.stack_path + (self.index,))

    def undo(self) -> None:
        del stack_at(self.doc.spec, self.stack_path)[self.index]
        self.doc._refresh(select=self.previous_selection)


class InsertLayers(QUndoCommand):
    """Several layers inserted at once (a pattern): one undo step."""

    def __init__(self, doc: NetworkDocument, stack_path: tuple, index: int, layers: list[Layer], text: str):
        super().__init__(text)
        self.doc, self.stack_path, self.index, self.layers = doc, stack_path, index, layers
        self.previous_selection = doc.selected

    def redo(self) -> None:
        stack_at(self.doc.spec, self.stack_path)[self.index:self.index] = self.layers
        self.doc._refresh(select=self.stack_path + (self.index,))

    def undo(self) -> None:
        del stack_at(self.doc.spec, self.stack_path)[self.index:self.index + len(self.layers)]
        self.doc._refresh(select=self.previous_selection)


class RemoveLayer(QUndoCommand):
    def __init__(self, doc: NetworkDocument, path: tuple):
        name = doc.layer_report(path).name
        super().__init__(f"Delete {name}")
        self.doc, self.path = doc, path
        self.layer: Layer | None = None

    def redo(self) -> None:
        stack = stack_at(self.doc.spec, self.path[:-1])
        self.layer = stack.pop(self.path[-1])
        if stack:  # select the layer that took its place, or the one above
            neighbour = self.path[:-1] + (min(self.path[-1], len(stack) - 1),)
        else:
            neighbour = self.path[:-3] + (self.path[-3],) if len(self.path) > 1 else INPUT
        self.doc._refresh(select=neighbour)

    def undo(self) -> None:
        stack_at(self.doc.spec, self.path[:-1]).insert(self.path[-1], self.layer)
        self.doc._refresh(select=self.path)


class MoveLayer(QUndoCommand):
    """Move a layer from ``path`` to ``index`` of the stack at ``stack_path`` (as addressed before the move)."""

    def __init__(self, doc: NetworkDocument, path: tuple, stack_path: tuple, index: int):
        name = doc.layer_report(path).name
        super().__init__(f"Move {name}")
        self.doc, self.path = doc, path
        source_stack, source_index = path[:-1], path[-1]
        dest = list(stack_path)
        n = len(source_stack)
        # Taking the layer out shifts the later layers of its stack up by one, including the block
        # that holds the destination, when the destination lies inside a later sibling block.
        if tuple(dest[:n]) == source_stack and len(dest) > n and dest[n] > source_index:
            dest[n] -= 1
        if tuple(stack_path) == source_stack and index > source_index:
            index -= 1
        index = max(0, min(index, len(stack_at(doc.spec, stack_path)) - (1 if tuple(stack_path) == source_stack else 0)))
        self.new_path = tuple(dest) + (index,)

    def redo(self) -> None:
        layer = stack_at(self.doc.spec, self.path[:-1]).pop(self.path[-1])
        stack_at(self.doc.spec, self.new_path[:-1]).insert(self.new_path[-1], layer)
        self.doc._refresh(select=self.new_path)

    def undo(self) -> None:
        layer = stack_at(self.doc.spec, self.new_path[:-1]).pop(self.new_path[-1])
        stack_at(self.doc.spec, self.path[:-1]).insert(self.path[-1], layer)
        self.doc._refresh(select=self.path)


class SetFields(QUndoCommand):
    """Set hyperparameters of one layer. With ``merge``, a following edit of the same fields joins it."""

    def __init__(self, doc: NetworkDocument, path: tuple, changes: dict, merge: bool = True, text: str | None = None):
        name = doc.layer_report(path).name
        if text is None:
            fields = ", ".join(changes)
            text = f"Change {name} {fields}"
        super().__init__(text)
        self.doc, self.path, self.merge = doc, path, merge
        layer = layer_at(doc.spec, path)
        self.before = {key: field_value_copy(layer, key) for key in changes}
        self.after = {key: copy.deepcopy(value) for key, value in changes.items()}

    def id(self) -> int:
        return SET_FIELDS_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetFields) or not (self.merge and other.merge) or other.path != self.path:
            return False
        if set(other.after) != set(self.after):
            return False
        self.after = other.after
        if self.after == self.before:
            self.setObsolete(True)
        return True

    def _apply(self, values: dict) -> None:
        layer = layer_at(self.doc.spec, self.path)
        for key, value in values.items():
            setattr(layer, key, copy.deepcopy(value))
        self.doc._refresh(select=self.path)

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)


class SetInput(QUndoCommand):
    def __init__(self, doc: NetworkDocument, volume: Volume):
        super().__init__(f"Set input to {volume}")
        self.doc, self.before, self.after = doc, doc.spec.input, volume
        self.merge = True

    def id(self) -> int:
        return SET_INPUT_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetInput) or not self.merge:
            return False
        self.after = other.after
        self.setText(f"Set input to {self.after}")
        if self.after == self.before:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.doc.spec.input = self.after
        self.doc._refresh(select=INPUT)

    def undo(self) -> None:
        self.doc.spec.input = self.before
        self.doc._refresh(select=INPUT)


class ReplaceLayer(QUndoCommand):
    """Put ``layer`` in the place of the layer at ``path`` (a replaced classifier head); undo brings
    back the very same old layer."""

    def __init__(self, doc: NetworkDocument, path: tuple, layer: Layer, text: str):
        super().__init__(text)
        self.doc, self.path, self.layer = doc, path, layer
        self.old: Layer | None = None

    def redo(self) -> None:
        stack = stack_at(self.doc.spec, self.path[:-1])
        self.old, stack[self.path[-1]] = stack[self.path[-1]], self.layer
        self.doc._refresh(select=self.path)

    def undo(self) -> None:
        stack_at(self.doc.spec, self.path[:-1])[self.path[-1]] = self.old
        self.doc._refresh(select=self.path)
