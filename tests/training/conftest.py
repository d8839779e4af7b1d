"""Small, fast training fixtures: a tiny network on a small synthetic data set."""

import pytest

from convviz.data import synthetic_dataset
from convviz.model import FC, Conv, Flatten, MaxPool, NetworkSpec, ReLU, Softmax, Volume


def tiny_spec() -> NetworkSpec:
    return NetworkSpec(
        Volume(32, 32, 3),
        [
            Conv(filters=8, size=4, stride=2, pad=1), ReLU(), MaxPool(size=2, stride=2),
            Conv(filters=8, size=3, pad=1), ReLU(), MaxPool(size=2, stride=2),
            Flatten(), FC(units=10), Softmax(),
        ],
        name="tiny",
    )


@pytest.fixture(scope="session")
def small_data():
    """600 training images (60 held out for validation) and 200 test images."""
    return synthetic_dataset(train=600, test=200, validation=60, seed=3)


@pytest.fixture
def spec():
    return tiny_spec()
