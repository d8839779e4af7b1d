"""The probe images: a strip of the fixed images every snapshot runs through the network (one per
class of the data set, then the user's own), each card with its name and its current top-3 classes
and probabilities. Clicking one selects it (``probe_selected``), and the layer rows follow it.

**Add image…** (or image files dropped on the strip) adds the user's own pictures: each is fitted to
the network's input (:func:`convviz.data.fit_image`: centre crop to its aspect, resampled, channels
set; the card's tooltip says how) and given to the session (``RunSession.add_probe``), which shows it
from the next snapshot on; a class name in the file's name is taken as its label. A user's card has
a × (and a context menu) to remove it.

The probabilities are the softmax layer's own output when the network has one (what its row
shows), else the softmax of the snapshot's scores. Redrawn from the snapshot shown (the newest, or
the time slider's) at most every ``REDRAW_MS``, and not at all while hidden.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from convviz.data.errors import DataError
from convviz.data.image_fit import fit_image
from convviz.training.records import Snapshot
from convviz.ui.session import RunSession
from convviz.ui.training.maps import caption_label
from convviz.ui.widgets.image_file import read_image_file

REDRAW_MS = 250
IMAGE_SIZE = 96  # pixels on screen of a probe image (a 32×32 one drawn 3× with its pixels sharp)
TOP = 3
MIN_CARD, MAX_CARD = 120, 230  # a card's width: room for "100.0%  " and the longest class name, within these
RIGHT, WRONG = "#2e7d32", "#c62828"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;All files (*)"


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


def label_from_name(name: str, class_names: tuple[str, ...]) -> int | None:
    """The class a file's name names (``my_cat.png`` → cat's index), the longest name that fits; None if none does."""
    stem = Path(name).stem.lower().replace("_", " ").replace("-", " ")
    found = [(len(c), k) for k, c in enumerate(class_names) if c and c.lower() in stem]
    return max(found)[1] if found else None


def fit_text(source: tuple[int, int], shape: tuple[int, int, int]) -> str:
    """How a picture of (height, width) was fitted to an (H, W, C) input, in words."""
    h, w = source
    out_h, out_w, c = shape
    side = min(h, w * out_h / out_w), min(w, h * out_w / out_h)
    crop = f"centre crop {int(side[1])}×{int(side[0])}, " if (int(side[0]), int(side[1])) != (h, w) else ""
    return f"{w}×{h} → {crop}resampled to {out_w}×{out_h}×{c}"


def image_pixmap(image: np.ndarray, size: int = IMAGE_SIZE) -> QPixmap:
    """(H, W, C) uint8 (C = 3 or 1) → a pixmap ``size`` pixels wide, each pixel a sharp block."""
    image = np.ascontiguousarray(image if image.shape[2] == 3 else np.repeat(image[:, :, :1], 3, axis=2), dtype=np.uint8)
    h, w, _ = image.shape
    qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # the copy owns its bytes
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation)


class ProbeCard(QFrame):
    """One probe image with its name and top classes; a click selects it, and a user's own card has a ×."""

    clicked = Signal(int)
    remove_requested = Signal(str)

    def __init__(self, index: int, name: str = "", removable: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index, self.name, self.removable = index, name, removable
        self.setFrameShape(QFrame.Shape.Box)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.image = QLabel()
        self.image.setFixedSize(IMAGE_SIZE, IMAGE_SIZE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.remove = QToolButton()
        self.remove.setText("×")
        self.remove.setToolTip("Remove this probe image")
        self.remove.setAutoRaise(True)
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self.name))
        self.remove.setVisible(removable)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setFixedHeight(2 * self.label.fontMetrics().lineSpacing() + 2)  # the name in two lines at most
        self.top = QLabel()
        self.top.setTextFormat(Qt.TextFormat.RichText)
        picture = QHBoxLayout()
        picture.setContentsMargins(0, 0, 0, 0)
        picture.addStretch(1)
        picture.addWidget(self.image)
        picture.addStretch(1)
        picture.addWidget(self.remove, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(3)
        layout.addLayout(picture)
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
        colour = "#2a6fdb" if selected else ("#e08a1e" if self.removable else "#d0d0d0")
        width = 3 if selected else 1
        self.setStyleSheet(f"ProbeCard {{ border: {width}px solid {colour}; background: white; }}")

    def show_probe(self, label: str, classes: list[tuple[int, str, float]], truth: int) -> None:
        self.classes = classes
        metrics = self.label.fontMetrics()
        shown = metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, 2 * (self.width() - 20))
        for mark in "_-.":  # a file's name may break after these too, not only at spaces
            shown = shown.replace(mark, mark + "\u200b")
        self.label.setText(f"<b>{shown}</b>")
        self.label.setToolTip(label)
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

    def contextMenuEvent(self, event) -> None:
        if self.removable:
            menu = QMenu(self)
            menu.addAction(f"Remove {self.name}", lambda: self.remove_requested.emit(self.name))
            menu.exec(event.globalPos())


