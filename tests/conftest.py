"""Test-wide settings: Qt runs headless, and tests never read the user's settings."""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SHARED_CIFAR10 = ROOT.parent / "shared" / "cifar10" / "cifar-10-python.tar.gz"
