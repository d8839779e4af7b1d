"""``convviz explain NETWORK|CHECKPOINT --layer NAME --output D,Y,X [--image test:N | synthetic:N | FILE]
[--seed S] [--label K] [--input-grad C,Y,X] [--weight-grad K,C,I,J] [--json]``

One number of one layer computed by hand, beside the engine's: the forward dot product of a Conv
output cell (every term x·w = p, per-channel subtotals, + bias) or of an FC unit (``--output D,0,0``),
or a pooling window and its winner;
with ``--input-grad`` the input gradient of one cell (the stamps w·dY that reach it, equal to the
gather with the 180°-rotated filters) and with ``--weight-grad`` the gradient of one weight (x·dY
summed over every output position). The network runs in float64 on one image, in evaluation mode,
with the softmax cross-entropy loss of the image's label starting the backward pass.

JSON: ``{"network", "weights", "image", "layer", "type", "loss", "explanations": [...]}``; each
explanation has ``kind`` (``forward``, ``input_grad``, ``weight_grad``), ``cell``, ``terms`` (each
``{"input" | "upstream", "weight" | "upstream", "product"}``, every factor with its ``index`` and
``value``; a padding cell of the input has ``"padding": true``), ``bias`` (forward, where there is
one), ``sum`` (Σ products), ``total`` (sum + bias), ``engine_value`` and ``matches``.
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
        description="Explain one output cell of a Conv or pooling layer, and optionally one input "
                    "gradient and one weight gradient, for one image, term by term.",
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
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run_explain)


def _indices(count: int, names: str):
    import argparse

    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(part) for part in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count or min(values) < 0:
            raise argparse.ArgumentTypeError(f"must be {count} whole numbers ≥ 0 as {names}, got {text!r}")
        return values

    return parse


# -- what to explain -----------------------------------------------------------------------------------


def _network(argument: str, seed: int):
    """(spec, weights, where the weights came from)."""
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
        return spec, Network(spec, seed=seed).get_weights(), f"untrained (seed {seed})"
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
    return source.spec, source.weights, source.origin


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
        "optimizer": make_optimizer(config, net.params()).state_dict(),
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
    from convviz.engine import (
        explain_conv_input_grad,
        explain_conv_output,
        explain_conv_weight_grad,
    )
    from convviz.engine import explain_layers as X
    from convviz.engine import explain_pool as P
    from convviz.engine import explain_step as S
    from convviz.engine import layers as L
    from convviz.engine import windowed as W

    spec, weights, origin = _network(args.network, args.seed)
    x, label, classes, image_text = _image(args.image, spec)
    net = S.float64_network(spec, weights)
    try:
        layer = net.layer(args.layer)
    except KeyError as exc:
        raise UserError(exc.args[0]) from None
    is_conv, is_pool, is_fc = type(layer) is W.Conv, isinstance(layer, W.Pool), isinstance(layer, L.FC)
    if not (is_conv or is_pool or is_fc):
        raise UserError(f"{args.layer} is a {layer.spec.TITLE.lower()} layer: explain works on Conv, pooling and FC layers")
    if args.weight_grad is not None and not is_conv:
        raise UserError(f"--weight-grad: explain gives the weight gradient of Conv layers; {args.layer} is not one")
    if args.input_grad is not None and is_fc:
        raise UserError(f"--input-grad: explain gives the input gradient of Conv and max-pool layers; {args.layer} is FC")
    if is_fc and args.output[1:] != (0, 0):
        raise UserError(f"--output: an FC layer's output is 1×1×D: give D,0,0, got {','.join(map(str, args.output))}")
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
    d, y, xx = args.output
    report = {
        "network": spec.name or args.network, "weights": origin,
        "image": {"source": args.image, "what": image_text, "label": label,
                  "class": classes[label] if label is not None and label < len(classes) else None},
        "layer": args.layer, "type": layer.spec.TYPE,
        "loss": {"target": target, "target_is": target_text, "value": loss,
                 "predicted": int(np.argmax(trace.scores[0]))},
        "explanations": [],
    }
    try:
        if is_conv or is_fc:
            e = (explain_conv_output(net, trace, args.layer, 0, d, y, xx) if is_conv
                 else X.explain_fc_output(net, trace, args.layer, 0, d))
            report["explanations"].append(_entry("forward", (d, y, xx), S.ledger_terms(net, e), e.total, e.engine, e.matches,
                                                 bias=e.bias if "bias" in trace[args.layer].params else None))
        else:
            p = P.explain_pool_output(net, trace, args.layer, 0, d, y, xx)
            report["explanations"].append(_pool_entry(p))
        if args.input_grad is not None:
            c, i, j = args.input_grad
            if is_conv:
                s = X.explain_conv_input_grad_scatter(net, trace, args.layer, 0, c, i, j)
                g = explain_conv_input_grad(net, trace, args.layer, 0, c, i, j)
                entry = _entry("input_grad", (c, i, j), S.ledger_terms(net, s), s.total, s.engine, s.matches and g.matches)
                entry["gather_sum"] = g.total
                entry["gather_taps"] = int(g.products.size)
            else:
                entry = _pool_grad_entry(P, net, trace, args.layer, layer, (c, i, j))
            report["explanations"].append(entry)
        if args.weight_grad is not None:
            k, c, i, j = args.weight_grad
            e = explain_conv_weight_grad(net, trace, args.layer, k, c, i, j)
            report["explanations"].append(_entry("weight_grad", (k, c, i, j), S.ledger_terms(net, e), e.total, e.engine,
                                                 e.matches))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False))
    else:
        print(_text(report))
    return 0 if all(e["matches"] for e in report["explanations"]) else 1


def _factor(kind, index, value, padding=False) -> dict:
    out = {"index": [int(i) for i in index], "value": float(value) + 0.0}  # + 0.0: a padding −0 is 0
    if padding:
        out["padding" if kind == "input" else "zero"] = True
    return out


def _entry(kind, cell, terms, total, engine, matches, bias=None) -> dict:
    rows = []
    for t in terms:
        rows.append({t.left[0]: _factor(t.left[0], t.left[1], t.left[2], t.padding),
                     t.right[0]: _factor(t.right[0], t.right[1], t.right[2]),
                     "product": float(t.product) + 0.0})
    entry = {"kind": kind, "cell": list(cell), "terms": rows}
    if bias is not None:
        entry["bias"] = float(bias)
    entry.update({"sum": float(total), "total": float(total) + float(bias or 0.0), "engine_value": float(engine),
                  "matches": bool(matches)})
    return entry


def _pool_entry(p) -> dict:
    cells = [{"input": _factor("input", (p.c, int(r), int(col)), 0.0 if pad else v, pad)}
             for (r, col), v, pad in zip(
                 ((r, col) for r in p.rows for col in p.cols), p.window.ravel(), p.padding.ravel())]
    entry = {"kind": "forward", "cell": [p.c, p.y, p.x], "operation": p.kind, "window": cells,
             "sum": float(p.result), "total": float(p.result), "engine_value": p.engine, "matches": bool(p.matches)}
    if p.kind == "max":
        entry["winner"] = {"index": [p.c, *p.winner_cell], "ties": p.ties, "rule": "first maximum in row-major order"}
    entry["terms"] = []
    return entry


def _pool_grad_entry(P, net, trace, name, layer, cell) -> dict:
    from convviz.engine import windowed as W

    c, i, j = cell
    dx = trace[name].downstream
    if not (0 <= c < dx.shape[1] and 0 <= i < dx.shape[2] and 0 <= j < dx.shape[3]):
        raise UserError(f"--input-grad {c},{i},{j} lies outside the layer's input {dx.shape[1:]}")
    if not isinstance(layer, W.MaxPool):
        raise UserError(f"--input-grad: {name} is an average pool (each window shares dY in F·F parts); "
                        "explain routes max pools only")
    route = P.max_pool_routing(net, trace, name, 0)
    rows = [{"upstream": _factor("upstream", (c, y, x), route.upstream[c, y, x]), "product": float(route.upstream[c, y, x])}
            for y, x in zip(*np.nonzero((route.winners[c, ..., 0] == i) & (route.winners[c, ..., 1] == j)))]
    total = float(sum(r["product"] for r in rows))
    return {"kind": "input_grad", "cell": [c, i, j], "terms": rows, "sum": total, "total": total,
            "engine_value": float(dx[0, c, i, j]), "matches": bool(route.matches and total == dx[0, c, i, j]),
            "rule": "each window's gradient goes to its first maximum (row-major); this cell won the windows listed"}


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
