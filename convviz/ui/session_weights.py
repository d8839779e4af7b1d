"""The weights views see (a part of :class:`~convviz.ui.session.RunSession`).

While a run goes on they are the trainer's, copied between two steps by the worker; otherwise the
last known network's: what a run ended with (or an opened run's, or imported ones) while the builder
shows that network, or that network after fine-tuning edits (every layer but a replaced head keeps
its weights), else fresh seeded weights. The optimizer state (velocity or Adam moments) they go with
comes the same way, for the Step workspace's update stop.
"""

from __future__ import annotations

from convviz.model import NetworkSpec
from convviz.training.config import TrainConfig
from convviz.ui.training.worker import copy_weights


class SessionWeights:
    """The session's weights, for a :class:`~convviz.ui.session.RunSession` (which holds ``_run``,
    ``_network``, ``_weights``, ``_origin``, ``_trained``, ``_trained_origin``, ``_trained_optimizer``,
    ``opened`` and ``_spec_provider``)."""

    @property
    def weights_origin(self) -> str:
        """``training`` (a run is going), ``trained`` (what a run ended with, or an opened run's),
        ``imported`` (weights from a file) or ``fresh`` (seeded)."""
        if self.running:
            return "training"
        self._settle_network()
        return self._origin

    def network(self) -> NetworkSpec:
        """The network that :meth:`current_weights` belongs to: the run's, or the builder's."""
        if self.running:
            return self._network
        self._settle_network()
        return self._network

    def current_weights(self, timeout: float = 30.0) -> dict:
        """A copy of every parameter and buffer by name (``conv1.weight``, ``bn1.running_mean`` …).

        While a run goes on, the worker copies them between two steps (this waits for at most one
        step, or for the data to load); otherwise they are the last known network's. Raises
        TimeoutError if the trainer did not get between steps within ``timeout`` seconds, and
        ValueError if the builder's network cannot be built.
        """
        if self.running:
            request = self._run.worker.request_weights()
            if not request.wait(timeout):
                raise TimeoutError(f"the trainer did not finish its step within {timeout:g} s")
            if request.weights is not None:
                return request.weights
        self._settle_network()
        if self._weights is None:
            from convviz.engine import Network

            self._weights = Network(self._network, seed=TrainConfig().seed).get_weights()
        return copy_weights(self._weights)

    def current_optimizer_state(self, timeout: float = 30.0):
        """The ``OptimizerState`` (velocity or Adam moments, the next lr, the step) the current weights go with:
        the running trainer's (copied between two steps, as :meth:`current_weights`), an ended run's, or an
        opened run's checkpoint's (read once; ValueError if it cannot be); None for fresh or imported weights."""
        if self.running:
            request = self._run.worker.request_weights(optimizer=True)
            if not request.wait(timeout):
                raise TimeoutError(f"the trainer did not finish its step within {timeout:g} s")
            return request.optimizer
        self._settle_network()
        if self._origin != "trained" or self._trained is None or self._weights is not self._trained[1]:
            return None
        if self._trained_optimizer is None and self.opened is not None:
            from convviz.commands.explain import checkpoint_optimizer_state

            self._trained_optimizer = checkpoint_optimizer_state(self.opened.folder)
        return self._trained_optimizer

    def _fine_tuning_weights(self) -> dict | None:
        """What a new run starts from: imported weights, or a run's when fine-tuning (a layer frozen, or
        the run's network after fine-tuning edits); None: seeded weights."""
        from convviz.model.fine_tune import derived_by_fine_tuning, frozen_layer_names

        spec, trained, origin = self._spec_provider(), self._trained, self.weights_origin
        tuning = trained is not None and (bool(frozen_layer_names(spec)) or (
            not same_network(spec, trained[0]) and derived_by_fine_tuning(trained[0], spec)))
        return self.current_weights() if origin == "imported" or (origin == "trained" and tuning) else None

    def _settle_network(self) -> None:
        """Idle: the last run's (or imported) weights while the builder shows their network, or that
        network after fine-tuning edits (every layer but a replaced head keeps them); else fresh weights."""
        from convviz.model.fine_tune import derived_by_fine_tuning, same_but_switches

        spec = self._spec_provider()
        if self._network is not None and same_but_switches(spec, self._network):
            return
        if self._trained is not None and same_network(spec, self._trained[0]):
            (self._network, self._weights), self._origin = self._trained, self._trained_origin
        elif self._trained is not None and derived_by_fine_tuning(self._trained[0], spec):
            from convviz.training.fine_tune import carry_weights

            old, weights = self._trained
            self._network, self._origin = spec.copy(), self._trained_origin
            self._weights = carry_weights(old, weights, self._network, seed=TrainConfig().seed)
        else:
            self._network, self._weights, self._origin = spec.copy(), None, "fresh"


def same_network(a: NetworkSpec, b: NetworkSpec) -> bool:
    """The same layers on the same input (a new name or description is still the same network)."""
    return (a.input, a.layers) == (b.input, b.layers)
