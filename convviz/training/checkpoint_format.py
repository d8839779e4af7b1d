"""The checkpoint folder on disk: writing one safely, and reading one without trusting it.

A checkpoint is a folder holding two files:

``checkpoint.json`` (format ``convviz-checkpoint``, version 1)
    ``step``, ``epoch`` (epochs completed), ``batch_index`` (batches done in the current epoch),
    ``lr_scale`` (always 1: older ConvViz could scale the schedule's learning rate), ``smoothed_loss``,
    ``config`` (the TrainConfig), ``spec`` (the network file's contents), ``dataset`` (name, split
    sizes, class names), ``rng`` and ``optimizer`` (the JSON parts of the random generators' and
    optimizer's state), ``history`` (metric and evaluation records), ``arrays`` (the name of the
    arrays file) and ``arrays_sha256`` (its checksum).
``arrays-STEP.npz``
    ``weights/NAME`` and ``buffers/NAME`` (the network), ``optimizer/KEY`` and ``rng/KEY`` (the
    array parts of those states), ``epoch_order`` (the current epoch's order of training images).

The folder holds a trainer's :meth:`~convviz.training.trainer.Trainer.state_dict` and what the
trainer was built from (spec, config, data set). Saving writes the new arrays file under a new name,
then replaces ``checkpoint.json`` atomically, then removes the old arrays file: a crash at any point
leaves one complete checkpoint.

Loading checks the index, the checksum and every array's ``.npy`` header (numbers only, never
pickles; the declared size must be the size stored) before reading any array, and reads an array
only once its declared name, shape and dtype are those of the network it is for: a damaged or
hostile checkpoint is refused with a clear :class:`CheckpointError`, never a MemoryError.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convviz.atomic import atomic_write, write_text_atomic
from convviz.model import SpecFormatError, spec_from_dict, spec_to_dict
from convviz.model.summary import format_bytes
from convviz.training.config import ConfigError, TrainConfig

FORMAT = "convviz-checkpoint"
VERSION = 1
INDEX = "checkpoint.json"
MAX_INDEX_BYTES = 64 * 1024 * 1024
MAX_PROBLEMS = 5  # named in one message; the rest are counted


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says what is wrong with it."""


# -- a trainer's state ↔ the two files --------------------------------------------------------------------


