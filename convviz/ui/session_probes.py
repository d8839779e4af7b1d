"""The run session's probes and what snapshots carry (a part of :class:`~convviz.ui.session.RunSession`).

The user's own probe images (:meth:`SessionProbes.add_probe`, :meth:`SessionProbes.remove_probe`) are
the session's: they go to every run's trainer, which shows them after the data set's probes in its
next snapshot, and they survive a new run. With no run going, the session takes that snapshot
itself, from its current weights, on a thread of its own (a snapshot of a large network takes a
while), and emits it as the worker's are emitted, so every view shows the new probe at once.

:meth:`SessionProbes.want_filter_gradients` makes snapshots carry the conv layers' dL/dW, as
``want_gradients`` makes them carry dL/d activation.
"""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, Signal

from convviz.training.probes import UserProbes
from convviz.ui.gui_gc import collect_on_gui_thread


class IdleSnapshots(QObject):
    """Takes snapshots off the GUI thread: ``ready(serial, snapshot or None)`` is emitted from the
    thread (Qt queues it to the session's); one at a time, the newest request served last."""

    ready = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._busy = False
        self._pending = None  # (serial, job) asked for while one was being taken

    def request(self, serial: int, job) -> None:
        """Run ``job()`` (→ Snapshot or None) on a thread; a request while busy waits for it (and replaces
        an older waiting one)."""
        with self._lock:
            if self._busy:
                self._pending = (serial, job)
                return
            self._busy = True
        release_gc = collect_on_gui_thread()  # garbage is collected on the GUI thread meanwhile
        threading.Thread(target=self._run, args=(serial, job, release_gc), name="convviz-probe-snapshot",
                         daemon=True).start()

    def _run(self, serial: int, job, release_gc) -> None:
        while True:
            try:
                snapshot = job()
            except Exception:  # noqa: BLE001 (a network or weights that cannot be run: no snapshot, never a dead thread)
                snapshot = None
            self.ready.emit(serial, snapshot)
            with self._lock:
                if self._pending is None:
                    self._busy = False
                    release_gc()
                    return
                (serial, job), self._pending = self._pending, None

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._busy


