"""The engine's normalization, regularization, shape and fully connected layers: forward and
backward side by side (activations are in ``convviz.engine.activations``).

Every layer is built from its :class:`~convviz.model.analysis.LayerReport` (the specification's one
source of truth for shapes) and works on NCHW arrays ``(N, C, H, W)``; a flat 1×1×D volume is held as
``(N, D)`` (a windowed layer given ``(N, D)`` reads it as ``(N, D, 1, 1)``). ``forward`` caches what
``backward`` reads, and ``backward`` reads nothing else.

The in-place ownership flags (``KEEPS_OUTPUT`` …) are explained in ``convviz.engine.layer_base``.
"""

from __future__ import annotations


import numpy as np

from convviz.engine.activations import ELU, LeakyReLU, ReLU, Sigmoid, Tanh, relu_backward  # noqa: F401 (re-exported)
from convviz.engine.layer_base import Layer, array_shape, as_4d, as_flat  # noqa: F401 (re-exported)
from convviz.engine.kernels import norm
from convviz.engine.registry import implements
from convviz.model import layers as spec


# -- normalization and regularization -------------------------------------------------------------------


def slice_rows(a: np.ndarray, perm: tuple | None = None) -> tuple[np.ndarray, tuple]:
    """a (N, C, H, W) or (N, D) → (C, M): every depth slice's values as one row, and the axis order used.

    Without ``perm``, picks the order in which ``a``'s memory is already contiguous (the kernels'
    batch-last (C, H, W, N) or channel-major (C, N, H, W)), so the rows are a free view; ``perm``
    forces an order (a copy if the memory differs), e.g. to line a gradient up with saved rows.
    """
    if perm is None and a.ndim == 2:
        perm = (1, 0)  # (D, N): a free view whatever the memory order
    elif perm is None:
        candidates = [(1, 2, 3, 0), (1, 0, 2, 3)]
        perm = next((p for p in candidates if a.transpose(p).flags.c_contiguous), candidates[-1])
    t = a.transpose(perm)
    return t.reshape(t.shape[0], -1), perm


def rows_back(rows: np.ndarray, perm: tuple, shape: tuple) -> np.ndarray:
    """The inverse of ``slice_rows``: (C, M) → an array of ``shape`` (a view)."""
    permuted = tuple(shape[i] for i in perm)
    return rows.reshape(permuted).transpose(np.argsort(perm))


