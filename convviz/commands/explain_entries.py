"""What ``convviz explain`` reports for each explanation, as JSON-ready dicts (and their lines of text).

Ledgers (a Conv or FC output, a Conv or FC input gradient, a Conv weight gradient, a max pool's routing)
keep the documented shape: ``terms`` (each ``{"input" | "upstream", "weight" | "upstream", "product"}``
with the ``index`` and ``value`` of every factor), ``bias`` where there is one, ``sum``, ``total``,
``engine_value`` and ``matches``. The other explanations name their own numbers:

- pooling forward: ``operation`` (max or avg), ``window`` (every input cell), ``winner``;
- average-pool input gradient: ``shares`` (each window's dY/(F·F) that reaches the cell);
- batch norm: ``x``, ``mean``, ``var``, ``eps``, ``xhat``, ``gamma``, ``beta``;
- LRN: ``neighbourhood`` (the slices j and their a_j), ``sum_of_squares``, ``s``, ``alpha``, ``beta``, ``k``, ``n``;
- activation: ``function``, ``x``, ``working``, ``changed``;
- residual or branch block: ``paths`` (each path's layer, cell and value);
- the update: ``parameter``, ``index``, ``method``, ``lr``, ``optimizer_state``, ``steps`` (each term's
  ``label`` and ``value``), ``weight``, ``step``, ``result``, ``ratio``;
- the gradient check: ``target``, ``index``, ``analytic``, ``numeric``, ``rel_error``, ``h``.

Every entry has ``kind``, ``cell``, ``engine_value`` and ``matches``; those without a ledger have ``text``:
their lines of the text output.
"""

from __future__ import annotations

import numpy as np

RULE = "first maximum in row-major order"


def factor(kind, index, value, padding=False) -> dict:
    out = {"index": [int(i) for i in index], "value": float(value) + 0.0}  # + 0.0: a padding −0 is 0
    if padding:
        out["padding" if kind == "input" else "zero"] = True
    return out


def ledger(kind, cell, terms, total, engine, matches, bias=None) -> dict:
    rows = []
    for t in terms:
        rows.append({t.left[0]: factor(t.left[0], t.left[1], t.left[2], t.padding),
                     t.right[0]: factor(t.right[0], t.right[1], t.right[2]),
                     "product": float(t.product) + 0.0})
    entry = {"kind": kind, "cell": list(cell), "terms": rows}
    if bias is not None:
        entry["bias"] = float(bias)
    entry.update({"sum": float(total), "total": float(total) + float(bias or 0.0), "engine_value": float(engine),
                  "matches": bool(matches)})
    return entry


def pool(p) -> dict:
    cells = [{"input": factor("input", (p.c, int(r), int(col)), 0.0 if pad else v, pad)}
             for (r, col), v, pad in zip(
                 ((r, col) for r in p.rows for col in p.cols), p.window.ravel(), p.padding.ravel())]
    entry = {"kind": "forward", "cell": [p.c, p.y, p.x], "operation": p.kind, "window": cells,
             "sum": float(p.result), "total": float(p.result), "engine_value": p.engine, "matches": bool(p.matches)}
    if p.kind == "max":
        entry["winner"] = {"index": [p.c, *p.winner_cell], "ties": p.ties, "rule": RULE}
    entry["terms"] = []
    return entry


def max_pool_grad(route, dx, cell) -> dict:
    """dX[c, i, j] of a max pool: the upstream gradients of the windows this cell won."""
    c, i, j = cell
    rows = [{"upstream": factor("upstream", (c, y, x), route.upstream[c, y, x]), "product": float(route.upstream[c, y, x])}
            for y, x in zip(*np.nonzero((route.winners[c, ..., 0] == i) & (route.winners[c, ..., 1] == j)))]
    total = float(sum(r["product"] for r in rows))
    return {"kind": "input_grad", "cell": [c, i, j], "terms": rows, "sum": total, "total": total,
            "engine_value": float(dx[0, c, i, j]), "matches": bool(route.matches and total == dx[0, c, i, j]),
            "rule": f"each window's gradient goes to its {RULE}; this cell won the windows listed"}


def avg_pool_grad(sharing, layer, cell) -> dict:
    """dX[c, i, j] of an average pool: the share dY/(F·F) of every window that covers the cell."""
    geo = layer.geometry
    c, i, j = cell
    (sh, sw), (dh, dw), ((top, _), (left, _)) = geo.stride, geo.dilation, geo.pad
    shares = []
    for y, x in np.ndindex(*sharing.share.shape[1:]):
        for p, q in np.ndindex(geo.taps_h, geo.taps_w):
            if y * sh + p * dh - top == i and x * sw + q * dw - left == j:
                shares.append({"upstream": factor("upstream", (c, y, x), sharing.share[c, y, x] * geo.taps_h * geo.taps_w),
                               "share": float(sharing.share[c, y, x])})
    total, engine = float(sharing.shared[c, i, j]), float(sharing.engine[c, i, j])
    taps = geo.taps_h * geo.taps_w
    return {"kind": "input_grad", "cell": [c, i, j], "operation": "avg", "shares": shares, "sum": total,
            "engine_value": engine, "matches": bool(sharing.matches),
            "text": [f"dL/d input [{c},{i},{j}] = Σ dY/{taps} over the {len(shares)} windows covering it = {total:+.6g}",
                     f"engine: {engine:+.6g} ({_verdict(sharing.matches)})"]}


