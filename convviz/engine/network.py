"""A trainable network built from a specification: stacks of engine layers, composites, weights by name.

    net = Network(preset("convnetjs"), seed=0)          # float32; dtype=np.float64 for gradient checks
    scores = net.forward(x, train=True)                  # x (N, C, H, W) → (N, K)
    loss, dscores = softmax_cross_entropy(scores, y)
    dx = net.backward(dscores)                           # fills net.grads()

    net = Network(preset("resnet20"), threads=2)         # each batch split across 2 cores

Shapes come from ``analyze(spec)`` (the one source of truth): every layer is built from its report,
and the first forward pass checks that every layer's real output has the shape the report gives.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from convviz.engine import layers as L
from convviz.engine.blas import engine_threads
from convviz.engine.parallel import (
    Collective,
    Part,
    Runner,
    check_threads,
    split_bounds,
)
from convviz.engine.processes import HubCollective, ProcessRunner, choose_backend
from convviz.engine.stack import Branch, Residual, Stack, build_stack, walk_layers  # noqa: F401 (re-exported)
from convviz.model.analysis import analyze
from convviz.model.network import NetworkSpec


def init_scale(spec_stack: list, index: int) -> tuple[str, float]:
    """("he", gain²) or ("glorot", 1) for the weighted layer at ``index`` of a spec stack.

    The rule of the first activation that follows (``init_rule``), looking past the layers that do
    not change which activation it is (``INIT_TRANSPARENT``: batch norm, pooling, dropout, flatten);
    He with gain² = 2 when there is none. He: std = √(gain²/fan_in); Glorot: std = √(2/(fan_in + fan_out)).
    """
    for layer in spec_stack[index + 1:]:
        rule = layer.init_rule()
        if rule is not None:
            return rule
        if not layer.INIT_TRANSPARENT:
            break
    return "he", 2.0


@dataclass(frozen=True)
class RunState:
    """What a pass changes besides the weights: copies of the buffers (batch-norm running statistics)
    by stable name, and the dropout generator's state (plain data)."""

    buffers: dict[str, np.ndarray]
    rng: dict


# -- the network -----------------------------------------------------------------------------------------


