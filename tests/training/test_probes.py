"""The probes a run's snapshots show (one per class, then the user's own, each named), the weight
histograms and the filter gradients they carry."""

from __future__ import annotations

import numpy as np
import pytest

from convviz.engine import Network
from convviz.training.config import TrainConfig
from convviz.training.probes import UserProbes, one_per_class, probe_batch
from convviz.training.records import Snapshot
from convviz.training.snapshot import (
    probe_loss_gradient,
    take_snapshot,
    weight_histogram,
)
from convviz.training.trainer import Trainer


def test_one_per_class_takes_the_first_of_each_class_in_class_order():
    labels = np.array([3, 1, 1, 0, 3, 2, 0])
    assert one_per_class(labels, 4).tolist() == [3, 1, 5, 0]
    assert one_per_class(labels, 2).tolist() == [3, 1]
    assert one_per_class(labels, 6).tolist() == [3, 1, 5, 0, 6, 2]  # then the second of each
    assert one_per_class(labels, 50).tolist() == [3, 1, 5, 0, 6, 2, 4]  # no more than there are


def test_a_run_probes_one_image_of_each_class_named_by_split_number_and_class(spec, small_data):
    assert TrainConfig().probe_images == 10
    trainer = Trainer(spec, small_data, TrainConfig(epochs=1, batch_size=32))
    snap = trainer.snapshot()
    assert snap.probe_labels.tolist() == list(range(10))  # one per class, in class order
    first = trainer.probe_indices[0]
    assert small_data.split("validation").labels[: first].tolist().count(0) == 0  # the first of its class
    cls = small_data.class_names
    assert snap.probe_names[0] == f"validation #{first} ({cls[0]})"
    assert len(snap.probe_names) == 10 and len(set(snap.probe_names)) == 10
    np.testing.assert_array_equal(snap.probe_images[3], small_data.raw_image("validation", trainer.probe_indices[3]))


def test_a_users_probe_appears_in_the_next_snapshot_with_its_name(spec, small_data):
    trainer = Trainer(spec, small_data, TrainConfig(epochs=1, batch_size=32, metrics_every=1))
    picture = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    trainer.control.request_snapshot()
    snapshots = []
    for record in trainer.run():
        if record.kind == "metrics" and record.step == 2:
            trainer.control.set_user_probes(picture, [-1, 4], ["my cat.png", "lorry.jpg"])
        if isinstance(record, Snapshot):
            snapshots.append(record)
            if len(snapshots) == 2:
                trainer.control.stop()
    before, after = snapshots
    assert len(before.probe_names) == 10 and (before.step, after.step) == (0, 2)  # taken before the next step
    assert after.probe_names[-2:] == ("my cat.png", "lorry.jpg")
    assert after.probe_labels[-2:].tolist() == [-1, 4]
    np.testing.assert_array_equal(after.probe_images[-2:], picture)
    assert after.probe_scores.shape == (12, 10) and after.layer("conv1").activation.shape[0] == 12
    # scaled as the data set scales its own images: the same picture as a data set image scores the same
    x = small_data.normalization.apply(picture.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(after.probe_scores[-2:], trainer.net.forward(x, train=False), rtol=1e-4, atol=1e-5)
    trainer.control.set_user_probes(np.zeros((0, 32, 32, 3), np.uint8), [], [])
    assert trainer.control.user_probes is None


def test_user_probes_are_checked_and_those_of_another_size_left_out(small_data):
    with pytest.raises(ValueError, match="uint8"):
        UserProbes(np.zeros((1, 32, 32, 3), np.float32), [0], ["a"])
    with pytest.raises(ValueError, match="as many labels and names"):
        UserProbes(np.zeros((2, 32, 32, 3), np.uint8), [0], ["a", "b"])
    other = UserProbes(np.zeros((1, 28, 28, 1), np.uint8), [0], ["grey.png"])
    batch = probe_batch(small_data, "test", np.arange(3), other)
    assert batch.names == tuple(batch.names[:3]) and len(batch.names) == 3
    alone = probe_batch(None, "test", np.arange(0), other)  # no data set: the user's only, scaled neutrally
    assert alone.x.shape == (1, 1, 28, 28) and alone.x.min() == pytest.approx(-2.0)


def test_an_unknown_class_takes_the_predicted_one_for_the_gradient():
    scores = np.array([[0.0, 3.0, 1.0]], np.float32)
    np.testing.assert_allclose(probe_loss_gradient(scores, np.array([-1])), probe_loss_gradient(scores, np.array([1])))


def test_weight_histograms_count_every_weight_not_the_bias(spec, small_data):
    net = Network(spec, seed=0)
    shot = take_snapshot(net, small_data, "test", np.arange(2), step=0, epoch=1)
    params = net.params()
    for layer in shot.layers:
        weight = params.get(f"{layer.name}.weight")
        if weight is None:
            assert layer.weight_histogram is None
            continue
        counts, edges = layer.weight_histogram
        assert counts.shape == (40,) and edges.shape == (41,)
        assert counts.sum() == weight.size  # every weight, and only the weights
        assert edges[0] == pytest.approx(weight.min()) and edges[-1] == pytest.approx(weight.max())
    counts, edges = weight_histogram(np.full((3, 3), 2.0))
    assert counts.sum() == 9 and edges[0] < 2.0 < edges[-1]  # a constant tensor still gets a range


def test_filter_gradients_on_request_are_the_last_steps_dl_dw(spec, small_data):
    trainer = Trainer(spec, small_data, TrainConfig(epochs=1, batch_size=32, augment=False))
    trainer.control.set_snapshot_schedule(every_steps=3)
    for record in trainer.run():
        if isinstance(record, Snapshot):
            assert record.filter_gradients == {}  # not asked for: not carried
            break
    trainer.control.set_snapshot_filter_gradients(True)
    shot = trainer.snapshot()
    grads = trainer.net.grads()
    assert set(shot.filter_gradients) == {"conv1", "conv2"}
    for name, grad in shot.filter_gradients.items():
        assert grad.shape == shot.filters[name].shape and not grad.flags.writeable
        np.testing.assert_array_equal(grad, grads[f"{name}.weight"])
        assert np.abs(grad).sum() > 0
    assert shot.nbytes > sum(g.nbytes for g in shot.filter_gradients.values())