def batch_norm(e) -> dict:
    return {"kind": "forward", "cell": list(e.cell), "operation": "batch_norm", "x": e.x, "mean": e.mean, "var": e.var,
            "eps": e.eps, "xhat": e.xhat, "gamma": e.gamma, "beta": e.beta, "sum": e.result, "total": e.result,
            "engine_value": e.engine, "matches": bool(e.matches),
            "text": [f"forward output [{_cell(e.cell)}] = γ·x̂ + β, x̂ = (x − μ)/√(σ² + ε)",
                     f"  x {e.x:+.6g}, μ {e.mean:+.6g} (running mean), σ² {e.var:.6g} (running variance), ε {e.eps:g}",
                     f"  x̂ {e.xhat:+.6g}, γ {e.gamma:+.6g}, β {e.beta:+.6g}: {e.result:+.6g}",
                     f"engine: {e.engine:+.6g} ({_verdict(e.matches)})"]}


def lrn(e) -> dict:
    neighbours = [{"slice": int(j), "value": float(v)} for j, v in zip(e.slices, e.values)]
    return {"kind": "forward", "cell": list(e.cell), "operation": "lrn", "n": e.size, "alpha": e.alpha, "beta": e.beta,
            "k": e.k, "neighbourhood": neighbours, "sum_of_squares": e.squares, "s": e.s, "x": e.a, "sum": e.result,
            "total": e.result, "engine_value": e.engine, "matches": bool(e.matches),
            "text": [(f"forward output [{_cell(e.cell)}] = a / (k + (α/n)·Σ a_j²)^β, n {e.size}, α {e.alpha:g}, "
                     f"β {e.beta:g}, k {e.k:g}"),
                     "  a_j over slices " + ", ".join(f"{n['slice']}: {n['value']:+.6g}" for n in neighbours),
                     f"  Σ a_j² {e.squares:.6g}, s {e.s:.6g}, a {e.a:+.6g}: {e.result:+.6g}",
                     f"engine: {e.engine:+.6g} ({_verdict(e.matches)})"]}


def activation(e) -> dict:
    return {"kind": "forward", "cell": list(e.cell), "operation": e.type, "function": e.formula, "x": e.x,
            "working": e.working, "changed": bool(e.changed), "sum": e.result, "total": e.result,
            "engine_value": e.engine, "matches": bool(e.matches),
            "text": [f"forward output [{_cell(e.cell)}] = f(x), f(x) = {e.formula}",
                     f"  x {e.x:+.6g}: {e.working} = {e.result:+.6g}" + ("" if e.changed else " (unchanged)"),
                     f"engine: {e.engine:+.6g} ({_verdict(e.matches)})"]}


def block(e) -> dict:
    kind = "forward" if e.kind == "output" else "input_grad"
    paths = [{"path": p.name, "layer": p.layer, "cell": list(p.cell), "value": p.value} for p in e.paths]
    entry = {"kind": kind, "cell": list(e.cell), "operation": e.block, "paths": paths, "sum": e.result,
             "total": e.result, "engine_value": e.engine, "matches": bool(e.matches)}
    if e.upstream is not None:
        entry["upstream"] = e.upstream
    what = "forward output" if kind == "forward" else "dL/d input"
    entry["text"] = ([f"{what} [{_cell(e.cell)}] of the {e.block}: {e.text}"]
                     + [f"  {p['path']} ({p['layer'] or 'identity'} {_cell(p['cell'])}): {p['value']:+.6g}" for p in paths]
                     + [f"= {e.result:+.6g}; engine: {e.engine:+.6g} ({_verdict(e.matches)})"])
    return entry


def update(e, state_text: str) -> dict:
    steps = [{"label": label, "value": float(value)} for label, value in e.rows]
    return {"kind": "update", "cell": list(e.index), "parameter": e.name, "index": list(e.index), "method": e.method,
            "lr": e.lr, "optimizer_state": state_text, "optimizer_step": e.step_number, "steps": steps,
            "weight": e.weight, "step": e.step, "result": e.result, "ratio": e.ratio, "engine_value": e.engine,
            "matches": bool(e.matches),
            "text": [(f"update of {e.name}[{_cell(e.index)}] by {e.method} (lr {e.lr:g}, optimizer step {e.step_number}; "
                     f"{state_text})")] + [f"  {s['label']}: {s['value']:+.8g}" for s in steps]
                    + [(f"engine optimizer's step: {e.engine:+.8g} ({_verdict(e.matches)}); ‖ΔW‖/‖W‖ of {e.name} "
                       f"{e.ratio:.2e} (about 1e-3 is healthy)")]}


def gradcheck(g, tolerance: float = 1e-6) -> dict:
    ok = bool(g.rel_error < tolerance)
    return {"kind": "gradcheck", "cell": list(g.index), "target": g.what, "index": list(g.index), "analytic": g.analytic,
            "numeric": g.numeric, "rel_error": g.rel_error, "h": g.h, "engine_value": g.analytic, "matches": ok,
            "text": [f"gradient check of dL/d {g.what}[{_cell(g.index)}] (float64, centred differences, h = {g.h:g})",
                     f"  backward pass {g.analytic:+.10g}, centred difference {g.numeric:+.10g}",
                     f"  relative error {g.rel_error:.1e}: " + ("they agree" if ok else f"they DISAGREE (over {tolerance:g})")]}


def _cell(cell) -> str:
    return ",".join(str(int(i)) for i in cell)


def _verdict(matches: bool) -> str:
    return "equal" if matches else "DIFFERENT"
