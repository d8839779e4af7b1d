"""The numpy CNN engine: layers with forward and backward, networks built from a specification, the
loss, optimizers, traced passes, FC → CONV conversion and gradient checks. numpy only; never Qt.

Building and training
---------------------
::

    import numpy as np
    from convviz.model import preset
    from convviz.engine import Network, softmax_cross_entropy
    from convviz.engine.optim import SGD

    net = Network(preset("convnetjs"), seed=0)            # dtype=np.float32 (np.float64 for checks)
    opt = SGD(net.params(), lr=0.01, momentum=0.9)
    scores = net.forward(x, train=True)                     # x (N, C, H, W) → scores (N, K)
    loss, dscores = softmax_cross_entropy(scores, y)        # mean over the batch
    net.backward(dscores)                                   # → dx (N, C, H, W); fills net.grads()
    opt.step(net.grads())                                   # updates net.params() in place

``Network(spec, seed=0, dtype=np.float32, threads=1)``
    Builds every layer from ``analyze(spec)`` (the one source of truth for shapes; the first forward
    pass checks every layer's real output against it). An invalid spec raises ValueError listing the
    problems: ``cannot build the network: conv2: (10 − 3 + 2·0)/2 + 1 = 4.5 is not a whole number …``.
    Weights are seeded He normal (std √(2/fan_in), the leaky ReLU's gain for leaky ReLU), or Glorot
    normal (std √(2/(fan_in + fan_out))) where the activation that follows is tanh or sigmoid; biases
    0; batch norm γ = 1, β = 0, running mean 0 and variance 1.

    ``threads=2`` splits every batch of two or more images across two Python threads (one core each;
    ``convviz.engine.parallel``): weights shared, gradients summed, batch norm on the whole batch's
    statistics and dropout with the one-thread mask, so a step gives the one-thread numbers up to
    rounding (float64: ~1e-14). Traced passes run on one thread.

``net.forward(x, train=True)``
    x: (N, C, H, W) as the spec's input volume (cast to the network's dtype). Returns (N, K) when the
    output volume is 1×1×K, else score maps (N, K, H', W'). ``train=False`` evaluates: dropout off,
    batch norm on its running statistics. A final Softmax layer is not applied: the scores are logits
    for ``softmax_cross_entropy``; ``net.predict_proba(x)`` gives probabilities (eval mode).

``net.backward(dscores, input_grad=True)``
    dscores shaped like the last scores → dx (N, C, H, W), and every parameter gradient in
    ``net.grads()``. ``input_grad=False`` returns None and skips the first layer's input gradient (a
    trainer never needs it; it saves the first convolution's backward-data pass).

One pass at a time: a Network keeps each layer's cache from the last forward pass for the next
backward pass, so it is not thread-safe (its own ``threads`` are another matter: one pass uses them); trace (below) while training is paused, or on a copy built
with ``set_weights``.

Arrays: NCHW activations (a flat 1×1×D volume is (N, D)); conv weights (K, C, Fh, Fw), biases (K,);
locally connected weights (Ho, Wo, K, C, Fh, Fw), biases (Ho, Wo, K); FC weights (out, in) with
PyTorch's (C, H, W) flatten order; all as in PyTorch, so weights and results compare directly.

Parameters by stable name
-------------------------
``net.params()`` / ``net.grads()``: dicts (ordered) from stable names to the LIVE arrays, in layer
order, and for each layer weight, then bias, then any other parameter: ``conv1.weight``,
``conv1.bias``, ``bn1.weight`` (γ), ``bn1.bias`` (β), ``res1.body.conv1.weight``,
``res1.shortcut.conv1.weight``, ``inception3a.b2.conv1.weight`` … (the names of ``analyze``).
``net.buffers()``: ``bn1.running_mean``, ``bn1.running_var``. ``net.get_weights()`` copies params and
buffers; ``net.set_weights(d)`` copies them back, raising ValueError without changing anything for a
missing or unknown name or a wrong shape. ``net.layer(name)`` is the engine layer.

Randomness: ``net.rng`` (a ``np.random.Generator``) draws the dropout masks;
``net.get_rng_state()`` returns plain JSON-able data and ``net.set_rng_state(state)`` restores it, so a
resumed run is bit-identical.

Modules
-------
- ``convviz.engine.loss``: ``softmax_cross_entropy(scores, y) -> (loss, dscores)``, ``softmax``.
- ``convviz.engine.optim``: ``SGD(params, lr, momentum=0, nesterov=False, weight_decay=0)``,
  ``Adam(params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)`` with ``step(grads)``, a settable
  ``lr``, ``state_dict()``/``load_state_dict(d)`` (numbers and arrays: ``np.savez`` needs no pickle);
  L2 weight decay applies to Conv/LocallyConnected/FC weights only, never to biases or batch norm;
  ``StepLR(base_lr, step_size, gamma)``, ``CosineLR(base_lr, total_steps, min_lr=0)`` with
  ``lr_at(step)``; ``clip_grad_norm(grads, max_norm) -> total_norm``.
- ``convviz.engine.trace``: ``net.trace_forward(x, train=False)`` and ``net.trace_backward(trace,
  dscores)`` keep every layer's input, output, upstream and downstream gradients and parameter
  gradients; ``explain_conv_output``, ``explain_conv_input_grad``, ``explain_conv_weight_grad`` show one
  number of a Conv layer computed by hand beside the engine's.
- ``convviz.engine.fc_to_conv``: ``fc_to_conv(net, (H, W))`` → an equivalent all-conv network that
  gives a map of class scores over a larger image.
- ``convviz.engine.gradcheck``: CS231n's ``eval_numerical_gradient_array``, ``rel_error`` and
  ``network_gradient_errors``.
- ``convviz.engine.kernels``: the fast convolution and pooling kernels and their naive references;
  ``convviz.engine.blas``: BLAS thread limits for the kernels; ``convviz.engine.parallel``: a batch
  split across threads (its parts, the collective batch norm and dropout exchange through).
"""

from convviz.engine.fc_to_conv import ConvertedNetwork, fc_to_conv
from convviz.engine.loss import softmax, softmax_cross_entropy
from convviz.engine.network import Network
from convviz.engine.optim import SGD, Adam, CosineLR, StepLR, clip_grad_norm
from convviz.engine.trace import (
    Trace,
    explain_conv_input_grad,
    explain_conv_output,
    explain_conv_weight_grad,
)

__all__ = [
    "Network", "softmax", "softmax_cross_entropy",
    "SGD", "Adam", "StepLR", "CosineLR", "clip_grad_norm",
    "Trace", "explain_conv_output", "explain_conv_input_grad", "explain_conv_weight_grad",
    "fc_to_conv", "ConvertedNetwork",
]
