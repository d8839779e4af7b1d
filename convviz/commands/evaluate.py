"""``convviz evaluate CHECKPOINT|NETWORK --data cifar10|synthetic|PATH [--split test] [--batch B] [--json]``

Accuracy, per-class accuracy, precision and recall, and the confusion matrix (rows true × columns
predicted) of a checkpoint's trained weights, or of a network file's or preset's fresh ones
(``--seed``), over the test split. ``--json`` prints ``accuracy``, ``classes``, ``confusion``,
``precision`` and ``recall`` (null where no image was predicted as the class) instead.
"""

from __future__ import annotations

import json
import math

from convviz.cli import UserError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="print a network's accuracy, per-class precision and recall, and confusion matrix",
        description="Evaluate a checkpoint's trained weights (or a network's seeded ones) on a data set's test images.",
    )
    parser.add_argument("source", metavar="CHECKPOINT|NETWORK",
                        help="a checkpoint folder, or a network file (.json) or preset:NAME (fresh weights)")
    parser.add_argument("--data", default="synthetic", metavar="cifar10|synthetic|PATH",
                        help="cifar10 (the cache), synthetic (default), or a CIFAR-10 archive or folder")
    parser.add_argument("--split", choices=("test", "validation", "train"), default="test",
                        help="which images (default test)")
    parser.add_argument("--batch", type=int, default=256, help="images per forward pass (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a network file's fresh weights (default 0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args) -> int:
    from convviz.analysis import evaluate
    from convviz.commands.progress_bar import ProgressBar
    from convviz.data import DataError, load_dataset
    from convviz.engine import Network
    from convviz.export import ExportError, load_source

    if args.batch < 1:
        raise UserError(f"--batch must be a positive whole number, got {args.batch}")
    try:
        source = load_source(args.source, seed=args.seed)
    except ExportError as exc:
        raise UserError(str(exc)) from None
    try:
        dataset = load_dataset(args.data, validation=source.config.validation, seed=source.config.seed)
    except DataError as exc:
        raise UserError(str(exc)) from None
    net = Network(source.spec, seed=source.config.seed, weights=source.weights)
    bar = ProgressBar()
    try:
        result = evaluate(net, dataset, split=args.split, batch=args.batch,
                          progress=lambda done, total: bar.update(done / max(total, 1), f"{done:,}/{total:,} images"))
    except (ValueError, DataError) as exc:
        raise UserError(str(exc)) from None
    finally:
        bar.finish()
    if args.json:
        print(json.dumps({"source": source.origin, **result.to_json()}, indent=2, ensure_ascii=False))
    else:
        print(report_text(result, source.origin))
    return 0


def _percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1%}"  # NaN: no image to divide by


def report_text(result, origin: str = "") -> str:
    """The figures as a reader wants them: overall accuracy, a per-class table, the confusion matrix."""
    names = result.class_names
    width = max(len(n) for n in names)
    lines = []
    if origin:
        lines.append(f"{origin} on {result.dataset} {result.split} ({result.count:,} images)")
    lines.append(f"accuracy {result.accuracy:.2%} ({result.correct:,} of {result.count:,}), mean loss {result.loss:.4f}")
    lines.append("")
    lines.append(f"{'class':<{width}}  {'images':>6}  {'accuracy':>8}  {'precision':>9}  {'recall':>6}")
    for k, name in enumerate(names):
        lines.append(f"{name:<{width}}  {result.support[k]:>6,}  {_percent(result.class_accuracy[k]):>8}  "
                     f"{_percent(result.precision[k]):>9}  {_percent(result.recall[k]):>6}")
    lines.append("(accuracy of a class: its images classified correctly, which is its recall)")
    lines.append("")
    confusion = result.confusion
    cell = max(4, len(f"{confusion.max():,}") + 1)
    lines.append("confusion matrix: rows true class, columns predicted class (numbered as the rows)")
    lines.append(f"{'':<{width + 7}}" + "".join(f"{k:>{cell}}" for k in range(len(names))))
    for k, name in enumerate(names):
        lines.append(f"{k:>3}  {name:<{width}}  " + "".join(f"{v:>{cell},}" for v in confusion[k]))
    return "\n".join(lines)

