"""Where to put the labels of a scatter's markers so that none overlaps another label, a marker, or
the plot's edge (plain geometry in pixels, no Qt: the compare page's scatter uses it).

    rects, far = place_labels(points, radii, sizes, bounds)
    rects[i]    # (left, top, width, height) of label i
    far[i]      # True when the label sits off its marker's first ring: draw a leader line to it

Each label tries eight places around its marker (right, left, above, below, then the diagonals), at
the marker's edge and then on rings further out, one label height apart; it takes the first place
that is clear, or, when none is, the one overlapping least (area outside the bounds counts too).
"""

from __future__ import annotations

Rect = tuple[float, float, float, float]

GAP = 3.0  # pixels between a marker's edge and its label
RINGS = 8
DIRECTIONS = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1))  # y grows downwards


def _overlap(a: Rect, b: Rect) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _outside(r: Rect, bounds: Rect) -> float:
    return r[2] * r[3] - _overlap(r, bounds)


def _candidate(x: float, y: float, dist: float, direction: tuple[int, int], w: float, h: float) -> Rect:
    """The label's rect with its nearest side (or corner) ``dist`` from (x, y) in ``direction``."""
    dx, dy = direction
    if dx and dy:
        dist *= 0.75
    left = x + dist if dx > 0 else x - dist - w if dx < 0 else x - w / 2
    top = y + dist if dy > 0 else y - dist - h if dy < 0 else y - h / 2
    return left, top, w, h


def place_labels(points: list[tuple[float, float]], radii: list[float], sizes: list[tuple[float, float]],
                 bounds: Rect) -> tuple[list[Rect], list[bool]]:
    """Rects (left, top, width, height) for the labels of markers at ``points`` (centres, radius each),
    of ``sizes`` (width, height), inside ``bounds``; and whether each sits off its first ring."""
    markers = [(x - r, y - r, 2 * r, 2 * r) for (x, y), r in zip(points, radii)]
    placed: list[Rect] = []
    far: list[bool] = []
    for i, ((x, y), r, (w, h)) in enumerate(zip(points, radii, sizes)):
        best, best_cost, best_ring = None, float("inf"), 0
        for ring in range(RINGS):
            dist = r + GAP + ring * h
            for direction in DIRECTIONS:
                rect = _candidate(x, y, dist, direction, w, h)
                cost = (sum(_overlap(rect, other) for other in placed)
                        + sum(_overlap(rect, m) for j, m in enumerate(markers) if j != i)
                        + 2 * _outside(rect, bounds))
                if cost < best_cost:
                    best, best_cost, best_ring = rect, cost, ring
                if cost == 0:
                    break
            if best_cost == 0:
                break
        placed.append(best)
        far.append(best_ring > 0)
    return placed, far
