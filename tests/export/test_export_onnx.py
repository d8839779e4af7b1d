"""`convviz export … --to onnx`: a graph that passes onnx.checker, nodes named as ConvViz names the
layers, and (with onnxruntime, where installed) the engine's outputs. Skipped, saying why, without onnx."""

import dataclasses
import os

import numpy as np
import pytest

from convviz.cli import main
from convviz.engine import Network
from convviz.export import ExportError, Source, export_onnx
from convviz.model import LRN, Conv, LocallyConnected, NetworkSpec, ReLU, Softmax, Volume, analyze, preset, preset_names
from convviz.training.config import TrainConfig

from export_helpers import EVERYTHING, calibrated

onnx = pytest.importorskip("onnx", reason="onnx is not installed: pip install 'convviz[export]'")

BIG = {"alexnet", "alexnet_torchvision", "zfnet", "vgg16", "googlenet", "resnet18"}
big = pytest.mark.skipif(not os.environ.get("CONVVIZ_BIG_TESTS"), reason="builds 6–140 M parameters; set CONVVIZ_BIG_TESTS=1")
#: EVERYTHING with its locally connected layer (which ONNX cannot hold) made a convolution.
EVERYTHING_ONNX = dataclasses.replace(EVERYTHING, layers=[
    Conv(6, 3, stride=2, policy="pad") if isinstance(layer, LocallyConnected) else layer for layer in EVERYTHING.layers
])
CASES = [pytest.param(name, marks=big) if name in BIG else name for name in preset_names()] + ["every layer type"]


def spec_of(case):
    return EVERYTHING_ONNX if case == "every layer type" else preset(case)


def write(tmp_path, spec, net):
    return export_onnx(Source(spec, net.get_weights(), TrainConfig(), "test"), tmp_path / "net.onnx")


@pytest.mark.parametrize("case", CASES)
def test_the_graph_passes_the_checker_with_convvizs_layer_names(tmp_path, case):
    spec = spec_of(case)
    net = Network(spec, seed=1)
    model = onnx.load(str(write(tmp_path, spec, net)))
    onnx.checker.check_model(model, full_check=True)
    names = [r.name for top in analyze(spec).layers for r in top.walk()]
    layer_nodes = [node.name for node in model.graph.node if "/" not in node.name]
    assert sorted(layer_nodes) == sorted(names)  # one node per layer (a block's Add or Concat after its stacks)
    assert {i.name for i in model.graph.initializer} >= set(net.params()) | set(net.buffers())
    assert model.graph.input[0].name == "input"


@pytest.mark.parametrize("case", CASES)
def test_onnxruntime_gives_the_engines_scores_and_probabilities(tmp_path, case):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the checker tests still ran")
    spec = spec_of(case)
    x = np.random.default_rng(2).standard_normal((2,) + spec.input.chw()).astype(np.float32)
    net = calibrated(spec, seed=1)
    logits_spec = dataclasses.replace(spec, layers=[l for l in spec.layers if not isinstance(l, Softmax)])
    for exported, expected in ((spec, net.predict_proba(x)), (logits_spec, net.forward(x, train=False))):
        path = export_onnx(Source(exported, net.get_weights(), TrainConfig(), "test"), tmp_path / "net.onnx")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": x})[0]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4, f"max |Δ| = {np.abs(got - expected).max():.2e}"


def test_a_locally_connected_layer_is_refused_naming_it(tmp_path):
    net = Network(EVERYTHING)
    with pytest.raises(ExportError, match="local1: ONNX has no locally connected operator"):
        write(tmp_path, EVERYTHING, net)
    assert not (tmp_path / "net.onnx").exists()


def test_an_even_lrn_is_refused_saying_why(tmp_path):
    spec = NetworkSpec(Volume(6, 6, 4), [Conv(6, 3), ReLU(), LRN(size=4)])
    with pytest.raises(ExportError, match=r"lrn1: LRN with an even size n=4 cannot be exported to ONNX.*use an odd size"):
        write(tmp_path, spec, Network(spec))


def test_the_command_writes_the_file(tmp_path, capsys):
    assert main(["export", "preset:convnetjs", "--to", "onnx", str(tmp_path / "cnj.onnx")]) == 0
    assert str(tmp_path / "cnj.onnx") in capsys.readouterr().out
    model = onnx.load(str(tmp_path / "cnj.onnx"))
    assert model.graph.node[0].name == "conv1" and model.graph.node[0].op_type == "Conv"
    conv = {a.name: list(a.ints) for a in model.graph.node[0].attribute}
    assert conv["pads"] == [2, 2, 2, 2] and conv["kernel_shape"] == [5, 5]


def test_the_pad_policy_is_in_the_pads(tmp_path):
    spec = NetworkSpec(Volume(10, 9, 1), [Conv(2, 3, stride=2, policy="pad"), ReLU()])
    model = onnx.load(str(write(tmp_path, spec, Network(spec))))
    conv = {a.name: list(a.ints) for a in model.graph.node[0].attribute}
    assert conv["pads"] == [0, 0, 0, 1]  # [top, left, bottom, right]: one zero column at the right (W: 10 − 3 is odd)


def test_weights_beyond_two_gigabytes_are_refused(tmp_path, monkeypatch):
    import convviz.export.onnx_graph as onnx_graph

    monkeypatch.setattr(onnx_graph, "MAX_BYTES", 10_000)  # as if 2 GB: building a real one takes minutes
    spec = preset("convnetjs")
    with pytest.raises(ExportError, match=r"the weights take .* more than the 2 GB one ONNX file can hold"):
        write(tmp_path, spec, Network(spec))
