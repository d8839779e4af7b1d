"""The probe images: a strip of the fixed images every snapshot runs through the network, each with
its label and its current top-3 classes and probabilities. Clicking one selects it
(``probe_selected``), and the layer rows follow it.

The probabilities are the softmax layer's own output when the network has one (what its row
shows), else the softmax of the snapshot's scores. Redrawn from the newest snapshot only, at most
every ``REDRAW_MS``, and not at all while hidden.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from convviz.training.records import Snapshot
from convviz.ui.session import RunSession
from convviz.ui.training.maps import caption_label

REDRAW_MS = 250
IMAGE_SIZE = 96  # pixels on screen of a probe image (a 32×32 one drawn 3× with its pixels sharp)
TOP = 3
MIN_CARD, MAX_CARD = 120, 230  # a card's width: room for "100.0%  " and the longest class name, within these
RIGHT, WRONG = "#2e7d32", "#c62828"


def probe_probabilities(snapshot: Snapshot) -> np.ndarray:
    """(P, K) class probabilities of the probe images: the softmax layer's output, or softmax(scores)."""
    for layer in reversed(snapshot.layers):
        if layer.type == "softmax" and layer.activation.ndim == 2:
            return np.asarray(layer.activation, dtype=np.float64)
    scores = np.asarray(snapshot.probe_scores, dtype=np.float64)
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


def top_classes(probabilities: np.ndarray, names: tuple[str, ...], count: int = TOP) -> list[tuple[int, str, float]]:
    """The ``count`` most likely classes of one probe: (class, name, probability), most likely first."""
    order = np.argsort(-probabilities, kind="stable")[:count]
    return [(int(k), names[k] if k < len(names) else f"class {k + 1}", float(probabilities[k])) for k in order]


def image_pixmap(image: np.ndarray, size: int = IMAGE_SIZE) -> QPixmap:
    """(H, W, C) uint8 (C = 3 or 1) → a pixmap ``size`` pixels wide, each pixel a sharp block."""
    image = np.ascontiguousarray(image if image.shape[2] == 3 else np.repeat(image[:, :, :1], 3, axis=2), dtype=np.uint8)
    h, w, _ = image.shape
    qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # the copy owns its bytes
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation)


class ProbeCard(QFrame):
    """One probe image with its label and top classes; a click selects it."""

    clicked = Signal(int)

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.setFrameShape(QFrame.Shape.Box)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.image = QLabel()
        self.image.setFixedSize(IMAGE_SIZE, IMAGE_SIZE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label = QLabel()
        self.top = QLabel()
        self.top.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(3)
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.label)
        layout.addWidget(self.top)
        self.width_for(())
        self.classes: list[tuple[int, str, float]] = []
        self.set_selected(False)

    def width_for(self, class_names: tuple[str, ...]) -> None:
        """Make the card wide enough for its numbers and the longest of ``class_names`` (within limits)."""
        metrics = self.top.fontMetrics()
        longest = max((metrics.horizontalAdvance(name) for name in class_names), default=0)
        self.room = min(longest + 8, MAX_CARD - 24 - metrics.horizontalAdvance("100.0%  "))
        self.setFixedWidth(max(MIN_CARD, IMAGE_SIZE + 16, 24 + metrics.horizontalAdvance("100.0%  ") + self.room))

    def set_selected(self, selected: bool) -> None:
        colour = "#2a6fdb" if selected else "#d0d0d0"
        width = 3 if selected else 1
        self.setStyleSheet(f"ProbeCard {{ border: {width}px solid {colour}; background: white; }}")

    def show_probe(self, label: str, classes: list[tuple[int, str, float]], truth: int) -> None:
        self.classes = classes
        self.label.setText(f"<b>{label}</b>")
        metrics, room = self.top.fontMetrics(), max(self.room, 40)
        rows = "".join(
            f"<tr><td align='right'>{p:.1%}</td><td style='color:{RIGHT if k == truth else ('#333' if i else WRONG)}'>"
            f"&nbsp;&nbsp;{metrics.elidedText(name, Qt.TextElideMode.ElideRight, room)}</td></tr>"
            for i, (k, name, p) in enumerate(classes)
        )
        self.top.setText(f"<table cellspacing='0'>{rows}</table>")
        self.top.setToolTip("\n".join(f"{p:.1%}  {name}" for _, name, p in classes))

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.index)
        super().mousePressEvent(event)


class ProbesView(QWidget):
    """The probe images of the newest snapshot, each with its top-3 classes; see the module docstring."""

    probe_selected = Signal(int)

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.snapshot: Snapshot | None = None
        self.selected = 0
        self.cards: list[ProbeCard] = []
        self._images: np.ndarray | None = None  # the probe images the cards show
        self._drawn: Snapshot | None = None
        self.caption = caption_label("The probe images appear with the run's first snapshot.")
        self.strip = QWidget()
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(2, 2, 2, 2)
        self.strip_layout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.strip_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.strip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.scroll, 1)
        self._timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._timer.timeout.connect(self.redraw)
        session.snapshot.connect(self.show_snapshot)
        if session.records.snapshot is not None:
            self.show_snapshot(session.records.snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        if not self._timer.isActive():
            self._timer.start()

    def select(self, index: int) -> None:
        """Select probe ``index`` (as a click on it does) and say so with ``probe_selected``."""
        if not 0 <= index < max(len(self.cards), 1):
            return
        changed = index != self.selected
        self.selected = index
        for card in self.cards:
            card.set_selected(card.index == index)
        if changed:
            self.probe_selected.emit(index)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._timer.isActive():
            self._timer.start()

    def redraw(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not self.isVisible() or snapshot is self._drawn:
            return
        images = snapshot.probe_images
        if self._images is None or not np.array_equal(self._images, images):
            self._build_cards(images, snapshot.class_names)
        probabilities = probe_probabilities(snapshot)
        names = snapshot.class_names
        correct = 0
        for card, p, truth in zip(self.cards, probabilities, snapshot.probe_labels, strict=True):
            truth = int(truth)
            classes = top_classes(p, names)
            correct += classes[0][0] == truth
            card.show_probe(names[truth] if truth < len(names) else f"class {truth + 1}", classes, truth)
        self.caption.setText(f"Step {snapshot.step}: {correct} of {len(self.cards)} probe images classified right "
                             f"(top 3 classes of each; the label in green). Click one to follow it in the layers.")
        self._drawn = snapshot

    def _build_cards(self, images: np.ndarray, names: tuple[str, ...]) -> None:
        for card in self.cards:
            self.strip_layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        for i, image in enumerate(images):
            card = ProbeCard(i)
            card.image.setPixmap(image_pixmap(image))
            card.width_for(names)
            card.clicked.connect(self.select)
            self.strip_layout.insertWidget(i, card, 0, Qt.AlignmentFlag.AlignTop)
            self.cards.append(card)
        self._images = np.array(images, copy=True)
        if self.selected >= len(self.cards):
            self.selected = 0
            self.probe_selected.emit(0)
        for card in self.cards:
            card.set_selected(card.index == self.selected)