@implements(spec.BatchNorm)
class BatchNorm(Layer):
    """Batch normalization per depth slice: over (N, H, W) of (N, C, H, W), or over N of (N, D).

    Train: μ, σ² (biased) of the batch; x̂ = (x − μ)/√(σ² + ε); y = γ·x̂ + β; the running statistics
    follow PyTorch: running = (1 − m)·running + m·batch, with the unbiased variance (n/(n − 1)·σ²).
    Eval: μ and σ² are the running statistics. Parameters ``weight`` (γ) and ``bias`` (β), (C,);
    buffers ``running_mean`` (0) and ``running_var`` (1), (C,).

    Backward (train), with n values per slice and dx̂ = dout·γ:
    dx = (1/σ̂)/n · (n·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)); dγ = Σ dout·x̂; dβ = Σ dout.
    In eval mode μ and σ² are constants: dx = dout·γ/σ̂.

    Works on (C, M) rows of the values (a free view of the kernels' memory layouts), caches x̂ as
    rows, and gives its output in its input's memory order. Training passes run a cache-sized block
    of channels at a time (``convviz.engine.kernels.norm``).

    A batch split into parts (``convviz.engine.parallel``) is still one batch: the parts combine
    their Σx and Σ(x − μ_p)² (forward, ``norm.train_forward``) and add up Σdout, Σdout·x̂
    (backward) over the whole batch, n counts every part's values, and only part 0 updates the
    running statistics. Each part's ``grads`` hold its
    own share of dγ and dβ; the network sums them.
    """

    def __init__(self, report, dtype, part=None):
        super().__init__(report, dtype)
        self.part = part  # the batch part this layer's replica runs (convviz.engine.parallel.Part)
        c = report.input.depth
        self.add_param("weight", (c,))[...] = 1
        self.add_param("bias", (c,))
        self.buffers["running_mean"] = np.zeros(c, self.dtype)
        self.buffers["running_var"] = np.ones(c, self.dtype)

    relu_out = None  # y of a fused ReLU (BatchNormReLU), read by backward

    @classmethod
    def build(cls, report, dtype, part):
        return cls(report, dtype, part)

    def _split_part(self):
        """The Part when this pass runs on a split batch, else None."""
        return self.part if self.part is not None and self.part.split else None

    def forward(self, x, train, inplace=False, relu=False):
        """``relu``: return max(0, y), the ReLU after this layer fused in (``BatchNormReLU``)."""
        eps, momentum = self.spec.eps, self.spec.momentum
        rows, self.perm = slice_rows(x)
        self.shape = x.shape
        n = rows.shape[1]
        gamma, beta = self.params["weight"], self.params["bias"]
        if train:
            part = self._split_part()
            if part is not None:  # the whole batch's n: every image has the same number of values
                n = n // (part.stop - part.start) * part.total
            if n < 2:
                raise ValueError(
                    f"{self.name}: batch norm in training needs more than one value per depth slice, "
                    f"got input shape {x.shape}"
                )
            xhat = rows if inplace else np.empty_like(rows)
            y = np.empty_like(rows)
            mean, var, inv_std = norm.train_forward(rows, gamma, beta, eps, n, xhat, y,
                                                    None if part is None else part.gather, relu)
            if part is None or part.rank == 0:  # the running statistics are shared by the parts
                running_mean, running_var = self.buffers["running_mean"], self.buffers["running_var"]
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1)) * var
            self.train, self.xhat, self.inv_std, self.n = train, xhat, inv_std, n
            self.relu_out = y if relu else None
            return rows_back(y, self.perm, self.shape)
        inv_std = (1 / np.sqrt(self.buffers["running_var"] + eps)).astype(self.dtype)
        xhat = rows - self.buffers["running_mean"][:, None]
        xhat *= inv_std[:, None]
        self.train, self.xhat, self.inv_std, self.n = train, xhat, inv_std, n
        y = xhat * gamma[:, None]
        y += beta[:, None]
        if relu:
            np.maximum(y, 0, out=y)
        self.relu_out = y if relu else None
        return rows_back(y, self.perm, self.shape)

    def backward(self, dout, inplace=False):
        """dout: the gradient of this layer's output, or of the fused ReLU's when forward had ``relu``."""
        xhat, inv_std, gamma = self.xhat, self.inv_std, self.params["weight"]
        d, _ = slice_rows(dout, self.perm)
        dbeta, dgamma = self.grads["bias"], self.grads["weight"]
        if not self.train:
            if self.relu_out is not None:
                d = d * (self.relu_out > 0)
            np.sum(d, axis=1, out=dbeta)
            dgamma[...] = np.einsum("cm,cm->c", d, xhat)
            return rows_back(d * (gamma * inv_std)[:, None], self.perm, self.shape)
        part = self._split_part()
        # dout's rows may take dx when nobody else reads dout, or when lining them up copied them
        dx = d if inplace or not np.may_share_memory(d, dout) else np.empty_like(d)
        norm.train_backward(d, xhat, gamma, inv_std, self.n, dx, dgamma, dbeta, None if part is None else part.sum,
                            self.relu_out)
        return rows_back(dx, self.perm, self.shape)


class BatchNormReLU:
    """A batch norm and the ReLU after it, run as one step of the fast (untraced) plan: the ReLU is
    applied to each block of channels while batch norm has it in cache, and its derivative [y > 0]
    is applied the same way in backward. Traced passes run the two layers separately."""

    KEEPS_OUTPUT = True  # backward reads y (the ReLU's mask)
    OUTPUT_ALIASES_INPUT = False
    DX_ALIASES_DOUT = False
    COMPOSITE = False

    def __init__(self, norm_layer, relu):
        self.layers = (norm_layer, relu)
        self.norm = norm_layer
        self.name = f"{norm_layer.name}+{relu.name}"
        self.output = relu.output

    @staticmethod
    def fusable(first, second) -> bool:
        return type(first) is BatchNorm and type(second) is ReLU

    def forward(self, x, train, inplace=False):
        return self.norm.forward(x, train, inplace, relu=True)

    def backward(self, dout, inplace=False):
        return self.norm.backward(dout, inplace)


def channel_window_sum(z: np.ndarray, before: int, after: int) -> np.ndarray:
    """out[:, c] = Σ z[:, j] for j from c − before to c + after (clipped to the channels), z (N, C, …)."""
    channels = z.shape[1]
    out = z.copy()
    for offset in range(1, min(before, channels - 1) + 1):
        out[:, offset:] += z[:, :-offset]
    for offset in range(1, min(after, channels - 1) + 1):
        out[:, :-offset] += z[:, offset:]
    return out


