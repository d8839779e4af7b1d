"""Whole-network training speed of the engine on 1 and 2 threads against this machine's GEMM rate and PyTorch.

    python bench/bench_train.py [--rounds 5] [--steps 8] [--quick] [--json [FILE]] [--scaling [NAME …]]

For the ConvNetJS CIFAR-10 preset, the small VGG (batch norm, dropout) and ResNet-20 (batch norm,
residuals), batch 64, float32, built through ``convviz.engine.Network``, a training step is forward
+ softmax cross-entropy + backward (``input_grad=False``, as the trainer calls it) + SGD momentum
update. Prints:

- the float32 GEMM rate of 2048² matrices (best of 7) on one BLAS thread (the engine's setting) and
  on two: the machine's own peak, measured in the same run;
- which library multiplies the convolutions' products (``convviz.engine.kernels.gemm``: MKL where
  the optional package is installed, then also an "engine (OpenBLAS)" row on 1 thread, as without it);
- each network's images/s with the engine on 1 thread and on 2 cores (``Network(threads=2)``: the
  batch split in two, part 1 in a helper process, one BLAS thread each), and for comparison on 2
  Python threads in one process (``backend="thread"``), its achieved GFLOP/s (6 × the multiply-
  adds of a forward pass per image: forward, backward-data and backward-weights) and that as a share
  of the one-thread GEMM rate;
- when PyTorch is installed, the same networks in PyTorch (native modules, same batch and update)
  with 1 and 2 threads, and every row's throughput as a ratio of each;
- the peak resident memory (VmHWM) of a fresh process training the ConvNetJS preset at batch 64,
  on 1 and on 2 threads;
- with ``--scaling``: for ResNet-20 (or the presets named) images/s of the four rows and the peak
  memory on 1 and 2 threads at batch 16, 64 and 256, and the data side of a CIFAR-10-sized epoch
  (assembling and augmenting 45,000 training images, evaluating 10,000 test images).

``--cpu-time`` times one-thread steps only, by the calling thread's CPU time (``time.thread_time``:
with one thread, BLAS and PyTorch's intra-op work run on it), which stays steady when other
processes load the machine; wall time then says more about the load than about the code.

``--json`` prints the same figures as JSON instead of the table (``--json FILE``: writes them to
FILE and prints the table). The machine is shared and noisy: engine and PyTorch steps are
interleaved round by round, each figure is the median step of all rounds, and only ratios printed
by one run mean much. The engine's first convolution asks glibc to keep freed memory for reuse
(``convviz.engine.kernels.memory``): that setting holds for the whole process, PyTorch included.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convviz.engine import Network, blas, softmax_cross_entropy  # noqa: E402
from convviz.engine.kernels import gemm  # noqa: E402
from convviz.engine.optim import SGD  # noqa: E402
from convviz.model import analyze, preset  # noqa: E402
from convviz.model import layers as S  # noqa: E402
from convviz.model.layers import pair  # noqa: E402

BATCH = 64
PRESETS = ("convnetjs", "smallvgg", "resnet20")
THREADS = (1, 2)
CLOCK = time.perf_counter  # --cpu-time: time.thread_time, and one thread only


def gemm_rate(threads: int, n: int = 2048, repeats: int = 7) -> float:
    """GFLOP/s of an n×n float32 matrix product with ``threads`` BLAS threads: the best of ``repeats``
    (noise only ever slows a product down, so the fastest is the machine's rate)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    with blas.limit_threads(threads):
        np.matmul(a, b, out=out)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


def training_flops(name: str) -> float:
    """FLOPs of one training image: 2 per multiply-add, × 3 for forward, backward-data, backward-weights."""
    return 6.0 * analyze(preset(name)).total_macs


def batch_for(name: str, seed: int = 0, batch: int = BATCH):
    spec = preset(name)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + spec.input.chw()).astype(np.float32)
    y = rng.integers(0, 10, batch)
    return x, y


