"""Arrays in memory that another process maps too: the parameters, buffers and gradients a network
shares with its helper processes (``convviz.engine.processes``).

    block = SharedBlock.create({"conv1.weight": ((16, 3, 5, 5), float32), …})
    block.arrays["conv1.weight"]                 # a numpy view into the shared memory
    SharedBlock.attach(block.fd, block.layout)   # the same memory in the helper (fd passed to it)

The memory is an anonymous file (``os.memfd_create`` on Linux; elsewhere an unlinked temporary
file): it is not counted against /dev/shm, whose 64 MB limit in containers is smaller than one
VGG-16, and the kernel frees it when the last process holding it ends. Each array starts on a
64-byte boundary (one cache line).
"""

from __future__ import annotations

import mmap
import os
import tempfile

import numpy as np

ALIGN = 64


def supported() -> bool:
    """The memory can be shared with a child process here (POSIX: file descriptors passed on)."""
    return os.name == "posix"


def _anonymous_file(size: int) -> int:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("convviz-engine", 0)  # not inheritable: passed explicitly (pass_fds)
    else:
        fd, path = tempfile.mkstemp(prefix="convviz-engine-")
        os.unlink(path)
    os.ftruncate(fd, max(size, 1))
    return fd


class SharedBlock:
    """Named arrays in one shared mapping. ``layout``: name → (offset, shape, dtype string)."""

    def __init__(self, fd: int, layout: dict, size: int):
        self.fd, self.layout, self.size = fd, layout, size
        self._map = mmap.mmap(fd, max(size, 1), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.arrays = {
            name: np.ndarray(shape, np.dtype(dtype), buffer=self._map, offset=offset)
            for name, (offset, shape, dtype) in layout.items()
        }

    @classmethod
    def create(cls, specs: dict) -> "SharedBlock":
        """A zeroed block with an array of each (shape, dtype) in ``specs``."""
        layout, offset = {}, 0
        for name, (shape, dtype) in specs.items():
            dtype = np.dtype(dtype)
            layout[name] = (offset, tuple(int(s) for s in shape), dtype.str)
            offset += -(-int(np.prod(shape, dtype=np.int64)) * dtype.itemsize // ALIGN) * ALIGN
        return cls(_anonymous_file(offset), layout, offset)

    @classmethod
    def attach(cls, fd: int, layout: dict) -> "SharedBlock":
        """The block another process created, from its file descriptor and layout."""
        size = max((offset + int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
                    for offset, shape, dtype in layout.values()), default=0)
        return cls(fd, layout, size)

    def close(self) -> None:
        """Unmap and close the file (the arrays must not be used after this)."""
        self.arrays = {}
        try:
            self._map.close()
        except BufferError:  # a view is still alive somewhere: the mapping goes with the process
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def share_arrays(owners, kind: str) -> SharedBlock:
    """Move ``kind`` ("params", "buffers" or "grads") of every layer in ``owners`` into one shared
    block: each array's values are copied and the layer's dict entry rebound to the shared view.
    Names are "layer.key", as ``Network.params()`` gives them."""
    layers = list(owners)
    specs = {f"{layer.name}.{key}": (a.shape, a.dtype) for layer in layers for key, a in getattr(layer, kind).items()}
    block = SharedBlock.create(specs)
    rebind(layers, kind, block, copy=True)
    return block


def rebind(layers, kind: str, block: SharedBlock, copy: bool = False) -> None:
    """Point every layer's ``kind`` entries at ``block``'s arrays of the same name (ValueError when a
    name is missing or a shape differs); ``copy``: carry the current values over."""
    for layer in layers:
        entries = getattr(layer, kind)
        for key, current in entries.items():
            name = f"{layer.name}.{key}"
            shared = block.arrays.get(name)
            if shared is None or shared.shape != current.shape or shared.dtype != current.dtype:
                raise ValueError(f"shared {kind}: {name} {current.shape} does not match the block")
            if copy:
                shared[...] = current
            entries[key] = shared
