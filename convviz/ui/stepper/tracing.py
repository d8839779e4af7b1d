"""The Step workspace's slow work: tracing the image with the session's weights, a cell's receptive field
across layers and the FC → CONV map. A small network's is done at once; a big one's (more than
``sync_macs`` multiply-adds) on a thread (:mod:`~convviz.ui.stepper.jobs`) with the busy bar showing,
a newer request replacing an older one, and the window going on meanwhile (a mixin of
:class:`~convviz.ui.stepper.workspace.StepWorkspaceView`, which owns the widgets it uses)."""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QListWidgetItem

from convviz.model import analyze
from convviz.ui.stepper.stepping import StepRun

SYNC_MACS = 200_000_000  # a network with more multiply-adds than this is traced on a thread
KIND_COLOURS = {"input": "#e8eaed", "forward": "#e8f0fe", "loss": "#fce8b2", "backward": "#fce8e6", "update": "#e6f4ea"}
ORIGIN_NOTES = {
    "fresh": "Weights: fresh, seeded and untrained (train the network, or open a checkpoint, to step a trained one).",
    "trained": "Weights: what the last run ended with.",
    "training": "Weights: taken between two steps of the run, which is paused while you step.",
    "imported": "Weights: imported from a weights file (File → Import Weights…).",
}


