"""The Step workspace: one image's training step, layer by layer, down to a single multiply-add.

- ``stepping.py``: plain Python (no Qt): the timeline of one step (input → each layer forward →
  softmax and loss → each layer backward → the update), the traced pass it walks, and what each
  stop explains (from :mod:`convviz.engine.trace` and the ``convviz.engine.explain_*`` modules);
- ``volumes.py``: a volume drawn as a grid of depth slices on one shared, signed colour scale, with
  outlines (receptive field, selected cell) and hatched zero padding;
- ``ledger.py``: the dot-product ledger table (x · w = p, per-channel subtotals, + bias, = output);
- ``drawing.py``: what each kind of stop draws (volumes, zooms, ledger, heading, caption);
- ``workspace.py``: :class:`StepWorkspaceView`, the page the window shows as the Step workspace:
  choosing the image and the weights, moving, playing, the gradient check.
"""

from convviz.ui.stepper.workspace import StepWorkspaceView

__all__ = ["StepWorkspaceView"]
