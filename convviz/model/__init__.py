"""The network specification: plain dataclasses, shape and cost arithmetic, JSON files, presets.

    >>> from convviz.model import preset, analyze
    >>> report = analyze(preset("vgg16"))
    >>> report.total_params
    138357544

Never imports Qt or numpy arrays of weights: the builder, the summary, the engine and the tests all
share these numbers.
"""

from convviz.model.analysis import LayerReport, Memory, NetworkReport, analyze, layer_names
from convviz.model.geometry import Fix, slide
from convviz.model.layers import (
    CATEGORIES,
    FC,
    LAYER_TYPES,
    LRN,
    AvgPool,
    BatchNorm,
    Branch,
    Conv,
    ELU,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    LeakyReLU,
    LocallyConnected,
    MaxPool,
    ReLU,
    Residual,
    ShapeError,
    Sigmoid,
    Softmax,
    Tanh,
    WindowLayer,
)
from convviz.model.network import NetworkSpec
from convviz.model.presets import preset, preset_names, spec_from_argument
from convviz.model.spec_io import SpecFormatError, dumps, load_spec, loads, save_spec, spec_from_dict, spec_to_dict
from convviz.model.volume import Volume

__all__ = [
    "analyze", "LayerReport", "Memory", "NetworkReport", "layer_names",
    "Fix", "slide",
    "CATEGORIES", "LAYER_TYPES", "Layer", "ShapeError",
    "Conv", "LocallyConnected", "MaxPool", "AvgPool", "GlobalAvgPool",
    "ReLU", "LeakyReLU", "ELU", "Tanh", "Sigmoid", "BatchNorm", "LRN", "Dropout",
    "Flatten", "FC", "Softmax", "Residual", "Branch", "WindowLayer",
    "NetworkSpec", "Volume",
    "preset", "preset_names", "spec_from_argument",
    "SpecFormatError", "dumps", "loads", "load_spec", "save_spec", "spec_from_dict", "spec_to_dict",
]
