"""The Step workspace's update stop steps from the run's own optimizer state: a paused run's velocity,
an opened checkpoint's moments, and says so; fresh weights start from zero."""

from __future__ import annotations

import numpy as np
import pytest
from run_helpers import tiny_spec

from convviz.training.config import TrainConfig


def shown_rows(view) -> dict:
    return {row.cells[1]: row.cells[2] for row in view.ledger.rows}


def test_a_paused_runs_update_shows_the_trainers_own_velocity(qtbot, make_view):
    view = make_view(tiny_spec())
    session = view.session
    session.start(TrainConfig(epochs=50, batch_size=16, optimizer="momentum", lr=0.02, schedule="constant",
                              metrics_every=1), "synthetic")
    qtbot.waitUntil(lambda: len(session.records.metrics) >= 3, timeout=30_000)
    session.pause()
    qtbot.waitUntil(lambda: session.records.events[-1].kind == "paused", timeout=10_000)
    view.reload(wait=True)
    view.last_stop()
    trainer = session._run.worker.trainer  # the test looks at the paused trainer itself
    velocity = trainer.optimizer.state["velocity"]["conv1.weight"]
    assert np.any(velocity != 0)
    e = view.explanation
    assert e.name == "conv1.weight" and e.step_number == trainer.optimizer.steps + 1 > 3
    label, v = next((label, value) for label, value in e.rows if label.startswith("v ← μ·v + g"))
    assert f"v was {float(velocity[0, 0, 0, 0]):+.6g}" in label  # the trainer's velocity, not 0
    g = next(value for label, value in e.rows if label.startswith("g = dW"))
    assert v == pytest.approx(0.9 * float(velocity[0, 0, 0, 0]) + g, rel=1e-9)
    assert e.result == pytest.approx(e.weight - 0.02 * v, rel=1e-12) and e.matches
    assert shown_rows(view)["the engine optimizer's step"] == shown_rows(view)["w − step"]
    step = trainer.step
    assert f"momentum from step {step:,} of the run" in view.caption.text()
    assert f"the run's state from step {step:,}" in view.heading.text()
    with qtbot.waitSignal(session.run_finished, timeout=10_000):
        session.stop()
    state = session.current_optimizer_state()  # after the run: its optimizer's at the end
    assert state.origin == "ended" and state.step == step
    assert np.array_equal(state.state["velocity.conv1.weight"], velocity)


def test_fresh_weights_take_a_first_step_from_zero(qtbot, make_view):
    view = make_view(tiny_spec())
    assert view.session.current_optimizer_state() is None
    view.last_stop()
    label = next(label for label, _ in view.explanation.rows if label.startswith("v ← μ·v + g"))
    assert "v was +0" in label and "first step: no momentum yet" in view.caption.text()
    assert "a first step from zero" in view.heading.text()


def test_an_opened_checkpoint_steps_from_its_saved_adam_moments(qtbot, make_view, tmp_path):
    from convviz.data import synthetic_dataset
    from convviz.training.checkpoint import save_checkpoint
    from convviz.training.records import Metrics
    from convviz.training.trainer import Trainer
    from convviz.ui.run_records import read_run

    spec = tiny_spec()
    trainer = Trainer(spec, synthetic_dataset(train=200, test=50, validation=20, seed=1),
                      TrainConfig(epochs=3, batch_size=20, optimizer="adam", lr=0.003, schedule="constant", threads=1))
    for record in trainer.run():
        if isinstance(record, Metrics) and record.step >= 4:
            break
    save_checkpoint(trainer, tmp_path / "run")
    view = make_view(spec)
    assert view.session.adopt_run(read_run(str(tmp_path / "run")))
    view.reload(wait=True)
    view.last_stop()
    e = view.explanation
    m = trainer.optimizer.state["m"]["conv1.weight"][0, 0, 0, 0]
    assert e.method == "Adam" and e.lr == pytest.approx(0.003) and e.step_number == trainer.optimizer.steps + 1
    assert any(label.startswith("m ← β₁·m") and f"m was {float(m):+.6g}" in label for label, _ in e.rows)
    assert f"Adam's moments from step {trainer.step:,} of the opened run" in view.caption.text()



def test_a_frozen_layer_has_no_update_stop_and_the_runs_state_still_fits():
    """Fine-tuning: the run never updates a frozen layer, so the update stop leaves it out, and the
    trainer's optimizer state (over the trainable parameters only) loads without a mismatch."""
    from convviz.engine import Network
    from convviz.engine.explain_update import OptimizerState
    from convviz.model.fine_tune import freeze_up_to, parameter_layers
    from convviz.training.optimization import make_optimizer
    from convviz.ui.stepper.stepping import StepRun

    spec = tiny_spec()
    first = parameter_layers(spec)[0].name
    frozen = freeze_up_to(spec, first)
    net = Network(frozen, seed=0)
    config = TrainConfig(optimizer="momentum")
    state = OptimizerState(make_optimizer(config, net.trainable_params()).state_dict(), "momentum", 0.01, 3, "running")
    v = frozen.input
    x = np.random.default_rng(0).standard_normal((1, v.depth, v.height, v.width))
    run = StepRun(frozen, net.get_weights(), x, 0, config=config, optimizer_state=state)
    names = run.update_names()
    assert names and not any(name.startswith(first + ".") for name in names)
    run.optimizer()
    assert run.state_error == ""
