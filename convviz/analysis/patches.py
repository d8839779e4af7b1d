"""What one filter responds to: the input crops where its activation is highest.

    patches = top_patches(net, dataset, "conv1", filter_index=4, k=9)
    p.image, (p.row, p.col), p.value      # test image, the cell of the filter's map, its activation
    p.box                                  # (top, left, bottom, right) input pixels the cell sees
    p.crop                                 # (h, w, C) uint8: those pixels (zero padding shown black)

As in Zeiler & Fergus and the Deep Visualization Toolbox, each image gives at most one patch: the
cell where the filter's map is largest in that image (the first such cell in row-major order when
several tie); the k images with the largest maxima give the k patches, strongest first. The box is the
cell's receptive field (:mod:`convviz.model.receptive`), which starts in the zero padding for cells
at the border: those pixels are drawn black (0) in the crop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from convviz.analysis.evaluation import Cancelled

PATCH_BATCH = 64  # images per pass: conv1 of ConvNetJS over CIFAR-10's test set runs in half the time of 256 (cache)


@dataclass(frozen=True)
class Patch:
    """One image's strongest cell of a filter's map and the input pixels it sees."""

    image: int  # index in the split
    row: int  # the cell of the layer's output
    col: int
    value: float
    box: tuple[int, int, int, int]  # (top, left, bottom, right), bottom/right exclusive; may pass the edges
    crop: np.ndarray  # (bottom − top, right − left, C) uint8


class _Reached(Exception):
    """The layer asked for has given its output: the layers after it need not run."""


class _Keep:
    """A recorder for ``Network.forward_recorded`` that keeps one layer's output and stops the pass there."""

    def __init__(self, name: str):
        self.name, self.output = name, None

    def forward_in(self, layer, x):
        pass

    def forward_out(self, layer, y):
        if layer.name == self.name:
            self.output = np.array(y, copy=True)
            raise _Reached


def layer_activations(net, x, layer_name: str) -> np.ndarray:
    """The output of ``layer_name`` for ``x`` (N, C, H, W) in evaluation mode, as the engine holds it.
    Only the layers up to it run (conv1's maps cost conv1's work, not the whole network's)."""
    net.layer(layer_name)  # KeyError naming the layers there are
    keep = _Keep(layer_name)
    with net.run_state_kept():
        try:
            net.forward_recorded(x, False, keep)
        except _Reached:
            pass
    return keep.output


def top_patches(net, dataset, layer_name: str, filter_index: int, k: int = 9, split: str = "test",
                batch: int = PATCH_BATCH, progress: Callable[[int, int], None] | None = None,
                cancelled: Callable[[], bool] | None = None) -> list[Patch]:
    """The ``k`` receptive-field crops of ``split`` where filter ``filter_index`` of ``layer_name``
    (a layer with a spatial output: a conv, or a ReLU or pool after one) is highest, one per image,
    strongest first. ``progress(done, total)`` after each batch; ``cancelled()`` true stops with
    :class:`Cancelled`."""
    depth = _spatial_output(net, layer_name)[1].depth
    if type(filter_index) is not int or not 0 <= filter_index < depth:
        raise ValueError(f"filter_index must be from 0 to {depth - 1} for {layer_name} "
                         f"({depth} filters), got filter_index={filter_index!r}")
    return layer_top_patches(net, dataset, layer_name, k, split, batch, progress, cancelled,
                             filters=[filter_index])[0]


def layer_top_patches(net, dataset, layer_name: str, k: int = 9, split: str = "test", batch: int = PATCH_BATCH,
                      progress: Callable[[int, int], None] | None = None,
                      cancelled: Callable[[], bool] | None = None,
                      filters: list[int] | None = None) -> list[list[Patch]]:
    """:func:`top_patches` of every filter of ``layer_name`` (or of ``filters``) from one pass over
    ``split``: a list per filter, in filter order."""
    field, volume = _spatial_output(net, layer_name)
    chosen_filters = list(range(volume.depth)) if filters is None else list(filters)
    count = len(dataset.split(split))
    best = np.full((count, len(chosen_filters)), -np.inf)
    where = np.zeros((count, len(chosen_filters)), dtype=np.int64)  # flat cell index of each image's maximum
    cells = np.arange(volume.height * volume.width, dtype=np.int32)
    if progress is not None:
        progress(0, count)
    for start in range(0, count, batch):
        stop = min(start + batch, count)
        x, _ = dataset.batch(split, np.arange(start, stop))
        maps = layer_activations(net, x, layer_name)[:, chosen_filters].reshape(stop - start, len(chosen_filters), -1)
        # The maximum, then the first cell (row-major) equal to it, both as reductions: np.argmax first
        # copies the engine's batch-last layout into its own (6× slower, holding the GIL meanwhile).
        best[start:stop] = peak = maps.max(axis=2)
        where[start:stop] = np.where(maps == peak[:, :, None], cells, cells.size).min(axis=2)
        if progress is not None:
            progress(stop, count)
        if cancelled is not None and cancelled():
            raise Cancelled(f"top patches cancelled after {stop} of {count} images")
    result = []
    for f in range(len(chosen_filters)):
        patches = []
        for i in np.argsort(-best[:, f], kind="stable")[:k]:
            row, col = divmod(int(where[i, f]), volume.width)
            box = cell_box(field, row, col)
            patches.append(Patch(int(i), row, col, float(best[i, f]), box, crop(dataset.raw_image(split, int(i)), box)))
        result.append(patches)
    return result


def _spatial_output(net, layer_name: str):
    """(receptive field, output volume) of a layer with a spatial output; KeyError or ValueError else."""
    from convviz.model.receptive import receptive_fields

    report = next((r for r in net.report.walk() if r.name == layer_name), None)
    if report is None:
        net.layer(layer_name)  # raises KeyError naming the layers
    field = receptive_fields(net.report).get(layer_name)
    volume = report.output
    if field is None or field.whole or volume is None or volume.is_flat:
        raise ValueError(f"{layer_name} gives a flat output: top patches need a layer with a spatial volume")
    return field, volume


def cell_box(field, row: int, col: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the input pixels output cell (row, col) sees: the field of
    ``size`` pixels centred at ``start + index·jump`` along each axis."""
    top = round(field.start_h + row * field.jump_h - field.size_h / 2)
    left = round(field.start_w + col * field.jump_w - field.size_w / 2)
    return top, left, top + field.size_h, left + field.size_w


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of ``image`` (H, W, C) inside ``box``; pixels outside the image (padding) are 0."""
    top, left, bottom, right = box
    h, w, c = image.shape
    out = np.zeros((bottom - top, right - left, c), dtype=image.dtype)
    t, lft, b, r = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
    if t < b and lft < r:
        out[t - top:b - top, lft - left:r - left] = image[t:b, lft:r]
    return out
