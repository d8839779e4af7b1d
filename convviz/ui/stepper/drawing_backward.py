"""What the backward stops of the Step workspace draw: a Conv layer's weight gradient (x · dY summed over
every position), and the gradient a layer sends down: a max pool's routing, an average pool's shares, a
Conv input gradient as scatter and gather, a block's or an FC layer's (drawing_blocks.py), an element-wise
layer's gate (a mixin of :class:`~convviz.ui.stepper.workspace.StepWorkspaceView`; it keeps no state)."""

from __future__ import annotations

import numpy as np

from convviz.engine.explain_blocks import BlockExplanation
from convviz.engine.explain_fc import FCInputGradExplanation
from convviz.engine.explain_step import ledger_terms
from convviz.ui.stepper.ledger import (
    SCATTER_HEADERS,
    LazyRow,
    Row,
    index,
    number,
    scatter_rows,
)
from convviz.ui.stepper.stepping import AvgPoolBackward, ConvBackward, MaxPoolBackward


class BackwardDrawing:
    """The backward stops."""

    def _draw_weight_grad(self, stop, upstream, inputs):
        """dW[k, c, i, j] = Σ over every output position (y, x) of dY[k, y, x] · X[c, y·S + i·d, x·S + j·d]."""
        e, layer = self.explanation, self.run.layer(stop)
        geo = layer.geometry
        (sh, sw), (dh, dw), ((top, _), (left, _)) = geo.stride, geo.dilation, geo.pad
        self.canvas.left.show(upstream, f"dL/d output {self._shape_text(np.shape(upstream))} arriving: slice {e.k} "
                              "is every position's dY", focus=e.k, key=self._key("left"))
        self.canvas.right.show(inputs, f"the input {self._shape_text(np.shape(inputs))} of {stop.layer}: slice {e.c}, "
                               f"the cells tap ({e.p}, {e.q}) reads", self._pad_of(stop), focus=e.c, key=self._key("right"))
        Ho, Wo = upstream.shape[1:]
        self.canvas.left.outline(e.k, 0, 0, Ho, Wo, colour="#ff8c00", width=2.5)  # before the zoom: not in it
        self.canvas.left.zoom_to(e.k, 0, 0, min(Ho, 5), min(Wo, 5), margin=0)
        r0, c0 = e.p * dh - top, e.q * dw - left
        self.canvas.right.zoom_to(e.c, r0, c0, min(5 * sh, Ho * sh), min(5 * sw, Wo * sw), margin=0)
        taps = [(r0 + y * sh, c0 + x * sw) for y in range(Ho) for x in range(Wo)]
        self.canvas.right.outline_cells(e.c, taps, zoomed=[(r0 + y * sh, c0 + x * sw) for y in range(min(Ho, 5))
                                                            for x in range(min(Wo, 5))])
        shape, running = e.inputs.shape, np.cumsum(e.products.ravel())  # the running sum, in the ledger's order
        pads = np.broadcast_to(e.padding, shape).ravel()

        def cells(i: int) -> tuple[str, ...]:  # one image: its index n (0) left out
            n, y, x = (int(v) for v in np.unravel_index(i, shape))
            return (str(i + 1), index((e.c, r0 + y * sh, c0 + x * sw)) + (" pad" if pads[i] else ""),
                    number(float(e.inputs[n, y, x])), index((e.k, y, x)), number(float(e.upstream[n, y, x])),
                    number(float(e.products[n, y, x])), number(float(running[i])))

        rows = [LazyRow(lambda i=i: cells(i), "pad" if pads[i] else "term", i) for i in range(running.size)]
        rows.append(Row(("", "= Σ over positions", "", "", "", "", number(e.total)), "total"))
        rows.append(Row(("", "engine dW", "", "", "", "", number(e.engine)), "check" if e.matches else "wrong"))
        record = self.run.trace[stop.layer]
        if "bias" in record.param_grads:
            rows.append(Row(("", f"bias: db[{e.k}] = Σ dY[{e.k}]", "", "", "", "",
                             number(float(record.param_grads["bias"][e.k]))), "sum"))
        self.ledger.show_rows(("#", "x[c,y,x]", "x", "dY[k,y,x]", "dY", "x·dY", "running Σ"), rows)
        self.heading.setText(
            f"<b>{stop.layer}</b> weight gradient: dW[{e.k}, {e.c}, {e.p}, {e.q}] = Σ over all {Ho}×{Wo} output "
            f"positions of x · dY = <b>{number(e.total)}</b>; the engine: {number(e.engine)} "
            f"({'equal' if e.matches else 'DIFFERENT'}). One weight is used at every position, so its gradient "
            "adds up what every position says.")
        self.caption.setText("Shift+→ steps through the weights w[k, c, i, j]; the orange cells on the input are the "
                             f"ones weight ({e.p}, {e.q}) multiplied, one per output position.")

    def _draw_backward(self, stop, upstream, downstream):
        run, e = self.run, self.explanation
        if stop.part == "weights":
            self._draw_weight_grad(stop, upstream, downstream)
            return
        layer = run.layer(stop)
        self.canvas.left.show(upstream, f"dL/d output {self._shape_text(np.shape(upstream))} arriving",
                              focus=self.position[0] if isinstance(e, (MaxPoolBackward, AvgPoolBackward)) else 0,
                              key=self._key("left"))
        self.canvas.right.show(downstream, f"dL/d input {self._shape_text(np.shape(downstream))} sent down",
                               self._pad_of(stop) if isinstance(e, (ConvBackward, AvgPoolBackward)) else ((0, 0), (0, 0)),
                               focus=self.position[0], key=self._key("right"))
        if isinstance(e, AvgPoolBackward):
            w = e.window
            self._select_cell(self.canvas.left, self.position)
            span = (int(w.rows[0]), int(w.cols[0]), int(w.rows[-1] - w.rows[0] + 1), int(w.cols[-1] - w.cols[0] + 1))
            self.canvas.right.zoom_to(w.c, *span)
            self.canvas.right.outline(w.c, *span, colour="#ff8c00", width=2.5)
            rows = [Row((str(i + 1), index((w.c, int(w.rows[p]), int(w.cols[q]))) + (" pad" if w.padding[p, q] else ""),
                         f"gets {number(e.share)}" + (" (dropped)" if w.padding[p, q] else "")),
                        "pad" if w.padding[p, q] else "term")
                    for i, (p, q) in enumerate(np.ndindex(w.window.shape))]
            rows.append(Row(("", "sharing = engine dX", "yes" if e.sharing.matches else "NO"),
                            "check" if e.sharing.matches else "wrong"))
            self.ledger.show_rows(("", "input x[c,y,x]", "gradient"), rows)
            self.heading.setText(
                f"<b>{stop.layer}</b> backward: dY[{w.c}, {w.y}, {w.x}] = <b>{number(e.upstream)}</b> is shared equally "
                f"by the {w.window.size} cells of its window: {number(e.upstream)}/{w.window.size} = "
                f"<b>{number(e.share)}</b> each (an average takes every cell in equal part)")
            self.caption.setText(e.sharing.text + ".")
        elif isinstance(e, MaxPoolBackward):
            w = e.window
            self._select_cell(self.canvas.left, self.position)
            self.canvas.right.zoom_to(w.c, int(w.rows[0]), int(w.cols[0]), int(w.rows[-1] - w.rows[0] + 1),
                                      int(w.cols[-1] - w.cols[0] + 1))
            self.canvas.right.outline(w.c, int(w.rows[0]), int(w.cols[0]), int(w.rows[-1] - w.rows[0] + 1),
                                      int(w.cols[-1] - w.cols[0] + 1), colour="#ff8c00", width=2.5)
            self.canvas.right.outline(w.c, *w.winner_cell, colour="#d93025", width=3.0)
            ties = (f" {w.ties} cells tie for the maximum: the engine sends it to the first in row-major order."
                    if w.ties > 1 else "")
            self.heading.setText(
                f"<b>{stop.layer}</b> backward: dY[{w.c}, {w.y}, {w.x}] = <b>{number(e.upstream)}</b> goes to the cell "
                f"that won the forward max, input [{w.c}, {w.winner_cell[0]}, {w.winner_cell[1]}]; the other "
                f"{w.window.size - 1} cells of the window get 0 from it.{ties}")
            self.ledger.show_rows(("", "input x[c, y, x]", "forward x", "gradient"), self._window_rows(w, e.upstream) + [
                Row(("", "routing = engine dX", "", "yes" if e.routing.matches else "NO"),
                    "check" if e.routing.matches else "wrong")])
            self.caption.setText(e.routing.text + ".")
        elif isinstance(e, ConvBackward):
            s = e.scatter
            self._select_cell(self.canvas.right, self.position)
            if len(s.sources):
                k0 = int(s.sources[np.argmax(np.abs(s.upstream))][0])  # the slice with the largest dY reaching it
                ys, xs = s.sources[s.sources[:, 0] == k0][:, 1], s.sources[s.sources[:, 0] == k0][:, 2]
                self.canvas.left.zoom_to(k0, int(ys.min()), int(xs.min()), int(ys.max() - ys.min() + 1),
                                         int(xs.max() - xs.min() + 1))
            for k, y, x in {(int(k), int(y), int(x)) for k, y, x, _, _ in s.sources}:
                self.canvas.left.outline(k, y, x, colour="#ff8c00", width=2.0)
            self.ledger.show_rows(SCATTER_HEADERS, scatter_rows(ledger_terms(run.net, s), s.total, e.gather.total, s.engine,
                                                                s.matches and e.gather.matches))
            self.heading.setText(
                f"<b>{stop.layer}</b> backward: dX[{s.c}, {s.i}, {s.j}] = Σ dY · w over the outputs whose window "
                f"covers it (orange) = <b>{number(s.total)}</b>; as a gather, a full convolution of the padded dY with "
                f"the filters rotated 180°: {number(e.gather.total)}")
            if e.whole is None:
                self._check_whole(stop)  # on a thread: the caption says so, and says the verdict when it is there
            else:
                self.caption.setText(e.whole.text + ".")
        elif isinstance(e, BlockExplanation):
            self._draw_block_backward(stop, layer, e, upstream, downstream)
        elif isinstance(e, FCInputGradExplanation):
            self._draw_fc_backward(stop, layer, e, upstream, downstream)
        else:
            self._select_cell(self.canvas.right, self.position)
            if np.shape(upstream) == np.shape(downstream):
                self._select_cell(self.canvas.left, self.position)
            value = float(np.asarray(downstream)[tuple(self.position)])
            self.heading.setText(f"<b>{stop.layer}</b> ({layer.spec.TITLE}) backward")
            rows = [Row(("", f"dL/d input {index(self.position)}", number(value)), "total")]
            if np.shape(upstream) == np.shape(downstream):  # element-wise: dX = dY · f′(x)
                dy = float(np.asarray(upstream)[tuple(self.position)])
                x = float(np.asarray(run.trace[stop.layer].input[0])[tuple(self.position)])
                rows[:0] = [Row(("", f"dL/d output {index(self.position)}", number(dy)), "term"),
                            Row(("", "forward input x", number(x)), "term")]
                if stop.type == "relu":
                    rows.append(Row(("", "x > 0: the gate", "open: dY passes" if x > 0 else "shut: 0"), "sum"))
                elif dy != 0:
                    rows.append(Row(("", "f′(x) = dX / dY", number(value / dy)), "sum"))
                gated = int(np.sum((np.asarray(upstream) != 0) & (np.asarray(downstream) == 0)))
                rows.append(Row(("", "cells the layer stopped", f"{gated} of {np.size(upstream)}"), "sum"))
            self.ledger.show_rows(("", "cell", "value"), rows)
            self.caption.setText(f"{stop.layer} sends dL/d input {self._shape_text(np.shape(downstream))} to the layer before.")
