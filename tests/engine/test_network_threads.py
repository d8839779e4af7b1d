"""A batch split across two cores is still one batch: the same scores, input gradient, parameter
gradients, batch-norm running statistics and dropout generator state as one thread, up to rounding
(float64: ~1e-12), for the ConvNetJS net, the small VGG (batch norm + dropout) and ResNet-20 (batch
norm + residuals), with part 1 in a helper process (the default) or on a second Python thread."""

import threading
import warnings

import numpy as np
import pytest

from convviz.engine import Network, softmax_cross_entropy
from convviz.engine.optim import SGD
from convviz.engine.parallel import Collective, Part, Runner, split_bounds
from convviz.engine.processes import ProcessRunner
from convviz.model import (
    FC,
    BatchNorm,
    Conv,
    Dropout,
    Flatten,
    NetworkSpec,
    ReLU,
    Volume,
    preset,
)

PRESETS = ("convnetjs", "smallvgg", "resnet20")
BACKENDS = ("process", "thread")


def data(spec, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + spec.input.chw()), rng.integers(0, 10, n)


def train_steps(net, batches):
    """Two SGD steps (then an evaluation pass); every number a step gives, copied."""
    opt = SGD(net.params(), lr=0.05, momentum=0.9)
    seen = []
    for x, y in batches:
        scores = net.forward(x, train=True)
        loss, dscores = softmax_cross_entropy(scores, y)
        dx = net.backward(dscores)
        seen.append({
            "scores": scores.copy(), "dx": None if dx is None else dx.copy(),
            **{f"grad {k}": g.copy() for k, g in net.grads().items()},
            **{f"buffer {k}": b.copy() for k, b in net.buffers().items()},
        })
        opt.step(net.grads())
    seen.append({"eval scores": net.forward(batches[0][0], train=False).copy(),
                 **{f"param {k}": p.copy() for k, p in net.params().items()}})
    return seen


def errors(one, two) -> dict[str, float]:
    """The largest difference of every kind of array (scores, dx, grad, buffer, param …) between two
    runs, as a share of the largest magnitude of that kind in ``one`` (a conv bias in front of batch
    norm has a gradient of ~1e-16: only its size against the other gradients means anything)."""
    worst = {}
    for step_one, step_two in zip(one, two, strict=True):
        assert step_one.keys() == step_two.keys()
        scale = {}
        for key, a in step_one.items():
            if a is not None:
                scale[key.split()[0]] = max(scale.get(key.split()[0], 0.0), float(np.abs(a).max()))
        for key, a in step_one.items():
            b, kind = step_two[key], key.split()[0]
            if a is None:
                assert b is None, key
                continue
            assert a.shape == b.shape, key
            worst[kind] = max(worst.get(kind, 0.0), float(np.abs(a - b.astype(a.dtype)).max()) / scale[kind])
    return worst


def assert_same(one, two, rtol):
    bad = {kind: e for kind, e in errors(one, two).items() if not e <= rtol}
    assert not bad, f"differences above {rtol:.0e} of the largest value of their kind: {bad}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", PRESETS)
def test_two_threads_give_the_one_thread_step_float64(name, backend):
    spec = preset(name)
    batches = [data(spec, 9, seed=1), data(spec, 8, seed=2)]  # 5 + 4 images, then 4 + 4
    one = Network(spec, seed=3, dtype=np.float64)
    two = Network(spec, seed=3, dtype=np.float64, threads=2, backend=backend)
    assert_same(train_steps(one, batches), train_steps(two, batches), rtol=1e-12)
    assert two.get_rng_state() == one.get_rng_state()  # dropout drew the same numbers, no more


