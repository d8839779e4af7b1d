"""What every layer type of a specification shares: the :class:`Layer` base, its fields and limits.

A layer type is declared once, as a subclass of :class:`Layer` with a ``TYPE``: its fields
(:func:`hp`, with limits and whether a file must state them), its arithmetic (``output_shape``,
``params``, ``macs``, ``saved``, ``buffers``), its text (``brief``) and the class attributes that
callers branch on (``ELEMENTWISE``, ``INIT_TRANSPARENT``, ``FOLDED_IN_DIAGRAM``, ``FREEZABLE``, ``init_rule``).
A type with parameters also derives from :class:`Trainable`, which adds the ``trainable`` switch.
Defining the class registers it in :data:`LAYER_TYPES`; the engine registers its implementation
for it (``convviz.engine.registry``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from convviz.model.geometry import Fix
from convviz.model.volume import Volume

Pair = int | tuple[int, int]

#: Largest values a file may hold; beyond them a value is absurd, not merely expensive.
LIMITS = {
    "filters": 65_536,
    "units": 1_000_000,
    "size": 1_024,
    "stride": 1_024,
    "pad": 1_024,
    "dilation": 256,
    "extent": 16_384,  # input width/height
    "depth": 65_536,  # input depth
}


#: Every layer type by its JSON "type", in palette order (filled as the classes below are defined).
LAYER_TYPES: dict[str, type["Layer"]] = {}


class ShapeError(Exception):
    """A layer that cannot be built for its input: ``message`` shows why, ``fixes`` the ways out."""

    def __init__(self, message: str, fixes: tuple[Fix, ...] | list[Fix] = (), formula: str = ""):
        super().__init__(message)
        self.message = message
        self.fixes = tuple(fixes)
        self.formula = formula


def hp(default, kind: str, doc: str, low=None, high=None, choices=None, label: str | None = None,
       required: bool = False):
    """A hyperparameter field; ``kind`` is int, pair, float, bool, choice, layers or branches.
    ``required``: a network file must state it (the others may be left out for their defaults)."""
    meta = dict(kind=kind, doc=doc, low=low, high=high, choices=choices, label=label, required=required)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def pair(value: Pair) -> tuple[int, int]:
    """(along H, along W) from one number or a pair."""
    if isinstance(value, (tuple, list)):
        return (value[0], value[1])
    return (value, value)


def fmt_pair(value: Pair, sep: str = "×") -> str:
    h, w = pair(value)
    return str(h) if h == w else f"{h}{sep}{w}"


def fmt_size(value: Pair) -> str:
    """A window size as on a card: 5×5, or 3×5 (along H × along W)."""
    h, w = pair(value)
    return f"{h}×{w}"


def fmt_int(n: int) -> str:
    """1,216 (thousands separated, as the notes write them)."""
    return f"{n:,}"


@dataclass
class Layer:
    """Base of every layer type. ``name`` is optional; unnamed layers are numbered by type (conv1 …)."""

    TYPE: ClassVar[str] = ""  # the "type" in JSON
    SHORT: ClassVar[str] = ""  # auto-name prefix
    TITLE: ClassVar[str] = ""
    CATEGORY: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""
    FORMULA: ClassVar[str] = ""
    COMPOSITE: ClassVar[bool] = False
    #: Elementwise: each output value depends on the input value at the same place only.
    ELEMENTWISE: ClassVar[bool] = False
    #: Sits between a weighted layer and its activation without changing which activation that is
    #: (the initialisation looks past it).
    INIT_TRANSPARENT: ClassVar[bool] = False
    #: Drawn inside the previous volume's box in the diagram instead of as a volume of its own.
    FOLDED_IN_DIAGRAM: ClassVar[bool] = False
    #: Each output cell sees the same input pixels as the input cell it comes from (the receptive
    #: field is unchanged: element-wise layers, normalization across depth, flatten).
    KEEPS_FIELD: ClassVar[bool] = False
    #: For a block: how its stacks' outputs are merged, in words.
    MERGE: ClassVar[str] = ""
    #: Has parameters that fine-tuning may freeze: the type derives from :class:`Trainable`.
    FREEZABLE: ClassVar[bool] = False

    name: str = field(default="", kw_only=True, metadata=dict(kind="str", doc="optional name", label="Name"))

    def __init_subclass__(cls, **kwargs):
        """Every class that names a ``TYPE`` is a layer type of the files, in definition order."""
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("TYPE"):
            LAYER_TYPES[cls.TYPE] = cls

    # -- arithmetic -------------------------------------------------------------------------------
    def output_shape(self, v: Volume) -> Volume:
        return v

    def size_formula(self, v: Volume) -> str:
        """How the output size follows from the input (windowed layers: the arithmetic), or ""."""
        return ""

    def init_rule(self) -> tuple[str, float] | None:
        """For an activation: how a weighted layer before it is initialised, ("he", gain²) with
        std = √(gain²/fan_in), or ("glorot", 1) with std = √(2/(fan_in + fan_out)); None otherwise."""
        return None

    @classmethod
    def required_fields(cls) -> tuple[str, ...]:
        """The fields a network file must state."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("required"))

    def params(self, v: Volume) -> int:
        return 0

    def param_formula(self, v: Volume) -> str:
        return "no parameters"

    def macs(self, v: Volume, out: Volume) -> int:
        return 0

    def saved(self, v: Volume, out: Volume) -> int:
        return 0

    def buffers(self, v: Volume) -> int:
        return 0

    # -- text ----------------------------------------------------------------------------------------
    def brief(self) -> str:
        return self.TITLE

    # -- fields ----------------------------------------------------------------------------------------
    @classmethod
    def hyperparameters(cls) -> list[dataclasses.Field]:
        """The editable fields, in display order (``trainable``, then ``name`` last)."""
        last = ("trainable", "name")
        fields = [f for f in dataclasses.fields(cls) if f.name not in last]
        return fields + [f for name in last for f in dataclasses.fields(cls) if f.name == name]

    def values(self) -> tuple:
        """Every field's value, in order: what the layer's arithmetic depends on (hashable for plain layers)."""
        names = type(self).__dict__.get("_field_names")
        if names is None:
            names = type(self)._field_names = tuple(f.name for f in dataclasses.fields(self))
        return tuple(getattr(self, name) for name in names)

    @classmethod
    def _checks(cls) -> list[tuple]:
        """(name, kind, low, high, choices) of each checked field, worked out once per class."""
        checks = cls.__dict__.get("_checks_cache")
        if checks is None:
            checks = [
                (f.name, f.metadata.get("kind"), f.metadata.get("low"), f.metadata.get("high"), f.metadata.get("choices"))
                for f in cls.hyperparameters()
                if f.metadata.get("kind") in ("int", "pair", "float", "choice")
            ]
            cls._checks_cache = checks
        return checks

    def field_problems(self) -> list[tuple[str, str]]:
        """(field, requirement) for every value outside its allowed range, e.g. ("stride", "must be ≥ 1")."""
        problems = []
        for name, kind, low, high, choices in self._checks():
            value = getattr(self, name)
            if kind == "choice":
                if value not in choices:
                    problems.append((name, f"must be one of {', '.join(choices)}"))
                continue
            values = pair(value) if kind == "pair" else (value,)
            if low is not None and (values[0] < low or values[-1] < low):
                whole = low == 1 and kind != "float"
                problems.append((name, "must be a positive whole number" if whole else f"must be ≥ {low:g}"))
            elif high is not None and (values[0] > high or values[-1] > high):
                problems.append((name, f"must be at most {high:,g}"))
        return problems

    def field_messages(self) -> list[str]:
        """``filters must be a positive whole number, got filters=0`` for each out-of-range value."""
        return [f"{name} {requirement}, got {name}={_show(getattr(self, name))}" for name, requirement in self.field_problems()]


@dataclass
class Trainable(Layer):
    """A layer type with parameters: ``trainable`` False freezes them (fine-tuning keeps them as they
    are while the other layers train; batch norm's running statistics still follow the data)."""

    FREEZABLE: ClassVar[bool] = True

    trainable: bool = field(default=True, kw_only=True, metadata=dict(
        kind="bool", doc="train this layer's parameters (off: frozen, as when fine-tuning)", label="Train this layer"))

    @property
    def frozen(self) -> bool:
        return not self.trainable


def _show(value) -> str:
    return f"({value[0]}, {value[1]})" if isinstance(value, (tuple, list)) else f"{value:,}" if isinstance(value, int) else str(value)


