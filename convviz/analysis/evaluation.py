"""A network's predictions over a whole split: the confusion matrix, per-class figures, and every
image's prediction and top-3 probabilities for drilling down.

    result = evaluate(net, dataset, split="test", batch=256, progress=print)
    result.confusion[t, p]      # images of true class t predicted as p (rows true × columns predicted)
    result.accuracy             # trace(confusion) / N
    result.precision[k]         # confusion[k, k] / Σ_t confusion[t, k]  (column k): of those called k
    result.recall[k]            # confusion[k, k] / Σ_p confusion[k, p]  (row k): of the k images
    result.cell(t, p)           # their image indices, most confident first

The per-class accuracy of class k is the fraction of its images classified correctly, which is its
recall (CS231n's "per-class accuracy"); ``class_accuracy`` is that array under its other name.
A class no image was predicted as has precision 0/0, given as NaN (and ``—`` where it is written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TOP = 3  # probabilities kept per image


class Cancelled(Exception):
    """``cancelled()`` said to stop between two batches."""


@dataclass(frozen=True)
class ClassEvaluation:
    """Every image's prediction over one split, and the figures drawn from them (named apart from
    the trainer's ``Evaluation`` record, which keeps a split's accuracy and loss only).

    ``labels``, ``predicted``: (N,) int64; ``top_classes``: (N, 3) the three most probable classes,
    most probable first; ``top_probs``: (N, 3) their softmax probabilities; ``loss``: the mean
    cross-entropy over the split.
    """

    class_names: tuple[str, ...]
    split: str
    dataset: str
    labels: np.ndarray
    predicted: np.ndarray
    top_classes: np.ndarray
    top_probs: np.ndarray
    loss: float

    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def confidence(self) -> np.ndarray:
        """(N,) the probability the network gave its predicted class."""
        return self.top_probs[:, 0]

    @property
    def confusion(self) -> np.ndarray:
        """(K, K) int64: ``confusion[t, p]`` images of true class t predicted as class p."""
        k = len(self.class_names)
        return np.bincount(self.labels * k + self.predicted, minlength=k * k).reshape(k, k)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.labels == self.predicted)) if self.count else float("nan")

    @property
    def correct(self) -> int:
        return int(np.sum(self.labels == self.predicted))

    @property
    def support(self) -> np.ndarray:
        """(K,) images of each true class (the row sums)."""
        return self.confusion.sum(axis=1)

    @property
    def precision(self) -> np.ndarray:
        """(K,) of the images predicted as k, the fraction that are k (NaN: none was predicted k)."""
        c = self.confusion
        return _ratio(np.diag(c), c.sum(axis=0))

    @property
    def recall(self) -> np.ndarray:
        """(K,) of the images of class k, the fraction predicted as k (NaN: the split has none)."""
        c = self.confusion
        return _ratio(np.diag(c), c.sum(axis=1))

    @property
    def class_accuracy(self) -> np.ndarray:
        """(K,) per-class accuracy: the fraction of each class's images classified correctly (= recall)."""
        return self.recall

    def row_normalised(self) -> np.ndarray:
        """(K, K) float: each row of the confusion matrix over its sum (a row of no images is 0)."""
        c = self.confusion.astype(np.float64)
        rows = c.sum(axis=1, keepdims=True)
        return np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Indices (into the split) of the images of class ``true`` predicted as ``predicted``, the
        most confident first."""
        where = np.flatnonzero((self.labels == true) & (self.predicted == predicted))
        return where[np.argsort(-self.confidence[where], kind="stable")]

    def mistakes(self, limit: int | None = None) -> np.ndarray:
        """Indices of the misclassified images, the most confident mistake first."""
        where = np.flatnonzero(self.labels != self.predicted)
        order = where[np.argsort(-self.confidence[where], kind="stable")]
        return order if limit is None else order[:limit]

    def to_json(self) -> dict:
        """``accuracy``, ``classes``, ``confusion`` (rows true × columns predicted), per-class
        ``precision`` / ``recall`` (null for 0/0), ``support``, ``count``, ``loss``, ``split``, ``dataset``."""
        def plain(values):
            return [None if np.isnan(v) else float(v) for v in values]

        return {
            "dataset": self.dataset, "split": self.split, "count": self.count,
            "accuracy": self.accuracy, "loss": self.loss, "classes": list(self.class_names),
            "confusion": self.confusion.tolist(), "precision": plain(self.precision),
            "recall": plain(self.recall), "support": self.support.tolist(),
        }


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = num.astype(np.float64), den.astype(np.float64)
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


def check_input(net, dataset) -> None:
    """The network must take the data set's images and give one score per class (ValueError)."""
    c, h, w = dataset.image_shape
    if net.spec.input.chw() != (c, h, w):
        raise ValueError(f"the network takes {net.spec.input} images but {dataset.name} has {w}×{h}×{c}: "
                         f"set the input volume to {w}×{h}×{c}")
    out, classes = net.output_volume, len(dataset.class_names)
    if not out.is_flat or out.depth != classes:
        raise ValueError(f"the network gives {out} scores but {dataset.name} has {classes} classes: "
                         f"end it with FC {classes}")


def evaluate(net, dataset, split: str = "test", batch: int = 256,
             progress: Callable[[int, int], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> ClassEvaluation:
    """Run ``net`` (a :class:`convviz.engine.Network`, evaluation mode) over ``split`` of ``dataset``.

    Batches of ``batch`` images; after each, ``progress(done, total)`` is called and, if
    ``cancelled()`` is true, :class:`Cancelled` is raised. Raises ValueError when the network does
    not fit the data set. Predictions are ``argmax`` of the scores, as ``Trainer.evaluate`` counts them.
    """
    from convviz.engine.loss import softmax

    if type(batch) is not int or batch < 1:
        raise ValueError(f"batch must be a positive integer, got batch={batch!r}")
    check_input(net, dataset)
    count = len(dataset.split(split))
    labels = np.empty(count, dtype=np.int64)
    predicted = np.empty(count, dtype=np.int64)
    top = min(TOP, len(dataset.class_names))
    top_classes = np.empty((count, top), dtype=np.int64)
    top_probs = np.empty((count, top), dtype=np.float64)
    total_loss = 0.0
    if progress is not None:
        progress(0, count)
    for start in range(0, count, batch):
        stop = min(start + batch, count)
        x, y = dataset.batch(split, np.arange(start, stop))
        scores = np.asarray(net.forward(x, train=False), dtype=np.float64)
        probs = softmax(scores)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top]
        labels[start:stop] = y
        predicted[start:stop] = np.argmax(scores, axis=1)
        top_classes[start:stop] = order
        top_probs[start:stop] = np.take_along_axis(probs, order, axis=1)
        total_loss -= float(np.sum(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-300))))
        if progress is not None:
            progress(stop, count)
        if cancelled is not None and cancelled():
            raise Cancelled(f"evaluation cancelled after {stop} of {count} images")
    return ClassEvaluation(tuple(dataset.class_names), split, dataset.name, labels, predicted, top_classes, top_probs,
                      total_loss / count if count else float("nan"))
