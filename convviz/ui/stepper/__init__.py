"""The Step workspace: one image's training step, layer by layer, down to a single multiply-add.

- ``stepping.py``: plain Python (no Qt): the timeline of one step (input → each layer forward →
  softmax and loss → each layer backward → the update), the traced pass it walks, and what each
  stop explains (from :mod:`convviz.engine.trace` and the ``convviz.engine.explain_*`` modules);
- ``volumes.py``: a volume drawn as a grid of depth slices on one shared, signed colour scale, with
  outlines (receptive field, selected cell) and hatched zero padding;
- ``ledger.py``: the dot-product ledger table (x · w = p, per-channel subtotals, + bias, = output);
- ``drawing.py``: what each forward stop draws (volumes, zooms, ledger, heading, caption);
  ``drawing_backward.py`` the backward stops, ``drawing_blocks.py`` the loss, activations, blocks and
  normalisation, ``drawing_update.py`` the update, ``drawing_field.py`` and ``drawing_slide.py`` the
  receptive-field and FC → CONV views;
- ``tracing.py`` and ``jobs.py``: tracing, the receptive field and FC → CONV, on threads for a big
  network (a busy bar with Cancel, the newest request winning);
- ``controls.py``: the gradient check, playing, clicking a cell;
- ``workspace.py``: :class:`StepWorkspaceView`, the page the window shows as the Step workspace:
  its widgets, choosing the weights, moving along the timeline.
"""

from convviz.ui.stepper.workspace import StepWorkspaceView

__all__ = ["StepWorkspaceView"]
