"""What the Step workspace's update stop draws: one weight's step by the run's optimizer, term by
term, W before and after, and every parameter's update/weight ratio against the usual ~1e-3 (a mixin
of :class:`~convviz.ui.stepper.workspace.StepWorkspaceView`; it keeps no state)."""

from __future__ import annotations

import numpy as np

from convviz.ui.stepper.ledger import Row, index, number

HEALTHY = 1e-3  # the usual update/weight ratio (CS231n): much larger learns erratically, much smaller hardly learns


def ratio_text(ratio: float) -> str:
    if not np.isfinite(ratio):
        return "— (W = 0)"
    verdict = "high" if ratio > 10 * HEALTHY else ("low" if ratio < HEALTHY / 10 else "ok")
    return f"{ratio:.2e} {verdict}"


class UpdateDrawing:
    """The update stop."""

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
