"""The Analyze workspace: what the trained network gets right, wrong, and looks at.

- ``confusion.py``: Qt models over a :class:`~convviz.analysis.ClassEvaluation`: the confusion
  matrix (counts or row percentages, shaded, hover for the numbers) and the per-class figures;
- ``looks.py``: the selected image with its saliency and Grad-CAM laid over it, with legends;
- ``filters.py``: each filter's top-9 receptive-field crops as rows of one picture;
- ``workspace.py``: :class:`AnalyzeWorkspaceView`, the page: evaluating on a thread with progress
  and Cancel, drilling down from a cell to its images, where the network looks (a test image or
  the user's own picture), and what each filter responds to.

The numbers come from :mod:`convviz.analysis` (numpy only); nothing here computes them.
"""

from convviz.ui.analysis.workspace import AnalyzeWorkspaceView

__all__ = ["AnalyzeWorkspaceView"]
