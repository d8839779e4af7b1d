"""Garbage is collected on the GUI thread only while a run trains: a collection started by the trainer's
allocations would destroy closed widgets on the training thread, where PySide can deadlock (the Train
views then wait for snapshots that never come)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from run_helpers import tiny_spec

from convviz.training.config import TrainConfig


class Closed:
    """Stands for a closed widget kept in a cycle (a lambda connected to its signal holds it)."""


def test_a_run_leaves_garbage_collection_to_the_gui_thread_and_gives_it_back_when_it_ends(
        qtbot, monkeypatch, small_data):
    import convviz.data
    from convviz.ui.session import RunSession

    qtbot.waitUntil(gc.isenabled, timeout=30_000)  # no thread of an earlier test still holds it off
    collected_on: list[str] = []
    seen_in_worker: list[bool] = []
    held: list[Closed] = []
    churned = threading.Event()

    def load_dataset(source, validation=0.1, seed=0):  # on the training thread, as loading data is
        seen_in_worker.append(gc.isenabled())
        held.clear()  # the cycle becomes garbage here, while the GUI thread only waits
        junk = [[i] for i in range(300_000)]  # allocations enough for many automatic collections
        del junk
        churned.set()
        return small_data

    monkeypatch.setattr(convviz.data, "load_dataset", load_dataset)
    session = RunSession(lambda: tiny_spec())
    held.append(Closed())
    held[0].cycle = held[0]
    weakref.finalize(held[0], lambda: collected_on.append(threading.current_thread().name))
    try:
        session.start(TrainConfig(epochs=500, batch_size=16, threads=1), "synthetic")
        assert churned.wait(20)  # the GUI thread allocates nothing meanwhile
        assert collected_on == [] and seen_in_worker == [False]  # the training thread never collects
        qtbot.waitUntil(lambda: bool(collected_on), timeout=10_000)  # the GUI thread's timer does
        assert collected_on == [threading.main_thread().name]
        qtbot.waitUntil(lambda: len(session.records.snapshots) >= 2, timeout=20_000)  # and the run goes on
    finally:
        assert session.shutdown(10_000)
    qtbot.waitUntil(gc.isenabled, timeout=5_000)  # automatic collection is back once the thread ended


def test_the_collector_collects_each_generation_past_its_threshold_and_nothing_else(qtbot):
    from convviz.ui.gui_gc import collector

    gui = collector()
    qtbot.waitUntil(lambda: gui.holds == 0 and gc.isenabled(), timeout=30_000)  # no earlier test's thread runs
    release = gui.hold()
    try:
        assert not gc.isenabled()
        gc.collect()
        assert gui.collect() == 0  # no generation past its threshold: nothing done
        found = []
        for _ in range(gc.get_threshold()[0] + 10):
            cycle = Closed()
            cycle.cycle = cycle
            weakref.finalize(cycle, found.append, 1)
        del cycle
        assert found == []  # automatic collection is off
        assert gui.collect() > 0 and len(found) == gc.get_threshold()[0] + 10
    finally:
        release()
        release()  # a second release does nothing
    assert gui.holds == 0
    qtbot.waitUntil(gc.isenabled, timeout=5_000)


@pytest.fixture(autouse=True)
def _gc_back_on():
    yield
    gc.enable()  # a failed test must not leave the rest of the suite without automatic collection
