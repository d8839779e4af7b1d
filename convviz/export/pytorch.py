"""``model.py``: a network specification written out as a readable PyTorch module.

    text = model_source(spec, origin="preset:convnetjs (seed 0)")

One line per layer, named as ConvViz names it (so ``state_dict()`` keys are ConvViz's stable names:
``conv1.weight``, ``res1.body.bn1.running_mean``, ``inception3a.b2.conv1.weight``), with the layer's
output volume W×H×D as a comment. Every size comes from ``analyze(spec)``: a windowed layer's padding
is its report's :class:`~convviz.model.geometry.Window2d` (top, bottom, left, right), so the ``pad``
policy's extra bottom/right rows are an explicit ``F.pad`` and ``crop`` is the floor PyTorch takes
anyway. Max pooling pads with −inf, average pooling counts padded zeros (``count_include_pad``).

A flat 1×1×D volume is a 2-D tensor (N, D) here as in the engine; the generator tracks which a
layer gets, and writes the layer that handles it. Needs no PyTorch: it only writes text.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from convviz.model import analyze
from convviz.model import layers as spec_layers
from convviz.model.network import NetworkSpec

from convviz.export.source import ExportError

#: Helper definitions a model.py may need, written only when used (name → source).
HELPERS = {
    "image": '''
def image(x):
    """A flat (N, D) tensor as the (N, D, 1, 1) image ConvViz sees it as; 4-D tensors unchanged."""
    return x if x.dim() == 4 else x.reshape(x.shape[0], -1, 1, 1)
''',
    "Conv2d": '''
class Conv2d(nn.Conv2d):
    """nn.Conv2d with explicit zero padding pad = (left, right, top, bottom): ConvViz's `pad` policy
    adds rows and columns at the bottom and right only."""

    def __init__(self, *args, pad=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return super().forward(F.pad(image(x), self.pad))
''',
    "MaxPool2d": '''
class MaxPool2d(nn.MaxPool2d):
    """nn.MaxPool2d with explicit padding pad = (left, right, top, bottom) of −inf (never the max)."""

    def __init__(self, *args, pad=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return super().forward(F.pad(image(x), self.pad, value=float("-inf")))
''',
    "AvgPool2d": '''
class AvgPool2d(nn.AvgPool2d):
    """nn.AvgPool2d with explicit zero padding pad = (left, right, top, bottom), the zeros counted."""

    def __init__(self, *args, pad=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return super().forward(F.pad(image(x), self.pad))
''',
    "LocallyConnected2d": '''
class LocallyConnected2d(nn.Module):
    """A convolution without weight sharing: output position (i, j) has its own K filters.

    weight: (Ho, Wo, K, C, Fh, Fw); bias: (Ho, Wo, K); pad = (left, right, top, bottom).
    out[n, k, i, j] = Σ_c,p,q x̃[n, c, i·S + p·d, j·S + q·d]·weight[i, j, k, c, p, q] + bias[i, j, k]
    """

    def __init__(self, in_channels, out_channels, kernel_size, out_size, stride=1, pad=(0, 0, 0, 0),
                 dilation=1, bias=True):
        super().__init__()
        (fh, fw), (ho, wo) = kernel_size, out_size
        self.kernel_size, self.stride, self.pad, self.dilation = kernel_size, stride, pad, dilation
        self.weight = nn.Parameter(torch.empty(ho, wo, out_channels, in_channels, fh, fw))
        self.bias = nn.Parameter(torch.zeros(ho, wo, out_channels)) if bias else None
        nn.init.kaiming_normal_(self.weight.view(ho * wo * out_channels, -1))

    def forward(self, x):
        ho, wo, k = self.weight.shape[:3]
        cols = F.unfold(F.pad(image(x), self.pad), self.kernel_size, dilation=self.dilation, stride=self.stride)
        out = torch.einsum("nbl,lkb->nkl", cols, self.weight.reshape(ho * wo, k, -1))
        if self.bias is not None:
            out = out + self.bias.reshape(ho * wo, k).T
        return out.reshape(x.shape[0], k, ho, wo)
''',
    "GlobalAvgPool": '''
class GlobalAvgPool(nn.Module):
    """(N, C, H, W) → (N, C): the mean of each depth slice."""

    def forward(self, x):
        return image(x).mean(dim=(2, 3))
''',
    "Linear": '''
class Linear(nn.Linear):
    """nn.Linear on a 1×1×D volume that arrives as (N, D, 1, 1)."""

    def forward(self, x):
        return super().forward(x.flatten(1))
''',
    "LocalResponseNorm": '''
class LocalResponseNorm(nn.LocalResponseNorm):
    """nn.LocalResponseNorm on a flat (N, D) volume (a 1×1×D image)."""

    def forward(self, x):
        return super().forward(image(x)).reshape(x.shape)
''',
    "Residual": '''
class Residual(nn.Module):
    """y = body(x) + shortcut(x); an empty shortcut is the identity."""

    def __init__(self, body, shortcut):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x):
        a, s = self.body(x), self.shortcut(x)
        return a + s.reshape(a.shape)
''',
    "Branch": '''
class Branch(nn.Module):
    """Parallel stacks on the same input, concatenated in depth (an empty one passes x through)."""

    def __init__(self, branches):
        super().__init__()
        for name, stack in branches.items():
            self.add_module(name, stack)

    def forward(self, x):
        outs = [stack(x) for stack in self.children()]
        if any(o.dim() == 4 for o in outs):
            outs = [image(o) for o in outs]
        return torch.cat(outs, dim=1)
''',
}

#: Which helpers a helper uses itself.
NEEDS = {"Conv2d": ["image"], "MaxPool2d": ["image"], "AvgPool2d": ["image"], "LocallyConnected2d": ["image"],
         "GlobalAvgPool": ["image"], "LocalResponseNorm": ["image"], "Branch": ["image"]}


@dataclass
class _Writer:
    helpers: set = field(default_factory=set)

    def need(self, name: str) -> str:
        self.helpers.add(name)
        for inner in NEEDS.get(name, []):
            self.helpers.add(inner)
        return name


def _num(value) -> str:
    """An int as it is, a float in its shortest exact form."""
    return repr(float(value)) if isinstance(value, float) else repr(value)


def _pair(h: int, w: int) -> str:
    return str(h) if h == w else f"({h}, {w})"


def _local_name(report, prefix: str) -> str:
    name = report.name[len(prefix):]
    if not name or "." in name or name != name.strip() or keyword.iskeyword(name) or name in _RESERVED:
        raise ExportError(
            f"layer {report.name!r} cannot be a PyTorch module name (no dots, spaces at the ends or Python "
            f"keywords): rename it in the network"
        )
    return name


_RESERVED = {"forward", "training", "state_dict", "parameters", "modules", "children", "train", "eval", "to",
             "cuda", "cpu", "type", "float", "double", "half", "apply", "zero_grad", "add_module", "register_buffer"}


def _module(report, rank: int, w: _Writer) -> tuple[str, int]:
    """(the constructor of one non-block layer, the rank (2 or 4) of the tensor it returns)."""
    layer, v, out = report.layer, report.input, report.output
    if isinstance(layer, spec_layers.WindowLayer):
        g = report.geometry
        (top, bottom), (left, right) = g.pad
        symmetric = top == bottom and left == right
        pad = f"pad=({left}, {right}, {top}, {bottom})"
        kernel = _pair(g.taps_h, g.taps_w)
        stride = "" if g.stride == (1, 1) else f", stride={_pair(*g.stride)}"
        if isinstance(layer, spec_layers.LocallyConnected):
            w.need("LocallyConnected2d")
            args = f"{v.depth}, {layer.filters}, ({g.taps_h}, {g.taps_w}), out_size=({out.height}, {out.width})"
            args += stride + (f", {pad}" if (top, bottom, left, right) != (0, 0, 0, 0) else "")
            args += "" if g.dilation == (1, 1) else f", dilation={g.dilation}"
            args += "" if layer.bias else ", bias=False"
            return f"LocallyConnected2d({args})", 4
        if isinstance(layer, spec_layers.Conv):
            extra = ("" if g.dilation == (1, 1) else f", dilation={_pair(*g.dilation)}") + ("" if layer.bias else ", bias=False")
            if symmetric and rank == 4:
                padding = "" if (top, left) == (0, 0) else f", padding={_pair(top, left)}"
                return f"nn.Conv2d({v.depth}, {layer.filters}, kernel_size={kernel}{stride}{padding}{extra})", 4
            return f"{w.need('Conv2d')}({v.depth}, {layer.filters}, kernel_size={kernel}{stride}, {pad}{extra})", 4
        # pooling: PyTorch's own padding only when it is symmetric and at most half the window
        stride = f", stride={_pair(*g.stride)}"
        plain = symmetric and rank == 4 and 2 * top <= g.taps_h and 2 * left <= g.taps_w
        if isinstance(layer, spec_layers.MaxPool):
            cls = "nn.MaxPool2d" if plain else w.need("MaxPool2d")
        else:
            cls = "nn.AvgPool2d" if plain else w.need("AvgPool2d")
        if plain:
            padding = "" if (top, left) == (0, 0) else f", padding={_pair(top, left)}"
            return f"{cls}({kernel}{stride}{padding})", 4
        return f"{cls}({kernel}{stride}, {pad})", 4
    if isinstance(layer, spec_layers.GlobalAvgPool):
        return f"{w.need('GlobalAvgPool')}()", 2
    if isinstance(layer, spec_layers.ReLU):
        return "nn.ReLU()", rank
    if isinstance(layer, spec_layers.LeakyReLU):
        return f"nn.LeakyReLU({_num(layer.slope)})", rank
    if isinstance(layer, spec_layers.ELU):
        return f"nn.ELU({_num(layer.alpha)})", rank
    if isinstance(layer, spec_layers.Tanh):
        return "nn.Tanh()", rank
    if isinstance(layer, spec_layers.Sigmoid):
        return "nn.Sigmoid()", rank
    if isinstance(layer, spec_layers.BatchNorm):
        cls = "nn.BatchNorm2d" if rank == 4 else "nn.BatchNorm1d"
        return f"{cls}({v.depth}, eps={_num(layer.eps)}, momentum={_num(layer.momentum)})", rank
    if isinstance(layer, spec_layers.LRN):
        cls = "nn.LocalResponseNorm" if rank == 4 else w.need("LocalResponseNorm")
        return f"{cls}({layer.size}, alpha={_num(layer.alpha)}, beta={_num(layer.beta)}, k={_num(layer.k)})", rank
    if isinstance(layer, spec_layers.Dropout):
        return f"nn.Dropout({_num(layer.p)})", rank
    if isinstance(layer, spec_layers.Flatten):
        return "nn.Flatten()", 2
    if isinstance(layer, spec_layers.FC):
        cls = "nn.Linear" if rank == 2 else w.need("Linear")
        return f"{cls}({v.depth}, {layer.units}" + ("" if layer.bias else ", bias=False") + ")", 2
    if isinstance(layer, spec_layers.Softmax):
        return "nn.Identity()", rank
    raise ExportError(f"{report.name}: PyTorch export does not know {layer.TYPE!r} layers")


def _stack(reports, prefix: str, rank: int, indent: str, w: _Writer) -> tuple[list[str], int]:
    """The ``("name", module),  # W×H×D`` lines of one stack, and the rank of its output."""
    lines = []
    for report in reports:
        name = _local_name(report, prefix)
        volume = f"# {report.output}"
        if isinstance(report.layer, spec_layers.Residual):
            w.need("Residual")
            (_, body), (_, shortcut) = report.children
            body_lines, body_rank = _stack(body, report.name + ".body.", rank, indent + "        ", w)
            short_lines, _ = _stack(shortcut, report.name + ".shortcut.", rank, indent + "        ", w)
            lines.append(f'{indent}("{name}", Residual(')
            lines += _sequential("body", body_lines, indent + "    ")
            lines += _sequential("shortcut", short_lines, indent + "    ")
            lines.append(f"{indent})),  {volume} (added)")
            rank = body_rank if body else rank
        elif isinstance(report.layer, spec_layers.Branch):
            w.need("Branch")
            lines.append(f'{indent}("{name}", Branch(OrderedDict([')
            ranks = []
            for label, children in report.children:
                inner, inner_rank = _stack(children, f"{report.name}.{label}.", rank, indent + "        ", w)
                ranks.append(inner_rank if children else rank)
                lines += _sequential(label, inner, indent + "    ", as_pair=True)
            lines.append(f"{indent}]))),  {volume} (concatenated)")
            rank = 4 if 4 in ranks else 2
        else:
            constructor, rank = _module(report, rank, w)
            comment = volume + ("  softmax: the scores stay logits, as in ConvViz (CrossEntropyLoss applies it)"
                                if isinstance(report.layer, spec_layers.Softmax) else "")
            lines.append(f'{indent}("{name}", {constructor}),  {comment}')
    return lines, rank


