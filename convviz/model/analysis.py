"""Shape inference and cost accounting through a whole stack, composites included.

``analyze(spec)`` gives one :class:`LayerReport` per layer (inner layers of blocks as children):
its full name, input and output volumes, or the reason it cannot be built; parameters, multiply-adds
and numbers kept per image. :class:`NetworkReport` adds the totals and the memory for a batch size
(float32): input batch, forward activations, what the backward pass keeps besides them, parameters,
gradients, optimizer state, and the largest batch that fits a memory budget.

A layer after an invalid one is *unresolved*: its input is unknown, so it has no shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from convviz.model.geometry import Window2d
from convviz.model.layers import Branch, Layer, Residual, ShapeError, Softmax, WindowLayer
from convviz.model.network import NetworkSpec
from convviz.model.volume import Volume

BYTES_PER_NUMBER = 4  # float32

#: Optimizer state per parameter, in numbers (the notes' "make it fit" arithmetic).
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2}


@dataclass
class LayerReport:
    """One layer's shapes and costs. Costs of a block include its inner layers."""

    layer: Layer
    name: str
    path: tuple  # (i,) at the top; (i, stack_index, j, …) inside blocks
    depth: int
    input: Volume | None
    output: Volume | None = None
    error: ShapeError | None = None
    params: int = 0
    macs: int = 0  # multiply-adds per image
    activations: int = 0  # numbers per image this layer's outputs hold (the forward pass)
    saved: int = 0  # numbers per image the backward pass keeps besides the outputs
    buffers: int = 0  # non-learned state (batch-norm running statistics)
    geometry: Window2d | None = None  # what the engine's kernels run, for a valid windowed layer
    children: list[tuple[str, list["LayerReport"]]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``ok``, ``invalid`` (this layer or one inside it has a problem) or ``unresolved`` (upstream one)."""
        if self.error is not None:
            return "invalid"
        if self.input is None:
            return "unresolved"
        if self.output is None:
            return "invalid"  # a block with a problem inside
        return "ok"

    def walk(self) -> Iterator["LayerReport"]:
        """This report and every inner one, depth first."""
        yield self
        for _, stack in self.children:
            for child in stack:
                yield from child.walk()

    def param_formula(self) -> str:
        """``16×5×5×3 + 16 = 1,216`` for this layer's input."""
        if self.input is None or self.output is None or self.layer.COMPOSITE:
            return ""
        return self.layer.param_formula(self.input)

    def size_formula(self) -> str:
        """``(32 − 5 + 2·2)/1 + 1 = 32`` for a windowed layer, else the layer's shape rule."""
        if self.input is None:
            return ""
        formula = self.layer.size_formula(self.input)
        if formula:
            return formula
        if self.output is not None:
            return f"{self.input} → {self.output}"
        return ""


@dataclass
class Memory:
    """Bytes for one batch in float32. ``training`` is what a training step holds at once."""

    batch: int
    optimizer: str
    input: int
    activations: int
    saved: int
    params: int
    gradients: int
    optimizer_state: int
    buffers: int

    @property
    def training(self) -> int:
        return (
            self.input + self.activations + self.saved + self.params + self.gradients + self.optimizer_state + self.buffers
        )

    @property
    def inference(self) -> int:
        return self.input + self.activations + self.params + self.buffers

    def categories(self) -> list[tuple[str, int]]:
        """(label, bytes) in the order the summary shows them."""
        return [
            ("input batch", self.input),
            ("activations (forward)", self.activations),
            ("kept for backward", self.saved),
            ("parameters", self.params),
            ("gradients", self.gradients),
            (f"optimizer state ({self.optimizer})", self.optimizer_state),
            ("buffers", self.buffers),
        ]


@dataclass
class NetworkReport:
    spec: NetworkSpec
    layers: list[LayerReport]

    def walk(self) -> Iterator[LayerReport]:
        for report in self.layers:
            yield from report.walk()

    @property
    def output(self) -> Volume | None:
        if not self.layers:
            return self.spec.input
        return self.layers[-1].output

    @property
    def problems(self) -> list[LayerReport]:
        """Every layer with a problem of its own, in order."""
        return [r for r in self.walk() if r.error is not None]

    @property
    def valid(self) -> bool:
        return self.output is not None and not self.problems

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def activations(self) -> int:
        return sum(r.activations for r in self.layers)

    @property
    def saved(self) -> int:
        return sum(r.saved for r in self.layers)

    @property
    def buffers(self) -> int:
        return sum(r.buffers for r in self.layers)

    def memory(self, batch: int = 1, optimizer: str = "sgd") -> Memory:
        """Memory of a training step with ``batch`` images and ``optimizer`` (sgd, momentum, nesterov, adam)."""
        if optimizer not in OPTIMIZER_STATE:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZER_STATE)}, got {optimizer!r}")
        b = BYTES_PER_NUMBER
        params = self.total_params * b
        return Memory(
            batch=batch,
            optimizer=optimizer,
            input=batch * self.spec.input.elements * b,
            activations=batch * self.activations * b,
            saved=batch * self.saved * b,
            params=params,
            gradients=params,
            optimizer_state=OPTIMIZER_STATE[optimizer] * params,
            buffers=self.buffers * b,
        )

    def max_batch(self, budget_bytes: int, optimizer: str = "sgd") -> int:
        """The largest batch whose training step fits in ``budget_bytes`` (0 if not even one image fits)."""
        fixed = self.memory(0, optimizer).training
        per_image = self.memory(1, optimizer).training - fixed
        if budget_bytes < fixed + per_image:
            return 0
        return (budget_bytes - fixed) // per_image


