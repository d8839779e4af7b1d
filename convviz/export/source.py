"""What an export starts from: a network file (fresh weights) or a checkpoint folder (trained ones).

    source = load_source("preset:convnetjs", seed=0)     # Network(spec, seed=0)'s weights
    source = load_source("runs/cnj")                      # the checkpoint's trained weights and config
    source.spec, source.weights, source.config           # NetworkSpec, {stable name: float32 array}, TrainConfig

The checkpoint is read with ``convviz.training.checkpoint``'s checks (index, checksum, every array's
name, shape and dtype against the network before it is read), never by opening its files here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convviz.model import NetworkSpec
from convviz.training.config import TrainConfig


class ExportError(ValueError):
    """A network or file that cannot be exported or imported; the message says why."""


@dataclass(frozen=True)
class Source:
    """A network and its weights: ``weights`` holds every parameter and buffer by stable name."""

    spec: NetworkSpec
    weights: dict[str, np.ndarray]
    config: TrainConfig
    origin: str  # "preset:convnetjs (seed 0)", "checkpoint runs/cnj (step 1,400)" …


def load_source(argument: str | os.PathLike, seed: int = 0) -> Source:
    """A network file or ``preset:NAME`` with the weights ``Network(spec, seed)`` builds, or a
    checkpoint folder (or its ``checkpoint.json``) with its trained weights and training config."""
    path = Path(argument)
    if path.is_dir() or path.name == "checkpoint.json":
        return checkpoint_source(path)
    from convviz.engine import Network
    from convviz.model import SpecFormatError, spec_from_argument

    try:
        spec = spec_from_argument(argument)
    except KeyError as exc:
        raise ExportError(str(exc.args[0])) from None
    except SpecFormatError as exc:
        raise ExportError(str(exc)) from None
    try:
        net = Network(spec, seed=seed)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    return Source(spec, net.get_weights(), TrainConfig(seed=seed), f"{argument} (seed {seed})")


def checkpoint_source(folder: str | os.PathLike) -> Source:
    """The network, trained weights and config of a checkpoint folder (CheckpointError is an ExportError's cause)."""
    from convviz.engine import Network
    from convviz.training.checkpoint import CheckpointError, load_checkpoint
    from convviz.training.optimization import make_optimizer

    try:
        checkpoint = load_checkpoint(folder)
        spec, config = checkpoint.spec, checkpoint.config
        net = Network(spec, seed=config.seed)
        # The template of a trainer built from this checkpoint: what every array is checked against.
        buffer_names = set(net.buffers())
        weights = net.get_weights()
        template = {
            "weights": {n: a for n, a in weights.items() if n not in buffer_names},
            "buffers": {n: a for n, a in weights.items() if n in buffer_names},
            "optimizer": make_optimizer(config, net.trainable_params()).state_dict(),
            "rng": {"data": np.random.default_rng(0).bit_generator.state, "network": net.get_rng_state()},
            "epoch_order": None,
        }
        train_count = checkpoint.index["dataset"].get("splits", {}).get("train", 0)
        state = checkpoint.trainer_state(template, int(train_count))
    except CheckpointError as exc:
        raise ExportError(str(exc)) from None
    except ValueError as exc:
        raise ExportError(f"{folder}: {exc}") from None
    trained = {**state["weights"], **state["buffers"]}
    net.set_weights(trained)  # checks names and shapes once more; casts to float32
    return Source(spec, net.get_weights(), config, f"checkpoint {folder} (step {state['step']:,})")