# ResNet-20 in float32 is off float64 by up to these shares on one thread already, seed to seed
# (measured over seeds 3–6): a ReLU input within rounding of 0 takes the other side in float32 and
# stops or passes a whole gradient value (e.g. relu6 on seed 4: dx off by 1e-2 from there down).
# Which run meets such a flip is luck, so below these shares one and two threads are not compared.
# A split batch normalising with its own part's statistics would be off by ~1e-1 in the scores.
FLIP_FLOOR = {"resnet20": {"scores": 5e-4, "dx": 0.15, "grad": 0.08, "buffer": 5e-5, "eval": 5e-3, "param": 1e-3}}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", PRESETS)
def test_two_threads_give_the_one_thread_step_float32(name, backend):
    """Within float32 rounding: against float64, two threads are off by no more than one thread is
    (or than float32's ReLU flips make one thread off, see FLIP_FLOOR). The small VGG draws its
    dropout masks in the network's dtype, so float64 draws others: there the two float32 runs are
    compared with each other."""
    spec = preset(name)
    batches = [data(spec, 33, seed=1), data(spec, 16, seed=2)]  # 17 + 16 images, then 8 + 8
    one, two = Network(spec, seed=3), Network(spec, seed=3, threads=2, backend=backend)
    run_one, run_two = train_steps(one, batches), train_steps(two, batches)
    assert two.get_rng_state() == one.get_rng_state()
    if any(isinstance(r.layer, Dropout) for r in one.report.layers):
        assert_same(run_one, run_two, rtol=1e-4)
        return
    exact = train_steps(Network(spec, seed=3, dtype=np.float64), batches)
    off_one, off_two = errors(exact, run_one), errors(exact, run_two)
    floor = FLIP_FLOOR.get(name, {})
    rounding = {kind: max(e, floor.get(kind, 0.0)) for kind, e in off_one.items()}
    worse = {kind: (off_one[kind], e) for kind, e in off_two.items() if not e <= 2 * rounding[kind] + 1e-6}
    assert not worse, f"(one thread, two threads) off float64 by: {worse}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_odd_batches_split_unevenly_and_a_single_image_runs_on_one_thread(monkeypatch, backend):
    assert split_bounds(33, 2) == [(0, 17), (17, 33)]
    assert split_bounds(64, 2) == [(0, 32), (32, 64)]
    assert split_bounds(5, 3) == [(0, 2), (2, 4), (4, 5)]
    runs = []
    runner = ProcessRunner if backend == "process" else Runner
    original = runner.run
    monkeypatch.setattr(runner, "run", lambda self, bounds, *rest: runs.append(bounds) or original(self, bounds, *rest))
    spec = preset("convnetjs")
    one, two = Network(spec, dtype=np.float64), Network(spec, dtype=np.float64, threads=2, backend=backend)
    for n in (1, 2, 3):
        x, y = data(spec, n)
        np.testing.assert_allclose(two.forward(x), one.forward(x), rtol=1e-12, atol=1e-12)
    assert runs == [[(0, 1), (1, 2)], [(0, 2), (2, 3)]]


def test_parts_really_run_on_two_threads(monkeypatch):
    from convviz.engine import layers as L

    threads = set()
    forward = L.FC.forward
    monkeypatch.setattr(L.FC, "forward", lambda self, *a, **k: threads.add(threading.get_ident()) or forward(self, *a, **k))
    net = Network(preset("convnetjs"), threads=2, backend="thread")
    net.forward(data(net.spec, 4)[0])
    assert len(threads) == 2 and threading.get_ident() in threads  # part 0 runs on the caller's thread


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm_on_parts_of_one_image_uses_the_whole_batch(backend):
    """Flat batch norm over 2 images split 1 + 1: each part alone would have n = 1 and fail."""
    spec = NetworkSpec(Volume(1, 1, 4), [FC(6), BatchNorm(), ReLU(), FC(3)])
    one, two = Network(spec, dtype=np.float64), Network(spec, dtype=np.float64, threads=2, backend=backend)
    x = data(spec, 2)[0]
    np.testing.assert_allclose(two.forward(x), one.forward(x), rtol=1e-12)
    np.testing.assert_allclose(two.buffers()["bn1.running_var"], one.buffers()["bn1.running_var"], rtol=1e-12)
    with pytest.raises(ValueError, match="batch norm in training needs more than one value per depth slice"):
        two.forward(x[:1])


