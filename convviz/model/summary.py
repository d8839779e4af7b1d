"""The torchinfo-style summary of a network: rows, totals, memory, as text or as JSON-ready data.

The builder's summary dock and ``convviz summary`` both read :func:`summary_rows` and
:func:`summary_dict`, so the two always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from convviz.model.analysis import BYTES_PER_NUMBER, LayerReport, NetworkReport
from convviz.model.fine_tune import parameter_layers, trainable_counts
from convviz.model.receptive import ReceptiveField, receptive_fields

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def format_bytes(n: int) -> str:
    """Bytes as torchinfo prints them: 1 MB = 10⁶ bytes (``4.19 MB``, ``1.23 GB``)."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def format_count(n: int) -> str:
    """``15.47 G``, ``3.92 M``, ``22.47 k``: a large count at a glance."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def parse_bytes(text: str) -> int:
    """``4GB`` → 4·10⁹, ``512MiB`` → 512·2²⁰, ``1000`` → 1000 bytes; ValueError with the accepted forms."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise ValueError(f"a memory size looks like 4GB, 512MB or 2GiB, got {text!r}")
    value = float(match.group(1)) * _UNITS[unit]
    if value < 1:
        raise ValueError(f"a memory size must be at least 1 byte, got {text!r}")
    return int(value)


@dataclass
class SummaryRow:
    """One line of the summary table; ``depth`` indents the inner layers of blocks."""

    name: str
    kind: str  # the layer's JSON type
    brief: str
    depth: int
    output: str  # "32×32×16", or "—" when unknown
    params: int
    macs: int
    activation_bytes: int  # the layer's output for the whole batch
    status: str  # ok, invalid, unresolved
    problem: str
    report: LayerReport
    receptive_field: ReceptiveField | None = None  # input pixels one output cell sees, and the jump
    param_share: float = 0.0  # of the network's parameters (top-level rows add up to 1)
    activation_share: float = 0.0  # of the forward activation memory (top-level rows add up to 1)


def summary_rows(report: NetworkReport, batch: int = 1) -> list[SummaryRow]:
    """Every layer in order, inner layers of blocks right after their block."""
    fields = receptive_fields(report)
    total_params, total_activations = max(report.total_params, 1), max(report.activations, 1)
    return [
        SummaryRow(
            name=r.name,
            kind=r.layer.TYPE,
            brief=r.layer.brief(),
            depth=r.depth,
            output=str(r.output) if r.output is not None else "—",
            params=r.params,
            macs=r.macs,
            activation_bytes=r.activations * batch * BYTES_PER_NUMBER,
            status=r.status,
            problem=r.error.message if r.error is not None else "",
            report=r,
            receptive_field=fields.get(r.name),
            param_share=r.params / total_params,
            activation_share=r.activations / total_activations,
        )
        for r in report.walk()
    ]


def summary_dict(report: NetworkReport, batch: int = 1, optimizer: str = "sgd", budget: int | None = None) -> dict:
    """The summary as JSON-ready data (what ``convviz summary --json`` prints)."""
    memory = report.memory(batch, optimizer)
    fields = receptive_fields(report)

    def layer(r: LayerReport) -> dict:
        item = {
            "name": r.name,
            "type": r.layer.TYPE,
            "description": r.layer.brief(),
            "input_shape": r.input.as_list() if r.input is not None else None,
            "output_shape": r.output.as_list() if r.output is not None else None,
            "params": r.params,
            "macs": r.macs,
            "activation_bytes": r.activations * batch * BYTES_PER_NUMBER,
            "saved_bytes": r.saved * batch * BYTES_PER_NUMBER,
            "status": r.status,
        }
        field = fields.get(r.name)
        if field is not None:
            item["receptive_field"] = "whole input" if field.whole else {
                "size": [field.size_h, field.size_w], "jump": [field.jump_h, field.jump_w]}
        if r.error is not None:
            item["problem"] = r.error.message
        if r.children:
            item["inner"] = {label: [layer(c) for c in stack] for label, stack in r.children}
        return item

    data = {
        "name": report.spec.name,
        "input_shape": report.spec.input.as_list(),
        "output_shape": report.output.as_list() if report.output is not None else None,
        "valid": report.valid,
        "layers": [layer(r) for r in report.layers],
        "total_params": report.total_params,
        "trainable_params": trainable_counts(report)[0],
        "frozen_params": trainable_counts(report)[1],
        "total_macs": report.total_macs,
        "batch": batch,
        "optimizer": optimizer,
        "memory_bytes": {label: value for label, value in memory.categories()},
        "training_bytes": memory.training,
        "inference_bytes": memory.inference,
        "problems": [f"{r.name}: {r.error.message}" for r in report.problems],
    }
    if budget is not None:
        data["memory_budget_bytes"] = budget
        data["fits_budget"] = memory.training <= budget
        data["max_batch"] = report.max_batch(budget, optimizer)
    return data


