"""Helpers for the builder tests: dialogs that answer at once, drops delivered like a user's."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent


class FakeDialogs:
    """Answers every question the window asks and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.unsaved_answer = "discard"
        self.open_answer: str | None = None
        self.save_answer: str | None = None
        self.run_answer = "discard"  # what to do with a training run when the window closes
        self.unsaved_run_answer = "cancel"  # what to do with an ended run's unsaved training
        self.think = None  # called before answering whether to save a run: a person taking their time
        self.run_folder: str | None = None
        self.archive_answer: str | None = None
        self.data_folder_answer: str | None = None

    def open_network(self, directory: str):
        self.calls.append(("open", directory))
        return self.open_answer

    def save_network(self, suggested: str):
        self.calls.append(("save", suggested))
        return self.save_answer

    def ask_unsaved(self, name: str) -> str:
        self.calls.append(("unsaved", name))
        return self.unsaved_answer

    def open_cifar10_archive(self, directory: str):
        self.calls.append(("archive", directory))
        return self.archive_answer

    def choose_data_folder(self, current: str):
        self.calls.append(("data folder", current))
        return self.data_folder_answer

    def ask_save_run(self) -> str:
        self.calls.append(("save run?",))
        if self.think is not None:
            self.think()
        return self.run_answer

    def ask_unsaved_run(self, steps: int, doing: str) -> str:
        self.calls.append(("unsaved run", steps, doing))
        return self.unsaved_run_answer

    def choose_run_folder(self, suggested: str):
        self.calls.append(("run folder", suggested))
        return self.run_folder

    def show_problems(self, title: str, text: str, problems: list[str]) -> None:
        self.calls.append(("problems", text, list(problems)))

    def show_error(self, title: str, text: str) -> None:
        self.calls.append(("error", text))

    def show_info(self, title: str, text: str) -> None:
        self.calls.append(("info", text))

    def show_help(self, title: str, html: str) -> None:
        self.calls.append(("help", html))

    def about(self, title: str, html: str) -> None:
        self.calls.append(("about", html))

    def asked(self, kind: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == kind]


def drop(view, mime: QMimeData, pos: QPoint) -> QDropEvent:
    """Deliver a drop of ``mime`` at ``pos`` (viewport coordinates) through the view's own ``dropEvent``."""
    event = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction | Qt.DropAction.MoveAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)
    return event


def upper_half(view, path) -> QPoint:
    """A point in the upper half of the card at ``path`` (a drop there inserts before it)."""
    rect = view.visualRect(view.stack_model.index_of(path))
    assert rect.isValid(), f"no card at {path}"
    return QPoint(rect.center().x(), rect.top() + 4)


def lower_half(view, path) -> QPoint:
    rect = view.visualRect(view.stack_model.index_of(path))
    assert rect.isValid(), f"no card at {path}"
    return QPoint(rect.center().x(), rect.bottom() - 4)


def names(window) -> list[str]:
    """The names on the top-level cards, in order."""
    return [r.name for r in window.document.report.layers]
