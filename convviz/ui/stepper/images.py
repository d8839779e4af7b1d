"""The Step workspace's choice of image: a test image of the synthetic set or of CIFAR-10 (by class and
number), or a picture of one's own fitted to the network's input volume (``convviz.data.fit_image``:
centre crop to its aspect, area resampling, channels set), scaled as the data set's images are (a mixin
of :class:`~convviz.ui.stepper.workspace.StepWorkspaceView`, which owns the widgets it reads)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from convviz.training.config import TrainConfig
from convviz.ui.widgets.image_file import read_image_file


@lru_cache(maxsize=1)
def synthetic_images():
    """The synthetic data set as a default run trains on it (its normalization included)."""
    from convviz.data import synthetic_dataset

    config = TrainConfig()
    return synthetic_dataset(validation=config.validation, seed=config.seed)


class ImageChoice:
    """Where the stepped image comes from."""

    image_file = ""  # the picture of one's own, once chosen

    def set_image(self, source: str, number: int, class_index: int | None = None) -> None:
        """Step test image ``number`` of class ``class_index`` (any class: None) of ``source``
        (``synthetic`` or ``cifar10``)."""
        self.source.blockSignals(True)
        self.source.setCurrentIndex(max(0, self.source.findData(source)))
        self.source.blockSignals(False)
        self._fill_classes()
        self.class_choice.blockSignals(True)
        self.class_choice.setCurrentIndex(0 if class_index is None else class_index + 1)
        self.class_choice.blockSignals(False)
        self.image_number.blockSignals(True)
        self.image_number.setValue(number)
        self.image_number.blockSignals(False)
        self.reload()

    def cifar10_available(self) -> bool:
        """Whether CIFAR-10 is in the data folder; the source choice offers it only then."""
        from convviz.data import find_cifar10

        found = self._cifar is not None or find_cifar10(self.session.data_folder) is not None
        item = self.source.model().item(self.source.findData("cifar10"))
        item.setEnabled(found)
        item.setToolTip("" if found else "CIFAR-10 is not in the data folder yet: File → Get CIFAR-10")
        return found

    def _dataset(self):
        """The data set of the chosen source (a picture of one's own: CIFAR-10 once loaded, else the synthetic
        set, for its class names and scaling)."""
        if self.source.currentData() == "file":
            return self._cifar or synthetic_images()
        if self.source.currentData() == "cifar10":
            if self._cifar is None:
                from convviz.data import DataError, load_dataset

                folder = self.session.data_folder
                try:
                    self._cifar = load_dataset("cifar10", validation=0, **({"cache": folder} if folder else {}))
                except DataError:
                    self.source.blockSignals(True)
                    self.source.setCurrentIndex(0)
                    self.source.blockSignals(False)
                    self._data_note = "CIFAR-10 is not in the data folder (File → Get CIFAR-10): a synthetic image instead"
                    return synthetic_images()
            return self._cifar
        return synthetic_images()

    def _fill_classes(self) -> None:
        """The class choice of the chosen source (the synthetic set is only made once an image is needed)."""
        from convviz.data import SYNTHETIC_CLASSES

        names = self._dataset().class_names if self.source.currentData() == "cifar10" or self._cifar else SYNTHETIC_CLASSES
        current = self.class_choice.currentIndex()
        self.class_choice.blockSignals(True)
        self.class_choice.clear()
        self.class_choice.addItem("any class")
        self.class_choice.addItems(list(names))
        self.class_choice.setCurrentIndex(max(0, current) if current < self.class_choice.count() else 0)
        self.class_choice.blockSignals(False)

    def _source_changed(self) -> None:
        if self.source.currentData() == "file" and not self._choose_file() and not self.image_file:
            self.source.blockSignals(True)
            self.source.setCurrentIndex(0)
            self.source.blockSignals(False)
        self._fill_classes()
        self._image_changed()

    def _image_changed(self) -> None:
        if self.run is not None or self.isVisible():
            self.reload()

    def _image(self, spec):
        """(x (1, C, H, W), label, class names, a description) of the chosen image, fitted to ``spec``'s
        input; its pixels (H, W, C) and the per-channel mean and std that scaled them are kept in
        ``_pixels`` for the input stop."""
        from convviz.data import fit_image

        if self.source.currentData() == "file":
            return self._file_image(spec)
        data = self._dataset()
        test = data.split("test")
        wanted = self.class_choice.currentIndex() - 1
        indices = np.arange(len(test)) if wanted < 0 else np.flatnonzero(test.labels == wanted)
        if not len(indices):
            raise ValueError(f"the {data.name} test set has no image of class {data.class_names[wanted]}")
        number = min(self.image_number.value(), len(indices) - 1)
        i = int(indices[number])
        self._image_index = i
        pixels = data.raw_image("test", i)
        c, h, w = spec.input.chw()
        text = f"{data.name} test image {i} ({data.class_names[data.label('test', i)]})"
        if self._data_note:
            text, self._data_note = f"{text}; {self._data_note}", ""
        if pixels.shape != (h, w, c):
            pixels = fit_image(pixels, h, w, c)
            text += f", fitted to {w}×{h}×{c}"
        return self._scaled(pixels, data), data.label("test", i), data.class_names, text

    def _scaled(self, pixels, data) -> np.ndarray:
        """(1, C, H, W) float64: pixels/255 scaled by ``data``'s per-channel mean and std (0.5 and 0.25 when
        its channels differ from the network's); kept with the pixels in ``_pixels``."""
        c = pixels.shape[2]
        if c != len(data.normalization.mean):
            mean, std = (0.5,) * c, (0.25,) * c
        else:
            mean, std = data.normalization.mean, data.normalization.std
        x = (pixels.transpose(2, 0, 1)[None] / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
        self._pixels = (pixels, mean, std)
        return x.astype(np.float64)

    def slide_input(self, spec) -> tuple[np.ndarray, str]:
        """A larger image for FC → CONV, scaled as the stepped one: one's own picture fitted to twice the
        input, or a 2×2 mosaic of the stepped test image and the three after it: ((C, 2H, 2W), what it is)."""
        from convviz.data import fit_image
        from convviz.engine.explain_slide import mosaic

        c, h, w = spec.input.chw()
        mean, std = self.pixels[1], self.pixels[2]
        def scale(pixels):
            return (pixels.transpose(2, 0, 1) / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]

        if self.source.currentData() == "file" and self.image_file:
            return scale(fit_image(read_image_file(self.image_file), 2 * h, 2 * w, c)), f"{Path(self.image_file).name} at 2×"
        data = self._dataset()
        first = getattr(self, "_image_index", 0)
        numbers = [(first + n) % len(data.split("test")) for n in range(4)]
        tiles = []
        for n in numbers:
            pixels = data.raw_image("test", n)
            tiles.append(scale(pixels if pixels.shape == (h, w, c) else fit_image(pixels, h, w, c)))
        return mosaic(tiles, 2, 2), f"{data.name} test images {', '.join(map(str, numbers))} as a 2×2 mosaic"

    def set_image_file(self, path: str) -> None:
        """Step the picture (or .npy pixels (H, W, C)) at ``path``, fitted to the network's input (centre crop to
        its aspect, resized, channels set); its label is the class chosen (the first when 'any class')."""
        self.image_file = str(path)
        self.source.blockSignals(True)
        self.source.setCurrentIndex(self.source.findData("file"))
        self.source.blockSignals(False)
        self._fill_classes()
        self.reload()

    def _choose_file(self) -> bool:
        """Ask for a picture (the source's 'Image file…' entry); False if none was chosen."""
        path, _ = QFileDialog.getOpenFileName(self, "Step a picture of your own", "",
                                              "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;Pixels (*.npy);;All files (*)")
        if path:
            self.image_file = path
        return bool(path)

    def _file_image(self, spec):
        from convviz.data import DataError, fit_image

        if not self.image_file:
            raise ValueError("no picture chosen yet: pick 'Image file…' as the source")
        path = Path(self.image_file)
        try:
            if path.suffix.lower() == ".npy":
                pixels = np.load(path, allow_pickle=False)
                pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
                if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
                    raise DataError(f"expected pixels (H, W, C) with C 1, 3 or 4, got shape {pixels.shape}")
                pixels = np.clip(pixels, 0, 255).astype(np.uint8)
            else:
                pixels = read_image_file(path)
            c, h, w = spec.input.chw()
            original = pixels.shape
            pixels = fit_image(pixels, h, w, c)
        except (OSError, DataError) as exc:
            raise ValueError(f"cannot step {path.name}: {exc}") from None
        data = self._dataset()
        label = max(0, self.class_choice.currentIndex() - 1)
        said = "the label as chosen" if self.class_choice.currentIndex() > 0 else "the label assumed (choose the class it shows)"
        text = (f"your picture {path.name} ({original[1]}×{original[0]}), centre-cropped and fitted to {w}×{h}×{c}, "
                f"scaled as the {data.name} images; {said}")
        return self._scaled(pixels, data), label, data.class_names, text

    # -- moving ---------------------------------------------------------------------------------------------
