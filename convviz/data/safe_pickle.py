"""Unpickle CIFAR-10 batches without trusting them.

The official CIFAR-10 archive is a set of Python-2 pickles, and ``pickle.load`` on an untrusted file
can run any code: a pickle may name any importable callable (``os.system``, ``builtins.eval`` …) and
call it. ``safe_loads`` admits only what a CIFAR-10 batch contains: dicts, lists, tuples, strings,
bytes, ints, bools, None, and numpy arrays as numpy pickles them (``_reconstruct(ndarray, (0,), b"b")``
followed by the array's state, whose dtype is built by ``numpy.dtype``). Any other global is refused
before anything is called.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

from convviz.data.errors import DataError, UnsafePickleError

#: numpy's array reconstructor, wherever this numpy keeps it (numpy.core or numpy._core)
_numpy_reconstruct = np.zeros(0).__reduce__()[0]

#: plain numeric dtypes a batch may hold; no object, string or structured dtypes
_ALLOWED_DTYPES = frozenset("b1 i1 u1 i2 u2 i4 u4 i8 u8 f2 f4 f8".split())

ALLOWED_GLOBALS_TEXT = (
    "dicts, lists, strings, bytes, ints and numpy arrays "
    "(numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype)"
)


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` inside a pickle: usable only as ``_reconstruct``'s first argument."""

    def __repr__(self) -> str:
        return "numpy.ndarray"

    def __call__(self, *args, **kwargs):
        raise UnsafePickleError("the pickle calls numpy.ndarray directly; numpy only passes it to _reconstruct")


_NDARRAY = _NdarrayToken()


def _reconstruct(subtype, shape, dtype_code):
    """``numpy.core.multiarray._reconstruct`` limited to what numpy itself writes: an empty ndarray."""
    if subtype is not _NDARRAY or tuple(shape) != (0,) or dtype_code not in (b"b", "b"):
        raise UnsafePickleError(
            f"numpy._reconstruct called as ({subtype!r}, {shape!r}, {dtype_code!r}); numpy writes "
            "(numpy.ndarray, (0,), 'b')"
        )
    return _numpy_reconstruct(np.ndarray, (0,), b"b")


def _dtype(name, align=False, copy=True):
    """``numpy.dtype`` limited to plain numeric types such as ``u1`` or ``<i8``."""
    text = name.decode("latin-1") if isinstance(name, bytes) else name
    if not isinstance(text, str) or text.lstrip("<>|=") not in _ALLOWED_DTYPES:
        raise UnsafePickleError(f"numpy.dtype({name!r}) is not a plain numeric type")
    return np.dtype(text, bool(align), bool(copy))


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str):
        super().__init__(file, encoding="bytes")
        self._source = source

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self._source}: the pickle asks for {module}.{name}, which a CIFAR-10 batch never "
                f"contains; refused without running anything. A batch may contain only "
                f"{ALLOWED_GLOBALS_TEXT}."
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self._source}: the pickle asks for a persistent object, which a CIFAR-10 batch never contains")


def safe_loads(data: bytes, source: str) -> object:
    """Unpickle ``data`` (read from ``source``, named in errors), admitting only CIFAR-10 batch contents.

    Raises ``UnsafePickleError`` for anything else and ``DataError`` for a damaged pickle.
    """
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError as exc:
        if str(exc).startswith(source):
            raise
        raise UnsafePickleError(f"{source}: {exc}; refused") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, OverflowError, MemoryError, UnicodeDecodeError) as exc:
        raise DataError(f"{source} is not a readable CIFAR-10 batch (damaged or not a pickle): {exc}") from None
