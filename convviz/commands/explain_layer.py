"""Which explanation ``convviz explain`` gives for a layer, built from the engine's explain functions
(:mod:`convviz.commands.explain_entries` turns each into its report entry). Raises ValueError saying
what a layer does not offer."""

from __future__ import annotations

from convviz.commands import explain_entries as J
from convviz.engine import explain_blocks as E
from convviz.engine import (
    explain_conv_input_grad,
    explain_conv_output,
    explain_conv_weight_grad,
)
from convviz.engine import explain_fc as F
from convviz.engine import explain_layers as X
from convviz.engine import explain_norm as N
from convviz.engine import explain_pool as P
from convviz.engine import explain_step as S
from convviz.engine import layers as L
from convviz.engine import windowed as W

ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid")
FORWARD = "Conv, FC, pooling, batch norm, LRN, activation (ReLU, leaky ReLU, ELU, tanh, sigmoid), residual and branch"


def forward(net, trace, name: str, layer, cell: tuple[int, ...]) -> dict:
    """The output ``cell`` ((c, y, x), or (d,) of a flat volume) of layer ``name``."""
    if type(layer) is W.Conv:
        e = explain_conv_output(net, trace, name, 0, *cell)
    elif isinstance(layer, L.FC):
        e = X.explain_fc_output(net, trace, name, 0, cell[0])
    elif isinstance(layer, W.Pool):
        return J.pool(P.explain_pool_output(net, trace, name, 0, *cell))
    elif isinstance(layer, L.BatchNorm):
        return J.batch_norm(X.explain_batchnorm_output(net, trace, name, 0, *cell))
    elif isinstance(layer, L.LRN):
        return J.lrn(N.explain_lrn_output(net, trace, name, 0, cell))
    elif layer.spec.TYPE in ACTIVATIONS:
        _check(trace[name].output, cell, name)
        return J.activation(E.explain_activation_output(net, trace, name, 0, cell))
    elif layer.COMPOSITE:
        return J.block(E.explain_block_output(net, trace, name, 0, cell))
    else:
        raise ValueError(f"{name} is a {layer.spec.TITLE.lower()} layer: explain works on {FORWARD} layers")
    bias = e.bias if "bias" in trace[name].params else None
    return J.ledger("forward", cell, S.ledger_terms(net, e), e.total, e.engine, e.matches, bias=bias)


def input_grad(net, trace, name: str, layer, cell: tuple[int, ...]) -> dict:
    """dL/d input at ``cell`` of layer ``name``'s input."""
    if type(layer) is W.Conv:
        s = X.explain_conv_input_grad_scatter(net, trace, name, 0, *cell)
        g = explain_conv_input_grad(net, trace, name, 0, *cell)
        entry = J.ledger("input_grad", cell, S.ledger_terms(net, s), s.total, s.engine, s.matches and g.matches)
        entry["gather_sum"], entry["gather_taps"] = g.total, int(g.products.size)
        return entry
    if isinstance(layer, W.Pool):
        dx = trace[name].downstream
        _check(dx, cell, f"{name}'s input")
        if isinstance(layer, W.MaxPool):
            return J.max_pool_grad(P.max_pool_routing(net, trace, name, 0), dx, cell)
        return J.avg_pool_grad(P.avg_pool_sharing(net, trace, name, 0), layer, cell)
    if isinstance(layer, L.FC):
        e = F.explain_fc_input_grad(net, trace, name, 0, cell)
        return J.ledger("input_grad", cell, S.ledger_terms(net, e), e.total, e.engine, e.matches)
    if layer.COMPOSITE:
        return J.block(E.explain_block_input_grad(net, trace, name, 0, cell))
    raise ValueError(f"--input-grad: explain gives the input gradient of Conv, pooling, FC, residual and branch "
                     f"layers; {name} is a {layer.spec.TITLE.lower()} layer")


def weight_grad(net, trace, name: str, layer, index: tuple[int, ...]) -> dict:
    if type(layer) is not W.Conv:
        raise ValueError(f"--weight-grad: explain gives the weight gradient of Conv layers; {name} is not one")
    e = explain_conv_weight_grad(net, trace, name, *index)
    return J.ledger("weight_grad", index, S.ledger_terms(net, e), e.total, e.engine, e.matches)


def update(trace, name: str, index: tuple[int, ...], config, state) -> dict:
    """The step of ``config``'s optimizer (``state``: a checkpoint's OptimizerState, else a first step)
    to ``name.weight[index]``, from this image's gradients."""
    from convviz.engine.explain_update import explain_update, resume_optimizer
    from convviz.training.config import TrainConfig
    from convviz.training.optimization import make_optimizer

    if "weight" not in trace[name].param_grads:
        raise ValueError(f"--update: {name} has no weight to update")
    names = [(layer, key) for layer, record in trace.layers.items() for key in record.param_grads]
    params = {f"{layer}.{key}": trace[layer].params[key].copy() for layer, key in names}
    grads = {f"{layer}.{key}": trace[layer].param_grads[key] for layer, key in names}
    config = (config or TrainConfig()).replace(**({"optimizer": state.optimizer, "lr": state.lr} if state else {}))
    opt = make_optimizer(config, params)
    if state is not None:
        resume_optimizer(opt, state)
        text = f"the checkpoint's optimizer state from step {state.step:,}"
    else:
        text = "a first step: no momentum or moments yet (a network file has no optimizer state)"
    return J.update(explain_update(opt, grads, f"{name}.weight", index), text)


def gradcheck(net, trace, label: int, name: str, what: str, index: tuple[int, ...]) -> dict:
    """``input`` (C, Y, X of the network's input), or the layer's ``weight`` or ``bias`` at ``index``."""
    if what == "input":
        return J.gradcheck(S.gradient_check(net, trace, [label], "input", (0, *index)))
    if what not in trace[name].params:
        raise ValueError(f"--gradcheck: {name} has no {what}")
    return J.gradcheck(S.gradient_check(net, trace, [label], f"{name}.{what}", index))


def _check(volume, cell, what: str) -> None:
    shape = volume.shape[1:]
    if len(cell) != len(shape) or not all(0 <= i < s for i, s in zip(cell, shape)):
        raise ValueError(f"cell {','.join(map(str, cell))} lies outside {what} {shape}")
