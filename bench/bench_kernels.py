"""Speed of the engine's kernels on the ConvNetJS CIFAR-10 net, against this machine's GEMM and PyTorch.

    python bench/bench_kernels.py [--quick]
    python bench/bench_kernels.py --blas-overhead   # only the cost of setting BLAS threads per call

The net: 32×32×3 → conv 5×5 16 pad 2 → ReLU → 2×2 pool → conv 5×5 20 pad 2 → ReLU → pool →
conv 5×5 20 pad 2 → ReLU → pool → FC 10; batch 64, float32. Prints, with 1 and with 2 BLAS threads
(set through convviz.engine.blas, checked by reading the count back):

- the float32 GEMM rate of 2048² matrices (the machine's own peak, measured in the same run);
- each kernel's median forward and backward time and its achieved GFLOP/s;
- a full training step (forward, backward, SGD momentum update) of the net built from the kernels
  with plain numpy FC and softmax, in images/s, with ReLU fused into the pools and without;
- its peak resident memory and page faults per step (a fresh subprocess; Linux);
- when PyTorch is installed, the same net and step in PyTorch (1, 2 and default threads) and the
  ratio. Timings on a shared machine are noisy: compare the ratios printed by one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convviz.engine import blas  # noqa: E402
from convviz.engine.kernels import memory  # noqa: E402
from convviz.engine.kernels import (  # noqa: E402
    conv2d_backward,
    conv2d_forward,
    max_pool_backward,
    max_pool_forward,
    relu_max_pool_backward,
    relu_max_pool_forward,
)

BATCH = 64
CONVS = ((3, 16), (16, 20), (20, 20))  # (C in, K out), 5×5, pad 2, on 32, 16, 8 pixel planes
SIZES = (32, 16, 8)


def median_s(fn, repeats: int, inner: int = 1) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def conv_flops(c: int, k: int, size: int) -> float:
    """Multiply-adds × 2 of one forward pass over the batch (backward: dw and dx, each as much)."""
    return 2.0 * BATCH * size * size * k * c * 25


def step_flops() -> float:
    forward = sum(conv_flops(c, k, s) for (c, k), s in zip(CONVS, SIZES)) + 2.0 * BATCH * 320 * 10
    backward = 2 * forward - conv_flops(*CONVS[0], SIZES[0])  # no dx for the input image
    return forward + backward


class KernelNet:
    """The ConvNetJS net from the kernels, with numpy FC + softmax and SGD with momentum 0.9."""

    def __init__(self, fused: bool, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.fused = fused
        self.params = []
        for c, k in CONVS:
            w = (rng.standard_normal((k, c, 5, 5)) * np.sqrt(2.0 / (c * 25))).astype(np.float32)
            self.params += [w, np.zeros(k, np.float32)]
        self.params += [(rng.standard_normal((320, 10)) * 0.05).astype(np.float32), np.zeros(10, np.float32)]
        self.velocity = [np.zeros_like(p) for p in self.params]

    def step(self, x, y, lr=0.01, momentum=0.9) -> float:
        h, caches = x, []
        for i in range(3):
            out, conv_cache = conv2d_forward(h, self.params[2 * i], self.params[2 * i + 1], 1, 2)
            if self.fused:
                h, pool_cache = relu_max_pool_forward(out)
                caches.append((conv_cache, pool_cache, None))
            else:
                relu = np.maximum(out, 0)
                h, pool_cache = max_pool_forward(relu, 2)
                caches.append((conv_cache, pool_cache, relu))
        flat = h.reshape(len(x), -1)
        scores = flat @ self.params[6] + self.params[7]
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(len(y)), y]).mean()
        probs[np.arange(len(y)), y] -= 1
        probs /= len(y)
        grads = [None] * 8
        grads[6], grads[7] = flat.T @ probs, probs.sum(axis=0)
        d = (probs @ self.params[6].T).reshape(h.shape)
        for i in (2, 1, 0):
            conv_cache, pool_cache, relu = caches[i]
            if self.fused:
                d = relu_max_pool_backward(d, pool_cache)
            else:
                d = max_pool_backward(d, pool_cache) * (relu > 0)
            d, grads[2 * i], grads[2 * i + 1] = conv2d_backward(d, conv_cache, input_grad=i > 0)
        for p, v, g in zip(self.params, self.velocity, grads):
            v *= momentum
            v -= lr * g
            p += v
        return float(loss)


def batch(seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, BATCH)


def gemm_rate(threads: int, repeats: int) -> tuple[float, int | None]:
    """(GFLOP/s of a 2048² float32 GEMM, the thread count BLAS reports meanwhile)."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    out = np.empty_like(a)
    with blas.limit_threads(threads):
        seen = blas.get_threads()
        seconds = median_s(lambda: np.matmul(a, a, out=out), repeats)
    return 2 * 2048**3 / seconds / 1e9, seen


