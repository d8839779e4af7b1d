"""`convviz import-weights`: ConvViz-layout safetensors files (train.py's, the export's) and PyTorch
state_dicts in torchvision's layouts come in; a renamed, reshaped or non-float tensor, a pickle and a
damaged file are refused, naming what is wrong, before anything is loaded.

The torchvision state_dicts are written here from torchvision's architectures (its module names and
sizes, independently of ConvViz's name maps), filled with random numbers: no weights are downloaded.
"""

import numpy as np
import pytest

from convviz.cli import main
from convviz.engine import Network
from convviz.export import ExportError, export_pytorch, load_source
from convviz.export.importing import import_weights
from convviz.model import preset
from convviz.training.checkpoint import load_checkpoint

pytest.importorskip("safetensors", reason="safetensors is not installed: pip install 'convviz[export]'")



# -- torchvision's layouts, written from its model definitions ------------------------------------------

def _conv(d, key, out, inp, k, bias=True):
    d[f"{key}.weight"] = (out, inp, k, k)
    if bias:
        d[f"{key}.bias"] = (out,)


def _bn(d, key, c):
    for suffix in ("weight", "bias", "running_mean", "running_var"):
        d[f"{key}.{suffix}"] = (c,)
    d[f"{key}.num_batches_tracked"] = ()


def _linear(d, key, out, inp):
    d[f"{key}.weight"], d[f"{key}.bias"] = (out, inp), (out,)


def torchvision_resnet18():
    d = {}
    _conv(d, "conv1", 64, 3, 7, bias=False)
    _bn(d, "bn1", 64)
    previous = 64
    for stage, c in enumerate((64, 128, 256, 512), start=1):
        for block in (0, 1):
            key = f"layer{stage}.{block}"
            _conv(d, f"{key}.conv1", c, previous, 3, bias=False)
            _bn(d, f"{key}.bn1", c)
            _conv(d, f"{key}.conv2", c, c, 3, bias=False)
            _bn(d, f"{key}.bn2", c)
            if block == 0 and stage > 1:
                _conv(d, f"{key}.downsample.0", c, previous, 1, bias=False)
                _bn(d, f"{key}.downsample.1", c)
            previous = c
    _linear(d, "fc", 1000, 512)
    return d


def torchvision_vgg16():
    d, previous, index = {}, 3, 0
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            index += 1
            continue
        _conv(d, f"features.{index}", v, previous, 3)
        previous, index = v, index + 2  # conv, ReLU
    _linear(d, "classifier.0", 4096, 512 * 7 * 7)
    _linear(d, "classifier.3", 4096, 4096)
    _linear(d, "classifier.6", 1000, 4096)
    return d


def _basic(d, key, out, inp, k):
    _conv(d, f"{key}.conv", out, inp, k, bias=False)
    _bn(d, f"{key}.bn", out)


def torchvision_googlenet(aux=True):
    d = {}
    _basic(d, "conv1", 64, 3, 7)
    _basic(d, "conv2", 64, 64, 1)
    _basic(d, "conv3", 192, 64, 3)
    blocks = {"3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
              "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
              "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
              "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
              "5b": (832, 384, 192, 384, 48, 128, 128)}
    for name, (inp, c1, r3, c3, r5, c5, pool) in blocks.items():
        key = f"inception{name}"
        _basic(d, f"{key}.branch1", c1, inp, 1)
        _basic(d, f"{key}.branch2.0", r3, inp, 1)
        _basic(d, f"{key}.branch2.1", c3, r3, 3)
        _basic(d, f"{key}.branch3.0", r5, inp, 1)
        _basic(d, f"{key}.branch3.1", c5, r5, 3)  # torchvision's 3×3 where the paper has 5×5
        _basic(d, f"{key}.branch4.1", pool, inp, 1)
    if aux:
        for key, inp in (("aux1", 512), ("aux2", 528)):
            _basic(d, f"{key}.conv", 128, inp, 1)
            _linear(d, f"{key}.fc1", 1024, 2048)
            _linear(d, f"{key}.fc2", 1000, 1024)
    _linear(d, "fc", 1000, 1024)
    return d


def torchvision_alexnet():
    d = {}
    for index, (out, inp, k) in zip((0, 3, 6, 8, 10), ((64, 3, 11), (192, 64, 5), (384, 192, 3), (256, 384, 3), (256, 256, 3))):
        _conv(d, f"features.{index}", out, inp, k)
    _linear(d, "classifier.1", 4096, 256 * 6 * 6)
    _linear(d, "classifier.4", 4096, 4096)
    _linear(d, "classifier.6", 1000, 4096)
    return d


