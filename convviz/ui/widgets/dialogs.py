"""Every question and message box the window shows, in one object.

The window never calls ``QFileDialog`` or ``QMessageBox`` itself: it asks its :class:`Dialogs`, so tests
hand it one that answers at once, and ``--screenshot`` hands it :class:`ConsoleDialogs`, which
prints instead of waiting for a click.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

FILE_FILTER = "ConvViz networks (*.json);;All files (*)"


class Dialogs:
    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def open_network(self, directory: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open network", directory, FILE_FILTER)
        return path or None

    def save_network(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save network as", suggested, FILE_FILTER)
        if path and not path.lower().endswith(".json"):
            path += ".json"
        return path or None

    def ask_unsaved(self, name: str) -> str:
        """``save``, ``discard`` or ``cancel`` for a network with unsaved changes."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.parent,
            "Unsaved changes",
            f"“{name}” has changes that are not saved. Save them first?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def open_cifar10_archive(self, directory: str) -> str | None:
        """A CIFAR-10 ``.tar.gz`` the user already has."""
        path, _ = QFileDialog.getOpenFileName(
            self.parent, "Use a CIFAR-10 archive", directory, "CIFAR-10 python archive (*.tar.gz *.tgz);;All files (*)"
        )
        return path or None

    def choose_data_folder(self, current: str) -> str | None:
        """The folder where ConvViz keeps CIFAR-10."""
        path = QFileDialog.getExistingDirectory(self.parent, "Folder for CIFAR-10 and other data", current)
        return path or None

    def ask_save_run(self) -> str:
        """``save``, ``discard`` or ``cancel`` for a training run still going when the window closes."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.parent,
            "Training is running",
            "A training run is still going. Save it as a checkpoint before closing, so you can resume it?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def ask_unsaved_run(self, steps: int, doing: str) -> str:
        """``save``, ``discard`` or ``cancel`` for a run whose last ``steps`` trained steps no checkpoint
        holds, before ``doing`` (``starting a new run``, ``closing``) loses them."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.parent,
            "The trained run is not saved",
            f"The last run trained {steps} {'step' if steps == 1 else 'steps'} that no checkpoint holds, and "
            f"{doing} discards them. Save the run first?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def choose_run_folder(self, suggested: str) -> str | None:
        """A folder for a training checkpoint (created if needed)."""
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save the training run as a folder", suggested, "Checkpoint folder (*)")
        return path or None

    def open_run(self, directory: str) -> str | None:
        """A checkpoint folder to open (File → Open Run…)."""
        path = QFileDialog.getExistingDirectory(self.parent, "Open a training run (its checkpoint folder)", directory)
        return path or None

    def choose_export_folder(self, suggested: str) -> str | None:
        """A folder for the PyTorch export (model.py, weights.safetensors, network.json, train.py)."""
        path, _ = QFileDialog.getSaveFileName(self.parent, "Export to PyTorch: a folder", suggested, "Folder (*)")
        return path or None

    def save_onnx(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Export to ONNX", suggested, "ONNX model (*.onnx);;All files (*)")
        if path and not path.lower().endswith(".onnx"):
            path += ".onnx"
        return path or None

    def open_weights(self, directory: str) -> str | None:
        """A safetensors file or a PyTorch state_dict (File → Import Weights…)."""
        path, _ = QFileDialog.getOpenFileName(self.parent, "Import weights", directory,
                                              "Weights (*.safetensors *.pth *.pt *.bin);;All files (*)")
        return path or None

    def show_problems(self, title: str, text: str, problems: list[str]) -> None:
        """A file that could not be opened: what is wrong with it, one line per problem."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.parent)
        shown = problems[:12]
        more = f"\n… and {len(problems) - 12} more (see Details)" if len(problems) > 12 else ""
        box.setInformativeText("\n".join(f"• {p}" for p in shown) + more)
        if len(problems) > 12:
            box.setDetailedText("\n".join(problems))
        box.exec()

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent, title, text)

    def show_info(self, title: str, text: str) -> None:
        QMessageBox.information(self.parent, title, text)

    def show_help(self, title: str, html: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, html, QMessageBox.StandardButton.Ok, self.parent)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.exec()

    def about(self, title: str, html: str) -> None:
        QMessageBox.about(self.parent, title, html)


class ConsoleDialogs(Dialogs):
    """For runs without a person at the screen (``--screenshot``): print, never wait."""

    def open_network(self, directory: str) -> str | None:
        return None

    def save_network(self, suggested: str) -> str | None:
        return None

    def ask_unsaved(self, name: str) -> str:
        return "discard"

    def open_cifar10_archive(self, directory: str) -> str | None:
        return None

    def choose_data_folder(self, current: str) -> str | None:
        return None

    def ask_save_run(self) -> str:
        return "discard"

    def ask_unsaved_run(self, steps: int, doing: str) -> str:
        return "discard"

    def choose_run_folder(self, suggested: str) -> str | None:
        return None

    def open_run(self, directory: str) -> str | None:
        return None

    def choose_export_folder(self, suggested: str) -> str | None:
        return None

    def save_onnx(self, suggested: str) -> str | None:
        return None

    def open_weights(self, directory: str) -> str | None:
        return None

    def show_problems(self, title: str, text: str, problems: list[str]) -> None:
        print(f"convviz: {text}", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)

    def show_error(self, title: str, text: str) -> None:
        print(f"convviz: {text}", file=sys.stderr)

    def show_info(self, title: str, text: str) -> None:
        print(f"convviz: {text}", file=sys.stderr)

    def show_help(self, title: str, html: str) -> None:
        pass

    def about(self, title: str, html: str) -> None:
        pass
