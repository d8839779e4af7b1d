"""The Build workspace: the network document, its undoable edits, and the views that edit and describe it."""
