"""What the Step workspace draws for the softmax and loss, an activation's cell, and the residual and
branch blocks forward and backward (a mixin of :class:`~convviz.ui.stepper.workspace.StepWorkspaceView`,
like :class:`~convviz.ui.stepper.drawing.StopDrawing`; it keeps no state).
"""

from __future__ import annotations

import numpy as np

from convviz.engine.explain_blocks import ActivationExplanation, BlockExplanation
from convviz.engine.explain_fc import FCInputGradExplanation
from convviz.engine.explain_norm import DropoutExplanation, LRNExplanation
from convviz.engine.explain_step import ledger_terms
from convviz.ui.stepper.ledger import Row, index, number
from convviz.ui.stepper.stepping import Stop


class BlockDrawing:
    """Softmax bars, activation cells, residual and branch blocks."""

    def _draw_loss(self, stop, *_):
        e = self.explanation
        k = self.position[0] if self.position else 0
        self.canvas.left.show(e.scores, "scores s (logits), one cell per class", key=self._key("left"))
        self.canvas.right.show(e.gradient, "dL/ds = p − onehot(label)", key=self._key("right"))
        self.canvas.set_scale(e.scores, e.gradient)
        self._select_cell(self.canvas.left, (k,))
        self._select_cell(self.canvas.right, (k,))
        names = [self.run.class_name(i) for i in range(len(e.scores))]
        self.bars.set_probabilities(e.probabilities, names, e.label, k)
        self.bars.show()
        rows = []
        for i, (s, p, g) in enumerate(zip(e.scores, e.probabilities, e.gradient)):
            style = "winner" if i == e.label else ("subtotal" if i == k else "term")
            rows.append(Row((str(i), names[i], number(float(s)), f"{p:.4%}", number(float(g))), style))
        rows.append(Row(("", "loss −log p_label", "", "", f"{e.loss:.6g}"), "total"))
        rows.append(Row(("", "engine dL/ds matches", "", "", "yes" if e.matches else "NO"), "check" if e.matches else "wrong"))
        self.ledger.show_rows(("", "class", "score s", "p", "p − onehot"), rows)
        self.heading.setText(f"<b>Softmax and loss</b>: p = e<sup>s</sup> / Σ e<sup>s</sup>; label "
                             f"<b>{self.run.class_name(e.label)}</b> (green) has p = {e.probabilities[e.label]:.2%}, "
                             f"the loss −log p = <b>{e.loss:.4g}</b>")
        self.caption.setText(e.text + ". The bars are p for each class; the backward pass starts from p − onehot.")

    def _draw_activation_forward(self, stop, layer, e: ActivationExplanation, left, right):
        self._select_cell(self.canvas.left, self.position)
        changed = int(np.sum(np.asarray(left) != np.asarray(right)))
        self.ledger.show_rows(("", "what", "value"), [
            Row(("", f"x{index(self.position)}: the input", number(e.x)), "term"),
            Row(("", f"f(x) = {e.formula}", ""), "term"),
            Row(("", f"f({number(e.x)}) = {e.working}", number(e.result)), "sum"),
            Row(("", f"= output y{index(self.position)}", number(e.result)), "total"),
            Row(("", "engine", number(e.engine)), "check" if e.matches else "wrong"),
            Row(("", "cells the layer changed", f"{changed} of {np.size(left)}"), "subtotal")])
        how = "changed it" if e.changed else "left it as it was"
        self.heading.setText(f"<b>{stop.layer}</b> ({layer.spec.TITLE}) forward: y{index(self.position)} = f({number(e.x)}) "
                             f"= <b>{number(e.result)}</b>; f {how}")
        self.caption.setText(f"{layer.spec.TITLE} acts on each cell alone: f(x) = {e.formula}. "
                             f"{changed} of the {np.size(left)} cells came out different.")

    def _block_rows(self, e: BlockExplanation, what: str) -> list[Row]:
        rows = []
        chosen = {p.name for p in e.paths}
        if e.block == "branch" and e.kind == "output":
            start = 0
            for i, depth in enumerate(e.depths):
                name = f"branch {i + 1}"
                if name in chosen:
                    p = e.paths[0]
                    source = p.layer or "the input (an empty branch)"
                    rows.append(Row((name, f"depths {start}–{start + depth - 1}: {source} {index(p.cell)}",
                                     number(p.value)), "winner"))
                else:
                    rows.append(Row((name, f"depths {start}–{start + depth - 1}", ""), "term"))
                start += depth
            rows.append(Row(("", f"= {what}{index(e.cell)} (concatenated in depth)", number(e.result)), "total"))
        else:
            if e.upstream is not None:
                rows.append(Row(("", f"dY{index(e.cell)} arriving, copied into every path", number(e.upstream)), "term"))
            for p in e.paths:
                source = p.layer or ("the identity: x itself" if e.kind == "output" else "the identity: dY itself")
                if e.block == "branch" and not p.layer:
                    source = "an empty branch: its slice of dY"
                rows.append(Row((p.name, source, number(p.value)), "term"))
            rows.append(Row(("", f"= {what}{index(e.cell)}, the paths added", number(e.result)), "total"))
        rows.append(Row(("", "engine", number(e.engine)), "check" if e.matches else "wrong"))
        return rows

    def _draw_block_forward(self, stop, layer, e: BlockExplanation, left, right):
        if np.shape(left) == np.shape(right):
            self._select_cell(self.canvas.left, self.position)
        self.ledger.show_rows(("path", "from", "value"), self._block_rows(e, "y"))
        if e.block == "residual":
            body, shortcut = e.paths
            self.heading.setText(
                f"<b>{stop.layer}</b> (residual) forward: y{index(e.cell)} = body + shortcut = {number(body.value)} + "
                f"{number(shortcut.value)} = <b>{number(e.result)}</b>")
            self.caption.setText("The body's stack F(x) and the shortcut (the identity, or its own stack) see the same "
                                 "input; their outputs are added cell by cell: y = F(x) + x.")
        else:
            self.heading.setText(f"<b>{stop.layer}</b> (branch) forward: {e.text}; y{index(e.cell)} = "
                                 f"<b>{number(e.result)}</b>")
            self.caption.setText("Every branch sees the same input; their outputs are stacked in depth, in order: "
                                 f"depths {' + '.join(str(d) for d in e.depths)} = {sum(e.depths)}.")

    def _draw_block_backward(self, stop, layer, e: BlockExplanation, upstream, downstream):
        self._select_cell(self.canvas.right, self.position)
        if np.shape(upstream) == np.shape(downstream):
            self._select_cell(self.canvas.left, self.position)
        self.ledger.show_rows(("path", "dX from", "value"), self._block_rows(e, "dX"))
        kind = "residual" if e.block == "residual" else "branch"
        self.heading.setText(f"<b>{stop.layer}</b> ({kind}) backward: dX{index(e.cell)} = "
                             f"{' + '.join(number(p.value) for p in e.paths)} = <b>{number(e.result)}</b>")
        self.caption.setText(e.text + ".")

    def _draw_fc_backward(self, stop, layer, e: FCInputGradExplanation, upstream, downstream):
        """dX[i] = Σ_o dY[o] · W[o, i] with every term, and dW[o, i] = x[i] · dY[o] of the unit with the largest dY."""
        self._select_cell(self.canvas.right, self.position)
        rows, running = [], 0.0
        for i, t in enumerate(ledger_terms(self.run.net, e)):
            running += t.product
            rows.append(Row((str(i + 1), index(t.left[1]), number(t.left[2]), index(t.right[1]),
                             number(t.right[2]), number(t.product), number(running)), "term", i))
        rows.append(Row(("", "= dX Σ_o dY·W", "", "", "", "", number(e.total)), "total"))
        rows.append(Row(("", "engine dX", "", "", "", "", number(e.engine)), "check" if e.matches else "wrong"))
        o = int(np.argmax(np.abs(e.upstream)))
        unit = self.run.class_name(o) if self._is_last_fc(Stop("forward", stop.layer, stop.type)) else f"unit {o}"
        rows.append(Row(("", f"dW[{o},{e.i}] = x[{e.i}] · dY[{o}] = {number(e.x)} · {number(float(e.upstream[o]))}",
                         "", "", "", "", number(float(e.weight_grads[o]))), "sum"))
        rows.append(Row(("", f"engine dW[{o},{e.i}]", "", "", "", "", number(float(e.engine_weight_grads[o]))),
                        "check" if e.weight_grads_match else "wrong"))
        self.ledger.show_rows(("#", "dY[o]", "dY", "W[o,i]", "w", "dY·w", "running Σ"), rows)
        if np.ndim(upstream) == 1:  # a flat volume: one slice per unit
            self.canvas.left.outline(o, 0, 0, colour="#1a73e8", width=2.5)
        self.heading.setText(
            f"<b>{stop.layer}</b> (FC) backward: dX{index(self.position)} (input {e.i} of W's columns) = Σ over "
            f"{e.upstream.size} units of dY[o] · W[o, {e.i}] = <b>{number(e.total)}</b>; the engine: {number(e.engine)} "
            f"({'equal' if e.matches else 'DIFFERENT'})")
        self.caption.setText("Every unit's gradient comes back through the weight that joined it to this input "
                             f"(column {e.i} of W, the transpose of the forward rows); the weights of that column "
                             f"get dW[o, {e.i}] = x[{e.i}] · dY[o] (shown for {unit}, the largest dY)"
                             f"{' (equal to the engine)' if e.weight_grads_match else ' (DIFFERENT)'}.")

    def _draw_norm_forward(self, stop, layer, e, left, right):
        """LRN: the neighbourhood of slices and the division; dropout: evaluation's y = x and one training draw."""
        self._select_cell(self.canvas.left, self.position)
        at = index(self.position)
        if isinstance(e, LRNExplanation):
            c, y, x = (tuple(self.position) + (0, 0))[:3]
            for j in e.slices:
                self.canvas.left.outline(j, y, x, colour="#ff8c00", width=2.0)
            rows = [Row(("", f"a[{j},{y},{x}]" + (" (the cell)" if j == c else ""), number(float(v))),
                         "winner" if j == c else "term") for j, v in zip(e.slices, e.values)]
            rows += [Row(("", f"Σ a² over the {len(e.slices)} slices", number(e.squares)), "sum"),
                     Row(("", f"s = k + (α/n)·Σ a²  (k = {e.k:g}, α = {e.alpha:g}, n = {e.size})", number(e.s)), "sum"),
                     Row(("", f"= output a / s^β  (β = {e.beta:g})", number(e.result)), "total"),
                     Row(("", "engine", number(e.engine)), "check" if e.matches else "wrong")]
            self.ledger.show_rows(("", "what", "value"), rows)
            self.heading.setText(f"<b>{stop.layer}</b> (LRN) forward: b{at} = a / (k + (α/n)·Σ a²)^β over slices "
                                 f"{e.slices[0]}–{e.slices[-1]} at the same position = <b>{number(e.result)}</b>")
            self.caption.setText("Local response normalisation divides each cell by the energy of its neighbours in "
                                 "depth (orange: the same position on the neighbouring slices; missing slices count as 0).")
            return
        e: DropoutExplanation
        if e.mask.ndim == 3:  # the draw's dropped cells on the selected slice of the output
            c = self.position[0]
            for y, x in np.argwhere(e.mask[c] == 0)[:4096]:
                self.canvas.right.outline(c, int(y), int(x), colour="#5f6368", width=1.0)
        drawn = "x = 0: the draw cannot be seen" if e.kept is None else ("kept: × 1/(1 − p)" if e.kept else "dropped: × 0")
        self.ledger.show_rows(("", "what", "value"), [
            Row(("", f"x{at}", number(e.x)), "term"),
            Row(("", "evaluation (this step): y = x", number(e.eval_output)), "total"),
            Row(("", f"training, one draw: {drawn}", number(e.train_output)), "sum"),
            Row(("", f"p = {e.p:g}; kept cells are scaled by", f"{e.scale:.6g}"), "term"),
            Row(("", "share of this draw's cells kept", f"{e.kept_share:.1%}"), "subtotal")])
        self.heading.setText(f"<b>{stop.layer}</b> (dropout, p = {e.p:g}) forward: in evaluation y{at} = x = "
                             f"<b>{number(e.eval_output)}</b>; a training step would have {drawn.split(':')[0]} it")
        self.caption.setText("Inverted dropout: in training each cell is kept with probability 1 − p and scaled by "
                             "1/(1 − p), so evaluation needs no change; the step here runs in evaluation mode. Grey outlines on the "
                             "output's slice: the cells one training draw drops.")
