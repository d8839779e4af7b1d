"""The drawing pieces of a health row: a sparkline panel, the weight histograms over time as a
ridgeline, and the time cursor's markers. Every panel lives in the row's one view box, in a unit
square of its own at x offset ``index``·(1 + PANEL_GAP); items are made once and updated in place.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

PANEL_GAP = 0.36  # between two panels, in panel widths: room for the next one's range ("-28.7")
LEFT_MARGIN = 0.42  # left of the first panel, for its range with a sign
WIDE_PANEL = 150  # pixels a panel needs for its long title; narrower rows show the short ones
MAX_RIDGES = 10  # weight histograms drawn per row (evenly over the kept snapshots, the newest always)
RIDGE_SPAN = 0.72  # the oldest histogram's baseline; the newest sits at 0, in front
RIDGE_HEIGHT = 0.34  # the tallest bin of a histogram, in panel heights
OLD_RIDGE, NEW_RIDGE = (200, 190, 230), (150, 60, 30)  # oldest to newest (TensorBoard's: faint at the back)
CURSOR = (30, 30, 30)


def power(value: float) -> str:
    """A ratio as one digit and a power of ten: ``3e-4``."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def scaled(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` mapped from [low, high] onto a panel's [0, 1]."""
    return (values - low) / ((high - low) or 1.0)


class Panel:
    """One sparkline panel of a row, at x offset ``index``·(1 + PANEL_GAP) of the row's view box: a
    frame, a title, its y range as two numbers, and curves fed in the panel's own [0, 1] square."""

    def __init__(self, box: pg.ViewBox, index: int, title: str, short: str | None = None) -> None:
        self.left = index * (1 + PANEL_GAP)
        self.titles = (title, short or title)  # long, and short for a narrow row
        frame = pg.QtWidgets.QGraphicsRectItem(self.left, 0, 1, 1)
        frame.setPen(pg.mkPen((0, 0, 0, 40), width=0))
        frame.setBrush(pg.mkBrush(None))
        box.addItem(frame)
        self.box = box
        self.title = pg.TextItem(title, color="#555", anchor=(0, 1))
        self.title.setPos(self.left, 1.0)
        self.high = pg.TextItem("", color="#777", anchor=(1, 0.3))  # the range, left of the frame
        self.low = pg.TextItem("", color="#777", anchor=(1, 0.7))
        self.high.setPos(self.left - 0.01, 1.0)
        self.low.setPos(self.left - 0.01, 0.0)
        for item in (self.title, self.high, self.low):
            box.addItem(item)

    def curve(self, colour, width: int = 2, alpha: int = 255) -> pg.PlotCurveItem:
        item = pg.PlotCurveItem(pen=pg.mkPen((*colour, alpha), width=width))
        self.box.addItem(item)
        return item

    def put(self, curve: pg.PlotCurveItem, x: np.ndarray, y: np.ndarray) -> None:
        """Draw ``y`` (already in [0, 1]) against ``x`` (in [0, 1]) in this panel."""
        keep = np.isfinite(y)
        curve.setData(self.left + x[keep], np.clip(y[keep], -0.02, 1.02))

    def set_range(self, low: str, high: str) -> None:
        self.low.setText(low)
        self.high.setText(high)

    def set_compact(self, compact: bool) -> None:
        """The short title when the panel is too narrow for the long one."""
        self.title.setText(self.titles[1] if compact else self.titles[0])


def ridge_colour(age: float) -> tuple[int, int, int]:
    """The colour of a histogram ``age`` (0 the newest … 1 the oldest) along the ridgeline."""
    return tuple(round(n + (o - n) * age) for n, o in zip(NEW_RIDGE, OLD_RIDGE, strict=True))


def chosen_ridges(steps: list[int], cursor: int | None, count: int = MAX_RIDGES) -> list[int]:
    """Indices into the kept snapshots' ``steps`` (ascending) to draw: ``count`` evenly from the first
    to the newest, and the one nearest ``cursor`` among them."""
    n = len(steps)
    if n == 0:
        return []
    chosen = set(np.unique(np.rint(np.linspace(0, n - 1, min(count, n))).astype(int)).tolist())
    if cursor is not None:
        chosen.add(np.argmin(np.abs(np.asarray(steps) - cursor)).item())
    return sorted(chosen)


