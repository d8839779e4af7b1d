"""One image's training step as a timeline of stops, and what each stop explains (no Qt here).

    run = StepRun(spec, weights, x, label)        # a float64 copy of the network, traced on x (1, C, H, W)
    run.stops                                     # input, conv1 →, relu1 →, …, loss, … ← relu1, ← conv1, update
    run.position_shape(stop)                      # the cells one can step through at a stop, e.g. (K, Ho, Wo)
    run.explain(stop, (d, y, x))                  # the engine explanation of that cell (or None)

The network runs in float64 with the session's weights, in evaluation mode (no dropout, batch norm
on its running statistics), so every explained number equals the engine's exactly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from convviz.engine import explain_blocks as E
from convviz.engine import (
    explain_conv_input_grad,
    explain_conv_output,
    explain_conv_weight_grad,
)
from convviz.engine import explain_fc as F
from convviz.engine import explain_field as R
from convviz.engine import explain_layers as X
from convviz.engine import explain_norm as N
from convviz.engine import explain_pool as P
from convviz.engine import explain_step as S
from convviz.engine import layers as L
from convviz.engine import windowed as W
from convviz.engine.explain_update import (
    OptimizerState,
    UpdateExplanation,
    explain_update,
    resume_optimizer,
    step_copy,
)
from convviz.engine.layer_base import as_4d
from convviz.training.config import TrainConfig
from convviz.training.optimization import make_optimizer

KINDS = ("input", "forward", "loss", "backward", "update")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid")  # element-wise: f(x) explained cell by cell


@dataclass(frozen=True)
class Stop:
    """A place on the timeline: ``kind`` is one of KINDS; ``layer`` and ``type`` name the layer of a
    forward or backward stop (empty otherwise); ``part`` is ``weights`` for the backward stop of a
    Conv layer's weight gradient (before the stop of the gradient it sends down)."""

    kind: str
    layer: str = ""
    type: str = ""
    part: str = ""

    @property
    def title(self) -> str:
        if self.kind == "forward":
            return f"{self.layer} →"
        if self.kind == "backward":
            return f"← {self.layer} dW" if self.part == "weights" else f"← {self.layer}"
        return {"input": "input", "loss": "softmax + loss", "update": "update"}[self.kind]


def timeline(trace) -> list[Stop]:
    """input → every layer forward (in the trace's order) → loss → every layer backward (a Conv
    layer's weight gradient, then its input gradient) → update."""
    layers = [Stop("forward", name, record.type) for name, record in trace.layers.items()]
    back = []
    for s in reversed(layers):
        if s.type == "conv":  # the weight gradient first: the layer keeps it, then sends dX down
            back.append(Stop("backward", s.layer, s.type, "weights"))
        back.append(Stop("backward", s.layer, s.type))
    return [Stop("input"), *layers, Stop("loss"), *back, Stop("update")]


@dataclass(frozen=True)
class MaxPoolBackward:
    """A max pool's backward stop for one upstream cell: the forward window and winner, and the
    routing of the whole layer (checked against the engine's dX)."""

    window: P.PoolOutputExplanation
    upstream: float
    routing: P.MaxPoolRouting


@dataclass(frozen=True)
class AvgPoolBackward:
    """An average pool's backward stop for one upstream cell: its window, the equal share dY/(F·F)
    each cell of it gets, and the sharing of the whole layer (checked against the engine's dX)."""

    window: P.PoolOutputExplanation
    upstream: float
    share: float
    sharing: P.AvgPoolSharing


@dataclass(frozen=True)
class ConvBackward:
    """A Conv layer's backward stop for one input cell: the stamps w·dY that reach it (scatter), the
    same number as a full convolution with the rotated filters (gather), and the check of both
    against the engine's dX for the whole image."""

    scatter: X.ConvScatterCellExplanation
    gather: object  # ConvInputGradExplanation
    whole: X.ConvScatter | None  # None: still being made


