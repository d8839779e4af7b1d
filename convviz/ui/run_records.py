"""What a run has said, as plain data: the records a session keeps, and a checkpoint read back.

:class:`RunRecords` holds a run's metrics, evaluations and events (and its newest snapshot);
:func:`read_run` reads a checkpoint folder with every check the CLI makes into an
:class:`OpenedRun`, its history turned back into records by :func:`records_from_history`.
No Qt: the session (``convviz.ui.session``) holds these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from convviz.model import NetworkSpec
from convviz.training.config import TrainConfig
from convviz.training.records import Evaluation, Event, Metrics, Snapshot


@dataclass
class RunRecords:
    """Everything the current (or last) run has yielded, oldest first; the newest snapshot only."""

    metrics: list[Metrics] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    snapshot: Snapshot | None = None


@dataclass(frozen=True)
class OpenedRun:
    """A checkpoint read for the window: its network, trained weights, settings and records."""

    folder: str
    spec: NetworkSpec
    weights: dict
    config: TrainConfig
    dataset: str  # the data set it was trained on: "synthetic", "cifar10" …
    step: int
    epoch: int  # epochs completed
    records: RunRecords


def read_run(folder: str) -> OpenedRun:
    """Read the checkpoint in ``folder`` (or its ``checkpoint.json``) with every check the CLI makes
    (index, checksum, each array's name, shape and dtype against the network before it is read).

    Raises ValueError (``ExportError``) saying what is wrong: nothing is changed by a bad one."""
    from pathlib import Path

    from convviz.export import checkpoint_source
    from convviz.training.checkpoint import INDEX, load_checkpoint

    path = Path(folder)
    path = path.parent if path.name == INDEX else path
    source = checkpoint_source(path)  # the trained weights, every array checked before it is read
    index = load_checkpoint(path).index
    return OpenedRun(str(path), source.spec, source.weights, source.config, str(index["dataset"].get("name", "")),
                     int(index["step"]), int(index["epoch"]), records_from_history(index["history"]))


def records_from_history(history: list) -> RunRecords:
    """The metrics, evaluations and events a checkpoint's ``history`` keeps, as records again."""
    import dataclasses

    records = RunRecords()
    kinds = {"metrics": (Metrics, records.metrics), "evaluation": (Evaluation, records.evaluations),
             "event": (Event, records.events)}
    for item in history:
        if not isinstance(item, dict) or item.get("record") not in kinds:
            continue
        cls, into = kinds[item["record"]]
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            into.append(cls(**{k: v for k, v in item.items() if k in names}))
        except TypeError:  # a record this version does not know: the curves go without it
            continue
    return records
