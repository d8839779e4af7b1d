"""Checkpoints: save a run and resume it exactly where it stopped.

A checkpoint is a folder holding two files:

``checkpoint.json`` (format ``convviz-checkpoint``, version 1)
    ``step``, ``epoch`` (epochs completed), ``batch_index`` (batches done in the current epoch),
    ``lr_scale`` (always 1: older ConvViz could scale the schedule's learning rate), ``smoothed_loss``, ``config`` (the TrainConfig), ``spec`` (the network file's
    contents), ``dataset`` (name, split sizes, class names), ``rng`` and ``optimizer`` (the JSON parts
    of the random generators' and optimizer's state), ``history`` (metric and evaluation records),
    ``arrays`` (the name of the arrays file) and ``arrays_sha256`` (its checksum).
``arrays-STEP.npz``
    ``weights/NAME`` and ``buffers/NAME`` (the network), ``optimizer/KEY`` and ``rng/KEY`` (the
    array parts of those states), ``epoch_order`` (the current epoch's order of training images).

Saving writes the new arrays file under a new name, then replaces ``checkpoint.json`` atomically,
then removes the old arrays file: a crash at any point leaves one complete checkpoint. Loading reads
arrays with ``allow_pickle=False``, checks the checksum, every name, shape and value, and refuses a
damaged or hostile checkpoint with a clear :class:`CheckpointError`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from convviz.atomic import atomic_write, write_text_atomic
from convviz.model import SpecFormatError, spec_from_dict, spec_to_dict
from convviz.training.config import ConfigError, TrainConfig

FORMAT = "convviz-checkpoint"
VERSION = 1
INDEX = "checkpoint.json"
MAX_INDEX_BYTES = 64 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says what is wrong with it."""


# -- saving -----------------------------------------------------------------------------------------------


def save_checkpoint(trainer, folder: str | os.PathLike) -> Path:
    """Write ``trainer``'s whole state into ``folder`` (created if needed); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for name, value in trainer.net.params().items():
        arrays[f"weights/{name}"] = value
    for name, value in trainer.net.buffers().items():
        arrays[f"buffers/{name}"] = value
    optimizer_json = _split_state(trainer.optimizer.state_dict(), "optimizer", arrays)
    rng_json = _split_state(
        {"data": trainer.rng.bit_generator.state, "network": trainer.net.get_rng_state()}, "rng", arrays
    )
    if trainer.epoch_order is not None:
        arrays["epoch_order"] = trainer.epoch_order

    arrays_name = f"arrays-{trainer.step:09d}.npz"
    old_index = _read_json_quietly(folder / INDEX)
    with atomic_write(folder / arrays_name, "wb") as handle:
        np.savez(handle, **arrays)
    dataset = trainer.dataset
    index = {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "step": trainer.step,
        "epoch": trainer.epoch,
        "batch_index": trainer.batch_index,
        "lr_scale": 1.0,
        "smoothed_loss": trainer.smoothed_loss,
        "config": trainer.config.to_dict(),
        "spec": spec_to_dict(trainer.spec),
        "dataset": {
            "name": dataset.name,
            "classes": list(dataset.class_names),
            "splits": {split: len(dataset.split(split)) for split in ("train", "validation", "test")},
        },
        "rng": rng_json,
        "optimizer": optimizer_json,
        "history": trainer.history,
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


# -- loading ----------------------------------------------------------------------------------------------


class Checkpoint:
    """A checkpoint read and checked, ready to hand to a trainer (see :func:`resume_trainer`)."""

    def __init__(self, folder: Path, index: dict, arrays: dict[str, np.ndarray]):
        self.folder = folder
        self.index = index
        self.arrays = arrays

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.index["config"])

    @property
    def spec(self):
        return spec_from_dict(self.index["spec"], "checkpoint.json spec")


def load_checkpoint(folder: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint folder (or its ``checkpoint.json``); raise CheckpointError if damaged."""
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
    return Checkpoint(folder, index, _read_arrays(arrays_path))


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


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, read without unpickling anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            total = sum(info.file_size for info in archive.infolist())
        if total > 64 * 2**30:
            raise CheckpointError(f"{path.name} would unpack to {total:,} bytes: refused")
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except CheckpointError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise CheckpointError(
                f"{path.name} holds pickled Python objects, which a checkpoint never does: refused without loading them"
            ) from None
        raise CheckpointError(f"{path.name} is damaged: {exc}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{path.name} is damaged or truncated: {exc}") from None
    del names
    for name, array in arrays.items():
        if array.dtype.kind not in "fiub":
            raise CheckpointError(f"{path.name}: {name} has dtype {array.dtype}, not numbers")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise CheckpointError(f"{path.name}: {name} contains NaN or infinity")
    return arrays


def resume_trainer(folder: str | os.PathLike, dataset, *, checkpoint_dir: str | os.PathLike | None = None,
                   memory_limit: int | None = None, epochs: int | None = None, control=None):
    """A Trainer that continues the checkpointed run on ``dataset`` exactly where it stopped.

    ``epochs`` may extend the run beyond its configured number of epochs.
    """
    from convviz.training.trainer import Trainer

    checkpoint = load_checkpoint(folder)
    index = checkpoint.index
    config = checkpoint.config
    if epochs is not None:
        config = config.replace(epochs=epochs)
    saved = index["dataset"]
    splits = {split: len(dataset.split(split)) for split in ("train", "validation", "test")}
    if saved.get("splits") != splits or saved.get("classes") != list(dataset.class_names):
        raise CheckpointError(
            f"the checkpoint was trained on {saved.get('name')} with splits {saved.get('splits')}; "
            f"{dataset.name} has {splits}: resume with the same data set and validation split"
        )
    trainer = Trainer(checkpoint.spec, dataset, config, checkpoint_dir=checkpoint_dir, memory_limit=memory_limit,
                      control=control)
    arrays = checkpoint.arrays
    weights = {name[len("weights/"):]: a for name, a in arrays.items() if name.startswith("weights/")}
    weights.update({name[len("buffers/"):]: a for name, a in arrays.items() if name.startswith("buffers/")})
    try:
        trainer.net.set_weights(weights)
        trainer.optimizer.load_state_dict(_join_state(index["optimizer"], arrays))
        rng = _join_state(index["rng"], arrays)
        trainer.rng.bit_generator.state = rng["data"]
        trainer.net.set_rng_state(rng["network"])
    except CheckpointError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"the checkpoint does not fit its network: {exc}") from None
    trainer.step = index["step"]
    trainer.epoch = index["epoch"]
    trainer.batch_index = index["batch_index"]
    smoothed = index.get("smoothed_loss")
    trainer.smoothed_loss = float(smoothed) if isinstance(smoothed, (int, float)) else None
    trainer.history = list(index["history"])
    order = arrays.get("epoch_order")
    if order is not None:
        if order.shape != (trainer.train_count,) or not np.array_equal(np.sort(order), np.arange(trainer.train_count)):
            raise CheckpointError("epoch_order is not an order of the training images")
        trainer.epoch_order = order.astype(np.int64)
    elif trainer.batch_index:
        raise CheckpointError("the checkpoint is inside an epoch but lacks epoch_order")
    if trainer.batch_index > trainer.steps_per_epoch:
        raise CheckpointError(f"batch_index {trainer.batch_index} is beyond the {trainer.steps_per_epoch} batches of an epoch")
    return trainer


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
