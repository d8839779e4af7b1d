"""The case studies, pinned to the parameter counts of their papers and reference implementations."""

import pytest

from convviz.model import analyze, load_spec, preset, preset_names
from convviz.model.presets import presets_dir

PARAMS = {
    "lenet5": 61_706,
    "alexnet": 62_378_344,
    "alexnet_torchvision": 61_100_840,
    "zfnet": 62_357_608,
    "vgg16": 138_357_544,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "convnetjs": 22_466,
    "tinyvgg": 5_520,
    "smallvgg": 551_466,
    "resnet20": 272_474,
}


def test_every_preset_is_listed():
    assert preset_names() == list(PARAMS)


@pytest.mark.parametrize("name, params", PARAMS.items())
def test_preset_parameter_count_and_validity(name, params):
    report = analyze(preset(name))
    assert report.valid, [p.error.message for p in report.problems]
    assert report.total_params == params


def test_presets_are_ordinary_network_files():
    for path in presets_dir().glob("*.json"):
        assert load_spec(path) == preset(path.stem)


# VGG-16, layer by layer: (output W×H×D, parameters) of every conv and FC (Simonyan & Zisserman, config D).
VGG16 = [
    ("224×224×64", 1_792), ("224×224×64", 36_928),
    ("112×112×128", 73_856), ("112×112×128", 147_584),
    ("56×56×256", 295_168), ("56×56×256", 590_080), ("56×56×256", 590_080),
    ("28×28×512", 1_180_160), ("28×28×512", 2_359_808), ("28×28×512", 2_359_808),
    ("14×14×512", 2_359_808), ("14×14×512", 2_359_808), ("14×14×512", 2_359_808),
    ("1×1×4096", 102_764_544), ("1×1×4096", 16_781_312), ("1×1×1000", 4_097_000),
]


def test_vgg16_layer_by_layer():
    report = analyze(preset("vgg16"))
    weighted = [(str(r.output), r.params) for r in report.layers if r.layer.TYPE in ("conv", "fc")]
    assert weighted == VGG16
    pools = [str(r.output) for r in report.layers if r.layer.TYPE == "maxpool"]
    assert pools == ["112×112×64", "56×56×128", "28×28×256", "14×14×512", "7×7×512"]
    assert report.total_macs == 15_470_264_320


def test_zfnet_follows_the_papers_figure():
    report = analyze(preset("zfnet"))
    sizes = [r.output.width for r in report.layers if r.layer.TYPE in ("conv", "maxpool")]
    assert sizes == [110, 55, 26, 13, 13, 13, 13, 6]


def test_googlenet_and_resnet18_volumes():
    googlenet = analyze(preset("googlenet"))
    inception = {r.name: str(r.output) for r in googlenet.layers if r.layer.TYPE == "branch"}
    assert inception["inception3a"] == "28×28×256"
    assert inception["inception4e"] == "14×14×832"
    assert inception["inception5b"] == "7×7×1024"
    resnet = analyze(preset("resnet18"))
    blocks = [str(r.output) for r in resnet.layers if r.layer.TYPE == "residual"]
    assert blocks[::2] == ["56×56×64", "28×28×128", "14×14×256", "7×7×512"]
    assert resnet.total_macs == 1_814_073_344
