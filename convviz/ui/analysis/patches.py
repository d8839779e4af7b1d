"""What each filter responds to: every filter's top-9 test patches of a chosen conv layer, found on a
thread and drawn as rows (part of :class:`AnalyzeWorkspaceView`)."""

from __future__ import annotations

from convviz.analysis import Cancelled


def patch_describer(evaluation, layer: str, rows: list[list]):
    """``describe(filter, k)``: the hover text of crop k of a filter: its test image and class, the
    output cell (y, x) where the filter's map peaks in that image, the input pixels it sees, the value."""
    names, labels = evaluation.class_names, evaluation.labels

    def describe(f: int, k: int) -> str:
        p = rows[f][k]
        top, left, bottom, right = p.box
        return (f"{layer} filter {f}, crop {k + 1} of {len(rows[f])}\n"
                f"test image {p.image} ({names[labels[p.image]]})\n"
                f"output cell y {p.row}, x {p.col} (it sees input rows {top}–{bottom - 1}, columns {left}–{right - 1})\n"
                f"activation {p.value:.4g}")

    return describe


class PatchesPart:
    """The Analyze page's "What each filter responds to" tab."""

    def show_filters(self, layer: str | None = None) -> None:
        """Show the "What each filter responds to" tab (of ``layer``, a conv layer's name)."""
        if layer is not None:
            self.patch_layer.setCurrentIndex(max(0, self.patch_layer.findData(layer)))
        self.tabs.setCurrentIndex(1)

    def _find_patches(self) -> None:
        """Every filter's top-9 patches of the chosen layer, on a thread, while their tab is shown
        and the result or the layer is new."""
        layer = self.patch_layer.currentData()
        if self.tabs.currentIndex() != 1 or self.result is None or self._net64 is None or not layer:
            if self.result is not None and not layer:
                self.patch_grid.clear_rows("The network has no conv layer.")
            return
        if self._patches_for is not None and self._patches_for[0] is self.result and self._patches_for[1] == layer:
            return
        self._patch_ticket += 1
        ticket, holder, data, result = self._patch_ticket, self._net64, self.dataset, self.result
        self.finding_patches = True
        self.patch_progress.setRange(0, 1)
        self.patch_progress.setValue(0)
        self.patch_progress.setVisible(True)
        self.patch_note.setText(f"Finding where each filter of {layer} fires most …")

        def work(cancelled):
            try:
                from convviz.analysis import layer_top_patches
                from convviz.engine import Network

                net = Network(holder.spec, seed=0)
                net.set_weights(holder.weights)
                rows = layer_top_patches(net, data, layer, k=9, cancelled=cancelled,
                                         progress=lambda d, t: self._jobs.patch_progress.emit(ticket, d, t))
                self._jobs.done.emit("patches", ticket, (result, layer, rows), None)
            except Exception as exc:  # noqa: BLE001 (said beside the grid)
                self._jobs.done.emit("patches", ticket, None, exc)

        self._patch_jobs.submit(work)  # one going on stops at its next batch; it replaces one waiting

    def _on_patch_progress(self, ticket: int, done: int, total: int) -> None:
        if ticket == self._patch_ticket and self.finding_patches:
            self.patch_progress.setRange(0, max(total, 1))
            self.patch_progress.setValue(done)

    def _patches_done(self, ticket: int, result, error) -> None:
        if ticket != self._patch_ticket:
            return
        self.finding_patches = False
        self.patch_progress.setVisible(False)
        if error is not None:
            self.patch_note.setText("" if isinstance(error, Cancelled) else f"Cannot find the patches: {error}")
            return
        evaluation, layer, rows = result
        from convviz.model import analyze
        from convviz.model.receptive import receptive_fields

        field = receptive_fields(analyze(self._net64.spec))[layer]
        self._patches_for, self.patch_rows = (evaluation, layer), rows
        self.patch_grid.show_rows(rows, max(field.size_h, field.size_w), patch_describer(evaluation, layer, rows))
        self.patch_note.setText(
            f"Each row a filter of {layer}; its 9 test images where it fires most, strongest first, each cropped "
            f"to the {field.size_w}×{field.size_h} pixels one cell sees (padding black). Hover a crop for its "
            f"image and activation.")
        self.patches_found.emit()