def kernel_rows(threads: int, repeats: int):
    """(name, forward ms, backward ms, forward GFLOP/s, backward GFLOP/s) per kernel of the net."""
    rng = np.random.default_rng(2)
    rows = []
    x = rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32)
    with blas.limit_threads(threads):
        for i, ((c, k), size) in enumerate(zip(CONVS, SIZES)):
            w = rng.standard_normal((k, c, 5, 5)).astype(np.float32)
            b = np.zeros(k, np.float32)
            out, cache = conv2d_forward(x, w, b, 1, 2)
            dout = rng.standard_normal(out.shape).astype(np.float32)
            dout = np.ascontiguousarray(dout.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)  # batch-last, as pools give it
            fwd = median_s(lambda: conv2d_forward(x, w, b, 1, 2), repeats)
            bwd = median_s(lambda: conv2d_backward(dout, cache, input_grad=i > 0), repeats)
            flops = conv_flops(c, k, size)
            rows.append((f"conv{i + 1} {c}→{k} {size}×{size}", fwd, bwd, flops / fwd, flops * (2 if i else 1) / bwd))
            pooled, pool_cache = relu_max_pool_forward(out)
            dpool = np.ones_like(pooled)
            fwd = median_s(lambda: relu_max_pool_forward(out), repeats)
            bwd = median_s(lambda: relu_max_pool_backward(dpool, pool_cache), repeats)
            rows.append((f"  relu+pool{i + 1} fused", fwd, bwd, None, None))
            relu = np.maximum(out, 0)
            _, pool_cache = max_pool_forward(relu, 2)
            fwd = median_s(lambda: max_pool_forward(np.maximum(out, 0), 2), repeats)
            bwd = median_s(lambda: max_pool_backward(dpool, pool_cache) * (relu > 0), repeats)
            rows.append((f"  relu, pool{i + 1} apart", fwd, bwd, None, None))
            x = pooled
    return rows


def kernel_steps() -> dict:
    """{(threads, fused): step function} for the kernel-built net."""
    steps = {}
    for threads in (1, 2):
        for fused in (True, False):
            net, (x, y) = KernelNet(fused), batch()

            def step(net=net, x=x, y=y, threads=threads):
                with blas.limit_threads(threads):
                    net.step(x, y)

            steps[threads, fused] = step
    return steps


