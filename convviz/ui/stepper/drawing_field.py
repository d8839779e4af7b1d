"""What the Step workspace draws in its receptive-field view (the Receptive field button at a forward
stop): the selected output cell as the one-hot a backward pass starts from, and on the left the gradient
of that cell with respect to the input or any earlier layer's output (click a ledger row), with the
analytic box it can see outlined in orange and where the gradient is not zero in blue (a mixin of
:class:`~convviz.ui.stepper.workspace.StepWorkspaceView`)."""

from __future__ import annotations

import numpy as np

from convviz.model import analyze
from convviz.model.receptive import receptive_fields
from convviz.ui.stepper.ledger import Row, number

BOX, SUPPORT = "#ff8c00", "#1a73e8"


def span_text(span) -> str:
    return f"{span[0]}–{span[1]}" if span[0] != span[1] else str(span[0])


class FieldDrawing:
    """The receptive-field view."""

    def field_volumes(self, stop):
        """(d cell / d chosen volume, the one-hot seed shaped like the layer's output) of the field view."""
        f = self.explanation
        box = f.boxes[min(self.field_volume, len(f.boxes) - 1)]
        _, out = self.run.volumes(stop)
        seed = np.zeros(np.shape(out))
        seed[tuple(self.position)] = 1.0
        return box.gradient, seed

    def _draw_field(self, stop, gradient, seed):
        f = self.explanation
        chosen = min(self.field_volume, len(f.boxes) - 1)
        box = f.boxes[chosen]
        self.canvas.set_scale(gradient)
        where = "the input" if box.layer == "input" else f"the output of {box.layer}"
        self.canvas.left.show(gradient, f"d {stop.layer}{list(f.cell)} / d {where}: the cell's actual gradient",
                              focus=0, key=self._key("field", f.cell, chosen))
        self.canvas.right.show(seed, f"{stop.layer}: the backward pass starts from 1 at the cell, 0 elsewhere",
                               key=self._key("seed"))
        self._select_cell(self.canvas.right, self.position)
        (r0, r1), (c0, c1) = box.rows, box.cols
        strongest = int(np.argmax(np.abs(gradient).reshape(gradient.shape[0], -1).max(axis=1)))
        self.canvas.left.zoom_to(strongest, r0, c0, min(r1 - r0 + 1, 9), min(c1 - c0 + 1, 9))
        for c in range(box.shape[0]):
            self.canvas.left.outline(c, r0, c0, r1 - r0 + 1, c1 - c0 + 1, colour=BOX, width=2.5)
            if box.support is not None:
                (s0, s1), (t0, t1) = box.support
                self.canvas.left.outline(c, s0, t0, s1 - s0 + 1, t1 - t0 + 1, colour=SUPPORT, width=1.5)
        rows = []
        for i, b in enumerate(f.boxes):
            size = "all" if b.whole else f"{b.size[1]}×{b.size[0]}"
            support = "nowhere" if b.support is None else f"{span_text(b.support[0])}, {span_text(b.support[1])}"
            name = "input" if b.layer == "input" else b.layer
            rows.append(Row(("", name + (" (padding)" if b.clipped else ""), size, span_text(b.rows), span_text(b.cols),
                             support), "winner" if i == chosen else "term", i))
        model = receptive_fields(analyze(self.run.spec)).get(stop.layer)
        if model is not None:
            rows.append(Row(("", "the model's field (size, jump)", "", "", "", model.short()), "sum"))
        inside = all(b.inside for b in f.boxes)
        rows.append(Row(("", "gradient inside every box", "", "", "", "yes" if inside else "NO"),
                        "check" if inside else "wrong"))
        rows.append(Row(("", f"the cell {stop.layer}{list(f.cell)}", "", "", "", number(f.value)), "total"))
        self.ledger.show_rows(("", "volume", "box", "rows", "cols", "gradient ≠ 0 (rows, cols)"), rows)
        self.heading.setText(
            f"<b>{stop.layer}</b> receptive field of cell {list(f.cell)} on {where}: rows {span_text(box.rows)}, "
            f"cols {span_text(box.cols)} ({'the whole volume' if box.whole else f'{box.size[1]}×{box.size[0]}'}) in "
            f"orange; the gradient from one backward pass is not zero inside the blue box")
        self.caption.setText(f.text + ". Click a row to see the field on that layer's output; Shift+→ or a click "
                             "on the right moves the cell; a box marked (padding) reaches into zero padding and is "
                             "clipped to the volume.")
