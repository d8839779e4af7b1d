"""Helpers for the training tests: a network that trains in milliseconds on the small data set."""

from __future__ import annotations

from convviz.model import FC, Conv, Flatten, MaxPool, NetworkSpec, ReLU, Softmax, Volume


def tiny_spec() -> NetworkSpec:
    return NetworkSpec(
        Volume(32, 32, 3),
        [Conv(filters=6, size=4, stride=2, pad=1), ReLU(), MaxPool(size=2), Flatten(), FC(units=10), Softmax()],
        name="tiny",
    )
