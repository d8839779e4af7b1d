"""``convviz export NETWORK|CHECKPOINT --to pytorch OUT_DIR [--seed S]`` and ``--to onnx OUT.onnx``.

A network file or preset exports the weights ``Network(spec, seed=S)`` builds; a checkpoint folder
exports its trained weights (and, for PyTorch, its training settings in ``train.py``).
"""

from __future__ import annotations

from convviz.cli import UserError

FORMATS = ("pytorch", "onnx")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a network and its weights for PyTorch (model.py, weights.safetensors, train.py) or ONNX",
        description="Export a network file, preset or checkpoint folder to PyTorch or ONNX. "
        "PyTorch is not needed to export.",
    )
    parser.add_argument("source", metavar="NETWORK|CHECKPOINT",
                        help="a network file (.json), preset:NAME, or a checkpoint folder")
    parser.add_argument("--to", required=True, choices=FORMATS, dest="format", help="pytorch (a folder) or onnx (a file)")
    parser.add_argument("out", metavar="OUT", help="the folder to write (pytorch) or the .onnx file (onnx)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fresh weights of a network file (default 0)")
    parser.set_defaults(func=run_export)


def run_export(args) -> int:
    from convviz.export import ExportError, export_pytorch, load_source

    try:
        source = load_source(args.source, seed=args.seed)
        if args.format == "pytorch":
            files = export_pytorch(source, args.out)
        else:
            from convviz.export import export_onnx

            files = [export_onnx(source, args.out)]
    except ExportError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"exported {source.origin} to {args.format}:")
    for path in files:
        print(f"  {path}")
    return 0
