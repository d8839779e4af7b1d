"""What a run has said, as plain data: the records a session keeps, and a checkpoint read back.

:class:`RunRecords` holds a run's metrics, evaluations and events, its newest snapshot, and a
bounded ring of snapshots over the whole run (:class:`SnapshotRing`) for the time slider;
:func:`read_run` reads a checkpoint folder with every check the CLI makes into an
:class:`OpenedRun`, its history turned back into records by :func:`records_from_history`.
No Qt: the session (``convviz.ui.session``) holds these.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from convviz.model import NetworkSpec
from convviz.training.config import TrainConfig
from convviz.training.records import Evaluation, Event, Metrics, Snapshot

SNAPSHOT_BUDGET = 256 * 2**20  # bytes the kept snapshots may hold (a ConvNetJS one with 10 probes: about 3 MB)
MAX_SNAPSHOTS = 400  # and how many, however small


class SnapshotRing:
    """Snapshots kept over a whole run, evenly spaced from its first to its newest, within a budget.

    Every ``stride``-th snapshot offered is kept, and the newest always (it replaces the newest before
    it when that one was off the stride). When more than ``max_count`` are kept or they hold more than
    ``budget`` bytes, every other one is dropped (the first stays) and the stride doubles: the run
    stays covered from step 0 to now, at half the density, and the ring never grows past its budget.
    """

    def __init__(self, budget: int = SNAPSHOT_BUDGET, max_count: int = MAX_SNAPSHOTS) -> None:
        self.budget, self.max_count = budget, max(2, max_count)
        self.stride = 1
        self._kept: list[tuple[int, Snapshot]] = []  # (offer number, snapshot) in step order
        self._offered = 0
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def snapshots(self) -> list[Snapshot]:
        return [snapshot for _, snapshot in self._kept]

    def add(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the newest (a newer look at the newest step replaces it)."""
        if self._kept and self._kept[-1][1].step > snapshot.step:  # an earlier step: another run; start again
            self.clear()
        if self._kept and self._kept[-1][1].step == snapshot.step:
            number = self._kept[-1][0]
            self._drop(len(self._kept) - 1)
        else:
            if self._kept and self._kept[-1][0] % self.stride:
                self._drop(len(self._kept) - 1)  # the newest before was off the stride: this one replaces it
            number, self._offered = self._offered, self._offered + 1
        self._kept.append((number, snapshot))
        self.nbytes += snapshot.nbytes
        while len(self._kept) > 2 and (len(self._kept) > self.max_count or self.nbytes > self.budget):
            self._thin()

    def _drop(self, index: int) -> None:
        _, snapshot = self._kept.pop(index)
        self.nbytes -= snapshot.nbytes

    def _thin(self) -> None:
        """Drop every other kept snapshot, the first and the newest staying; double the stride."""
        self.stride *= 2
        newest = self._kept[-1]
        kept = [item for item in self._kept[:-1] if item[0] % self.stride == 0]
        if len(kept) == len(self._kept) - 1:  # the numbers were already on the new stride: halve by position
            kept = kept[::2]
        self._kept = kept + [newest]
        self.nbytes = sum(snapshot.nbytes for _, snapshot in self._kept)

    def clear(self) -> None:
        self._kept, self._offered, self.stride, self.nbytes = [], 0, 1, 0

    def near(self, step: int) -> Snapshot | None:
        """The kept snapshot whose step is nearest ``step`` (the earlier of two as near); None if empty."""
        steps = [snapshot.step for _, snapshot in self._kept]
        if not steps:
            return None
        i = bisect.bisect_left(steps, step)
        if i == len(steps) or (i > 0 and step - steps[i - 1] <= steps[i] - step):
            i -= 1
        return self._kept[i][1]


@dataclass
class RunRecords:
    """Everything the current (or last) run has yielded, oldest first: metrics, evaluations, events,
    the newest snapshot, and snapshots over the whole run in a bounded ring (``keep_snapshot``)."""

    metrics: list[Metrics] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    snapshot: Snapshot | None = None
    ring: SnapshotRing = field(default_factory=SnapshotRing)

    def keep_snapshot(self, snapshot: Snapshot) -> None:
        """``snapshot`` becomes the newest, and goes into the ring."""
        self.snapshot = snapshot
        self.ring.add(snapshot)

    @property
    def snapshots(self) -> list[Snapshot]:
        """The kept snapshots in step order, from the run's first to its newest."""
        return self.ring.snapshots

    def snapshot_near(self, step: int) -> Snapshot | None:
        """The kept snapshot nearest ``step`` (None before the first)."""
        return self.ring.near(step)


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
