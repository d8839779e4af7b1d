"""``convviz train SPEC --data PATH|cifar10|synthetic [--epochs N] [--batch B] [--lr LR] [--threads N] …``

Headless training with a text progress bar; ``--json-log FILE`` writes one JSON record per line;
``--checkpoint DIR`` saves at each epoch end and when stopped (Ctrl+C); ``--resume DIR`` continues a run
(``--threads`` may change its thread count).

Fine-tuning: ``--init WEIGHTS`` starts a new run from a checkpoint folder (``convviz import-weights``
writes one; SPEC may then be left out) or a ``.safetensors``/``.pth`` file imported into SPEC;
``--replace-head [N]`` replaces the last FC layer by a fresh one of N units (default: the data set's
classes); ``--freeze LAYER`` freezes every parameter layer up to and including LAYER.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from convviz.cli import UserError
from convviz.training.config import OPTIMIZERS, SCHEDULES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a network without the window, with a progress bar",
        description="Train a network on CIFAR-10 or the synthetic data set with ConvViz's numpy engine.",
    )
    parser.add_argument("spec", metavar="SPEC", nargs="?", help="a network file (.json) or preset:NAME (optional with --resume)")
    parser.add_argument("--data", default="synthetic", metavar="PATH|cifar10|synthetic",
                        help="a CIFAR-10 archive or folder, cifar10 (the cache), or synthetic (default)")
    parser.add_argument("--epochs", type=int, help="epochs to train (default 10; with --resume: the new total)")
    parser.add_argument("--batch", type=int, help="batch size (default 64)")
    parser.add_argument("--lr", type=float, help="learning rate (default 0.01)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default momentum")
    parser.add_argument("--momentum", type=float, help="momentum for momentum/nesterov (default 0.9)")
    parser.add_argument("--weight-decay", type=float, help="L2 weight decay (default 5e-4)")
    parser.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default cosine)")
    parser.add_argument("--clip", type=float, help="clip the gradient norm to this value")
    parser.add_argument("--no-augment", action="store_true", help="turn off random flips and crops")
    parser.add_argument("--validation", type=float, help="fraction of training images held out (default 0.1)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="cores that share each step's batch (default 2: both, the second half of each "
                             "batch in a helper process; a resumed run keeps its own count)")
    parser.add_argument("--checkpoint", metavar="DIR", help="save a checkpoint here at each epoch end and when stopped")
    parser.add_argument("--resume", metavar="DIR", help="continue the run saved in this checkpoint folder")
    parser.add_argument("--init", metavar="WEIGHTS",
                        help="start from these weights: a checkpoint folder (e.g. from convviz import-weights; "
                             "SPEC optional) or a .safetensors/.pth file for SPEC")
    parser.add_argument("--replace-head", nargs="?", type=int, const=0, metavar="N",
                        help="replace the last FC layer by a fresh one of N units (default: the data set's classes)")
    parser.add_argument("--freeze", metavar="LAYER",
                        help="freeze every layer with parameters up to and including LAYER (e.g. conv3)")
    parser.add_argument("--json-log", metavar="FILE", help="write every record as one line of JSON")
    parser.set_defaults(func=run_train)


def _config(args, base=None):
    from convviz.training.config import ConfigError, TrainConfig

    changes = {
        "epochs": args.epochs, "batch_size": args.batch, "lr": args.lr, "optimizer": args.optimizer,
        "momentum": args.momentum, "weight_decay": args.weight_decay, "schedule": args.schedule,
        "clip_norm": args.clip, "validation": args.validation, "seed": args.seed, "threads": args.threads,
        "augment": False if args.no_augment else None,
    }
    changes = {key: value for key, value in changes.items() if value is not None}
    try:
        return (base or TrainConfig()).replace(**changes)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def run_train(args) -> int:
    if args.spec is None and args.resume is None and args.init is None:
        raise UserError("give a network (a .json file or preset:NAME), --init CHECKPOINT or --resume DIR")
    if args.resume and (args.init or args.freeze or args.replace_head is not None):
        raise UserError("--resume goes on with the run as it was: --init, --freeze and --replace-head start a new one")
    trainer, resuming = _set_up(args)
    try:
        log = open(args.json_log, "a" if resuming else "w", encoding="utf-8") if args.json_log else None
    except OSError as exc:
        raise UserError(f"cannot write the JSON log {args.json_log}: {exc.strerror or exc}") from None
    try:
        return _train(trainer, log)
    finally:
        if log:
            log.close()


def _set_up(args):
    """(the trainer, whether it resumes a run); any failure is a UserError: one line, no traceback."""
    from convviz.data import DataError, load_dataset
    from convviz.export import ExportError
    from convviz.model import SpecFormatError
    from convviz.training.checkpoint import (
        CheckpointError,
        load_checkpoint,
        resume_trainer,
    )
    from convviz.training.fine_tune import start_from
    from convviz.training.trainer import Trainer, TrainingError

    try:
        checkpoint = load_checkpoint(args.resume) if args.resume else None
        if checkpoint and args.spec and _spec(args.spec) != checkpoint.spec:
            raise UserError(f"{args.spec} is not the network saved in {args.resume}: leave SPEC out to resume")
        config = _config(args, checkpoint.config if checkpoint else None)
        spec, weights = (None, None) if checkpoint else _starting_point(args, config.seed)
        print(f"loading the {args.data} data set …", file=sys.stderr, flush=True)
        dataset = load_dataset(args.data, validation=config.validation, seed=config.seed)
        if checkpoint:
            trainer = resume_trainer(args.resume, dataset, checkpoint_dir=args.checkpoint or args.resume,
                                     epochs=config.epochs, threads=args.threads)
        else:
            spec, weights = _fine_tuned(args, spec, weights, len(dataset.class_names), config.seed)
            trainer = Trainer(spec, dataset, config, checkpoint_dir=args.checkpoint)
            if weights is not None:
                start_from(trainer, weights)
    except UserError:
        raise
    except (SpecFormatError, DataError, CheckpointError, TrainingError, ExportError) as exc:
        raise UserError(str(exc)) from None
    except MemoryError:
        raise UserError("there is not enough memory to set up the run: try a smaller batch (--batch) or network") from None
    except Exception as exc:  # whatever else goes wrong before the first step, say it in one line
        raise UserError(f"cannot set up the run: {type(exc).__name__}: {exc}") from None
    return trainer, checkpoint is not None


def _starting_point(args, seed: int):
    """(network, weights to start from or None) of a new run: SPEC, or ``--init``'s network and weights."""
    from convviz.export import checkpoint_source
    from convviz.export.importing import import_weights
    from convviz.model.fine_tune import same_but_switches

    spec = _spec(args.spec) if args.spec else None
    if not args.init:
        return spec, None
    if Path(args.init).is_dir() or Path(args.init).name == "checkpoint.json":
        source = checkpoint_source(args.init)
        if spec is not None and not same_but_switches(spec, source.spec):
            raise UserError(f"{args.spec} is not the network of {args.init}: leave SPEC out to train that network")
        print(f"starting from the weights of {source.origin}", file=sys.stderr, flush=True)
        return spec or source.spec, source.weights
    if spec is None:
        raise UserError(f"--init {args.init} is a weights file: give the network it belongs to (SPEC)")
    imported = import_weights(spec, args.init)
    print(f"starting from {args.init} ({imported.layout} layout)", file=sys.stderr, flush=True)
    return spec, imported.weights


