"""Softmax and the softmax cross-entropy loss (numerically stable: scores are shifted by their max).

    p_j = e^{s_j − max s} / Σ_k e^{s_k − max s}       L = −(1/N) Σ_n log p_{y_n}
    dL/ds = (p − onehot(y)) / N
"""

from __future__ import annotations

import numpy as np


def softmax(scores: np.ndarray, axis: int = 1) -> np.ndarray:
    """Probabilities along ``axis`` (the class axis of (N, K) scores or (N, K, H, W) score maps)."""
    shifted = scores - scores.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def softmax_cross_entropy(scores, y) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(scores) against labels ``y``, and its gradient.

    scores: (N, K) logits (or (N, K, H, W) score maps, with y (N, H, W): the mean over every position);
    y: (N,) integer classes in [0, K). Returns (loss as a float, dscores shaped and typed like scores).
    """
    scores = np.asarray(scores)
    y = np.asarray(y)
    if scores.ndim < 2 or not np.issubdtype(scores.dtype, np.floating):
        raise ValueError(f"scores must be a float array (N, K) of logits, got {scores.dtype} {scores.shape}")
    expected = (scores.shape[0],) + scores.shape[2:]
    if y.shape != expected:
        raise ValueError(f"labels y must have shape {expected} to match scores {scores.shape}, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels y must be integers, got dtype {y.dtype}")
    classes = scores.shape[1]
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"labels must lie in [0, {classes}) for {classes} classes, got values from {y.min()} to {y.max()}")
    # (N, K, …) → (M, K) rows, one per scored position
    rows = np.moveaxis(scores, 1, -1).reshape(-1, classes)
    labels = y.reshape(-1)
    m = rows.shape[0]
    shifted = rows - rows.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_norm
    picked = log_probs[np.arange(m), labels]
    loss = float(-picked.mean(dtype=np.float64))
    dscores = np.exp(log_probs)
    dscores[np.arange(m), labels] -= 1
    dscores /= m
    dscores = np.moveaxis(dscores.reshape(scores.shape[:1] + scores.shape[2:] + (classes,)), -1, 1)
    return loss, np.ascontiguousarray(dscores, dtype=scores.dtype)
