"""What the Step workspace draws in its FC → CONV view (the FC → CONV button): the network converted to
an all-conv one (``convviz.engine.fc_to_conv``) slid in one pass over a larger image (a 2×2 mosaic of
test images, or one's own picture fitted to twice the input), the class-score map, and the selected map
position beside the original network's score on the crop it sees (a mixin of
:class:`~convviz.ui.stepper.workspace.StepWorkspaceView`)."""

from __future__ import annotations

import numpy as np

from convviz.engine.explain_slide import explain_slide_cell
from convviz.ui.stepper.ledger import Row, number


class SlideDrawing:
    """The FC → CONV view."""

    def _slide_cell(self, k: int, i: int, j: int):
        """The SlideCell of (k, i, j): made already, made now (a small network), or asked for on a thread
        (None: drawn when it arrives). The original network's forward pass on the crop is what it costs."""
        run, m = self.run, self.slide[1]
        key = (id(m), k, i, j)
        if key in self.slide_cells:
            return self.slide_cells[key]
        if not self.in_background():
            with run.lock:
                self.slide_cells = {key: explain_slide_cell(run.net, m, k, i, j)}
            return self.slide_cells[key]

        def work():
            with run.lock:  # the network's forward pass is not to be shared with a gradient check's
                return explain_slide_cell(run.net, m, k, i, j)

        def done(cell, error) -> None:
            if error is None and self.slide is not None and self.slide[1] is m:
                self.slide_cells = {key: cell}
                if self.in_slide_view() and tuple(self.position) == (k, i, j):
                    self._render()

        self.jobs.run("slide cell", f"FC → CONV: the original network on the crop of ({i}, {j}) …", work, done)
        return None

    def _draw_slide(self) -> None:
        m = self.slide[1]  # (the StepRun it was made for, the SlideMap)
        k, i, j = self.position
        e = self._slide_cell(k, i, j)
        self.explanation = e
        K, H, W = m.scores.shape
        c, h, w = m.image.shape
        self.canvas.set_scale(m.image, m.scores)
        self.canvas.left.show(m.image, f"{self.slide_text}: {w}×{h}×{c}", focus=0, key=self._key("slide"))
        self.canvas.right.show(m.scores, f"class-score map {W}×{H}, one slice per class", focus=k,
                               key=self._key("slide map"))
        self._select_cell(self.canvas.right, self.position)
        (r, col), (ch, cw) = m.converted.offset(i, j), m.converted.window
        for s in range(c):
            self.canvas.left.outline(s, r, col, ch, cw, colour="#ff8c00", width=2.5)
        self.canvas.left.zoom_to(0, r, col, min(ch, 8), min(cw, 8))
        rows = []
        best = [(int(np.argmax(m.scores[q])), float(np.max(m.scores[q]))) for q in range(K)]
        for q, (flat, top) in enumerate(best):
            y, x = divmod(flat, W)
            rows.append(Row((str(q), self.run.class_name(q), number(float(m.scores[q, i, j])), f"{number(top)} at ({y}, {x})"),
                            "winner" if q == k else "term"))
        winner = int(np.argmax(m.scores[:, i, j]))
        rows.append(Row(("", f"map s[{k}, {i}, {j}] ({self.run.class_name(k)})", "", number(float(m.scores[k, i, j]))),
                        "total"))
        if e is None:
            rows.append(Row(("", f"original net on crop ({r}, {col})", "", "computing …"), "term"))
        else:
            rows += [Row(("", f"original net on crop ({r}, {col})", "", number(e.crop_score)),
                         "check" if e.matches else "wrong"),
                     Row(("", "difference", "", number(e.difference)), "sum")]
        rows.append(Row(("", "the conversion is exact", "", "yes" if m.exact else "no"), "check" if m.exact else "wrong"))
        self.ledger.show_rows(("", "class", f"score at ({i}, {j})", "best in the map"), rows)
        sh, sw = m.converted.stride
        apart = f"{sw}" if sh == sw else f"{sh} (down) and {sw} (across)"
        self.heading.setText(
            f"<b>FC → CONV</b>: the FC layers as convolutions, slid over a {w}×{h} image in one pass: a {W}×{H} map of "
            f"every class's score, one position per {cw}×{ch} crop, {apart} pixels apart; at ({i}, {j}) the best class is "
            f"<b>{self.run.class_name(winner)}</b>")
        why = ("Exact: no layer pads, so every map position is the original network on its crop." if m.exact else
               "Not exact: a padded layer sees zeros at a crop's border where the larger image has real pixels, "
               "so the map differs from the crops wherever a crop's border lies inside the image (it is what an "
               "all-conv network computes on the larger image).")
        self.caption.setText(f"{why} Shift+→ moves along the map; the orange box is the crop of the selected position.")
