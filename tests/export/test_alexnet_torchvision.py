"""torchvision's AlexNet (64-192-384-256-256 filters, adaptive average pool to 6×6) comes in through the
``alexnet_torchvision`` preset and gives the scores of a torch module written here with torchvision's
shapes; the paper's ``alexnet`` preset refuses its file, naming the mismatch and that preset."""

import numpy as np
import pytest

from convviz.engine import Network
from convviz.export import ExportError
from convviz.export.importing import import_weights
from convviz.model import analyze, preset

torch = pytest.importorskip("torch", reason="PyTorch is not installed: .pth files need it")
from tests.export.test_import_weights import save_pth, torchvision_alexnet


def alexnet_module():
    """torchvision.models.AlexNet's layers, written out (torchvision is not installed here)."""
    nn = torch.nn
    model = nn.Module()
    model.features = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    )
    model.avgpool = nn.AdaptiveAvgPool2d((6, 6))
    model.classifier = nn.Sequential(
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 1000),
    )
    return model


def scaled_state(seed=0):
    """Random weights of torchvision's names and shapes, He-scaled so that the scores stay near 1."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in torchvision_alexnet().items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        std = (2.0 / fan_in) ** 0.5 if len(shape) > 1 else 0.1
        state[key] = torch.randn(shape, generator=g) * std
    return state


def test_the_preset_has_torchvisions_shapes():
    report = analyze(preset("alexnet_torchvision"))
    assert report.valid and report.total_params == 61_100_840
    volumes = [str(r.output) for r in report.layers if r.layer.TYPE in ("conv", "maxpool")]
    assert volumes == ["55×55×64", "27×27×64", "27×27×192", "13×13×192", "13×13×384", "13×13×256", "13×13×256",
                       "6×6×256"]


def test_torchvisions_alexnet_imports_and_gives_torchs_scores(tmp_path):
    state = scaled_state()
    imported = import_weights(preset("alexnet_torchvision"), save_pth(tmp_path, state))
    assert imported.layout == "torchvision's alexnet"
    np.testing.assert_array_equal(imported.weights["conv2.weight"], state["features.3.weight"].numpy())
    np.testing.assert_array_equal(imported.weights["fc3.bias"], state["classifier.6.bias"].numpy())
    net = Network(preset("alexnet_torchvision"))
    net.set_weights(imported.weights)
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224)).astype(np.float32)
    ours = net.forward(x, train=False)
    model = alexnet_module()
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        features = model.avgpool(model.features(torch.from_numpy(x)))
        theirs = model.classifier(torch.flatten(features, 1)).numpy()
    assert ours.shape == (2, 1000) and np.abs(theirs).max() > 0.1
    assert np.abs(ours - theirs).max() < 1e-4


def test_the_papers_alexnet_refuses_the_file_and_names_the_torchvision_preset(tmp_path):
    path = save_pth(tmp_path, scaled_state())
    with pytest.raises(ExportError) as caught:
        import_weights(preset("alexnet"), path)
    message = str(caught.value)
    assert ("in torchvision's alexnet layout: features.0.weight (for conv1.weight) has shape (64, 3, 11, 11), "
            "expected (96, 3, 11, 11)") in message
    assert message.endswith("the file fits preset:alexnet_torchvision (AlexNet (torchvision)) exactly: import it into "
                            "that network (Case Studies → AlexNet (torchvision), or convviz import-weights "
                            "preset:alexnet_torchvision …)")


def test_a_replaced_head_starts_fresh_instead_of_refusing_the_file(tmp_path, capsys):
    """torchvision's AlexNet into the preset after Edit → Replace Last FC Layer (10 classes): every
    layer but the head comes from the file; the file's classifier.6 is left out."""
    from convviz.cli import main
    from convviz.export.safetensors_io import write_weights
    from convviz.model import save_spec
    from convviz.model.fine_tune import replace_head

    state = scaled_state(seed=3)
    path = save_pth(tmp_path, state)
    spec = replace_head(preset("alexnet_torchvision"), 10)
    imported = import_weights(spec, path)
    assert imported.fresh == ["head.weight", "head.bias"] and "classifier.6.weight" in imported.ignored
    np.testing.assert_array_equal(imported.weights["fc2.weight"], state["classifier.4.weight"].numpy())
    np.testing.assert_array_equal(imported.weights["head.weight"], Network(spec, seed=0).params()["head.weight"])
    save_spec(spec, tmp_path / "tuned.json")
    assert main(["import-weights", str(tmp_path / "tuned.json"), str(path), "--out", str(tmp_path / "t.safetensors")]) == 0
    assert "head.weight, head.bias start fresh (the replaced last FC layer)" in capsys.readouterr().out
    # the fine-tuned network's own file (ConvViz's names, its head included) loads its head
    trained = {**imported.weights, "head.weight": imported.weights["head.weight"] + 1}
    again = import_weights(spec, write_weights(tmp_path / "own.safetensors", trained))
    assert again.fresh == [] and np.array_equal(again.weights["head.weight"], trained["head.weight"])
