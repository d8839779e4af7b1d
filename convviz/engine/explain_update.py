"""One weight's update by the run's optimizer, term by term, beside the engine optimizer's own step.

    opt = SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)   # over copies of the parameters
    e = explain_update(opt, grads, "conv1.weight", (0, 0, 0, 0))
    e.rows          # (label, value): w, dW, + λ·w, v ← μ·v + g, … , the step, w − step
    e.result, e.engine, e.matches                                   # the new weight, computed here and by opt.step
    e.ratio         # ‖Δw‖ / ‖w‖ of the whole parameter array, the usual health figure (~1e-3)

The optimizer given is never changed: its step runs on a copy. A run's optimizer state
(:class:`OptimizerState`: ``state_dict()`` of the trainer's optimizer between two steps, or a
checkpoint's) gives the real momentum or Adam moments: ``resume_optimizer(opt, state)`` loads it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from convviz.engine.optim import SGD, Adam


@dataclass(frozen=True)
class OptimizerState:
    """The optimizer of a run between two steps: ``state`` is its ``state_dict()`` (``lr``, ``steps``,
    ``velocity.conv1.weight`` (K, C, F, F) …), ``optimizer`` the config's name (``sgd``, ``momentum``,
    ``nesterov``, ``adam``), ``lr`` the learning rate of the run's next step (its schedule's; the last
    step's once the run ended), ``step`` the steps the run has taken and ``origin`` where it is from
    (``running``, ``ended``, ``checkpoint``)."""

    state: dict
    optimizer: str
    lr: float
    step: int
    origin: str

    @property
    def steps(self) -> int:
        """The optimizer's own step count (its bias corrections use it)."""
        return int(self.state.get("steps", 0))


def resume_optimizer(opt, saved: OptimizerState) -> None:
    """Load ``saved`` into ``opt`` (built over copies of the same parameters) and set the next step's lr.
    Raises ValueError (from ``load_state_dict``), changing nothing, if it does not fit."""
    opt.load_state_dict(saved.state)
    opt.lr = float(saved.lr)


@dataclass
class UpdateExplanation:
    """w ← w − step for one element of parameter ``name``; ``method`` names the rule (``SGD``,
    ``SGD with momentum 0.9``, ``Nesterov momentum 0.9``, ``Adam``); ``rows`` are its terms in order;
    ``ratio`` is ‖Δw‖/‖w‖ of the array (inf for an all-zero array); ``step_number`` the optimizer step
    this would be (1 for a fresh optimizer: its velocity or moments start at 0)."""

    name: str
    index: tuple[int, ...]
    method: str
    lr: float
    rows: list[tuple[str, float]]
    weight: float
    step: float
    result: float
    engine: float
    matches: bool
    weight_norm: float
    update_norm: float
    ratio: float
    step_number: int


def _method(opt) -> str:
    if isinstance(opt, Adam):
        return "Adam"
    if isinstance(opt, SGD) and opt.momentum:
        return f"{'Nesterov momentum' if opt.nesterov else 'SGD with momentum'} {opt.momentum:g}"
    return "SGD"


def step_copy(opt, grads: dict) -> dict:
    """The parameters after ``opt.step(grads)``, stepped on a copy of ``opt`` (left as it was)."""
    trial = copy.deepcopy(opt)
    trial.step({k: grads[k] for k in opt.params})
    return trial.params


def explain_update(opt, grads: dict, name: str, index: tuple[int, ...], stepped: dict | None = None) -> UpdateExplanation:
    """Explain the update ``opt.step(grads)`` would make to element ``index`` of parameter ``name``
    (``stepped``: ``step_copy(opt, grads)`` when it is known already, so many explanations share one step)."""
    if name not in opt.params:
        raise KeyError(f"no parameter named {name!r}; parameters: {', '.join(opt.params)}")
    p, dw = opt.params[name], grads[name]
    index = tuple(int(i) for i in index)
    if len(index) != p.ndim or not all(0 <= i < s for i, s in zip(index, p.shape)):
        raise ValueError(f"{name}: index {index} is outside its shape {p.shape}")
    w, g = float(p[index]), float(dw[index])
    lr = float(opt.lr)
    rows = [("w", w), ("dW", g)]
    if opt.weight_decay and opt.decayed[name]:
        g = g + opt.weight_decay * w
        rows.append((f"g = dW + λ·w (weight decay λ = {opt.weight_decay:g})", g))
    else:
        rows.append(("g = dW" + (" (no weight decay on this parameter)" if opt.weight_decay else ""), g))
    if isinstance(opt, Adam):
        t, b1, b2 = opt.steps + 1, opt.beta1, opt.beta2
        m0, v0 = float(opt.state["m"][name][index]), float(opt.state["v"][name][index])
        m, v = b1 * m0 + (1 - b1) * g, b2 * v0 + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        step = lr * mhat / (math.sqrt(vhat) + opt.eps)
        rows += [(f"m ← β₁·m + (1 − β₁)·g   (β₁ = {b1:g}, m was {m0:+.6g})", m),
                 (f"v ← β₂·v + (1 − β₂)·g²   (β₂ = {b2:g}, v was {v0:+.6g})", v),
                 (f"m̂ = m/(1 − β₁^{t})", mhat), (f"v̂ = v/(1 − β₂^{t})", vhat),
                 (f"step = lr·m̂/(√v̂ + ε)   (lr = {lr:g}, ε = {opt.eps:g})", step)]
    elif isinstance(opt, SGD) and opt.momentum:
        mu = opt.momentum
        v0 = float(opt.state["velocity"][name][index])
        v = mu * v0 + g
        rows.append((f"v ← μ·v + g   (μ = {mu:g}, v was {v0:+.6g})", v))
        if opt.nesterov:
            step = lr * (g + mu * v)
            rows.append((f"step = lr·(g + μ·v)   (lr = {lr:g})", step))
        else:
            step = lr * v
            rows.append((f"step = lr·v   (lr = {lr:g})", step))
    else:
        step = lr * g
        rows.append((f"step = lr·g   (lr = {lr:g})", step))
    result = w - step
    rows.append(("w − step", result))
    new = (stepped if stepped is not None else step_copy(opt, grads))[name]  # the engine's own step
    engine = float(new[index])
    weight_norm = float(np.linalg.norm(p))
    update_norm = float(np.linalg.norm(new - p))
    ratio = update_norm / weight_norm if weight_norm > 0 else float("inf")
    tol = 64 * float(np.finfo(p.dtype).eps) * max(abs(w), abs(step), float(np.finfo(p.dtype).tiny))
    return UpdateExplanation(name, index, _method(opt), lr, rows, w, step, result, engine, abs(result - engine) <= tol,
                             weight_norm, update_norm, ratio, opt.steps + 1)
