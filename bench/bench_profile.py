"""Where a training step's time goes, layer by layer and pass by pass, in the engine and in PyTorch.

    python bench/bench_profile.py [NAME …] [--steps 12] [--batch 64]

For each preset named (default: convnetjs smallvgg resnet20), batch 64, float32, one thread (one
BLAS thread for the engine, ``torch.set_num_threads(1)``), a training step as in
``bench_train.py``. Each layer's forward and backward is timed on its own:

- engine: every step of the fast plan (a ReLU fused with its 2×2 max pool, or a batch norm with the
  ReLU after it, is one step, e.g. ``relu1+maxpool1``) is wrapped with a timer; a residual block's own work (the add, and the sum of the
  two input gradients) is the block's time minus its stacks';
- PyTorch: native modules (``ReLU(inplace=False)``, so that full backward hooks can be used) with
  forward pre/post hooks and backward pre/post hooks on every leaf module; a block's add likewise.
  The first convolution's input needs no gradient, so its backward hooks fire before its weight
  gradient is computed: that time lands in PyTorch's glue, not in its first layer.

Prints a table of median ms per layer (forward, backward, and the engine/PyTorch ratio of their
sum), then the totals by layer type and the whole step: what the layers do not account for is the
loss, the optimizer update and the framework's glue (autograd in PyTorch). Times are CPU time of
the calling thread (``time.thread_time``), which on one thread is the work done and leaves out the
time the shared machine gives to other processes; engine and PyTorch steps alternate, and only
ratios within one run mean much (caches and memory bandwidth are still shared).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_train import PRESETS, batch_for, torch_modules  # noqa: E402
from convviz.engine import Network, blas, softmax_cross_entropy  # noqa: E402
from convviz.engine.optim import SGD  # noqa: E402
from convviz.engine.stack import Stack  # noqa: E402
from convviz.model import analyze, preset  # noqa: E402
from convviz.model import layers as S  # noqa: E402

# CPU time of the calling thread: with one thread everything (BLAS, PyTorch's intra-op work) runs on
# it, and time the machine gives to other processes is not counted (it is shared and often loaded).
CLOCK = time.thread_time


class Clock:
    """Seconds per (name, pass) of the current step; ``steps`` collects one dict per step."""

    def __init__(self):
        self.current = collections.defaultdict(float)
        self.steps = []

    def add(self, key, seconds):
        self.current[key] += seconds

    def next_step(self, total):
        self.current[("step", "whole")] = total
        self.steps.append(dict(self.current))
        self.current = collections.defaultdict(float)


def medians(steps: list, names: list, children: dict) -> dict:
    """{(name, pass): median seconds} for the engine's step names; a name joined with "+" (a fused
    ReLU + pool) sums its layers' keys, and a block's own time is its time minus its inner steps'."""

    def value(step, name, phase):
        if (name, phase) in step or "+" not in name:
            return step.get((name, phase), 0.0)
        return sum(step.get((part, phase), 0.0) for part in name.split("+"))

    def own(step, name, phase):
        return value(step, name, phase) - sum(value(step, c, phase) for c in children.get(name, ()))

    keys = [(n, p) for n in names for p in ("forward", "backward")] + [("optimizer", "step"), ("step", "whole")]
    return {(n, p): statistics.median(own(step, n, p) for step in steps) for n, p in keys}


def timed(clock, key, fn):
    def wrapper(*args, **kwargs):
        start = CLOCK()
        try:
            return fn(*args, **kwargs)
        finally:
            clock.add(key, CLOCK() - start)
    return wrapper


def kind_of(step) -> str:
    """A fused step's kind names both layers (ReLU + max pool, batch norm + ReLU)."""
    if hasattr(step, "layers") and not isinstance(step, Stack) and not step.COMPOSITE:
        return "+".join(type(layer).__name__ for layer in step.layers)
    return type(step).__name__


def step_name(step) -> str:
    return "+".join(layer.name for layer in step.layers) if "+" in kind_of(step) else step.name


def instrument_engine(stack: Stack, clock: Clock, kinds: dict, children: dict) -> None:
    """Wrap every fast-plan step of ``stack`` (and of its blocks' stacks) with timers; fills
    ``kinds`` {step name: kind} in order and ``children`` {block name: its inner step names}."""
    for step in stack.fast:
        name = step_name(step)
        kinds[name] = "block (add)" if step.COMPOSITE else kind_of(step)
        step.forward = timed(clock, (name, "forward"), step.forward)
        step.backward = timed(clock, (name, "backward"), step.backward)
        if step.COMPOSITE:
            children[name] = [step_name(inner_step) for inner in step.stacks for inner_step in inner.fast]
            for inner in step.stacks:
                instrument_engine(inner, clock, kinds, children)


def engine_profile(name: str, batch: int):
    net = Network(preset(name), seed=0, threads=1)
    opt = SGD(net.params(), lr=0.01, momentum=0.9)
    x, y = batch_for(name, batch=batch)
    clock, kinds, children = Clock(), {}, {}
    instrument_engine(net.stack, clock, kinds, children)

    def step():
        start = CLOCK()
        scores = net.forward(x, train=True)
        _, dscores = softmax_cross_entropy(scores, y)
        net.backward(dscores, input_grad=False)
        t = CLOCK()
        opt.step(net.grads())
        clock.add(("optimizer", "step"), CLOCK() - t)
        clock.next_step(CLOCK() - start)

    return step, clock, kinds, children