class ProbesView(QWidget):
    """The probe images of the snapshot shown, each with its top-3 classes; see the module docstring."""

    probe_selected = Signal(int)

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.snapshot: Snapshot | None = None
        self.live = True  # follows the session's newest snapshot (False: the time slider holds one)
        self.selected = 0
        self.cards: list[ProbeCard] = []
        self.fits: dict[str, str] = {}  # a user's probe name → how its picture was fitted
        self._shown_key = None  # the probe names and images shape the cards show
        self._images: np.ndarray | None = None  # the probe images the cards show
        self._drawn: Snapshot | None = None
        self.caption = caption_label("The probe images appear with the run's first snapshot.")
        self.add_button = QPushButton("Add image…")
        self.add_button.setToolTip("Add your own pictures (PNG, JPEG …) as probe images: each is fitted to the "
                                   "network's input; you can also drop image files on the strip")
        self.add_button.clicked.connect(self.choose_files)
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignTop)
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
        layout.addLayout(top)
        layout.addWidget(self.scroll, 1)
        self.setAcceptDrops(True)
        self._timer = QTimer(self, interval=REDRAW_MS, singleShot=True)
        self._timer.timeout.connect(self.redraw)
        session.snapshot.connect(self._newest)
        if session.records.snapshot is not None:
            self.show_snapshot(session.records.snapshot)

    def _newest(self, snapshot: Snapshot) -> None:
        if self.live:
            self.show_snapshot(snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Show ``snapshot``'s probes (at the next redraw)."""
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

    # -- the user's own probes --------------------------------------------------------------------------
    def choose_files(self) -> None:
        """Add image…: pick pictures to add as probes."""
        paths, _ = QFileDialog.getOpenFileNames(self, "Add probe images", "", IMAGE_FILTER)
        for path in paths:
            self.add_image_file(path)

    def add_image_file(self, path: str) -> str | None:
        """Fit the picture at ``path`` to the network's input and add it as a probe; its name, or None
        (the caption says why) if it cannot be read or the network has no input to fit it to."""
        name = Path(path).name
        try:
            picture = read_image_file(path)
            c, h, w = self.session.network().input.chw()
            fitted = fit_image(picture, h, w, c)
            label = label_from_name(name, self._class_names())
            added = self.session.add_probe(fitted, label, name)
        except (DataError, ValueError, OSError) as exc:
            self.caption.setText(f"Could not add {name} as a probe image: {exc}")
            return None
        guess = (f"; its label {self._class_names()[label]} (from the file's name)" if label is not None
                 else "; its class unknown")
        self.fits[added] = f"{added}: {fit_text(picture.shape[:2], fitted.shape)}{guess}"
        self.caption.setText(f"{added} added ({fit_text(picture.shape[:2], fitted.shape)}): it appears with the next "
                             f"snapshot.")
        return added

    def remove_probe(self, name: str) -> None:
        """Remove the user's probe ``name``."""
        if self.session.remove_probe(name):
            self.fits.pop(name, None)
            self.caption.setText(f"{name} removed from the probe images.")

    def _class_names(self) -> tuple[str, ...]:
        return self.snapshot.class_names if self.snapshot is not None else ()

    def _user_names(self) -> set[str]:
        return {entry[0] for entry in self.session.user_probes}

    def dragEnterEvent(self, event) -> None:
        if any(url.toLocalFile().lower().endswith(IMAGE_SUFFIXES) for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls()]
        for path in paths:
            if path.lower().endswith(IMAGE_SUFFIXES):
                self.add_image_file(path)
        event.acceptProposedAction()

    # -- drawing ---------------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._timer.isActive():
            self._timer.start()

    def redraw(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not self.isVisible() or snapshot is self._drawn:
            return
        names = snapshot.class_names
        probe_names = tuple(snapshot.probe_names) or tuple(
            names[t] if 0 <= t < len(names) else f"probe {i + 1}" for i, t in enumerate(snapshot.probe_labels))
        key = (probe_names, snapshot.probe_images.shape)
        if key != self._shown_key or not np.array_equal(self._images, snapshot.probe_images):
            self._build_cards(snapshot.probe_images, probe_names, names)
            self._shown_key = key
        probabilities = probe_probabilities(snapshot)
        correct = known = 0
        for card, p, truth in zip(self.cards, probabilities, snapshot.probe_labels, strict=True):
            truth = int(truth)
            classes = top_classes(p, names)
            if truth >= 0:
                known += 1
                correct += classes[0][0] == truth
            card.show_probe(card.name, classes, truth)
        users = sum(card.removable for card in self.cards)
        yours = f", {users} of them yours" if users else ""
        self.caption.setText(f"Step {snapshot.step}: {correct} of {known} labelled probe images classified right{yours} "
                             f"(top 3 classes of each; the label in green). Click one to follow it in the layers.")
        self._drawn = snapshot

    def _build_cards(self, images: np.ndarray, probe_names: tuple[str, ...], names: tuple[str, ...]) -> None:
        for card in self.cards:
            self.strip_layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        users = self._user_names()
        for i, (image, name) in enumerate(zip(images, probe_names, strict=False)):
            card = ProbeCard(i, name, removable=name in users)
            card.image.setPixmap(image_pixmap(image))
            card.image.setToolTip(self.fits.get(name, name))
            card.width_for(names)
            card.clicked.connect(self.select)
            card.remove_requested.connect(self.remove_probe)
            self.strip_layout.insertWidget(i, card, 0, Qt.AlignmentFlag.AlignTop)
            self.cards.append(card)
        self._images = np.array(images, copy=True)
        if self.selected >= len(self.cards):
            self.selected = 0
            self.probe_selected.emit(0)
        for card in self.cards:
            card.set_selected(card.index == self.selected)
