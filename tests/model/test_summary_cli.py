"""``convviz summary`` and ``convviz presets``: what a user reads in the terminal."""

import json

from convviz.cli import main
from convviz.model import Branch, Conv, NetworkSpec, Volume, save_spec


def test_summary_table_of_vgg16(capsys):
    assert main(["summary", "preset:vgg16", "--batch", "16", "--memory-budget", "4GB", "--optimizer", "adam"]) == 0
    out = capsys.readouterr().out
    assert "conv1 (conv 3×3, 64, S1 P1)" in out
    assert "224×224×64" in out and "102,764,544" in out
    assert "Total params: 138,357,544" in out
    assert "Memory budget 4.00 GB: batch 16 does NOT fit; largest batch that fits: 14" in out


def test_summary_json_has_inner_layers_of_blocks(capsys):
    assert main(["summary", "preset:resnet20", "--json", "--batch", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_params"] == 272_474
    block = data["layers"][3]
    assert block["type"] == "residual" and block["output_shape"] == [32, 32, 16]
    assert [inner["name"] for inner in block["inner"]["body"]][:2] == ["res1.body.conv1", "res1.body.bn1"]
    first = data["layers"][0]
    assert first["activation_bytes"] == 2 * 32 * 32 * 16 * 4
    assert set(first) >= {"name", "type", "output_shape", "params", "macs", "activation_bytes"}


def test_invalid_network_prints_every_problem_and_fails(tmp_path, capsys):
    path = tmp_path / "bad.json"
    layers = [Branch(branches=[[Conv(filters=4, size=3, stride=2)], [Conv(filters=2, size=11)]])]
    save_spec(NetworkSpec(Volume(10, 10, 3), layers), path)
    assert main(["summary", str(path)]) == 1
    captured = capsys.readouterr()
    assert "branch1.b1.conv1: (10 − 3 + 2·0)/2 + 1 = 4.5 is not a whole number" in captured.err
    assert "branch1.b2.conv1: F=11 is larger than the padded input" in captured.err
    assert "2 problem(s):" in captured.out


def test_bad_file_and_unknown_preset_are_one_line_errors(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "convviz-network", "version": 1, "input": {"width": 8, "height": 8, "depth": 1}, "layers": [{"type": "conv"}]}')
    assert main(["summary", str(path)]) == 2
    err = capsys.readouterr().err
    assert "layers[0].filters: missing" in err and "Traceback" not in err
    assert main(["summary", "preset:nope"]) == 2
    assert "no preset named 'nope'" in capsys.readouterr().err
    assert main(["summary", "preset:vgg16", "--memory-budget", "lots"]) == 2
    assert "--memory-budget: a memory size looks like 4GB" in capsys.readouterr().err


def test_presets_lists_every_case_study(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "preset:googlenet" in out and "6,624,904" in out


def test_summary_prints_the_receptive_field_of_every_layer(capsys):
    assert main(["summary", "preset:vgg16"]) == 0
    out = capsys.readouterr().out
    assert "RF (jump)" in out
    conv5_3 = [line for line in out.splitlines() if line.startswith("conv13 ")][0]
    assert conv5_3.endswith("196×196 (16)")
    assert main(["summary", "preset:convnetjs", "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert layers[0]["receptive_field"] == {"size": [5, 5], "jump": [1, 1]}
    assert layers[-1]["receptive_field"] == "whole input"
