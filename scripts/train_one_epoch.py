"""Train the ConvNetJS preset on real CIFAR-10 for one epoch with the numpy engine; print test accuracy.

    python scripts/train_one_epoch.py [PATH] [--lr 0.02] [--batch 64] [--seed 0]

PATH is the CIFAR-10 python archive (``cifar-10-python.tar.gz``) or its extracted folder; by default
``../shared/cifar10/cifar-10-python.tar.gz`` beside the repository, else the ``convviz data fetch``
cache. All 50,000 training images, one pass in random order, batch 64, per-channel normalisation
measured on the training images, SGD with Nesterov momentum 0.9, L2 weight decay 5e-4 and a cosine
learning rate over the epoch. Then the 10,000 test images in eval mode.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convviz.data import load_dataset  # noqa: E402
from convviz.engine import Network, softmax_cross_entropy  # noqa: E402
from convviz.engine.optim import SGD, CosineLR  # noqa: E402
from convviz.model import preset  # noqa: E402

SHARED = ROOT.parent / "shared" / "cifar10" / "cifar-10-python.tar.gz"


def peak_rss_mb() -> float | None:
    try:
        status = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    return int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024


def test_accuracy(net: Network, data, batch: int = 500) -> float:
    correct = 0
    for x, y in data.batches("test", batch, shuffle=False):
        correct += int((net.forward(x, train=False).argmax(axis=1) == y).sum())
    return correct / len(data.split("test"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", nargs="?", help="CIFAR-10 archive or folder")
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    source = args.path or (str(SHARED) if SHARED.exists() else "cifar10")

    start = time.perf_counter()
    data = load_dataset(source, validation=0, seed=args.seed)
    print(f"loaded {len(data.split('train')):,} training and {len(data.split('test')):,} test images "
          f"in {time.perf_counter() - start:.1f} s (peak memory so far {peak_rss_mb() or 0:.0f} MB)")

    net = Network(preset("convnetjs"), seed=args.seed)
    steps = -(-len(data.split("train")) // args.batch)
    opt = SGD(net.params(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = CosineLR(args.lr, total_steps=steps)
    rng = np.random.default_rng(args.seed)

    began = window_start = time.perf_counter()
    losses, correct, seen = [], 0, 0
    for step, (x, y) in enumerate(data.batches("train", args.batch, rng=rng)):
        opt.lr = schedule.lr_at(step)
        scores = net.forward(x, train=True)
        loss, dscores = softmax_cross_entropy(scores, y)
        net.backward(dscores, input_grad=False)
        opt.step(net.grads())
        losses.append(loss)
        correct += int((scores.argmax(axis=1) == y).sum())
        seen += len(y)
        if (step + 1) % 100 == 0 or step + 1 == steps:
            now = time.perf_counter()
            print(f"step {step + 1:4d}/{steps}  loss {np.mean(losses[-100:]):.3f}  "
                  f"train acc {correct / seen:.1%}  {seen / (now - window_start):.0f} images/s", flush=True)
            correct, seen, window_start = 0, 0, now
    train_seconds = time.perf_counter() - began
    acc = test_accuracy(net, data)
    print(f"one epoch ({steps} steps of {args.batch}) in {train_seconds:.1f} s "
          f"= {len(data.split('train')) / train_seconds:.0f} images/s, data batches included")
    print(f"test accuracy after one epoch: {acc:.2%}")
    peak = peak_rss_mb()
    if peak is not None:
        print(f"peak resident memory: {peak:.0f} MB (the data set's loading included)")


if __name__ == "__main__":
    main()
