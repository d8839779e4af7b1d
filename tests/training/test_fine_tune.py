"""Fine-tuning: frozen layers keep their weights bit for bit while the others train, through weight
decay, momentum, Adam, checkpoints and resume; a replaced head starts fresh while every other layer
keeps the weights it had."""

import numpy as np
import pytest

from convviz.engine import Network
from convviz.export import checkpoint_source
from convviz.model import preset
from convviz.model.fine_tune import freeze_up_to, replace_head, trainable_counts
from convviz.training.checkpoint import resume_trainer, save_checkpoint
from convviz.training.config import TrainConfig
from convviz.training.fine_tune import carry_weights, kept_layers, start_from
from convviz.training.records import Metrics
from convviz.training.trainer import Trainer


def run_steps(trainer, steps):
    for record in trainer.run():
        if isinstance(record, Metrics) and record.step >= steps:
            trainer.control.stop()
    return trainer


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_frozen_layers_stay_bit_identical_while_the_others_train(spec, small_data, optimizer):
    frozen = freeze_up_to(spec, "conv2")  # conv1 and conv2 frozen, fc1 trains
    config = TrainConfig(epochs=1, batch_size=32, lr=0.05, optimizer=optimizer, weight_decay=5e-3,
                         metrics_every=1, threads=1)
    trainer = Trainer(frozen, small_data, config)
    before = {name: a.copy() for name, a in trainer.net.params().items()}
    assert set(trainer.net.trainable_params()) == {"fc1.weight", "fc1.bias"}
    run_steps(trainer, 4)
    after = trainer.net.params()
    for name in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"):
        assert after[name].tobytes() == before[name].tobytes(), name  # decay and momentum never touch them
    assert not np.array_equal(after["fc1.weight"], before["fc1.weight"])


def test_a_frozen_run_checkpoints_resumes_and_exports(tmp_path, spec, small_data):
    frozen = freeze_up_to(spec, "conv1")
    config = TrainConfig(epochs=1, batch_size=32, lr=0.05, metrics_every=1, threads=1)
    trainer = run_steps(Trainer(frozen, small_data, config), 2)
    conv1 = trainer.net.params()["conv1.weight"].copy()
    folder = save_checkpoint(trainer, tmp_path / "run")
    resumed = resume_trainer(folder, small_data, threads=2)  # another thread count than the run's
    assert resumed.net.threads == 2 and resumed.step == trainer.step
    assert resumed.spec.layers[0].trainable is False and set(resumed.optimizer.params) == set(resumed.net.trainable_params())
    run_steps(resumed, 5)
    assert resumed.net.params()["conv1.weight"].tobytes() == conv1.tobytes()
    assert not np.array_equal(resumed.net.params()["conv2.weight"], trainer.net.params()["conv2.weight"])
    source = checkpoint_source(folder)  # export and Open Run read a frozen run's checkpoint too
    np.testing.assert_array_equal(source.weights["conv1.weight"], conv1)


def test_a_replaced_head_starts_fresh_and_every_other_layer_keeps_its_weights(spec):
    old = Network(spec, seed=7).get_weights()
    new_spec = replace_head(spec, classes=4)
    assert new_spec.layers[-2].units == 4 and new_spec.layers[-2].name == "head"
    assert kept_layers(spec, new_spec) == {"conv1", "relu1", "maxpool1", "conv2", "relu2", "maxpool2", "flatten1"}
    weights = carry_weights(spec, old, new_spec, seed=0)
    for name in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"):
        np.testing.assert_array_equal(weights[name], old[name])
    np.testing.assert_array_equal(weights["head.weight"], Network(new_spec, seed=0).params()["head.weight"])
    assert weights["head.weight"].shape == (4, old["fc1.weight"].shape[1])
    net = Network(new_spec)
    net.set_weights(weights)  # the carried weights fit the new network exactly
    same_size = replace_head(spec, classes=10)  # same shape as before, still a new layer with fresh weights
    assert not np.array_equal(carry_weights(spec, old, same_size)["head.weight"], old["fc1.weight"])


