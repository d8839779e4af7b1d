"""The network's files: New, Open, Open Recent, Save, Save As, the case studies, and the prompt
before unsaved work is lost.

:class:`NetworkFiles` reads and writes through :mod:`convviz.model` (saving is atomic: a temporary
file, then ``os.replace``), asks its questions through the window's dialogs object, and keeps the
recent files and the last folder in the window's ``QSettings``. A file that cannot be read leaves
the network as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMenu

from convviz.model import (
    NetworkSpec,
    SpecFormatError,
    Volume,
    load_spec,
    preset,
    preset_names,
    save_spec,
)
from convviz.model.presets import PRESET_PREFIX
from convviz.ui.builder.document import READ_ONLY_NOTICE, NetworkDocument

MAX_RECENT = 8


class NetworkFiles(QObject):
    """Opens and saves the document's network; ``saved(path)`` after every successful save."""

    saved = Signal(str)

    def __init__(self, document: NetworkDocument, settings: QSettings, dialogs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.settings = settings
        self.dialogs = dialogs

    # -- replacing the network -----------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """True when it is safe to replace the network (saved, discarded on request, or unchanged)."""
        if not self.document.modified:
            return True
        answer = self.dialogs.ask_unsaved(self.document.title())
        if answer == "save":
            return self.save()
        return answer == "discard"

    def refuse_while_training(self) -> bool:
        """True (and the user told why) if the network cannot be replaced now: a run trains it."""
        if self.document.read_only:
            self.dialogs.show_error("Training is running", f"{READ_ONLY_NOTICE}: the builder shows the network "
                                    "being trained. Stop the run first to open or start another network.")
        return self.document.read_only

    def new_network(self) -> None:
        if not self.refuse_while_training() and self.maybe_save():
            self.document.reset(NetworkSpec(input=Volume(32, 32, 3), layers=[], name=""))

    def open_file(self) -> None:
        if self.refuse_while_training() or not self.maybe_save():
            return
        path = self.dialogs.open_network(self.last_dir())
        if path:
            self.open_path(path, ask=False)

    def open_recent(self, path: str) -> bool:
        if not os.path.exists(path):
            self.dialogs.show_error("Open recent", f"{path} no longer exists; it is removed from the recent files.")
            self._forget_recent(path)
            return False
        return self.open_path(path)

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open a network file (or ``preset:NAME``). A file that cannot be read leaves the network as it was."""
        path = str(path)
        if self.refuse_while_training():
            return False
        if path.startswith(PRESET_PREFIX):
            name = path[len(PRESET_PREFIX):]
            if name not in preset_names():
                self.dialogs.show_error("No such case study", f"There is no preset named “{name}”. Presets: {', '.join(preset_names())}.")
                return False
            return self.load_preset(name, ask=ask)
        if ask and not self.maybe_save():
            return False
        try:
            spec = load_spec(path)
        except SpecFormatError as exc:
            name = Path(path).name
            self.dialogs.show_problems(
                "Cannot open network",
                f"{name} is not a network ConvViz can open; your current network is unchanged.",
                exc.problems,
            )
            return False
        self.document.reset(spec, file_path=os.path.abspath(path))
        self._add_recent(path)
        return True

    def load_preset(self, name: str, ask: bool = True) -> bool:
        if self.refuse_while_training() or (ask and not self.maybe_save()):
            return False
        self.document.reset(preset(name))
        return True

    # -- saving ------------------------------------------------------------------------------------------------
    def save(self) -> bool:
        if not self.document.file_path:
            return self.save_as()
        return self._write(self.document.file_path)

    def save_as(self) -> bool:
        spec = self.document.spec
        stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in (spec.name or "network").lower()).strip("-")
        current = self.document.file_path
        suggested = current if current else os.path.join(self.last_dir(), f"{stem or 'network'}.json")
        path = self.dialogs.save_network(suggested)
        return bool(path) and self._write(path)

    def _write(self, path: str) -> bool:
        try:
            save_spec(self.document.spec, path)  # atomic: a temp file, then os.replace
        except OSError as exc:
            self.dialogs.show_error("Cannot save", f"Could not save {path}: {exc.strerror or exc}")
            return False
        self.document.mark_saved(os.path.abspath(path))
        self._add_recent(path)
        self.saved.emit(path)
        return True

    # -- recent files ---------------------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: str) -> None:
        path = os.path.abspath(path)
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("files/recent", recent[:MAX_RECENT])
        self.settings.setValue("files/last_dir", os.path.dirname(path))

    def _forget_recent(self, path: str) -> None:
        self.settings.setValue("files/recent", [p for p in self.recent_files() if p != path])

    def fill_recent_menu(self, menu: QMenu) -> None:
        """Fill File → Open Recent (called as it opens)."""
        menu.clear()
        recent = self.recent_files()
        for i, path in enumerate(recent, start=1):
            a = menu.addAction(f"&{i} {Path(path).name}", lambda p=path: self.open_recent(p))
            a.setStatusTip(path)
            a.setToolTip(path)
        if not recent:
            menu.addAction("(no recent files)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear Recent Files", lambda: self.settings.setValue("files/recent", []))

    def last_dir(self) -> str:
        return str(self.settings.value("files/last_dir", str(Path.home())))