def summary_text(report: NetworkReport, batch: int = 1, optimizer: str = "sgd", budget: int | None = None) -> str:
    """The table, totals and memory as plain text, like torchinfo's ``summary``."""
    rows = summary_rows(report, batch)
    headers = ("Layer (type)", "Output shape", "Param #", "Mult-adds", f"Memory (batch {batch})", "RF (jump)")
    cells = [
        (
            "  " * row.depth + f"{row.name} ({row.brief})" + ("  ✗" if row.status == "invalid" and row.problem else ""),
            row.output,
            f"{row.params:,}" if row.status != "unresolved" else "—",
            f"{row.macs:,}" if row.status != "unresolved" else "—",
            format_bytes(row.activation_bytes) if row.status == "ok" else "—",
            row.receptive_field.short() if row.receptive_field is not None else "—",
        )
        for row in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values) -> str:
        first = values[0].ljust(widths[0])
        return "  ".join([first] + [v.rjust(w) for v, w in zip(values[1:], widths[1:])])

    rule = "=" * len(line(headers))
    out = [rule, f"{report.spec.name or 'Network'}: input {report.spec.input}", rule, line(headers), rule]
    out += [line(c) for c in cells]
    memory = report.memory(batch, optimizer)
    out += [
        rule,
        f"Total params: {report.total_params:,}",
        *_frozen_lines(report),
        f"Non-trainable buffers: {report.buffers:,}",
        f"Total mult-adds per image: {report.total_macs:,} ({format_count(report.total_macs)})",
        rule,
        f"Memory of a training step, batch {batch}, float32, optimizer {optimizer}:",
    ]
    out += [f"  {label + ':':<32}{format_bytes(value):>12}" for label, value in memory.categories()]
    out.append(f"  {'training total:':<32}{format_bytes(memory.training):>12}")
    out.append(f"  {'inference (forward only):':<32}{format_bytes(memory.inference):>12}")
    if budget is not None:
        largest = report.max_batch(budget, optimizer)
        verdict = "fits" if memory.training <= budget else "does NOT fit"
        out.append(f"Memory budget {format_bytes(budget)}: batch {batch} {verdict}; largest batch that fits: {largest:,}")
    out.append(rule)
    if report.problems:
        out.append(f"{len(report.problems)} problem(s):")
        out += [f"  {r.name}: {r.error.message}" for r in report.problems]
    return "\n".join(out)


def _frozen_lines(report: NetworkReport) -> list[str]:
    """``Trainable params: …`` and ``Frozen params: …`` when a layer is frozen (fine-tuning), else none."""
    trainable, frozen = trainable_counts(report)
    if not frozen:
        return []
    layers = sum(1 for r in parameter_layers(report) if not r.layer.trainable)
    return [f"Trainable params: {trainable:,}", f"Frozen params: {frozen:,} ({layers} frozen layer{'s' if layers != 1 else ''})"]
