"""The same network in PyTorch, with the engine's weights: the reference for the cross-check tests and
the training benchmark (bench/bench_train.py). Imports torch, so only optional code uses it.

    model = TorchNetwork(net)          # net: a convviz.engine.Network; copies its weights and buffers
    scores = model(torch.from_numpy(x))
    model.grads()                      # {"conv1.weight": ndarray, …} after loss.backward()

Padding is applied explicitly (asymmetric, as the engine pads for the ``pad`` policy); max pooling
pads with −inf and average pooling with zeros counted in the divisor, as the engine does. A
LocallyConnected layer is written with ``F.unfold`` (PyTorch has no such layer). Dropout multiplies
by the mask the engine drew in its last forward pass, so both see the same mask.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from convviz.engine import layers as L
from convviz.engine import network as engine_network
from convviz.engine import windowed as W


def _pad_args(padding):
    (top, bottom), (left, right) = padding
    return (left, right, top, bottom)


class _Conv(nn.Module):
    def __init__(self, layer: W.Conv):
        super().__init__()
        geo = layer.geometry
        self.padding, self.stride, self.dilation = _pad_args(geo.pad), geo.stride, geo.dilation
        self.weight = nn.Parameter(torch.from_numpy(layer.params["weight"].copy()))
        self.bias = nn.Parameter(torch.from_numpy(layer.params["bias"].copy())) if "bias" in layer.params else None

    def forward(self, x):
        x = x if x.dim() == 4 else x[:, :, None, None]
        return F.conv2d(F.pad(x, self.padding), self.weight, self.bias, self.stride, 0, self.dilation)


class _Local(nn.Module):
    """out[n, k, i, j] = Σ_b cols[n, b, (i, j)]·w[i, j, k, b] + bias[i, j, k], with cols from F.unfold."""

    def __init__(self, layer: W.LocallyConnected):
        super().__init__()
        geo = layer.geometry
        self.padding, self.stride, self.dilation, self.size = _pad_args(geo.pad), geo.stride, geo.dilation, layer.size
        self.weight = nn.Parameter(torch.from_numpy(layer.params["weight"].copy()))
        self.bias = nn.Parameter(torch.from_numpy(layer.params["bias"].copy())) if "bias" in layer.params else None

    def forward(self, x):
        x = x if x.dim() == 4 else x[:, :, None, None]
        ho, wo, k = self.weight.shape[:3]
        cols = F.unfold(F.pad(x, self.padding), self.size, dilation=self.dilation, stride=self.stride)  # (N, B, L)
        out = torch.einsum("nbl,lkb->nkl", cols, self.weight.reshape(ho * wo, k, -1))
        if self.bias is not None:
            out = out + self.bias.reshape(ho * wo, k).T[None]
        return out.reshape(x.shape[0], k, ho, wo)


class _Pool(nn.Module):
    def __init__(self, layer, kind):
        super().__init__()
        geo = layer.geometry
        self.padding, self.size, self.stride, self.kind = _pad_args(geo.pad), layer.size, geo.stride, kind

    def forward(self, x):
        x = x if x.dim() == 4 else x[:, :, None, None]
        if self.kind == "max":
            return F.max_pool2d(F.pad(x, self.padding, value=-np.inf), self.size, self.stride)
        return F.avg_pool2d(F.pad(x, self.padding), self.size, self.stride)


class _BatchNorm(nn.Module):
    def __init__(self, layer: L.BatchNorm):
        super().__init__()
        self.eps, self.momentum = layer.spec.eps, layer.spec.momentum
        self.weight = nn.Parameter(torch.from_numpy(layer.params["weight"].copy()))
        self.bias = nn.Parameter(torch.from_numpy(layer.params["bias"].copy()))
        self.register_buffer("running_mean", torch.from_numpy(layer.buffers["running_mean"].copy()))
        self.register_buffer("running_var", torch.from_numpy(layer.buffers["running_var"].copy()))

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
                            self.momentum, self.eps)


class _LRN(nn.Module):
    def __init__(self, layer: L.LRN):
        super().__init__()
        s = layer.spec
        self.lrn = nn.LocalResponseNorm(s.size, s.alpha, s.beta, s.k)

    def forward(self, x):
        return self.lrn(x) if x.dim() >= 3 else self.lrn(x[:, :, None]).reshape(x.shape)


class _Dropout(nn.Module):
    """Multiplies by the mask the engine layer drew (identity in eval mode)."""

    def __init__(self, layer: L.Dropout):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        mask = getattr(self.layer, "mask", None)
        if not self.training or mask is None:
            return x
        return x * torch.from_numpy(mask).reshape(x.shape)


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class _Sequence(nn.Module):
    def __init__(self, stack: engine_network.Stack, named: dict):
        super().__init__()
        self.steps = nn.ModuleList(_module(layer, named) for layer in stack.layers)

    def forward(self, x):
        for step in self.steps:
            x = step(x)
        return x


class _Residual(nn.Module):
    def __init__(self, layer, named):
        super().__init__()
        self.body = _Sequence(layer.body, named)
        self.shortcut = _Sequence(layer.shortcut, named)

    def forward(self, x):
        a, s = self.body(x), self.shortcut(x)
        return a + s.reshape(a.shape)


class _Branch(nn.Module):
    def __init__(self, layer, named):
        super().__init__()
        self.branches = nn.ModuleList(_Sequence(stack, named) for stack in layer.stacks)

    def forward(self, x):
        outs = [branch(x) for branch in self.branches]
        if any(o.dim() == 4 for o in outs):
            outs = [o if o.dim() == 4 else o[:, :, None, None] for o in outs]
        return torch.cat(outs, dim=1)


def _fc(layer):
    linear = nn.Linear(layer.input.depth, layer.spec.units, bias=layer.spec.bias).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.params["weight"].astype(np.float64)))
        if layer.spec.bias:
            linear.bias.copy_(torch.from_numpy(layer.params["bias"].astype(np.float64)))
    linear.to(torch.from_numpy(layer.params["weight"]).dtype)
    return nn.Sequential(_Lambda(lambda x: x.reshape(x.shape[0], -1)), linear)


def _module(layer, named: dict) -> nn.Module:
    if isinstance(layer, engine_network.Residual):
        return _Residual(layer, named)
    if isinstance(layer, engine_network.Branch):
        return _Branch(layer, named)
    if isinstance(layer, W.LocallyConnected):
        module = _Local(layer)
    elif isinstance(layer, W.Conv):
        module = _Conv(layer)
    elif isinstance(layer, W.MaxPool):
        module = _Pool(layer, "max")
    elif isinstance(layer, W.AvgPool):
        module = _Pool(layer, "avg")
    elif isinstance(layer, L.BatchNorm):
        module = _BatchNorm(layer)
    elif isinstance(layer, L.LRN):
        module = _LRN(layer)
    elif isinstance(layer, L.Dropout):
        module = _Dropout(layer)
    elif isinstance(layer, L.FC):
        module = _fc(layer)
        named[f"{layer.name}.weight"] = module[1].weight
        if module[1].bias is not None:
            named[f"{layer.name}.bias"] = module[1].bias
        return module
    else:
        fns = {
            L.ReLU: F.relu, L.Tanh: torch.tanh, L.Sigmoid: torch.sigmoid, L.Softmax: lambda x: x,
            L.Flatten: lambda x: x.reshape(x.shape[0], -1),
            L.GlobalAvgPool: lambda x: (x if x.dim() == 4 else x[:, :, None, None]).mean(dim=(2, 3)),
        }
        if isinstance(layer, L.ELU):
            alpha = layer.spec.alpha
            return _Lambda(lambda x: F.elu(x, alpha))
        if isinstance(layer, L.LeakyReLU):
            slope = layer.spec.slope
            return _Lambda(lambda x: F.leaky_relu(x, slope))
        return _Lambda(fns[type(layer)])
    for local, p in module.named_parameters():
        named[f"{layer.name}.{local}"] = p
    for local, b in module.named_buffers():
        named[f"{layer.name}.{local}"] = b
    return module


class TorchNetwork(nn.Module):
    """A PyTorch copy of an engine network (same structure, weights, buffers and dtype)."""

    def __init__(self, net):
        super().__init__()
        self.named: dict[str, torch.Tensor] = {}
        self.body = _Sequence(net.stack, self.named)
        self.flat_output = net.output_volume.is_flat
        missing = set(net.params()) - set(self.named)
        assert not missing, f"no torch counterpart for {missing}"

    def forward(self, x):
        y = self.body(x)
        return y.reshape(y.shape[0], -1) if self.flat_output and y.dim() == 4 else y

    def grads(self) -> dict[str, np.ndarray]:
        return {name: t.grad.detach().numpy() for name, t in self.named.items() if isinstance(t, nn.Parameter)}

    def buffers_by_name(self) -> dict[str, np.ndarray]:
        return {name: t.detach().numpy() for name, t in self.named.items() if not isinstance(t, nn.Parameter)}
