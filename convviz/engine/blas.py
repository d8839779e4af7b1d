"""BLAS threads: the engine's kernels run with the count that measured fastest, user code is untouched.

Setting OPENBLAS_NUM_THREADS only works before numpy is loaded, and would change every user's
program. Instead this module sets the thread count of numpy's BLAS library (its bundled OpenBLAS,
or MKL, or BLIS), found by ``threadpoolctl``, and only while an engine kernel runs:

    ENGINE_THREADS            threads for engine kernels; env CONVVIZ_BLAS_THREADS=N overrides it,
                              CONVVIZ_BLAS_THREADS=off leaves BLAS alone
    blas_library()            the library found (path and API), or None (e.g. Apple's Accelerate)
    get_threads()             the library's current thread count, or None
    set_threads(n)            set it; returns the previous count (None: nothing to control)
    limit_threads(n)          context manager: n threads inside, the previous count after
    engine_threads            decorator the kernels wear: ENGINE_THREADS inside the call (nested or
                              concurrent kernel calls set it once and restore it once)
    settle_process_threads()  for processes that are the engine's own (the app, the command line):
                              ENGINE_THREADS for the whole process, so nothing switches per call

A trainer can wrap a whole step in ``limit_threads(ENGINE_THREADS)`` so its own small matrix
products (FC layers) run the same way. bench/bench_kernels.py prints the 1- and 2-thread figures.

Cost: one ``ThreadpoolController`` is made on first use (it scans the loaded libraries, about a
millisecond) and its per-library ``get_num_threads``/``set_num_threads`` are called directly: a
set-and-restore costs about 1.4 µs, against 5.8 µs for ``controller.limit(...)``, which builds a
new limiter and rereads every library each time (bench/bench_kernels.py ``--blas-overhead``).
"""

from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np  # noqa: F401 (numpy's BLAS must be loaded before the controller looks for it)
from threadpoolctl import ThreadpoolController

# On the 2-core machine one OpenBLAS thread beat two for the ConvNetJS net (bench/bench_kernels.py),
# and a second BLAS thread spinning on the other core made the GUI's timers late. To use both cores
# the network splits the batch across Python threads instead (``Network(..., threads=2)``), each
# running BLAS on one thread.
ENGINE_THREADS = 1
ENV_VAR = "CONVVIZ_BLAS_THREADS"


@dataclass(frozen=True)
class BlasLibrary:
    """The BLAS libraries threadpoolctl found loaded (usually one: numpy's); ``path`` and ``api``
    describe the first, ``controllers`` are threadpoolctl's per-library controllers."""

    path: str
    api: str  # threadpoolctl's internal_api: "openblas", "mkl", "blis" …
    controllers: tuple


@functools.cache
def blas_library() -> BlasLibrary | None:
    """The BLAS library numpy loaded, if threadpoolctl can control it; None otherwise."""
    controllers = tuple(ThreadpoolController().select(user_api="blas").lib_controllers)
    if not controllers:
        return None
    return BlasLibrary(controllers[0].filepath, controllers[0].internal_api, controllers)


def get_threads() -> int | None:
    lib = blas_library()
    return None if lib is None else int(lib.controllers[0].get_num_threads())


def set_threads(n: int | None) -> int | None:
    """Set the BLAS thread count to ``n`` (None: leave it); returns the previous count or None."""
    lib = blas_library()
    if lib is None or n is None:
        return None
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"BLAS threads must be a positive integer, got {n!r}")
    previous = int(lib.controllers[0].get_num_threads())
    if n != previous:
        for controller in lib.controllers:
            controller.set_num_threads(n)
    return previous


@contextmanager
def limit_threads(n: int | None = ENGINE_THREADS):
    """Run the block with ``n`` BLAS threads, then restore the previous count."""
    previous = set_threads(n)
    try:
        yield
    finally:
        set_threads(previous)


def configured_threads() -> int | None:
    """ENGINE_THREADS, or what CONVVIZ_BLAS_THREADS says ("off": None, leave BLAS alone)."""
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return ENGINE_THREADS
    if value.lower() == "off":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{ENV_VAR} must be a positive integer or 'off', got {value!r}")
    return int(value)


def settle_process_threads() -> int | None:
    """Set numpy's BLAS to ``configured_threads()`` for the rest of the process; returns the count set.

    For the app and the command line, whose numpy work is the engine's; call it from the main
    thread, before other threads use BLAS. Once numpy's OpenBLAS (0.3.31 here) has run a product on
    two threads, a Python thread other than the main one can no longer lower the count
    (``set_threads(1)`` there leaves ``get_threads()`` at 2): the engine's kernels on the app's
    training thread then ran their small products on two BLAS threads, a ConvNetJS step took
    40–330 ms instead of 22, and a two-core step's helper process lost its core to OpenBLAS's
    spinning worker. With the count settled at start, ``engine_threads`` changes nothing.
    """
    threads = configured_threads()
    set_threads(threads)
    return threads


class _Scope:
    lock = threading.Lock()
    depth = 0
    saved: int | None = None


def engine_threads(func):
    """Decorator: run ``func`` with configured_threads() BLAS threads, then restore the count.

    The count is process-wide: the outermost of nested or concurrent engine calls sets it and the
    last to finish restores it (the batch halves of a two-thread step run inside one scope).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _Scope.lock:
            if _Scope.depth == 0:
                _Scope.saved = set_threads(configured_threads())
            _Scope.depth += 1
        try:
            return func(*args, **kwargs)
        finally:
            with _Scope.lock:
                _Scope.depth -= 1
                if _Scope.depth == 0:
                    set_threads(_Scope.saved)

    return wrapper