def engine_step(name: str, threads: int, batch: int = BATCH, backend: str = "auto"):
    net = Network(preset(name), seed=0, threads=threads, backend=backend)
    opt = SGD(net.params(), lr=0.01, momentum=0.9)
    x, y = batch_for(name, batch=batch)

    def step():
        scores = net.forward(x, train=True)
        _, dscores = softmax_cross_entropy(scores, y)
        net.backward(dscores, input_grad=False)
        opt.step(net.grads())

    return step


def torch_modules(reports):
    """A stack of layer reports as native PyTorch modules (residual blocks included)."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, body, shortcut):
            super().__init__()
            self.body, self.shortcut = body, shortcut

        def forward(self, x):
            return self.body(x) + (self.shortcut(x) if len(self.shortcut) else x)

    modules = []
    for r in reports:
        layer = r.layer
        if isinstance(layer, S.Residual):
            (_, body), (_, shortcut) = r.children
            modules.append(Residual(torch_modules(body), torch_modules(shortcut)))
        elif isinstance(layer, S.Conv) and not isinstance(layer, S.LocallyConnected):
            along_h, along_w = layer.windows(r.input)
            assert not (along_h.extra or along_w.extra), "pad-to-fit has no PyTorch Conv2d equivalent"
            modules.append(nn.Conv2d(r.input.depth, layer.filters, pair(layer.size), pair(layer.stride),
                                     pair(layer.pad), pair(layer.dilation), bias=layer.bias))
        elif isinstance(layer, S.MaxPool):
            modules.append(nn.MaxPool2d(pair(layer.size), pair(layer.stride), pair(layer.pad)))
        elif isinstance(layer, S.GlobalAvgPool):
            modules.append(nn.AdaptiveAvgPool2d(1))
        elif isinstance(layer, S.BatchNorm):
            kind = nn.BatchNorm1d if r.input.is_flat else nn.BatchNorm2d
            modules.append(kind(r.input.depth, eps=layer.eps, momentum=layer.momentum))
        elif isinstance(layer, S.ReLU):
            modules.append(nn.ReLU(inplace=True))
        elif isinstance(layer, S.Dropout):
            modules.append(nn.Dropout(layer.p))
        elif isinstance(layer, S.Flatten):
            modules.append(nn.Flatten())
        elif isinstance(layer, S.FC):
            modules.append(nn.Linear(r.input.depth, layer.units, bias=layer.bias))
        elif not isinstance(layer, S.Softmax):
            raise NotImplementedError(f"{r.name}: no native PyTorch module in this benchmark")
    return torch.nn.Sequential(*modules)


def torch_model(name: str):
    """The preset as native PyTorch modules."""
    return torch_modules(analyze(preset(name)).layers)


def torch_step(name: str, threads: int, batch: int = BATCH):
    import torch

    model = torch_model(name)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = (torch.from_numpy(a) for a in batch_for(name, batch=batch))

    def step():
        torch.set_num_threads(threads)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def on_openblas(step):
    """``step`` with the convolutions' products on OpenBLAS (where MKL would take them)."""

    def run():
        gemm.use("openblas")
        try:
            step()
        finally:
            gemm.use(None)

    return run


def measure(configs: dict, rounds: int, steps: int) -> dict[str, float]:
    """Median seconds per step of each config, steps interleaved round by round."""
    times = {key: [] for key in configs}
    for fn in configs.values():  # warm-up: caches, allocator, thread pools
        fn()
        fn()
    for _ in range(rounds):
        for key, fn in configs.items():
            for _ in range(steps):
                start = CLOCK()
                fn()
                times[key].append(CLOCK() - start)
    return {key: statistics.median(t) for key, t in times.items()}


PEAK_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from convviz.engine import Network, softmax_cross_entropy
from convviz.engine.optim import SGD
from convviz.model import preset
net = Network(preset({name!r}), seed=0, threads={threads})
opt = SGD(net.params(), lr=0.01, momentum=0.9)
rng = np.random.default_rng(0)
for _ in range({steps}):
    x = rng.standard_normal(({batch}, 3, 32, 32)).astype(np.float32)
    _, d = softmax_cross_entropy(net.forward(x), rng.integers(0, 10, {batch}))
    net.backward(d, input_grad=False)
    opt.step(net.grads())