def _to_files(state: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON parts (``rng``, ``optimizer``) and the arrays file's arrays of a trainer state."""
    arrays: dict[str, np.ndarray] = {}
    for name, value in state["weights"].items():
        arrays[f"weights/{name}"] = value
    for name, value in state["buffers"].items():
        arrays[f"buffers/{name}"] = value
    parts = {
        "optimizer": _split_state(state["optimizer"], "optimizer", arrays),
        "rng": _split_state(state["rng"], "rng", arrays),
    }
    if state["epoch_order"] is not None:
        arrays["epoch_order"] = state["epoch_order"]
    return parts, arrays


def _split_state(state, prefix: str, arrays: dict) -> object:
    """JSON-able copy of ``state`` with every numpy array moved into ``arrays`` under ``prefix/…``."""
    if isinstance(state, np.ndarray):
        arrays[prefix] = state
        return {"__array__": prefix}
    if isinstance(state, dict):
        return {str(k): _split_state(v, f"{prefix}/{k}", arrays) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_split_state(v, f"{prefix}/{i}", arrays) for i, v in enumerate(state)]
    if isinstance(state, np.generic):
        return state.item()
    return state


def _join_state(state, arrays) -> object:
    if isinstance(state, dict):
        if set(state) == {"__array__"}:
            key = state["__array__"]
            if key not in arrays:
                raise CheckpointError(f"the arrays file lacks {key!r}")
            return arrays[key]
        return {k: _join_state(v, arrays) for k, v in state.items()}
    if isinstance(state, list):
        return [_join_state(v, arrays) for v in state]
    return state


# -- saving -----------------------------------------------------------------------------------------------


def save_checkpoint(trainer, folder: str | os.PathLike) -> Path:
    """Write ``trainer``'s whole state (``trainer.state_dict()``, with its ``spec``, ``config`` and
    ``dataset``) into ``folder`` (created if needed); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = trainer.state_dict()
    parts, arrays = _to_files(state)
    arrays_name = f"arrays-{state['step']:09d}.npz"
    old_index = _read_json_quietly(folder / INDEX)
    with atomic_write(folder / arrays_name, "wb") as handle:
        np.savez(handle, **arrays)
    dataset = trainer.dataset
    index = {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "step": state["step"],
        "epoch": state["epoch"],
        "batch_index": state["batch_index"],
        "lr_scale": 1.0,
        "smoothed_loss": state["smoothed_loss"],
        "config": trainer.config.to_dict(),
        "spec": spec_to_dict(trainer.spec),
        "dataset": {
            "name": dataset.name,
            "classes": list(dataset.class_names),
            "splits": {split: len(dataset.split(split)) for split in ("train", "validation", "test")},
        },
        "rng": parts["rng"],
        "optimizer": parts["optimizer"],
        "history": state["history"],
        "arrays": arrays_name,
        "arrays_sha256": _sha256(folder / arrays_name),
    }
    write_text_atomic(folder / INDEX, json.dumps(index, indent=1, allow_nan=False) + "\n")
    old_arrays = (old_index or {}).get("arrays")
    if isinstance(old_arrays, str) and old_arrays != arrays_name and _is_arrays_name(old_arrays):
        try:
            (folder / old_arrays).unlink()
        except OSError:
            pass
    return folder


# -- loading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrayHeader:
    """What an ``.npy`` member says it holds, read before any of its data."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class Checkpoint:
    """A checkpoint whose index, checksum and array headers were checked; its arrays are read by
    :meth:`trainer_state`, against the network they are for (see ``resume_trainer``)."""

    def __init__(self, folder: Path, index: dict, headers: dict[str, ArrayHeader]):
        self.folder = folder
        self.index = index
        self.headers = headers

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.index["config"])

    @property
    def spec(self):
        return spec_from_dict(self.index["spec"], "checkpoint.json spec")

    @property
    def arrays_path(self) -> Path:
        return self.folder / self.index["arrays"]

    def trainer_state(self, template: dict, train_count: int) -> dict:
        """The saved trainer state, in the form of ``Trainer.state_dict()``.

        ``template``: the state of a trainer built from this checkpoint's spec and config (its
        ``state_dict()``); every array is read only if its name, shape and kind of number are the
        template's, ``epoch_order`` only if it is ``train_count`` whole numbers. Raises CheckpointError.
        """
        _, template_arrays = _to_files(template)
        expected = {name: (a.shape, _kind(a.dtype)) for name, a in template_arrays.items()}
        expected["epoch_order"] = ((train_count,), "i")
        problems = [f"the arrays file lacks {name}" for name in expected
                    if name not in self.headers and name != "epoch_order"]
        for name, header in self.headers.items():
            if name not in expected:
                problems.append(f"{name} is not part of this network's state")
                continue
            shape, kind = expected[name]
            if header.shape != shape:
                problems.append(f"{name} has shape {header.shape}, expected {shape}")
            elif _kind(header.dtype) != kind:
                problems.append(f"{name} holds {header.dtype} values, expected {KIND_WORDS[kind]} numbers")
        if problems:
            more = f"; and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
            raise CheckpointError("the checkpoint does not fit its network: " + "; ".join(problems[:MAX_PROBLEMS]) + more)
        arrays = _read_arrays(self.arrays_path, self.headers)
        index = self.index
        smoothed = index.get("smoothed_loss")
        return {
            "step": index["step"],
            "epoch": index["epoch"],
            "batch_index": index["batch_index"],
            "smoothed_loss": float(smoothed) if isinstance(smoothed, (int, float)) and not isinstance(smoothed, bool) else None,
            "history": list(index["history"]),
            "epoch_order": arrays.get("epoch_order"),
            "rng": _join_state(index["rng"], arrays),
            "weights": {name[len("weights/"):]: a for name, a in arrays.items() if name.startswith("weights/")},
            "buffers": {name[len("buffers/"):]: a for name, a in arrays.items() if name.startswith("buffers/")},
            "optimizer": _join_state(index["optimizer"], arrays),
        }


KIND_WORDS = {"f": "floating-point", "i": "whole", "b": "true/false"}


def _kind(dtype: np.dtype) -> str:
    """``f``, ``i`` (signed or not) or ``b``: what an array may hold where the network expects ``dtype``."""
    return "i" if dtype.kind in "iu" else dtype.kind


