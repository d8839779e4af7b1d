"""Forward outputs and every gradient equal to PyTorch's for the same weights (float64).

Optional: skipped, saying why, where PyTorch is not installed (``pip install torch``). The PyTorch
networks are built layer for layer from the engine's (tests/engine/torch_reference.py).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the cross-checks against it are optional")

from convviz.engine import Network, softmax_cross_entropy  # noqa: E402
from convviz.model import (  # noqa: E402
    FC,
    LRN,
    AvgPool,
    Branch,
    ELU,
    Conv,
    Flatten,
    GlobalAvgPool,
    LocallyConnected,
    MaxPool,
    NetworkSpec,
    ReLU,
    Softmax,
    Volume,
    preset,
)

from torch_reference import TorchNetwork  # noqa: E402  (tests/engine is on sys.path)

BRANCH = NetworkSpec(Volume(9, 9, 4), [
    Conv(6, 3, pad=1), ReLU(),
    Branch(branches=[[Conv(3, 1), ReLU()], [Conv(2, 1), ReLU(), Conv(4, 3, pad=1), ReLU()],
                     [MaxPool(3, stride=1, pad=1), Conv(2, 1)], []], name="inception"),
    AvgPool(3, stride=2, pad=1, policy="pad"), GlobalAvgPool(), Flatten(), FC(5), Softmax(),
])
LRN_NET = NetworkSpec(Volume(15, 15, 3), [
    Conv(8, 5, stride=2, policy="crop"), ReLU(), LRN(size=5, alpha=0.5, beta=0.75, k=2.0), MaxPool(3, stride=2, policy="crop"),
    Flatten(), FC(4),
])
LOCAL_NET = NetworkSpec(Volume(8, 7, 3), [
    LocallyConnected(4, 3, stride=2, pad=1, policy="crop"), ReLU(),
    LocallyConnected(3, (2, 2), dilation=(1, 2), bias=False), Flatten(), FC(3),
])
ELU_NET = NetworkSpec(Volume(6, 6, 2), [Conv(4, 3, pad=1), ELU(alpha=0.7), MaxPool(2), Flatten(), FC(3), ELU(), FC(2)])
CASES = {
    "convnetjs": (preset("convnetjs"), 4),
    "tinyvgg": (preset("tinyvgg"), 4),
    "smallvgg (BN, dropout)": (preset("smallvgg"), 2),
    "resnet20 (projection)": (preset("resnet20"), 2),
    "branch block": (BRANCH, 3),
    "LRN": (LRN_NET, 3),
    "locally connected (unfold)": (LOCAL_NET, 3),
    "ELU": (ELU_NET, 3),
}


def close(a, b, name):
    """Equal to 1e-9 of the array's largest value (summation order differs; values span decades), or
    to 1e-12 for a gradient that is 0 in exact arithmetic (a bias before batch norm)."""
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=max(1e-9 * np.abs(b).max(), 1e-12), err_msg=name)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("spec, batch", CASES.values(), ids=CASES.keys())
def test_forward_and_all_gradients_equal_pytorch(spec, batch, train):
    net = Network(spec, seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    for name, a in {**net.params(), **net.buffers()}.items():  # move away from the initial values
        a[...] = a + rng.uniform(0.05, 0.2, a.shape) * (1 if "var" in name else rng.choice([-1, 1], a.shape))
    x = rng.standard_normal((batch,) + spec.input.chw())
    y = rng.integers(0, net.output_volume.depth, batch)

    model = TorchNetwork(net)  # its dropout reads the mask the engine draws below
    model.train(train)
    scores = net.forward(x, train=train)
    loss, dscores = softmax_cross_entropy(scores, y)
    dx = net.backward(dscores)

    tx = torch.from_numpy(x).requires_grad_(True)
    tscores = model(tx)
    tloss = torch.nn.functional.cross_entropy(tscores, torch.from_numpy(y))
    tloss.backward()

    np.testing.assert_allclose(scores, tscores.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    close(dx, tx.grad.numpy(), "input")
    tgrads = model.grads()
    assert set(tgrads) == set(net.grads())
    for name, g in net.grads().items():
        close(g, tgrads[name], name)
    for name, b in model.buffers_by_name().items():  # running statistics updated the same way
        close(net.buffers()[name], b, name)


def test_float32_training_step_tracks_pytorch():
    """In float32 the engine and PyTorch sum in different orders: equal to float32 rounding."""
    net = Network(preset("convnetjs"), seed=0)
    x = np.random.default_rng(1).standard_normal((8, 3, 32, 32)).astype(np.float32)
    y = np.arange(8) % 10
    scores = net.forward(x)
    _, d = softmax_cross_entropy(scores, y)
    net.backward(d, input_grad=False)
    model = TorchNetwork(net)
    torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    np.testing.assert_allclose(scores, model(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    for name, g in net.grads().items():
        scale = np.abs(model.grads()[name]).max()
        np.testing.assert_allclose(g, model.grads()[name], rtol=1e-3, atol=1e-4 * scale, err_msg=name)
