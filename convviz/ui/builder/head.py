"""Edit → Replace Last FC Layer…: the classifier head replaced for N classes, as one undo step.

The new FC layer (named ``head``, see :func:`convviz.model.fine_tune.replace_head`) starts from fresh
weights; the run session keeps every other layer's imported or trained weights
(:meth:`RunSession.current_weights` follows the builder through such fine-tuning edits).
"""

from __future__ import annotations

from convviz.model.fine_tune import last_fc_index, replace_head
from convviz.ui.builder.document import NetworkDocument

#: The classes of the data sets the app trains on (CIFAR-10 and the synthetic set).
DATA_SET_CLASSES = 10


def can_replace_head(document: NetworkDocument) -> bool:
    return not document.read_only and last_fc_index(document.spec) is not None


def replace_last_fc(document: NetworkDocument, classes: int = DATA_SET_CLASSES) -> tuple | None:
    """Replace the network's last top-level FC layer by a fresh one of ``classes`` units; returns its
    path (None: read-only, or the network has no FC layer). ValueError for a bad ``classes``."""
    from convviz.ui.builder.commands import ReplaceLayer

    index = last_fc_index(document.spec)
    if index is None or document.read_only:
        return None
    new = replace_head(document.spec, classes).layers[index]
    old = document.layer_report((index,)).name
    document.seal()
    document.undo_stack.push(ReplaceLayer(document, (index,), new, f"Replace {old} by {new.name} ({classes} classes)"))
    return (index,)


def ask_and_replace_head(parent, document: NetworkDocument) -> tuple | None:
    """Ask for the number of classes (default: the data set's 10), then :func:`replace_last_fc`."""
    from PySide6.QtWidgets import QInputDialog

    from convviz.model.layers import LIMITS

    if not can_replace_head(document):
        return None
    index = last_fc_index(document.spec)
    old = document.layer_report((index,))
    classes, ok = QInputDialog.getInt(
        parent, "Replace the last FC layer",
        f"{old.name} ({old.layer.brief()}) becomes a new FC layer with fresh weights; every other layer keeps "
        f"its weights.\nClasses (CIFAR-10 has {DATA_SET_CLASSES}):",
        DATA_SET_CLASSES, 1, LIMITS["units"])
    return replace_last_fc(document, classes) if ok else None
