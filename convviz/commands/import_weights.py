"""``convviz import-weights NETWORK WEIGHTS --out CHECKPOINT_OR_FILE``

Brings weights trained elsewhere into a ConvViz network: a safetensors file (``train.py``'s
checkpoints, ``convviz export``'s weights) or a PyTorch ``.pt``/``.pth`` state_dict, in ConvViz's names
or torchvision's layout of the case studies. Every name, shape and dtype is checked first.
"""

from __future__ import annotations

from convviz.cli import UserError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-weights",
        help="load weights from a .safetensors file or a PyTorch state_dict into a network",
        description="Import weights into a network (ConvViz's names, or torchvision's layout of vgg16, "
        "resnet18, googlenet and alexnet), checking every name, shape and dtype before anything is loaded.",
    )
    parser.add_argument("network", metavar="NETWORK", help="a network file (.json) or preset:NAME")
    parser.add_argument("weights", metavar="WEIGHTS", help="a .safetensors file, or a .pt/.pth state_dict (needs PyTorch)")
    parser.add_argument("--out", required=True, metavar="CHECKPOINT_OR_FILE",
                        help="a checkpoint folder to write, or a .safetensors file")
    parser.set_defaults(func=run_import)


def run_import(args) -> int:
    from convviz.export import ExportError
    from convviz.export.importing import import_weights, save_imported
    from convviz.model import SpecFormatError, spec_from_argument
    from convviz.training.checkpoint import CheckpointError

    try:
        spec = spec_from_argument(args.network)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    except SpecFormatError as exc:
        raise UserError(str(exc)) from None
    try:
        imported = import_weights(spec, args.weights)
        out = save_imported(imported, args.out)
    except (ExportError, CheckpointError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"imported {len(imported.weights)} tensors of {args.weights} ({imported.layout} layout) into "
          f"{spec.name or args.network}: {out}")
    if imported.fresh:
        print(f"{', '.join(imported.fresh)} start fresh (the replaced last FC layer)")
    if imported.ignored:
        print(f"left out {len(imported.ignored)} tensors no ConvViz network holds: "
              + ", ".join(imported.ignored[:4]) + (" …" if len(imported.ignored) > 4 else ""))
    return 0
