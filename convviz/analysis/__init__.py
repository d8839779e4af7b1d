"""What a trained network gets right, gets wrong, and looks at (numpy only, no Qt).

    result = evaluate(net, dataset)                  # over the test split, in batches
    result.confusion, result.accuracy                # (K, K) rows true × columns predicted
    result.precision, result.recall                  # (K,) each
    result.cell(true=3, predicted=5)                 # those images, most confident first
    g = saliency(net, x, class_index)                # dScore_c/dx, (C, H, W)
    cam = grad_cam(net, x, class_index, "conv2")     # Selvaraju et al., upsampled to (H, W)
    patches = top_patches(net, dataset, "conv1", 4)  # the 9 crops where filter 4 fires most
    every = layer_top_patches(net, dataset, "conv1")  # each filter's 9, from one pass

- ``evaluation.py``: :func:`evaluate` and the :class:`ClassEvaluation` it returns (confusion matrix,
  per-class figures, every image's prediction and top-3 probabilities for drilling down);
- ``attribution.py``: :func:`saliency` and :func:`grad_cam`, from the engine's traced passes;
- ``patches.py``: :func:`top_patches`, the receptive-field crops of
  :mod:`convviz.model.receptive` where one filter's activation is highest.
"""

from convviz.analysis.attribution import (
    GradCam,
    grad_cam,
    saliency,
    saliency_map,
    upsample_bilinear,
)
from convviz.analysis.evaluation import Cancelled, ClassEvaluation, evaluate
from convviz.analysis.patches import (
    Patch,
    layer_activations,
    layer_top_patches,
    top_patches,
)

__all__ = [
    "Cancelled", "ClassEvaluation", "GradCam", "Patch", "evaluate", "grad_cam", "layer_activations",
    "layer_top_patches", "saliency", "saliency_map", "top_patches", "upsample_bilinear",
]
