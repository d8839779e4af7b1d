"""Exporting needs no PyTorch (and no Qt): with `import torch` made to fail, the command still
writes model.py, weights.safetensors, train.py and an ONNX file, and a .pth import says what it needs."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("safetensors", reason="safetensors is not installed: pip install 'convviz[export]'")
pytest.importorskip("onnx", reason="onnx is not installed: pip install 'convviz[export]'")

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
sys.modules["torch"] = None  # `import torch` raises ImportError
from convviz.cli import main
out = sys.argv[1]
assert main(["export", "preset:resnet20", "--to", "pytorch", out + "/pt"]) == 0
assert main(["export", "preset:resnet20", "--to", "onnx", out + "/net.onnx"]) == 0
assert main(["import-weights", "preset:resnet20", out + "/pt/weights.safetensors", "--out", out + "/back.safetensors"]) == 0
open(out + "/w.pth", "wb").write(b"not read")
assert main(["import-weights", "preset:resnet20", out + "/w.pth", "--out", out + "/x"]) == 2
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "PySide6", "shiboken6", "pyqtgraph") and sys.modules[m])
print("imported:", ",".join(bad))
"""


def test_export_and_safetensors_import_run_without_torch_or_qt(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "imported: \n" in result.stdout
    assert "reading w.pth needs PyTorch (pip install 'convviz[torch]')" in result.stderr
    assert sorted(p.name for p in (tmp_path / "pt").iterdir()) == ["model.py", "network.json", "train.py", "weights.safetensors"]
    assert (tmp_path / "net.onnx").stat().st_size > 1_000_000
