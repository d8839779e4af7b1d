"""The optimizer and the learning-rate schedule a :class:`~convviz.training.config.TrainConfig` asks for."""

from __future__ import annotations

from collections.abc import Callable

from convviz.training.config import TrainConfig


def make_optimizer(config: TrainConfig, params: dict):
    """An engine optimizer (``SGD`` or ``Adam``) over ``params`` (stable name → live array)."""
    from convviz.engine.optim import SGD, Adam

    if config.optimizer == "adam":
        return Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    momentum = 0.0 if config.optimizer == "sgd" else config.momentum
    return SGD(params, lr=config.lr, momentum=momentum, nesterov=config.optimizer == "nesterov",
               weight_decay=config.weight_decay)


def make_schedule(config: TrainConfig, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    """step → learning rate: ``constant``, ``step`` (× gamma every ``step_epochs``) or ``cosine``."""
    from convviz.engine.optim import CosineLR, StepLR

    if config.schedule == "step":
        return StepLR(config.lr, max(1, round(config.step_epochs * steps_per_epoch)), config.gamma).lr_at
    if config.schedule == "cosine":
        return CosineLR(config.lr, total_steps, config.min_lr).lr_at
    return lambda step: config.lr
