"""im2col against implicit products (``convviz.engine.kernels.implicit``) for every stride-1 convolution
of the presets, pass by pass, and which one the engine picks.

    python bench/bench_conv_paths.py [--repeats 9] [--batches 32 64]

For each distinct stride-1 convolution of the ConvNetJS, small VGG and ResNet-20 presets (C input
channels, K filters, the plane and filter size), at batch 64 (one thread) and 32 (each half of a
batch split over two threads), float32, one BLAS thread, prints the best-of-``repeats`` CPU time of
the calling thread (``time.thread_time``; the machine is shared) of:

- forward: im2col + GEMM (from the batch-last input) vs implicit products (from the input copied
  rows-first), each including its padding copy;
- dw: im2col's recomputed columns vs implicit products (both from their forward's padded input);
- dx: the gather (flipped filters) or the scatter (col2im), whichever the im2col path would take,
  vs implicit products;

and the engine's pick per pass (``implicit.forward_pays`` / ``filter_grad_pays`` / ``input_grad_pays``)
with ✓ when it is the faster one in this run. Runs alternate round by round.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convviz.engine import blas  # noqa: E402
from convviz.engine.kernels import conv, implicit  # noqa: E402
from convviz.engine.kernels.layout import batch_last  # noqa: E402
from convviz.model import analyze, preset  # noqa: E402
from convviz.model import layers as S  # noqa: E402
from convviz.model.geometry import window2d  # noqa: E402

PRESETS = ("convnetjs", "smallvgg", "resnet20")


def stride1_convs() -> list[tuple]:
    """Distinct (C, K, H, W, F, pad, presets) of the presets' stride-1, undilated convolutions."""
    found = {}

    def walk(reports, name):
        for r in reports:
            if isinstance(r.layer, S.Conv) and not isinstance(r.layer, S.LocallyConnected):
                geo = r.geometry
                if implicit.applies(geo):
                    key = (r.input.depth, r.layer.filters, r.input.height, r.input.width, geo.taps_h, geo.pad)
                    found.setdefault(key, set()).add(name)
            for _, children in r.children or []:
                walk(children, name)

    for name in PRESETS:
        walk(analyze(preset(name)).layers, name)
    return [(*key, sorted(names)) for key, names in found.items()]


def race(functions: list, repeats: int) -> list[float]:
    """Best CPU seconds of each function, calls alternating round by round."""
    for f in functions:
        f()
    best = [float("inf")] * len(functions)
    for _ in range(repeats):
        for i, f in enumerate(functions):
            start = time.thread_time()
            f()
            best[i] = min(best[i], time.thread_time() - start)
    return best


def passes(C, K, H, W, F, pad, N, repeats):
    """{pass: (im2col s, implicit s, engine picks implicit)} for one shape and batch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C, F, F)).astype(np.float32)
    geo = window2d(H, W, F, F, 1, pad, 1, what="filter")
    d = rng.standard_normal((K, geo.out_h, geo.out_w, N)).astype(np.float32)
    xp, xh = batch_last(x, geo.pad), implicit.rows_first(x.transpose(1, 2, 3, 0), geo.pad)
    w2 = w.reshape(K, -1)
    gather_dx = geo.stride == (1, 1) and 2 * C > K
    im2col_dx = conv.input_grad_stride1 if gather_dx else conv.input_grad_scatter
    timed = race([
        lambda: conv.correlate(batch_last(x, geo.pad), w2, geo),
        lambda: implicit.implicit_correlate(implicit.rows_first(x.transpose(1, 2, 3, 0), geo.pad), w),
        lambda: conv.filter_grad(xp, d, geo),
        lambda: implicit.implicit_filter_grad(xh, d, (F, F)),
        lambda: im2col_dx(d, w, geo),
        lambda: conv.implicit_input_grad(d, w, geo),
    ], repeats)
    return {
        "forward": (timed[0], timed[1], implicit.forward_pays(C, K, geo.out_w, F)),
        "dw": (timed[2], timed[3], implicit.filter_grad_pays(C, K)),
        f"dx ({'gather' if gather_dx else 'scatter'})": (timed[4], timed[5], implicit.input_grad_pays(C, K, geo.in_w, F)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 32])
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at the start; ms of CPU time, best of {args.repeats}; "
          "✓: the engine's pick was the faster one here")
    right = total = 0
    with blas.limit_threads(1):
        for C, K, H, W, F, pad, names in stride1_convs():
            for N in args.batches:
                print(f"\nC={C} K={K} {H}×{W} {F}×{F} pad {pad[0][0]}, batch {N} ({', '.join(names)})")
                for what, (direct, implicit_s, picks) in passes(C, K, H, W, F, pad, N, args.repeats).items():
                    faster = implicit_s < direct
                    right += picks == faster
                    total += 1
                    print(f"  {what:<14} im2col {direct * 1e3:7.2f}  implicit {implicit_s * 1e3:7.2f}  "
                          f"({direct / implicit_s:4.2f}×)  picks {'implicit' if picks else 'im2col  '} "
                          f"{'✓' if picks == faster else '✗'}")
    print(f"\nthe engine picked the faster path {right} times of {total}; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
