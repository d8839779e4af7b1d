"""Thread-safe controls for a running trainer: pause, resume, single-step, stop and requests.

The trainer checks them between steps, so each takes effect within one step; a paused trainer
waits on a condition variable and wakes at once when told to go on.
"""

from __future__ import annotations

import threading


class Control:
    """Flags set from any thread (the GUI), read by the trainer's thread between steps."""

    def __init__(self) -> None:
        self._lock = threading.Condition()  # re-entrant (an RLock inside), so _set nests
        self.paused = False
        self.stopped = False
        self.steps_allowed = 0  # single steps granted while paused
        self.snapshot_requested = False
        self.evaluation_requested = False
        self.checkpoint_requests: list[str] = []
        self.snapshot_every_steps: int | None = None
        self.snapshot_every_seconds: float | None = None
        self.snapshot_gradients = False  # snapshots carry dL/d activation (a view shows them)
        self.snapshot_filter_gradients = False  # snapshots carry the conv layers' dL/dW
        self.user_probes = None  # UserProbes the snapshots show after the data set's (None: none)

    # -- called by the consumer ----------------------------------------------------------------------
    def _set(self, **values) -> None:
        """Set flags under the lock and wake a paused trainer to look at them."""
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)
            self._lock.notify_all()

    def pause(self) -> None:
        self._set(paused=True)

    def resume(self) -> None:
        self._set(paused=False)

    def step(self, count: int = 1) -> None:
        """Run ``count`` more batches, then stay paused."""
        with self._lock:
            self._set(paused=True, steps_allowed=self.steps_allowed + count)

    def stop(self) -> None:
        self._set(stopped=True)

    def request_snapshot(self) -> None:
        self._set(snapshot_requested=True)

    def request_evaluation(self) -> None:
        self._set(evaluation_requested=True)

    def request_checkpoint(self, path: str) -> None:
        with self._lock:
            self._set(checkpoint_requests=self.checkpoint_requests + [str(path)])

    def set_snapshot_schedule(self, every_steps: int | None = None, every_seconds: float | None = None) -> None:
        """Snapshot every ``every_steps`` steps and/or every ``every_seconds`` seconds (None: not by that)."""
        with self._lock:
            self.snapshot_every_steps = every_steps if every_steps and every_steps > 0 else None
            self.snapshot_every_seconds = every_seconds if every_seconds and every_seconds > 0 else None

    def set_snapshot_gradients(self, on: bool) -> None:
        """Snapshots carry each layer's dL/d activation for the probes (one more backward pass each)."""
        with self._lock:
            self.snapshot_gradients = bool(on)

    def set_snapshot_filter_gradients(self, on: bool) -> None:
        """Snapshots carry each conv layer's dL/dW of the last step (a copy of the network's gradients)."""
        with self._lock:
            self.snapshot_filter_gradients = bool(on)

    def set_user_probes(self, images, labels, names) -> None:
        """The user's own probe images, shown after the data set's from the next snapshot on (one is
        asked for): ``images`` (P, H, W, C) uint8 fitted to the input, ``labels`` (P,) int (−1:
        unknown class), ``names`` (P,). P = 0 removes them. Raises ValueError for mismatched shapes."""
        from convviz.training.probes import UserProbes

        probes = UserProbes(images, labels, tuple(names))
        self._set(user_probes=probes if len(probes) else None, snapshot_requested=True)

    # -- called by the trainer ------------------------------------------------------------------------
    def take(self, name: str):
        """Read and clear a one-shot request (``snapshot_requested``, ``evaluation_requested``, …)."""
        with self._lock:
            value = getattr(self, name)
            setattr(self, name, [] if isinstance(value, list) else False)
            return value

    def wait_while_paused(self, timeout: float = 0.25) -> str:
        """Block while paused; returns ``stop``, ``step`` (one granted step), ``run`` or ``idle``
        (still paused after ``timeout``, so the trainer can serve requests and come back)."""
        with self._lock:
            if self.paused and not self.stopped and not self.steps_allowed:
                self._lock.wait(timeout)
            if self.stopped:
                return "stop"
            if not self.paused:
                return "run"
            if self.steps_allowed:
                self.steps_allowed -= 1
                return "step"
            return "idle"
