"""How layer types look everywhere in the window: category colours, icons, and text helpers."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from convviz.model import LAYER_TYPES
from convviz.paths import resource

#: One colour per palette category (a strip on each card, the box colour in the diagram).
CATEGORY_COLORS = {
    "Convolution": "#1a73e8",
    "Pooling": "#00897b",
    "Activation": "#e37400",
    "Normalization": "#8e24aa",
    "Fully connected": "#188038",
    "Blocks": "#3949ab",
    "Input": "#5f6368",
}

#: Status colours of cards, summary rows and diagram boxes.
INVALID_COLOR = "#c5221f"
INVALID_FILL = "#fce8e6"
UNRESOLVED_COLOR = "#80868b"
UNRESOLVED_FILL = "#f1f3f4"
SELECTED_COLOR = "#1a73e8"
OK_COLOR = "#188038"
HINT_COLOR = "#b06000"  # a design rule the layer does not follow (never blocking)

#: What the uneven-stride policies are called in the inspector.
POLICY_LABELS = {
    "error": "flag it as invalid",
    "pad": "zero-pad to fit (bottom/right)",
    "crop": "crop to fit (drop the last rows)",
}


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, "#5f6368"))


def type_color(type_key: str) -> QColor:
    cls = LAYER_TYPES.get(type_key)
    return category_color(cls.CATEGORY if cls else "Input")


@lru_cache(maxsize=None)
def layer_icon(type_key: str) -> QIcon:
    """The icon of a layer type (``resources/icons/TYPE.svg``), or a coloured square if there is none."""
    path = resource("icons", f"{type_key}.svg")
    if path.is_file():
        icon = QIcon(str(path))
        if not icon.isNull():
            return icon
    pixmap = QPixmap(QSize(24, 24))
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(type_color(type_key))
    painter.setPen(QColor(0, 0, 0, 0))
    painter.drawRoundedRect(3, 3, 18, 18, 4, 4)
    painter.end()
    return QIcon(pixmap)


def app_icon() -> QIcon:
    path = resource("icons", "convviz.svg")
    return QIcon(str(path)) if path.is_file() else QIcon()
