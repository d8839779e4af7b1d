"""Which engine class runs each layer type of the specification.

Every engine layer class names the specification class it implements with ``@implements``::

    @implements(spec.ReLU)
    class ReLU(Layer): ...

and the network builds each layer of a report with ``engine_class(report.layer).build(...)``. No
table elsewhere lists the layer types.
"""

from __future__ import annotations

_ENGINE: dict[type, type] = {}


def implements(spec_class: type):
    """Class decorator: the decorated engine class runs layers of ``spec_class``."""

    def register(engine_class: type) -> type:
        if spec_class in _ENGINE:
            raise RuntimeError(f"{spec_class.__name__} already runs as {_ENGINE[spec_class].__name__}")
        _ENGINE[spec_class] = engine_class
        return engine_class

    return register


def engine_class(spec_layer) -> type:
    """The engine class for a specification layer (its exact type)."""
    try:
        return _ENGINE[type(spec_layer)]
    except KeyError:
        raise NotImplementedError(f"the engine has no implementation of {spec_layer.TYPE!r} layers") from None
