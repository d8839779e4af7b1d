"""How long shape inference and costs take per edit, so the builder can recompute on every keystroke.

    python bench/bench_model.py

Prints the median time of ``analyze`` (all shapes, parameters, multiply-adds, memory) for each
preset (unchanged layers come from a cache), and of an "edit" of VGG-16: change one conv's filters to a
value never seen before and re-analyze (shapes and costs downstream of it are recomputed).
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
        conv.filters = 65 + next(values)  # a value never seen before: nothing of it is cached
        report = analyze(spec)
        report.memory(32, "adam")

    def edit_and_rows() -> None:
        edit()
        summary_rows(analyze(spec), batch=32)

    print(f"VGG-16 edit (change a conv's filters, analyze, memory): {median_ms(edit):.3f} ms median")
    print(f"  … and the summary table's rows too: {median_ms(edit_and_rows):.3f} ms median")


if __name__ == "__main__":
    main()
