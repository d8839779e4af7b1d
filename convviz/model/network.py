"""A network specification: an input volume and an ordered stack of layers."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from convviz.model.layers import Layer
from convviz.model.volume import Volume


@dataclass
class NetworkSpec:
    """What the builder edits, the engine builds and the summary describes. No weights.

    ``input`` is the W×H×D volume of one image; ``layers`` runs from input to output.
    """

    input: Volume = field(default_factory=lambda: Volume(32, 32, 3))
    layers: list[Layer] = field(default_factory=list)
    name: str = ""
    description: str = ""

    def copy(self) -> "NetworkSpec":
        """A deep copy: edits to it never reach this one."""
        return copy.deepcopy(self)

    def analyze(self):
        """Shapes and costs of every layer: see :func:`convviz.model.analysis.analyze`."""
        from convviz.model.analysis import analyze

        return analyze(self)