def analyze(spec: NetworkSpec) -> NetworkReport:
    """Shapes and costs of every layer of ``spec`` (never raises for a bad network: see ``problems``)."""
    reports = _analyze_stack(spec.layers, spec.input, prefix="", path=(), depth=0, top=True)
    return NetworkReport(spec, reports)


def layer_names(layers: list[Layer], prefix: str = "") -> list[str]:
    """Full names of a stack's layers: the given name, or the type's prefix numbered within the stack."""
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        counts[layer.SHORT] = counts.get(layer.SHORT, 0) + 1
        names.append(prefix + (layer.name or f"{layer.SHORT}{counts[layer.SHORT]}"))
    return names


def _analyze_stack(layers, v, prefix, path, depth, top=False) -> list[LayerReport]:
    reports = []
    seen: dict[str, int] = {}
    for i, (layer, name) in enumerate(zip(layers, layer_names(layers, prefix))):
        report = _analyze_layer(layer, name, path + (i,), depth, v)
        if name in seen:
            report.error = ShapeError(f"the name {name!r} is already used by layer {seen[name] + 1} of this stack")
            report.output = None
        seen.setdefault(name, i)
        if isinstance(layer, Softmax) and not (top and i == len(layers) - 1) and report.error is None:
            report.error = ShapeError("Softmax must be the last layer: it turns the final scores into probabilities")
            report.output = None
        reports.append(report)
        v = report.output
    return reports


def _analyze_layer(layer: Layer, name: str, path: tuple, depth: int, v: Volume | None) -> LayerReport:
    report = LayerReport(layer=layer, name=name, path=path, depth=depth, input=v)
    if layer.COMPOSITE:
        _analyze_block(report, v)
        return report
    try:
        key = (type(layer), layer.values(), v)
        figures = _FIGURES.get(key)
    except TypeError:  # a field holds something unhashable (a list made in code): work it out every time
        key, figures = None, None
    if figures is None:
        figures = _layer_figures(layer, v)
        if key is not None:
            if len(_FIGURES) > 20_000:
                _FIGURES.clear()
            _FIGURES[key] = figures
    (report.output, report.error, report.params, report.macs, report.activations, report.saved,
     report.buffers, report.geometry) = figures
    return report


#: (layer type, field values, input volume) → _layer_figures(...): most of a stack is unchanged by an edit.
_FIGURES: dict = {}


def _layer_figures(layer: Layer, v: Volume | None) -> tuple:
    """(output, error, params, macs, activations, saved, buffers, geometry) of a plain layer for input ``v``."""
    problems = layer.field_messages()
    if problems:
        return None, ShapeError("; ".join(problems)), 0, 0, 0, 0, 0, None
    if v is None:
        return None, None, 0, 0, 0, 0, 0, None
    try:
        out = layer.output_shape(v)
    except ShapeError as exc:
        return None, exc, 0, 0, 0, 0, 0, None
    if out.elements <= 0:
        return None, ShapeError(f"the output volume {out} is empty"), 0, 0, 0, 0, 0, None
    geometry = layer.geometry(v) if isinstance(layer, WindowLayer) else None
    return (out, None, layer.params(v), layer.macs(v, out), out.elements, layer.saved(v, out), layer.buffers(v),
            geometry)


def _analyze_block(report: LayerReport, v: Volume | None) -> None:
    """Analyze a Residual or Branch: its inner stacks, then how their outputs merge."""
    layer = report.layer
    outputs = []
    for k, (label, stack) in enumerate(layer.stacks()):
        children = _analyze_stack(stack, v, f"{report.name}.{label}.", report.path + (k,), report.depth + 1)
        report.children.append((label, children))
        outputs.append(children[-1].output if children else v)
    for _, children in report.children:
        for child in children:
            report.params += child.params
            report.macs += child.macs
            report.activations += child.activations
            report.saved += child.saved
            report.buffers += child.buffers
    if v is None or any(o is None for o in outputs):
        return
    if isinstance(layer, Residual):
        body, shortcut = outputs
        if body != shortcut:
            report.error = _residual_mismatch(layer, v, body, shortcut)
            return
        report.output = body
    elif isinstance(layer, Branch):
        if not outputs:
            report.error = ShapeError("a branch block needs at least one branch")
            return
        sizes = {(o.width, o.height) for o in outputs}
        if len(sizes) > 1:
            listing = ", ".join(f"{label}: {o}" for (label, _), o in zip(layer.stacks(), outputs))
            report.error = ShapeError(
                f"branches must keep the same width and height to be concatenated in depth, got {listing}"
            )
            return
        first = outputs[0]
        report.output = Volume(first.width, first.height, sum(o.depth for o in outputs))
    report.activations += report.output.elements


def _residual_mismatch(layer: Residual, v: Volume, body: Volume, shortcut: Volume) -> ShapeError:
    """The body and shortcut outputs differ: say so and offer a 1×1 projection shortcut."""
    from convviz.model.geometry import Fix
    from convviz.model.layers import BatchNorm, Conv

    what = "the identity shortcut gives" if not layer.shortcut else "the shortcut gives"
    message = f"the body gives {body} but {what} {shortcut}: both must match to be added"
    fixes = []
    if v.width % body.width == 0 and v.width // body.width == v.height // body.height:
        stride = v.width // body.width
        projection = [Conv(filters=body.depth, size=1, stride=stride, bias=False), BatchNorm()]
        if stride > 1 and (v.width - 1) % stride:
            projection[0].policy = "crop"
        label = f"use a projection shortcut (1×1 conv, {body.depth} filters, S{stride})"
        fixes.append(Fix(label, {"shortcut": projection}))
        message += f": {label}"
    return ShapeError(message, fixes)
