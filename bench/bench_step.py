"""How fast the Step workspace follows a user through VGG-16 (224×224 input, untrained seeded weights).

    python bench/bench_step.py [--preset vgg16] [--scrub 20]

Opens the Step workspace off-screen at 1600×1000 on a synthetic test image and prints medians, each
timed from the call until the window processed every event it caused (the repaint included):

1. the first trace (showing the workspace, traced on the GUI thread to time it: float64 copy of the
   network, forward, loss, backward, the input stop drawn), and tracing again (a new image);
2. stepping to a layer: the forward and backward stops of every Conv, pooling and FC layer, visited
   in a shuffled order, as the app does it for a network this big: the stop is drawn at once, a Conv
   backward stop's check of dX over the whole image follows on a thread (its time printed apart);
3. scrubbing: Shift+→ over ``--scrub`` positions at the first, a middle and the last Conv layer's
   forward stop and at a max pool's backward stop (the redraw of one position);
4. the receptive-field view of a cell of a middle and of the last Conv layer, and 5. FC → CONV (the
   converted network slid over the 2×2 mosaic, 448×448), both on a thread as in the app: the time
   until they are drawn, and how late a 10 ms timer on the GUI thread fired meanwhile (the window
   stays responsive when its p99 is a few tens of ms).

The machine is shared: run it twice and read the medians, not a single figure. Target: stepping
well under a second, scrubbing at interactive speed (under 100 ms).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication

from convviz.model import analyze, preset


def timed(app, action) -> float:
    """Seconds from calling ``action()`` until the window has processed what it caused."""
    start = time.perf_counter()
    action()
    app.processEvents()
    return time.perf_counter() - start


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e3:,.0f} ms (min {min(values) * 1e3:,.0f}, max {max(values) * 1e3:,.0f}, n = {len(values)})"


def wait(app, view) -> float:
    """Seconds until the view's background jobs are done."""
    start = time.perf_counter()
    while view.jobs.busy():
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()
    return time.perf_counter() - start


def on_thread(app, view, action) -> tuple[float, str]:
    """(seconds from ``action()`` until its jobs are done and drawn, how late a 10 ms GUI timer fired meanwhile)."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    clock, late = QElapsedTimer(), []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: (late.append(max(0, clock.restart() - 10))))
    time.perf_counter()
    action()
    clock.start()
    timer.start()
    seconds = wait(app, view)
    timer.stop()
    late.sort()
    text = f"p50 {late[len(late) // 2]} ms, p99 {late[int(len(late) * 0.99)]} ms, max {late[-1]} ms" if late else "—"
    return seconds, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vgg16")
    parser.add_argument("--scrub", type=int, default=20, help="positions scrubbed per stop")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication([])
    from convviz.ui.session import RunSession
    from convviz.ui.stepper import StepWorkspaceView
    from convviz.ui.stepper.tracing import SYNC_MACS

    spec = preset(args.preset)
    macs = analyze(spec).total_macs
    session = RunSession(lambda: spec)
    t = time.perf_counter()
    session.current_weights()  # fresh seeded weights, made once (not the Step workspace's work)
    print(f"{spec.name}: {spec.input} input, {macs / 1e9:.1f} G multiply-adds forward; fresh weights in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    view = StepWorkspaceView(session)
    view.sync_macs = float("inf")  # the first trace on this thread, to time it
    view.resize(1600, 1000)

    first = timed(app, view.show)
    again = timed(app, lambda: view.image_number.setValue(1))
    print(f"1. first trace (show the workspace) {first:.1f} s; tracing again (another image) {again:.1f} s", flush=True)
    view.sync_macs = SYNC_MACS  # from here on as the app does it

    stops = [i for i, s in enumerate(view.stops) if s.kind in ("forward", "backward") and s.type in
             ("conv", "maxpool", "avgpool", "fc")]
    random.Random(0).shuffle(stops)
    steps, checks = [], []
    for i in stops:
        steps.append(timed(app, lambda i=i: view.go_to(i)))
        if view.jobs.busy():
            checks.append(wait(app, view))
    print(f"2. stepping to a layer (forward and backward stops of every Conv, pooling and FC layer): {ms(steps)}; "
          f"then on a thread, the whole-image dX check of a Conv backward stop: {ms(checks)}", flush=True)

    convs = [s.layer for s in view.stops if s.kind == "forward" and s.type == "conv"]
    places = [("forward", convs[0]), ("forward", convs[len(convs) // 2]), ("forward", convs[-1])]
    pools = [s.layer for s in view.stops if s.kind == "backward" and s.type == "maxpool"]
    if pools:
        places.append(("backward", pools[len(pools) // 2]))
    scrub = []
    for kind, layer in places:
        view.go_to_layer(layer, kind)
        wait(app, view)
        scrub += [timed(app, view.next_position) for _ in range(args.scrub)]
    print(f"3. scrubbing one position (Shift+→ at {', '.join(f'{k} {n}' for k, n in places)}): {ms(scrub)}", flush=True)

    for layer in (convs[len(convs) // 2], convs[-1]):
        view.go_to_layer(layer)
        view.set_position((0, 3, 3))
        wait(app, view)
        seconds, late = on_thread(app, view, lambda: view.show_field(True, 0))
        print(f"4. receptive-field view of {layer}[0, 3, 3]: {seconds:.1f} s on a thread; GUI timer late by {late}",
              flush=True)
        view.show_field(False)
    seconds, late = on_thread(app, view, lambda: view.show_slide(True))
    shape = view.slide[1].scores.shape if view.in_slide_view() else None
    print(f"5. FC → CONV over the {view.slide_text or 'mosaic'} (map {shape}): {seconds:.1f} s on a thread; "
          f"GUI timer late by {late}", flush=True)
    print("(a shared 2-core machine: figures vary between runs)")
    session.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