class StepRun:
    """A float64 copy of the network traced on one image: forward, softmax cross-entropy, backward."""

    def __init__(self, spec, weights: dict, x: np.ndarray, label: int, class_names=(), config: TrainConfig | None = None,
                 optimizer_state: OptimizerState | None = None):
        self.spec = spec
        self.net = S.float64_network(spec, weights)
        self.x = np.asarray(x, dtype=np.float64)
        self.label = int(label)
        self.class_names = tuple(class_names)
        self.config = config or TrainConfig()  # the optimizer and lr of the update stop
        self.optimizer_state = optimizer_state  # the run's velocity or moments (None: a first step from 0)
        self.state_error = ""  # why ``optimizer_state`` did not fit the optimizer (then it starts from 0)
        self._optimizer = None
        self.lock = threading.Lock()  # held by whoever runs the network's own forward pass (a check, a crop)
        self.trace, self.loss, self.dscores = S.trace_step(self.net, self.x, [self.label], own=True)
        self.stops = timeline(self.trace)
        self._routing: dict[str, P.MaxPoolRouting] = {}
        self._scatter: dict[str, X.ConvScatter] = {}
        self._sharing: dict[str, P.AvgPoolSharing] = {}
        self._fields: dict = {}
        self._masks: dict = {}  # a dropout layer's mask of one training draw

    def field(self, layer: str, position: tuple[int, ...]):
        """The receptive field of ``position`` of layer ``layer`` (top-level or inside a block) on every
        earlier volume of its path (the analytic box, and the gradient of one backward pass from that cell)."""
        found = self.known_field(layer, position)
        if found is None:
            found = self.keep_field(layer, position, R.receptive_field(self.net, self.trace, layer, position))
        return found

    def known_field(self, layer: str, position: tuple[int, ...]):
        """The field of ``field(layer, position)`` if made already (the newest one is kept), else None."""
        return self._fields.get((layer, tuple(position)))

    def keep_field(self, layer: str, position: tuple[int, ...], field):
        """Keep ``field`` (made on a thread with ``R.receptive_field``) as the newest; returns it."""
        self._fields = {(layer, tuple(position)): field}
        return field

    def has_field(self, stop: Stop) -> bool:
        """Whether the receptive-field view follows a stop's cells back: every forward stop's."""
        return stop.kind == "forward"

    def layer(self, stop: Stop):
        return self.net.layer(stop.layer)

    def volumes(self, stop: Stop) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The two arrays a stop shows, one image each: (input, output) forward, (dL/d output,
        dL/d input) backward; the input image at the input stop."""
        if stop.kind == "input":
            return self.trace.input[0], None
        if stop.kind == "forward":
            record = self.trace[stop.layer]
            return record.input[0], self.layer(stop).shown_output(record.output)[0]
        if stop.kind == "backward":
            record = self.trace[stop.layer]
            if stop.part == "weights":  # dW[k, c, i, j] = Σ over positions of dY[k] · X[c] (shifted)
                return record.upstream[0], record.input[0]
            return record.upstream[0], record.downstream[0]
        return None, None

    def position_shape(self, stop: Stop) -> tuple[int, ...]:
        """The grid of cells Shift+→ steps through at ``stop`` (() where there is none)."""
        if stop.kind == "input":
            return self.trace.input.shape[1:]
        if stop.kind == "loss":
            return (self.trace.scores.shape[1],)
        if stop.kind == "update":
            return (len(self.update_names()),)
        record = self.trace[stop.layer]
        if stop.kind == "forward":
            return record.output.shape[1:]
        if stop.part == "weights":
            return record.params["weight"].shape  # every weight w[k, c, i, j]
        layer = self.layer(stop)
        if isinstance(layer, W.Pool):
            return record.upstream.shape[1:]  # each upstream gradient, routed or shared
        return record.downstream.shape[1:]  # each cell of the gradient sent down

    def explain(self, stop: Stop, position: tuple[int, ...], later: bool = False):
        """The explanation of ``position`` at ``stop``: a Conv, FC or pooling explanation forward, the
        softmax and loss, a max-pool routing, a Conv weight or input gradient backward, a parameter update;
        None where the view only shows the volumes. ``later``: a Conv backward stop's check of the whole
        image (``ConvBackward.whole``, two convolutions' work) is None until ``keep_scatter`` has it."""
        if stop.kind == "loss":
            return X.explain_softmax_loss(self.trace.scores[0], self.label, 1, self.dscores[0])
        if stop.kind == "update":
            return self.update(self.update_names()[position[0]])
        if stop.kind not in ("forward", "backward"):
            return None
        layer = self.layer(stop)
        cell = tuple(int(i) for i in position)
        if len(cell) == 1:
            cell = (cell[0], 0, 0)  # a flat volume is (D, 1, 1) to the windowed layers
        if stop.kind == "forward":
            if isinstance(layer, L.FC):
                return X.explain_fc_output(self.net, self.trace, stop.layer, 0, cell[0])
            if isinstance(layer, L.BatchNorm):
                return X.explain_batchnorm_output(self.net, self.trace, stop.layer, 0, *position)
            if type(layer) is W.Conv:
                return explain_conv_output(self.net, self.trace, stop.layer, 0, *cell)
            if isinstance(layer, W.Pool):
                return P.explain_pool_output(self.net, self.trace, stop.layer, 0, *cell)
            if isinstance(layer, L.LRN):
                return N.explain_lrn_output(self.net, self.trace, stop.layer, 0, position)
            if isinstance(layer, L.Dropout):
                if stop.layer not in self._masks:
                    self._masks[stop.layer] = N.dropout_mask(self.net, self.trace, stop.layer)
                return N.explain_dropout(self.net, self.trace, stop.layer, 0, position, self._masks[stop.layer])
            if stop.type in ACTIVATIONS:
                return E.explain_activation_output(self.net, self.trace, stop.layer, 0, position)
            if layer.COMPOSITE:
                return E.explain_block_output(self.net, self.trace, stop.layer, 0, position)
            return None
        if stop.part == "weights":
            return explain_conv_weight_grad(self.net, self.trace, stop.layer, *cell)
        if isinstance(layer, W.MaxPool):
            window = P.explain_pool_output(self.net, self.trace, stop.layer, 0, *cell)
            upstream = float(as_4d(self.trace[stop.layer].upstream)[(0, *cell)])
            return MaxPoolBackward(window, upstream, self.routing(stop.layer))
        if isinstance(layer, W.Pool):  # an average pool
            window = P.explain_pool_output(self.net, self.trace, stop.layer, 0, *cell)
            upstream = float(as_4d(self.trace[stop.layer].upstream)[(0, *cell)])
            if stop.layer not in self._sharing:
                self._sharing[stop.layer] = P.avg_pool_sharing(self.net, self.trace, stop.layer, 0)
            return AvgPoolBackward(window, upstream, upstream / window.window.size, self._sharing[stop.layer])
        if type(layer) is W.Conv:
            scatter = X.explain_conv_input_grad_scatter(self.net, self.trace, stop.layer, 0, *cell)
            gather = explain_conv_input_grad(self.net, self.trace, stop.layer, 0, *cell)
            return ConvBackward(scatter, gather, self._scatter.get(stop.layer) if later else self.scatter(stop.layer))
        if isinstance(layer, L.FC):
            return F.explain_fc_input_grad(self.net, self.trace, stop.layer, 0, position)
        if layer.COMPOSITE:
            return E.explain_block_input_grad(self.net, self.trace, stop.layer, 0, position)
        return None

    def routing(self, name: str) -> P.MaxPoolRouting:
        if name not in self._routing:
            self._routing[name] = P.max_pool_routing(self.net, self.trace, name, 0)
        return self._routing[name]

    def scatter(self, name: str) -> X.ConvScatter:
        """dX of Conv layer ``name`` for the whole image by scatter and by gather, against the engine's."""
        if name not in self._scatter:
            self.keep_scatter(name, X.conv_input_grad_scatter(self.net, self.trace, name, 0))
        return self._scatter[name]

    def keep_scatter(self, name: str, whole: X.ConvScatter) -> None:
        """Keep the whole-image check of ``name`` (made on a thread with ``conv_input_grad_scatter``)."""
        self._scatter[name] = whole

    # -- the update ---------------------------------------------------------------------------------------
    def update_names(self) -> list[str]:
        """``layer.param`` of every parameter array with a gradient in the trace that training updates
        (a frozen layer's, for fine-tuning, stays as it is, as in the run)."""
        trained = self.net.trainable_params()
        return [f"{name}.{key}" for name, record in self.trace.layers.items() for key in record.param_grads
                if f"{name}.{key}" in trained]

    def set_config(self, config: TrainConfig) -> None:
        """Another optimizer or learning rate for the update stop."""
        if config != self.config:
            self.config, self._optimizer = config, None

    def optimizer(self):
        """(the engine optimizer ``config`` asks for, over copies of the parameters, with the run's
        ``optimizer_state`` loaded, else fresh: its velocity or moments at 0; the gradients; the
        parameters after its step)."""
        if self._optimizer is None:
            params = {name: self.trace[name.rsplit(".", 1)[0]].params[name.rsplit(".", 1)[1]].copy()
                      for name in self.update_names()}
            grads = {name: self.trace[name.rsplit(".", 1)[0]].param_grads[name.rsplit(".", 1)[1]]
                     for name in self.update_names()}
            opt = make_optimizer(self.config, params)
            self.state_error = ""
            if self.optimizer_state is not None:
                try:
                    resume_optimizer(opt, self.optimizer_state)
                except ValueError as exc:  # another optimizer than the run's: it starts from 0
                    self.state_error = str(exc)
            self._optimizer = (opt, grads, step_copy(opt, grads))
        return self._optimizer

    def update(self, full_name: str) -> UpdateExplanation:
        """The update of the first element of parameter ``full_name`` by the configured optimizer."""
        opt, grads, stepped = self.optimizer()
        return explain_update(opt, grads, full_name, (0,) * opt.params[full_name].ndim, stepped)

    def update_volumes(self, full_name: str) -> tuple[np.ndarray, np.ndarray]:
        """W and the W the optimizer's step leaves, as volumes: conv filters (K·C, Fh, Fw), a matrix as one
        slice, a vector flat."""
        opt, _, stepped = self.optimizer()
        w, new = opt.params[full_name], stepped[full_name]
        if w.ndim >= 3:
            shape = (-1,) + w.shape[-2:]
        elif w.ndim == 2:
            shape = (1,) + w.shape
        else:
            shape = (-1,)
        return w.reshape(shape), new.reshape(shape)

    def class_name(self, k: int) -> str:
        return self.class_names[k] if k < len(self.class_names) else f"class {k}"
