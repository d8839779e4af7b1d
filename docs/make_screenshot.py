"""Make ``docs/screenshot.png`` for the README: the window at first start, in 256 colours.

    python docs/make_screenshot.py [--out docs/other.png] [ARGS FOR main.py …]

e.g. ``--out docs/train-workspace.png --workspace train --size 1600x1000``. Runs
``main.py --screenshot`` (off-screen, throw-away settings), then keeps the 256 most frequent
colours of the picture and maps every other colour to its nearest one, which keeps a window's flat
fills, borders and anti-aliased text clean and the file small (well under 300 kB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshot.png"


def quantize(src: str, dst: str, colours: int = 256) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (QImage needs it for PNG)
    image = QImage(src).convertToFormat(QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.bytesPerLine() * h // 4)
    pixels = pixels.reshape(h, image.bytesPerLine() // 4)[:, :w] & 0xFFFFFF
    unique, inverse, counts = np.unique(pixels.ravel(), return_inverse=True, return_counts=True)
    palette = unique[np.argsort(counts)[::-1][:colours]]

    def rgb(values: np.ndarray) -> np.ndarray:
        return np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=1).astype(np.int32)

    pal_rgb = rgb(palette)
    nearest = np.empty(len(unique), dtype=np.uint8)
    for start in range(0, len(unique), 4096):
        chunk = rgb(unique[start:start + 4096])
        distance = ((chunk[:, None, :] - pal_rgb[None, :, :]) ** 2).sum(axis=2)
        nearest[start:start + 4096] = distance.argmin(axis=1)
    indices = np.ascontiguousarray(nearest[inverse].reshape(h, w))
    indexed = QImage(indices.data, w, h, w, QImage.Format.Format_Indexed8)
    indexed.setColorTable([0xFF000000 | int(c) for c in palette])
    if not indexed.save(dst, "PNG", 0):
        raise OSError(f"could not write {dst}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"the PNG to write (default {OUT.relative_to(ROOT)})")
    args, app_args = parser.parse_known_args(argv)
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.png")
        subprocess.run([sys.executable, str(ROOT / "main.py"), *app_args, "--screenshot", raw], check=True, cwd=ROOT)
        quantize(raw, str(out))
    print(f"{out}: {out.stat().st_size / 1000:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
