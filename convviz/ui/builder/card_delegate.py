"""How a card in the stack is painted: category strip, icon, name and hyperparameters, output volume,
and a second line with the parameter count or, for an invalid layer, its reason in red; a frozen
layer (train switch off) says "❄ frozen" at the right of that line."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from convviz.ui.builder.stack_model import Card, Role

FROZEN_MARK = "❄ frozen"
FROZEN_COLOR = "#1967d2"  # a cold blue, apart from the hint's amber and the error's red
from convviz.ui.widgets.layer_style import (
    HINT_COLOR,
    INVALID_COLOR,
    INVALID_FILL,
    SELECTED_COLOR,
    UNRESOLVED_COLOR,
    UNRESOLVED_FILL,
    category_color,
    layer_icon,
)


class CardDelegate(QStyledItemDelegate):
    """Paints a card: category strip, icon, name and hyperparameters, output volume, and a second line
    with the parameter count or, for an invalid layer, its reason in red."""

    LAYER_HEIGHT = 42
    INPUT_HEIGHT = 40
    STACK_HEIGHT = 24

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.paints = 0  # cards painted (the benchmark checks the cards really repaint)
        self._fonts_for: QFont | None = None

    def fonts(self, base: QFont):
        """(regular, bold, small, header) fonts and their metrics for the view's font, made once."""
        if self._fonts_for != base:
            bold = QFont(base)
            bold.setBold(True)
            small = QFont(base)
            small.setPointSizeF(base.pointSizeF() * 0.88)
            header = QFont(base)
            header.setBold(True)
            header.setPointSizeF(base.pointSizeF() * 0.9)
            header_light = QFont(header)
            header_light.setBold(False)
            self._fonts = {name: (font, QFontMetrics(font)) for name, font in
                           (("base", QFont(base)), ("bold", bold), ("small", small), ("header", header), ("header_light", header_light))}
            self._fonts_for = QFont(base)
        return self._fonts

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        kind = index.data(Role.KIND)
        height = {"stack": self.STACK_HEIGHT, "input": self.INPUT_HEIGHT}.get(kind, self.LAYER_HEIGHT)
        return QSize(200, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        card: Card | None = index.data(Role.CARD)
        if card is None:
            return
        self.paints += 1
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if card.kind == "stack":
            self._paint_stack(painter, option, card)
        else:
            self._paint_card(painter, option, card, selected)
        painter.restore()

    def _paint_stack(self, painter: QPainter, option: QStyleOptionViewItem, card: Card) -> None:
        rect = option.rect.adjusted(4, 2, -8, -2)
        fonts = self.fonts(option.font)
        painter.setPen(QColor("#9aa0a6"))
        font, metrics = fonts["header"]
        painter.setFont(font)
        label = card.name
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
        x = rect.left() + metrics.horizontalAdvance(label) + 8
        font, metrics = fonts["header_light"]
        painter.setFont(font)
        right = f"→ {card.output}"
        right_w = metrics.horizontalAdvance(right)
        brief = metrics.elidedText(card.brief, Qt.TextElideMode.ElideRight, max(0, rect.right() - right_w - 12 - x))
        painter.drawText(QRect(x, rect.top(), rect.right() - x, rect.height()), Qt.AlignmentFlag.AlignVCenter, brief)
        painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, right)
        painter.setPen(QPen(QColor("#dadce0"), 1))
        painter.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())

    def _paint_card(self, painter: QPainter, option: QStyleOptionViewItem, card: Card, selected: bool) -> None:
        rect = option.rect.adjusted(2, 3, -6, -3)
        base = option.palette.color(QPalette.ColorRole.Base)
        text_color = option.palette.color(QPalette.ColorRole.Text)
        fill, border = base, QColor("#dadce0")
        if card.status == "invalid":
            fill, border = QColor(INVALID_FILL), QColor(INVALID_COLOR)
        elif card.status == "unresolved":
            fill, border, text_color = QColor(UNRESOLVED_FILL), QColor("#bdc1c6"), QColor(UNRESOLVED_COLOR)
        if selected:
            border = QColor(SELECTED_COLOR)
            if card.status == "ok":
                fill = QColor("#e8f0fe")
        pen = QPen(border, 2 if selected or card.status == "invalid" else 1)
        if card.status == "unresolved" and not selected:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 5, 5)
        # category strip
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(category_color(card.category))
        painter.drawRoundedRect(QRect(rect.left() + 1, rect.top() + 1, 5, rect.height() - 1), 2, 2)
        x = rect.left() + 12
        if card.kind == "layer":
            icon = layer_icon(card.type_key)
            icon.paint(painter, QRect(x, rect.top() + (rect.height() - 22) // 2, 22, 22))
            x += 30
        fonts = self.fonts(option.font)
        base_font, base_metrics = fonts["base"]
        bold, bold_metrics = fonts["bold"]
        small, small_metrics = fonts["small"]
        one_line = card.kind == "input"
        top = QRect(x, rect.top() + 3, rect.right() - x - 8, (rect.height() - 6) if one_line else (rect.height() - 6) // 2)
        bottom = QRect(x, top.bottom(), top.width(), rect.bottom() - 3 - top.bottom())
        # right: the output volume
        painter.setFont(bold)
        painter.setPen(text_color if card.status != "invalid" else QColor(INVALID_COLOR))
        right = card.output if card.status != "invalid" or card.output != "—" else "✗"
        right_w = bold_metrics.horizontalAdvance(right)
        painter.drawText(top, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, right)
        # left: name, then the hyperparameters
        painter.setPen(text_color)
        name_w = bold_metrics.horizontalAdvance(card.name)
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, card.name)
        painter.setFont(base_font)
        avail = top.width() - name_w - right_w - 20
        brief = base_metrics.elidedText(card.brief, Qt.TextElideMode.ElideRight, max(0, avail))
        painter.drawText(top.adjusted(name_w + 8, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, brief)
        if card.kind == "input":
            painter.setFont(small)
            painter.setPen(QColor(UNRESOLVED_COLOR))
            note_rect = top.adjusted(name_w + 8 + base_metrics.horizontalAdvance(brief) + 12, 0, -right_w - 12, 0)
            if card.hint:
                note_rect.setRight(note_rect.right() - self._draw_hint(painter, card.hint, note_rect, small_metrics) - 8)
                painter.setPen(QColor(UNRESOLVED_COLOR))
            painter.drawText(note_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             small_metrics.elidedText(card.note, Qt.TextElideMode.ElideRight, max(0, note_rect.width())))
            return
        # second line
        painter.setFont(small)
        if card.status == "invalid":
            painter.setPen(QColor(INVALID_COLOR))
            note = "✗ " + card.note
        else:
            painter.setPen(QColor(UNRESOLVED_COLOR) if card.status == "unresolved" else QColor("#5f6368"))
            note = card.note
        if card.frozen:
            used = self._draw_marker(painter, FROZEN_MARK, bottom, small_metrics, FROZEN_COLOR)
            bottom = bottom.adjusted(0, 0, -used - 8, 0)
        if card.hint:
            used = self._draw_hint(painter, card.hint, bottom, small_metrics)
            bottom = bottom.adjusted(0, 0, -used - 8, 0)
        if card.frozen or card.hint:
            painter.setPen(QColor(UNRESOLVED_COLOR) if card.status == "unresolved" else QColor("#5f6368"))
        note = small_metrics.elidedText(note, Qt.TextElideMode.ElideRight, bottom.width())
        painter.drawText(bottom, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, note)

    @classmethod
    def _draw_hint(cls, painter: QPainter, rule: str, rect: QRect, metrics: QFontMetrics) -> int:
        """The sizing-hint marker at the right of ``rect`` ("◆ unusual pooling", amber); its width."""
        return cls._draw_marker(painter, f"◆ {rule}", rect, metrics, HINT_COLOR)

    @staticmethod
    def _draw_marker(painter: QPainter, text: str, rect: QRect, metrics: QFontMetrics, color: str) -> int:
        """``text`` at the right of ``rect`` in ``color``, elided to half its width; the width used."""
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, rect.width() // 2))
        painter.setPen(QColor(color))
        painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        return metrics.horizontalAdvance(text)


