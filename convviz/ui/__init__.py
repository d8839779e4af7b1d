"""The desktop app: windows, docks, views and the Qt models over the plain-Python state.

Importing it first guards against the PySide6 build's ``None`` reference-count bug (see
:mod:`convviz.ui.pyside_guard`), so every view, including pyqtgraph's, can repaint for as long as
the app runs.
"""

from convviz.ui.pyside_guard import guard_none_refcount

guard_none_refcount()
