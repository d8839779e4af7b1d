"""The layers below ui never import Qt, so they run in scripts, tests and notebooks."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["convviz.engine", "convviz.model", "convviz.data", "convviz.training", "convviz.commands", "convviz.cli"])
def test_package_imports_without_qt(package):
    code = (
        f"import sys, importlib, pkgutil; import {package} as p\n"
        "for m in pkgutil.walk_packages(getattr(p, '__path__', []), p.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{package} pulled in Qt: {result.stdout}"