class Network:
    """A network built from a :class:`~convviz.model.NetworkSpec`, ready to train. See ``convviz.engine``.

    ``threads``: how many cores share each pass. With T > 1 every batch of at least T images is split
    along N into T parts (see ``convviz.engine.parallel``): scores and dx are concatenated,
    ``grads()`` holds the summed gradients, batch norm uses the whole batch's statistics and dropout
    the mask a one-thread pass draws, so the result is the one-thread result up to rounding. Traced
    passes always run on one thread.

    ``backend``: where parts 1 … T − 1 run. "process" (the default where the platform can share
    memory with a child process): in helper processes, the parameters and buffers in shared memory
    (``convviz.engine.processes``; 1.9–2.1× one core, against 1.2–1.45× for threads, which queue
    for the GIL). "thread": on Python threads, with replicas of the layers sharing the arrays.
    """

    def __init__(self, spec: NetworkSpec, seed: int = 0, dtype=np.float32, threads: int = 1,
                 weights: dict | None = None, backend: str = "auto"):
        """``weights`` (every parameter and buffer by name, as :meth:`get_weights` gives them): start from
        these instead of drawing seeded random weights (the draw takes seconds on VGG-16); checked as
        :meth:`set_weights` checks them (ValueError)."""
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.threads = check_threads(threads)
        self.backend = choose_backend(backend)
        spec = copy.deepcopy(spec)
        report = analyze(spec)
        if not report.valid:
            problems = [f"{r.name}: {r.error.message}" for r in report.problems]
            raise ValueError("cannot build the network: " + ("; ".join(problems) or "the output volume is unknown"))
        self.spec, self.report, self.dtype, self.seed = spec, report, dtype, seed
        init_seq, dropout_seq = np.random.SeedSequence(seed).spawn(2)
        self.rng = np.random.default_rng(dropout_seq)
        helpers = self.threads > 1 and self.backend == "process"
        collective = None if self.threads == 1 else HubCollective(self.threads) if helpers else Collective(self.threads)
        self._parts = [Part(self, rank, collective) for rank in range(1 if helpers else self.threads)]
        self.stack = build_stack(report.layers, dtype, self._parts[0])
        self.layers = {layer.name: layer for layer in walk_layers(self.stack)}
        self._replicas = [self._replica(part) for part in self._parts[1:]]  # thread stacks for parts 1 … T − 1
        self._bounds = None  # (start, stop) of every part in the last plain pass (None: not split)
        # (this network's gradient array, the same gradient of every other part): summed after a split backward
        self._grad_shares = []
        self._runner = None
        if helpers:
            self._runner = collective.runner = ProcessRunner.sharing(self, spec, self._parts[0])
            self._grad_shares = self._runner.grad_shares(self.layers.values())
        elif self._replicas:
            self._runner = Runner(self._parts)
            replica_layers = [list(walk_layers(replica)) for replica in self._replicas]
            self._grad_shares = [
                (g, *(layers[i].grads[key] for layers in replica_layers))
                for i, main in enumerate(walk_layers(self.stack)) for key, g in main.grads.items()
            ]
        if weights is None:
            self._init_weights(np.random.default_rng(init_seq))
        self._params = {f"{l.name}.{k}": v for l in self.layers.values() for k, v in l.params.items()}
        self._grads = {f"{l.name}.{k}": v for l in self.layers.values() for k, v in l.grads.items()}
        self._buffers = {f"{l.name}.{k}": v for l in self.layers.values() for k, v in l.buffers.items()}
        self.output_volume = report.output
        self._forward_shape = None  # shape of the last forward's scores (None: no forward yet)
        self._forward_id = 0  # counts forward passes, so a trace knows whether the caches are its own
        if weights is not None:
            self.set_weights(weights)

    def helper_pids(self) -> list[int]:
        """Process ids of the helper processes running now (none on one thread, with the thread
        backend, or before the first split pass)."""
        return [] if self._runner is None else self._runner.pids()

    def _replica(self, part: Part) -> Stack:  # (thread backend)
        """The layers again for ``part``, sharing this network's parameter and buffer arrays."""
        stack = build_stack(self.report.layers, self.dtype, part)
        for main, layer in zip(walk_layers(self.stack), walk_layers(stack)):
            layer.params, layer.buffers = main.params, main.buffers
        return stack

    def _init_weights(self, rng: np.random.Generator) -> None:
        """Seeded He/Glorot normal weights, drawn in float32 so that a float32 and a float64 network
        with the same seed start from the same numbers; biases 0."""

        def visit(spec_stack, built_stack):
            for i, (spec, layer) in enumerate(zip(spec_stack, built_stack.layers)):
                if layer.COMPOSITE:
                    for (_, inner_spec), inner in zip(spec.stacks(), layer.stacks):
                        visit(inner_spec, inner)
                elif layer.INIT_WEIGHT:
                    kind, gain2 = init_scale(spec_stack, i)
                    fan_in, fan_out = layer.fan()
                    std = np.sqrt(gain2 / fan_in) if kind == "he" else np.sqrt(2.0 / (fan_in + fan_out))
                    w = layer.params["weight"]
                    draw = rng.standard_normal(w.shape, dtype=np.float32)
                    draw *= np.float32(std)
                    w[...] = draw

        visit(self.spec.layers, self.stack)

    # -- parameters ------------------------------------------------------------------------------------
    def params(self) -> dict[str, np.ndarray]:
        """Stable name → live parameter array, in layer order (weight, bias, then others)."""
        return dict(self._params)

    def trainable_params(self) -> dict[str, np.ndarray]:
        """The parameters training updates: ``params()`` (same names, same order) without those of the
        layers the specification freezes (``trainable`` False, for fine-tuning)."""
        frozen = {r.name for top in self.report.layers for r in top.walk() if r.layer.FREEZABLE and not r.layer.trainable}
        return {name: a for name, a in self._params.items() if name.rpartition(".")[0] not in frozen}

    def grads(self) -> dict[str, np.ndarray]:
        """Stable name → live gradient array (same names and order as ``params``), filled by backward."""
        return dict(self._grads)

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-learned state: batch-norm ``running_mean`` and ``running_var`` by stable name."""
        return dict(self._buffers)

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by stable name."""
        return {name: a.copy() for name, a in {**self._params, **self._buffers}.items()}

    def set_weights(self, weights: dict) -> None:
        """Copy ``weights`` (every parameter and buffer by name, as ``get_weights`` gives) into the network.

        Raises ValueError, changing nothing, for a missing or unknown name or a wrong shape.
        """
        live = {**self._params, **self._buffers}
        missing = [name for name in live if name not in weights]
        unknown = [name for name in weights if name not in live]
        problems = []
        if missing:
            problems.append("missing " + ", ".join(missing))
        if unknown:
            problems.append("unknown " + ", ".join(unknown) + f" (this network has {', '.join(live)})")
        for name, target in live.items():
            if name in weights:
                shape = np.shape(weights[name])
                if shape != target.shape:
                    problems.append(f"{name} has shape {shape}, expected {target.shape}")
        if problems:
            raise ValueError("cannot set weights: " + "; ".join(problems))
        for name, target in live.items():
            np.copyto(target, np.asarray(weights[name]), casting="unsafe")

    def get_rng_state(self) -> dict:
        """The dropout generator's state as plain data (JSON-able: nested dicts of str and int)."""
        return copy.deepcopy(self.rng.bit_generator.state)

    def set_rng_state(self, state: dict) -> None:
        """Restore a state from ``get_rng_state`` (numpy scalars and 0-d arrays are accepted too)."""
        def plain(value):
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value.item()
            return value.item() if isinstance(value, np.generic) else value

        state = plain(state)
        kind = type(self.rng.bit_generator).__name__
        if not isinstance(state, dict) or state.get("bit_generator") != kind:
            raise ValueError(f"not a {kind} generator state: {state!r:.200}")
        try:
            self.rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"not a valid {kind} generator state: {exc}") from None

    def run_state(self) -> RunState:
        """A copy of the state a training pass changes besides the weights (see :class:`RunState`)."""
        return RunState({name: a.copy() for name, a in self._buffers.items()}, self.get_rng_state())

    def restore_run_state(self, state: RunState) -> None:
        """Put back buffers and the dropout generator as ``run_state()`` gave them."""
        self.set_rng_state(state.rng)
        for name, a in self._buffers.items():
            a[...] = state.buffers[name]

    @contextmanager
    def run_state_kept(self):
        """``with net.run_state_kept(): …`` — the buffers and dropout generator are restored afterwards."""
        state = self.run_state()
        try:
            yield state
        finally:
            self.restore_run_state(state)

    @contextmanager
    def grads_kept(self):
        """``with net.grads_kept(): …`` — the gradients ``backward`` left are restored afterwards."""
        saved = {name: g.copy() for name, g in self._grads.items()}
        try:
            yield
        finally:
            for name, g in self._grads.items():
                g[...] = saved[name]

    def layer(self, name: str):
        """The engine layer called ``name`` (``conv1``, ``res1.body.conv2`` …)."""
        try:
            return self.layers[name]
        except KeyError:
            raise KeyError(f"no layer named {name!r}; layers: {', '.join(self.layers)}") from None

    # -- passes ----------------------------------------------------------------------------------------------
    def _prepare_input(self, x) -> np.ndarray:
        x = np.asarray(x)
        expected = self.spec.input.chw()
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(
                f"expected input of shape (N, {', '.join(map(str, expected))}) for a {self.spec.input} "
                f"input volume, got {x.shape}"
            )
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    def _finish_output(self, y: np.ndarray) -> np.ndarray:
        return L.as_flat(y) if self.output_volume.is_flat else L.as_4d(y)

    @engine_threads
    def forward(self, x, train: bool = True) -> np.ndarray:
        """x: (N, C, H, W) → scores (N, K) for a 1×1×K output (else score maps (N, K, H', W')).

        ``train``: dropout on and batch norm on batch statistics (updating its running ones); False
        for evaluation. A final Softmax layer is not applied: the scores are logits (see
        ``softmax_cross_entropy`` and ``predict_proba``). Do not modify the scores before backward.
        BLAS runs with ``convviz.engine.blas.ENGINE_THREADS`` threads during the pass (the caller's
        count is restored after), for the FC layers as for the kernels. With ``threads`` > 1 a batch
        of at least that many images is split across the threads.
        """
        x = self._prepare_input(x)
        n = x.shape[0]
        split = self._runner is not None and n >= self.threads and self._runner.ready()
        self._bounds = split_bounds(n, self.threads) if split else None
        if self._bounds is None:
            raw = self.stack.forward(x, train)
        else:
            stacks = [self.stack, *self._replicas]
            raw = np.concatenate(self._runner.run(self._bounds, n, lambda rank, a, b: stacks[rank].forward(x[a:b], train),
                                                  "forward", x, {"train": train}))
        y = self._finish_output(raw)
        self._forward_shape, self._raw_shape = y.shape, raw.shape
        self._forward_id += 1
        return y

    @engine_threads
    def backward(self, dscores, input_grad: bool = True) -> np.ndarray | None:
        """dscores: dL/dscores, shaped like the last forward's scores → dx (N, C, H, W).

        Fills ``grads()`` (on a split batch: the sum of every part's gradients). ``input_grad=False``
        skips the input gradient where the first layer can (a Conv or FC: the trainer never needs it)
        and returns None.
        """
        dscores = self._prepare_grad(dscores).reshape(self._raw_shape)
        if self._bounds is None:
            return self.stack.backward(dscores, input_grad=input_grad)
        stacks = [self.stack, *self._replicas]
        dxs = self._runner.run(self._bounds, dscores.shape[0],
                               lambda rank, a, b: stacks[rank].backward(dscores[a:b], input_grad=input_grad),
                               "backward", dscores, {"input_grad": input_grad})
        for total, *shares in self._grad_shares:
            for share in shares:
                total += share
        return np.concatenate(dxs) if input_grad else None

    def _prepare_grad(self, dscores) -> np.ndarray:
        if self._forward_shape is None:
            raise RuntimeError("backward needs a forward pass first: call net.forward(x) before net.backward(dscores)")
        dscores = np.asarray(dscores)
        if dscores.shape != self._forward_shape:
            raise ValueError(f"dscores must have the shape of the last scores {self._forward_shape}, got {dscores.shape}")
        return dscores if dscores.dtype == self.dtype else dscores.astype(self.dtype)

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities: the softmax over axis 1 of ``forward(x, train=False)``."""
        from convviz.engine.loss import softmax

        return softmax(self.forward(x, train=False))

    # -- traced passes (see convviz.engine.trace) ---------------------------------------------------------
    @property
    def forward_count(self) -> int:
        """How many forward passes (plain or traced) this network ran: a trace compares it with its own."""
        return self._forward_id

    def forward_recorded(self, x, train: bool, recorder) -> np.ndarray:
        """A forward pass that runs every layer on its own (no fused or in-place steps) and tells
        ``recorder`` each layer's input and output (``forward_in(layer, x)``, ``forward_out(layer, y)``).

        Returns the scores as ``forward`` does; ``backward_recorded`` can follow.
        """
        self._bounds = None  # traced passes run on this thread, on the whole batch
        raw = self.stack.forward(self._prepare_input(x), train, recorder)
        y = self._finish_output(raw)
        self._forward_shape, self._raw_shape = y.shape, raw.shape
        self._forward_id += 1
        return y

    def backward_recorded(self, dscores, recorder) -> np.ndarray:
        """The backward pass of the last ``forward_recorded``, telling ``recorder`` each layer's
        upstream and downstream gradient (``backward_in``, ``backward_out``); returns dx (a copy of
        ``dscores`` is used, so the caller's array is never overwritten)."""
        dscores = self._prepare_grad(dscores)
        if self._bounds is not None:
            raise RuntimeError("a traced backward pass needs a traced forward pass first")
        return self.stack.backward(dscores.reshape(self._raw_shape).copy(), recorder)

    def trace_forward(self, x, train: bool = False):
        """A forward pass that keeps every layer's input and output: see ``convviz.engine.trace``."""
        from convviz.engine.trace import trace_forward

        return trace_forward(self, x, train)

    def trace_backward(self, trace, dscores):
        """Add every layer's upstream and downstream gradients and parameter gradients to ``trace``."""
        from convviz.engine.trace import trace_backward

        return trace_backward(self, trace, dscores)

    def __repr__(self) -> str:
        name = self.spec.name or "network"
        threads = f", {self.threads} threads" if self.threads > 1 else ""
        return f"<Network {name!r}: {len(self._params)} parameter arrays, {self.dtype.name}{threads}>"
