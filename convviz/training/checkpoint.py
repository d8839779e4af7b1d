"""Checkpoints: save a run and resume it exactly where it stopped.

    save_checkpoint(trainer, "run")                   # also done by the trainer itself when asked
    trainer = resume_trainer("run", dataset)          # a Trainer that goes on from there

A checkpoint holds :meth:`Trainer.state_dict() <convviz.training.trainer.Trainer.state_dict>` and
what the trainer was built from; the folder's format, and how a damaged or hostile one is refused,
are in :mod:`convviz.training.checkpoint_format`. Dependencies go one way: this module builds
trainers, the trainer writes checkpoints through ``checkpoint_format``, which knows neither.
"""

from __future__ import annotations

import os

from convviz.training.checkpoint_format import (
    FORMAT,
    INDEX,
    VERSION,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from convviz.training.trainer import Trainer

__all__ = [
    "FORMAT", "INDEX", "VERSION", "Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint", "resume_trainer",
]


def resume_trainer(folder: str | os.PathLike, dataset, *, checkpoint_dir: str | os.PathLike | None = None,
                   memory_limit: int | None = None, epochs: int | None = None, threads: int | None = None,
                   control=None) -> Trainer:
    """A Trainer that continues the checkpointed run on ``dataset`` exactly where it stopped.

    ``epochs`` may extend the run beyond its configured number of epochs; ``threads`` (default: the
    run's own) is how many threads share each step from now on (the numbers agree up to rounding).
    Raises CheckpointError for a damaged checkpoint, one that does not fit its own network, other data
    than it was trained on, or imported weights that no run here has trained yet (start one from them
    with ``convviz train --init FOLDER``).
    """
    checkpoint = load_checkpoint(folder)
    config = checkpoint.config
    if epochs is not None:
        config = config.replace(epochs=epochs)
    if threads is not None:
        config = config.replace(threads=threads)
    saved = checkpoint.index["dataset"]
    if not any((saved.get("splits") or {}).values()):  # written by import-weights: no data set, step 0
        raise CheckpointError(
            f"{folder} holds imported weights, not a run to resume: start a run from them with "
            f"convviz train --init {folder} --data …"
        )
    splits = {split: len(dataset.split(split)) for split in ("train", "validation", "test")}
    if saved.get("splits") != splits or saved.get("classes") != list(dataset.class_names):
        raise CheckpointError(
            f"the checkpoint was trained on {saved.get('name')} with splits {saved.get('splits')}; "
            f"{dataset.name} has {splits}: resume with the same data set and validation split"
        )
    trainer = Trainer(checkpoint.spec, dataset, config, checkpoint_dir=checkpoint_dir, memory_limit=memory_limit,
                      control=control)
    state = checkpoint.trainer_state(trainer.state_dict(), trainer.train_count)
    try:
        trainer.load_state_dict(state)
    except ValueError as exc:
        raise CheckpointError(f"the checkpoint does not fit its network: {exc}") from None
    return trainer
