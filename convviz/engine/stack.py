"""Stacks of engine layers and the blocks that hold stacks (residual, branch), built from reports.

A :class:`Stack` runs its layers in order with one of two plans: the fast plan (training: ReLU
fused with a 2×2 max pool or into the batch norm before it, in-place work where nobody else reads an array) or the traced plan
(every layer on its own, each reported to a recorder). ``build_stack`` builds every layer of a
list of reports with the engine class registered for its type.
"""

from __future__ import annotations

import numpy as np

from convviz.engine import layers as L
from convviz.engine import windowed as W
from convviz.engine.registry import engine_class, implements
from convviz.model import layers as spec_layers
from convviz.model.analysis import LayerReport



class Stack:
    """An ordered list of layers run one after the other (the network itself, or a block's inner stack).

    Two plans run it: the *fast* plan (training) fuses a ReLU with the 2×2 max pool next to it and lets
    a layer overwrite an array nobody else reads (see ``convviz.engine.layers``); the *traced* plan
    runs every layer on its own, without in-place work, and reports each one to a recorder.
    """

    def __init__(self, layers: list):
        self.layers = layers
        self.fast = self._fuse(layers)
        self.fast_owned = _ownership(self.fast)
        self.plain_owned = [(False, False)] * len(layers)
        self.checked = {"fast": False, "traced": False}
        self.last_traced = False

    @staticmethod
    def _fuse(layers: list) -> list:
        steps, i = [], 0
        while i < len(layers):
            if i + 1 < len(layers) and (
                W.fusable_relu_pool(layers[i], layers[i + 1]) or W.fusable_relu_pool(layers[i + 1], layers[i])
            ):
                steps.append(W.ReLUMaxPool(layers[i], layers[i + 1]))
                i += 2
            elif (i + 1 < len(layers) and L.BatchNormReLU.fusable(layers[i], layers[i + 1])
                  and not (i + 2 < len(layers) and W.fusable_relu_pool(layers[i + 1], layers[i + 2]))):
                # (a ReLU before a 2×2 max pool stays with the pool: it then runs on a quarter of the values)
                steps.append(L.BatchNormReLU(layers[i], layers[i + 1]))
                i += 2
            else:
                steps.append(layers[i])
                i += 1
        return steps

    def forward(self, x, train: bool, recorder=None):
        traced = recorder is not None
        self.last_traced = traced  # backward must use the plan whose caches this pass filled
        steps, owned = (self.layers, self.plain_owned) if traced else (self.fast, self.fast_owned)
        check = not self.checked["traced" if traced else "fast"]
        for step, (x_owned, _) in zip(steps, owned):
            if traced:
                recorder.forward_in(step, x)
            if step.COMPOSITE:
                y = step.forward(x, train, recorder=recorder)
            else:
                y = step.forward(x, train, inplace=x_owned)
            if traced:
                recorder.forward_out(step, y)
            if check:
                _check_shape(step, y)
            x = y
        self.checked["traced" if traced else "fast"] = True
        return x

    def backward(self, dout, recorder=None, input_grad: bool = True):
        """dout: the gradient of this stack's output → the gradient of its input (None when
        ``input_grad`` is False and the first layer can skip it)."""
        traced = self.last_traced
        if recorder is not None and not traced:
            raise RuntimeError("a traced backward pass needs a traced forward pass first")
        steps, owned = (self.layers, self.plain_owned) if traced else (self.fast, self.fast_owned)
        for index in range(len(steps) - 1, -1, -1):
            step, (_, dout_owned) = steps[index], owned[index]
            if recorder is not None:
                recorder.backward_in(step, dout)
            if step.COMPOSITE:
                dx = step.backward(dout, recorder=recorder)
            elif index == 0 and not input_grad and step.SKIPS_INPUT_GRAD:
                dx = step.backward(dout, inplace=dout_owned, input_grad=False)
            else:
                dx = step.backward(dout, inplace=dout_owned)
            if recorder is not None:
                recorder.backward_out(step, dx)
            dout = dx
        return None if not input_grad else dout


def _ownership(steps: list) -> list[tuple[bool, bool]]:
    """(x owned, dout owned) per step: may the step overwrite its input / its upstream gradient?

    A stack's input belongs to the caller (the user's batch, or a block input shared by several
    stacks), and so does the gradient given to its last layer.
    """
    n = len(steps)
    x_owned = [False] * n
    for i in range(1, n):
        prev = steps[i - 1]
        if prev.COMPOSITE:
            x_owned[i] = True  # a block's output is a new array it does not keep
        elif prev.KEEPS_OUTPUT:
            x_owned[i] = False
        elif prev.OUTPUT_ALIASES_INPUT:
            x_owned[i] = x_owned[i - 1]
        else:
            x_owned[i] = True
    dout_owned = [False] * n
    for i in range(n - 2, -1, -1):
        nxt = steps[i + 1]
        dout_owned[i] = dout_owned[i + 1] if (not nxt.COMPOSITE and nxt.DX_ALIASES_DOUT) else True
    return list(zip(x_owned, dout_owned))