def peak_kb(pid="self"):
    status = open(f"/proc/{{pid}}/status").read().split("\\n")
    return int(next(line for line in status if line.startswith("VmHWM")).split()[1])
print(peak_kb() + sum(peak_kb(pid) for pid in net.helper_pids()))
"""


def peak_rss_mb(threads: int, name: str = "convnetjs", batch: int = BATCH, steps: int = 15) -> float | None:
    """Peak resident memory (MB) of a fresh process training ``name`` at ``batch``, its helper
    processes' added (Linux only)."""
    if not os.path.exists("/proc/self/status"):
        return None
    script = PEAK_SCRIPT.format(root=str(ROOT), threads=threads, name=name, batch=batch, steps=steps)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def measure_network(name: str, have_torch: bool, rounds: int, steps: int) -> dict:
    """{"engine": {threads: images/s}, "pytorch": {threads: images/s}} for one preset, interleaved."""
    configs = {("engine", t): engine_step(name, t) for t in THREADS}
    if 2 in THREADS:
        configs[("engine-threads", 2)] = engine_step(name, 2, backend="thread")
    if gemm.library() == "mkl":
        configs[("engine-openblas", 1)] = on_openblas(engine_step(name, 1))
    if have_torch:
        configs.update({("pytorch", t): torch_step(name, t) for t in THREADS})
    seconds = measure(configs, rounds, steps)
    figures = {"engine": {}, "engine-threads": {}, "engine-openblas": {}, "pytorch": {}}
    for (kind, threads), s in seconds.items():
        figures[kind][threads] = BATCH / s
    return figures


def table(name: str, figures: dict, gemm1: float) -> str:
    flops = training_flops(name)
    lines = [f"\n{name}: batch {BATCH}, float32, {flops / 1e6:.1f} MFLOP per training image",
             f"  {'':<28}{'images/s':>10}{'GFLOP/s':>9}{'of GEMM':>9}{'× PyTorch 1t':>14}{'× PyTorch 2t':>14}"]
    torch_rates = figures["pytorch"]
    names = {"engine": "engine", "engine-threads": "engine (threads)", "engine-openblas": "engine (OpenBLAS)",
             "pytorch": "PyTorch"}
    for kind in ("engine", "engine-threads", "engine-openblas", "pytorch"):
        for threads, rate in figures.get(kind, {}).items():
            unit = "core" if kind == "engine" and threads > 1 else "thread"
            label = f"{names[kind]}, {threads} {unit}{'s' if threads > 1 else ''}"
            gflops = rate * flops / 1e9
            line = f"  {label:<28}{rate:>10.0f}{gflops:>9.1f}{gflops / gemm1:>9.0%}"
            for ref in THREADS:
                if ref in torch_rates:
                    line += f"{rate / torch_rates[ref]:>14.2f}"
            lines.append(line)
    if len(figures["engine"]) > 1:
        lines.append(f"  engine 2 cores / 1 thread: {figures['engine'][2] / figures['engine'][1]:.2f}×"
                     + (f" (2 threads in one process: {figures['engine-threads'][2] / figures['engine'][1]:.2f}×)"
                        if figures.get("engine-threads") else "")
                     + (f"; PyTorch: {torch_rates[2] / torch_rates[1]:.2f}×" if len(torch_rates) > 1 else ""))
    return "\n".join(lines)


SCALING_BATCHES = (16, 64, 256)


