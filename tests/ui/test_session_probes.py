"""The user's own probes through the session: one added mid-run appears in the next snapshot with its
name, one added with no run going appears at once (the session snapshots its weights itself), they
survive a new run; snapshots carry filter gradients when a view asks, and the run's snapshots are kept."""

from __future__ import annotations

import numpy as np
import pytest
from run_helpers import tiny_spec

from convviz.training.config import TrainConfig


@pytest.fixture
def session(qtbot, quick_data):
    from convviz.ui.session import RunSession

    run = RunSession(lambda: tiny_spec())
    yield run
    assert run.shutdown(10_000)


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def wait_for_snapshot(qtbot, session, test, timeout=20_000):
    """The first snapshot the session emits for which ``test`` holds."""
    seen = []
    session.snapshot.connect(seen.append)
    qtbot.waitUntil(lambda: any(test(s) for s in seen), timeout=timeout)
    session.snapshot.disconnect(seen.append)
    return next(s for s in seen if test(s))


def test_a_probe_added_mid_run_appears_in_the_next_snapshot_with_its_name(qtbot, session):
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    first = wait_for_snapshot(qtbot, session, lambda s: True)
    assert len(first.probe_names) == 10 and first.probe_labels.tolist() == list(range(10))  # one per class
    assert first.probe_names[0].startswith("validation #")
    name = session.add_probe(picture(), None, "my cat.png")
    assert name == "my cat.png"
    shot = wait_for_snapshot(qtbot, session, lambda s: "my cat.png" in s.probe_names)
    assert shot.probe_names[-1] == "my cat.png" and shot.probe_labels[-1] == -1
    np.testing.assert_array_equal(shot.probe_images[-1], picture())
    assert session.add_probe(picture(1), 3, "my cat.png") == "my cat.png (2)"  # names stay unique
    shot = wait_for_snapshot(qtbot, session, lambda s: "my cat.png (2)" in s.probe_names)
    assert shot.probe_labels[-1] == 3 and len(shot.probe_names) == 12
    assert session.remove_probe("my cat.png") and not session.remove_probe("no such")
    shot = wait_for_snapshot(qtbot, session, lambda s: "my cat.png" not in s.probe_names)
    assert shot.probe_names[-1] == "my cat.png (2)" and len(shot.probe_names) == 11


def test_a_probe_that_does_not_fit_the_input_is_refused_with_the_sizes(session):
    with pytest.raises(ValueError, match=r"must be 32×32×3 uint8 .* got uint8 28×28×1"):
        session.add_probe(np.zeros((28, 28, 1), np.uint8), None, "small.png")
    assert session.user_probes == []


def test_with_no_run_going_the_session_snapshots_its_weights_for_a_new_probe(qtbot, session, quick_data):
    with qtbot.waitSignal(session.snapshot, timeout=20_000) as emitted:
        session.add_probe(picture(), 2, "lorry.jpg")
    shot = emitted.args[0]
    assert shot.probe_names == ("lorry.jpg",) and shot.step == 0  # fresh weights, no data set yet: the probe alone
    assert session.records.snapshot is shot and shot.probe_scores.shape == (1, 10)
    # after a run, its data set's probes come first, at the run's last step, with the run's weights
    with qtbot.waitSignal(session.run_finished, timeout=30_000):
        session.start(TrainConfig(epochs=1, batch_size=50), "synthetic")
    last = session.records.snapshot
    assert last.probe_names[-1] == "lorry.jpg"  # the probe survived the new run
    with qtbot.waitSignal(session.snapshot, timeout=20_000) as emitted:
        session.add_probe(picture(1), None, "boat.png")
    shot = emitted.args[0]
    assert shot.probe_names[:10] == last.probe_names[:10] and shot.probe_names[-2:] == ("lorry.jpg", "boat.png")
    final = session.records.metrics[-1].step
    assert shot.step == final and session.weights_origin == "trained"  # the weights the run ended with
    from convviz.engine import Network

    net = Network(tiny_spec())
    net.set_weights(session.current_weights())
    x = quick_data.normalization.apply(shot.probe_images.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(shot.probe_scores, net.forward(x, train=False), rtol=1e-4, atol=1e-5)
    assert session.records.snapshots[-1] is shot  # the run's last step: part of its history


def test_filter_gradients_on_request_and_the_run_keeps_its_snapshots(qtbot, session):
    session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
    first = wait_for_snapshot(qtbot, session, lambda s: s.step > 0)
    assert first.filter_gradients == {}
    session.want_filter_gradients(True)
    shot = wait_for_snapshot(qtbot, session, lambda s: bool(s.filter_gradients))
    assert shot.filter_gradients["conv1"].shape == shot.filters["conv1"].shape == (6, 3, 4, 4)
    qtbot.waitUntil(lambda: len(session.records.snapshots) >= 3, timeout=20_000)
    steps = [s.step for s in session.records.snapshots]
    assert steps == sorted(steps) and steps[0] == 0 and session.records.snapshots[-1] is session.records.snapshot
    assert session.records.snapshot_near(0).step == 0


@pytest.mark.parametrize("with_cifar", [False, True])
def test_an_opened_run_shows_its_data_sets_probes_and_class_names(qtbot, tmp_path, with_cifar):
    import shutil

    from convviz.data import find_cifar10
    from convviz.ui.session import RunSession, read_run

    if not __import__("os").path.isdir("/tmp/cifar_run/ckpt"):
        pytest.skip("the CIFAR-10 run's checkpoint is not at /tmp/cifar_run/ckpt")
    if with_cifar and find_cifar10("/work/shared") is None:
        pytest.skip("CIFAR-10 is not at /work/shared/cifar10")
    folder = shutil.copytree("/tmp/cifar_run/ckpt", tmp_path / "run")
    opened = read_run(str(folder))
    session = RunSession(lambda: opened.spec)
    session.data_folder = "/work/shared" if with_cifar else str(tmp_path / "no data")
    assert session.adopt_run(opened)
    with qtbot.waitSignal(session.snapshot, timeout=60_000) as emitted:
        session.add_probe(picture(), None, "mine.png")
    shot = emitted.args[0]
    assert shot.class_names[3] == "cat" and shot.step == opened.step
    if with_cifar:  # one probe per class of its validation split, then the user's
        count = opened.config.probe_images  # as the run's trainer chooses them (8 in a run saved before 10)
        assert len(shot.probe_names) == count + 1 and shot.probe_labels[:count].tolist() == list(range(count))
        assert shot.probe_names[3].endswith("(cat)") and shot.probe_names[-1] == "mine.png"
        accuracy = np.mean(np.argmax(shot.probe_scores[:count], axis=1) == np.arange(count))
        assert accuracy >= 0.3  # the trained weights (about 60% on the test set), not fresh ones
    else:  # CIFAR-10 not here: the user's probe alone, still with the run's class names
        assert shot.probe_names == ("mine.png",)
    assert session.shutdown(10_000)


def test_asking_for_gradients_after_a_run_takes_its_last_snapshot_again_with_them(qtbot, session):
    with qtbot.waitSignal(session.run_finished, timeout=30_000):
        session.start(TrainConfig(epochs=1, batch_size=50), "synthetic")
    assert not session.records.snapshot.has_activation_grads
    with qtbot.waitSignal(session.snapshot, timeout=20_000) as emitted:
        session.want_gradients(True)
    shot = emitted.args[0]
    assert shot.has_activation_grads and shot.step == session.records.metrics[-1].step
    assert len(shot.probe_names) == 10 and session.records.snapshot is shot
