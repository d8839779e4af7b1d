"""What a checkpoint keeps of a :class:`~convviz.training.trainer.Trainer`: its state as plain data
(:meth:`TrainerState.state_dict`), and going on from such a state exactly (:meth:`TrainerState.load_state_dict`),
checked before anything changes."""

from __future__ import annotations

import copy
import math

import numpy as np

#: The keys of ``Trainer.state_dict()``.
STATE_KEYS = ("step", "epoch", "batch_index", "smoothed_loss", "history", "epoch_order", "rng", "weights",
              "buffers", "optimizer")


class TrainerState:
    """The state half of :class:`~convviz.training.trainer.Trainer` (which holds ``net``, ``optimizer``,
    ``rng``, ``step``, ``epoch``, ``batch_index``, ``epoch_order``, ``smoothed_loss``, ``history``,
    ``train_count`` and ``steps_per_epoch``)."""

    def state_dict(self) -> dict:
        """Copies of everything the run needs to go on exactly from here (keys ``STATE_KEYS``):

        ``step`` (steps done), ``epoch`` (epochs done), ``batch_index`` (batches done in this epoch),
        ``smoothed_loss`` (None before the first step), ``history`` (the records kept, as JSON dicts),
        ``epoch_order`` ((N,) int64 order of the N training images, None between epochs), ``rng``
        (``data``: the data-order and augmentation generator's state, ``network``: the dropout
        generator's, both plain data), ``weights`` and ``buffers`` (arrays by stable name, as
        ``net.get_weights()`` gives them) and ``optimizer`` (its ``state_dict()``).
        """
        weights = self.net.get_weights()
        buffer_names = set(self.net.buffers())
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_index": self.batch_index,
            "smoothed_loss": self.smoothed_loss,
            "history": [dict(record) for record in self.history],
            "epoch_order": None if self.epoch_order is None else self.epoch_order.copy(),
            "rng": {"data": copy.deepcopy(self.rng.bit_generator.state), "network": self.net.get_rng_state()},
            "weights": {name: a for name, a in weights.items() if name not in buffer_names},
            "buffers": {name: a for name, a in weights.items() if name in buffer_names},
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Go on from ``state``, a ``state_dict()`` of a trainer built from the same spec, data set and
        config (the number of epochs may differ). Raises ValueError, changing nothing, if it does not fit."""
        previous = self.state_dict()
        try:
            self._set_state(state)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            self._set_state(previous)
            if isinstance(exc, ValueError):
                raise
            raise ValueError(f"not a trainer state: {type(exc).__name__}: {exc}") from None

    def _set_state(self, state: dict) -> None:
        missing = [key for key in STATE_KEYS if key not in state]
        if missing:
            raise ValueError(f"the state lacks {', '.join(missing)}")
        step, epoch, batch_index = (_count(state, key) for key in ("step", "epoch", "batch_index"))
        if batch_index > self.steps_per_epoch:
            raise ValueError(f"batch_index {batch_index} is beyond the {self.steps_per_epoch} batches of an epoch")
        order = state["epoch_order"]
        if order is not None:
            order = np.asarray(order)
            if (order.shape != (self.train_count,) or order.dtype.kind not in "iu"
                    or not np.array_equal(np.sort(order), np.arange(self.train_count))):
                raise ValueError(f"epoch_order is not an order of the {self.train_count} training images")
            order = order.astype(np.int64)
        elif batch_index:
            raise ValueError("the state is inside an epoch but lacks epoch_order")
        loss = state["smoothed_loss"]
        if loss is not None and not (isinstance(loss, (int, float)) and math.isfinite(loss)):
            raise ValueError(f"smoothed_loss must be a finite number or None, got {loss!r}")
        self.net.set_weights({**state["weights"], **state["buffers"]})  # each of these changes nothing
        self.optimizer.load_state_dict(state["optimizer"])  # when it raises
        self.rng.bit_generator.state = state["rng"]["data"]
        self.net.set_rng_state(state["rng"]["network"])
        self.step, self.epoch, self.batch_index, self.epoch_order = step, epoch, batch_index, order
        self.smoothed_loss = None if loss is None else float(loss)
        self.history = [dict(record) for record in state["history"]]


def _count(state: dict, key: str) -> int:
    value = int(state[key]) if isinstance(state[key], np.integer) else state[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a whole number ≥ 0, got {value!r}")
    return value
