"""Words every view shares: a count with its noun in the right number."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``counted(1, "layer")`` → ``1 layer``; ``counted(12_000, "layer")`` → ``12,000 layers``."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
