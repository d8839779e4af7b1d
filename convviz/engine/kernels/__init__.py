"""Numpy kernels for convolution and pooling: fast ones here, naive references in ``kernels.naive``.

Arrays are indexed (N, C, H, W) as in CS231n and PyTorch, float32 (training) or float64 (gradient
checks); every array of one call has the same dtype. Each forward returns ``(out, cache)`` and the
matching backward takes ``(dout, cache)``: a backward reads only what its forward cached.

Convolution (cross-correlation) and the locally connected layer::

    conv2d_forward(x, w, b=None, stride=1, pad=0, dilation=1) -> (out, cache)
    conv2d_backward(dout, cache, *, input_grad=True) -> (dx, dw, db)
    local2d_forward(x, w, b=None, stride=1, pad=0, dilation=1) -> (out, cache)
    local2d_backward(dout, cache, *, input_grad=True) -> (dx, dw, db)

    x: (N, C, H, W)   conv w: (K, C, Fh, Fw), b: (K,)   local w: (Ho, Wo, K, C, Fh, Fw), b: (Ho, Wo, K)
    stride (sh, sw), dilation (dh, dw), pad ((top, bottom), (left, right)); an int or a pair works too
    out: (N, K, Ho, Wo),  Ho = (H + top + bottom − dh(Fh − 1) − 1) // sh + 1  (likewise Wo)

    Each forward also takes ``geometry=``, a ``convviz.model.geometry.Window2d`` (what a network's
    layer report holds), instead of stride/pad/dilation; it is applied as given. Raw arguments are
    turned into one by ``convviz.model.geometry.window2d``, the same arithmetic and checks.

    b=None means no bias and then db is None; input_grad=False skips dx (returns None), as for the
    network's first layer. Uneven strides: the specification's policy ``pad`` passes its extra zero
    rows/columns in ``bottom``/``right``; policy ``crop`` is the floor above, and the dropped input
    rows/columns get zero gradient.

Pooling (window (fh, fw), stride defaults to the window, asymmetric pad smaller than the window,
or ``geometry=``)::

    max_pool_forward(x, size=2, stride=None, pad=0) -> (out, cache);  max_pool_backward(dout, cache) -> dx
    avg_pool_forward(x, size=2, stride=None, pad=0) -> (out, cache);  avg_pool_backward(dout, cache) -> dx
    relu_max_pool_forward(x) -> (out, cache);  relu_max_pool_backward(dout, cache) -> dx

    max pool pads with −inf (padding never wins) and sends each window's gradient to one element,
    its first maximum in row-major window order; average pool counts padded zeros in the divisor
    (count_include_pad=True). relu_max_pool is max(0, ·) fused into the 2×2 stride-2 max pool.

Memory layout: the fast kernels accept arrays in any memory order. Their results are (N, C, H, W)
views of *batch-last* memory, (C, H, W, N) contiguous (``a.transpose(1, 2, 3, 0)`` is contiguous),
which is what the next kernel reads fastest; ``np.ascontiguousarray`` gives plain NCHW memory if
some code needs it. A forward's cache may refer to its ``x`` and ``w``: do not modify them in place
before the backward.

Paths: stride-1, undilated convolutions skip im2col where it measured faster (``kernels.implicit``:
products on strided views of a rows-first input copy, each filter column's product added into the
output by BLAS itself through ``kernels.gemm``, numpy's products where that BLAS routine is not
there); batch norm's training passes run a cache-sized
block of channels at a time (``kernels.norm``). ``bench/bench_conv_paths.py`` times the paths.

BLAS threads: the fast conv and local kernels run with ``convviz.engine.blas.ENGINE_THREADS`` BLAS
threads (1: as fast as two on the 2-core machine, and it leaves a core to the GUI) and restore the
caller's count afterwards. Memory: the first convolution asks glibc to keep freed memory for reuse
(``kernels.memory``; CONVVIZ_KEEP_FREED_MEMORY=off disables it), which removed ~2,400 page faults
per training step. ``python bench/bench_kernels.py`` prints the figures.
"""

from convviz.engine.kernels.conv import conv2d_backward, conv2d_forward
from convviz.engine.kernels.local import local2d_backward, local2d_forward
from convviz.engine.kernels.pool import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward,
    max_pool_forward,
    relu_max_pool_backward,
    relu_max_pool_forward,
)

__all__ = [
    "avg_pool_backward",
    "avg_pool_forward",
    "conv2d_backward",
    "conv2d_forward",
    "local2d_backward",
    "local2d_forward",
    "max_pool_backward",
    "max_pool_forward",
    "relu_max_pool_backward",
    "relu_max_pool_forward",
]
