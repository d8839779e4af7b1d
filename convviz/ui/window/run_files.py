"""The run's files: File → Open Run…, File → Export → PyTorch… / ONNX…, File → Import Weights….

:class:`RunFiles` reads a checkpoint folder with every check ``convviz train --resume`` makes
(:func:`convviz.ui.session.read_run`) before anything changes, then shows its network in the builder
and makes its weights and records the session's; a run that cannot be used is refused with what is
wrong, leaving the window as it was. Exports go through :mod:`convviz.export` with the network the
builder shows and the session's weights for it (trained, imported or freshly seeded); imported
weights are checked against the builder's network, name by name, before any is read.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import QApplication

from convviz.ui.builder.document import NetworkDocument
from convviz.ui.session import RunSession, read_run
from convviz.ui.window.files import NetworkFiles

CHECKPOINT_INDEX = "checkpoint.json"


def is_run_path(path: str) -> bool:
    """True for a checkpoint folder (it holds ``checkpoint.json``) or that ``checkpoint.json`` itself."""
    p = Path(path)
    return p.name == CHECKPOINT_INDEX or (p.is_dir() and (p / CHECKPOINT_INDEX).is_file())


class RunFiles(QObject):
    """Opens runs, exports the network and imports weights (see the module docstring)."""

    def __init__(self, document: NetworkDocument, session: RunSession, files: NetworkFiles, training, dialogs,
                 settings: QSettings, status_bar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.session = session
        self.files = files
        self.training = training  # the Training panel: its settings follow an opened run
        self.dialogs = dialogs
        self.settings = settings
        self.status_bar = status_bar

    def _last_dir(self) -> str:
        return str(self.settings.value("runs/last_dir", self.files.last_dir()))

    # -- Open Run ------------------------------------------------------------------------------------------
    def open_run(self) -> bool:
        if self.files.refuse_while_training():
            return False
        path = self.dialogs.open_run(self._last_dir())
        return bool(path) and self.open_run_path(path)

    def open_run_path(self, path: str) -> bool:
        """Open the run saved in ``path`` (a checkpoint folder or its ``checkpoint.json``): its network
        in the builder, its weights and records in the session. A bad one changes nothing."""
        if self.files.refuse_while_training():
            return False
        if not self.files.maybe_save() or not self.training.may_discard_run("opening another run"):
            return False
        with _busy():
            try:
                opened = read_run(path)
            except (ValueError, OSError) as exc:
                self.dialogs.show_error("Cannot open run", f"{path} is not a run ConvViz can open; nothing was "
                                        f"changed.\n\n{exc}")
                return False
        self.document.reset(opened.spec.copy())  # edits in the builder never touch the opened run's network
        self.session.adopt_run(opened)
        self.training.show_opened(opened)
        self.settings.setValue("runs/last_dir", str(Path(opened.folder).parent))
        self.status_bar.showMessage(f"Opened the run in {opened.folder} at step {opened.step:,}", 10_000)
        return True

    # -- Export ----------------------------------------------------------------------------------------------
    def _source(self):
        """The builder's network with the session's weights for it, as ``convviz.export`` takes it."""
        from convviz.export import Source

        weights = self.session.current_weights()  # a run going on: taken between two steps
        spec = self.session.network()
        origin = self.session.weights_origin
        words = {"training": "weights taken mid-run", "trained": "trained weights", "imported": "imported weights",
                 "fresh": "fresh weights (seed 0)"}.get(origin, origin)
        return Source(spec, weights, self.training.config(), f"ConvViz app: {spec.name or 'network'}, {words}")

    def _stem(self) -> str:
        name = self.document.spec.name or "network"
        return "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower()).strip("-") or "network"

    def export_pytorch(self, folder: str | None = None) -> bool:
        """Write model.py, weights.safetensors, network.json and train.py into ``folder`` (asked for if None)."""
        from convviz.export import export_pytorch

        folder = folder or self.dialogs.choose_export_folder(os.path.join(self._last_dir(), f"{self._stem()}-pytorch"))
        if not folder:
            return False
        return self._export("PyTorch", folder, lambda source: export_pytorch(source, folder))

    def export_onnx(self, path: str | None = None) -> bool:
        from convviz.export import export_onnx

        path = path or self.dialogs.save_onnx(os.path.join(self._last_dir(), f"{self._stem()}.onnx"))
        if not path:
            return False
        return self._export("ONNX", path, lambda source: [export_onnx(source, path)])

    def _export(self, kind: str, where: str, write) -> bool:
        self.status_bar.showMessage(f"Exporting {self.document.spec.name or 'the network'} to {kind} in {where} …")
        with _busy():
            try:
                source = self._source()
                written = write(source)
            except (ValueError, TimeoutError, ImportError, OSError) as exc:
                self.status_bar.clearMessage()
                reason = getattr(exc, "strerror", None) or exc
                self.dialogs.show_error(f"Cannot export to {kind}", f"Nothing was exported to {where}: {reason}")
                return False
        self.status_bar.showMessage(f"Exported to {where}", 10_000)
        names = ", ".join(Path(p).name for p in written)
        self.dialogs.show_info(f"Exported to {kind}", f"{source.origin} went to {where} ({names}).")
        self.settings.setValue("runs/last_dir", str(Path(where).parent))
        return True

    # -- Import Weights ----------------------------------------------------------------------------------
    def import_weights(self, path: str | None = None) -> bool:
        """Load a safetensors or .pt/.pth file into the builder's network and make them the session's
        weights; a file that does not fit lists every difference and changes nothing."""
        from convviz.export.importing import import_weights

        if self.files.refuse_while_training():
            return False
        path = path or self.dialogs.open_weights(self._last_dir())
        if not path:
            return False
        spec = self.document.spec.copy()
        if not self.document.report.valid:
            self.dialogs.show_error("Cannot import weights", "The network has problems; fix them first, then import.")
            return False
        with _busy():
            try:
                imported = import_weights(spec, path)
            except (ValueError, ImportError, OSError) as exc:
                text = str(exc)
                head, _, rest = text.partition(": ")
                listed = "; " in rest  # "X does not fit N in L layout: a; b; c": one line per difference
                problems = rest.split("; ") if listed else [text]
                why = f" ({head})" if listed else ""
                self.dialogs.show_problems("Cannot import weights", f"{Path(path).name} was not loaded{why}; the "
                                           "network keeps its weights.", problems)
                return False
        self.session.use_weights(spec, imported.weights, "imported")
        self.settings.setValue("runs/last_dir", str(Path(path).parent))
        skipped = f" ({len(imported.ignored)} tensors left out)" if imported.ignored else ""
        self.status_bar.showMessage(f"Imported {len(imported.weights)} weights from {Path(path).name} in "
                                    f"{imported.layout} layout{skipped}", 15_000)
        return True


class _busy:
    """A wait cursor while the GUI thread reads or writes a file."""

    def __enter__(self):
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        QApplication.processEvents()  # the status note shows before the work starts

    def __exit__(self, *exc):
        QApplication.restoreOverrideCursor()
        return False
