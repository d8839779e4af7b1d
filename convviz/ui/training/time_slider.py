"""The time slider: one slider over the snapshots a run kept, taking the Train workspace's views back
to any of them.

The session keeps snapshots over the whole run in a bounded ring (``session.records.snapshots``,
evenly thinned as the run grows). The slider has one position per kept snapshot; its right end is
**Live**. At the live end every view follows the newest snapshot as it comes. Moved back, the views
(the every-layer rows, the probe images, the filters: each has ``live`` and ``show_snapshot``) show
the snapshot there and keep it, while the run goes on and the slider's positions follow the ring,
until the user goes back to the end or presses **Live**; the health strip draws a cursor at its step
(``HealthView.set_time_cursor``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from convviz.training.records import Snapshot
from convviz.ui.session import RunSession


def step_text(snapshot: Snapshot) -> str:
    return f"step {snapshot.step:,}, epoch {snapshot.epoch}"


class TimeSlider(QWidget):
    """A slider over the kept snapshots, its right end live; see the module docstring.

    ``views``: what it takes back (each with a ``live`` flag and ``show_snapshot(snapshot)``);
    ``health``: a view with ``set_time_cursor(step | None)``, or None."""

    def __init__(self, session: RunSession, views=(), health=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.views = list(views)
        self.health = health
        self.held: Snapshot | None = None  # the snapshot the views keep (None: live)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(1)
        self.slider.setToolTip("Take the layers, probes, filters and health strip back to any kept snapshot "
                               "of the run; the right end is live")
        self.slider.valueChanged.connect(self._moved)
        self.label = QLabel()
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("Snapshot 400 of 400: step 1,000,000, "
                                                                              "epoch 1000 (live: step 1,000,000)"))
        self.live_button = QPushButton("Live")
        self.live_button.setCheckable(True)  # pressed while the views follow the newest snapshot
        self.live_button.setToolTip("Follow the newest snapshot (pressed while they do)")
        self.live_button.clicked.connect(self.go_live)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Time"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        row.addWidget(self.live_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addLayout(row)
        session.snapshot.connect(self._snapshot_arrived)
        session.run_started.connect(self.go_live)
        self._update()

    @property
    def live(self) -> bool:
        return self.held is None

    @property
    def snapshots(self) -> list[Snapshot]:
        return self.session.records.snapshots

    def show_step(self, step: int) -> Snapshot | None:
        """Take the views back to the kept snapshot nearest ``step`` (live if that is the newest)."""
        snapshot = self.session.records.snapshot_near(step)
        if snapshot is not None:
            self._hold_or_live(snapshot)
        return snapshot

    def go_live(self) -> None:
        """The views follow the newest snapshot again."""
        was_held, self.held = self.held is not None, None
        for view in self.views:
            view.live = True
        newest = self.session.records.snapshot
        if was_held and newest is not None:
            for view in self.views:
                view.show_snapshot(newest)
        if self.health is not None:
            self.health.set_time_cursor(None)
        self._update()

    def hold(self, snapshot: Snapshot) -> None:
        """The views show ``snapshot`` and keep it, whatever comes after."""
        self.held = snapshot
        for view in self.views:
            view.live = False
            view.show_snapshot(snapshot)
        if self.health is not None:
            self.health.set_time_cursor(snapshot.step)
        self._update()

    def _hold_or_live(self, snapshot: Snapshot) -> None:
        kept = self.snapshots
        if kept and snapshot is kept[-1]:
            self.go_live()
        else:
            self.hold(snapshot)

    def _moved(self, index: int) -> None:
        kept = self.snapshots
        if 0 <= index < len(kept):
            self._hold_or_live(kept[index])

    def _snapshot_arrived(self, _snapshot: Snapshot) -> None:
        self._update()

    def _update(self) -> None:
        """Positions for the kept snapshots, the handle at the held one (or the end), and the label."""
        kept = self.snapshots
        last = max(len(kept) - 1, 0)
        if self.held is None:
            index = last
        else:
            steps = [snapshot.step for snapshot in kept]
            index = min(range(len(steps)), key=lambda i: abs(steps[i] - self.held.step)) if steps else 0
        self.slider.blockSignals(True)
        self.slider.setRange(0, last)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(kept) > 1)
        self.live_button.setChecked(self.held is None)
        self.live_button.setText("● Live" if self.held is None else "Go live")
        if not kept:
            self.label.setText("No snapshots yet")
        elif self.held is None:
            self.label.setText(f"Live: {step_text(kept[-1])} ({len(kept)} snapshots kept)")
        else:
            self.label.setText(f"Snapshot {index + 1} of {len(kept)}: {step_text(self.held)} "
                               f"(live: step {kept[-1].step:,})")


def with_time_slider(page: QWidget, slider: TimeSlider) -> QWidget:
    """``page`` (the Train workspace's centre: the curves) with the time slider under it, just above the
    bottom tabs of views it drives."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(page, 1)
    layout.addWidget(slider)
    return holder
