"""The Step workspace's controls beside the timeline: the gradient check (on a thread), playing,
clicking a cell, and the receptive-field view a button opens at a forward stop — a mixin of
:class:`~convviz.ui.stepper.workspace.StepWorkspaceView`, which owns the widgets they use."""

from __future__ import annotations

from convviz.ui.stepper.ledger import index
from convviz.ui.stepper.stepping import AvgPoolBackward, MaxPoolBackward


class StepControls:
    """Checking, playing, clicking, and the field and FC → CONV views."""

    def check_target(self) -> tuple[str, tuple[int, ...]] | None:
        """What the gradient check would check at this stop: ("input", (0, c, y, x)) at the input,
        (``conv1.weight``, (k, c, i, j)) at a weight-gradient stop, the first number of the chosen
        parameter at the update; None elsewhere."""
        stop = self.current_stop
        if stop is None:
            return None
        if stop.kind == "input":
            return "input", (0, *self.position)
        if stop.part == "weights":
            return f"{stop.layer}.weight", tuple(self.position)
        if stop.kind == "update" and self.explanation is not None:
            name = self.explanation.name
            layer, key = name.rsplit(".", 1)
            return name, (0,) * self.run.trace[layer].params[key].ndim
        return None

    def check_gradient(self) -> None:
        """Check the gradient of ``check_target()`` by centred differences, on a thread; the result
        is shown beside the button and emitted as ``gradient_checked``."""
        target = self.check_target()
        if target is None or self.run is None:
            return
        from convviz.engine.explain_step import gradient_check

        run = self.run
        self.check_button.setEnabled(False)
        self.check_label.setText("checking …")
        self.jobs.run("check", "Checking the gradient by centred differences …",
                      lambda: _locked(run, lambda: gradient_check(run.net, run.trace, [run.label], *target)),
                      lambda result, error: self._on_checked(run, result if error is None else error),
                      on_cancel=lambda: self._on_checked(run, ValueError("cancelled")))

    def _on_checked(self, run, result) -> None:
        self.check_button.setEnabled(self.check_target() is not None)
        if run is not self.run:
            return
        if isinstance(result, Exception):
            self.check_label.setText(f"Cannot check: {result}")
            return
        self.last_check = result
        verdict = "agree" if result.rel_error < 1e-6 else "DISAGREE"
        self.check_label.setText(
            f"{result.what}{index(result.index)}: backward {result.analytic:.8g}, centred difference "
            f"{result.numeric:.8g}; relative error {result.rel_error:.1e}: they {verdict}")
        self.gradient_checked.emit(result)

    def toggle_play(self) -> None:
        """Space: play (every cell of each stop in turn, at the chosen speed) or pause."""
        self.play_button.toggle()

    def _play_toggled(self, playing: bool) -> None:
        self.player.stop()
        if playing:
            self.player.start(round(1000 / self.speed.currentData()))

    def _play_step(self) -> None:
        """One cell on; after a stop's last cell, the next stop; at the update, stop playing."""
        shape = self._shape()
        last = len(self.position) == len(shape) and shape and all(p == s - 1 for p, s in zip(self.position, shape))
        if not shape or last:
            if self.run is None or self.stop_index >= len(self.run.stops) - 1:
                self.play_button.setChecked(False)
                return
            self.next_stop()
        else:
            self.next_position()

    def _position_panel(self):
        """The panel whose cells are the positions of the current stop (None: not on a panel)."""
        stop = self.current_stop
        if self.in_slide_view():
            return self.canvas.right
        if stop is None or stop.kind == "update" or stop.part == "weights":
            return None
        if stop.kind in ("input", "loss") or isinstance(self.explanation, (MaxPoolBackward, AvgPoolBackward)):
            return self.canvas.left
        return self.canvas.right

    def _clicked(self, event) -> None:
        """A click on a cell of the volume the stop steps through selects it."""
        panel = self._position_panel()
        cell = panel.cell_at(event.scenePos()) if panel is not None else None
        if cell is None:
            return
        shape = self._shape()
        self.set_position(cell[:1] if len(shape) == 1 else cell)

    # -- images and weights ------------------------------------------------------------------------------------
    def show_field(self, on: bool = True, volume: int = 0) -> None:
        """The receptive-field view of the selected cell (at a forward stop), on earlier volume ``volume``
        (0: the input, i: the output of the i-th top-level layer)."""
        self.field_button.blockSignals(True)
        self.field_button.setChecked(on)
        self.field_button.blockSignals(False)
        self.field_volume = volume
        self._render()

    def _field_toggled(self, _on: bool) -> None:
        self.field_volume = 0
        self._render()

    def _field_row(self, row: int) -> None:
        if row >= 0 and self.in_field_view():
            self.field_volume = row
            self._render()

    def in_field_view(self) -> bool:
        stop = self.current_stop
        return self.field_button.isChecked() and stop is not None and self.run.has_field(stop)


def _locked(run, work):
    """``work()`` while holding the run's lock: its network's forward pass is not to be shared."""
    with run.lock:
        return work()