def load_checkpoint(folder: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint folder (or its ``checkpoint.json``); raise CheckpointError if damaged.

    Arrays are not read yet, only their headers: see :meth:`Checkpoint.trainer_state`.
    """
    folder = Path(folder)
    if folder.name == INDEX:
        folder = folder.parent
    index_path = folder / INDEX
    if not index_path.is_file():
        raise CheckpointError(f"{folder} is not a checkpoint: it has no {INDEX}")
    try:
        size = index_path.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise CheckpointError(f"{INDEX} is {size:,} bytes, more than a checkpoint index can be")
        index = json.loads(index_path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except CheckpointError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{INDEX} is damaged: {exc}") from None
    _check_index(index)
    try:
        spec_from_dict(index["spec"], "checkpoint.json spec")
        TrainConfig.from_dict(index["config"])
    except (SpecFormatError, ConfigError) as exc:
        raise CheckpointError(f"{INDEX}: {exc}") from None
    arrays_path = folder / index["arrays"]
    if not arrays_path.is_file():
        raise CheckpointError(f"the arrays file {index['arrays']} is missing from {folder}")
    if _sha256(arrays_path) != index["arrays_sha256"]:
        raise CheckpointError(f"{index['arrays']} does not match its checksum: the file is damaged or was changed")
    return Checkpoint(folder, index, _read_headers(arrays_path))


def _check_index(index) -> None:
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise CheckpointError(f"{INDEX} is not a ConvViz checkpoint (format {FORMAT!r} expected)")
    version = index.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{INDEX}: version must be a positive whole number, got {version!r}")
    if version > VERSION:
        raise CheckpointError(f"the checkpoint is version {version}, written by a newer ConvViz; this one reads {VERSION}")
    expected = {
        "step": int, "epoch": int, "batch_index": int, "lr_scale": (int, float), "config": dict, "spec": dict,
        "dataset": dict, "rng": dict, "optimizer": (dict, list, int, float, type(None)), "history": list,
        "arrays": str, "arrays_sha256": str,
    }
    for key, kind in expected.items():
        value = index.get(key)
        if key not in index:
            raise CheckpointError(f"{INDEX}: {key} is missing")
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise CheckpointError(f"{INDEX}: {key} has the wrong type ({type(value).__name__})")
    for key in ("step", "epoch", "batch_index"):
        if index[key] < 0:
            raise CheckpointError(f"{INDEX}: {key} must be ≥ 0, got {index[key]}")
    if index["lr_scale"] != 1:
        # Nothing in ConvViz ever set another value; resuming without it would not be the same run.
        raise CheckpointError(f"{INDEX}: lr_scale is {index['lr_scale']}, but learning-rate scaling is gone from "
                              "ConvViz (only 1 can be resumed): set the learning rate in the config instead")
    if not _is_arrays_name(index["arrays"]):
        raise CheckpointError(f"{INDEX}: arrays must name an arrays-NNN.npz file beside it, got {index['arrays']!r}")


def _is_arrays_name(name: str) -> bool:
    return name.startswith("arrays-") and name.endswith(".npz") and "/" not in name and "\\" not in name and ".." not in name


def _read_headers(path: Path) -> dict[str, ArrayHeader]:
    """Every array's header in an .npz, checked to hold numbers of exactly the size it declares."""
    headers: dict[str, ArrayHeader] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise CheckpointError(f"{path.name} holds {info.filename!r}, which is not an array")
                name = info.filename[: -len(".npy")]
                if name in headers:
                    raise CheckpointError(f"{path.name} holds {name} twice")
                with archive.open(info) as member:
                    header = _read_header(member, f"{path.name}: {name}")
                    stored = info.file_size - member.tell()
                if header.nbytes != stored:
                    raise CheckpointError(
                        f"{path.name}: {name} declares shape {header.shape} of {header.dtype} "
                        f"({format_bytes(header.nbytes)}) but holds {format_bytes(max(stored, 0))}: refused"
                    )
                headers[name] = header
    except CheckpointError:
        raise
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise CheckpointError(f"{path.name} is damaged or truncated: {exc}") from None
    return headers


def _read_header(member, where: str) -> ArrayHeader:
    """An ``.npy`` header (format 1.0 or 2.0, as numpy writes), refusing anything but plain numbers."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise CheckpointError(f"{where} is an .npy file of version {version}, which checkpoints never use")
    except CheckpointError:
        raise
    except (ValueError, EOFError) as exc:
        raise CheckpointError(f"{where} has a damaged array header: {exc}") from None
    if dtype.hasobject:
        raise CheckpointError(
            f"{where} holds pickled Python objects, which a checkpoint never does: refused without loading them"
        )
    if dtype.kind not in "fiub" or dtype.fields is not None or dtype.subdtype is not None:
        raise CheckpointError(f"{where} has dtype {dtype}, not numbers")
    if any(size < 0 for size in shape):
        raise CheckpointError(f"{where} declares the impossible shape {shape}")
    return ArrayHeader(tuple(shape), dtype, bool(fortran_order))


def _read_arrays(path: Path, headers: dict[str, ArrayHeader]) -> dict[str, np.ndarray]:
    """Every array of an .npz whose headers were checked; each header must still say the same."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name, header in headers.items():
                with archive.open(f"{name}.npy") as member:
                    if _read_header(member, f"{path.name}: {name}") != header:
                        raise CheckpointError(f"{path.name} changed while it was read")
                    data = bytearray(header.nbytes)
                    view, filled = memoryview(data), 0
                    while filled < len(data):
                        count = member.readinto(view[filled:])
                        if not count:
                            raise CheckpointError(f"{path.name}: {name} is truncated")
                        filled += count
                array = np.frombuffer(data, header.dtype).reshape(header.shape, order="F" if header.fortran_order else "C")
                arrays[name] = array.astype(header.dtype.newbyteorder("="), copy=False)
    except CheckpointError:
        raise
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, ValueError) as exc:
        raise CheckpointError(f"{path.name} is damaged or truncated: {exc}") from None
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise CheckpointError(f"{path.name}: {name} contains NaN or infinity")
    return arrays


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json_quietly(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in a checkpoint")
