"""``convviz explain NETWORK|CHECKPOINT --layer NAME --output D,Y,X [--image test:N | synthetic:N | FILE]
[--seed S] [--label K] [--input-grad C,Y,X] [--weight-grad K,C,I,J] [--update INDICES]
[--gradcheck input:C,Y,X | weight:INDICES | bias:K] [--json]``

One number of one layer computed by hand, beside the engine's, for one image: forward, the output cell
of a Conv layer (every term x·w = p, per-channel subtotals, + bias) or an FC unit (``--output D,0,0``),
a pooling window and its maximum or mean, a batch-norm cell (γ·(x − μ)/√(σ² + ε) + β), an LRN cell
(its neighbourhood), an activation f(x), or a residual's or branch's paths; with ``--input-grad``
the gradient the layer sends to one input cell (a Conv's stamps w·dY, equal to the gather with the
180°-rotated filters; a max pool's routing to the winner; an average pool's shares; an FC layer's
Σ dY·w; a block's paths); with ``--weight-grad`` the gradient of one Conv weight (x·dY summed over
every position); with ``--update`` the step the run's optimizer makes to one weight of the layer
(with a checkpoint's velocity or Adam moments, else a first step of the default optimizer); with
``--gradcheck`` a gradient beside its centred difference. The network runs in float64, in evaluation
mode, with the softmax cross-entropy loss of the image's label starting the backward pass.

JSON: ``{"network", "weights", "image", "layer", "type", "loss", "explanations": [...]}``; each
explanation's keys are those of :mod:`convviz.commands.explain_entries` (ledgers: ``terms``, ``bias``,
``sum``, ``total``, ``engine_value``, ``matches``). The exit status is 1 if a hand-made number differs
from the engine's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from convviz.cli import UserError

#: the normalization of a picture of the user's own: (pixels/255 − 0.5)/0.25, about that of the data sets
FILE_MEAN, FILE_STD = 0.5, 0.25


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="compute one number of a layer by hand (the dot-product ledger) beside the engine's",
        description="Explain one output cell of a layer (Conv, FC, pooling, batch norm, LRN, activation, "
                    "residual or branch), and optionally one input gradient, one weight gradient, one "
                    "weight's update and a gradient check, for one image, term by term.",
    )
    parser.add_argument("network", metavar="NETWORK|CHECKPOINT",
                        help="a network file (.json), preset:NAME, or a checkpoint folder (its trained weights)")
    parser.add_argument("--layer", required=True, metavar="NAME", help="the layer's name, e.g. conv1")
    parser.add_argument("--output", required=True, metavar="D,Y,X", type=_indices(3, "D,Y,X"),
                        help="the output cell: depth slice, row, column (from 0)")
    parser.add_argument("--image", default="synthetic:0", metavar="test:N|synthetic:N|FILE",
                        help="CIFAR-10 test image N, synthetic test image N (default synthetic:0), "
                             "or a .npy array (H, W, C) of pixels 0–255 or a picture file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights of a network file (default 0)")
    parser.add_argument("--label", type=int, metavar="K", help="the class the loss wants (default: the image's label)")
    parser.add_argument("--input-grad", metavar="C,Y,X", type=_indices(3, "C,Y,X"),
                        help="also explain dL/d input at this cell of the layer's input")
    parser.add_argument("--weight-grad", metavar="K,C,I,J", type=_indices(4, "K,C,I,J"),
                        help="also explain dL/dw[K, C, I, J] (Conv layers)")
    parser.add_argument("--update", metavar="INDICES", type=_indices(0, "K,C,I,J (Conv) or O,I (FC)"),
                        help="also explain the optimizer's step to the layer's weight at INDICES (K,C,I,J for "
                             "a Conv, O,I for an FC layer), with a checkpoint's optimizer state")
    parser.add_argument("--gradcheck", metavar="WHAT:INDICES", type=_target,
                        help="also check a gradient by centred differences: input:C,Y,X (the network's "
                             "input), weight:INDICES or bias:K (of the layer)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run_explain)


def _indices(count: int, names: str):
    import argparse

    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(part) for part in text.split(","))
        except ValueError:
            values = ()
        if not values or (count and len(values) != count) or min(values) < 0:
            raise argparse.ArgumentTypeError(f"must be {count} whole numbers ≥ 0 as {names}, got {text!r}")
        return values

    return parse


def _target(text: str) -> tuple[str, tuple[int, ...]]:
    import argparse

    what, _, indices = text.partition(":")
    if what not in ("input", "weight", "bias"):
        raise argparse.ArgumentTypeError(f"must be input:C,Y,X, weight:INDICES or bias:K, got {text!r}")
    return what, _indices(0, "whole numbers")(indices)


# -- what to explain -----------------------------------------------------------------------------------


def _network(argument: str, seed: int):
    """(spec, weights, where the weights came from, training config, checkpoint folder or None)."""
    from convviz.engine import Network
    from convviz.model import SpecFormatError, spec_from_argument

    path = Path(argument)
    if path.is_dir() or path.name == "checkpoint.json":
        return _checkpoint(path)
    try:
        spec = spec_from_argument(argument)
    except KeyError as exc:
        raise UserError(str(exc.args[0]) if exc.args else f"unknown network {argument!r}") from None
    except SpecFormatError as exc:
        raise UserError(str(exc)) from None
    try:
        return spec, Network(spec, seed=seed).get_weights(), f"untrained (seed {seed})", None, None
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _checkpoint(path: Path):
    """The network and trained weights of a checkpoint, read as ``convviz export`` reads them."""
    from convviz.export import ExportError, checkpoint_source

    folder = path.parent if path.name == "checkpoint.json" else path
    try:
        source = checkpoint_source(folder)
    except ExportError as exc:
        raise UserError(f"cannot read the checkpoint {path}: {exc}") from None
    return source.spec, source.weights, source.origin, source.config, folder


def checkpoint_optimizer_state(folder):
    """The optimizer state a checkpoint folder saved (an ``OptimizerState``, origin ``checkpoint``), read
    with the checkpoint's own checks against a trainer's state of its network; the lr is the schedule's
    at the next step (the last step's, once the run has done all its steps). Raises ValueError (``CheckpointError``) saying what is wrong."""
    from convviz.engine import Network
    from convviz.engine.explain_update import OptimizerState
    from convviz.training.checkpoint import load_checkpoint
    from convviz.training.optimization import make_optimizer, make_schedule

    checkpoint = load_checkpoint(folder)
    spec, config = checkpoint.spec, checkpoint.config
    net = Network(spec, seed=config.seed)
    buffer_names, weights = set(net.buffers()), net.get_weights()
    template = {  # a trainer's state of this network: every array is checked against it before it is read
        "weights": {n: a for n, a in weights.items() if n not in buffer_names},
        "buffers": {n: a for n, a in weights.items() if n in buffer_names},
        "optimizer": make_optimizer(config, net.trainable_params()).state_dict(),
        "rng": {"data": np.random.default_rng(0).bit_generator.state, "network": net.get_rng_state()},
        "epoch_order": None,
    }
    train_count = int(checkpoint.index["dataset"].get("splits", {}).get("train", 0))
    state = checkpoint.trainer_state(template, train_count)
    steps_per_epoch = max(1, -(-train_count // config.batch_size))
    step, total = int(state["step"]), steps_per_epoch * config.epochs
    lr = make_schedule(config, steps_per_epoch, total)(step) if step < total else state["optimizer"]["lr"]
    return OptimizerState(state["optimizer"], config.optimizer, float(lr), step, "checkpoint")


def _image(argument: str, spec):
    """(x (1, C, H, W) float64, label or None, class names, what it is)."""
    from convviz.data import DataError, fit_image, load_dataset, synthetic_dataset

    c, h, w = spec.input.chw()
    kind, _, number = argument.partition(":")
    if kind in ("test", "synthetic") and number:
        try:
            index = int(number)
        except ValueError:
            raise UserError(f"--image {argument}: N must be a whole number") from None
        try:
            data = load_dataset("cifar10", validation=0) if kind == "test" else synthetic_dataset(train=2000, test=200)
        except DataError as exc:
            raise UserError(f"--image {argument}: CIFAR-10 is not available: {exc}") from None
        images = data.split("test")
        if not 0 <= index < len(images):
            raise UserError(f"--image {argument}: the {data.name} test split has images 0 to {len(images) - 1}")
        pixels = data.raw_image("test", index)
        what = f"{data.name} test image {index}"
        if pixels.shape != (h, w, c):
            pixels = _fit(fit_image, pixels, h, w, c)
            what += f", fitted to {w}×{h}×{c}"
        x = data.normalization.apply(pixels.transpose(2, 0, 1)[None]).astype(np.float64)
        return x, data.label("test", index), data.class_names, what
    path = Path(argument)
    if not path.is_file():
        raise UserError(f"--image {argument}: not test:N, synthetic:N or an existing file")
    if path.suffix.lower() == ".npy":
        try:
            pixels = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UserError(f"--image {argument}: cannot read it as a numpy array: {exc}") from None
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
            raise UserError(f"--image {argument}: expected pixels (H, W, C) with C 1, 3 or 4, got shape {pixels.shape}")
        pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    else:  # a picture: Qt reads it (imported only here, for this case)
        try:
            from convviz.ui.widgets.image_file import read_image_file

            pixels = read_image_file(path)
        except (ImportError, DataError) as exc:
            raise UserError(f"--image {argument}: {exc}") from None
    pixels = _fit(fit_image, pixels, h, w, c)
    x = (pixels.transpose(2, 0, 1)[None].astype(np.float64) / 255 - FILE_MEAN) / FILE_STD
    return x, None, (), f"{path.name} fitted to {w}×{h}×{c}, (pixels/255 − {FILE_MEAN})/{FILE_STD}"


def _fit(fit_image, pixels, h, w, c):
    from convviz.data import DataError

    try:
        return fit_image(pixels, h, w, c)
    except DataError as exc:
        raise UserError(str(exc)) from None


# -- explaining -------------------------------------------------------------------------------------------


def run_explain(args) -> int:
    from convviz.engine import explain_step as S

    spec, weights, origin, config, folder = _network(args.network, args.seed)
    x, label, classes, image_text = _image(args.image, spec)
    net = S.float64_network(spec, weights)
    try:
        layer = net.layer(args.layer)
    except KeyError as exc:
        raise UserError(exc.args[0]) from None
    scores = net.forward(x, train=False)
    if scores.ndim != 2:
        raise UserError("explain needs a network whose output is one score per class (a 1×1×K volume)")
    target = args.label if args.label is not None else label
    target_text = "the image's label"
    if target is None:
        target, target_text = int(np.argmax(scores[0])), "the predicted class (give --label K to choose)"
    if not 0 <= target < scores.shape[1]:
        raise UserError(f"--label must lie in [0, {scores.shape[1]}), got {target}")
    trace, loss, _ = S.trace_step(net, x, [target], own=True)
    report = {
        "network": spec.name or args.network, "weights": origin,
        "image": {"source": args.image, "what": image_text, "label": label,
                  "class": classes[label] if label is not None and label < len(classes) else None},
        "layer": args.layer, "type": layer.spec.TYPE,
        "loss": {"target": target, "target_is": target_text, "value": loss,
                 "predicted": int(np.argmax(trace.scores[0]))},
        "explanations": [],
    }
    from convviz.commands import explain_layer as X

    try:
        report["explanations"].append(X.forward(net, trace, args.layer, layer,
                                                     _cell(layer.output, args.output, f"--output: {args.layer}'s output")))
        if args.input_grad is not None:
            cell = _cell(layer.input, args.input_grad, f"--input-grad: {args.layer}'s input")
            report["explanations"].append(X.input_grad(net, trace, args.layer, layer, cell))
        if args.weight_grad is not None:
            report["explanations"].append(X.weight_grad(net, trace, args.layer, layer, args.weight_grad))
        if args.update is not None:
            state = checkpoint_optimizer_state(folder) if folder is not None else None
            report["explanations"].append(X.update(trace, args.layer, args.update, config, state))
        if args.gradcheck is not None:
            report["explanations"].append(X.gradcheck(net, trace, target, args.layer, *args.gradcheck))
    except (ValueError, KeyError) as exc:
        raise UserError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False))
    else:
        print(_text(report))
    return 0 if all(e["matches"] for e in report["explanations"]) else 1


def _cell(volume, cell: tuple[int, ...], what: str) -> tuple[int, ...]:
    """(d,) for a flat 1×1×D volume (given as D,0,0), else (c, y, x)."""
    if volume.is_flat:
        if cell[1:] != (0, 0):
            raise UserError(f"{what} is 1×1×{volume.depth}: give D,0,0, got {','.join(map(str, cell))}")
        return cell[:1]
    return cell


# -- text -------------------------------------------------------------------------------------------------


def _index(factor) -> str:
    return ",".join(str(i) for i in factor["index"])


def _text(report: dict) -> str:
    image = report["image"]
    label = f", label {image['label']}" + (f" ({image['class']})" if image["class"] else "") if image["label"] is not None else ""
    loss = report["loss"]
    lines = [
        f"{report['network']}: {report['layer']} ({report['type']}), weights {report['weights']}, float64",
        (f"image: {image['what']}{label}; loss −log p_{loss['target']} = {loss['value']:.6g} "
         f"(target: {loss['target_is']}; predicted class {loss['predicted']})"),
    ]
    for e in report["explanations"]:
        lines.append("")
        lines.extend(_entry_text(e))
    return "\n".join(lines)


def _entry_text(e: dict) -> list[str]:
    if "text" in e:
        return list(e["text"])
    cell = ",".join(map(str, e["cell"]))
    verdict = "equal" if e["matches"] else "DIFFERENT"
    if e["kind"] == "forward" and "operation" in e:
        values = ", ".join("pad" if c["input"].get("padding") else f"{c['input']['value']:.6g}" for c in e["window"])
        how = f"max, winner at input [{_index(e['winner'])}]" if e["operation"] == "max" else "mean"
        extra = f" ({e['winner']['ties']} ties: the first in row-major order wins)" if e.get("winner", {}).get("ties", 1) > 1 else ""
        return [f"forward output [{cell}] = {how} of the window [{values}] = {e['total']:.6g}{extra}",
                f"engine: {e['engine_value']:.6g} ({verdict})"]
    title = {"forward": f"forward output [d,y,x = {cell}] = Σ x · w + b",
             "input_grad": f"dL/d input [c,y,x = {cell}] = Σ dY · w (the stamps that reach it)",
             "weight_grad": f"dL/dw [k,c,i,j = {cell}] = Σ over every position x · dY"}[e["kind"]]
    lines = [title]
    subtotal, group = 0.0, None
    for t in e["terms"]:
        names = [k for k in t if k != "product"]
        a, b = t[names[0]], t[names[1]] if len(names) > 1 else None
        key = a["index"][0]
        if e["kind"] == "forward" and len(a["index"]) == 3 and group is not None and key != group:
            lines.append(f"{'':>44}channel {group} subtotal {subtotal:+.6g}")
            subtotal = 0.0
        group = key
        subtotal += t["product"]
        left = f"{names[0]}[{_index(a)}]" + (" pad" if a.get("padding") else "") + f" {a['value']:+.6g}"
        right = f" · {names[1]}[{_index(b)}] {b['value']:+.6g}" if b else ""
        lines.append(f"  {left}{right} = {t['product']:+.6g}")
    if e["kind"] == "forward" and group is not None and len(e["terms"][0]["input"]["index"]) == 3:
        lines.append(f"{'':>44}channel {group} subtotal {subtotal:+.6g}")
    lines.append(f"sum {e['sum']:+.6g}" + (f" + bias {e['bias']:+.6g} = {e['total']:+.6g}" if "bias" in e else ""))
    if "gather_sum" in e:
        lines.append(f"gather (full convolution with the 180°-rotated filters, {e['gather_taps']} taps): {e['gather_sum']:+.6g}")
    lines.append(f"engine: {e['engine_value']:+.6g} ({verdict})")
    return lines
