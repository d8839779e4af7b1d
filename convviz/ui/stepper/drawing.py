"""What each stop of the Step workspace draws: the two volumes and their zooms, the ledger, the
heading and the caption, from the engine explanation of the selected cell.

:class:`StopDrawing` is mixed into :class:`~convviz.ui.stepper.workspace.StepWorkspaceView`, whose
``_render`` calls ``_draw_<kind>(stop, left, right)``; it reads the view's ``run``, ``position``,
``explanation`` and widgets (``canvas``, ``ledger``, ``heading``, ``caption``) and keeps no state.
"""

from __future__ import annotations

import numpy as np

from convviz.engine import windowed as W
from convviz.engine.explain_blocks import ActivationExplanation, BlockExplanation
from convviz.engine.explain_layers import (
    BatchNormOutputExplanation,
    FCOutputExplanation,
)
from convviz.engine.explain_norm import DropoutExplanation, LRNExplanation
from convviz.engine.explain_step import ledger_terms
from convviz.engine.layer_base import as_4d
from convviz.engine.trace import ConvOutputExplanation
from convviz.ui.stepper.ledger import (
    CONV_HEADERS,
    FC_HEADERS,
    Row,
    conv_output_rows,
    index,
    number,
)
from convviz.ui.stepper.stepping import (
    ACTIVATIONS,
    Stop,
)

EXPLAINED_TERMS = (ConvOutputExplanation, FCOutputExplanation)  # ledgers whose terms point at an input cell


