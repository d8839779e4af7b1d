"""The curves of a run as files: a CSV of every curve by step (pyqtgraph's CSVExporter) and a PNG of
the curves view, each written atomically (to a temporary file beside the target, then renamed).

The CSV has one row per metrics record: ``step``, then ``CSV_COLUMNS``; an evaluation's accuracy
sits on the row of its step (or the next row after it), and is ``nan`` on the others.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import CSVExporter

from convviz.ui.run_records import RunRecords

CSV_COLUMNS = ("loss", "loss least", "loss largest", "smoothed loss", "batch accuracy", "learning rate",
               "images per second", "validation accuracy", "test accuracy")


def curve_table(records: RunRecords) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """steps (N,) of the metrics records and each of ``CSV_COLUMNS`` (N,) (NaN where there is none)."""
    metrics = records.metrics
    steps = np.array([m.step for m in metrics], dtype=np.int64)

    def column(values) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    table = {
        "loss": column(m.loss for m in metrics),
        "loss least": column(m.loss_min for m in metrics),
        "loss largest": column(m.loss_max for m in metrics),
        "smoothed loss": column(m.smoothed_loss for m in metrics),
        "batch accuracy": column(m.batch_accuracy for m in metrics),
        "learning rate": column(m.lr for m in metrics),
        "images per second": column(m.images_per_second for m in metrics),
    }
    for split in ("validation", "test"):
        values = np.full(len(steps), np.nan)
        for evaluation in records.evaluations:
            if evaluation.split == split and len(steps):
                row = min(int(np.searchsorted(steps, evaluation.step)), len(steps) - 1)
                values[row] = evaluation.accuracy
        table[f"{split} accuracy"] = values
    return steps, table


class StepCSVExporter(CSVExporter):
    """pyqtgraph's CSV export, every curve sharing the first one's x: that column is called ``step``
    and each curve's column by the curve's name (pyqtgraph writes ``name_y``)."""

    def __init__(self, item) -> None:
        super().__init__(item)
        self.params["columnMode"] = "(x,y,y,y) for all plots"

    def _exportPlotDataItem(self, plotDataItem) -> None:
        before = len(self.header)
        super()._exportPlotDataItem(plotDataItem)
        if len(self.header) > before and plotDataItem.name():
            self.header[-1] = plotDataItem.name()
            if before == 0:
                self.header[0] = "step"


def export_csv(records: RunRecords, path: str | os.PathLike) -> int:
    """Write the run's curves to ``path`` as CSV (see the module docstring); returns the rows written.
    Raises OSError if it cannot be written (``path`` then keeps what it had)."""
    steps, table = curve_table(records)
    plot = pg.PlotItem()  # never shown: it only holds the curves for the exporter
    for name in CSV_COLUMNS:
        plot.addItem(pg.PlotDataItem(steps.astype(np.float64), table[name], name=name, connect="finite"))
    with _replaced(path, ".csv") as tmp:
        StepCSVExporter(plot).export(tmp)
    return len(steps)


def export_png(widget, path: str | os.PathLike) -> tuple[int, int]:
    """Write ``widget`` as drawn (the plots with their legends, which live outside the plots) to ``path``
    as PNG; returns its size. Raises OSError if it cannot be written."""
    image = widget.grab()
    with _replaced(path, ".png") as tmp:
        if not image.save(tmp, "PNG"):
            raise OSError(f"could not write a PNG to {path}")
    return image.width(), image.height()


@contextlib.contextmanager
def _replaced(path: str | os.PathLike, suffix: str):
    """A temporary file name beside ``path`` (ending ``suffix``, as exporters pick the format by it),
    renamed onto ``path`` once written; removed if writing failed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
