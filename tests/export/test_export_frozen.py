"""A fine-tuned network's train.py keeps its frozen layers as exported (requires_grad off, out of the
optimizer), as ConvViz's trainer does."""

import numpy as np
import pytest

from convviz.export import Source, export_pytorch, load_source
from convviz.model.fine_tune import freeze_up_to

from test_export_train import load_train_module, run

torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install 'convviz[torch]'")
pytest.importorskip("safetensors", reason="safetensors is not installed: pip install 'convviz[torch]'")


def test_train_py_leaves_the_frozen_layers_as_exported(tmp_path):
    source = load_source("preset:tinyvgg", seed=4)
    frozen = Source(freeze_up_to(source.spec, "conv2"), source.weights, source.config, source.origin)
    export_pytorch(frozen, tmp_path / "export")
    train = load_train_module(tmp_path / "export")
    assert train.FROZEN == ["conv1", "conv2"]
    optimizer = train.make_optimizer(train.Network(), train.CONFIG)
    assert sum(len(group["params"]) for group in optimizer.param_groups) == 6  # conv3, conv4, fc1: weight and bias
    run(tmp_path / "export", "--data", "synthetic", "--max-steps", "3", "--out", str(tmp_path / "run"), "--no-eval")
    from safetensors.numpy import load_file

    trained = load_file(str(tmp_path / "run" / "weights.safetensors"))
    for name in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"):
        np.testing.assert_array_equal(trained[name], source.weights[name], err_msg=name)
    assert not np.array_equal(trained["conv3.weight"], source.weights["conv3.weight"])
