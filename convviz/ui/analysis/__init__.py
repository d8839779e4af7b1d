"""The Analyze workspace: what the trained network gets right, wrong, and looks at.

- ``confusion.py``: Qt models over a :class:`~convviz.analysis.ClassEvaluation`: the confusion
  matrix (counts or row percentages, shaded, hover for the numbers) and the per-class figures;
- ``looks.py``: the selected image with its saliency and Grad-CAM laid over it, with legends;
- ``filters.py``: each filter's top-9 receptive-field crops as rows of one picture;
- ``workspace.py``: :class:`AnalyzeWorkspaceView`, the page: its widgets and layout, put together
  from its parts:
- ``evaluating.py``: evaluating on a thread with progress and Cancel, and showing the result;
- ``drilldown.py``: drilling down from a cell (or the mistakes) to its images;
- ``own_image.py``: the user's own picture, fitted to the input;
- ``explaining.py``: where the network looks (saliency and Grad-CAM, on a thread);
- ``patches.py``: what each filter responds to (top-9 patches, on a thread);
- ``jobs.py``: the float64 network and the signals that bring threads' work back to the GUI thread.

The numbers come from :mod:`convviz.analysis` (numpy only); nothing here computes them.
"""

from convviz.ui.analysis.workspace import AnalyzeWorkspaceView

__all__ = ["AnalyzeWorkspaceView"]
