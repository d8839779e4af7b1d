"""What the Step workspace's update stop draws: one weight's step by the run's optimizer, term by
term, W before and after, and every parameter's update/weight ratio against the usual ~1e-3 (a mixin
of :class:`~convviz.ui.stepper.workspace.StepWorkspaceView`; it keeps no state)."""

from __future__ import annotations

import numpy as np

from convviz.training.config import TrainConfig
from convviz.ui.stepper.ledger import Row, index, number

HEALTHY = 1e-3  # the usual update/weight ratio (CS231n): much larger learns erratically, much smaller hardly learns


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

    def train_config(self) -> TrainConfig:
        """The optimizer the update stop steps with: the session's choice (``session.optimizer``); the lr of
        the run going on (its newest record, the schedule included), else ``learning_rate``; momentum and
        weight decay of an opened run, else the defaults. ``config_note`` says which."""
        opened = self.session.opened
        base = opened.config if opened is not None else TrainConfig()
        lr, where = self.learning_rate, ("the Training panel's learning rate" if self._lr_given else
                                         "the default learning rate (the Training panel's is not passed to this view)")
        metrics = self.session.records.metrics
        if self.session.running and metrics:
            lr, where = metrics[-1].lr, f"the run's learning rate at step {metrics[-1].step} (its schedule)"
        self.config_note = (f"The optimizer chosen for the run ({self.session.optimizer}) with {where}. "
                            "Its velocity or moments start at 0 (a first step): the running trainer's optimizer state "
                            "is not reachable from here.")
        return base.replace(optimizer=self.session.optimizer, lr=lr)

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
            f"<b>Update</b> ({e.method}, lr = {e.lr:g}): {at} {number(e.weight)} − {number(e.step)} = "
            f"<b>{number(e.result)}</b>; the update/weight ratio of {e.name} is {e.ratio:.1e} (about {HEALTHY:g} is healthy)")
        self.caption.setText(f"{self.config_note} Shift+→ picks the next parameter.")