def torch_profile(name: str, batch: int):
    import torch
    from torch import nn

    # the first layer's input needs no gradient, so its backward hook reports its output's
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    model = torch_modules(analyze(preset(name)).layers)
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = (torch.from_numpy(a) for a in batch_for(name, batch=batch))
    clock = Clock()
    names = leaf_names(analyze(preset(name)).layers)
    leaves = [m for m in model.modules() if not list(m.children()) and not isinstance(m, nn.Sequential)]
    assert len(leaves) == len(names), (len(leaves), len(names))
    blocks = [m for m in model.modules() if type(m).__name__ == "Residual"]
    block_names = [r.name for r in walk_reports(analyze(preset(name)).layers) if isinstance(r.layer, S.Residual)]
    starts = {}

    def hooks(module, key):
        def pre(*_):
            starts[(key, "forward")] = CLOCK()

        def post(*_):
            clock.add((key, "forward"), CLOCK() - starts[(key, "forward")])

        def back_pre(*_):
            starts[(key, "backward")] = CLOCK()

        def back_post(*_):
            clock.add((key, "backward"), CLOCK() - starts[(key, "backward")])

        module.register_forward_pre_hook(pre)
        module.register_forward_hook(post)
        module.register_full_backward_pre_hook(back_pre)
        module.register_full_backward_hook(back_post)

    for module, key in zip(leaves, names):
        hooks(module, key)
    for module, key in zip(blocks, block_names):
        hooks(module, key)

    def step():
        torch.set_num_threads(1)
        start = CLOCK()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        t = CLOCK()
        opt.step()
        clock.add(("optimizer", "step"), CLOCK() - t)
        clock.next_step(CLOCK() - start)

    return step, clock


def walk_reports(reports):
    for r in reports:
        yield r
        for _, children in r.children or []:
            yield from walk_reports(children)


def leaf_names(reports) -> list[str]:
    """Names of the layers that become leaf PyTorch modules, in module order."""
    return [r.name for r in walk_reports(reports) if not isinstance(r.layer, (S.Residual, S.Softmax))]


def run(name: str, steps: int, batch: int):
    import torch

    e_step, e_clock, kinds, children = engine_profile(name, batch)
    t_step, t_clock = torch_profile(name, batch)
    with blas.limit_threads(1):
        for _ in range(2):
            e_step()
            t_step()
        e_clock.steps.clear()
        t_clock.steps.clear()
        for _ in range(steps):
            e_step()
            t_step()
    torch.set_num_threads(os.cpu_count() or 1)
    return e_clock, t_clock, kinds, children


def report(name: str, e_clock: Clock, t_clock: Clock, kinds: dict, children: dict, batch: int) -> str:
    names = list(kinds)
    e = medians(e_clock.steps, names, children)
    t = medians(t_clock.steps, names, children)
    ms = 1e3
    lines = [f"\n{name}: batch {batch}, float32, 1 thread, median ms of {len(e_clock.steps)} steps",
             f"  {'layer':<32}{'kind':<14}{'engine fwd':>11}{'bwd':>8}{'PyTorch fwd':>13}{'bwd':>8}{'× time':>8}"]
    by_kind = collections.defaultdict(lambda: np.zeros(4))
    for layer in names:
        row = np.array([e[(layer, "forward")], e[(layer, "backward")], t[(layer, "forward")], t[(layer, "backward")]]) * ms
        by_kind[kinds[layer]] += row
        ratio = (row[0] + row[1]) / (row[2] + row[3]) if row[2] + row[3] > 0 else float("nan")
        lines.append(f"  {layer:<32}{kinds[layer]:<14}{row[0]:>11.2f}{row[1]:>8.2f}{row[2]:>13.2f}{row[3]:>8.2f}{ratio:>8.2f}")
    lines.append(f"  {'by kind':<46}{'engine fwd':>11}{'bwd':>8}{'PyTorch fwd':>13}{'bwd':>8}{'gap ms':>8}")
    for kind, row in sorted(by_kind.items(), key=lambda kv: -(kv[1][0] + kv[1][1] - kv[1][2] - kv[1][3])):
        lines.append(f"  {kind:<46}{row[0]:>11.2f}{row[1]:>8.2f}{row[2]:>13.2f}{row[3]:>8.2f}"
                     f"{row[0] + row[1] - row[2] - row[3]:>+8.2f}")
    layers_e = sum(r[0] + r[1] for r in by_kind.values())
    layers_t = sum(r[2] + r[3] for r in by_kind.values())
    opt_e, opt_t = e[("optimizer", "step")] * ms, t[("optimizer", "step")] * ms
    step_e, step_t = e[("step", "whole")] * ms, t[("step", "whole")] * ms
    glue_e, glue_t = step_e - layers_e - opt_e, step_t - layers_t - opt_t
    lines.append(f"  {'optimizer update':<46}{opt_e:>19.2f}{opt_t:>21.2f}{opt_e - opt_t:>+8.2f}")
    lines.append(f"  {'loss and glue (step − layers − update)':<46}{glue_e:>19.2f}{glue_t:>21.2f}{glue_e - glue_t:>+8.2f}")
    lines.append(f"  {'whole step':<46}{step_e:>19.2f}{step_t:>21.2f}{step_e - step_t:>+8.2f}"
                 f"   engine at {step_t / step_e:.2f}× PyTorch's speed")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("networks", nargs="*", default=list(PRESETS), choices=PRESETS, metavar="NAME")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("bench_profile.py compares with PyTorch: pip install torch")
    print(f"load average {os.getloadavg()[0]:.1f} at the start (2 cores: above ~0.5 the figures are disturbed)")
    for name in args.networks:
        e_clock, t_clock, kinds, children = run(name, args.steps, args.batch)
        print(report(name, e_clock, t_clock, kinds, children, args.batch))
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
