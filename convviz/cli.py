"""The ``convviz`` command.

``convviz [network.json] [--workspace build|train] [--screenshot PATH [--size WxH]]`` starts the
desktop app; ``convviz SUBCOMMAND …`` runs a headless tool (``summary``, ``presets``, ``data``,
``train``).

Each subcommand lives in its own module in ``convviz.commands`` and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand name → module in convviz.commands that registers it
SUBCOMMANDS = {
    "summary": "summary",
    "presets": "summary",
    "data": "data",
    "train": "train",
    "explain": "explain",
    "export": "export",
    "import-weights": "import_weights",
    "evaluate": "evaluate",
}


class UserError(Exception):
    """A problem the user can fix; printed as ``convviz: error: …`` without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convviz",
        description="ConvViz: build, size, train and step through convolutional networks.",
        epilog="With no subcommand, starts the desktop app: "
        "convviz [network.json] [--workspace build|train] [--screenshot PATH [--size WxH]]",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in dict.fromkeys(SUBCOMMANDS.values()):
        importlib.import_module(f"convviz.commands.{module_name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from convviz.engine.blas import settle_process_threads

    settle_process_threads()  # the engine's BLAS threads for the whole process (see there)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        from convviz.ui.window.app import run_app  # Qt is imported only for the app

        return run_app(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"convviz {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"convviz {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
