"""Get CIFAR-10 from the app: download it, or take an archive the user has, with a progress dialog.

:func:`convviz.data.fetch_cifar10` runs in a worker thread; its progress callback (bytes done,
total, rate) is re-emitted as a signal for the dialog. Cancel makes the next callback raise, which
stops the download and keeps the partial file, so the next attempt resumes where it stopped.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from convviz.data.download import Progress
from convviz.model.summary import format_bytes
from convviz.ui.gui_gc import collect_on_gui_thread


class Cancelled(Exception):
    """Raised from the progress callback when the user pressed Cancel."""


class FetchWorker(QObject):
    progress = Signal(object)  # Progress
    succeeded = Signal(str)  # what was done
    failed = Signal(str)  # why not
    finished = Signal()

    def __init__(self, archive: str | None = None, cache: str | None = None) -> None:
        super().__init__()
        self.archive = archive
        self.cache = cache
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def _report(self, progress: Progress) -> None:
        if self._cancel.is_set():
            raise Cancelled()
        self.progress.emit(progress)

    @Slot()
    def run(self) -> None:
        from convviz.data import DataError, fetch_cifar10

        try:
            result = fetch_cifar10(self.cache, archive=self.archive, progress=self._report)
            self.succeeded.emit(f"CIFAR-10 {result.note}: {result.path}")
        except Cancelled:
            self.failed.emit("Download cancelled. The part already downloaded is kept: the next download resumes it.")
        except DataError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # never a dead thread: say what happened
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self.finished.emit()


def progress_text(progress: Progress) -> str:
    """``12.3 MB of 170.5 MB at 4.1 MB/s, about 0:34 left``."""
    text = format_bytes(progress.done)
    if progress.total:
        text += f" of {format_bytes(progress.total)}"
    if progress.rate > 0:
        text += f" at {format_bytes(int(progress.rate))}/s"
    left = progress.seconds_left
    if left is not None:
        text += f", about {int(left) // 60}:{int(left) % 60:02d} left"
    return text


class FetchDialog(QProgressDialog):
    """A progress dialog over a :class:`FetchWorker`; ``outcome`` holds (ok, message) when done."""

    def __init__(self, parent: QWidget | None, archive: str | None = None, cache: str | None = None) -> None:
        title = "Checking your CIFAR-10 archive…" if archive else "Downloading CIFAR-10 (170 MB)…"
        super().__init__(title, "Cancel", 0, 1000, parent)
        self.setWindowTitle("CIFAR-10")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.outcome: tuple[bool, str] | None = None
        self.thread = QThread()
        self.worker = FetchWorker(archive, cache)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self._release_gc = lambda: None
        self.worker.finished.connect(self._fetched, Qt.ConnectionType.DirectConnection)
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        queued = Qt.ConnectionType.QueuedConnection  # the worker emits from its own thread
        self.worker.progress.connect(self._on_progress, queued)
        self.worker.succeeded.connect(self._on_succeeded, queued)
        self.worker.failed.connect(self._on_failed, queued)
        self.canceled.connect(self.worker.cancel, Qt.ConnectionType.DirectConnection)
        self.progress_seen: list[Progress] = []
        self._title = title

    def start(self) -> None:
        self._release_gc = collect_on_gui_thread()  # garbage is collected on the GUI thread meanwhile
        self.thread.start()

    def _fetched(self) -> None:
        """The worker's last act on its thread: the GUI thread may let automatic collection back."""
        self._release_gc()

    def _on_progress(self, progress: Progress) -> None:
        self.progress_seen.append(progress)
        fraction = progress.fraction
        if fraction is None:
            self.setMaximum(0)  # a busy bar when the size is unknown
        else:
            self.setMaximum(1000)
            self.setValue(int(fraction * 1000))
        self.setLabelText(f"{self._title}\n{progress_text(progress)}")

    def _on_succeeded(self, text: str) -> None:
        self._done(True, text)

    def _on_failed(self, text: str) -> None:
        self._done(False, text)

    def _done(self, ok: bool, text: str) -> None:
        self.outcome = (ok, text)
        self.thread.wait(5000)
        self.done(0)
