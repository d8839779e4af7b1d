"""Where the network looks: saliency (Simonyan et al. 2014) and Grad-CAM (Selvaraju et al. 2017).

Both come from one traced pass of the engine (``trace_forward`` then ``trace_backward`` with the
upstream gradient 1 on the class score and 0 elsewhere), so the network is left as it was. The class
score is the logit ``s_c`` (before the softmax), as both papers use.

    g = saliency(net, x, c)                # dS_c/dx, (C, H, W)
    m = saliency_map(g)                     # max_c |g|, (H, W): what the overlay draws
    cam = grad_cam(net, x, c, "conv2")      # α_k = mean_ij dS_c/dA_k[i, j];  L = ReLU(Σ_k α_k A_k)
    cam.map, cam.upsampled                  # (h, w) at the layer, (H, W) bilinear on the input
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _class_trace(net, x, class_index: int):
    """A traced forward and backward pass of one image with dscores = one-hot(class_index)."""
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be one image shaped (1, C, H, W), got {x.shape}")
    trace = net.trace_forward(x, train=False)
    scores = trace.scores
    if scores.ndim != 2:
        raise ValueError(f"the network gives score maps {scores.shape[1:]}, not one score per class")
    classes = scores.shape[1]
    if type(class_index) not in (int, np.int64, np.int32) or not 0 <= class_index < classes:
        raise ValueError(f"class_index must be a class from 0 to {classes - 1}, got class_index={class_index!r}")
    dscores = np.zeros_like(scores)
    dscores[0, class_index] = 1.0
    return net.trace_backward(trace, dscores)


def saliency(net, x, class_index: int) -> np.ndarray:
    """dS_c/dx: the gradient of the class score (logit) ``class_index`` with respect to the input
    ``x`` (1, C, H, W); returns (C, H, W) in the network's dtype."""
    return _class_trace(net, x, int(class_index)).input_grad[0].copy()


def saliency_map(gradient: np.ndarray) -> np.ndarray:
    """(C, H, W) → (H, W): the largest |dS_c/dx| over the channels of each pixel (Simonyan et al.)."""
    return np.abs(np.asarray(gradient)).max(axis=0)


@dataclass(frozen=True)
class GradCam:
    """Grad-CAM of one image for one class at one layer.

    ``weights``: (K,) α_k, the spatial mean of dS_c/dA_k; ``map``: (h, w) ReLU(Σ_k α_k A_k) at the
    layer's resolution; ``upsampled``: (H, W) that map resized to the input bilinearly (pixel centres
    aligned, as ``upsample_bilinear`` says); ``score``: the class score S_c.
    """

    layer: str
    class_index: int
    weights: np.ndarray
    map: np.ndarray
    upsampled: np.ndarray
    score: float


def grad_cam(net, x, class_index: int, layer_name: str) -> GradCam:
    """Grad-CAM (Selvaraju et al.) of ``x`` (1, C, H, W) for class ``class_index`` at the layer
    ``layer_name``, whose output must be a volume A (K, h, w) (a conv layer, or a ReLU or pool after
    one): α_k = (1/hw) Σ_ij dS_c/dA_k[i, j], map = ReLU(Σ_k α_k A_k), upsampled bilinearly to (H, W)."""
    net.layer(layer_name)  # KeyError naming the layers there are
    trace = _class_trace(net, x, int(class_index))
    record = trace[layer_name]
    a, da = record.output, record.upstream
    if a is None or a.ndim != 4:
        raise ValueError(f"{layer_name} gives a flat output {None if a is None else a.shape[1:]}: "
                         "Grad-CAM needs a layer with a spatial volume (a conv layer, or a ReLU or pool after one)")
    a, da = a[0].astype(np.float64), da[0].astype(np.float64)
    weights = da.mean(axis=(1, 2))
    cam = np.maximum(np.tensordot(weights, a, axes=1), 0.0)
    h, w = trace.input.shape[2:]
    return GradCam(layer_name, int(class_index), weights, cam, upsample_bilinear(cam, h, w),
                   float(trace.scores[0, class_index]))


def upsample_bilinear(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) → (height, width) by bilinear interpolation with pixel centres aligned (the output
    pixel centre (i + ½)·h/height − ½ is read from the input; beyond the outer centres the edge value
    holds), as ``align_corners=False`` resizes do."""
    values = np.asarray(values, dtype=np.float64)
    h, w = values.shape

    def axis(n_in: int, n_out: int):
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, pos - lo

    r0, r1, fr = axis(h, height)
    c0, c1, fc = axis(w, width)
    top = values[r0][:, c0] * (1 - fc) + values[r0][:, c1] * fc
    bottom = values[r1][:, c0] * (1 - fc) + values[r1][:, c1] * fc
    return top * (1 - fr)[:, None] + bottom * fr[:, None]
