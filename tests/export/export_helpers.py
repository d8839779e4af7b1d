"""Shared by the export tests: networks that use every layer type, importing a written model.py,
and batch-norm statistics that look like a trained network's."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import sys

import numpy as np

from convviz.engine import Network
from convviz.model import (
    ELU, FC, LRN, AvgPool, BatchNorm, Branch, Conv, Dropout, GlobalAvgPool, LeakyReLU, LocallyConnected,
    MaxPool, NetworkSpec, ReLU, Residual, Sigmoid, Softmax, Tanh, Volume,
)

#: Every layer type, both uneven-stride policies, asymmetric padding, flat volumes fed to windowed
#: layers, LRN and batch norm on flat volumes, blocks inside blocks.
EVERYTHING = NetworkSpec(Volume(24, 22, 3), [
    Conv(8, 3, stride=2, policy="pad", name="stem"), ELU(alpha=0.7), LRN(size=5, alpha=0.5, beta=0.75, k=2.0),
    MaxPool(3, stride=2, pad=1, policy="crop"),
    Residual(body=[Conv(8, 3, pad=2, dilation=2), BatchNorm(), LeakyReLU(slope=0.2), Conv(8, 3, pad=1)], shortcut=[]),
    Branch(branches=[[Conv(4, 1), Tanh()], [AvgPool(3, stride=1, pad=1), Conv(3, 1), Sigmoid()],
                     [Residual(body=[Conv(8, 1)], shortcut=[Conv(8, (1, 3), pad=(0, 1))])], []], name="mix"),
    LocallyConnected(6, 3, stride=2, policy="pad"), ReLU(), AvgPool(2, stride=2, policy="pad"),
    Conv(5, (2, 1), stride=(1, 2), policy="crop"), BatchNorm(), ReLU(),
    GlobalAvgPool(), BatchNorm(), LRN(size=3), FC(12), Dropout(0.3), ReLU(),
    Conv(7, 1, name="conv_on_flat"), MaxPool(1, stride=1), FC(5, bias=False), Softmax(),
], name="every layer type")


def import_model(folder, tag: str):
    """The ``model.py`` module in ``folder``, imported under a name of its own."""
    name = f"exported_model_{tag}"
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def calibrated(spec: NetworkSpec, seed: int = 0, batch: int = 4) -> Network:
    """``Network(spec, seed)`` whose batch-norm running statistics are those of a batch of inputs (as
    after training), so eval-mode scores are of the size a trained network gives, not hundreds."""
    net = Network(spec, seed=seed)
    bn_names = [name for name, layer in net.layers.items() if isinstance(layer.spec, BatchNorm)]
    if not bn_names:
        return net
    x = np.random.default_rng(seed).standard_normal((batch,) + spec.input.chw()).astype(np.float32)
    probe = spec.copy()
    _set_momentum(probe.layers, 1.0)  # running statistics := those of one batch
    probe_net = Network(probe, seed=seed)
    probe_net.set_weights(net.get_weights())
    probe_net.forward(x, train=True)
    net.set_weights(probe_net.get_weights())
    return net


def _set_momentum(layers, momentum):
    for i, layer in enumerate(layers):
        if isinstance(layer, BatchNorm):
            layers[i] = dataclasses.replace(layer, momentum=momentum)
        for _, inner in (layer.stacks() if layer.COMPOSITE else []):
            _set_momentum(inner, momentum)


def parameter_names(net: Network) -> list[str]:
    return list(itertools.chain(net.params(), net.buffers()))
