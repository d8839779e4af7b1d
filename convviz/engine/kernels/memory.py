"""Let glibc keep freed memory for the next training step instead of handing it back to the system.

Every kernel call allocates arrays of a few MiB (outputs, padded inputs, gradients). By default
glibc maps such blocks fresh and unmaps them on free, so each step of the ConvNetJS net at batch 64
took about 2,400 minor page faults (≈9 MiB of pages zeroed by the kernel) and 6–10 ms of system
time (bench/bench_kernels.py). Serving blocks below 64 MiB from the heap and keeping up to 256 MiB of
freed heap removes them. The cost: the process's resident memory stays near its peak instead of
shrinking between steps; the peak itself does not grow.

This changes the whole process's malloc, so it is applied once, by the first convolution, and
CONVVIZ_KEEP_FREED_MEMORY=off leaves malloc alone. Other C libraries (musl, macOS, Windows) are
left alone too.
"""

from __future__ import annotations

import ctypes
import functools
import os

MMAP_THRESHOLD = 64 << 20  # blocks below this come from the heap, which can reuse them
TRIM_THRESHOLD = 256 << 20  # freed heap kept before any of it is returned to the system
ENV_VAR = "CONVVIZ_KEEP_FREED_MEMORY"

# glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


@functools.cache
def keep_freed_memory() -> bool:
    """Tune glibc's malloc as described above, once; True if it was applied."""
    if os.environ.get(ENV_VAR, "").strip().lower() == "off":
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # only glibc has mallopt with these meanings
        mallopt = libc.mallopt
    except (AttributeError, OSError, TypeError):
        return False
    mallopt.restype, mallopt.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
