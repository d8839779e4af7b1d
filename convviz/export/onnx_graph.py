"""An ONNX graph of a network with its weights, built with ``onnx.helper`` (no PyTorch).

    model = onnx_model(spec, weights, origin="preset:resnet20 (seed 0)")   # checked with onnx.checker

Every layer is one node named as ConvViz names it (``conv1``, ``res1.body.bn1``, ``inception3a``), whose
output tensor has the same name, so Netron shows ConvViz's names; initializers are the stable
parameter names (``conv1.weight`` …). Where ONNX needs a reshape ConvViz does not draw (a flat 1×1×D
volume, held as (N, D) as in the engine, entering a layer that wants an image, or an image entering an
FC layer), a helper node named ``LAYER/image`` or ``LAYER/flatten`` does it.

Windowed layers take their report's geometry: ``pads`` = [top, left, bottom, right], so the ``pad``
policy's extra bottom/right rows are in the pads and ``crop`` is ONNX's floor; average pooling counts
padded zeros (``count_include_pad=1``). A final Softmax layer is a Softmax node: the graph gives
probabilities (``Network.predict_proba``). Dropout is inference-mode Dropout (the identity).

Not exportable, with a message saying so: locally connected layers (ONNX has no such operator),
LRN with an even size (ONNX centres its window on the other side of the engine's), and weights of
more than 2 GB (one protobuf message's limit).
"""

from __future__ import annotations

import numpy as np

from convviz.model import analyze
from convviz.model import layers as spec_layers
from convviz.model.network import NetworkSpec

from convviz.export.source import ExportError

OPSET = 17
IR_VERSION = 8  # the IR of opset 17, which every runtime and Netron read
MAX_BYTES = 2**31 - 2**24  # protobuf's 2 GB limit on one message, less room for the graph itself


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ExportError("exporting to ONNX needs the onnx package: pip install onnx "
                          "(or pip install 'convviz[export]')") from None
    return onnx


