"""Drilling down: a matrix cell's images (or the most confident mistakes) listed with their labels and
top-3 probabilities, and the one selected (part of :class:`AnalyzeWorkspaceView`)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QListWidgetItem

from convviz.ui.analysis.filters import image_pixmap

LIST_LIMIT = 200  # images listed at most (the rest are counted in the heading)
THUMB = 40


class DrillDownPart:
    """The Analyze page's image list: a cell's images or the mistakes, and the image selected."""

    def show_cell(self, true: int, predicted: int) -> None:
        """List the images of class ``true`` predicted as ``predicted``, most confident first."""
        if self.result is None:
            return
        self.listing = ("cell", int(true), int(predicted))
        names = self.result.class_names
        indices = self.result.cell(true, predicted)
        what = f"{names[true]} classified right" if true == predicted else f"{names[true]} predicted as {names[predicted]}"
        self._fill(indices, f"{what}: {len(indices):,} image{'s' if len(indices) != 1 else ''}, most confident first")
        self.matrix.setCurrentIndex(self.confusion_model.index(true, predicted))

    def show_mistakes(self) -> None:
        """List every misclassified image, the most confident mistake first."""
        if self.result is None:
            return
        self.listing = ("mistakes",)
        indices = self.result.mistakes()
        self._fill(indices, f"Most confident mistakes: {len(indices):,} misclassified images, most confident first")

    def listed_images(self) -> list[int]:
        """The test images listed, in order."""
        return [self.images.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.images.count())]

    def select_image(self, index: int) -> None:
        """Explain test image ``index`` (listed or not)."""
        self.own_image = None
        for row in range(self.images.count()):
            if self.images.item(row).data(Qt.ItemDataRole.UserRole) == index:
                if row == self.images.currentRow():
                    self._explain()  # explained again (with the same scale's legend as it is now)
                else:
                    self.images.setCurrentRow(row)
                return
        self.selected_image = int(index)
        self._explain()

    def _fill(self, indices: np.ndarray, heading: str) -> None:
        result, data = self.result, self.dataset
        names = result.class_names
        shown = indices[:LIST_LIMIT]
        if len(indices) > LIST_LIMIT:
            heading += f" (the first {LIST_LIMIT} listed)"
        self.list_heading.setText(heading)
        keep = self.selected_image
        self.images.blockSignals(True)
        self.images.clear()
        for i in shown:
            i = int(i)
            top = "  ·  ".join(f"{names[k]} {p:.0%}" for k, p in zip(result.top_classes[i], result.top_probs[i]))
            true, pred = names[result.labels[i]], names[result.predicted[i]]
            verdict = "right" if true == pred else "wrong"
            item = QListWidgetItem(QIcon(image_pixmap(data.raw_image("test", i), THUMB)),
                                   f"test image {i}: true {true}, predicted {pred} ({verdict})\n{top}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(f"test image {i}\ntrue class: {true}\npredicted: {pred}\ntop 3: {top}")
            self.images.addItem(item)
        self.images.blockSignals(False)
        rows = [r for r in range(self.images.count()) if self.images.item(r).data(Qt.ItemDataRole.UserRole) == keep]
        if rows:
            self.images.setCurrentRow(rows[0])
        elif self.images.count():
            self.images.setCurrentRow(0)
        else:
            self.selected_image = None
            self.looks.clear("No image in this cell.")
            self._enable()

    def _image_clicked(self, item, _previous=None) -> None:
        if item is None:
            return
        self.selected_image, self.own_image = int(item.data(Qt.ItemDataRole.UserRole)), None
        self._enable()
        self._explain()

    def step_selected(self) -> None:
        """The selected test image (or the user's picture) to the Step workspace (``open_in_step`` or
        ``open_file_in_step``)."""
        if self.result is None:
            return
        if self.selected_image is not None:
            self.open_in_step.emit(self.source_of_result, self.selected_image)
        elif self.own_image is not None:
            self.open_file_in_step.emit(self.own_image.path)

    def probe_selected(self) -> None:
        """The selected image as a probe of the Train workspace (``open_as_probe``): a test image as
        stored with its true class, or the user's picture as fitted to the input, with no label."""
        if self.result is None:
            return
        if self.selected_image is not None:
            i = self.selected_image
            self.open_as_probe.emit(self.dataset.raw_image("test", i).copy(), int(self.result.labels[i]),
                                    f"{self.dataset.name} test image {i}")
        elif self.own_image is not None:
            self.open_as_probe.emit(self.own_image.pixels.copy(), None, self.own_image.name)

    def _image_menu(self, pos) -> None:
        """Right-click on a listed image: step it, or use it as a probe in Train."""
        from PySide6.QtWidgets import QMenu

        item = self.images.itemAt(pos)
        if item is None:
            return
        self.images.setCurrentItem(item)
        menu = QMenu(self.images)
        menu.addAction("Open in Step", self.step_selected)
        menu.addAction("Use as probe in Train", self.probe_selected)
        menu.popup(self.images.viewport().mapToGlobal(pos))
