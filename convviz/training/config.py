"""How a run trains: optimizer, schedule, batch size, epochs, augmentation, seed, validation split, threads.

Absurd values are refused when the configuration is built, with what is allowed and what was given,
so a typo in a spin box or on the command line never starts a run that cannot work.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("constant", "step", "cosine")


class ConfigError(ValueError):
    """A training setting outside what can work; the message names the setting."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run. Same seed and config give the same run, number for number."""

    optimizer: str = "momentum"  # sgd, momentum, nesterov or adam
    lr: float = 0.01
    momentum: float = 0.9  # for momentum and nesterov
    weight_decay: float = 5e-4  # L2, not applied to biases and batch-norm parameters
    schedule: str = "cosine"  # constant, step or cosine (decays lr to min_lr over the run)
    step_epochs: float = 10.0  # step schedule: multiply lr by gamma every step_epochs epochs
    gamma: float = 0.1
    min_lr: float = 0.0  # cosine schedule's floor
    batch_size: int = 64
    epochs: int = 10
    augment: bool = True  # random horizontal flip and random crop with 4 pixels of padding
    seed: int = 0
    validation: float = 0.1  # fraction of training images held out (set when the data set is built)
    clip_norm: float = 0.0  # clip the global gradient norm to this (0 = off)
    metrics_every: int = 10  # steps between metric records
    probe_images: int = 10  # validation images the snapshots show: the first of each class, in class order
    # Cores that share each step's batch (convviz.engine.parallel; part 1 … in helper processes,
    # convviz.engine.processes). Two measured fastest on the 2-core machine (bench/bench_train.py,
    # batch 64, 2026-12-01: 1.86× one thread on ConvNetJS, 1.81× on the small VGG, 1.80× on
    # ResNet-20); the app's Training panel passes 1 by default, which keeps the window smooth. The
    # same seed gives the same run, number for number, for a given thread count.
    threads: int = 2

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Build from JSON data (a checkpoint, a settings file); unknown or mistyped keys are refused.

        A key missing takes its default, except the settings in ``SAVED_BEFORE``: a configuration
        saved before a setting existed ran with the value given there (``threads``: 1), so that its
        checkpoint resumes number for number.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"a training configuration is a JSON object, got {type(data).__name__}")
        data = {**SAVED_BEFORE, **data}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"unknown training settings: {', '.join(unknown)}")
        values = {}
        for key, value in data.items():
            default = fields[key].default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif isinstance(default, float):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                value = float(value) if ok else value
            else:
                ok = isinstance(value, str)
            if not ok:
                raise ConfigError(f"{key} must be {type(default).__name__}, got {value!r}")
            values[key] = value
        return cls(**values)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


#: What a saved configuration without the key ran with: every checkpoint saved before the thread
#: setting existed was trained on one thread.
SAVED_BEFORE = {"threads": 1}


def _problems(c: TrainConfig):
    if c.optimizer not in OPTIMIZERS:
        yield f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {c.optimizer!r}"
    if c.schedule not in SCHEDULES:
        yield f"schedule must be one of {', '.join(SCHEDULES)}, got {c.schedule!r}"
    checks = [
        ("lr", c.lr, 0.0, 10.0, False, "a learning rate above 10 diverges at once"),
        ("momentum", c.momentum, 0.0, 0.999, True, ""),
        ("weight_decay", c.weight_decay, 0.0, 1.0, True, ""),
        ("step_epochs", c.step_epochs, 0.0, 1e6, False, ""),
        ("gamma", c.gamma, 0.0, 1.0, False, ""),
        ("min_lr", c.min_lr, 0.0, 10.0, True, ""),
        ("validation", c.validation, 0.0, 0.9, True, ""),
        ("clip_norm", c.clip_norm, 0.0, 1e9, True, ""),
    ]
    for name, value, low, high, low_ok, why in checks:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            yield f"{name} must be a number, got {value!r}"
        elif value < low or (value == low and not low_ok) or value > high:
            bound = f"≥ {low:g}" if low_ok else f"> {low:g}"
            yield f"{name} must be {bound} and at most {high:g}, got {value:g}" + (f" ({why})" if why and value > high else "")
    for name, value, low, high in (
        ("batch_size", c.batch_size, 1, 8192),
        ("epochs", c.epochs, 1, 100_000),
        ("metrics_every", c.metrics_every, 1, 1_000_000),
        ("probe_images", c.probe_images, 1, 64),
        ("seed", c.seed, 0, 2**63 - 1),
        ("threads", c.threads, 1, 64),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{name} must be a whole number, got {value!r}"
        elif not low <= value <= high:
            yield f"{name} must be between {low:,} and {high:,}, got {value:,}"
