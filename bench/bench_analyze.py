"""The Analyze workspace's background work: how long it takes, and whether the window keeps its beat.

    python bench/bench_analyze.py [--checkpoint /tmp/cifar_run/ckpt] [--data ../shared] [--rounds 3]

Opens the window off-screen with a trained checkpoint (copied first: the original is never touched),
goes to the Analyze workspace and, each round, evaluates the 10,000 CIFAR-10 test images and then
finds conv1's top-9 patches, both on the workspace's threads, while a 20 ms QTimer on the GUI thread
records how late each tick fires (lateness = gap − 20 ms). Prints the lateness (median, p95, p99,
max) with the window idle (before the first job and a second after each round: the machine's own
noise), during the first evaluation (which also reads CIFAR-10), the later ones, while a result is
drawn and its first image explained, and during the patch searches, and each job's
duration (median over the rounds) beside the same work done bare on the main thread, measured in
the same run (the reference: the ratio is the price of doing it in the background).

``--data`` is the data folder holding ``cifar10/cifar-10-python.tar.gz``. Without the checkpoint or
the data it says what is missing and exits without measuring.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TICK_MS = 20
LAYER = "conv1"


class Beat:
    """A 20 ms QTimer on the GUI thread; each tick's lateness goes into the list of the phase named."""

    def __init__(self):
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.phase, self.late, self.last = "idle", {}, None
        self.clock = QElapsedTimer()
        self.timer = QTimer(interval=TICK_MS)
        self.timer.setTimerType(self.timer.timerType().PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.clock.start()
        self.timer.start()

    def _tick(self):
        now = self.clock.nsecsElapsed() / 1e6
        if self.last is not None:
            self.late.setdefault(self.phase, []).append(max(0.0, now - self.last - TICK_MS))
        self.last = now


def wait_until(app, condition, timeout: float) -> float:
    """Run the event loop until ``condition()``; the seconds it took (RuntimeError after ``timeout``)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"gave up after {timeout:g} s")
        app.processEvents()
        time.sleep(0.002)
    return time.perf_counter() - start


def window_rounds(app, checkpoint: str, data_folder: str, rounds: int) -> tuple[dict, list[float], list[float], float]:
    """Lateness by phase, the evaluations' and the patch searches' durations (s), and the first
    evaluation's (it also reads CIFAR-10)."""
    from PySide6.QtCore import QSettings

    from convviz.ui.widgets.dialogs import ConsoleDialogs
    from convviz.ui.window.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat)
        settings.setValue("data/folder", data_folder)
        window = MainWindow(settings=settings, dialogs=ConsoleDialogs())
        window.session.data_folder = data_folder
        window.resize(1280, 800)
        window.show()
        if not window.open_any_path(checkpoint):
            raise RuntimeError(f"cannot open the run in {checkpoint}")
        page = window.analyzer
        page.follow.setChecked(False)
        page.set_source("cifar10")
        page.tabs.setCurrentIndex(0)
        beat = Beat()
        wait_until(app, lambda: len(beat.late.get("idle", [])) >= 100, 30)
        evaluations, searches = [], []
        beat.phase = "first evaluation"  # it also reads CIFAR-10 (unpickling holds the GIL)
        window.workspaces.switch("analyze")  # the first evaluation starts when the page shows
        first = wait_until(app, lambda: page.result is not None and not page.evaluating, 600)
        beat.phase = "explaining"
        wait_until(app, lambda: not page.explaining, 60)
        for _ in range(rounds):
            page.tabs.setCurrentIndex(0)
            beat.phase = "evaluating"
            start = time.perf_counter()
            shown = page.result
            page.evaluate_now()
            wait_until(app, lambda shown=shown: page.result is not shown and not page.evaluating, 600)
            evaluations.append(time.perf_counter() - start)
            beat.phase = "explaining"
            wait_until(app, lambda: not page.explaining, 60)
            beat.phase = "finding patches"
            start = time.perf_counter()
            page.show_filters(LAYER)
            wait_until(app, lambda: page._patches_for is not None and page._patches_for[0] is page.result
                       and not page.finding_patches, 600)
            searches.append(time.perf_counter() - start)
            beat.phase = "idle"
            idle = len(beat.late["idle"])
            wait_until(app, lambda idle=idle: len(beat.late["idle"]) >= idle + 50, 30)  # the machine's noise, between jobs
        beat.timer.stop()
        page.shutdown()
        window.session.shutdown()
        window.document.undo_stack.setClean()
        window.close()
    return beat.late, evaluations, searches, first


def bare_rounds(checkpoint: str, data_folder: str, rounds: int) -> tuple[list[float], list[float]]:
    """The same evaluation and patch search on the main thread, no window: durations (s)."""
    from convviz.analysis import evaluate, layer_top_patches
    from convviz.data import load_dataset
    from convviz.engine import Network
    from convviz.ui.run_records import read_run

    opened = read_run(checkpoint)
    data = load_dataset("cifar10", validation=0, cache=data_folder)
    net = Network(opened.spec, seed=0)
    net.set_weights(opened.weights)
    evaluations, searches = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        evaluate(net, data)
        evaluations.append(time.perf_counter() - start)
        start = time.perf_counter()
        layer_top_patches(net, data, LAYER, k=9)
        searches.append(time.perf_counter() - start)
    return evaluations, searches


def figures(values: list[float]) -> str:
    values = sorted(values)
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return (f"median {statistics.median(values):5.1f} ms, p95 {p(0.95):5.1f} ms, p99 {p(0.99):5.1f} ms, "
            f"max {values[-1]:6.1f} ms over {len(values):,} ticks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="/tmp/cifar_run/ckpt", help="a trained run's checkpoint folder")
    parser.add_argument("--data", default=str(ROOT.parent / "shared"), help="the data folder holding cifar10/")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from convviz.data import find_cifar10

    if not (Path(args.checkpoint) / "checkpoint.json").is_file():
        print(f"skipped: no checkpoint at {args.checkpoint} (train one: convviz train preset:convnetjs --data cifar10 "
              f"--epochs 5 --checkpoint DIR)")
        return 0
    if find_cifar10(args.data) is None:
        print(f"skipped: CIFAR-10 is not in {args.data}/cifar10 (File → Get CIFAR-10, or --data FOLDER)")
        return 0

    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(imageAxisOrder="row-major")
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = shutil.copytree(args.checkpoint, os.path.join(tmp, "ckpt"))
        late, evaluations, searches, first = window_rounds(app, checkpoint, args.data, args.rounds)
        bare_eval, bare_search = bare_rounds(checkpoint, args.data, args.rounds)

    print(f"Analyze workspace, {args.checkpoint}, 10,000 CIFAR-10 test images, {args.rounds} rounds, "
          f"{os.cpu_count()} cores (a shared machine: other work runs beside this)")
    print(f"  first evaluation (reads CIFAR-10 too): {first:.2f} s")
    e, s = statistics.median(evaluations), statistics.median(searches)
    be, bs = statistics.median(bare_eval), statistics.median(bare_search)
    print(f"  evaluation, on its thread:     {e:6.2f} s   bare on the main thread {be:6.2f} s   ({e / be:.2f}×)")
    print(f"  {LAYER} top-9 patches, thread:   {s:6.2f} s   bare on the main thread {bs:6.2f} s   ({s / bs:.2f}×)")
    print(f"  GUI timer lateness ({TICK_MS} ms QTimer):")
    for phase in ("idle", "first evaluation", "evaluating", "explaining", "finding patches"):
        if late.get(phase):
            print(f"    {phase:16s} {figures(late[phase])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
