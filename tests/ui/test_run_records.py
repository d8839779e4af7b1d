"""The ring of snapshots a run keeps for the time slider: bounded in bytes and count, always holding the
run's first and newest snapshot, and evenly thinned so the whole run stays covered."""

from __future__ import annotations

import numpy as np

from convviz.training.records import Snapshot
from convviz.ui.run_records import (
    MAX_SNAPSHOTS,
    SNAPSHOT_BUDGET,
    RunRecords,
    SnapshotRing,
)


def snapshot(step: int, kilobytes: int = 1) -> Snapshot:
    return Snapshot(step=step, epoch=1, probe_images=np.zeros(kilobytes * 1024, np.uint8),
                    probe_labels=np.zeros(0, np.int64), probe_scores=np.zeros((0, 10), np.float32), layers=())


def test_a_long_run_keeps_its_first_snapshot_stays_under_budget_and_covers_the_run():
    ring = SnapshotRing(budget=200 * 1024, max_count=1000)  # room for about 200 of 1 KB
    for step in range(0, 50_000, 10):  # 5,000 snapshots
        ring.add(snapshot(step))
        assert ring.nbytes <= 200 * 1024 and len(ring) <= 200
    steps = [s.step for s in ring.snapshots]
    assert steps[0] == 0 and steps[-1] == 49_990  # the first, and now
    assert steps == sorted(steps) and len(steps) >= 100  # thinned to at least half the budget
    gaps = np.diff(steps[:-1])
    assert gaps.max() == gaps.min()  # evenly spaced from step 0 to now
    assert 49_990 - steps[-2] <= gaps.max()  # and the newest not far from the one before it


def test_the_count_bounds_the_ring_too_and_the_newest_is_always_kept():
    ring = SnapshotRing(max_count=16)
    for step in range(1, 1001):
        ring.add(snapshot(step, 0))
        assert len(ring) <= 16 and ring.snapshots[-1].step == step
    assert ring.snapshots[0].step == 1


def test_a_newer_look_at_the_same_step_replaces_it_and_an_earlier_step_starts_again():
    ring = SnapshotRing()
    ring.add(snapshot(0))
    ring.add(snapshot(5))
    again = snapshot(5, 2)
    ring.add(again)
    assert [s.step for s in ring.snapshots] == [0, 5] and ring.snapshots[-1] is again
    assert ring.nbytes == 3 * 1024
    ring.add(snapshot(2))  # another run's
    assert [s.step for s in ring.snapshots] == [2]


def test_snapshot_near_a_step():
    records = RunRecords()
    assert records.snapshot_near(10) is None and records.snapshots == []
    for step in (0, 10, 20, 40):
        records.keep_snapshot(snapshot(step))
    assert records.snapshot.step == 40 and [s.step for s in records.snapshots] == [0, 10, 20, 40]
    assert [records.snapshot_near(s).step for s in (-5, 4, 5, 6, 29, 31, 400)] == [0, 0, 0, 10, 20, 40, 40]


def test_the_default_budget_holds_a_convnetjs_runs_snapshots():
    from convviz.data import synthetic_dataset
    from convviz.model import preset
    from convviz.training.trainer import Trainer

    trainer = Trainer(preset("convnetjs"), synthetic_dataset(train=200, test=50, validation=20, seed=0))
    size = trainer.snapshot().nbytes
    assert SNAPSHOT_BUDGET // size >= 50  # at least 50 snapshots of it fit
    assert MAX_SNAPSHOTS >= 100