def random_state(shapes, seed=0):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: .pth files need it")
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.zeros((), dtype=torch.int64) if s == () else torch.randn(s, generator=g) for k, s in shapes.items()}
    for k in state:
        if k.endswith("running_var"):
            state[k] = state[k].abs() + 0.5  # a variance
    return state


def save_pth(tmp_path, state, name="weights.pth"):
    import torch

    torch.save(state, tmp_path / name)
    return tmp_path / name


# -- ConvViz's own layout -----------------------------------------------------------------------------

def test_the_exports_weights_come_back_into_a_checkpoint_and_a_file(tmp_path, capsys):
    source = load_source("preset:resnet20", seed=5)
    export_pytorch(source, tmp_path / "export")
    weights = tmp_path / "export" / "weights.safetensors"
    assert main(["import-weights", "preset:resnet20", str(weights), "--out", str(tmp_path / "ckpt")]) == 0
    assert "ConvViz's layout" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "ckpt").index["step"] == 0
    back = load_source(tmp_path / "ckpt")
    for name, array in source.weights.items():
        np.testing.assert_array_equal(back.weights[name], array, err_msg=name)
    assert main(["import-weights", "preset:resnet20", str(weights), "--out", str(tmp_path / "again.safetensors")]) == 0
    again = import_weights(preset("resnet20"), tmp_path / "again.safetensors")
    np.testing.assert_array_equal(again.weights["res1.body.bn1.running_var"], source.weights["res1.body.bn1.running_var"])