def scaling(name: str, have_torch: bool, rounds: int, steps: int) -> dict:
    """{batch: {"engine": {threads: images/s}, "pytorch": {…}, "peak_mb": {threads: MB}}} for ``name``."""
    figures = {}
    for batch in SCALING_BATCHES:
        configs = {("engine", t): engine_step(name, t, batch) for t in THREADS}
        if have_torch:
            configs.update({("pytorch", t): torch_step(name, t, batch) for t in THREADS})
        per_round = max(1, steps * BATCH // batch)  # about the same images per round at every size
        seconds = measure(configs, rounds, per_round)
        row = {"engine": {}, "pytorch": {}, "peak_mb": {}}
        for (kind, threads), s in seconds.items():
            row[kind][threads] = batch / s
        for threads in THREADS:
            row["peak_mb"][threads] = peak_rss_mb(threads, name, batch, steps=4)
        figures[batch] = row
    return figures


def scaling_table(name: str, figures: dict) -> str:
    lines = [f"\n{name}: images/s and peak resident memory (fresh process) against batch size, float32",
             f"  {'batch':>6}{'engine 1t':>11}{'engine 2c':>11}{'PyTorch 1t':>12}{'PyTorch 2t':>12}"
             f"{'2c/1t':>7}{'MB 1t':>8}{'MB 2c':>8}"]
    for batch, row in figures.items():
        engine, torch_rates, peak = row["engine"], row["pytorch"], row["peak_mb"]
        cells = [f"{engine[1]:>11.0f}", f"{engine[2]:>11.0f}"]
        cells += [f"{torch_rates[t]:>12.0f}" if t in torch_rates else f"{'–':>12}" for t in THREADS]
        cells.append(f"{engine[2] / engine[1]:>6.2f}×")
        cells += [f"{peak[t]:>8.0f}" if peak[t] is not None else f"{'–':>8}" for t in THREADS]
        lines.append(f"  {batch:>6}" + "".join(cells))
    return "\n".join(lines)


def data_side(name: str = "convnetjs", images: int = 640) -> dict:
    """Seconds per CIFAR-10-sized epoch (45,000 training images, 10,000 test images) of the data side:
    assembling and augmenting batches (flip + 4-pixel crop, as the trainer does), and evaluating the
    test split with the engine on 1 and 2 threads (batches of the trainer's EVAL_BATCH)."""
    from convviz.data import synthetic_dataset
    from convviz.data.augment import Augmentation
    from convviz.training.trainer import EVAL_BATCH

    data = synthetic_dataset(train=images, test=images, validation=0, seed=0)
    augmentation, rng = Augmentation(flip=True, crop_padding=4), np.random.default_rng(0)
    order = np.arange(images)
    start = time.perf_counter()
    for first in range(0, images, BATCH):
        data.batch("train", order[first:first + BATCH], augmentation, rng)
    per_image = (time.perf_counter() - start) / images
    figures = {"augmented batches, 45,000 images": per_image * 45_000}
    x = data.batch("test", np.arange(min(images, EVAL_BATCH)))[0]
    for threads in THREADS:
        net = Network(preset(name), seed=0, threads=threads)
        net.forward(x, train=False)
        start = time.perf_counter()
        for _ in range(3):
            net.forward(x, train=False)
        figures[f"evaluation, 10,000 images, {threads} {'cores' if threads > 1 else 'thread'}"] = \
            (time.perf_counter() - start) / (3 * len(x)) * 10_000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 3 steps")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="the figures as JSON: on standard output instead of the table, or written to FILE")
    parser.add_argument("--networks", nargs="+", default=list(PRESETS), choices=PRESETS, metavar="NAME",
                        help=f"presets to measure (default: {' '.join(PRESETS)})")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one thread only, each step timed by the calling thread's CPU time: steady on a "
                             "loaded machine (two-thread rows need wall time and are left out)")
    parser.add_argument("--scaling", nargs="*", choices=PRESETS, metavar="NAME",
                        help="also images/s and peak memory at batch 16, 64 and 256 for these presets "
                             "(default: resnet20), and the data side of an epoch")
    args = parser.parse_args()
    rounds, steps = (2, 3) if args.quick else (args.rounds, args.steps)
    global THREADS, CLOCK
    if args.cpu_time:
        if args.scaling is not None:
            parser.error("--cpu-time measures one thread; the scaling figures need both: leave out one of the two")
        THREADS, CLOCK = (1,), time.thread_time
    say = (lambda *a, **k: None) if args.json == "-" else print
    try:
        import torch

        have_torch, torch_version = True, torch.__version__
    except ImportError:
        have_torch, torch_version = False, None
        say("PyTorch is not installed: no PyTorch comparison (pip install torch)")

    gemm1, gemm2 = gemm_rate(1), gemm_rate(2)
    say(f"float32 GEMM 2048²: {gemm1:.1f} GFLOP/s on 1 BLAS thread, {gemm2:.1f} on 2 (the engine runs "
        f"BLAS on {blas.ENGINE_THREADS} per Python thread); load average {os.getloadavg()[0]:.1f} at the start")
    say(f"the convolutions' products: {gemm.library() or 'numpy'}"
        + (" (engine (OpenBLAS): the same with CONVVIZ_GEMM=openblas, as without the mkl extra)"
           if gemm.library() == "mkl" else ""))
    say(f"steps interleaved round by round: {rounds} rounds of {steps} steps, medians")
    results = {}
    for name in args.networks:
        results[name] = measure_network(name, have_torch, rounds, steps)
        say(table(name, results[name], gemm1))
    if have_torch:
        torch.set_num_threads(2)
    peak = {threads: peak_rss_mb(threads) for threads in THREADS}
    if None not in peak.values():
        verdict = "under" if max(peak.values()) < 300 else "OVER"
        say(f"\npeak resident memory, ConvNetJS training at batch {BATCH} (fresh process): "
            + ", ".join(f"{mb:.0f} MB on {'2 cores (both processes)' if t > 1 else '1 thread'}" for t, mb in peak.items())
            + f" ({verdict} the 300 MB target)")
    scaled, data_seconds = {}, None
    if args.scaling is not None:
        for name in args.scaling or ["resnet20"]:
            scaled[name] = scaling(name, have_torch, rounds, steps)
            say(scaling_table(name, scaled[name]))
        data_seconds = data_side()
        say("\ndata side of a CIFAR-10-sized epoch (ConvNetJS for the evaluation):")
        for what, seconds in data_seconds.items():
            say(f"  {what:<44}{seconds:>7.1f} s")
    say(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores: above ~0.5 the figures are disturbed)")
    if args.json is not None:
        document = {
            "batch": BATCH, "dtype": "float32", "rounds": rounds, "steps_per_round": steps,
            "numpy": np.__version__, "pytorch": torch_version,
            "blas": None if blas.blas_library() is None else blas.blas_library().api,
            "gemm_gflops": {"1": gemm1, "2": gemm2},
            "convolution_products": gemm.library(),
            "peak_rss_mb": {str(t): mb for t, mb in peak.items()},
            "networks": {
                name: {
                    "mflop_per_image": training_flops(name) / 1e6,
                    "engine_images_per_s": {str(t): r for t, r in figures["engine"].items()},
                    "engine_thread_backend_images_per_s": {str(t): r for t, r in figures["engine-threads"].items()},
                    "engine_openblas_images_per_s": {str(t): r for t, r in figures["engine-openblas"].items()},
                    "pytorch_images_per_s": {str(t): r for t, r in figures["pytorch"].items()},
                }
                for name, figures in results.items()
            },
        }
        if scaled:
            document["scaling"] = {
                name: {
                    str(batch): {
                        "engine_images_per_s": {str(t): r for t, r in row["engine"].items()},
                        "pytorch_images_per_s": {str(t): r for t, r in row["pytorch"].items()},
                        "peak_rss_mb": {str(t): mb for t, mb in row["peak_mb"].items()},
                    }
                    for batch, row in rows.items()
                }
                for name, rows in scaled.items()
            }
            document["data_side_seconds_per_epoch"] = data_seconds
        text = json.dumps(document, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
            print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
