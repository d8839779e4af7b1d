"""ConvViz: see and touch convolutional neural networks.

Sub-packages, in the one direction of dependency ui → training → engine/model/data:

- ``convviz.model``: the network specification (dataclasses, shapes, costs, JSON, presets)
- ``convviz.engine``: the numpy CNN engine
- ``convviz.data``: CIFAR-10 and other data sets
- ``convviz.training``: the trainer
- ``convviz.ui``: the Qt desktop app (the only place Qt is imported)
"""

__version__ = "0.1.0"