class StopDrawing:
    """The drawing of every kind of stop (see the module's docstring)."""

    def _key(self, *parts):
        """What a panel shows at this stop, so moving the cell does not redraw it."""
        return (self._ticket, self.stop_index, *parts)

    def _pad_of(self, stop: Stop):
        layer = self.run.layer(stop)
        return layer.geometry.pad if isinstance(layer, W.WindowLayer) else ((0, 0), (0, 0))

    def _select_cell(self, panel, position) -> None:
        """The selected cell outlined in black, with a wider ring around it so a small cell is found."""
        cell = tuple(position) + (0,) * (3 - len(position))
        if not panel.zoomed:
            panel.zoom_to(cell[0], cell[1], cell[2], margin=2)
        panel.outline(cell[0], cell[1], cell[2], colour="#202124", width=2.5)
        if panel.shape[1] * panel.shape[2] > 1:
            panel.outline(cell[0], cell[1] - 1, cell[2] - 1, 3, 3, colour="#20212480", width=1.0)

    def _draw_input(self, stop, volume, _):
        c, y, x = self.position
        self.canvas.left.show(volume, "the input image, normalised (one slice per channel)", focus=c,
                              key=self._key("left"))
        self.canvas.right.clear("")
        self._select_cell(self.canvas.left, self.position)
        self.heading.setText(f"<b>Input</b>: {self.image_text}, label <b>{self.run.class_name(self.run.label)}</b>")
        rows = []
        if self.pixels is not None:
            pixels, mean, std = self.pixels
            rows = [Row(("", f"pixel p[{y}, {x}] of channel {c}", str(int(pixels[y, x, c]))), "term"),
                    Row(("", f"mean[{c}] of the training pixels / 255", f"{mean[c]:.6g}"), "term"),
                    Row(("", f"std[{c}] of the training pixels / 255", f"{std[c]:.6g}"), "term")]
        rows.append(Row(("", f"x[{c},{y},{x}] = (p/255 − mean)/std", number(float(volume[c, y, x]))), "total"))
        rows.append(Row(("", "dL/dx from the backward pass", number(float(self.run.trace.input_grad[0, c, y, x]))),
                        "sum"))
        self.ledger.show_rows(("", "what", "value"), rows)
        self.caption.setText("→ steps into the first layer; Shift+→ moves the selected cell; the gradient check "
                             "compares dL/dx with a centred difference.")

    def _draw_forward(self, stop, left, right):
        run, e = self.run, self.explanation
        layer = run.layer(stop)
        cell = tuple(self.position) + (0,) * (3 - len(self.position))
        in_shape, out_shape = np.shape(left), np.shape(right)
        self.canvas.left.show(left, f"input {self._shape_text(in_shape)}", self._pad_of(stop),
                              focus=cell[0] if in_shape == out_shape or isinstance(layer, W.Pool) else 0,
                              key=self._key("left"))
        self.canvas.right.show(right, f"output {self._shape_text(out_shape)} of {stop.layer}", focus=cell[0],
                               key=self._key("right"))
        self._select_cell(self.canvas.right, self.position)
        if type(layer) is W.Conv:
            self._draw_conv_forward(stop, layer, e)
        elif isinstance(e, FCOutputExplanation):
            self._draw_fc_forward(stop, e, in_shape)
        elif isinstance(e, BatchNormOutputExplanation):
            self._select_cell(self.canvas.left, self.position)
            self.ledger.show_rows(("", "what", "value"), [
                Row(("", f"x{index(self.position)}", number(e.x)), "term"),
                Row(("", f"μ: running mean of slice {e.cell[0]}", number(e.mean)), "term"),
                Row(("", f"σ²: running variance of slice {e.cell[0]}", number(e.var)), "term"),
                Row(("", "ε", f"{e.eps:g}"), "term"),
                Row(("", "x̂ = (x − μ)/√(σ² + ε)", number(e.xhat)), "sum"),
                Row(("", "γ (weight)", number(e.gamma)), "term"),
                Row(("", "β (bias)", number(e.beta)), "term"),
                Row(("", "= output γ·x̂ + β", number(e.result)), "total"),
                Row(("", "engine", number(e.engine)), "check" if e.matches else "wrong")])
            self.heading.setText(f"<b>{stop.layer}</b> (batch norm) forward: output {index(self.position)} = "
                                 f"<b>{number(e.result)}</b>, normalised with the running statistics (evaluation)")
            self.caption.setText(e.text + ".")
        elif isinstance(layer, W.Pool):
            self._draw_pool_forward(stop, layer, e)
        elif isinstance(e, (LRNExplanation, DropoutExplanation)):
            self._draw_norm_forward(stop, layer, e, left, right)
        elif isinstance(e, ActivationExplanation):
            self._draw_activation_forward(stop, layer, e, left, right)
        elif isinstance(e, BlockExplanation):
            self._draw_block_forward(stop, layer, e, left, right)
        else:
            if in_shape == out_shape:
                self._select_cell(self.canvas.left, self.position)
            value = float(np.asarray(right)[tuple(self.position)])
            self.heading.setText(f"<b>{stop.layer}</b> ({layer.spec.TITLE}) forward")
            rows = [Row(("", f"output {index(self.position)}", number(value)), "total")]
            if np.shape(left) == np.shape(right):
                rows.insert(0, Row(("", f"input {index(self.position)}", number(float(np.asarray(left)[tuple(self.position)]))), "term"))
                changed = int(np.sum(np.asarray(left) != np.asarray(right)))
                rows.append(Row(("", "cells changed", f"{changed} of {np.size(left)}"), "subtotal"))
            self.ledger.show_rows(("", "cell", "value"), rows)
            self.caption.setText(f"{stop.layer}: {self._shape_text(in_shape)} → {self._shape_text(out_shape)}.")

    def _draw_conv_forward(self, stop, layer, e):
        geo = layer.geometry
        rows, cols = e.rows, e.cols
        dh, dw = geo.dilation
        terms = ledger_terms(self.run.net, e)
        term = terms[self._term] if self._term is not None and self._term < len(terms) else None
        zoom_channel = term.left[1][0] if term is not None else 0
        self.canvas.left.zoom_to(zoom_channel, int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1),
                                 int(cols[-1] - cols[0] + 1))
        for c in range(e.window.shape[0]):
            self.canvas.left.outline(c, int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1),
                                     colour="#ff8c00", width=2.5)
            if dh > 1 or dw > 1:  # the taps a dilated filter reads, the cells between them skipped
                for r in rows:
                    for col in cols:
                        self.canvas.left.outline(c, int(r), int(col), colour="#ff8c00", width=1.0)
        activation = None
        nxt = self.run.stops[self.stop_index + 1] if self.stop_index + 1 < len(self.run.stops) else None
        if nxt is not None and nxt.kind == "forward" and nxt.type in ACTIVATIONS:
            activation = (nxt.layer, float(as_4d(self.run.trace[nxt.layer].output)[(0, e.d, e.y, e.x)]))
        if term is not None:  # its input cell on the left, its weight in the right zoom (filter d, slice c)
            self.canvas.left.outline(*term.left[1], colour="#1a73e8", width=3.0)
            d, c, i, j = term.right[1]
            w = self.run.trace[stop.layer].params["weight"][d]
            zoom = self.canvas.right.zoom
            zoom.show(w, ((0, 0), (0, 0)), c, 0, 0, w.shape[1], w.shape[2], margin=0)
            zoom.outline(c, i, j, 1, 1, colour="#1a73e8", width=3.0)
            zoom.caption.setText(f"filter w[{d}], {zoom.caption.text()}; blue: the term's weight w[{d},{c},{i},{j}] = "
                                 f"{number(term.right[2])}")
        else:  # a new cell: the ledger again (a click on a term keeps it as it is)
            has_bias = "bias" in self.run.trace[stop.layer].params
            self.ledger.show_rows(CONV_HEADERS, conv_output_rows(terms, e.bias if has_bias else None, e.result,
                                                                 e.engine, e.matches, activation))
        policy = self._mark_policy(geo, e.window.shape[0])
        pads = int(e.padding.sum()) * e.window.shape[0]
        self.heading.setText(
            f"<b>{stop.layer}</b> forward: output <b>[d={e.d}, y={e.y}, x={e.x}]</b> = Σ x · w<sub>{e.d}</sub> "
            f"+ b<sub>{e.d}</sub> over {e.products.size} terms ({pads} read zero padding) = <b>{number(e.result)}</b>; "
            f"the engine: {number(e.engine)} ({'equal' if e.matches else 'DIFFERENT'})")
        C, K = e.window.shape[0], self.run.trace[stop.layer].params["weight"].shape[0]
        taps = C * geo.taps_h * geo.taps_w
        self.caption.setText(
            self._formula(geo) + " The orange box is the receptive field on every input slice; hatched cells are "
            f"zero padding.{policy} As im2col computes it: row {e.y * geo.out_w + e.x} of the {geo.out_h * geo.out_w}×{taps} "
            f"matrix of input windows times column {e.d} of the {taps}×{K} matrix of filters.")

    def _draw_fc_forward(self, stop, e, in_shape):
        terms = ledger_terms(self.run.net, e)
        term = terms[self._term] if self._term is not None and self._term < len(terms) else None
        if term is not None:  # the clicked term's input cell (x is flattened in (C, H, W) order) and its weight
            cell = tuple(int(i) for i in np.unravel_index(term.left[1][0], in_shape))
            self._select_cell(self.canvas.left, cell)
            row = self.run.trace[stop.layer].params["weight"][e.o]
            w, at = (row.reshape(in_shape), cell) if len(in_shape) == 3 else (row[None, None, :], (0, 0, cell[0]))
            zoom = self.canvas.right.zoom
            zoom.show(w, ((0, 0), (0, 0)), at[0], at[1], at[2], 1, 1, margin=2)
            zoom.outline(at[0], at[1], at[2], 1, 1, colour="#1a73e8", width=3.0)
            zoom.caption.setText(f"row W[{e.o}] as the input, {zoom.caption.text()}; blue: the term's weight "
                                 f"W[{e.o},{term.left[1][0]}] = {number(term.right[2])}")
        else:
            has_bias = "bias" in self.run.trace[stop.layer].params
            self.ledger.show_rows(FC_HEADERS, conv_output_rows(terms, e.bias if has_bias else None, e.result, e.engine,
                                                               e.matches, channels=False, bias_label="+ bias b[o]"))
        unit = self.run.class_name(e.o) if self._is_last_fc(stop) else f"unit {e.o}"
        self.heading.setText(
            f"<b>{stop.layer}</b> forward: output <b>{unit}</b> = Σ x · W[{e.o}] + b[{e.o}] over {e.inputs.size} "
            f"inputs = <b>{number(e.result)}</b>; the engine: {number(e.engine)} ({'equal' if e.matches else 'DIFFERENT'})")
        self.caption.setText("Every input is connected to every output: one row of W per output unit. "
                             "Click a term to find its input.")

    def _is_last_fc(self, stop) -> bool:
        forward = [s for s in self.run.stops if s.kind == "forward" and s.type == "fc"]
        return bool(forward) and forward[-1] == stop and self.run.trace.scores.shape[1] == len(self.run.class_names)

    def _formula(self, geo) -> str:
        parts = []
        for axis, n, f, s, d, (before, after), out in (
                ("W", geo.in_w, geo.taps_w, geo.stride[1], geo.dilation[1], geo.pad[1], geo.out_w),
                ("H", geo.in_h, geo.taps_h, geo.stride[0], geo.dilation[0], geo.pad[0], geo.out_h)):
            span = d * (f - 1) + 1
            pad = f"2·{before}" if before == after else f"{before}+{after}"
            parts.append(f"{axis}: ({n} − {span} + {pad})/{s} + 1 = {out}" + (f" (F′ = {d}·({f} − 1) + 1 = {span})" if d > 1 else ""))
        return "Output size (W − F′ + 2P)/S + 1 — " + "; ".join(parts) + "."

    def _mark_policy(self, geo, channels: int) -> str:
        """The rows and columns an uneven stride's policy crops (never read: outlined grey on every input
        slice) or pads (extra zero rows at the bottom/right, hatched); a sentence saying which, or ""."""
        cropped, padded = [], []
        for axis, n, out, s, d, f, (before, after) in (
                ("rows", geo.in_h, geo.out_h, geo.stride[0], geo.dilation[0], geo.taps_h, geo.pad[0]),
                ("columns", geo.in_w, geo.out_w, geo.stride[1], geo.dilation[1], geo.taps_w, geo.pad[1])):
            last = (out - 1) * s - before + d * (f - 1)  # the last row (column) any window reads
            if last < n - 1:
                first = last + 1
                for c in range(channels):
                    if axis == "rows":
                        self.canvas.left.outline(c, first, 0, n - first, geo.in_w, colour="#9aa0a6", width=2.0)
                    else:
                        self.canvas.left.outline(c, 0, first, geo.in_h, n - first, colour="#9aa0a6", width=2.0)
                cropped.append(f"{axis[:-1]} {first}" if first == n - 1 else f"{axis} {first}–{n - 1}")
            elif after > before:
                padded.append(f"{after - before} extra zero {axis} at the {'bottom' if axis == 'rows' else 'right'}")
        said = ([f"the crop policy leaves {' and '.join(cropped)} unread (grey)"] if cropped else []) + (
            [f"the policy pads {' and '.join(padded)} so the last window fits"] if padded else [])
        return (" With this stride " + "; ".join(said) + ".") if said else ""

    def _draw_pool_forward(self, stop, layer, e):
        rows, cols = e.rows, e.cols
        self.canvas.left.zoom_to(e.c, int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))
        self.canvas.left.outline(e.c, int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1),
                                 colour="#ff8c00", width=2.5)
        if e.winner_cell is not None:
            self.canvas.left.outline(e.c, *e.winner_cell, colour="#d93025", width=3.0)
        self.ledger.show_rows(("", "input x[c, y, x]", "x", ""), self._window_rows(e) + [
            Row(("", "= output", number(e.result), ""), "total"),
            Row(("", "engine", number(e.engine), ""), "check" if e.matches else "wrong")])
        policy = self._mark_policy(layer.geometry, np.shape(self.run.volumes(stop)[0])[0])
        how = "the largest value (red)" if e.kind == "max" else "the mean (padding counts as 0)"
        self.heading.setText(f"<b>{stop.layer}</b> forward: output <b>[c={e.c}, y={e.y}, x={e.x}]</b> is {how} "
                             f"of its {e.window.size}-cell window = <b>{number(e.result)}</b>")
        self.caption.setText(e.text + "." + policy)

    def _window_rows(self, e, upstream: float | None = None) -> list[Row]:
        rows = []
        for (p, q), value in np.ndenumerate(e.window):
            r, c = int(e.rows[p]), int(e.cols[q])
            won = e.winner == (p, q)
            text = "padding" if e.padding[p, q] else number(float(value))
            note = "← max" if won else ""
            if upstream is not None:
                note = f"gets {number(upstream)}" if won else "gets 0"
            rows.append(Row((str(p * e.window.shape[1] + q + 1), index((e.c, r, c)), text, note),
                            "winner" if won else ("pad" if e.padding[p, q] else "term")))
        return rows

    def _highlight_term(self, term: int) -> None:
        """A click on term ``term`` of a conv or FC ledger: its input cell outlined, in the zoom of its slice."""
        stop = self.current_stop
        if term < 0 or stop is None or stop.kind != "forward" or not isinstance(self.explanation, EXPLAINED_TERMS):
            return
        self._term = term
        self._render()
        self._term = None

    @staticmethod
    def _shape_text(shape) -> str:
        if len(shape) == 1:
            return f"1×1×{shape[0]}"
        c, h, w = shape
        return f"{w}×{h}×{c}"