def test_a_ddp_state_dict_in_convviz_names_imports(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: .pth files need it")
    net = Network(preset("tinyvgg"), seed=3)
    state = {f"module.{k}": torch.from_numpy(v) for k, v in net.get_weights().items()}
    imported = import_weights(preset("tinyvgg"), save_pth(tmp_path, state))
    np.testing.assert_array_equal(imported.weights["conv1.weight"], net.params()["conv1.weight"])


# -- torchvision's layouts ------------------------------------------------------------------------------

def test_torchvisions_resnet18_imports_and_runs(tmp_path, capsys):
    state = random_state(torchvision_resnet18())
    path = save_pth(tmp_path, state)
    assert main(["import-weights", "preset:resnet18", str(path), "--out", str(tmp_path / "r18.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "torchvision's resnet18 layout" in out and "left out 20 tensors" in out  # the num_batches_tracked counters
    imported = import_weights(preset("resnet18"), tmp_path / "r18.safetensors")
    pairs = {"conv1.weight": "conv1.weight", "res1.body.conv1.weight": "layer1.0.conv1.weight",
             "res3.shortcut.conv1.weight": "layer2.0.downsample.0.weight",
             "res8.body.bn2.running_var": "layer4.1.bn2.running_var", "fc1.weight": "fc.weight", "fc1.bias": "fc.bias"}
    for ours, theirs in pairs.items():
        np.testing.assert_array_equal(imported.weights[ours], state[theirs].numpy(), err_msg=ours)
    net = Network(preset("resnet18"))
    net.set_weights(imported.weights)
    scores = net.forward(np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32), train=False)
    assert scores.shape == (1, 1000) and np.isfinite(scores).all()


def test_torchvisions_googlenet_imports_without_its_auxiliary_heads(tmp_path):
    state = random_state(torchvision_googlenet(aux=True), seed=1)
    imported = import_weights(preset("googlenet"), save_pth(tmp_path, state))
    assert imported.layout == "torchvision's googlenet"
    assert any(k.startswith("aux1.") for k in imported.ignored) and any(k.startswith("aux2.") for k in imported.ignored)
    np.testing.assert_array_equal(imported.weights["inception4e.b3.conv2.weight"], state["inception4e.branch3.1.conv.weight"].numpy())
    np.testing.assert_array_equal(imported.weights["inception3a.b4.bn1.bias"], state["inception3a.branch4.1.bn.bias"].numpy())
    np.testing.assert_array_equal(imported.weights["bn3.running_mean"], state["conv3.bn.running_mean"].numpy())


def test_torchvisions_vgg16_imports(tmp_path):
    """138 M random numbers: about 12 s and 3 GB."""
    state = random_state(torchvision_vgg16(), seed=2)
    imported = import_weights(preset("vgg16"), save_pth(tmp_path, state))
    assert imported.layout == "torchvision's vgg16"
    np.testing.assert_array_equal(imported.weights["conv13.weight"], state["features.28.weight"].numpy())
    np.testing.assert_array_equal(imported.weights["fc1.weight"], state["classifier.0.weight"].numpy())


def test_the_vgg_layout_maps_a_small_vgg_style_network(tmp_path):
    """The vgg16 map on a small network of the same shape (conv, ReLU and pool layers, Flatten, FCs)."""
    pytest.importorskip("torch", reason="PyTorch is not installed: .pth files need it")
    from convviz.model import FC, Conv, Dropout, Flatten, MaxPool, NetworkSpec, ReLU, Softmax, Volume

    spec = NetworkSpec(Volume(8, 8, 3), [Conv(4, 3, pad=1), ReLU(), MaxPool(2), Conv(6, 3, pad=1), ReLU(), Conv(6, 3, pad=1),
                                          ReLU(), MaxPool(2), Flatten(), FC(10), ReLU(), Dropout(), FC(3), Softmax()])
    shapes = {}
    _conv(shapes, "features.0", 4, 3, 3)
    _conv(shapes, "features.3", 6, 4, 3)
    _conv(shapes, "features.5", 6, 6, 3)
    _linear(shapes, "classifier.0", 10, 24)
    _linear(shapes, "classifier.3", 3, 10)
    state = random_state(shapes)
    imported = import_weights(spec, save_pth(tmp_path, state))
    assert imported.layout == "torchvision's vgg16"
    np.testing.assert_array_equal(imported.weights["conv3.bias"], state["features.5.bias"].numpy())
    np.testing.assert_array_equal(imported.weights["fc2.weight"], state["classifier.3.weight"].numpy())


def test_torchvisions_alexnet_is_refused_shape_by_shape(tmp_path):
    """torchvision's AlexNet has 64 first-layer filters where ConvViz's (the paper's) has 96."""
    path = save_pth(tmp_path, random_state(torchvision_alexnet()))
    with pytest.raises(ExportError, match=r"in torchvision's alexnet layout: features\.0\.weight \(for conv1\.weight\) "
                                          r"has shape \(64, 3, 11, 11\), expected \(96, 3, 11, 11\)"):
        import_weights(preset("alexnet"), path)


# -- refusals -------------------------------------------------------------------------------------------

def test_a_renamed_tensor_is_refused_naming_both_names(tmp_path, capsys):
    state = random_state(torchvision_resnet18())
    state["layer1.0.convX.weight"] = state.pop("layer1.0.conv1.weight")
    path = save_pth(tmp_path, state)
    assert main(["import-weights", "preset:resnet18", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "layer1.0.conv1.weight is missing (for res1.body.conv1.weight)" in err
    assert "layer1.0.convX.weight is not part of this network" in err
    assert not (tmp_path / "out").exists()


def test_a_reshaped_tensor_is_refused_naming_it(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: .pth files need it")
    state = random_state(torchvision_resnet18())
    state["fc.weight"] = torch.zeros(1000, 511)
    with pytest.raises(ExportError, match=r"fc\.weight \(for fc1\.weight\) has shape \(1000, 511\), expected \(1000, 512\)"):
        import_weights(preset("resnet18"), save_pth(tmp_path, state))


def test_a_tensor_of_whole_numbers_is_refused(tmp_path):
    from safetensors.numpy import save_file

    weights = Network(preset("tinyvgg")).get_weights()
    weights["conv1.bias"] = weights["conv1.bias"].astype(np.int32)
    save_file(weights, str(tmp_path / "w.safetensors"))
    with pytest.raises(ExportError, match="conv1.bias holds I32 values, expected floating-point numbers"):
        import_weights(preset("tinyvgg"), tmp_path / "w.safetensors")


class Hostile:
    """Unpickling this would create a file: weights_only must refuse it before anything runs."""

    marker = None

    def __reduce__(self):
        return (open, (str(Hostile.marker), "w"))


def test_a_pickle_is_never_run(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: .pth files need it")
    Hostile.marker = tmp_path / "ran"
    torch.save({"conv1.weight": Hostile()}, tmp_path / "evil.pth")
    with pytest.raises(ExportError, match="is not a plain PyTorch state_dict"):
        import_weights(preset("tinyvgg"), tmp_path / "evil.pth")
    assert not Hostile.marker.exists()


def test_a_truncated_safetensors_file_is_refused(tmp_path):
    from safetensors.numpy import save_file

    save_file(Network(preset("tinyvgg")).get_weights(), str(tmp_path / "w.safetensors"))
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "w.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportError, match="lies outside the file"):
        import_weights(preset("tinyvgg"), tmp_path / "w.safetensors")
