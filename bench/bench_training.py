"""Training in the background: throughput through the Qt worker, and the GUI thread's latency meanwhile.

    python bench/bench_training.py [--steps 300] [--batch 64] [--preset convnetjs] [--cores 1|2]

1. The bare trainer (a plain loop over ``Trainer.run()``, no snapshots) against the same run in the
   app's worker thread while the real window consumes it, in the Train workspace with every view
   visible: the curves, and the every-layer rows, probe images, layer health, filters and the
   activations view each in a window of its own (they share one place as tabs otherwise), drawing a
   snapshot every second. Alternating rounds, medians; target ≥ 90%.
2. The GUI thread's event latency during the worker run: a 10 ms QTimer measures how late each tick
   fires (p50, p99, max); targets p99 < 16 ms, max < 50 ms. And the share of that time the GUI thread
   spent on the CPU (what the views cost, which other load on the machine does not inflate).
3. What a snapshot costs the trainer: take_snapshot's median time, of which the weight histograms,
   against one training step.

Runs on the synthetic data set (32×32×3, like CIFAR-10), so it needs no download.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convviz.data import synthetic_dataset
from convviz.model import preset
from convviz.training.config import TrainConfig
from convviz.training.records import Metrics
from convviz.training.trainer import Trainer


def config(args) -> TrainConfig:
    return TrainConfig(epochs=1000, batch_size=args.batch, metrics_every=10, augment=True, threads=args.cores)


def bare_rate(spec, data, args) -> float:
    """Images/s of the trainer alone over ``args.steps`` steps (after 20 warm-up steps)."""
    trainer = Trainer(spec, data, config(args))
    start = None
    for record in trainer.run():
        if isinstance(record, Metrics):
            if record.step == 20:
                start = time.perf_counter()
            if record.step == 20 + args.steps:
                return args.steps * args.batch / (time.perf_counter() - start)
    raise RuntimeError("run ended early")


def worker_rate(app, spec, data, args) -> tuple[float, list[float], int, float]:
    """Images/s through the window's worker (panel and views consuming), the GUI timer's lateness in
    ms, the number of snapshots the view showed, and the share of the measured steps' time the GUI
    thread spent on the CPU (what the views cost, whatever else the machine runs)."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer

    import convviz.data
    from convviz.ui.widgets.dialogs import ConsoleDialogs
    from convviz.ui.window.main_window import MainWindow

    convviz.data.load_dataset = lambda source, validation=0.1, seed=0: data
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat), dialogs=ConsoleDialogs())
        window.resize(1400, 900)
        window.show()
        window.document.reset(spec)
        window.training.batch.setValue(args.batch)
        window.training.epochs.setValue(1000)
        window.training.cores.setCurrentIndex(window.training.cores.findData(args.cores))
        window.workspaces.switch("train")
        if args.all_views:
            show_every_view(window)
        shown = []
        window.session.snapshot.connect(lambda s: shown.append(s.step))
        marks: dict[int, float] = {}
        window.training.start()
        window.session.metrics.connect(lambda m: marks.setdefault(m.step, time.perf_counter()))

        lateness: list[float] = []
        clock = QElapsedTimer()
        tick = QTimer(interval=10)
        state = {"last": None}
        cpu: dict[str, float] = {}  # the GUI thread's CPU seconds when the measured steps begin and end

        def on_tick():
            now = clock.nsecsElapsed() / 1e6
            if state["last"] is not None and 20 in marks:
                lateness.append(max(0.0, now - state["last"] - 10.0))
                cpu.setdefault("from", time.thread_time())
            if 20 + args.steps in marks:
                cpu.setdefault("to", time.thread_time())
            state["last"] = now

        tick.timeout.connect(on_tick)
        clock.start()
        tick.start()
        loop = QEventLoop()
        done = QTimer(interval=50)
        done.timeout.connect(lambda: loop.quit() if 20 + args.steps in marks else None)
        done.start()
        loop.exec()
        tick.stop()
        done.stop()
        window.session.shutdown()
        window.document.undo_stack.setClean()
        window.close()
    seconds = marks[20 + args.steps] - marks[20]
    gui_share = (cpu.get("to", time.thread_time()) - cpu.get("from", 0.0)) / seconds
    return args.steps * args.batch / seconds, lateness, len(shown), gui_share