def _check_shape(step, y: np.ndarray) -> None:
    expected = L.array_shape(step.output)
    real = y.shape[1:]
    if real != expected and not (step.output.is_flat and real == (step.output.depth, 1, 1)):
        raise RuntimeError(
            f"{step.name}: the engine produced per-image shape {real} but the specification says "
            f"{step.output} = {expected}"
        )


@implements(spec_layers.Residual)
class Residual(L.Layer):
    """y = F(x) + shortcut(x): the body stack plus the shortcut stack (empty: the identity).

    dx = dF(dout) + dshortcut(dout): the gradient flows unchanged into both stacks and their input
    gradients add.
    """

    COMPOSITE = True

    def __init__(self, report, body: Stack, shortcut: Stack):
        super().__init__(report, np.float64)
        self.body, self.shortcut = body, shortcut
        self.stacks = [body, shortcut]

    @classmethod
    def build(cls, report, dtype, part):
        (_, body), (_, shortcut) = report.children
        return cls(report, build_stack(body, dtype, part), build_stack(shortcut, dtype, part))

    def forward(self, x, train, recorder=None):
        self.shape = x.shape
        a = self.body.forward(x, train, recorder)
        s = self.shortcut.forward(x, train, recorder) if self.shortcut.layers else x
        self.shapes = a.shape, s.shape  # a flat volume may be (N, D) on one side, (N, D, 1, 1) on the other
        return a + s.reshape(a.shape)

    def backward(self, dout, recorder=None):
        da = self.body.backward(dout.reshape(self.shapes[0]), recorder)
        ds = self.shortcut.backward(dout.reshape(self.shapes[1]), recorder) if self.shortcut.layers else dout
        da, ds = da.reshape(self.shape), ds.reshape(self.shape)
        # The body's input gradient is a new array nobody else reads (on the fast plan; a trace
        # keeps it): add into it rather than allocate the sum.
        if recorder is None and da.flags.writeable and not np.may_share_memory(da, dout) \
                and not np.may_share_memory(da, ds):
            da += ds
            return da
        return da + ds


@implements(spec_layers.Branch)
class Branch(L.Layer):
    """Parallel stacks on the same input, outputs concatenated in depth in order (Inception).

    An empty branch passes x. dx = Σ over branches of the branch's input gradient for its slice of
    dout (depths d₁, d₂, … along axis 1).
    """

    COMPOSITE = True

    def __init__(self, report, stacks: list[Stack], depths: list[int]):
        super().__init__(report, np.float64)
        self.stacks, self.depths = stacks, depths

    @classmethod
    def build(cls, report, dtype, part):
        stacks = [build_stack(children, dtype, part) for _, children in report.children]
        depths = [children[-1].output.depth if children else report.input.depth for _, children in report.children]
        return cls(report, stacks, depths)

    def forward(self, x, train, recorder=None):
        self.shape = x.shape
        outs = [stack.forward(x, train, recorder) if stack.layers else x for stack in self.stacks]
        self.shapes = [o.shape for o in outs]
        if any(o.ndim == 4 for o in outs):
            outs = [L.as_4d(o) for o in outs]
        return np.concatenate(outs, axis=1)

    def backward(self, dout, recorder=None):
        dx = np.zeros(self.shape, dout.dtype)
        start = 0
        for stack, depth, shape in zip(self.stacks, self.depths, self.shapes):
            part = dout[:, start:start + depth].reshape(shape)
            start += depth
            dx += (stack.backward(part, recorder) if stack.layers else part).reshape(self.shape)
        return dx


# -- building --------------------------------------------------------------------------------------------


def build_stack(reports: list[LayerReport], dtype, part) -> Stack:
    """Engine layers for a stack of reports (each by its registered class; blocks build their stacks),
    for the replica that runs ``part`` of the batches (see ``Layer.build``)."""
    return Stack([engine_class(report.layer).build(report, dtype, part) for report in reports])


def walk_layers(stack: Stack):
    """Every engine layer of a stack, depth first (a block before its inner layers)."""
    for layer in stack.layers:
        yield layer
        if layer.COMPOSITE:
            for inner in layer.stacks:
                yield from walk_layers(inner)
