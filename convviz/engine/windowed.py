"""Layers that slide a window: Conv, LocallyConnected, MaxPool, AvgPool (and ReLU fused into a pool).

The specification decides every size: each layer runs the :class:`~convviz.model.geometry.Window2d`
its report holds (``report.geometry``: padding ``((P_h, P_h + extra_h), (P_w, P_w + extra_w))`` with
the rows policy ``pad`` adds, the floor that drops what policy ``crop`` drops, the output size) and
hands it to the kernels, which apply it as given. Nothing here recomputes or re-judges it.
"""

from __future__ import annotations

import numpy as np

from convviz.engine import kernels
from convviz.engine.activations import ReLU
from convviz.engine.layer_base import Layer, as_4d
from convviz.engine.registry import implements
from convviz.model import layers as spec


class WindowLayer(Layer):
    """A layer that runs its report's window geometry (``self.geometry``, a Window2d)."""

    def __init__(self, report, dtype):
        super().__init__(report, dtype)
        self.geometry = report.geometry
        self.size = (self.geometry.taps_h, self.geometry.taps_w)


@implements(spec.Conv)
class Conv(WindowLayer):
    """Convolution (cross-correlation): V[n, k, i, j] = Σ_c,p,q X̃[n, c, i·S + p·d, j·S + q·d]·w[k, c, p, q] + b[k].

    x: (N, C, H, W); weight: (K, C, Fh, Fw); bias: (K,); out: (N, K, Ho, Wo) with
    Ho = (H + top + bottom − d(Fh − 1) − 1) // S + 1. X̃ is x zero-padded by ``padding``.
    Backward: dX is the convolution of dV with the spatially flipped filters, dW the sum over all
    output positions of dV times the input window (see ``convviz.engine.trace``).
    """

    SKIPS_INPUT_GRAD = True
    INIT_WEIGHT = True

    def __init__(self, report, dtype):
        super().__init__(report, dtype)
        fh, fw = self.size
        self.add_param("weight", (self.spec.filters, report.input.depth, fh, fw))
        if self.spec.bias:
            self.add_param("bias", (self.spec.filters,))

    def fan(self):
        fh, fw = self.size
        return self.input.depth * fh * fw, self.spec.filters * fh * fw

    def forward(self, x, train, inplace=False):
        out, self.cache = kernels.conv2d_forward(
            as_4d(x), self.params["weight"], self.params.get("bias"), geometry=self.geometry
        )
        self.shape = x.shape
        return out

    def backward(self, dout, inplace=False, input_grad=True):
        dx, dw, db = kernels.conv2d_backward(as_4d(dout), self.cache, input_grad=input_grad)
        np.copyto(self.grads["weight"], dw)
        if db is not None:
            np.copyto(self.grads["bias"], db)
        return None if dx is None else dx.reshape(self.shape)


@implements(spec.LocallyConnected)
class LocallyConnected(Conv):
    """A convolution without parameter sharing: every output position (i, j) has its own filters.

    x: (N, C, H, W); weight: (Ho, Wo, K, C, Fh, Fw); bias: (Ho, Wo, K); out: (N, K, Ho, Wo).
    V[n, k, i, j] = Σ_c,p,q X̃[n, c, i·S + p·d, j·S + q·d]·w[i, j, k, c, p, q] + b[i, j, k].
    """

    def __init__(self, report, dtype):
        WindowLayer.__init__(self, report, dtype)
        fh, fw = self.size
        out, k, c = report.output, self.spec.filters, report.input.depth
        self.add_param("weight", (out.height, out.width, k, c, fh, fw))
        if self.spec.bias:
            self.add_param("bias", (out.height, out.width, k))

    def forward(self, x, train, inplace=False):
        out, self.cache = kernels.local2d_forward(
            as_4d(x), self.params["weight"], self.params.get("bias"), geometry=self.geometry
        )
        self.shape = x.shape
        return out

    def backward(self, dout, inplace=False, input_grad=True):
        dx, dw, db = kernels.local2d_backward(as_4d(dout), self.cache, input_grad=input_grad)
        np.copyto(self.grads["weight"], dw)
        if db is not None:
            np.copyto(self.grads["bias"], db)
        return None if dx is None else dx.reshape(self.shape)


class Pool(WindowLayer):
    """Max and average pooling: the model has checked that every window holds an input value."""


@implements(spec.MaxPool)
class MaxPool(Pool):
    """out = the max of each (Fh, Fw) window per depth slice; padding is −inf (never wins).

    x: (N, C, H, W) → (N, C, Ho, Wo). Backward sends each window's gradient to its first maximum
    (row-major window order). The kernel's cache keeps x and the output.
    """

    KEEPS_OUTPUT = True

    def forward(self, x, train, inplace=False):
        out, self.cache = kernels.max_pool_forward(as_4d(x), geometry=self.geometry)
        self.shape = x.shape
        return out

    def backward(self, dout, inplace=False):
        return kernels.max_pool_backward(dout, self.cache).reshape(self.shape)


@implements(spec.AvgPool)
class AvgPool(Pool):
    """out = the mean of each (Fh, Fw) window, padded zeros counted (count_include_pad).

    x: (N, C, H, W) → (N, C, Ho, Wo). Backward spreads dout/(Fh·Fw) over each window.
    """

    def forward(self, x, train, inplace=False):
        out, self.cache = kernels.avg_pool_forward(as_4d(x), geometry=self.geometry)
        self.shape = x.shape
        return out

    def backward(self, dout, inplace=False):
        return kernels.avg_pool_backward(dout, self.cache).reshape(self.shape)


def fusable_relu_pool(relu, pool) -> bool:
    """ReLU next to a 2×2, stride-2, unpadded max pool: one fused kernel does both (in either order,
    since max(0, ·) commutes with the max, ties included)."""
    return (
        isinstance(pool, MaxPool)
        and type(relu) is ReLU
        and pool.size == (2, 2)
        and pool.geometry.stride == (2, 2)
        and pool.geometry.pad == ((0, 0), (0, 0))
    )


class ReLUMaxPool:
    """A ReLU and the 2×2 max pool next to it, run as one step of the fast (untraced) plan.

    relu(maxpool(x)) = maxpool(relu(x)) exactly, gradients included: the pool runs on the raw input
    and the ReLU on a quarter of the values. Traced passes run the two layers separately.
    """

    KEEPS_OUTPUT = True
    OUTPUT_ALIASES_INPUT = False
    DX_ALIASES_DOUT = False
    COMPOSITE = False

    def __init__(self, first, second):
        self.layers = (first, second)
        self.pool = second if isinstance(second, MaxPool) else first
        self.name = f"{first.name}+{second.name}"
        self.output = second.output

    def forward(self, x, train, inplace=False):
        out, self.cache = kernels.relu_max_pool_forward(as_4d(x))
        self.shape = x.shape
        return out

    def backward(self, dout, inplace=False):
        return kernels.relu_max_pool_backward(dout, self.cache).reshape(self.shape)