def _fine_tuned(args, spec, weights, classes: int, seed: int):
    """``spec`` and ``weights`` after ``--replace-head`` and ``--freeze``; says what trains and what is frozen."""
    from convviz.model.fine_tune import freeze_up_to, replace_head, trainable_counts
    from convviz.training.fine_tune import carry_weights

    try:
        if args.replace_head is not None:
            new = replace_head(spec, args.replace_head or classes)
            weights = carry_weights(spec, weights, new, seed) if weights is not None else None
            spec = new
        if args.freeze:
            spec = freeze_up_to(spec, args.freeze)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    trainable, frozen = trainable_counts(spec)
    if not trainable:
        raise UserError(f"every layer with parameters is frozen (up to {args.freeze}): there is nothing to train")
    if frozen:
        print(f"training {trainable:,} parameters, {frozen:,} frozen", file=sys.stderr, flush=True)
    return spec, weights


def _spec(argument: str):
    from convviz.model import spec_from_argument

    try:
        return spec_from_argument(argument)
    except KeyError as exc:  # an unknown preset
        raise UserError(str(exc.args[0]) if exc.args else f"unknown network {argument!r}") from None


def _train(trainer, log) -> int:
    from convviz.commands.progress_bar import ProgressBar
    from convviz.training.records import Evaluation, Event, Metrics, record_to_json

    bar = ProgressBar()
    status = 0
    final: dict[str, float] = {}

    def interrupt(signum, frame):  # first Ctrl+C: stop cleanly between steps; second: at once
        signal.signal(signal.SIGINT, signal.default_int_handler)
        trainer.control.stop()
        bar.finish()
        print("stopping after this step (Ctrl+C again to quit at once) …", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        for record in trainer.run():
            if log:
                log.write(json.dumps(record_to_json(record), allow_nan=False) + "\n")
                log.flush()
            if isinstance(record, Metrics):
                eta = "" if record.eta_seconds is None else f" · ETA {_clock(record.eta_seconds)}"
                bar.update(
                    record.step / trainer.total_steps,
                    f"epoch {record.epoch}/{trainer.config.epochs} · loss {record.smoothed_loss:.3f} · "
                    f"acc {record.batch_accuracy:.0%} · {record.images_per_second:,.0f} img/s{eta}",
                )
            elif isinstance(record, Evaluation):
                final[record.split] = record.accuracy
            elif isinstance(record, Event) and record.kind not in ("paused", "resumed"):
                bar.finish()
                stream = sys.stderr if record.kind in ("error", "diverged", "started") else sys.stdout
                print(record.message, file=stream, flush=True)
                if record.kind in ("error", "diverged", "stopped"):
                    status = 130 if record.kind == "stopped" else 1
                    trainer.control.stop()
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.finish()
    if "test" in final:
        print(f"final test accuracy: {final['test']:.2%}")
    return status


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"