class Ridgeline(Panel):
    """A layer's weight histograms over the run, one above the other: the oldest at the back (top),
    the newest in front (bottom), each filled so the one in front hides what is behind it, as
    TensorBoard's offset histograms. x: the weight value over every shown histogram's range."""

    def __init__(self, box: pg.ViewBox, index: int) -> None:
        super().__init__(box, index, "weights by step", "weights")
        self.ridges = []
        for i in range(MAX_RIDGES + 1):  # + the cursor's own when it is not among the even ones
            ridge = pg.PlotCurveItem()
            ridge.setZValue(10 + i)
            ridge.setVisible(False)
            box.addItem(ridge)
            self.ridges.append(ridge)
        self.axis_low = pg.TextItem("", color="#777", anchor=(0, 0))
        self.axis_high = pg.TextItem("", color="#777", anchor=(1, 0))
        self.axis_low.setPos(self.left, 0.0)
        self.axis_high.setPos(self.left + 1, 0.0)
        # the steps of the back (oldest) and front (newest) histograms, right of the panel (the title
        # says "by step")
        self.oldest = pg.TextItem("", color="#777", anchor=(0, 0.5))
        self.newest = pg.TextItem("", color="#777", anchor=(0, 0.5))
        self.newest.setPos(self.left + 1.02, 0.05)
        for item in (self.axis_low, self.axis_high, self.oldest, self.newest):
            item.setZValue(100)
            box.addItem(item)
        self.shown: list[tuple[int, np.ndarray, np.ndarray]] = []  # (step, counts, edges) drawn, oldest first

    def draw(self, histograms: list[tuple[int, np.ndarray, np.ndarray]], cursor: int | None, number) -> None:
        """``histograms``: (step, counts (B,), edges (B + 1,)) of the kept snapshots in step order."""
        picked = [histograms[i] for i in chosen_ridges([h[0] for h in histograms], cursor)]
        self.shown = picked
        for ridge in self.ridges[len(picked):]:
            ridge.setVisible(False)
        if not picked:
            self.oldest.setText("")
            self.newest.setText("")
            self.axis_low.setText("")
            self.axis_high.setText("")
            return
        low = min(float(edges[0]) for _, _, edges in picked)
        high = max(float(edges[-1]) for _, _, edges in picked)
        densities = [counts / np.maximum(np.diff(edges), 1e-30) for _, counts, edges in picked]
        top = max(float(d.max()) for d in densities) or 1.0
        near = None if cursor is None else min(range(len(picked)), key=lambda i: abs(picked[i][0] - cursor))
        n = len(picked)
        for i, ((step, counts, edges), density) in enumerate(zip(picked, densities)):
            age = (n - 1 - i) / (n - 1) if n > 1 else 0.0
            base = RIDGE_SPAN * age
            x = self.left + scaled(np.asarray(edges, dtype=np.float64), low, high)
            y = base + RIDGE_HEIGHT * density / top
            colour = CURSOR if i == near else ridge_colour(age)
            ridge = self.ridges[i]
            ridge.setData(x, y, stepMode="center", fillLevel=base)
            ridge.setPen(pg.mkPen(colour, width=2 if i == near else 1))
            ridge.setBrush(pg.mkBrush(255, 255, 255, 235))
            ridge.setVisible(True)
        self.oldest.setText(f"{picked[0][0]:,}")
        self.newest.setText(f"{picked[-1][0]:,}")
        self.oldest.setPos(self.left + 1.02, RIDGE_SPAN + 0.05)
        self.axis_low.setText(number(low))
        self.axis_high.setText(number(high))


class TimeCursor:
    """One vertical dashed line per time panel at the cursor's step: one item, drawn as pairs."""

    def __init__(self, box: pg.ViewBox) -> None:
        self.item = pg.PlotCurveItem(pen=pg.mkPen(CURSOR, width=1, style=Qt.PenStyle.DashLine), connect="pairs")
        self.item.setZValue(50)
        box.addItem(self.item)

    def put(self, lefts: list[float], x: float | None) -> None:
        """Mark ``x`` (in [0, 1]) in every panel starting at ``lefts``; None: no marker."""
        if x is None:
            self.item.setData([], [])
            return
        xs = np.repeat(np.asarray(lefts, dtype=np.float64) + float(np.clip(x, 0.0, 1.0)), 2)
        ys = np.tile([0.0, 1.0], len(lefts))
        self.item.setData(xs, ys, connect="pairs")
