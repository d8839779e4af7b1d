"""Where the shared CIFAR-10 archive is for development and tests (see ../shared/cifar10/README.md)."""

from pathlib import Path

SHARED_CIFAR10 = Path(__file__).resolve().parents[3].parent / "shared" / "cifar10" / "cifar-10-python.tar.gz"
