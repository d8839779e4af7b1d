"""Network files: JSON with a format name and version, validated on load.

    {"format": "convviz-network", "version": 1, "name": "…", "description": "…",
     "input": {"width": 32, "height": 32, "depth": 3},
     "layers": [{"type": "conv", "filters": 16, "size": 5, "pad": 2}, {"type": "relu"}, …]}

Fields left out take their defaults; per-axis values are one number or [along H, along W];
blocks nest: ``{"type": "residual", "body": [...], "shortcut": [...]}``,
``{"type": "branch", "branches": [[...], [...]]}``.

Loading never raises a bare traceback: every problem (unknown layer type, missing field, wrong type,
absurd value) is collected with its path in the file, e.g. ``layers[3].stride: …``, and raised
together as :class:`SpecFormatError`. A file that loads may still describe an invalid network (a
stride that does not divide): that is for :func:`convviz.model.analyze` to report, so the user can
open it and fix it.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from pathlib import Path

from convviz.atomic import write_text_atomic
from convviz.model.layers import LAYER_TYPES, LIMITS, Layer
from convviz.model.network import NetworkSpec
from convviz.model.volume import Volume

FORMAT = "convviz-network"
VERSION = 1
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_LAYERS = 10_000
MAX_NESTING = 8
MAX_NAME = 200

class SpecFormatError(ValueError):
    """A network file that cannot be read; ``problems`` lists each as ``path: message``."""

    def __init__(self, problems: list[str], source: str = ""):
        self.problems = problems
        self.source = source
        shown = problems[:30] + ([f"… and {len(problems) - 30} more"] if len(problems) > 30 else [])
        head = f"{source} is not a valid network file" if source else "not a valid network file"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in shown))


# -- writing -----------------------------------------------------------------------------------------


def spec_to_dict(spec: NetworkSpec) -> dict:
    data = {"format": FORMAT, "version": VERSION}
    if spec.name:
        data["name"] = spec.name
    if spec.description:
        data["description"] = spec.description
    data["input"] = {"width": spec.input.width, "height": spec.input.height, "depth": spec.input.depth}
    data["layers"] = [layer_to_dict(layer) for layer in spec.layers]
    return data


def layer_to_dict(layer: Layer) -> dict:
    """The layer's type, its required fields and every field that differs from its default."""
    data = {"type": layer.TYPE}
    required = layer.required_fields()
    fields = dataclasses.fields(layer)
    for f in sorted(fields, key=lambda f: f.name == "trainable"):  # the train switch last
        value = getattr(layer, f.name)
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if f.name not in required and value == default:
            continue
        kind = f.metadata.get("kind")
        if kind == "layers":
            value = [layer_to_dict(inner) for inner in value]
        elif kind == "branches":
            value = [[layer_to_dict(inner) for inner in stack] for stack in value]
        elif isinstance(value, tuple):
            value = list(value)
        data[f.name] = value
    return data


def dumps(spec: NetworkSpec) -> str:
    """The file text: one line per plain layer, blocks spread over lines with their inner stacks."""
    data = spec_to_dict(spec)
    lines = ["{"]
    for key, value in data.items():
        if key != "layers":
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    lines.append(f'  "layers": {_format_stack(data["layers"], 1)}')
    return "\n".join(lines) + "\n}\n"


def _format_stack(layers: list[dict], level: int) -> str:
    if not layers:
        return "[]"
    pad = "  " * (level + 1)
    return "[\n" + ",\n".join(pad + _format_layer(layer, level + 1) for layer in layers) + "\n" + "  " * level + "]"


def _format_layer(layer: dict, level: int) -> str:
    nested = {k: v for k, v in layer.items() if k in ("body", "shortcut", "branches")}
    if not nested:
        return json.dumps(layer, ensure_ascii=False)
    pad = "  " * (level + 1)
    parts = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in layer.items() if k not in nested]
    for key, value in nested.items():
        if key == "branches":
            inner = ",\n".join(pad + "  " + _format_stack(stack, level + 2) for stack in value)
            parts.append(f'"branches": [\n{inner}\n{pad}]')
        else:
            parts.append(f"{json.dumps(key)}: {_format_stack(value, level + 1)}")
    return "{\n" + ",\n".join(pad + part for part in parts) + "\n" + "  " * level + "}"


def save_spec(spec: NetworkSpec, path: str | os.PathLike) -> None:
    """Write ``spec`` to ``path`` atomically (the old file survives a failed write)."""
    write_text_atomic(path, dumps(spec))


