"""``convviz summary SPEC [--batch N] [--memory-budget 4GB] [--optimizer adam] [--json]`` and ``convviz presets``."""

from __future__ import annotations

import json
import sys

from convviz.cli import UserError


def register(subparsers) -> None:
    summary = subparsers.add_parser(
        "summary",
        help="print a network's layers, output volumes, parameters, multiply-adds and memory",
        description="Print a torchinfo-style summary of a network file or preset.",
    )
    summary.add_argument("spec", metavar="SPEC", help="a network file (.json) or preset:NAME (see `convviz presets`)")
    summary.add_argument("--batch", type=_positive_int, default=1, help="batch size for memory figures (default 1)")
    summary.add_argument("--memory-budget", metavar="SIZE", help="e.g. 4GB: say whether a training step fits, and the largest batch that does")
    summary.add_argument("--optimizer", choices=("sgd", "momentum", "nesterov", "adam"), default="sgd", help="optimizer whose state to count (default sgd)")
    summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    summary.set_defaults(func=run_summary)

    presets = subparsers.add_parser("presets", help="list the built-in networks (case studies and CIFAR-10 presets)")
    presets.set_defaults(func=run_presets)


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def run_summary(args) -> int:
    from convviz.model import SpecFormatError, analyze, spec_from_argument
    from convviz.model.summary import parse_bytes, summary_dict, summary_text

    budget = None
    if args.memory_budget is not None:
        try:
            budget = parse_bytes(args.memory_budget)
        except ValueError as exc:
            raise UserError(f"--memory-budget: {exc}") from None
    try:
        spec = spec_from_argument(args.spec)
    except (SpecFormatError, KeyError) as exc:
        raise UserError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None
    report = analyze(spec)
    if args.json:
        print(json.dumps(summary_dict(report, args.batch, args.optimizer, budget), indent=2, ensure_ascii=False))
    else:
        print(summary_text(report, args.batch, args.optimizer, budget))
    if report.problems or report.output is None:
        for r in report.problems:
            print(f"convviz summary: {r.name}: {r.error.message}", file=sys.stderr)
        return 1
    return 0


def run_presets(args) -> int:
    from convviz.model import analyze, preset, preset_names

    specs = {name: preset(name) for name in preset_names()}
    wide, titles = max(map(len, specs)), max(len(spec.name) for spec in specs.values())
    for name, spec in specs.items():
        report = analyze(spec)
        print(f"preset:{name:<{wide}} {spec.name:<{titles}} input {str(spec.input):<11} {report.total_params:>12,} params")
    return 0
