"""A one-line text progress bar for the command line.

On a terminal the line is redrawn in place (``\\r``); when the output is a file or a pipe, a line is
written at each tenth of the way instead, so logs stay short.
"""

from __future__ import annotations

import sys
from typing import TextIO

BAR_WIDTH = 30


class ProgressBar:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last_tenth = -1
        self._drawn = False

    def update(self, fraction: float | None, text: str) -> None:
        """Show ``fraction`` (0–1, or None when the end is unknown) and a short ``text``."""
        if fraction is None:
            line = text
        else:
            fraction = min(max(fraction, 0.0), 1.0)
            filled = round(fraction * BAR_WIDTH)
            line = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {fraction:4.0%}  {text}"
        if self.interactive:
            self.stream.write(f"\r{line}\x1b[K")
            self._drawn = True
        else:
            tenth = -1 if fraction is None else int(fraction * 10)
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line, so that what is printed next starts on a line of its own."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