class SessionProbes:
    """The user's probes and the snapshot requests of :class:`RunSession` (which owns the signals)."""

    def _init_probes(self) -> None:
        self.user_probes: list[tuple[str, np.ndarray, int]] = []  # (name, (H, W, C) uint8, label or −1)
        self.snapshot_filter_gradients = False
        self._probe_dataset = None  # (folder, data set or None) of an opened run, loaded for its probes
        self._launched_with = None  # the opened run when the newest run was launched
        self._idle_serial = 0
        self._idle = IdleSnapshots(self)
        self._idle.ready.connect(self._on_idle_snapshot)

    # -- the user's probes --------------------------------------------------------------------------------
    def add_probe(self, image_hwc_uint8: np.ndarray, label: int | None, name: str) -> str:
        """Add the user's picture, already fitted to the network's input (``convviz.data.fit_image``):
        (H, W, C) uint8; ``label`` its class (None: unknown); returns its name (made unique with
        " (2)" …). The next snapshot shows it after the data set's probes. ValueError if it does not
        fit the network's input."""
        image = np.asarray(image_hwc_uint8)
        c, h, w = self.network().input.chw()
        if image.dtype != np.uint8 or image.shape != (h, w, c):
            raise ValueError(f"a probe image must be {w}×{h}×{c} uint8 (the network's input, fitted with "
                             f"fit_image), got {image.dtype} {'×'.join(map(str, image.shape))}")
        taken, unique, n = {entry[0] for entry in self.user_probes}, str(name), 1
        while unique in taken:
            n += 1
            unique = f"{name} ({n})"
        self.user_probes.append((unique, image.copy(), -1 if label is None else int(label)))
        self._probes_changed()
        return unique

    def remove_probe(self, name: str) -> bool:
        """Remove the user's probe ``name``; False if there is none of that name."""
        kept = [entry for entry in self.user_probes if entry[0] != name]
        if len(kept) == len(self.user_probes):
            return False
        self.user_probes = kept
        self._probes_changed()
        return True

    def _user_probe_arrays(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        c, h, w = self.network().input.chw()
        fitting = [entry for entry in self.user_probes if entry[1].shape == (h, w, c)]
        images = np.stack([e[1] for e in fitting]) if fitting else np.zeros((0, h, w, c), np.uint8)
        return images, np.array([e[2] for e in fitting], np.int64), [e[0] for e in fitting]

    def _launching(self, control) -> None:
        """A run is being launched with ``control``: it gets the user's probes and the requests."""
        self._launched_with = self.opened
        self._send_probes(control)

    def _send_probes(self, control) -> None:
        """Give a run's controls the user's probes (at its start, and whenever they change)."""
        control.set_user_probes(*self._user_probe_arrays())
        control.set_snapshot_filter_gradients(self.snapshot_filter_gradients)

    def _probes_changed(self) -> None:
        if self.running:
            self._send_probes(self._run.control)  # it asks for a snapshot
        else:
            self.refresh_snapshot()

    def want_filter_gradients(self, on: bool) -> None:
        """Snapshots carry each conv layer's dL/dW of the last step from now on (a view asks)."""
        self.snapshot_filter_gradients = bool(on)
        if self._run is not None:
            self._run.control.set_snapshot_filter_gradients(self.snapshot_filter_gradients)
            if self.snapshot_filter_gradients:
                self._run.control.request_snapshot()

    # -- snapshots with no run going -------------------------------------------------------------------------
    def refresh_snapshot(self) -> bool:
        """With no run going, take a snapshot of the current weights for the data set's probes (the last
        run's, or an opened run's data set) and the user's, on a thread; ``snapshot`` follows.
        False (nothing happens) while a run goes on: its trainer takes them."""
        if self.running:
            return False
        try:
            spec, weights = self.network(), self.current_weights()
        except (ValueError, TimeoutError):  # the builder's network cannot be built: nothing to show
            return False
        trainer = self._run.worker.trainer if self._run is not None else None
        opened = self.opened
        if trainer is not None and self._launched_with is not opened:
            trainer = None  # a run opened since: its data set and step, not the older run's
        step = trainer.step if trainer is not None else (opened.step if opened is not None else 0)
        epoch = (trainer.epoch if trainer is not None else (opened.epoch if opened is not None else 0)) + 1
        user = UserProbes(*self._user_probe_arrays())
        gradients, data_folder = self.snapshot_gradients, self.data_folder
        self._idle_serial += 1

        def job():
            from convviz.engine import Network
            from convviz.training.probes import one_per_class, probe_batch
            from convviz.training.snapshot import snapshot_of

            if trainer is not None:
                dataset, split, indices = trainer.dataset, trainer.probe_split, trainer.probe_indices
            else:
                dataset = self._opened_dataset(opened, data_folder) if opened is not None else None
                split = "validation" if dataset is not None and len(dataset.split("validation")) else "test"
                indices = (one_per_class(dataset.split(split).labels, opened.config.probe_images)
                           if dataset is not None else np.arange(0))
            if dataset is not None and dataset.image_shape != spec.input.chw():
                dataset = None  # the builder's network now takes another input
            if dataset is None and not len(user):
                return None
            net = Network(spec, seed=0, weights=weights)
            probes = probe_batch(dataset, split, indices, user)
            names = tuple(dataset.class_names) if dataset is not None else self._opened_classes(opened)
            return snapshot_of(net, probes, names, step=step, epoch=epoch, gradients=gradients)

        self._idle.request(self._idle_serial, job)
        return True

    def _opened_dataset(self, opened, data_folder):
        """The data set ``opened`` was trained on, loaded once (on the snapshot thread); None when it
        cannot be (CIFAR-10 not downloaded here, a data set this version does not know)."""
        folder, dataset = self._probe_dataset or (None, None)
        if folder != opened.folder:
            from convviz.ui.session import _load_dataset

            try:
                dataset = _load_dataset(opened.dataset, opened.config, data_folder)
            except Exception:  # noqa: BLE001 (no CIFAR-10 here, a damaged or unknown data set: the user's probes alone)
                dataset = None
            self._probe_dataset = (opened.folder, dataset)
        return dataset

    @staticmethod
    def _opened_classes(opened) -> tuple[str, ...]:
        """The class names an opened run's checkpoint records (its data set not loaded); () without one."""
        if opened is None:
            return ()
        try:
            from convviz.training.checkpoint import load_checkpoint

            classes = load_checkpoint(opened.folder).index["dataset"].get("classes", [])
            return tuple(str(name) for name in classes)
        except (OSError, ValueError, KeyError, AttributeError):
            return ()

    def _on_idle_snapshot(self, serial: int, snapshot) -> None:
        if snapshot is None or serial != self._idle_serial or self.running:
            return  # failed, outdated, or a run began meanwhile
        newest = self.records.ring.snapshots[-1].step if len(self.records.ring) else -1
        if self.weights_origin == "trained" and snapshot.step >= newest:
            self.records.keep_snapshot(snapshot)  # the run's last step, seen again with the new probes
        else:
            self.records.snapshot = snapshot  # other weights than the run's: not part of its history
        self.snapshot.emit(snapshot)
