"""Part 1 of a split batch in a helper process: it really is another process, it sees the weights
the optimizer changed, its failures and part 0's reach the caller without leaving anyone waiting, and
it ends with the network (or is started again when it died)."""

import os
import time

import numpy as np
import pytest

from convviz.engine import Network, softmax_cross_entropy
from convviz.engine.optim import SGD
from convviz.engine.processes import HelperStopped
from convviz.model import FC, BatchNorm, Flatten, NetworkSpec, ReLU, Volume

SPEC = NetworkSpec(Volume(4, 4, 2), [Flatten(), FC(6), BatchNorm(), ReLU(), FC(3)])


def batch(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2, 4, 4)), rng.integers(0, 3, n)


def helper_of(net):
    (helper,) = net._runner.helpers
    return helper.process


def test_part_one_runs_in_another_process_on_the_shared_weights():
    one = Network(SPEC, dtype=np.float64)
    two = Network(SPEC, dtype=np.float64, threads=2)
    x, y = batch()
    opts = [SGD(net.params(), lr=0.5, momentum=0.9) for net in (one, two)]
    for _ in range(3):  # each step changes the weights in this process; the helper must see them
        for net, opt in zip((one, two), opts):
            loss, d = softmax_cross_entropy(net.forward(x), y)
            net.backward(d)
            opt.step(net.grads())
    assert helper_of(two).pid != os.getpid() and helper_of(two).poll() is None
    assert two.helper_pids() == [helper_of(two).pid] and one.helper_pids() == []
    for name, p in one.params().items():
        np.testing.assert_allclose(two.params()[name], p, rtol=1e-12, atol=1e-14, err_msg=name)
    for name, b in one.buffers().items():  # part 0 keeps the running statistics
        np.testing.assert_allclose(two.buffers()[name], b, rtol=1e-12, err_msg=name)
    two.set_weights(one.get_weights())
    np.testing.assert_allclose(two.forward(x, train=False), one.forward(x, train=False), rtol=1e-12)


def test_an_error_in_part_zero_releases_the_helper_waiting_at_batch_norm(monkeypatch):
    net = Network(SPEC, threads=2)
    x, _ = batch()
    net.forward(x)
    bn = net.layer("bn1")
    original = bn.forward

    def failing(*args, **kwargs):
        raise KeyError("part 0 failed")

    monkeypatch.setattr(bn, "forward", failing)
    with pytest.raises(KeyError, match="part 0 failed"):
        net.forward(x)
    monkeypatch.setattr(bn, "forward", original)
    one = Network(SPEC, threads=1, weights=net.get_weights())
    np.testing.assert_allclose(net.forward(x), one.forward(x), rtol=1e-5)  # the same helper goes on


def test_an_interrupt_in_part_zero_releases_the_helper(monkeypatch):
    net = Network(SPEC, threads=2)
    x, _ = batch()
    net.forward(x)
    helper = helper_of(net)
    monkeypatch.setattr(net.layer("bn1"), "forward", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        net.forward(x)
    monkeypatch.undo()
    assert net.forward(x).shape == (6, 3) and helper_of(net) is helper


def test_an_error_in_the_helper_reaches_the_caller_with_its_traceback():
    net = Network(SPEC, threads=2)
    x, _ = batch()
    net.forward(x)
    runner = net._runner
    # part 0 waits at an exchange; the helper fails at once: its d does not fit its layers' caches
    with pytest.raises(ValueError) as raised:
        runner.run([(0, 3), (3, 6)], 6, lambda rank, a, b: net._parts[0].gather("waits"), "backward",
                   np.ones((6, 5)), {"input_grad": True})
    assert "raised in the engine's helper process for part 1" in "\n".join(raised.value.__notes__)
    assert net.forward(x).shape == (6, 3)  # and the next pass runs


def test_a_helper_that_died_is_started_again_and_a_finished_network_takes_it_along():
    net = Network(SPEC, threads=2)
    x, y = batch()
    net.forward(x)
    first = helper_of(net)
    first.kill()
    first.wait()
    assert net.forward(x).shape == (6, 3)
    second = helper_of(net)
    assert second.pid != first.pid
    del net
    deadline = time.monotonic() + 10
    while second.poll() is None:
        assert time.monotonic() < deadline, "the helper process outlived its network"
        time.sleep(0.02)


def test_a_helper_killed_during_a_pass_gives_a_clear_error(monkeypatch):
    net = Network(SPEC, threads=2)
    x, _ = batch()
    net.forward(x)
    original = net.layer("fc1").forward

    def kill_then_forward(*args, **kwargs):
        helper_of(net).kill()
        helper_of(net).wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(net.layer("fc1"), "forward", kill_then_forward)
    with pytest.raises(HelperStopped, match=r"helper process for part 1 ended \(exit code -9\)"):
        net.forward(x)
    monkeypatch.undo()
    assert net.forward(x).shape == (6, 3)


def test_big_networks_share_their_weights_beyond_dev_shm():
    """VGG-sized weights would not fit a container's 64 MB /dev/shm: the memory is an anonymous file."""
    spec = NetworkSpec(Volume(1, 1, 4096), [FC(4096), ReLU(), FC(10)])  # 67 MB of float32 weights
    net = Network(spec, threads=2)
    x = np.ones((4, 4096), np.float32).reshape(4, 4096, 1, 1)
    single = Network(spec, weights=net.get_weights())
    np.testing.assert_allclose(net.forward(x), single.forward(x), rtol=1e-5)


def test_without_a_python_to_start_the_network_warns_once_and_runs_on_one_core(monkeypatch):
    from convviz.engine import processes

    monkeypatch.setattr(processes.sys, "executable", "/nonexistent/python")
    net = Network(SPEC, dtype=np.float64, threads=2)
    one = Network(SPEC, dtype=np.float64, weights=net.get_weights())
    x, y = batch()
    with pytest.warns(RuntimeWarning, match="could not start its helper process .* each batch runs on one core"):
        scores = net.forward(x)
    np.testing.assert_allclose(scores, one.forward(x), rtol=1e-12)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        net.backward(softmax_cross_entropy(net.forward(x), y)[1])
    assert net.helper_pids() == []
