"""Take a ConvViz network elsewhere and bring weights back: PyTorch, ONNX, safetensors.

    from convviz.export import load_source, export_pytorch
    source = load_source("preset:resnet20", seed=0)      # or a checkpoint folder: its trained weights
    export_pytorch(source, "out/resnet20")                 # model.py, weights.safetensors, network.json, train.py

- ``convviz.export.source``: ``load_source`` (network file, preset or checkpoint → spec, weights, config)
- ``convviz.export.pytorch``: ``model_source(spec)``, the text of a readable ``torch.nn.Module``
- ``convviz.export.train_script``: ``train_source(spec, config)``, the text of ``train.py``
- ``convviz.export.onnx_graph``: ``onnx_model(spec, weights)``, the ONNX graph (the ``onnx`` package)
- ``convviz.export.safetensors_io``: weights files by ConvViz's stable names

Nothing here imports PyTorch: exporting writes text, safetensors and ONNX files.
"""

from __future__ import annotations

import os
from pathlib import Path

from convviz.export.source import ExportError, Source, checkpoint_source, load_source

__all__ = ["ExportError", "Source", "load_source", "checkpoint_source", "export_pytorch", "export_onnx"]


def export_pytorch(source: Source, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``model.py``, ``weights.safetensors``, ``network.json`` and ``train.py`` into ``out_dir``
    (created if needed); returns the files written."""
    from convviz.atomic import write_text_atomic
    from convviz.export.pytorch import model_source
    from convviz.export.safetensors_io import write_weights
    from convviz.export.train_script import train_source
    from convviz.model import dumps

    text = model_source(source.spec, source.origin)  # refuses a network it cannot write before any file is
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "model.py", out / "weights.safetensors", out / "network.json"]
    write_text_atomic(files[0], text)
    write_weights(files[1], source.weights, {"format": "convviz-weights", "network": source.spec.name,
                                             "origin": source.origin})
    write_text_atomic(files[2], dumps(source.spec))
    files.append(out / "train.py")
    write_text_atomic(files[3], train_source(source.spec, source.config, source.origin))
    return files


def export_onnx(source: Source, path: str | os.PathLike) -> Path:
    """Write the ONNX graph of ``source`` with its weights to ``path`` (see ``convviz.export.onnx_graph``)."""
    from convviz.atomic import write_bytes_atomic
    from convviz.export.onnx_graph import onnx_model

    model = onnx_model(source.spec, source.weights, source.origin)
    path = Path(path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, model.SerializeToString())
    return path