def torch_steps():
    """({threads: step function}, default threads, version) for the same net in PyTorch, or None."""
    try:
        import torch
    except ImportError:
        return None
    default = torch.get_num_threads()
    torch.manual_seed(0)
    layers = []
    for c, k in CONVS:
        layers += [torch.nn.Conv2d(c, k, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
    net = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(320, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = (torch.from_numpy(a) for a in batch())

    def step(threads):
        torch.set_num_threads(threads)
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    return {t: (lambda t=t: step(t)) for t in sorted({1, 2, default})}, default, torch.__version__


def interleaved_rates(steps: dict, rounds: int, per_round: int = 3) -> dict:
    """{name: images/s}: every round times each step function in turn, so that the load of a shared
    machine falls on all of them alike; the median over rounds is reported."""
    times = {name: [] for name in steps}
    for fn in steps.values():
        fn()
    for _ in range(rounds):
        for name, fn in steps.items():
            start = time.perf_counter()
            for _ in range(per_round):
                fn()
            times[name].append((time.perf_counter() - start) / per_round)
    return {name: BATCH / statistics.median(t) for name, t in times.items()}


def memory_figures(steps: int = 10) -> tuple[float, float]:
    """(peak resident MB, minor page faults per step) of a fresh process training the kernel net.

    VmHWM, not ru_maxrss: a child's ru_maxrss also counts the parent's memory at fork (PyTorch).
    """
    code = (
        "import resource, sys; sys.path.insert(0, %r)\n"
        "from bench_kernels import KernelNet, batch\n"
        "net, (x, y) = KernelNet(True), batch()\n"
        "for _ in range(3): net.step(x, y)\n"
        "faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(%d): net.step(x, y)\n"
        "faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / %d\n"
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')), faults)\n"
    ) % (str(Path(__file__).resolve().parent), steps, steps)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak_kb, faults = result.stdout.split()
    return int(peak_kb) / 1024, float(faults)


def blas_overhead(repeats: int = 7, calls: int = 20000) -> None:
    """The cost of one set-and-restore of the BLAS thread count (what ``engine_threads`` does around
    a kernel called on its own), three ways, beside the smallest kernel call of the net."""
    from threadpoolctl import ThreadpoolController

    lib = blas.blas_library()
    if lib is None:
        print("BLAS is not controllable here: nothing to measure")
        return
    controller = ThreadpoolController()
    other = 2 if blas.get_threads() == 1 else 1

    def per_call(fn, n):
        return min(timeit.repeat(fn, number=n, repeat=repeats)) / n

    def setter():
        previous = blas.set_threads(other)
        blas.set_threads(previous)

    def limiter():
        with controller.limit(limits=other, user_api="blas"):
            pass

    x = np.random.default_rng(0).standard_normal((BATCH, 20, 8, 8)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((20, 20, 5, 5)).astype(np.float32)
    conv = per_call(lambda: conv2d_forward(x, w, None, 1, 2), 50)
    wrapped = per_call(blas.engine_threads(lambda: None), calls)
    print(f"BLAS: {lib.api} {lib.path}")
    for name, seconds in (
        ("blas.set_threads set + restore (per-library setter)", per_call(setter, calls)),
        ("engine_threads around an empty call", wrapped),
        ("ThreadpoolController.limit(...) enter + exit", per_call(limiter, calls // 10)),
    ):
        print(f"  {name:<54} {seconds * 1e6:6.2f} µs  ({seconds / conv:.2%} of conv3's forward, {conv * 1e3:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    parser.add_argument("--blas-overhead", action="store_true", help="only the per-call cost of setting BLAS threads")
    args = parser.parse_args()
    if args.blas_overhead:
        blas_overhead()
        return
    repeats = 3 if args.quick else 9
    lib = blas.blas_library()
    print(f"numpy {np.__version__}; BLAS: {lib.path if lib else 'not controllable'}; engine default "
          f"{blas.ENGINE_THREADS} thread(s); batch {BATCH}, float32; medians of {repeats}\n")

    gemm, seen = {}, {}
    for threads in (1, 2):
        gemm[threads], seen[threads] = gemm_rate(threads, repeats)
    print("float32 GEMM 2048×2048: " + ", ".join(
        f"{t} thread(s) {g:.0f} GFLOP/s (BLAS reports {seen[t]})" for t, g in gemm.items()))

    for threads in (1, 2):
        print(f"\nkernels, {threads} BLAS thread(s): median ms (GFLOP/s, % of the 2048² GEMM rate)")
        print(f"  {'kernel':<26} {'forward':>20} {'backward':>20}")
        for name, fwd, bwd, fwd_rate, bwd_rate in kernel_rows(threads, repeats):
            cells = []
            for seconds, rate in ((fwd, fwd_rate), (bwd, bwd_rate)):
                extra = f" ({rate / 1e9:3.0f}, {100 * rate / 1e9 / gemm[threads]:2.0f}%)" if rate else ""
                cells.append(f"{seconds * 1e3:7.2f}{extra}")
            print(f"  {name:<26} {cells[0]:>20} {cells[1]:>20}")

    flops = step_flops()
    ours = kernel_steps()
    theirs = torch_steps()
    steps = {("kernels", *key): fn for key, fn in ours.items()}
    if theirs is not None:
        steps.update({("torch", t): fn for t, fn in theirs[0].items()})
    rates = interleaved_rates(steps, rounds=repeats)
    print(f"\ntraining step (forward + backward + SGD), {flops / BATCH / 1e6:.1f} MFLOP per image, "
          f"all variants interleaved round by round:")
    for (threads, fused) in ours:
        rate = rates["kernels", threads, fused]
        gflops = rate * flops / BATCH / 1e9
        label = "ReLU fused into pools" if fused else "ReLU apart"
        print(f"  kernels, {threads} BLAS thread(s), {label:<22} {rate:6.0f} images/s  {gflops:5.1f} GFLOP/s "
              f"({100 * gflops / gemm[threads]:.0f}% of GEMM)")
    peak, faults = memory_figures()
    print(f"  kernel net training: peak resident memory {peak:.0f} MB, {faults:.0f} minor page faults per step "
          f"({memory.ENV_VAR}={os.environ.get(memory.ENV_VAR, 'on')})")
    if theirs is None:
        print("\nPyTorch not installed: pip install torch==2.13.0 to compare")
        return
    torch_rates, default, version = {t: rates["torch", t] for t in theirs[0]}, theirs[1], theirs[2]
    print(f"PyTorch {version} (default {default} threads), same net and step:")
    for threads, rate in torch_rates.items():
        print(f"  PyTorch, {threads} thread(s) {'':<30} {rate:6.0f} images/s  {rate * flops / BATCH / 1e9:5.1f} GFLOP/s")
    for threads in (1, 2):
        for fused in (True, False):
            label = "fused" if fused else "apart"
            print(f"  kernels ({threads} BLAS thread(s), ReLU {label}) / PyTorch ({default} threads): "
                  f"{rates['kernels', threads, fused] / torch_rates[default]:.2f}×")
    best = max(rates["kernels", t, f] for t, f in ours)
    print(f"  best kernels / PyTorch with 1 thread: {best / torch_rates[1]:.2f}×")
    if torch_rates[default] < torch_rates[1]:
        print(f"  note: PyTorch ran slower with {default} threads than with 1: the other core was busy (load "
              f"{os.getloadavg()[0]:.1f}), so the ratios against {default} threads overstate the kernels")

if __name__ == "__main__":
    main()
