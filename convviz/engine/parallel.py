"""One batch in several parts: the parts of a split batch and what their layers exchange.

A :class:`~convviz.engine.Network` built with ``threads=T`` splits every batch along N into T
contiguous parts (33 images on 2: 17 + 16), runs part 0 on the calling thread and the others in
helper processes (``convviz.engine.processes``, the default) or, with ``backend="thread"``, on a
small persistent pool of Python threads (:class:`Runner` here: T replicas of the layer stacks
sharing the parameter and buffer arrays, each with its own gradients and caches; they queue for the
GIL around small kernel calls, 1.04–1.48× one thread against the processes' 1.80–1.86×). The results
are joined: scores are concatenated, gradients summed.

A split batch is still one batch. The layers whose result depends on other images ask their
:class:`Part` for the rest of the batch through a :class:`Collective`:

- batch norm combines its per-slice statistics over the parts (each part's count, Σx and
  Σ(x − μ_p)² forward, in one exchange; Σdout and Σdout·x̂ backward), so every part normalises
  with the whole batch's μ and σ²; only part 0 updates the (shared) running statistics;
- dropout: part 0 draws the whole batch's mask from the network's generator, exactly the draw a
  one-thread pass makes, and every part multiplies by its rows of it.

Every part runs the same layers in the same order, so they meet at the same collectives. When a
thread part fails, the collective is aborted (the others stop waiting with ``BrokenBarrierError``)
and the part's own error is raised to the caller (helper processes: ``processes``).
"""

from __future__ import annotations

import contextvars
import functools
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MAX_THREADS = 64


def check_threads(threads) -> int:
    """``threads`` if it is a whole number from 1 to MAX_THREADS, else ValueError saying so."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be a whole number from 1 to {MAX_THREADS}, got {threads!r}")
    return int(threads)


def split_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """(start, stop) of ``parts`` contiguous runs covering range(n), the first ones one longer when
    n does not divide: split_bounds(33, 2) = [(0, 17), (17, 33)]."""
    size, extra = divmod(n, parts)
    bounds, start = [], 0
    for i in range(parts):
        stop = start + size + (i < extra)
        bounds.append((start, stop))
        start = stop
    return bounds


class Collective:
    """What the T parts of one batch exchange: each hands in a value and gets all T back, in part order.

    Two sets of slots alternate from one exchange to the next, so one barrier wait per exchange is
    enough: a part can write the slot set of exchange k + 2 only after every part has reached
    exchange k + 1, that is after every part has read exchange k.
    """

    def __init__(self, parties: int):
        self.parties = parties
        self.reset()

    def reset(self) -> None:
        """Ready for a new pass (after an aborted one)."""
        self._barrier = threading.Barrier(self.parties)
        self._slots = [[None] * self.parties, [None] * self.parties]
        self._rounds = [0] * self.parties

    def gather(self, rank: int, value) -> list:
        slots = self._slots[self._rounds[rank] & 1]
        self._rounds[rank] += 1
        slots[rank] = value
        self._barrier.wait()
        return list(slots)

    def abort(self) -> None:
        self._barrier.abort()

    @property
    def broken(self) -> bool:
        return self._barrier.broken


class Part:
    """One replica's part of the batch, as its layers see it.

    ``split`` is True while a split pass runs; then the part holds images ``start:stop`` of a batch
    of ``total``. ``rng`` is the network's dropout generator (only part 0 draws from it).
    """

    def __init__(self, owner, rank: int, collective: Collective | None):
        # a weak reference: a network no longer used is freed at once, and its thread pool with it
        self._owner = weakref.ref(owner) if owner is not None else (lambda: None)
        self.rank = rank
        self.collective = collective
        self.split = False
        self.start, self.stop, self.total = 0, 0, 0

    @property
    def rng(self) -> np.random.Generator:
        return self._owner().rng

    def gather(self, value) -> list:
        """Every part's ``value``, in part order (every part must call this at the same point)."""
        return self.collective.gather(self.rank, value)

    def sum(self, array: np.ndarray) -> np.ndarray:
        """Σ over the parts of ``array`` (a new array, the same on every part: added in part order)."""
        return functools.reduce(np.add, self.gather(array))

    def whole(self, draw):
        """The whole batch's array that ``draw()`` makes, drawn once by part 0 and shared."""
        return self.gather(draw() if self.rank == 0 else None)[0]


class Runner:
    """Runs one task per part: part 0 on the calling thread, the others on a persistent pool."""

    def __init__(self, parts: list[Part]):
        self.parts = parts
        self.collective = parts[0].collective
        self._pool = None

    def ready(self) -> bool:
        """The threads can take a split pass (always: see ``processes.ProcessRunner.ready``)."""
        return True

    def pids(self) -> list[int]:
        return []

    def run(self, bounds: list[tuple[int, int]], total: int, task, kind=None, rows=None, options=None) -> list:
        """``task(rank, start, stop)`` for every part; returns the results in part order. (``kind``,
        ``rows`` and ``options`` say the same to helper processes: ``processes.ProcessRunner.run``.)

        Each task runs in a copy of the caller's context (numpy's ``errstate`` is a context variable).
        """
        for part, (start, stop) in zip(self.parts, bounds):
            part.split, part.start, part.stop, part.total = True, start, stop, total
        futures = []
        try:
            futures = [
                self._executor().submit(contextvars.copy_context().run, self._guarded, task, rank, *bounds[rank])
                for rank in range(1, len(self.parts))
            ]
            results = [self._guarded(task, 0, *bounds[0])]
            results += [future.result() for future in futures]
            return results
        except BaseException as exc:  # a part failed, or this thread was interrupted (Ctrl+C) while waiting
            self.collective.abort()  # no part waits at a collective any more: every one ends soon
            errors = [exc]
            for future in futures:
                try:
                    future.result()
                except BaseException as other:  # noqa: BLE001 (the most telling error is raised below)
                    errors.append(other)
            telling = next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), exc)
            if telling is exc:
                raise
            raise telling from None
        finally:
            for part in self.parts:
                part.split = False
            if self.collective.broken:
                self.collective.reset()  # every part has ended: nobody waits at the old barrier

    def _guarded(self, task, rank, start, stop):
        try:
            return task(rank, start, stop)
        except BaseException:
            self.collective.abort()  # the other parts must not wait for this one at a collective
            raise

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(self.parts) - 1, thread_name_prefix="convviz-engine")
            weakref.finalize(self, self._pool.shutdown, wait=False)
        return self._pool
