"""Fine-tuning a specification: freeze the early layers, replace the classifier head.

    spec = replace_head(preset("resnet18"), classes=10)    # the last FC: 512 → 10, a new layer "head"
    spec = freeze_up_to(spec, "res8.body.bn2")             # every parameter layer up to it: trainable False
    trainable_counts(spec)                                  # (trainable, frozen) parameter counts

Plain specification edits, no weights: ``convviz.training.fine_tune`` carries the weights over (the
new head starts fresh, every other layer keeps the ones it had).
"""

from __future__ import annotations

import copy
import dataclasses
import re

from convviz.model.analysis import NetworkReport, analyze
from convviz.model.layers import FC
from convviz.model.network import NetworkSpec

HEAD_NAME = "head"


def parameter_layers(spec: NetworkSpec | NetworkReport) -> list:
    """The reports of every layer that can be frozen (``FREEZABLE``), in order, blocks walked."""
    report = spec if isinstance(spec, NetworkReport) else analyze(spec)
    return [r for top in report.layers for r in top.walk() if r.layer.FREEZABLE]


def freeze_up_to(spec: NetworkSpec, layer_name: str) -> NetworkSpec:
    """A copy of ``spec`` with every parameter layer up to and including ``layer_name`` frozen and
    the later ones trainable. ValueError names the layers that can be frozen if ``layer_name`` is not one."""
    frozen = spec.copy()
    reports = parameter_layers(frozen)
    names = [r.name for r in reports]
    if layer_name not in names:
        what = "has no parameters to freeze" if layer_name in _names(frozen) else "is not a layer of this network"
        raise ValueError(f"{layer_name!r} {what}; layers with parameters: {', '.join(names) or 'none'}")
    last = names.index(layer_name)
    for i, report in enumerate(reports):
        report.layer.trainable = i > last
    return frozen


def last_fc_index(spec: NetworkSpec) -> int | None:
    """The place in ``spec.layers`` of the last top-level FC layer (None: the network has none)."""
    places = [i for i, layer in enumerate(spec.layers) if isinstance(layer, FC)]
    return places[-1] if places else None


def head_name(spec: NetworkSpec) -> str:
    """``head``, or ``head2``, ``head3`` … : a name no layer of ``spec`` has yet."""
    taken = _names(spec)
    name, n = HEAD_NAME, 1
    while name in taken:
        n += 1
        name = f"{HEAD_NAME}{n}"
    return name


def replace_head(spec: NetworkSpec, classes: int = 10) -> NetworkSpec:
    """A copy of ``spec`` whose last FC layer is a new, trainable one of ``classes`` units (with a bias
    as the old one had), named :func:`head_name` so that it never takes over the old layer's weights.
    ValueError if the network has no FC layer or ``classes`` is not a positive whole number."""
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be a positive whole number, got {classes!r}")
    index = last_fc_index(spec)
    if index is None:
        raise ValueError("the network has no FC layer at the top level to replace")
    replaced = spec.copy()
    old = replaced.layers[index]
    replaced.layers[index] = FC(units=classes, bias=old.bias, name=head_name(spec))
    return replaced


def trainable_counts(spec: NetworkSpec | NetworkReport) -> tuple[int, int]:
    """(trainable, frozen) parameter counts of ``spec`` (or of its analysis)."""
    trainable = frozen = 0
    for report in parameter_layers(spec):
        if report.layer.trainable:
            trainable += report.params
        else:
            frozen += report.params
    return trainable, frozen


def frozen_layer_names(spec: NetworkSpec) -> list[str]:
    """The full names of the frozen layers (``conv1``, ``res1.body.conv2`` …)."""
    return [r.name for r in parameter_layers(spec) if not r.layer.trainable]


def same_but_switches(a: NetworkSpec, b: NetworkSpec) -> bool:
    """The same layers on the same input, whatever their train switches say (the same weights fit both)."""
    return (a.input, switched_on(a.layers)) == (b.input, switched_on(b.layers))


def switched_on(layers: list) -> list:
    """Copies of ``layers`` (blocks walked) with every train switch on; other layers as they are."""
    out = []
    for layer in layers:
        changes = {"trainable": True} if layer.FREEZABLE else {}
        if layer.COMPOSITE:
            layer = copy.deepcopy(layer)
            for _, stack in layer.stacks():
                stack[:] = switched_on(stack)
        out.append(dataclasses.replace(layer, **changes) if changes else layer)
    return out


def derived_by_fine_tuning(old: NetworkSpec, new: NetworkSpec) -> bool:
    """Whether ``new`` is ``old`` after fine-tuning edits only: train switches changed and/or the last
    FC layer replaced by a new one (a name ``old`` does not use, as :func:`replace_head` gives it).
    Such a network keeps ``old``'s weights in every other layer (``convviz.training.fine_tune``)."""
    if same_but_switches(old, new):
        return True
    i, j = last_fc_index(old), last_fc_index(new)
    if i is None or i != j or len(old.layers) != len(new.layers):
        return False
    if not new.layers[j].name or new.layers[j].name in _names(old):
        return False

    def without_head(spec: NetworkSpec) -> NetworkSpec:
        return NetworkSpec(spec.input, spec.layers[:i] + spec.layers[i + 1:])

    return same_but_switches(without_head(old), without_head(new))


def is_frozen(layer) -> bool:
    """A frozen layer with parameters, or a block whose every layer with parameters is frozen."""
    leaves = [x for x in _leaves(layer) if x.FREEZABLE]
    return bool(leaves) and not any(x.trainable for x in leaves)


def _names(spec: NetworkSpec) -> set[str]:
    """Every layer's full name, blocks walked."""
    return {r.name for top in analyze(spec).layers for r in top.walk()}


def _leaves(layer) -> list:
    if not layer.COMPOSITE:
        return [layer]
    return [leaf for _, stack in layer.stacks() for inner in stack for leaf in _leaves(inner)]


def replaced_head(spec: NetworkSpec) -> str | None:
    """The name of the last FC layer if :func:`replace_head` made it (``head``, ``head2`` …), else None:
    importing weights leaves it out (it starts fresh) instead of refusing the file."""
    index = last_fc_index(spec)
    name = spec.layers[index].name if index is not None else ""
    return name if re.fullmatch(rf"{HEAD_NAME}\d*", name) else None
