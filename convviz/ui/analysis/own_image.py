"""The user's own picture: read, fitted to the network's input, normalized, and handed to the explaining
(part of :class:`AnalyzeWorkspaceView`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def fit_window(height: int, width: int, target_h: int, target_w: int) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the window ``convviz.data.fit_image`` keeps of a ``height``×``width``
    picture for a ``target_h``×``target_w`` input: the largest centred window of the target's aspect
    (it is then resized; a test checks this against fit_image itself)."""
    aspect = target_h / target_w
    if height / width > aspect:
        keep = max(1, round(width * aspect))
        return (height - keep) // 2, 0, keep, width
    keep = max(1, round(height / aspect))
    return 0, (width - keep) // 2, height, keep


@dataclass(frozen=True)
class OwnImage:
    """The user's picture: as read (H, W, 3), fitted to the input (h, w, C) uint8, normalized x (1, C, h, w)."""

    name: str
    original: np.ndarray
    pixels: np.ndarray
    x: np.ndarray
    fit: str  # "640×480 fitted to 32×32×3"
    path: str = ""  # the file it was read from
    window: tuple[int, int, int, int] | None = None  # (top, left, height, width) of ``original`` fitted


class OwnImagePart:
    """The Analyze page's "Your image…": opening a picture of the user's own."""

    def open_image(self, path: str) -> bool:
        """Fit the picture at ``path`` to the network's input (the largest centred crop of its shape,
        resized), classify it with the evaluated weights and explain it; False (said in the status)
        when it cannot be read or nothing was evaluated yet."""
        from convviz.data import DataError, fit_image
        from convviz.ui.widgets.image_file import read_image_file

        if self.result is None or self._net64 is None:
            self.status.setText("Evaluate first: your image is classified with the evaluated weights.")
            return False
        c, h, w = self._net64.spec.input.chw()
        try:
            original = read_image_file(path)
            pixels = fit_image(original, h, w, c)
        except (DataError, OSError) as exc:
            self.status.setText(f"Cannot open {path}: {exc}")
            return False
        norm = self.dataset.normalization
        mean, std = (norm.mean, norm.std) if len(norm.mean) == c else ((0.5,) * c, (0.25,) * c)
        x = (pixels.transpose(2, 0, 1)[None] / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
        oh, ow = original.shape[:2]
        fit = f"{ow}×{oh} fitted to {w}×{h}×{c}" if (oh, ow) != (h, w) or c != 3 else f"{w}×{h}"
        from pathlib import Path

        window = fit_window(oh, ow, h, w)
        self.own_image = OwnImage(Path(path).name, original, pixels, x, fit, str(path), window)
        self.selected_image = None
        self.images.blockSignals(True)
        self.images.setCurrentRow(-1)
        self.images.blockSignals(False)
        self._enable()
        self._explain()
        return True

    def _choose_image(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Your image", "", "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.webp)")
        if path:
            self.open_image(path)
