"""Evaluating: the session's current weights run over the chosen test set on a thread, with progress and
Cancel, and the result shown in the matrix and the figures (part of :class:`AnalyzeWorkspaceView`)."""

from __future__ import annotations

from convviz.analysis import Cancelled, evaluate
from convviz.ui.analysis.confusion import percent
from convviz.ui.analysis.jobs import _Float64Net

ORIGINS = {"fresh": "fresh, untrained weights", "trained": "the weights the last run ended with",
           "training": "weights taken between two steps of the run", "imported": "imported weights"}


NOT_EVALUATED = "Not evaluated yet: press Evaluate."
CLICK_A_CELL = "Click a cell of the matrix to list its images."


class EvaluatingPart:
    """The Analyze page's evaluating: the test set chosen, evaluating it on a thread, showing the result."""

    @property
    def source_name(self) -> str:
        """``synthetic`` or ``cifar10``: the test set evaluated next."""
        return self.source.currentData()

    def set_source(self, source: str) -> None:
        """Evaluate ``synthetic`` or ``cifar10`` next (and now, when shown)."""
        self.source.setCurrentIndex(max(0, self.source.findData(source)))

    def cifar10_available(self) -> bool:
        """Whether CIFAR-10 is in the session's data folder; the source choice offers it only then."""
        from convviz.data import find_cifar10

        found = self._cifar is not None or find_cifar10(self.session.data_folder) is not None
        item = self.source.model().item(self.source.findData("cifar10"))
        item.setEnabled(found)
        item.setToolTip("" if found else "CIFAR-10 is not in the data folder yet: File → Get CIFAR-10")
        return found

    def evaluate_now(self) -> bool:
        """Evaluate the session's current weights on the chosen test set, on a thread (cancelling one
        that is going); ``evaluated`` follows. False when the weights cannot be had (said in the status)."""
        try:
            weights = self.session.current_weights()
            spec = self.session.network()
        except (ValueError, TimeoutError) as exc:
            self.status.setText(f"Cannot evaluate: {exc}")
            return False
        self._ticket += 1
        ticket, source, origin = self._ticket, self.source_name, self.session.weights_origin
        self.evaluating, self._stale = True, False
        self.progress.setRange(0, 0)  # busy until the first batch says how many images there are
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        what = f"{ORIGINS.get(origin, origin)} on the {self.source.currentText()}"
        self.status.setText(f"Evaluating {what} …")
        if self.result is None:  # the first evaluation: one state, said once
            self.accuracy_label.setText("Evaluating …: the matrix and the figures appear when it is done.")
            self.list_heading.setText("")

        def work(cancelled):
            try:
                from convviz.engine import Network

                dataset = self._load(source)
                net = Network(spec, seed=0)
                net.set_weights(weights)
                result = evaluate(net, dataset, progress=lambda done, total: self._jobs.progress.emit(ticket, done, total),
                                  cancelled=cancelled)
                self._jobs.done.emit("evaluate", ticket, (result, dataset, spec, weights, source, origin), None)
            except Cancelled as exc:
                self._jobs.done.emit("evaluate", ticket, None, exc)
            except Exception as exc:  # a network that does not fit the data, data that do not load …  # noqa: BLE001
                self._jobs.done.emit("evaluate", ticket, None, exc)

        self._evaluations.submit(work)  # one going on stops at its next batch; it replaces one waiting
        return True

    def cancel(self) -> None:
        """Stop the evaluation going on at its next batch (the last result stays shown)."""
        self._evaluations.cancel()

    def _on_progress(self, ticket: int, done: int, total: int) -> None:
        if ticket == self._ticket and self.evaluating:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)

    def _evaluation_done(self, ticket: int, result, error) -> None:
        if ticket != self._ticket:
            return  # a newer evaluation was asked for meanwhile
        self.evaluating = False
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        if error is not None:
            if self.result is None:
                self.accuracy_label.setText(NOT_EVALUATED)
                self.list_heading.setText(CLICK_A_CELL)
            if isinstance(error, Cancelled):
                self.status.setText("Evaluation cancelled" + (": the matrix is the previous one." if self.result else "."))
            else:
                self.status.setText(f"Cannot evaluate: {error}")
            self.evaluated.emit(None)
            return
        evaluation, dataset, spec, weights, source, origin = result
        self.result, self.dataset, self.source_of_result = evaluation, dataset, source
        self._net64 = _Float64Net(spec, weights)
        self.confusion_model.set_result(evaluation)
        self.figures_model.set_result(evaluation)  # its columns fit their contents (the header's resize mode)
        self.accuracy_label.setText(
            f"Accuracy {percent(evaluation.accuracy, 2)}: {evaluation.correct:,} of {evaluation.count:,} "
            f"{dataset.name} test images right (mean loss {evaluation.loss:.3f})")
        self.status.setText(f"{spec.name or 'The network'} with {ORIGINS.get(origin, origin)}.")
        self._fill_layers(spec)
        if self.listing and self.listing[0] == "cell":
            self.show_cell(*self.listing[1:])
        else:
            self.show_mistakes()
        self._enable()
        self.evaluated.emit(evaluation)
        self._find_patches()

    def _weights_changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self.evaluate_now()

    def _epoch_evaluated(self, record) -> None:
        """Each epoch's end of a run (its test evaluation): evaluate again when following the run."""
        if self.follow.isChecked() and getattr(record, "split", "") == "test" and record.reason != "request":
            self._weights_changed()