def test_traced_passes_run_on_one_thread_and_match():
    spec = preset("smallvgg")
    one, two = Network(spec, dtype=np.float64), Network(spec, dtype=np.float64, threads=2)
    x, y = data(spec, 4)
    traces = []
    for net in (one, two):
        trace = net.trace_forward(x, train=True)
        net.trace_backward(trace, softmax_cross_entropy(trace.scores, y)[1])
        traces.append(trace)
    for name, layer in traces[0].layers.items():
        np.testing.assert_allclose(traces[1][name].output, layer.output, rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(traces[1][name].downstream, layer.downstream, rtol=1e-10, atol=1e-12, err_msg=name)
    two.forward(x)  # split: its caches are in two replicas, which a traced backward must not mix up
    with pytest.raises(RuntimeError, match="a traced backward pass needs a traced forward pass first"):
        two.backward_recorded(np.ones((4, 10)), _NoRecorder())


class _NoRecorder:
    def forward_in(self, layer, x): pass
    def forward_out(self, layer, y): pass
    def backward_in(self, layer, d): pass
    def backward_out(self, layer, d): pass


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_callers_errstate_holds_in_every_part(backend):
    """The trainer runs its passes under np.errstate(all="ignore"): the second part must too."""
    spec = NetworkSpec(Volume(2, 2, 1), [Flatten(), FC(3), ReLU(), FC(2)])
    net = Network(spec, threads=2, backend=backend)
    x = np.full((4, 1, 2, 2), 3e38, np.float32)  # overflows to inf, then inf − inf = nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="ignore"):
            scores = net.forward(x)
    assert not np.isfinite(scores).all()
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        net.forward(x)
    assert np.isfinite(net.forward(np.ones((4, 1, 2, 2), np.float32))).all()  # and the network goes on


def test_a_failing_part_stops_the_others_and_its_error_reaches_the_caller():
    parts = [Part(None, rank, Collective(2)) for rank in range(2)]
    parts[1].collective = parts[0].collective
    runner = Runner(parts)

    def task(rank, start, stop):
        if rank == 1:
            raise KeyError("part 1 failed")
        return parts[0].gather("waits for part 1 forever unless aborted")

    with pytest.raises(KeyError, match="part 1 failed"):
        runner.run([(0, 1), (1, 2)], 2, task)
    # the collective is ready again, and gathers in part order
    assert runner.run([(0, 1), (1, 2)], 2, lambda rank, a, b: parts[rank].gather(rank * 10)) == [[0, 10], [0, 10]]
    assert not any(part.split for part in parts)


def test_threads_is_checked():
    spec = NetworkSpec(Volume(2, 2, 1), [Flatten(), FC(2)])
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match=rf"threads must be a whole number from 1 to 64, got {bad!r}"):
            Network(spec, threads=bad)
    assert "2 threads" in repr(Network(spec, threads=2))


def test_dropout_mask_rows_are_the_one_thread_mask():
    spec = NetworkSpec(Volume(3, 3, 2), [Conv(2, 3, pad=1), Dropout(0.5), Flatten(), FC(2)])
    one, two = Network(spec, dtype=np.float64), Network(spec, dtype=np.float64, threads=2)
    x = data(spec, 7)[0]
    one.forward(x)
    two.forward(x)
    np.testing.assert_array_equal(two.layer("dropout1").mask, one.layer("dropout1").mask[:4])


def test_a_network_no_longer_used_takes_its_thread_with_it():
    import time

    before = set(threading.enumerate())  # Thread objects: an ended thread's ident may be reused
    net = Network(preset("convnetjs"), threads=2, backend="thread")
    net.forward(data(net.spec, 2)[0])
    assert any(t.name.startswith("convviz-engine") for t in set(threading.enumerate()) - before)
    del net
    deadline = time.monotonic() + 5
    while any(t.name.startswith("convviz-engine") for t in set(threading.enumerate()) - before):
        assert time.monotonic() < deadline, "the network's worker thread outlived it"
        time.sleep(0.01)


def test_an_interrupt_on_the_calling_thread_releases_the_other_part():
    """Ctrl+C (KeyboardInterrupt) in part 0 while part 1 waits at a collective: part 1 ends, the
    interrupt reaches the caller, and the next pass runs."""
    collective = Collective(2)
    parts = [Part(None, rank, collective) for rank in range(2)]
    runner = Runner(parts)
    ended = threading.Event()

    def task(rank, start, stop):
        if rank == 0:
            raise KeyboardInterrupt
        try:
            return parts[1].gather("waits for part 0")
        finally:
            ended.set()

    with pytest.raises(KeyboardInterrupt):
        runner.run([(0, 1), (1, 2)], 2, task)
    assert ended.is_set()
    assert runner.run([(0, 1), (1, 2)], 2, lambda rank, a, b: parts[rank].gather(rank)) == [[0, 1], [0, 1]]