def _sequential(label: str, lines: list[str], indent: str, as_pair: bool = False) -> list[str]:
    head = f'{indent}("{label}", ' if as_pair else f"{indent}{label}="
    if not lines:
        return [f"{head}nn.Sequential()" + ("),  # passes the input through" if as_pair else ",  # the identity")]
    tail = "]))),"  if as_pair else "])),"
    return [f"{head}nn.Sequential(OrderedDict(["] + lines + [f"{indent}{tail}"]


def docstring_text(text: str) -> str:
    """``text`` safe inside a triple-quoted docstring (no quotes that end it, no escapes)."""
    return text.replace("\\", "/").replace('"""', "'''").replace("\n", " ")


def model_source(spec: NetworkSpec, origin: str = "") -> str:
    """The text of ``model.py`` for ``spec`` (see the module docstring); raises ExportError for a
    network that cannot be built or named in PyTorch."""
    report = analyze(spec)
    if not report.valid:
        problems = "; ".join(f"{r.name}: {r.error.message}" for r in report.problems) or "the output volume is unknown"
        raise ExportError(f"cannot export an invalid network: {problems}")
    w = _Writer()
    lines, rank = _stack(report.layers, "", 4, " " * 16, w)
    flatten_out = report.output.is_flat and rank == 4
    c, h, wd = spec.input.chw()
    title = docstring_text(spec.name or "The network")
    origin = docstring_text(origin)
    classes = report.output.depth
    helpers = "".join(HELPERS[name] + "\n" for name in HELPERS if name in w.helpers)
    forward = ""
    if flatten_out:
        forward = (
            "\n    def forward(self, x):\n"
            "        return super().forward(x).flatten(1)  # the 1×1×K output as (N, K) scores, as ConvViz gives them\n"
        )
    return f'''"""{title}, as a PyTorch module written by ConvViz from {origin or "a network file"}.

    import torch
    from model import load_model
    model = load_model()                      # with weights.safetensors beside this file, in eval mode
    scores = model(torch.randn(8, {c}, {h}, {wd}))   # → ({"8, " + str(classes) if report.output.is_flat else "8, K, H, W"}) scores (logits)
    probabilities = scores.softmax(1)

Inputs are images normalized as ConvViz normalizes them, (pixels/255 − mean)/std per channel with the
training split's mean and std. Parameter and buffer names are ConvViz's (conv1.weight,
res1.body.bn1.running_mean …): weights.safetensors, train.py's checkpoints and `convviz
import-weights` share one layout. Each layer's comment is its output volume W×H×D.
Needs torch and safetensors (pip install torch safetensors).
"""

from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SHAPE = ({c}, {h}, {wd})  # (C, H, W) of one {spec.input} image
WEIGHTS = Path(__file__).with_name("weights.safetensors")

{helpers}
class Network(nn.Sequential):
    """{title}: input {spec.input}, output {report.output}, {report.total_params:,} parameters."""

    def __init__(self):
        super().__init__(
            OrderedDict([
{chr(10).join(lines)}
            ])
        )
{forward}

def state_to_save(model):
    """The model's parameters and buffers by ConvViz name, as weights.safetensors holds them
    (PyTorch's batch-norm counters num_batches_tracked are not part of the layout)."""
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    return {{k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}}


def load_weights(model, path=WEIGHTS):
    """Load a safetensors file of this layout into ``model``; every name and shape must match."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    expected = state_to_save(model)
    problems = [f"missing {{k}}" for k in expected if k not in tensors]
    problems += [f"unknown {{k}}" for k in tensors if k not in expected]
    problems += [f"{{k}} has shape {{tuple(t.shape)}}, expected {{tuple(expected[k].shape)}}"
                 for k, t in tensors.items() if k in expected and t.shape != expected[k].shape]
    if problems:
        raise ValueError(f"{{path}} does not fit this network: " + "; ".join(problems))
    model.load_state_dict(tensors, strict=False)  # only the num_batches_tracked counters are left as they were
    return model


def load_model(path=WEIGHTS, device="cpu"):
    """The network with the weights of ``path``, on ``device``, in eval mode."""
    return load_weights(Network(), path).to(device).eval()
'''
