"""How long shape inference and costs take per edit, so the builder can recompute on every keystroke.

    python bench/bench_model.py

Prints the median time of ``analyze`` (all shapes, parameters, multiply-adds, memory) for each
preset, and of a full "edit" of VGG-16: change one conv's filters, re-analyze, read the summary rows.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convviz.model import analyze, preset, preset_names  # noqa: E402
from convviz.model.summary import summary_rows  # noqa: E402


def median_ms(fn, repeats: int = 200) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    print("analyze(spec): shapes + costs of every layer (median of 200)")
    for name in preset_names():
        spec = preset(name)
        layers = sum(1 for _ in analyze(spec).walk())
        print(f"  {name:<10} {layers:4d} layers  {median_ms(lambda: analyze(spec)):7.3f} ms")

    spec = preset("vgg16")
    conv = spec.layers[2]
    values = iter(range(10**9))

    def edit() -> None:
        conv.filters = 64 + next(values) % 64
        report = analyze(spec)
        summary_rows(report, batch=32)
        report.memory(32, "adam")

    print(f"VGG-16 edit (change filters, analyze, summary rows, memory): {median_ms(edit):.3f} ms median")


if __name__ == "__main__":
    main()
