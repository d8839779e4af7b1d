"""Where a training step's time goes: each step of the network's fast plan, forward and backward.

    python bench/bench_engine_layers.py [PRESET ...] [--batch 64] [--steps 20]

Builds each preset (default: convnetjs and smallvgg) through ``convviz.engine.Network`` in float32
and times a training step (forward, softmax cross-entropy, backward without the input gradient, SGD
momentum update) with every plan step (a layer, or a fused ReLU + max pool) wrapped in a timer.
Prints per step the median forward and backward milliseconds and their share of the whole, plus
what falls outside the layers (loss, update, Python). Medians of one run on a shared machine:
compare shares, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convviz.engine import Network, softmax_cross_entropy  # noqa: E402
from convviz.engine.network import walk_layers  # noqa: E402
from convviz.engine.optim import SGD  # noqa: E402
from convviz.model import preset  # noqa: E402


def timed_steps(stack):
    """Every fast-plan step of a stack and its blocks' stacks."""
    for step in stack.fast:
        yield step
        if step.COMPOSITE:
            for inner in step.stacks:
                yield from timed_steps(inner)


def instrument(net, times):
    for step in timed_steps(net.stack):
        for kind in ("forward", "backward"):
            original = getattr(step, kind)

            def wrapper(*args, _original=original, _key=(step.name, kind), **kwargs):
                start = time.perf_counter()
                out = _original(*args, **kwargs)
                times[_key].append(time.perf_counter() - start)
                return out

            setattr(step, kind, wrapper)


def profile(name: str, batch: int, steps: int) -> None:
    net = Network(preset(name), seed=0)
    opt = SGD(net.params(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + net.spec.input.chw()).astype(np.float32)
    y = rng.integers(0, net.output_volume.depth, batch)
    times: dict = defaultdict(list)
    instrument(net, times)
    totals = []
    for i in range(steps + 3):
        start = time.perf_counter()
        scores = net.forward(x)
        _, d = softmax_cross_entropy(scores, y)
        net.backward(d, input_grad=False)
        opt.step(net.grads())
        totals.append(time.perf_counter() - start)
        if i == 2:  # warm-up done
            times.clear()
            totals.clear()
    total = statistics.median(totals)
    print(f"\n{name}: batch {batch}, median step {total * 1e3:.1f} ms = {batch / total:.0f} images/s")
    print(f"  {'step':<24}{'forward ms':>11}{'backward ms':>12}{'share':>8}")
    inside = 0.0
    composite = {s.name for s in walk_layers(net.stack) if s.COMPOSITE}
    names = list(dict.fromkeys(key[0] for key in times))
    for step in names:
        f = statistics.median(times[(step, "forward")]) if times[(step, "forward")] else 0.0
        b = statistics.median(times[(step, "backward")]) if times[(step, "backward")] else 0.0
        if step not in composite:
            inside += f + b
        print(f"  {step:<24}{f * 1e3:>11.2f}{b * 1e3:>12.2f}{(f + b) / total:>8.1%}")
    print(f"  {'outside the layers':<24}{'':>11}{'':>12}{(total - inside) / total:>8.1%}  (loss, SGD update, Python)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("presets", nargs="*", default=["convnetjs", "smallvgg"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    for name in args.presets:
        profile(name, args.batch, args.steps)


if __name__ == "__main__":
    main()