def test_freeze_and_replace_head_say_what_is_wrong(spec):
    with pytest.raises(ValueError, match=r"'relu1' has no parameters to freeze; layers with parameters: conv1, conv2, fc1"):
        freeze_up_to(spec, "relu1")
    with pytest.raises(ValueError, match=r"'conv9' is not a layer of this network; layers with parameters: conv1"):
        freeze_up_to(spec, "conv9")
    with pytest.raises(ValueError, match="classes must be a positive whole number, got 0"):
        replace_head(spec, 0)
    conv1, conv2 = 8 * 4 * 4 * 3 + 8, 8 * 3 * 3 * 8 + 8
    assert trainable_counts(freeze_up_to(spec, "conv2")) == (spec.analyze().total_params - conv1 - conv2, conv1 + conv2)


def test_a_started_run_refuses_other_weights(spec, small_data):
    trainer = run_steps(Trainer(spec, small_data, TrainConfig(epochs=1, batch_size=32, metrics_every=1, threads=1)), 1)
    with pytest.raises(ValueError, match="the run is at step 1: only a new run starts from other weights"):
        start_from(trainer, trainer.net.get_weights())


def test_fine_tuning_an_imported_torchvision_resnet18_on_small_images(tmp_path, small_data):
    """torchvision's resnet18 layout imported (random values), its head replaced for 10 classes and
    everything but the last block frozen; a few steps on 32×32 images train the head and the last
    block and leave the rest as imported."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: .pth files need it")
    from convviz.export.importing import import_weights
    from tests.export.test_import_weights import (
        random_state,
        save_pth,
        torchvision_resnet18,
    )

    state = random_state(torchvision_resnet18(), seed=2)
    path = save_pth(tmp_path, state)
    spec = preset("resnet18")
    spec.input = spec.input.__class__(32, 32, 3)  # the same layers on CIFAR-sized images: 16 → 8 → … → 1
    imported = import_weights(spec, path)
    tuned = freeze_up_to(replace_head(spec, 10), "res7.body.bn2")
    weights = carry_weights(spec, imported.weights, tuned)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.01, metrics_every=1, threads=1, augment=False)
    trainer = start_from(Trainer(tuned, small_data, config), weights)
    run_steps(trainer, 2)
    after = trainer.net.params()
    np.testing.assert_array_equal(after["res1.body.conv1.weight"], state["layer1.0.conv1.weight"].numpy())
    np.testing.assert_array_equal(after["res7.body.bn2.weight"], state["layer4.0.bn2.weight"].numpy())
    assert not np.array_equal(after["res8.body.conv1.weight"], state["layer4.1.conv1.weight"].numpy())
    assert after["head.weight"].shape == (10, 512) and torch is not None


def test_weights_in_convviz_names_import_into_a_network_whose_head_was_replaced(tmp_path, spec):
    pytest.importorskip("safetensors", reason="safetensors is not installed")
    from convviz.export.importing import import_weights
    from convviz.export.safetensors_io import write_weights

    old = Network(spec, seed=5).get_weights()
    path = write_weights(tmp_path / "w.safetensors", old)
    imported = import_weights(replace_head(spec, 4), path)  # fc1 (10 units) is the layer head replaced
    assert imported.fresh == ["head.weight", "head.bias"] and imported.ignored == ["fc1.bias", "fc1.weight"]
    np.testing.assert_array_equal(imported.weights["conv2.weight"], old["conv2.weight"])
    assert imported.weights["head.weight"].shape == (4, old["fc1.weight"].shape[1])


def test_a_frozen_runs_checkpoint_gives_its_optimizer_state_to_explain(tmp_path, spec, small_data):
    """convviz explain and the Step workspace read a checkpoint's optimizer state: a frozen run's has
    no velocity for its frozen layers, and is read, not refused."""
    from convviz.commands.explain import checkpoint_optimizer_state

    config = TrainConfig(epochs=1, batch_size=32, metrics_every=1, threads=1)
    trainer = run_steps(Trainer(freeze_up_to(spec, "conv1"), small_data, config), 2)
    state = checkpoint_optimizer_state(save_checkpoint(trainer, tmp_path / "run"))
    assert state is not None