@implements(spec.LRN)
class LRN(Layer):
    """Local response normalization across depth, as AlexNet and PyTorch's ``LocalResponseNorm``.

    b_c = a_c / s_c^β with s_c = k + (α/n)·Σ a_j² over j = c − ⌊n/2⌋ … c + ⌊(n − 1)/2⌋ (missing
    slices count as 0). x: (N, C, H, W) or (N, C). Caches a and s.

    Backward: db/da_i = s_i^−β at i, plus −2β(α/n)·a_i·Σ_c dout_c·a_c·s_c^(−β−1) over the slices c
    whose window holds i (c = i − ⌊(n − 1)/2⌋ … i + ⌊n/2⌋).
    """

    def forward(self, x, train, inplace=False):
        n, alpha, beta, k = self.spec.size, self.spec.alpha, self.spec.beta, self.spec.k
        s = channel_window_sum(x * x, n // 2, (n - 1) // 2)
        s *= alpha / n
        s += k
        self.x, self.s = x, s
        return x * s ** (-beta)

    def backward(self, dout, inplace=False):
        n, alpha, beta = self.spec.size, self.spec.alpha, self.spec.beta
        x, s = self.x, self.s
        s_beta = s ** (-beta)
        t = dout * x * s_beta / s  # dout_c · a_c · s_c^(−β−1)
        back = channel_window_sum(t, (n - 1) // 2, n // 2)
        return dout * s_beta - (2 * beta * alpha / n) * x * back


@implements(spec.Dropout)
class Dropout(Layer):
    """Inverted dropout: in training y = x·m with m = [u ≥ p]/(1 − p), u uniform from the network's
    generator; in eval (or p = 0) y = x. dx = dout·m. Caches the mask m.

    On a batch split across threads, part 0 draws u for the whole batch (the very draw of a
    one-thread pass) and each part uses its rows of it.
    """

    OUTPUT_ALIASES_INPUT = True
    DX_ALIASES_DOUT = True

    def __init__(self, report, dtype, part):
        super().__init__(report, dtype)
        self.part = part  # the batch part this layer's replica runs; ``part.rng`` is the network's generator

    @classmethod
    def build(cls, report, dtype, part):
        return cls(report, dtype, part)

    def forward(self, x, train, inplace=False):
        p = self.spec.p
        if not train or p == 0:
            self.mask = None
            return x
        part = self.part
        if part.split:
            whole = (part.total,) + x.shape[1:]
            u = part.whole(lambda: part.rng.random(whole, dtype=self.dtype))[part.start:part.stop]
        else:
            u = part.rng.random(x.shape, dtype=self.dtype)
        self.mask = (u >= p).astype(self.dtype) * self.dtype.type(1 / (1 - p))
        return np.multiply(x, self.mask, out=x if inplace else None)

    def backward(self, dout, inplace=False):
        if self.mask is None:
            return dout
        return np.multiply(dout, self.mask, out=dout if inplace else None)


# -- shape changes and fully connected ---------------------------------------------------------------


@implements(spec.Flatten)
class Flatten(Layer):
    """(N, C, H, W) → (N, C·H·W) in PyTorch's (C, H, W) order; backward reshapes back."""

    OUTPUT_ALIASES_INPUT = True
    DX_ALIASES_DOUT = True

    def forward(self, x, train, inplace=False):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout, inplace=False):
        return dout.reshape(self.shape)


@implements(spec.FC)
class FC(Layer):
    """y = x·Wᵀ + b. x: (N, D); weight: (units, D) as in PyTorch; bias: (units,).

    dx = dout·W; dW = doutᵀ·x; db = Σ_n dout. Caches x.
    """

    SKIPS_INPUT_GRAD = True
    INIT_WEIGHT = True

    def __init__(self, report, dtype):
        super().__init__(report, dtype)
        self.add_param("weight", (self.spec.units, report.input.depth))
        if self.spec.bias:
            self.add_param("bias", (self.spec.units,))

    def fan(self):
        return self.input.depth, self.spec.units

    def forward(self, x, train, inplace=False):
        self.shape = x.shape
        x = as_flat(x)
        self.x = x
        y = x @ self.params["weight"].T
        if "bias" in self.params:
            y += self.params["bias"]
        return y

    def backward(self, dout, inplace=False, input_grad=True):
        np.matmul(dout.T, self.x, out=self.grads["weight"])
        if "bias" in self.grads:
            np.sum(dout, axis=0, out=self.grads["bias"])
        return (dout @ self.params["weight"]).reshape(self.shape) if input_grad else None


@implements(spec.GlobalAvgPool)
class GlobalAvgPool(Layer):
    """(N, C, H, W) → (N, C): the mean of each depth slice; dx = dout/(H·W) spread over the slice."""

    def forward(self, x, train, inplace=False):
        x = as_4d(x)
        self.shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout, inplace=False):
        n, c, h, w = self.shape
        dx = np.empty(self.shape, dout.dtype)
        dx[...] = (dout / (h * w))[:, :, None, None]
        return dx


@implements(spec.Softmax)
class Softmax(Layer):
    """The output layer: the network's scores are its input (logits); the loss applies the softmax.

    Forward and backward pass values through unchanged; see ``softmax_cross_entropy`` and
    ``Network.predict_proba``.
    """

    OUTPUT_ALIASES_INPUT = True
    DX_ALIASES_DOUT = True

    def forward(self, x, train, inplace=False):
        return x

    def shown_output(self, y):
        """p = e^s / Σ e^s over the classes: the engine keeps logits, a view shows probabilities."""
        from convviz.engine.loss import softmax

        return softmax(as_flat(y))

    def backward(self, dout, inplace=False):
        return dout
