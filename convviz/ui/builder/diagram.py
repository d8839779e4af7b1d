"""The network diagram: the classic picture of a CNN as a row of 3-D volumes.

Each box is one output volume W×H×D drawn as a cuboid: its height is H, its receding side W and its
thickness D, each on a log scale so that VGG's 224×224×64 and a 1×1×1000 score vector both read. A
flat 1×1×D volume (what fully connected layers pass on) is drawn as a standing bar of length D.
Layers that keep the volume as it is (ReLU, batch norm, dropout …) are folded into the box before
them (the tooltip lists them); an invalid layer is a red box marked ✗, a layer whose input is
unknown a dashed grey one. Clicking a box selects its layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QFrame, QScrollArea, QToolTip, QWidget

from convviz.model import Volume
from convviz.ui.builder.document import INPUT, NetworkDocument
from convviz.ui.widgets.layer_style import (
    INVALID_COLOR,
    INVALID_FILL,
    SELECTED_COLOR,
    UNRESOLVED_COLOR,
    category_color,
)

ANGLE = math.radians(35)


@dataclass
class Box:
    path: object  # a layer path, or INPUT
    name: str
    volume: Volume | None
    status: str  # ok, invalid, unresolved
    category: str
    brief: str
    folded: list[str] = field(default_factory=list)
    block: str = ""  # "residual" or "branch"
    x: float = 0.0  # left of the front face
    front_w: float = 0.0  # thickness (D)
    front_h: float = 0.0  # height (H)
    depth: float = 0.0  # receding side (W)
    slot: QRectF = field(default_factory=QRectF)  # the whole area the box and its labels take

    @property
    def label(self) -> str:
        if self.status == "invalid":
            return "✗ invalid"
        return str(self.volume) if self.volume is not None else "?"


def box_size(v: Volume | None) -> tuple[float, float, float]:
    """(thickness, height, receding) in pixels for a volume, each on a log scale."""
    if v is None:
        return 18.0, 46.0, 14.0
    if v.is_flat:
        return 9.0, 10 + 9 * math.log2(max(v.depth, 1)), 4.0
    return 3 + 5 * math.log2(max(v.depth, 1)), 10 + 13 * math.log2(max(v.height, 1)), 4 + 4.5 * math.log2(max(v.width, 1))


class DiagramCanvas(QWidget):
    GAP = 26
    MARGIN = 8

    def __init__(self, document: NetworkDocument, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.boxes: list[Box] = []
        self.owner: dict = {}
        self.setMouseTracking(True)
        self.name_font = QFont(self.font())
        self.name_font.setBold(True)
        self.name_font.setPointSizeF(self.font().pointSizeF() * 0.85)
        self.label_font = QFont(self.font())
        self.label_font.setPointSizeF(self.font().pointSizeF() * 0.85)
        self.name_metrics = QFontMetrics(self.name_font)
        self.label_metrics = QFontMetrics(self.label_font)
        self._natural = (400, 200)
        self.scale = 1.0
        self.layout_boxes()

    # -- layout --------------------------------------------------------------------------------------------
    def make_boxes(self) -> tuple[list[Box], dict]:
        """The boxes to draw, and for every top-level path the box that shows it."""
        report = self.document.report
        spec = report.spec
        boxes = [Box(INPUT, "input", spec.input, "ok", "Input", "one image")]
        owner = {INPUT: boxes[0]}
        for r in report.layers:
            layer = r.layer
            folded = layer.FOLDED_IN_DIAGRAM and r.status != "invalid"  # kept inside the box before it
            if folded:
                if r.status == "ok" and boxes:
                    boxes[-1].folded.append(r.name)
                    owner[r.path] = boxes[-1]
                continue
            block = layer.TYPE if layer.COMPOSITE else ""
            boxes.append(Box(r.path, r.name, r.output, r.status, layer.CATEGORY, layer.brief(), block=block))
            owner[r.path] = boxes[-1]
        return boxes, owner

    def text_height(self) -> int:
        """Room the two labels of a box take (its name above, its volume below), with margins."""
        return self.name_metrics.height() + self.label_metrics.height() + 2 * self.MARGIN + 14

    def fit_height(self, height: int) -> None:
        """Scale the boxes so the tallest one fits ``height`` pixels with its labels (never above 1:1)."""
        tallest = max((h + d * math.sin(ANGLE) for _, h, d in (box_size(b.volume) for b in self.make_boxes()[0])), default=1.0)
        scale = min(1.0, max(0.3, (height - self.text_height()) / tallest))
        if abs(scale - self.scale) > 0.01:
            self.scale = scale
            self.layout_boxes()
            self.update()

    def layout_boxes(self) -> None:
        boxes, self.owner = self.make_boxes()
        name_metrics = self.name_metrics
        label_metrics = self.label_metrics
        x = float(self.MARGIN)
        tallest = 0.0
        for box in boxes:
            box.front_w, box.front_h, box.depth = (self.scale * size for size in box_size(box.volume))
            dx = box.depth * math.cos(ANGLE)
            dy = box.depth * math.sin(ANGLE)
            width = box.front_w + dx
            label_w = max(name_metrics.horizontalAdvance(box.name), label_metrics.horizontalAdvance(box.label))
            slot_w = max(width, label_w)
            box.x = x + (slot_w - width) / 2
            box.slot = QRectF(x, 0, slot_w, 0)
            tallest = max(tallest, box.front_h + dy)
            x += slot_w + self.GAP
        self.boxes = boxes
        self._natural = (int(x - self.GAP + self.MARGIN), int(tallest + self.text_height()))
        self.setMinimumWidth(self._natural[0])
        self.updateGeometry()

    def sizeHint(self):
        from PySide6.QtCore import QSize

        return QSize(*self._natural)

    def _geometry(self, box: Box) -> tuple[float, float, float]:
        """(front-face top y, dx, dy) of a box in the current widget size (boxes centred vertically)."""
        name_h = self.name_metrics.height()
        label_h = self.label_metrics.height()
        free = self.height() - name_h - label_h - 8
        mid = name_h + 4 + free / 2
        dx = box.depth * math.cos(ANGLE)
        dy = box.depth * math.sin(ANGLE)
        top = mid - (box.front_h - dy) / 2
        return top, dx, dy

    def x_offset(self) -> float:
        """How far the row is shifted right to sit in the middle of a wider view."""
        return max(0.0, (self.width() - self._natural[0]) / 2)

    def box_rect(self, box: Box) -> QRectF:
        """Where a box is drawn in the widget, labels included (what a click on it hits)."""
        return self._box_rect_unshifted(box).translated(self.x_offset(), 0)

    def _box_rect_unshifted(self, box: Box) -> QRectF:
        """The same, before the row is centred (the painter is translated by ``x_offset``)."""
        top, dx, dy = self._geometry(box)
        name_h = self.name_metrics.height()
        label_h = self.label_metrics.height()
        return QRectF(box.slot.left(), top - dy - name_h - 4, box.slot.width(), box.front_h + dy + name_h + label_h + 10)

    def box_at(self, pos: QPointF) -> Box | None:
        for box in self.boxes:
            if self.box_rect(box).contains(pos):
                return box
        return None

    def box_of(self, path) -> Box | None:
        """The box that shows ``path``: its own, its block's (inner layers) or the one it is folded into."""
        if isinstance(path, tuple) and len(path) > 1:
            path = path[:1]
        return self.owner.get(path)

    # -- painting ------------------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        painter.translate(self.x_offset(), 0)
        selected = self.box_of(self.document.selected)
        previous: tuple[float, float] | None = None
        for box in self.boxes:
            top, dx, dy = self._geometry(box)
            mid_y = top + box.front_h / 2
            if previous is not None:
                self._arrow(painter, previous[0] + 3, previous[1], box.x - 4, mid_y)
            self._paint_box(painter, box, top, dx, dy, box is selected)
            previous = (box.x + box.front_w + dx, mid_y - dy / 2)
        painter.end()

    def _arrow(self, painter: QPainter, x0: float, y0: float, x1: float, y1: float) -> None:
        if x1 - x0 < 6:
            return
        painter.setPen(QPen(QColor("#bdc1c6"), 1.2))
        painter.drawLine(QPointF(x0, y0), QPointF(x1, y1))
        angle = math.atan2(y1 - y0, x1 - x0)
        head = QPolygonF([
            QPointF(x1, y1),
            QPointF(x1 - 6 * math.cos(angle - 0.4), y1 - 6 * math.sin(angle - 0.4)),
            QPointF(x1 - 6 * math.cos(angle + 0.4), y1 - 6 * math.sin(angle + 0.4)),
        ])
        painter.setBrush(QColor("#bdc1c6"))
        painter.drawPolygon(head)

    def _paint_box(self, painter: QPainter, box: Box, top: float, dx: float, dy: float, selected: bool) -> None:
        x, w, h = box.x, box.front_w, box.front_h
        color = category_color(box.category)
        if box.status == "invalid":
            color = QColor(INVALID_COLOR)
        elif box.status == "unresolved":
            color = QColor(UNRESOLVED_COLOR)
        front = QRectF(x, top, w, h)
        top_face = QPolygonF([QPointF(x, top), QPointF(x + dx, top - dy), QPointF(x + w + dx, top - dy), QPointF(x + w, top)])
        side = QPolygonF([QPointF(x + w, top), QPointF(x + w + dx, top - dy), QPointF(x + w + dx, top + h - dy), QPointF(x + w, top + h)])
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e8f0fe"))
            painter.drawRoundedRect(self._box_rect_unshifted(box).adjusted(-3, -2, 3, 2), 6, 6)
        pen = QPen(color.darker(130), 2.2 if selected else 1)
        if selected:
            pen.setColor(QColor(SELECTED_COLOR))
        if box.status == "unresolved":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        if box.status == "invalid":
            fills = (QColor(INVALID_FILL), QColor(INVALID_FILL).darker(105), QColor(INVALID_FILL).darker(112))
        elif box.status == "unresolved":
            fills = (QColor("#f8f9fa"),) * 3
        else:
            base = QColor(color)
            fills = (base.lighter(175), base.lighter(150), base.lighter(125))
        painter.setBrush(fills[0])
        painter.drawRect(front)
        painter.setBrush(fills[1])
        painter.drawPolygon(top_face)
        painter.setBrush(fills[2])
        painter.drawPolygon(side)
        if box.status == "invalid":
            painter.setPen(QColor(INVALID_COLOR))
            painter.setFont(self.name_font)
            painter.drawText(front, Qt.AlignmentFlag.AlignCenter, "✗")
        if box.block:
            self._block_mark(painter, box, top, dx, dy)
        # labels
        painter.setPen(QColor(SELECTED_COLOR) if selected else QColor("#202124"))
        painter.setFont(self.name_font)
        name_h = self.name_metrics.height()
        painter.drawText(QRectF(box.slot.left(), top - dy - name_h - 3, box.slot.width(), name_h),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, box.name)
        painter.setFont(self.label_font)
        painter.setPen(QColor(INVALID_COLOR) if box.status == "invalid" else QColor("#3c4043"))
        label_h = self.label_metrics.height()
        below = top + h + (10 if box.block == "residual" else 3)
        painter.drawText(QRectF(box.slot.left() - 6, below, box.slot.width() + 12, label_h),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, box.label)

    def _block_mark(self, painter: QPainter, box: Box, top: float, dx: float, dy: float) -> None:
        """A residual block: a skip arc over the box with ⊕; a branch block: ‖ for the parallel stacks."""
        painter.setPen(QPen(QColor("#3949ab"), 1.3))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        x0, x1 = box.x - 8, box.x + box.front_w + 4
        y = top + box.front_h - 4
        if box.block == "residual":
            path = QPainterPath(QPointF(x0, y))
            path.cubicTo(QPointF(x0, y + 14), QPointF(x1, y + 14), QPointF(x1, y + 2))
            painter.drawPath(path)
        else:
            for offset in (-3, 3):
                cx = box.x + box.front_w / 2 + offset
                painter.drawLine(QPointF(cx, top + 3), QPointF(cx, top + box.front_h - 3))

    # -- interaction ---------------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        box = self.box_at(event.position())
        if box is not None:
            self.document.select(box.path)
            event.accept()
        else:
            super().mousePressEvent(event)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            box = self.box_at(QPointF(event.pos()))
            if box is None:
                QToolTip.hideText()
                event.ignore()
                return True
            QToolTip.showText(event.globalPos(), self.tooltip(box), self)
            return True
        return super().event(event)

    def tooltip(self, box: Box) -> str:
        text = f"{box.name}: {box.brief} → {box.label}"
        if box.folded:
            text += "\nthen " + ", ".join(box.folded) + " (same volume)"
        report = self.document.layer_report(box.path)
        if report is not None and report.error is not None:
            text += f"\n{report.error.message}"
        return text


class NetworkDiagram(QScrollArea):
    """The diagram dock's contents: the canvas, scrolling sideways for long networks."""

    def __init__(self, document: NetworkDocument, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.canvas = DiagramCanvas(document)
        self.setWidget(self.canvas)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName("Network diagram")
        document.changed.connect(self.refresh)
        document.selection_changed.connect(self.show_selection)

    def refresh(self) -> None:
        self.canvas.layout_boxes()
        self.canvas.fit_height(self.viewport().height())
        self.canvas.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.canvas.fit_height(self.viewport().height())

    def show_selection(self, path) -> None:
        box = self.canvas.box_of(path)
        if box is not None:
            rect = self.canvas.box_rect(box)
            self.ensureVisible(int(rect.center().x()), int(rect.center().y()), int(rect.width() / 2) + 20, 10)
        self.canvas.update()