def show_every_view(window) -> None:
    """Float the Train workspace's tabbed views as windows of their own, side by side, so that each is
    visible and draws (a tab behind another does no work)."""
    docks = [window.layers_dock, window.probes_dock, window.health_dock, window.filters_dock, window.snapshot_dock]
    for i, dock in enumerate(docks):
        dock.setFloating(True)
        dock.setGeometry(40 + (i % 3) * 660, 40 + (i // 3) * 520, 640, 500)
        dock.show()
        dock.raise_()


def snapshot_cost(spec, data, args) -> tuple[float, float, float]:
    """Median ms of one snapshot, of its weight histograms, and of one training step (``args.batch``)."""
    from convviz.training.snapshot import weight_histogram

    trainer = Trainer(spec, data, config(args))
    runs = trainer.run()
    for record in runs:  # a few steps, so the snapshot sees a trained state
        if isinstance(record, Metrics) and record.step >= 20:
            break
    snapshots, histograms = [], []
    weights = [p for name, p in trainer.net.params().items() if name.endswith(".weight")]
    for _ in range(15):
        start = time.perf_counter()
        trainer.snapshot()
        snapshots.append(time.perf_counter() - start)
        start = time.perf_counter()
        for w in weights:
            weight_histogram(w)
        histograms.append(time.perf_counter() - start)
    step_start, steps = time.perf_counter(), 0
    for record in runs:
        if isinstance(record, Metrics) and record.step >= 60:
            steps = record.step - 20
            break
    step_ms = (time.perf_counter() - step_start) / steps * 1e3
    return statistics.median(snapshots) * 1e3, statistics.median(histograms) * 1e3, step_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--preset", default="convnetjs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cores", type=int, default=None,
                        help="cores that share each step, as the Training panel's Cores (default: the app's)")
    parser.add_argument("--tabs", dest="all_views", action="store_false",
                        help="leave the views as tabs (only the front one visible) instead of one window each")
    args = parser.parse_args()
    if args.cores is None:
        from convviz.ui.training.panel import DEFAULT_CORES

        args.cores = DEFAULT_CORES
    if args.steps % 10:
        parser.error("--steps must be a multiple of 10 (metrics come every 10 steps)")

    from PySide6.QtWidgets import QApplication

    from convviz.engine.blas import settle_process_threads

    settle_process_threads()  # as the app does at start (convviz.ui.window.app.run_app)
    app = QApplication.instance() or QApplication([])
    spec = preset(args.preset)
    data = synthetic_dataset(train=args.batch * (args.steps + 40), test=500, validation=200, seed=0)
    bare, worker, late, snapshots, gui = [], [], [], [], []
    for round_ in range(args.rounds):
        bare.append(bare_rate(spec, data, args))
        rate, lateness, shown, gui_share = worker_rate(app, spec, data, args)
        worker.append(rate)
        gui.append(gui_share)
        late.extend(lateness)
        snapshots.append(shown)
        print(f"round {round_ + 1}: bare {bare[-1]:,.0f} images/s, worker + window {rate:,.0f} images/s, "
              f"{shown} snapshots shown, GUI thread on the CPU {gui_share:.0%} of the time", flush=True)
    late.sort()
    p = lambda q: late[min(len(late) - 1, int(q * len(late)))]
    ratio = statistics.median(worker) / statistics.median(bare)
    print(f"\n{args.preset}, batch {args.batch}, {args.cores} core{'s' if args.cores > 1 else ''}, "
          f"{args.steps} steps per round, {args.rounds} rounds (medians):")
    print(f"  bare trainer:              {statistics.median(bare):8,.0f} images/s")
    print(f"  worker thread + window:    {statistics.median(worker):8,.0f} images/s  ({ratio:.0%} of bare; target ≥ 90%)")
    print(f"  GUI timer lateness (10 ms timer, {len(late):,} ticks): p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
          f"max {late[-1]:.1f} ms  (targets: p99 < 16 ms, max < 50 ms)")
    print(f"  GUI thread on the CPU:     {statistics.median(gui):8.0%} of the measured steps' time")
    print(f"  snapshots shown per round: {snapshots}; views: {'every one visible' if args.all_views else 'tabbed'}")
    snapshot_ms, histogram_ms, step_ms = snapshot_cost(spec, data, args)
    print(f"  one snapshot: {snapshot_ms:.1f} ms ({snapshot_ms / step_ms:.0%} of a {step_ms:.1f} ms step, one a second), "
          f"of which the weight histograms {histogram_ms:.2f} ms ({histogram_ms / step_ms:.1%} of a step)")


if __name__ == "__main__":
    main()
