"""`convviz export … --to pytorch`: model.py is a module equal to the engine's network, with ConvViz's
parameter names, and the weights travel as safetensors (no pickle).

The comparisons need PyTorch and are skipped, saying why, without it; writing the export does not.
The ImageNet case studies (60–140 M parameters) run with CONVVIZ_BIG_TESTS=1, as tests/engine's do.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from convviz.cli import main
from convviz.engine import Network
from convviz.export import ExportError, Source, export_pytorch, load_source
from convviz.export.safetensors_io import read_header
from convviz.model import Conv, NetworkSpec, ReLU, Volume, analyze, preset, preset_names
from convviz.training.config import TrainConfig

from export_helpers import EVERYTHING, calibrated, import_model, parameter_names

pytest.importorskip("safetensors", reason="safetensors is not installed: pip install 'convviz[export]'")

BIG = {"alexnet", "alexnet_torchvision", "zfnet", "vgg16", "googlenet", "resnet18"}
big = pytest.mark.skipif(not os.environ.get("CONVVIZ_BIG_TESTS"), reason="builds 6–140 M parameters; set CONVVIZ_BIG_TESTS=1")
CASES = [pytest.param(name, marks=big) if name in BIG else name for name in preset_names()] + ["every layer type"]


def spec_of(case: str) -> NetworkSpec:
    return EVERYTHING if case == "every layer type" else preset(case)


def export(tmp_path, spec, net, origin="test") -> Path:
    out = tmp_path / "export"
    export_pytorch(Source(spec, net.get_weights(), TrainConfig(), origin), out)
    return out


def test_the_export_needs_no_torch_and_holds_every_weight_by_its_convviz_name(tmp_path):
    net = Network(EVERYTHING, seed=3)
    out = export(tmp_path, EVERYTHING, net)
    assert sorted(p.name for p in out.iterdir()) == ["model.py", "network.json", "train.py", "weights.safetensors"]
    header, metadata = read_header(out / "weights.safetensors")
    assert set(header) == set(parameter_names(net))
    for name, array in net.get_weights().items():
        assert header[name] == (array.shape, "F32"), name
    assert metadata["network"] == "every layer type"
    text = (out / "model.py").read_text()
    compile(text, "model.py", "exec")
    # policy pad: the extra row and column at the bottom and right, explicitly
    assert '("stem", Conv2d(3, 8, kernel_size=3, stride=2, pad=(0, 1, 0, 1))),  # 12×11×8' in text
    assert '("maxpool1", nn.MaxPool2d(3, stride=2, padding=1)),  # 6×6×8' in text  # policy crop: PyTorch's floor
    assert '("local1", LocallyConnected2d(23, 6, (3, 3), out_size=(3, 3), stride=2, pad=(0, 1, 0, 1))),  # 3×3×6' in text
    assert '("bn2", nn.BatchNorm1d(5, eps=1e-05, momentum=0.1)),  # 1×1×5' in text  # a flat volume is (N, D)
    assert "pickle" not in (out / "weights.safetensors").read_bytes()[:200].decode("latin-1")


@pytest.mark.parametrize("case", CASES)
def test_model_py_gives_the_engines_scores(tmp_path, case):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install 'convviz[torch]'")
    spec = spec_of(case)
    net = calibrated(spec, seed=1)
    out = export(tmp_path, spec, net)
    model = import_model(out, case.replace(" ", "_")).load_model()
    assert sum(p.numel() for p in model.parameters()) == analyze(spec).total_params
    saved = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    assert saved == set(parameter_names(net))
    x = np.random.default_rng(2).standard_normal((2,) + spec.input.chw()).astype(np.float32)
    expected = net.forward(x, train=False)
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4, f"max |Δ| = {np.abs(got - expected).max():.2e}"


def test_a_checkpoint_exports_its_trained_weights(tmp_path):
    from convviz.data import synthetic_dataset
    from convviz.training.checkpoint import save_checkpoint
    from convviz.training.records import Metrics
    from convviz.training.trainer import Trainer

    spec = preset("tinyvgg")
    trainer = Trainer(spec, synthetic_dataset(train=120, test=20, validation=20, seed=1),
                      TrainConfig(epochs=1, batch_size=25, metrics_every=1, seed=4))
    for record in trainer.run():
        if isinstance(record, Metrics) and record.step == 2:
            break
    save_checkpoint(trainer, tmp_path / "run")
    source = load_source(tmp_path / "run")
    trained = trainer.net.get_weights()
    assert source.config == trainer.config
    assert source.origin.startswith("checkpoint") and "step 2" in source.origin
    fresh = Network(spec, seed=4).get_weights()
    assert not np.array_equal(trained["conv1.weight"], fresh["conv1.weight"])  # it did train
    for name, array in trained.items():
        np.testing.assert_array_equal(source.weights[name], array, err_msg=name)
    export_pytorch(source, tmp_path / "export")  # train.py carries the run's settings
    train_py = (tmp_path / "export" / "train.py").read_text()
    assert "'batch_size': 25," in train_py and "'seed': 4," in train_py and "'epochs': 1," in train_py


def test_the_command_writes_the_export_and_says_where(tmp_path, capsys):
    assert main(["export", "preset:tinyvgg", "--to", "pytorch", str(tmp_path / "tv"), "--seed", "7"]) == 0
    assert "preset:tinyvgg (seed 7)" in capsys.readouterr().out
    header, _ = read_header(tmp_path / "tv" / "weights.safetensors")
    from safetensors.numpy import load_file

    weights = load_file(str(tmp_path / "tv" / "weights.safetensors"))
    np.testing.assert_array_equal(weights["conv1.weight"], Network(preset("tinyvgg"), seed=7).params()["conv1.weight"])


@pytest.mark.parametrize("argv, message", [
    (["preset:nope"], "no preset named 'nope'"),
    (["missing.json"], "missing.json"),
])
def test_the_command_refuses_in_one_line(tmp_path, capsys, argv, message):
    assert main(["export", *argv, "--to", "pytorch", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convviz export: error:") and message in err


def test_a_layer_name_pytorch_cannot_hold_is_refused_naming_it(tmp_path):
    spec = NetworkSpec(Volume(8, 8, 1), [Conv(2, 3, name="a.b"), ReLU()])
    with pytest.raises(ExportError, match=r"layer 'a\.b' cannot be a PyTorch module name"):
        export_pytorch(load_source_for(spec), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def load_source_for(spec):
    return Source(spec, Network(spec).get_weights(), TrainConfig(), "test")


def test_a_network_name_with_quotes_and_backslashes_still_makes_python(tmp_path):
    spec = NetworkSpec(Volume(8, 8, 1), [Conv(2, 3), ReLU()], name='my """net""" \\ v2')
    export_pytorch(load_source_for(spec), tmp_path / "x")
    for name in ("model.py", "train.py"):
        compile((tmp_path / "x" / name).read_text(), name, "exec")
