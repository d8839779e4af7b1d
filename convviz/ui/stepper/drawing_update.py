"""What the Step workspace's update stop draws: one weight's step by the run's optimizer, term by
term, W before and after, and every parameter's update/weight ratio against the usual ~1e-3 (a mixin
of :class:`~convviz.ui.stepper.workspace.StepWorkspaceView`; it keeps no state)."""

from __future__ import annotations

import numpy as np

from convviz.training.config import TrainConfig
from convviz.ui.stepper.ledger import Row, index, number

HEALTHY = 1e-3  # the usual update/weight ratio (CS231n): much larger learns erratically, much smaller hardly learns


def state_note(state) -> str:
    """Where the update stop's optimizer state is from: ``momentum from step 1,234 of the run`` …"""
    terms = {"adam": "Adam's moments", "sgd": "plain SGD (no state)"}.get(state.optimizer, "momentum")
    where = {"running": "of the run (paused while you step)", "ended": "of the run, where it ended",
             "checkpoint": "of the opened run (its checkpoint)"}.get(state.origin, "of the run")
    return f"The run's optimizer ({state.optimizer}): {terms} from step {state.step:,} {where}, lr = {state.lr:g}."


def ratio_text(ratio: float) -> str:
    if not np.isfinite(ratio):
        return "— (W = 0)"
    verdict = "high" if ratio > 10 * HEALTHY else ("low" if ratio < HEALTHY / 10 else "ok")
    return f"{ratio:.2e} {verdict}"


class UpdateDrawing:
    """The update stop, and the optimizer it steps with."""

    def set_learning_rate(self, lr: float) -> None:
        """The learning rate of the next run (the Training panel's), for the update stop when no run goes on."""
        self.learning_rate, self._lr_given = float(lr), True
        self._config_changed()

    def _optimizer_state(self):
        """(the session's OptimizerState for the current weights or None, a note when it could not be read)."""
        try:
            return self.session.current_optimizer_state(), ""
        except (ValueError, OSError, TimeoutError) as exc:
            return None, f" (the run's optimizer state could not be read: {exc})"

    def train_config(self) -> TrainConfig:
        """The optimizer the update stop steps with. With the run's ``optimizer_state``: the run's optimizer,
        its velocity or moments and the lr of its next step; else the session's choice for the next run
        (``session.optimizer``) from zero velocity or moments, with ``learning_rate`` (the Training panel's)
        and the momentum and weight decay of an opened run, else the defaults. ``config_note`` says which."""
        opened = self.session.opened
        base = opened.config if opened is not None else TrainConfig()
        state = self.optimizer_state
        if state is not None:
            self.config_note = state_note(state)
            return base.replace(optimizer=state.optimizer, lr=state.lr)
        where = "the Training panel's learning rate" if self._lr_given else "the default learning rate"
        first = "plain SGD keeps no state" if self.session.optimizer == "sgd" else "first step: no momentum yet"
        self.config_note = (f"The optimizer chosen for the next run ({self.session.optimizer}) with {where}; "
                            f"{first}{self._state_note}.")
        return base.replace(optimizer=self.session.optimizer, lr=self.learning_rate)

    def _state_words(self) -> str:
        state = self.run.optimizer_state
        if state is None or self.run.state_error:
            return "a first step from zero velocity or moments"
        return f"optimizer step {self.run.optimizer()[0].steps + 1:,}, the run's state from step {state.step:,}"

    def _config_changed(self) -> None:
        if self.run is not None:
            self.run.set_config(self.train_config())
            if self.current_stop is not None and self.current_stop.kind == "update":
                self._render()

    def _draw_update(self, stop, *_):
        e = self.explanation
        before, after = self.run.update_volumes(e.name)
        self.canvas.set_scale(before, after)
        self.canvas.left.show(before, f"{e.name} W before", key=self._key("left", e.name, self.run.config))
        self.canvas.right.show(after, f"W after one {e.method} step (lr = {e.lr:g})",
                               key=self._key("right", e.name, self.run.config))
        self._select_cell(self.canvas.left, (0,) * before.ndim)
        self._select_cell(self.canvas.right, (0,) * after.ndim)
        at = f"{e.name}{index(e.index)}"
        names = {"w": f"w = {at}", "dW": f"dW = dL/d{at}"}
        rows = [Row(("", names.get(label, label), number(value), ""), "total" if label == "w − step" else "term")
                for label, value in e.rows]
        rows.append(Row(("", "the engine optimizer's step", number(e.engine), ""), "check" if e.matches else "wrong"))
        rows.append(Row(("", "every parameter after one step:", "", ""), "subtotal"))
        for name in self.run.update_names():
            u = self.run.update(name)
            rows.append(Row(("", f"{name}: ‖W‖ {u.weight_norm:.4g}, ‖ΔW‖ {u.update_norm:.4g}", "", ratio_text(u.ratio)),
                            "winner" if name == e.name else "term"))
        self.ledger.show_rows(("", "what", "value", "‖ΔW‖/‖W‖"), rows)
        self.heading.setText(
            f"<b>Update</b> ({e.method}, lr = {e.lr:g}, {self._state_words()}): {at} {number(e.weight)} − {number(e.step)} = "
            f"<b>{number(e.result)}</b>; the update/weight ratio of {e.name} is {e.ratio:.1e} (about {HEALTHY:g} is healthy)")
        problem = f" Its saved state does not fit: {self.run.state_error}; starting from 0." if self.run.state_error else ""
        self.caption.setText(f"{self.config_note}{problem} Shift+→ picks the next parameter.")