class _Graph:
    """Nodes and initializers as they are added; tensors are named after what makes them."""

    def __init__(self, onnx, weights: dict[str, np.ndarray]):
        self.onnx, self.weights = onnx, weights
        self.nodes, self.initializers, self.used = [], [], set()

    def weight(self, name: str) -> str:
        if name not in self.used:
            self.used.add(name)
            array = np.ascontiguousarray(self.weights[name], dtype=np.float32)
            self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def constant(self, name: str, array: np.ndarray) -> str:
        if name not in self.used:
            self.used.add(name)
            self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def add(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def image(self, x: str, rank: int, layer: str) -> str:
        """``x`` as an (N, C, H, W) tensor: a flat (N, D) one becomes (N, D, 1, 1)."""
        if rank == 4:
            return x
        shape = self.constant("shape/flat_to_image", np.array([0, -1, 1, 1], dtype=np.int64))
        return self.add("Reshape", [x, shape], f"{layer}/image")

    def flat(self, x: str, rank: int, layer: str) -> str:
        """``x`` as an (N, D) tensor."""
        return x if rank == 2 else self.add("Flatten", [x], f"{layer}/flatten", axis=1)


def _layer(g: _Graph, report, x: str, rank: int) -> tuple[str, int]:
    """Add the nodes of one non-block layer; returns (its output tensor, the output's rank)."""
    layer, name = report.layer, report.name
    if isinstance(layer, spec_layers.WindowLayer):
        if isinstance(layer, spec_layers.LocallyConnected):
            raise ExportError(f"{name}: ONNX has no locally connected operator, so this network cannot be exported "
                              "to ONNX (export it to PyTorch, or use a conv layer)")
        geo = report.geometry
        (top, bottom), (left, right) = geo.pad
        window = dict(kernel_shape=[geo.taps_h, geo.taps_w], strides=list(geo.stride), pads=[top, left, bottom, right])
        x = g.image(x, rank, name)
        if isinstance(layer, spec_layers.Conv):
            inputs = [x, g.weight(f"{name}.weight")] + ([g.weight(f"{name}.bias")] if layer.bias else [])
            return g.add("Conv", inputs, name, dilations=list(geo.dilation), **window), 4
        if isinstance(layer, spec_layers.MaxPool):
            return g.add("MaxPool", [x], name, **window), 4
        return g.add("AveragePool", [x], name, count_include_pad=1, **window), 4
    if isinstance(layer, spec_layers.GlobalAvgPool):
        return g.add("ReduceMean", [g.image(x, rank, name)], name, axes=[2, 3], keepdims=0), 2
    if isinstance(layer, spec_layers.ReLU):
        return g.add("Relu", [x], name), rank
    if isinstance(layer, spec_layers.LeakyReLU):
        return g.add("LeakyRelu", [x], name, alpha=float(layer.slope)), rank
    if isinstance(layer, spec_layers.ELU):
        return g.add("Elu", [x], name, alpha=float(layer.alpha)), rank
    if isinstance(layer, spec_layers.Tanh):
        return g.add("Tanh", [x], name), rank
    if isinstance(layer, spec_layers.Sigmoid):
        return g.add("Sigmoid", [x], name), rank
    if isinstance(layer, spec_layers.BatchNorm):
        inputs = [x] + [g.weight(f"{name}.{k}") for k in ("weight", "bias", "running_mean", "running_var")]
        return g.add("BatchNormalization", inputs, name, epsilon=float(layer.eps), momentum=1 - float(layer.momentum)), rank
    if isinstance(layer, spec_layers.LRN):
        if layer.size % 2 == 0:
            raise ExportError(
                f"{name}: LRN with an even size n={layer.size} cannot be exported to ONNX: ONNX's window over the "
                f"depth slices is c − {(layer.size - 1) // 2} … c + {layer.size // 2}, ConvViz's (and PyTorch's) "
                f"c − {layer.size // 2} … c + {(layer.size - 1) // 2}; use an odd size"
            )
        attrs = dict(size=layer.size, alpha=float(layer.alpha), beta=float(layer.beta), bias=float(layer.k))
        if rank == 4:
            return g.add("LRN", [x], name, **attrs), 4
        y = g.add("LRN", [g.image(x, rank, name)], f"{name}/on_image", **attrs)
        return g.add("Flatten", [y], name, axis=1), 2
    if isinstance(layer, spec_layers.Dropout):
        ratio = g.constant(f"{name}.ratio", np.array(layer.p, dtype=np.float32))
        return g.add("Dropout", [x, ratio], name), rank
    if isinstance(layer, spec_layers.Flatten):
        return g.add("Flatten", [x], name, axis=1), 2
    if isinstance(layer, spec_layers.FC):
        inputs = [g.flat(x, rank, name), g.weight(f"{name}.weight")] + ([g.weight(f"{name}.bias")] if layer.bias else [])
        return g.add("Gemm", inputs, name, transB=1), 2
    if isinstance(layer, spec_layers.Softmax):
        return g.add("Softmax", [x], name, axis=1), rank
    raise ExportError(f"{name}: ONNX export does not know {layer.TYPE!r} layers")


def _stack(g: _Graph, reports, x: str, rank: int) -> tuple[str, int]:
    for report in reports:
        name = report.name
        if isinstance(report.layer, spec_layers.Residual):
            (_, body), (_, shortcut) = report.children
            a, a_rank = _stack(g, body, x, rank)
            s, s_rank = _stack(g, shortcut, x, rank)
            if s_rank != a_rank:
                s = g.image(s, s_rank, f"{name}/shortcut") if a_rank == 4 else g.flat(s, s_rank, f"{name}/shortcut")
            x, rank = g.add("Add", [a, s], name), a_rank
        elif isinstance(report.layer, spec_layers.Branch):
            outs = [_stack(g, children, x, rank) for _, children in report.children]
            if any(r == 4 for _, r in outs):
                parts = [g.image(o, r, f"{name}/{label}") for (o, r), (label, _) in zip(outs, report.children)]
                rank = 4
            else:
                parts, rank = [o for o, _ in outs], 2
            x = g.add("Concat", parts, name, axis=1)
        else:
            x, rank = _layer(g, report, x, rank)
    return x, rank


def onnx_model(spec: NetworkSpec, weights: dict[str, np.ndarray], origin: str = ""):
    """The ``onnx.ModelProto`` of ``spec`` with ``weights`` (stable name → array), checked with
    ``onnx.checker`` (full check, shapes inferred). Raises ExportError for what ONNX cannot hold."""
    onnx = _onnx()
    report = analyze(spec)
    if not report.valid:
        problems = "; ".join(f"{r.name}: {r.error.message}" for r in report.problems) or "the output volume is unknown"
        raise ExportError(f"cannot export an invalid network: {problems}")
    g = _Graph(onnx, weights)
    out, rank = _stack(g, report.layers, "input", 4)
    if report.output.is_flat and rank == 4:
        out = g.add("Flatten", [out], "scores/flatten", axis=1)
        rank = 2
    size = sum(t.ByteSize() for t in g.initializers)
    if size > MAX_BYTES:
        from convviz.model.summary import format_bytes

        raise ExportError(f"the weights take {format_bytes(size)}, more than the 2 GB one ONNX file can hold: "
                          "export to PyTorch instead")
    h = onnx.helper
    c, height, width = spec.input.chw()
    v = report.output
    out_shape = ["N", v.depth] if rank == 2 else ["N", v.depth, v.height, v.width]
    graph = h.make_graph(
        g.nodes, spec.name or "network",
        [h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", c, height, width])],
        [h.make_tensor_value_info(out, onnx.TensorProto.FLOAT, out_shape)],
        g.initializers,
        doc_string=f"{spec.name or 'network'}: input {spec.input} normalized as ConvViz normalizes it; "
                   f"output {v}" + (" probabilities" if isinstance(spec.layers[-1], spec_layers.Softmax) else " scores"),
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name="convviz",
                         doc_string=f"written by ConvViz from {origin or 'a network file'}")
    model.ir_version = IR_VERSION
    h.set_model_props(model, {"convviz.network": spec.name, "convviz.origin": origin})
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"the ONNX graph did not pass onnx.checker (a ConvViz bug): {exc}") from None
    return model
