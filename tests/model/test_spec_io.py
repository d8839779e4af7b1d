"""Network files: round trips, and every kind of bad file refused with its path, never a traceback."""

import json

import pytest

from convviz.model import (
    Branch, Conv, MaxPool, NetworkSpec, ReLU, Residual, SpecFormatError, Volume, dumps, load_spec, loads, preset,
    save_spec,
)


def network_text(layers, **extra) -> str:
    data = {"format": "convviz-network", "version": 1, "input": {"width": 32, "height": 32, "depth": 3}, "layers": layers}
    data.update(extra)
    return json.dumps(data)


def test_round_trip_keeps_everything(tmp_path):
    spec = NetworkSpec(
        Volume(31, 17, 2),
        [
            Conv(filters=3, size=(3, 5), stride=(1, 2), pad=(1, 0), dilation=2, bias=False, policy="crop", name="first"),
            Residual(body=[Conv(filters=3, size=1)], shortcut=[]),
            Branch(branches=[[ReLU()], [MaxPool(size=3, stride=1, pad=1)]]),
        ],
        name="tiny",
        description="all kinds",
    )
    path = tmp_path / "net.json"
    save_spec(spec, path)
    assert load_spec(path) == spec
    assert loads(dumps(preset("googlenet"))) == preset("googlenet")


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "net.json"
    path.write_text("old")
    save_spec(preset("lenet5"), path)
    assert load_spec(path).name == "LeNet-5"
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.json"
    save_spec(preset("lenet5"), path)
    import convviz.model.spec_io as spec_io

    def broken_dumps(spec):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spec_io, "dumps", broken_dumps)
    with pytest.raises(OSError, match="No space left"):
        save_spec(preset("vgg16"), path)
    assert load_spec(path).name == "LeNet-5"
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]


@pytest.mark.parametrize(
    "layers, problem",
    [
        ([{"type": "convolution", "filters": 3, "size": 3}], "layers[0].type: unknown layer type 'convolution'"),
        ([{"type": "conv", "size": 3}], "layers[0].filters: missing"),
        ([{"type": "relu"}, {"type": "conv", "filters": "16", "size": 3}], 'layers[1].filters: must be a whole number, got "16"'),
        ([{"type": "conv", "filters": 10**9, "size": 3}], "layers[0].filters: must be at most 65,536, got 1,000,000,000"),
        ([{"type": "relu"}, {"type": "relu"}, {"type": "relu"}, {"type": "maxpool", "size": 2, "stride": 0}],
         "layers[3].stride: must be a positive whole number, got 0"),
        ([{"type": "conv", "filters": 3, "size": 3, "strides": 2}], "layers[0].strides: unknown field for a conv layer; did you mean 'stride'?"),
        ([{"type": "conv", "filters": 3, "size": [3, 3, 3]}], "layers[0].size: must be a whole number or [along H, along W]"),
        ([{"type": "conv", "filters": 3, "size": 3, "bias": 1}], "layers[0].bias: must be true or false, got 1"),
        ([{"type": "conv", "filters": 3, "size": 3, "policy": "round"}], "layers[0].policy: must be one of error, pad, crop"),
        ([{"type": "residual", "body": [{"type": "conv", "filters": -1, "size": 3}]}], "layers[0].body[0].filters: must be a positive whole number, got -1"),
        ([{"type": "branch", "branches": [[{"type": "fc"}]]}], "layers[0].branches[0][0].units: missing"),
        ([{"type": "dropout", "p": 1.5}], "layers[0].p: must be at most 0.99, got 1.5"),
        (["conv"], 'layers[0]: must be an object like {"type": "conv", …}, got text'),
    ],
)
def test_bad_layers_are_reported_with_their_path(layers, problem):
    with pytest.raises(SpecFormatError) as info:
        loads(network_text(layers), "net.json")
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems
    assert str(info.value).startswith("net.json is not a valid network file:")


def test_every_problem_is_collected():
    layers = [{"type": "conv", "filters": 0, "size": 3}, {"type": "pool"}, {"type": "fc", "units": 2.5}]
    with pytest.raises(SpecFormatError) as info:
        loads(network_text(layers))
    assert len(info.value.problems) == 3


@pytest.mark.parametrize(
    "text, problem",
    [
        ("{not json", "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
        ("[1, 2]", "the file must hold a JSON object, got a list"),
        ('{"format": "keras"}', "format: expected 'convviz-network', got 'keras'"),
        (network_text([], version=7), "version: the file is version 7, written by a newer ConvViz"),
        (network_text([], input={"width": 0, "height": 32, "depth": 3}), "input.width: must be a positive whole number, got 0"),
        (network_text([{"type": "dropout", "p": float("nan")}]), "NaN is not a number a network file may hold"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply"),
    ],
)
def test_malformed_files(text, problem):
    with pytest.raises(SpecFormatError) as info:
        loads(text)
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_deeply_nested_blocks_are_refused():
    layer = {"type": "relu"}
    for _ in range(12):
        layer = {"type": "residual", "body": [layer]}
    with pytest.raises(SpecFormatError, match="nested more than 8 deep"):
        loads(network_text([layer]))


def test_unreadable_and_binary_files(tmp_path):
    with pytest.raises(SpecFormatError, match="cannot read the file"):
        load_spec(tmp_path / "missing.json")
    binary = tmp_path / "weights.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(SpecFormatError, match="not UTF-8 text"):
        load_spec(binary)


def test_an_invalid_network_still_loads_so_it_can_be_fixed():
    spec = loads(network_text([{"type": "conv", "filters": 4, "size": 3, "stride": 2}], input={"width": 10, "height": 10, "depth": 3}))
    assert spec.layers[0].stride == 2