class StepTracing:
    """Tracing, the receptive field and FC → CONV, at once or on a thread."""

    @property
    def tracing(self) -> bool:
        """True while a big network is traced on a thread."""
        return self.jobs.busy("trace")

    def in_background(self) -> bool:
        """Whether this network's slow work goes on a thread (more than ``sync_macs`` multiply-adds)."""
        return self._macs > self.sync_macs

    def reload(self, wait: bool | None = None) -> None:
        """Trace the chosen image again with the session's current weights (pausing a training run).

        A small network is traced at once; a big one (``wait`` None and more than ``sync_macs``
        multiply-adds, or ``wait`` False) on a thread of its own while the window goes on, and the
        stops appear when it is done (``traced`` is emitted either way)."""
        if self.session.running:
            self.session.pause()
        try:
            weights = self.session.current_weights()
            self.optimizer_state, self._state_note = self._optimizer_state()
            spec = self.session.network()
            x, label, classes, image_text = self._image(spec)
            self._macs = analyze(spec).total_macs
        except (ValueError, TimeoutError) as exc:
            self._failed(exc)
            return
        self._ticket += 1
        job = (self._ticket, spec, (image_text, self._pixels))
        args = (spec, weights, x, label, classes, self.train_config(), self.optimizer_state)
        if wait or (wait is None and not self.in_background()):
            try:
                run, error = StepRun(*args), None
            except (ValueError, MemoryError) as exc:
                run, error = None, exc
            self._on_traced(job, run, error)
            return
        what = (f"Tracing {spec.name or 'the network'} on one image in float64, forward and backward "
                f"({self._macs / 1e9:.1f} G multiply-adds each way) …")
        self.caption.setText(what)
        self.jobs.run("trace", what, lambda: StepRun(*args), lambda run, error: self._on_traced(job, run, error),
                      on_cancel=lambda: self.caption.setText("Tracing cancelled: press “Use current weights” to trace again."))

    def _on_traced(self, job, run, error) -> None:
        ticket, spec, (image_text, pixels) = job
        if ticket != self._ticket:
            return  # a newer image or newer weights were asked for meanwhile
        if error is not None:
            self._failed(error)
            return
        previous = self.current_stop if self.run else None
        self.run, self.image_text, self.pixels, self._network_key = run, image_text, pixels, spec
        self.origin_note.setText(ORIGIN_NOTES.get(self.session.weights_origin, ""))
        self.timeline.blockSignals(True)
        self.timeline.clear()
        for stop in run.stops:
            item = QListWidgetItem(stop.title)
            item.setBackground(QBrush(QColor(KIND_COLOURS[stop.kind])))
            item.setToolTip(f"{stop.kind} {stop.layer}".strip())
            self.timeline.addItem(item)
        self.timeline.blockSignals(False)
        self.stop_index = run.stops.index(previous) if previous in run.stops else 0
        self._arrive(keep_position=True)
        self.traced.emit()

    def _failed(self, error: Exception) -> None:
        self.run = None
        self.timeline.clear()
        self.caption.setText(f"Cannot step this network: {error}")
        self.traced.emit()

    # -- the receptive field ------------------------------------------------------------------------------
    def _field_of(self, stop):
        """The receptive field of the selected cell of ``stop``: made already, made now (a small network),
        or asked for on a thread (None: drawn when it arrives)."""
        run, position = self.run, tuple(self.position)
        found = run.known_field(stop.layer, position)
        if found is not None or not self.in_background():
            return found if found is not None else run.field(stop.layer, position)
        from convviz.engine.explain_field import receptive_field

        what = f"Receptive field of {stop.layer}{list(position)}: one backward pass from the cell …"
        self.caption.setText(what)
        self.jobs.run("field", what, lambda: receptive_field(run.net, run.trace, stop.layer, position),
                      lambda field, error: self._on_field(run, stop.layer, position, field, error),
                      on_cancel=lambda: self.show_field(False))
        return None

    def _on_field(self, run, layer, position, field, error) -> None:
        if run is not self.run:
            return
        if error is not None:
            self.show_field(False)
            self.caption.setText(f"Cannot show the receptive field: {error}")
            return
        run.keep_field(layer, position, field)
        if self.in_field_view():
            self._render()  # draws it if it is still the selected cell's, else asks for that one

    # -- a Conv input gradient's check over the whole image ------------------------------------------------
    def _check_whole(self, stop) -> None:
        """Scatter and gather dX of the whole image on a thread, then draw the stop again with the verdict."""
        from convviz.engine.explain_layers import conv_input_grad_scatter

        run, layer = self.run, stop.layer
        what = f"Checking {layer}'s scatter and gather against the engine's dX over the whole image …"
        self.caption.setText(what)
        if self.jobs.busy("scatter") and self._checking == (run, layer):
            return  # another cell of the same stop: the check asked for already is the one wanted
        self._checking = (run, layer)

        def done(whole, error) -> None:
            if run is not self.run:
                return
            if error is not None:
                self.caption.setText(f"Cannot check {layer}'s dX: {error}")
                return
            run.keep_scatter(layer, whole)
            current = self.current_stop
            if current is not None and current.kind == "backward" and current.layer == layer and not current.part:
                self._render()

        self.jobs.run("scatter", what, lambda: conv_input_grad_scatter(run.net, run.trace, layer, 0), done)

    # -- FC → CONV ---------------------------------------------------------------------------------------
    def show_slide(self, on: bool = True) -> None:
        """The FC → CONV view (``on``) or the timeline's stop again; a big network slides on a thread."""
        self.slide_button.blockSignals(True)
        self.slide_button.setChecked(on)
        self.slide_button.blockSignals(False)
        if not on:
            self.jobs.cancel("slide")
        if on and self.run is not None and (self.slide is None or self.slide[0] is not self.run):
            from convviz.engine.explain_slide import slide_map

            run = self.run
            try:
                image, text = self.slide_input(run.spec)
            except (ValueError, OSError) as exc:
                self._on_slid(run, "", None, exc)
                return
            if self.in_background():
                _, h, w = image.shape
                what = f"FC → CONV: sliding the converted network over the {w}×{h} image in one pass …"
                self.caption.setText(what)
                self.jobs.run("slide", what, lambda: slide_map(run.net, image),
                              lambda m, error: self._on_slid(run, text, m, error), on_cancel=lambda: self.show_slide(False))
                return
            try:
                self._on_slid(run, text, slide_map(run.net, image), None)
            except (ValueError, OSError) as exc:
                self._on_slid(run, text, None, exc)
            return
        self._arrive(keep_position=False)

    def _on_slid(self, run, text, slide, error) -> None:
        if run is not self.run:
            return
        if error is not None:
            self.slide = None
            self.slide_button.setChecked(False)
            self.caption.setText(f"FC → CONV: {error}")
            return
        self.slide, self.slide_text = (run, slide), text
        if self.slide_button.isChecked():
            self._arrive(keep_position=False)

    def in_slide_view(self) -> bool:
        return self.slide_button.isChecked() and self.slide is not None and self.slide[0] is self.run
