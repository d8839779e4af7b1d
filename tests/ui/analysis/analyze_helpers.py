"""The small network the Analyze workspace's tests train and look into."""

from convviz.model import FC, Conv, Flatten, MaxPool, NetworkSpec, ReLU, Softmax, Volume


def two_conv_spec() -> NetworkSpec:
    return NetworkSpec(Volume(32, 32, 3), [
        Conv(filters=8, size=4, stride=2, pad=1), ReLU(), MaxPool(size=2),
        Conv(filters=8, size=3, pad=1), ReLU(), MaxPool(size=2), Flatten(), FC(units=10), Softmax(),
    ], name="two convs")
