"""Weights as safetensors files: ConvViz's stable names → float32 arrays, no pickle anywhere.

    write_weights(path, weights, metadata={"network": "ResNet-20"})
    header = read_header(path)      # {name: (shape, dtype)} from the file's JSON header, no data read
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from convviz.atomic import write_bytes_atomic
from convviz.export.source import ExportError

MAX_HEADER_BYTES = 100 * 1024 * 1024

#: safetensors dtype codes → numpy dtypes (the ones weights can be; BF16 is refused by name).
DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError:
        raise ExportError("writing and reading .safetensors files needs the safetensors package: "
                          "pip install safetensors (or pip install 'convviz[export]')") from None
    return safetensors.numpy


def write_weights(path: str | os.PathLike, weights: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> Path:
    """Write ``weights`` (name → array, stored as float32) to ``path`` atomically."""
    st = _safetensors()
    arrays = {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in weights.items()}
    data = st.save(arrays, metadata={k: str(v) for k, v in (metadata or {}).items()} or None)
    write_bytes_atomic(path, data)
    return Path(path)


def read_header(path: str | os.PathLike) -> tuple[dict[str, tuple[tuple[int, ...], str]], dict[str, str]]:
    """({name: (shape, dtype code)}, metadata) from a safetensors file's header, reading no tensor data.

    The header is checked for what the format requires (8-byte length, JSON, offsets inside the file),
    so a damaged file is refused with ExportError before anything is loaded.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            raw = handle.read(8)
            if len(raw) < 8:
                raise ExportError(f"{path.name} is not a safetensors file: it is {size} bytes long")
            (length,) = struct.unpack("<Q", raw)
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise ExportError(f"{path.name} is not a safetensors file: its header would be {length:,} bytes")
            header = json.loads(handle.read(length))
    except ExportError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path.name} is not a readable safetensors file: {exc}") from None
    if not isinstance(header, dict):
        raise ExportError(f"{path.name} is not a safetensors file: its header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    entries = {}
    data_size = size - 8 - length
    for name, entry in header.items():
        try:
            shape, dtype, (start, end) = tuple(int(n) for n in entry["shape"]), str(entry["dtype"]), entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ExportError(f"{path.name}: the entry of {name!r} is damaged") from None
        if not 0 <= start <= end <= data_size:
            raise ExportError(f"{path.name}: {name} lies outside the file (the file is truncated or damaged)")
        entries[name] = (shape, dtype)
    return entries, {str(k): str(v) for k, v in metadata.items()}


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a numpy array (call after checking ``read_header``)."""
    st = _safetensors()
    try:
        return st.load_file(str(path))
    except Exception as exc:  # safetensors raises its own SafetensorError for damaged files
        raise ExportError(f"{Path(path).name} cannot be read: {exc}") from None
