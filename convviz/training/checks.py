"""Whether a run can start: the network must fit the data set, and a training step must fit in memory.

Both checks run when a :class:`~convviz.training.trainer.Trainer` is built and raise
:class:`TrainingError` with what is wrong and what to change.
"""

from __future__ import annotations

from convviz.data.dataset import ImageDataset
from convviz.model import NetworkSpec, analyze
from convviz.model.summary import format_bytes
from convviz.training.config import TrainConfig
from convviz.training.resources import available_memory_bytes

#: The engine keeps more than the model's estimate (im2col buffers and the like); leave room for it.
ENGINE_OVERHEAD = 1.5


class TrainingError(Exception):
    """A run that cannot start or go on; the message says why and what to change."""


def check_compatible(spec: NetworkSpec, dataset: ImageDataset) -> None:
    """The network's input must be the data set's images and its output one score per class."""
    report = analyze(spec)
    if not report.valid:
        problems = "; ".join(f"{r.name}: {r.error.message}" for r in report.problems) or "its output is unknown"
        raise TrainingError(f"the network cannot be built: {problems}")
    c, h, w = dataset.image_shape
    if spec.input.chw() != (c, h, w):
        raise TrainingError(
            f"the network takes {spec.input} images but {dataset.name} has {w}×{h}×{c}: set the input volume to {w}×{h}×{c}"
        )
    out = report.output
    classes = len(dataset.class_names)
    if not out.is_flat or out.depth != classes:
        raise TrainingError(
            f"the network gives {out} scores but {dataset.name} has {classes} classes: end it with FC {classes} (and Softmax)"
        )


def check_memory(spec: NetworkSpec, config: TrainConfig, limit: int | None = None) -> None:
    """Refuse a batch whose training step would not fit in ``limit`` bytes (default: the memory
    available now), suggesting one that would."""
    limit = available_memory_bytes() if limit is None else limit
    if limit is None:
        return
    report = analyze(spec)
    optimizer = config.optimizer
    need = int(report.memory(config.batch_size, optimizer).training * ENGINE_OVERHEAD)
    if need <= limit:
        return
    largest = report.max_batch(int(limit / ENGINE_OVERHEAD), optimizer)
    advice = f"try batch {largest}" if largest >= 1 else "even one image does not fit: choose a smaller network"
    raise TrainingError(
        f"a training step with batch {config.batch_size} needs about {format_bytes(need)} but "
        f"{format_bytes(limit)} is available: {advice}"
    )