# -- reading -------------------------------------------------------------------------------------------


def load_spec(path: str | os.PathLike) -> NetworkSpec:
    """Read a network file; raise :class:`SpecFormatError` (with every problem) if it is not one."""
    path = Path(path)
    source = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecFormatError([f"the file is {size:,} bytes; network files are at most {MAX_FILE_BYTES:,}"], source)
        raw = path.read_bytes()
    except SpecFormatError:
        raise
    except OSError as exc:
        raise SpecFormatError([f"cannot read the file: {exc.strerror or exc}"], source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecFormatError([f"not UTF-8 text (byte {exc.start})"], source) from None
    return loads(text, source)


def loads(text: str, source: str = "") -> NetworkSpec:
    """Parse and validate a network file's text."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SpecFormatError([f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"], source) from None
    except ValueError as exc:
        raise SpecFormatError([str(exc)], source) from None
    except RecursionError:
        raise SpecFormatError(["not valid JSON: nested too deeply"], source) from None
    return spec_from_dict(data, source)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number a network file may hold")


def spec_from_dict(data, source: str = "") -> NetworkSpec:
    reader = _Reader()
    spec = reader.network(data)
    if reader.problems:
        raise SpecFormatError(reader.problems, source)
    return spec


class _Reader:
    """Builds a spec from parsed JSON, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.count = 0

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    def network(self, data) -> NetworkSpec:
        if not isinstance(data, dict):
            self.problem("", f"the file must hold a JSON object, got {_kind(data)}")
            return NetworkSpec()
        fmt = data.get("format")
        if fmt != FORMAT:
            got = "nothing" if fmt is None else repr(fmt)
            self.problem("format", f"expected {FORMAT!r}, got {got} (is this a ConvViz network file?)")
            return NetworkSpec()
        version = data.get("version")
        if not _is_int(version) or version < 1:
            self.problem("version", f"must be a positive whole number, got {version!r}")
        elif version > VERSION:
            self.problem("version", f"the file is version {version}, written by a newer ConvViz; this one reads version {VERSION}")
        known = {"format", "version", "name", "description", "input", "layers"}
        for key in data:
            if key not in known:
                self.problem(key, _unknown_field(key, known, "a network file"))
        name = self.text(data.get("name", ""), "name")
        description = self.text(data.get("description", ""), "description", limit=20_000)
        volume = self.input_volume(data.get("input"), "input")
        if "layers" not in data:
            self.problem("layers", "missing: a network file lists its layers")
        layers = self.stack(data.get("layers", []), "layers", depth=0)
        return NetworkSpec(input=volume, layers=layers, name=name, description=description)

    def text(self, value, path: str, limit: int = MAX_NAME) -> str:
        if not isinstance(value, str):
            self.problem(path, f"must be text, got {_kind(value)}")
            return ""
        if len(value) > limit:
            self.problem(path, f"must be at most {limit:,} characters, got {len(value):,}")
            return value[:limit]
        return value

    def input_volume(self, value, path: str) -> Volume:
        if value is None:
            self.problem(path, 'missing: give the input volume as {"width": W, "height": H, "depth": D}')
            return Volume(32, 32, 3)
        if isinstance(value, list) and len(value) == 3:
            value = dict(zip(("width", "height", "depth"), value))
        if not isinstance(value, dict):
            self.problem(path, f'must be {{"width": W, "height": H, "depth": D}}, got {_kind(value)}')
            return Volume(32, 32, 3)
        numbers = []
        for key, limit in (("width", LIMITS["extent"]), ("height", LIMITS["extent"]), ("depth", LIMITS["depth"])):
            x = value.get(key)
            if x is None:
                self.problem(f"{path}.{key}", "missing")
                numbers.append(1)
            elif not _is_int(x) or x < 1:
                self.problem(f"{path}.{key}", f"must be a positive whole number, got {_show(x)}")
                numbers.append(1)
            elif x > limit:
                self.problem(f"{path}.{key}", f"must be at most {limit:,}, got {x:,}")
                numbers.append(1)
            else:
                numbers.append(x)
        for key in value:
            if key not in ("width", "height", "depth"):
                self.problem(f"{path}.{key}", _unknown_field(key, ("width", "height", "depth"), "the input"))
        return Volume(*numbers)

    def stack(self, value, path: str, depth: int) -> list[Layer]:
        if not isinstance(value, list):
            self.problem(path, f"must be a list of layers, got {_kind(value)}")
            return []
        if depth > MAX_NESTING:
            self.problem(path, f"blocks are nested more than {MAX_NESTING} deep")
            return []
        layers = []
        for i, item in enumerate(value):
            self.count += 1
            if self.count > MAX_LAYERS:
                self.problem(path, f"more than {MAX_LAYERS:,} layers in the file")
                return layers
            layer = self.layer(item, f"{path}[{i}]", depth)
            if layer is not None:
                layers.append(layer)
        return layers

    def layer(self, item, path: str, depth: int) -> Layer | None:
        if not isinstance(item, dict):
            self.problem(path, f'must be an object like {{"type": "conv", …}}, got {_kind(item)}')
            return None
        kind = item.get("type")
        if kind is None:
            self.problem(f"{path}.type", f"missing: one of {', '.join(LAYER_TYPES)}")
            return None
        if kind not in LAYER_TYPES:
            hint = difflib.get_close_matches(str(kind), list(LAYER_TYPES), n=1)
            also = f" (did you mean {hint[0]!r}?)" if hint else ""
            self.problem(f"{path}.type", f"unknown layer type {kind!r}{also}; known types: {', '.join(LAYER_TYPES)}")
            return None
        cls = LAYER_TYPES[kind]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in item.items():
            if key == "type":
                continue
            if key not in fields:
                self.problem(f"{path}.{key}", _unknown_field(key, fields, f"a {kind} layer"))
                continue
            ok, converted = self.value(value, fields[key], f"{path}.{key}", depth)
            if ok:
                values[key] = converted
        for key in cls.required_fields():
            if key not in item:
                self.problem(f"{path}.{key}", f"missing: a {kind} layer needs {fields[key].metadata['doc']}")
        try:
            layer = cls(**values)
        except TypeError as exc:  # pragma: no cover - fields were checked above
            self.problem(path, str(exc))
            return None
        for key, requirement in layer.field_problems():
            if key in values:
                self.problem(f"{path}.{key}", f"{requirement}, got {_show(item[key])}")
        return layer

    def value(self, value, f: dataclasses.Field, path: str, depth: int):
        """(ok, converted value) for one field, by its kind."""
        kind = f.metadata.get("kind")
        if kind == "int":
            if not _is_int(value):
                self.problem(path, f"must be a whole number, got {_show(value)}")
                return False, None
            return True, value
        if kind == "pair":
            if _is_int(value):
                return True, value
            if isinstance(value, list) and len(value) == 2 and all(_is_int(x) for x in value):
                return True, (value[0], value[1])
            self.problem(path, f"must be a whole number or [along H, along W], got {_show(value)}")
            return False, None
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                self.problem(path, f"must be a number, got {_show(value)}")
                return False, None
            return True, float(value)
        if kind == "bool":
            if not isinstance(value, bool):
                self.problem(path, f"must be true or false, got {_show(value)}")
                return False, None
            return True, value
        if kind == "choice":
            if value not in f.metadata["choices"]:
                self.problem(path, f"must be one of {', '.join(f.metadata['choices'])}, got {_show(value)}")
                return False, None
            return True, value
        if kind == "str":
            return True, self.text(value, path)
        if kind == "layers":
            return True, self.stack(value, path, depth + 1)
        if kind == "branches":
            if not isinstance(value, list) or not value:
                self.problem(path, f"must be a non-empty list of layer lists, got {_show(value)}")
                return False, None
            return True, [self.stack(stack, f"{path}[{i}]", depth + 1) for i, stack in enumerate(value)]
        raise AssertionError(f"unhandled field kind {kind}")  # pragma: no cover


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _kind(x) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(type(x), "a number")


def _show(x) -> str:
    if isinstance(x, bool) or x is None:
        return json.dumps(x)
    if _is_int(x) and abs(x) >= 10_000:
        return f"{x:,}"
    text = json.dumps(x) if isinstance(x, (str, list, dict, float, int)) else repr(x)
    return text if len(text) <= 60 else text[:57] + "…"


def _unknown_field(key: str, known, what: str) -> str:
    hint = difflib.get_close_matches(key, list(known), n=1)
    also = f"did you mean {hint[0]!r}? " if hint else ""
    return f"unknown field for {what}; {also}fields are: {', '.join(k for k in known if k != 'type')}"
