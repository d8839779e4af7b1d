"""The main window off-screen with a trained run opened, for the scripts that remake the README's pictures.

    with trained_window(checkpoint, data, 1280, 800) as (window, settle, tmp):
        settle(lambda: ...)           # process events until the condition holds (then a little more)
        window.grab().save(...)

The run's folder is copied into a temporary folder first (``tmp``, which also holds the window's
settings), so the original is never written; CIFAR-10 is found in the data folder ``data`` (it holds
``cifar10/``). On leaving, the run's thread is stopped and the window closed without asking.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def screenshot_arguments(description: str, argv: list[str], extra=None):
    """(args, width, height, the out folder, made if need be) for a script's --checkpoint, --data, --size, --out
    (``extra(parser)`` adds its own)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--checkpoint", default="/tmp/cifar_run/ckpt")
    parser.add_argument("--data", default=str(ROOT.parent / "shared"))
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--out", default=str(ROOT / "docs"))
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return args, width, height, out


@contextmanager
def trained_window(checkpoint: str, data: str, width: int, height: int):
    """Yields (the MainWindow with the run of ``checkpoint`` open, ``settle(condition, timeout)``, the temporary folder)."""
    import pyqtgraph as pg
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(imageAxisOrder="row-major")
    app = QApplication.instance() or QApplication([])
    from convviz.ui.widgets.dialogs import ConsoleDialogs
    from convviz.ui.window.main_window import MainWindow

    def settle(condition=lambda: True, timeout: float = 600.0) -> None:
        end = time.time() + timeout
        while not condition():
            if time.time() > end:
                raise RuntimeError("timed out")
            app.processEvents()
            time.sleep(0.01)
        for _ in range(30):
            app.processEvents()
            time.sleep(0.01)

    with tempfile.TemporaryDirectory() as tmp:
        copied = shutil.copytree(checkpoint, os.path.join(tmp, "ckpt"))
        settings = QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat)
        settings.setValue("data/folder", data)
        window = MainWindow(settings=settings, dialogs=ConsoleDialogs())
        window.session.data_folder = data
        window.resize(width, height)
        window.show()
        if not window.open_any_path(copied):
            raise SystemExit(f"cannot open the run in {checkpoint}")
        try:
            yield window, settle, tmp
        finally:
            window.session.shutdown()
            window.document.undo_stack.setClean()
            window.close()
