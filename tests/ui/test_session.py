"""The run session: records reach the views that subscribe, and current_weights() hands out copies of
the network's weights, fresh, mid-run (between steps) and after the run."""

from __future__ import annotations

import numpy as np
import pytest
from run_helpers import tiny_spec

from convviz.engine import Network
from convviz.model import Conv
from convviz.training.config import TrainConfig


@pytest.fixture
def session(qtbot):
    from convviz.ui.session import RunSession

    shown = {"spec": tiny_spec()}  # what the builder shows; a test may replace it
    run = RunSession(lambda: shown["spec"])
    run.shown = shown
    yield run
    assert run.shutdown(10_000)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_the_session_emits_records_to_a_subscribed_view(qtbot, session, quick_data):
    steps = -(-len(quick_data.split("train")) // 50)  # one epoch of batches of 50
    expected = list(range(2, steps, 2)) + [steps]  # every 2 steps, and the epoch's last
    from convviz.ui.training.curves import CurvesView

    curves = CurvesView(session)
    qtbot.addWidget(curves)
    seen = {"metrics": [], "evaluation": [], "event": [], "state": []}
    session.metrics.connect(seen["metrics"].append)
    session.evaluation.connect(seen["evaluation"].append)
    session.event.connect(seen["event"].append)
    session.state_changed.connect(seen["state"].append)
    with qtbot.waitSignal(session.run_finished, timeout=30_000):
        assert session.start(TrainConfig(epochs=1, batch_size=50, metrics_every=2), "synthetic")
        assert not session.start(TrainConfig(), "synthetic")  # one run at a time
    assert seen["state"][0] == "loading" and "running" in seen["state"] and seen["state"][-1] == "finished"
    assert [m.step for m in seen["metrics"]] == [m.step for m in session.records.metrics] == expected
    assert [(e.split, e.step) for e in seen["evaluation"]] == [("validation", steps), ("test", steps)]
    assert [e.kind for e in seen["event"]][0] == "started" and seen["event"][-1].kind == "finished"
    assert session.records.events == seen["event"]
    assert session.records.snapshot is not None and session.records.snapshot.layer("conv1").activation.shape[1:] == (6, 16, 16)
    curves.redraw()  # what its timer does
    x, _ = curves.smooth_curve.getData()
    assert list(x) == expected
    x, y = curves.val_curve.getData()
    assert list(x) == [steps] and y[0] == seen["evaluation"][0].accuracy


def test_idle_weights_are_copies_of_the_builders_network(session):
    weights = session.current_weights()
    assert session.weights_origin == "fresh"
    assert same(weights, Network(tiny_spec(), seed=TrainConfig().seed).get_weights())
    weights["conv1.weight"][...] = 0.0  # the caller's copy: the session's weights do not change
    again = session.current_weights()
    assert np.abs(again["conv1.weight"]).sum() > 0
    assert again["conv1.weight"] is not weights["conv1.weight"]
    # the builder now shows another network: its weights, with its shapes
    spec = tiny_spec()
    spec.layers[0] = Conv(filters=4, size=4, stride=2, pad=1)
    session.shown["spec"] = spec
    assert session.current_weights()["conv1.weight"].shape == (4, 3, 4, 4)
    assert session.network().layers[0].filters == 4


def test_weights_are_taken_between_steps_while_training_and_kept_after(qtbot, session, quick_data):
    fresh = session.current_weights()
    session.start(TrainConfig(epochs=50, batch_size=16), "synthetic")
    qtbot.waitUntil(lambda: len(session.records.metrics) >= 2, timeout=20_000)
    running = session.current_weights()  # while the run goes on: answered between two steps
    assert running.keys() == fresh.keys() and not np.array_equal(running["conv1.weight"], fresh["conv1.weight"])
    assert session.weights_origin == "training"

    session.pause()
    qtbot.waitUntil(lambda: session.records.events[-1].kind == "paused", timeout=10_000)
    paused = session.current_weights()
    assert same(paused, session.current_weights())  # no step between the two
    paused["fc1.weight"][...] = 7.0  # a copy: the trainer's network is untouched
    step = session.records.metrics[-1].step
    session.step()
    qtbot.waitUntil(lambda: session.records.metrics[-1].step == step + 1, timeout=10_000)
    stepped = session.current_weights()
    assert not np.any(stepped["fc1.weight"] == 7.0)
    assert not np.array_equal(stepped["conv1.weight"], running["conv1.weight"])

    with qtbot.waitSignal(session.run_finished, timeout=10_000):
        session.stop()
    assert session.weights_origin == "trained"
    after = session.current_weights()
    assert same(after, stepped)  # stopped while paused: no step after the last one


def test_after_a_run_the_weights_are_the_trained_networks(qtbot, session, quick_data, small_data):
    with qtbot.waitSignal(session.run_finished, timeout=30_000):
        session.start(TrainConfig(epochs=1, batch_size=50), "synthetic")
    (validation,) = [e for e in session.records.evaluations if e.split == "validation"]
    net = Network(tiny_spec())
    net.set_weights(session.current_weights())
    x, y = small_data.batch("validation", np.arange(len(small_data.split("validation"))))
    accuracy = float(np.mean(np.argmax(net.forward(x, train=False), axis=1) == y))
    assert accuracy == pytest.approx(validation.accuracy)  # what the trainer measured at the end of its epoch
    assert session.weights_origin == "trained"
    session.shown["spec"].name = "renamed"  # a new name is still the same network
    assert session.weights_origin == "trained"
    session.shown["spec"].layers[4].units = 12  # a different one: fresh weights for it
    assert session.weights_origin == "fresh" and session.current_weights()["fc1.weight"].shape[0] == 12


def test_imported_weights_are_the_sessions_while_the_builder_shows_their_network(session):
    imported = {name: np.full_like(array, 0.5) for name, array in session.current_weights().items()}
    changed = []
    session.weights_changed.connect(lambda: changed.append(1))
    assert session.use_weights(tiny_spec(), imported)
    assert changed and session.weights_origin == "imported" and same(session.current_weights(), imported)
    original = session.shown["spec"]
    session.shown["spec"] = tiny_spec()
    session.shown["spec"].layers[4].units = 12  # another network: fresh weights for it
    assert session.weights_origin == "fresh"
    session.shown["spec"] = original  # back (an undo): the imported ones again, still called imported
    assert session.weights_origin == "imported" and same(session.current_weights(), imported)
