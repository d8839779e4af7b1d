"""BLAS threads: the engine's kernels run with the count that measured fastest, user code is untouched.

Setting OPENBLAS_NUM_THREADS only works before numpy is loaded, and would change every user's
program. Instead this module calls numpy's own BLAS library (its bundled OpenBLAS, or MKL) through
ctypes, and only while an engine kernel runs:

    ENGINE_THREADS            threads for engine kernels; env CONVVIZ_BLAS_THREADS=N overrides it,
                              CONVVIZ_BLAS_THREADS=off leaves BLAS alone
    blas_library()            the library found (path and API), or None (e.g. Apple's Accelerate)
    get_threads()             the library's current thread count, or None
    set_threads(n)            set it; returns the previous count (None: nothing to control)
    limit_threads(n)          context manager: n threads inside, the previous count after
    engine_threads            decorator the kernels wear: ENGINE_THREADS inside the call (nested or
                              concurrent kernel calls set it once and restore it once)

A trainer can wrap a whole step in ``limit_threads(ENGINE_THREADS)`` so its own small matrix
products (FC layers) run the same way. bench/bench_kernels.py prints the 1- and 2-thread figures.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# On the 2-core machine one OpenBLAS thread beat two for the ConvNetJS net (bench/bench_kernels.py),
# and a second BLAS thread spinning on the other core made the GUI's timers late.
ENGINE_THREADS = 1
ENV_VAR = "CONVVIZ_BLAS_THREADS"

# (getter, setter) symbol pairs: scipy-openblas as bundled with numpy ≥ 2, plain OpenBLAS, MKL.
_APIS = (
    ("openblas", "scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas", "scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas", "openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas", "openblas_get_num_threads", "openblas_set_num_threads"),
    ("mkl", "MKL_Get_Max_Threads", "MKL_Set_Num_Threads"),
)


@dataclass(frozen=True)
class BlasLibrary:
    path: str
    api: str  # "openblas" or "mkl"
    get: object  # ctypes function () -> int
    set: object  # ctypes function (int) -> None


@functools.cache
def blas_library() -> BlasLibrary | None:
    """The BLAS library numpy loaded, if it has a thread-count API; None otherwise."""
    for path in _candidate_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for api, getter, setter in _APIS:
            if hasattr(lib, getter) and hasattr(lib, setter):
                get, set_ = getattr(lib, getter), getattr(lib, setter)
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                return BlasLibrary(path, api, get, set_)
    return None


def get_threads() -> int | None:
    lib = blas_library()
    return None if lib is None else int(lib.get())


def set_threads(n: int | None) -> int | None:
    """Set the BLAS thread count to ``n`` (None: leave it); returns the previous count or None."""
    lib = blas_library()
    if lib is None or n is None:
        return None
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"BLAS threads must be a positive integer, got {n!r}")
    previous = int(lib.get())
    if n != previous:
        lib.set(n)
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


class _Scope:
    lock = threading.Lock()
    depth = 0
    saved: int | None = None


def engine_threads(func):
    """Decorator: run ``func`` with configured_threads() BLAS threads, then restore the count."""

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


def _candidate_paths() -> list[str]:
    """numpy's bundled BLAS first (wheels), then any OpenBLAS/MKL already mapped (Linux builds)."""
    package = Path(np.__file__).resolve().parent
    bundled = [*package.parent.glob("numpy.libs/*"), *package.glob(".dylibs/*")]
    paths = [str(p) for p in sorted(bundled) if "blas" in p.name.lower()]
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        maps = []
    for line in maps:
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        name = os.path.basename(path).lower()
        if ("openblas" in name or "mkl_rt" in name) and path not in paths:
            paths.append(path)
    return paths
