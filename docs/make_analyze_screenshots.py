"""Remake the README's pictures of the Analyze workspace from a trained run.

    python docs/make_analyze_screenshots.py [--checkpoint /tmp/cifar_run/ckpt] [--data ../shared]
                                            [--size 1280x800] [--out docs]

Opens the window off-screen at ``--size`` with the run's checkpoint (copied first) and CIFAR-10 from
the data folder ``--data`` (it holds ``cifar10/``), evaluates the test set and saves:

- ``analyze.png``: the confusion matrix, the cats taken for dogs, and where the network looked;
- ``analyze-looks.png``: saliency and Grad-CAM of a correctly classified horse, large;
- ``analyze-filters.png``: each conv1 filter's top-9 test crops;
- ``analyze-own.png``: a picture of one's own (a CIFAR-10 *training* image enlarged to 128×96 and saved
  as a PNG, so it is no test image) fitted to 32×32 and classified;
- ``analyze-compare.png``: the case studies beside the network.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trained_window import screenshot_arguments, trained_window  # noqa: E402  (docs/ is on sys.path)


def main(argv: list[str]) -> int:
    args, width, height, out = screenshot_arguments(__doc__.splitlines()[0], argv)

    import numpy as np
    from PySide6.QtGui import QImage

    with trained_window(args.checkpoint, args.data, width, height) as (window, settle, tmp):
        page = window.analyzer
        page.set_source("cifar10")
        window.workspaces.switch("analyze")
        settle(lambda: page.result is not None and not page.evaluating and not page.explaining)
        names = page.result.class_names
        right = page.splitter.widget(1)

        def shot(name: str) -> None:
            settle(lambda: not page.explaining and not page.finding_patches)
            if page.images.currentItem() is not None:
                page.images.scrollToItem(page.images.currentItem())
                settle()
            path = out / name
            window.grab().save(str(path))
            print(f"wrote {path}")

        cat, dog, horse = (names.index(n) for n in ("cat", "dog", "horse"))
        page.show_cell(cat, dog)
        shot("analyze.png")

        page.show_cell(horse, horse)
        page.images.setCurrentRow(2)
        default = page.splitter.sizes()
        page.splitter.setSizes([380, 10_000])  # the maps large
        right.setSizes([130, 10_000])
        shot("analyze-looks.png")

        page.splitter.setSizes(default)
        page.show_filters("conv1")
        right.setSizes([0, 10_000])
        shot("analyze-filters.png")

        data = page.dataset
        train = data.split("train")
        k = int(np.flatnonzero(train.labels == names.index("ship"))[3])
        pixels = np.ascontiguousarray(np.repeat(np.repeat(data.raw_image("train", k), 4, axis=0), 4, axis=1)[16:112])
        picture = os.path.join(tmp, "my-ship.png")
        QImage(pixels.data, pixels.shape[1], pixels.shape[0], 3 * pixels.shape[1], QImage.Format.Format_RGB888).save(picture)
        page.tabs.setCurrentIndex(0)
        right.setSizes([160, 10_000])
        page.open_image(picture)
        shot("analyze-own.png")

        page.pages.setCurrentIndex(1)
        shot("analyze-compare.png")
        page.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
