"""Make ``docs/screenshot.png`` for the README: the window at first start, in 256 colours.

    python docs/make_screenshot.py [--out docs/other.png] [ARGS FOR main.py …]

e.g. ``--out docs/train-workspace.png --workspace train --size 1600x1000``. Runs
``main.py --screenshot`` (off-screen, throw-away settings), then keeps the 256 most frequent
colours of the picture and maps every other colour to its nearest one, which keeps a window's flat
fills, borders and anti-aliased text clean and the file small (well under 300 kB).

``--train DATA`` makes the Train workspace's picture instead: the window (off-screen, throw-away
settings) trains ``--preset`` on DATA (``synthetic``, ``cifar10`` or a ``cifar-10-python.tar.gz``)
for ``--epochs`` on one thread, as the app does, then shows it at ``--size`` after the run, with
the Filters dock beside Every layer::

    python docs/make_screenshot.py --out docs/training.png --train /path/cifar-10-python.tar.gz --epochs 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshot.png"


def quantize(src: str, dst: str, colours: int = 256) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (QImage needs it for PNG)
    image = QImage(src).convertToFormat(QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.bytesPerLine() * h // 4)
    pixels = pixels.reshape(h, image.bytesPerLine() // 4)[:, :w] & 0xFFFFFF
    unique, inverse, counts = np.unique(pixels.ravel(), return_inverse=True, return_counts=True)
    palette = unique[np.argsort(counts)[::-1][:colours]]

    def rgb(values: np.ndarray) -> np.ndarray:
        return np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=1).astype(np.int32)

    pal_rgb = rgb(palette)
    nearest = np.empty(len(unique), dtype=np.uint8)
    for start in range(0, len(unique), 4096):
        chunk = rgb(unique[start:start + 4096])
        distance = ((chunk[:, None, :] - pal_rgb[None, :, :]) ** 2).sum(axis=2)
        nearest[start:start + 4096] = distance.argmin(axis=1)
    indices = np.ascontiguousarray(nearest[inverse].reshape(h, w))
    indexed = QImage(indices.data, w, h, w, QImage.Format.Format_Indexed8)
    indexed.setColorTable([0xFF000000 | int(c) for c in palette])
    if not indexed.save(dst, "PNG", 0):
        raise OSError(f"could not write {dst}")


def trained_window_png(path: str, data: str, preset_name: str, epochs: int, size: str, optimizer: str,
                       filters: str) -> None:
    """The window in the Train workspace after training ``preset_name`` on ``data`` for ``epochs`` with
    ``optimizer``, the Filters dock showing ``filters`` (weights, learned or gradients)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from convviz.model import preset
    from convviz.ui.widgets.dialogs import ConsoleDialogs
    from convviz.ui.window.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    width, height = (int(v) for v in size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat),
                            dialogs=ConsoleDialogs())
        window.resize(width, height)
        window.document.reset(preset(preset_name))
        window.training.use_source(data)
        window.training.epochs.setValue(epochs)
        window.training.optimizer.setCurrentText(optimizer)
        window.filters.set_showing(filters)
        window.workspaces.switch("train")
        window.workspaces.reset()
        # the filters beside every layer's maps (a user's own arrangement of the docks), the views half the height
        window.removeDockWidget(window.filters_dock)  # out of the tabs, beside them
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, window.filters_dock, Qt.Orientation.Horizontal)
        window.filters_dock.show()
        window.show()
        app.processEvents()
        bottom = window.layers_dock.width() + window.filters_dock.width()
        window.resizeDocks([window.layers_dock, window.filters_dock], [int(bottom * 0.64), int(bottom * 0.36)],
                           Qt.Orientation.Horizontal)
        window.resizeDocks([window.layers_dock], [int(height * 0.5)], Qt.Orientation.Vertical)
        started = time.perf_counter()
        window.session.event.connect(lambda e: print(f"{time.perf_counter() - started:6.0f} s  {e.message}", flush=True))
        window.training.start()
        wait(app, lambda: window.session.state == "finished", QEventLoop, QTimer)
        snapshot = window.session.records.snapshot
        right = [i for i, (scores, label) in enumerate(zip(snapshot.probe_scores, snapshot.probe_labels, strict=True))
                 if int(scores.argmax()) == int(label)]
        window.probes.select(right[0] if right else 0)  # the rows of a probe the network gets right
        end = time.perf_counter() + 4.0  # the views draw the run's last snapshot
        wait(app, lambda: time.perf_counter() > end, QEventLoop, QTimer)
        if not window.grab().save(path, "PNG"):
            raise OSError(f"could not write {path}")
        window.document.undo_stack.setClean()
        window.close()


def wait(app, done, QEventLoop, QTimer) -> None:
    loop = QEventLoop()
    check = QTimer(interval=100)
    check.timeout.connect(lambda: loop.quit() if done() else None)
    check.start()
    loop.exec()
    check.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"the PNG to write (default {OUT.relative_to(ROOT)})")
    parser.add_argument("--train", metavar="DATA", help="train on DATA first and show the Train workspace")
    parser.add_argument("--preset", default="convnetjs", help="the network --train trains (default convnetjs)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs --train trains (default 1)")
    parser.add_argument("--optimizer", default="momentum", help="the optimizer --train trains with (default momentum)")
    parser.add_argument("--filters", default="learned", choices=("weights", "learned", "gradients"),
                        help="what the Filters dock shows after --train (default learned: W − W₀)")
    args, app_args = parser.parse_known_args(argv)
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.png")
        if args.train:
            size = app_args[app_args.index("--size") + 1] if "--size" in app_args else "1280x800"
            trained_window_png(raw, args.train, args.preset, args.epochs, size, args.optimizer, args.filters)
        else:
            subprocess.run([sys.executable, str(ROOT / "main.py"), *app_args, "--screenshot", raw], check=True, cwd=ROOT)
        if args.train:  # colour maps and filters: every colour kept (a 256-colour palette bands them)
            shutil.copyfile(raw, out)
        else:
            quantize(raw, str(out))
    print(f"{out}: {out.stat().st_size / 1000:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
