"""Where other programs put a network's tensors: name maps from ConvViz's stable names.

A layout is a function ``(report) -> {ConvViz layer name: module path in the file}`` that returns None
when the network's structure is not the one it describes; a layer's tensors keep their suffix
(``.weight``, ``.bias``, ``.running_mean``, ``.running_var``). ConvViz's own layout is the identity.

torchvision's layouts of the case studies (``torchvision.models``' ``state_dict()`` keys):

- ``vgg16`` and ``alexnet``: ``features.I`` / ``classifier.I``, I the module's place in the
  ``features`` Sequential (conv, ReLU, max pool: ConvViz's layers before Flatten, LRN left out, as
  torchvision's AlexNet has none) or in ``classifier`` (the layers after Flatten).
- ``resnet18``: ``conv1``, ``bn1``, ``layerS.B.conv1`` … for residual block k = 2(S − 1) + B + 1,
  its projection shortcut ``layerS.B.downsample.0`` (conv) and ``.1`` (batch norm); ``fc``.
- ``googlenet``: ``convN.conv`` / ``convN.bn`` for the stem's conv and batch norm; in an Inception
  block ``branch1.conv``, ``branch2.0.conv``, ``branch2.1.conv`` …, ``branch4.1.conv`` (after its
  max pool); ``fc``. The auxiliary heads (``aux1.*``, ``aux2.*``) are not part of the preset.

torchvision's AlexNet has 64/192/384/256/256 filters where the ``alexnet`` preset (the paper's single
tower) has 96/256/384/384/256: its weights load into the ``alexnet_torchvision`` preset, made with
torchvision's shapes, and are refused by the paper's, shape by shape, with a pointer to that preset
(``RELATED_PRESETS``) rather than loaded wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from convviz.model import layers as spec_layers

Layout = Callable[[object], "dict[str, str] | None"]


def convviz_layout(report) -> dict[str, str]:
    return {r.name: r.name for top in report.layers for r in top.walk()}


def _sequential_halves(report, skip=()) -> dict[str, str] | None:
    """features.I before the first Flatten, classifier.I after it (I counted without ``skip`` types)."""
    mapping, part, index = {}, "features", 0
    for r in report.layers:
        if r.layer.COMPOSITE:
            return None
        if isinstance(r.layer, spec_layers.Flatten):
            part, index = "classifier", 0
            continue
        if isinstance(r.layer, skip):
            continue
        mapping[r.name] = f"{part}.{index}"
        index += 1
    return mapping if part == "classifier" else None


def vgg16_layout(report):
    return _sequential_halves(report)


def alexnet_layout(report):
    """The features/classifier layout of an AlexNet: five convolutions and three FC layers (so that a
    VGG-style network is called VGG in messages)."""
    mapping = _sequential_halves(report, skip=(spec_layers.LRN,))
    kinds = [type(r.layer) for r in report.layers]
    if mapping is None or kinds.count(spec_layers.Conv) != 5 or kinds.count(spec_layers.FC) != 3:
        return None
    return mapping


def _last_fc(report) -> str | None:
    fcs = [r.name for r in report.layers if isinstance(r.layer, spec_layers.FC)]
    return fcs[-1] if len(fcs) == 1 else None


def resnet18_layout(report):
    mapping, block = {}, 0
    fc = _last_fc(report)
    if fc is None:
        return None
    mapping[fc] = "fc"
    for r in report.layers:
        if isinstance(r.layer, spec_layers.Residual):
            stage, index = divmod(block, 2)
            where = f"layer{stage + 1}.{index}"
            block += 1
            for inner in list(r.walk())[1:]:
                local = inner.name[len(r.name) + 1:]
                stack, _, name = local.partition(".")
                if stack == "body":
                    mapping[inner.name] = f"{where}.{name}"
                elif name in ("conv1", "bn1"):  # the projection shortcut
                    mapping[inner.name] = f"{where}.downsample.{0 if name == 'conv1' else 1}"
                elif inner.params:
                    return None
        elif r.name in ("conv1", "bn1"):
            mapping[r.name] = r.name
    return mapping if block == 8 else None


def googlenet_layout(report):
    mapping = {}
    fc = _last_fc(report)
    if fc is None:
        return None
    mapping[fc] = "fc"
    for r in report.layers:
        stem = re.fullmatch(r"(conv|bn)([123])", r.name)
        if stem:
            mapping[r.name] = f"conv{stem[2]}.{'conv' if stem[1] == 'conv' else 'bn'}"
        elif isinstance(r.layer, spec_layers.Branch):
            for inner in list(r.walk())[1:]:
                match = re.fullmatch(rf"{re.escape(r.name)}\.b([1-4])\.(conv|bn)([12])", inner.name)
                if not match:
                    continue
                branch, kind, j = int(match[1]), match[2], int(match[3])
                position = "" if branch == 1 else (f".{j - 1}" if branch in (2, 3) else ".1")
                mapping[inner.name] = f"{r.name}.branch{branch}{position}.{kind}"
    return mapping


#: The layouts an imported file may have, by the name messages use.
LAYOUTS: dict[str, Layout] = {  # on a tie, the first one names the layout
    "ConvViz's": convviz_layout,
    "torchvision's alexnet": alexnet_layout,
    "torchvision's vgg16": vgg16_layout,
    "torchvision's resnet18": resnet18_layout,
    "torchvision's googlenet": googlenet_layout,
}

#: The preset whose layer shapes a layout's published weights have, named when they fit another network.
RELATED_PRESETS = {"torchvision's alexnet": "alexnet_torchvision"}

#: Tensors of a file that no ConvViz network holds, left out on import: PyTorch's batch-norm
#: counters, GoogLeNet's auxiliary heads.
IGNORED = (re.compile(r".*\.num_batches_tracked"), re.compile(r"aux[12]\..*"))


def ignored(key: str) -> bool:
    return any(pattern.fullmatch(key) for pattern in IGNORED)
