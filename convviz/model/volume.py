"""A volume of activations: width × height × depth, as the CS231n notes draw it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Volume:
    """W×H×D; the engine's arrays for it are (N, D, H, W)."""

    width: int
    height: int
    depth: int

    def __str__(self) -> str:
        return f"{self.width}×{self.height}×{self.depth}"

    @property
    def elements(self) -> int:
        """W·H·D numbers per image."""
        return self.width * self.height * self.depth

    @property
    def is_flat(self) -> bool:
        """A 1×1×D volume, what an FC layer takes and gives."""
        return self.width == 1 and self.height == 1

    def as_list(self) -> list[int]:
        """[W, H, D], the form used in JSON."""
        return [self.width, self.height, self.depth]

    def chw(self) -> tuple[int, int, int]:
        """(D, H, W): the per-image shape of the engine's NCHW arrays."""
        return (self.depth, self.height, self.width)
