"""`convviz train --freeze / --init / --replace-head`: fine-tuning from the command line, from weights
imported with `convviz import-weights`, with one-line errors."""

import numpy as np
import pytest

from convviz.cli import main
from convviz.engine import Network
from convviz.export import checkpoint_source
from convviz.model import save_spec


@pytest.fixture
def small_synthetic(monkeypatch):
    import convviz.data.sources as sources
    from convviz.data import synthetic_dataset

    monkeypatch.setattr(sources, "synthetic_dataset", lambda validation, seed: synthetic_dataset(
        train=200, test=40, validation=validation, seed=seed))


def test_freeze_keeps_the_early_layers_as_they_were(tmp_path, capsys, spec, small_synthetic):
    save_spec(spec, tmp_path / "net.json")
    args = ["train", str(tmp_path / "net.json"), "--epochs", "1", "--batch", "32", "--threads", "1",
            "--freeze", "conv2", "--checkpoint", str(tmp_path / "run")]
    assert main(args) == 0
    assert "training 1,290 parameters, 976 frozen" in capsys.readouterr().err
    trained = checkpoint_source(tmp_path / "run")
    fresh = Network(spec, seed=0).get_weights()
    assert [layer.trainable for layer in trained.spec.layers if layer.FREEZABLE] == [False, False, True]
    for name in ("conv1.weight", "conv2.weight", "conv2.bias"):
        np.testing.assert_array_equal(trained.weights[name], fresh[name], err_msg=name)
    assert not np.array_equal(trained.weights["fc1.weight"], fresh["fc1.weight"])


def test_freeze_errors_list_the_layers(tmp_path, capsys, spec):
    save_spec(spec, tmp_path / "net.json")
    assert main(["train", str(tmp_path / "net.json"), "--freeze", "conv7"]) == 2
    assert "'conv7' is not a layer of this network; layers with parameters: conv1, conv2, fc1" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "net.json"), "--freeze", "fc1"]) == 2
    assert "every layer with parameters is frozen (up to fc1): there is nothing to train" in capsys.readouterr().err


def test_fine_tuning_weights_imported_with_import_weights(tmp_path, capsys, spec, small_synthetic):
    """import-weights writes a checkpoint; --init starts a new run from it (the head replaced and the
    convolutions frozen), and --resume of the imported checkpoint says to use --init."""
    from convviz.export import load_source
    from convviz.export.safetensors_io import write_weights

    save_spec(spec, tmp_path / "net.json")
    source = load_source(tmp_path / "net.json", seed=9)
    write_weights(tmp_path / "w.safetensors", source.weights, {"format": "convviz-weights"})
    assert main(["import-weights", str(tmp_path / "net.json"), str(tmp_path / "w.safetensors"),
                 "--out", str(tmp_path / "imported")]) == 0
    assert main(["train", "--resume", str(tmp_path / "imported")]) == 2
    assert (f"{tmp_path / 'imported'} holds imported weights, not a run to resume: start a run from them with "
            f"convviz train --init {tmp_path / 'imported'}") in capsys.readouterr().err
    args = ["train", "--init", str(tmp_path / "imported"), "--replace-head", "--freeze", "conv2", "--epochs", "1",
            "--batch", "32", "--threads", "1", "--checkpoint", str(tmp_path / "tuned")]
    assert main(args) == 0
    assert "starting from the weights of checkpoint" in capsys.readouterr().err
    tuned = checkpoint_source(tmp_path / "tuned")
    np.testing.assert_array_equal(tuned.weights["conv2.weight"], source.weights["conv2.weight"])
    fresh_head = Network(tuned.spec, seed=0).params()["head.weight"]
    assert tuned.weights["head.weight"].shape == (10, 128) and not np.array_equal(tuned.weights["head.weight"], fresh_head)
    # a weights file needs the network it belongs to
    assert main(["train", "--init", str(tmp_path / "w.safetensors")]) == 2
    assert "is a weights file: give the network it belongs to (SPEC)" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "net.json"), "--init", str(tmp_path / "w.safetensors"), "--epochs", "1",
                 "--batch", "32", "--threads", "1"]) == 0
    assert main(["train", "--resume", str(tmp_path / "tuned"), "--freeze", "conv1"]) == 2
    assert "--init, --freeze and --replace-head start a new one" in capsys.readouterr().err
