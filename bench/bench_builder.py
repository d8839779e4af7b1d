"""How long the builder window takes to follow one edit of VGG-16, as a user makes it.

    python bench/bench_builder.py [--repeats N]

Opens the window off-screen with VGG-16, selects conv1 and sets its filter count in the inspector's
spin box (64 → 65 → 64 …). One edit is timed from the spin box's new value until the window has
processed every event it causes: the undo command, the analysis of the whole network, every card's
new text, the summary table and memory, the diagram, the inspector's formulas, the status bar, and
the repaint of the window (the bench checks that every visible card was repainted). It checks that every card shows the new numbers, and prints the
median and the 90th percentile (target: median under 50 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from convviz.model import analyze, preset  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication([])
    from convviz.ui.widgets.dialogs import ConsoleDialogs
    from convviz.ui.window.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(os.path.join(tmp, "bench.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, dialogs=ConsoleDialogs(), spec=preset("vgg16"))
        window.resize(1400, 900)
        window.show()
        for _ in range(5):
            app.processEvents()
        doc = window.document
        model = window.stack_view.stack_model
        delegate = window.stack_view.delegate
        doc.select((0,))
        app.processEvents()
        spin = window.inspector.editors["filters"]

        times = []
        painted = []
        for i in range(args.repeats + 3):
            value = 65 if i % 2 == 0 else 64
            before_paints = delegate.paints
            start = time.perf_counter()
            spin.setValue(value)  # what typing a digit does: valueChanged → document edit → views
            app.processEvents()  # the window is shown: this also repaints what changed
            elapsed = time.perf_counter() - start
            if i >= 3:  # the first edits warm caches up
                times.append(elapsed)
                painted.append(delegate.paints - before_paints)
            doc.seal()

        # every card shows the numbers of a fresh analysis of the edited network
        fresh = {r.path: r for r in analyze(doc.spec).walk()}
        for path, r in fresh.items():
            card = model.card(path)
            assert card.output == (str(r.output) if r.output is not None else "—"), (path, card.output, r.output)
            assert card.brief == r.layer.brief()
        cards = len(fresh)
        visible = sum(1 for path in fresh if window.stack_view.visualRect(model.index_of(path)).intersects(window.stack_view.viewport().rect()))
        assert min(painted) >= visible, f"only {min(painted)} of {visible} visible cards were repainted"
        window.document.undo_stack.setClean()
        window.close()

    median = statistics.median(times) * 1e3
    p90 = sorted(times)[int(0.9 * (len(times) - 1))] * 1e3
    print(f"VGG-16 ({cards} cards), one edit of conv1's filters in the inspector, until every card, the summary,")
    print(f"the diagram and the inspector show it, and the window has repainted ({statistics.median(painted):.0f} cards painted):")
    print(f"  median {median:.1f} ms, 90th percentile {p90:.1f} ms over {len(times)} edits (target: under 50 ms)")
    return 0 if median < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
