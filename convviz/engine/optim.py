"""Optimizers, learning-rate schedules and gradient clipping, on the network's live arrays.

    opt = SGD(net.params(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    opt.step(net.grads())                      # updates the parameter arrays in place
    opt.lr = CosineLR(0.01, total_steps).lr_at(step)

Conventions are PyTorch's, so figures and checkpoints compare:

- SGD: g ← ∇ + λ·w (decayed arrays only); v ← μ·v + g; the step is g + μ·v (Nesterov) or v;
  w ← w − lr·step. Momentum 0 keeps no state.
- Adam: g as above; m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; w ← w − lr·m̂/(√v̂ + ε) with the
  bias corrections m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ). Weight decay is L2 added to the gradient (Adam),
  not decoupled (AdamW).
- L2 weight decay applies only to the weights of Conv, LocallyConnected and FC layers: names ending
  in ``.weight`` of arrays with two or more dimensions. Biases and batch-norm γ and β (1-D) are never
  decayed.

``state_dict()`` holds only numbers and numpy arrays, so ``np.savez`` stores it without pickle.
"""

from __future__ import annotations

import math

import numpy as np


def decays(name: str, array: np.ndarray) -> bool:
    """Whether L2 weight decay applies to this parameter (see the module docstring)."""
    return name.endswith(".weight") and array.ndim >= 2


class Optimizer:
    """Shared bookkeeping: the live parameters by name, the learning rate, step count and state."""

    HYPER: tuple[str, ...] = ()
    SLOTS: tuple[str, ...] = ()  # per-parameter state arrays, e.g. ("velocity",)

    def __init__(self, params: dict, lr: float, weight_decay: float = 0.0):
        if not params:
            raise ValueError("the optimizer got no parameters")
        _check_number("lr", lr, low=0.0)
        _check_number("weight_decay", weight_decay, low=0.0)
        self.params = dict(params)
        self.lr = lr
        self.weight_decay = weight_decay
        self.steps = 0
        self.decayed = {name: decays(name, a) for name, a in self.params.items()}
        self.state = {slot: {name: np.zeros_like(a) for name, a in self.params.items()} for slot in self.SLOTS}

    def _gradients(self, grads: dict):
        """(name, parameter, gradient with weight decay added) for every parameter; ``grads`` may hold
        more (a frozen layer's gradients, say): those are not this optimizer's to apply."""
        missing = [n for n in self.params if n not in grads]
        if missing:
            raise ValueError(f"gradients do not match the parameters: missing {missing}")
        for name, p in self.params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(f"gradient {name} has shape {g.shape}, parameter has {p.shape}")
            if self.weight_decay and self.decayed[name]:
                g = g + p.dtype.type(self.weight_decay) * p
            yield name, p, g

    def step(self, grads: dict) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Hyperparameters, step count and per-parameter state (``velocity.conv1.weight`` …)."""
        d = {"lr": float(self.lr), "weight_decay": float(self.weight_decay), "steps": int(self.steps)}
        d.update({name: float(getattr(self, name)) for name in self.HYPER})
        for slot, arrays in self.state.items():
            d.update({f"{slot}.{name}": a.copy() for name, a in arrays.items()})
        return d

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()`` output (values may be 0-d arrays, as ``np.load`` gives them).
        Raises ValueError, changing nothing, for missing or unknown entries or wrong shapes."""
        scalars = ("lr", "weight_decay", "steps") + self.HYPER
        arrays = [f"{slot}.{name}" for slot in self.SLOTS for name in self.params]
        expected = set(scalars) | set(arrays)
        missing = sorted(expected - set(d))
        unknown = sorted(set(d) - expected)
        problems = []
        if missing:
            problems.append("missing " + ", ".join(missing))
        if unknown:
            problems.append("unknown " + ", ".join(unknown))
        for key in arrays:
            if key in d:
                slot, name = key.split(".", 1)
                if np.shape(d[key]) != self.state[slot][name].shape:
                    problems.append(f"{key} has shape {np.shape(d[key])}, expected {self.state[slot][name].shape}")
        if problems:
            raise ValueError(f"cannot load the {type(self).__name__} state: " + "; ".join(problems))
        for key in scalars:
            value = np.asarray(d[key]).item()
            setattr(self, key, int(value) if key == "steps" else float(value))
        for key in arrays:
            slot, name = key.split(".", 1)
            np.copyto(self.state[slot][name], np.asarray(d[key]), casting="unsafe")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""

    HYPER = ("momentum",)

    def __init__(self, params: dict, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        _check_number("momentum", momentum, low=0.0, high=1.0)
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0, got momentum=0")
        self.SLOTS = ("velocity",) if momentum > 0 else ()
        super().__init__(params, lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def step(self, grads: dict) -> None:
        mu = self.momentum
        for name, p, g in self._gradients(grads):
            lr = p.dtype.type(self.lr)
            if mu:
                v = self.state["velocity"][name]
                v *= p.dtype.type(mu)
                v += g
                g = g + p.dtype.type(mu) * v if self.nesterov else v
            p -= lr * g
        self.steps += 1


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction and optional L2 weight decay."""

    HYPER = ("beta1", "beta2", "eps")
    SLOTS = ("m", "v")

    def __init__(self, params: dict, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        for name, beta in zip(("betas[0]", "betas[1]"), betas):
            _check_number(name, beta, low=0.0, high=1.0, high_open=True)
        _check_number("eps", eps, low=0.0)
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps

    def step(self, grads: dict) -> None:
        self.steps += 1
        t, b1, b2 = self.steps, self.beta1, self.beta2
        correction1, correction2 = 1 - b1**t, 1 - b2**t
        for name, p, g in self._gradients(grads):
            one = p.dtype.type
            m, v = self.state["m"][name], self.state["v"][name]
            m *= one(b1)
            m += one(1 - b1) * g
            v *= one(b2)
            v += one(1 - b2) * (g * g)
            denom = np.sqrt(v / one(correction2))
            denom += one(self.eps)
            p -= one(self.lr / correction1) * m / denom


# -- schedules -----------------------------------------------------------------------------------------


class StepLR:
    """lr = base_lr · gamma^⌊step / step_size⌋ (steps counted from 0)."""

    def __init__(self, base_lr: float, step_size: int, gamma: float = 0.1):
        _check_number("base_lr", base_lr, low=0.0)
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer, got step_size={step_size!r}")
        _check_number("gamma", gamma, low=0.0)
        self.base_lr, self.step_size, self.gamma = base_lr, step_size, gamma

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** (max(0, step) // self.step_size)


class CosineLR:
    """lr = min_lr + (base_lr − min_lr)·(1 + cos(π·t/T))/2 with t = min(step, T): base_lr at step 0,
    min_lr from step T = total_steps on."""

    def __init__(self, base_lr: float, total_steps: int, min_lr: float = 0.0):
        _check_number("base_lr", base_lr, low=0.0)
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got total_steps={total_steps!r}")
        _check_number("min_lr", min_lr, low=0.0)
        if min_lr > base_lr:
            raise ValueError(f"min_lr must not exceed base_lr, got min_lr={min_lr} > base_lr={base_lr}")
        self.base_lr, self.total_steps, self.min_lr = base_lr, total_steps, min_lr

    def lr_at(self, step: int) -> float:
        t = min(max(0, step), self.total_steps)
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * t / self.total_steps)) / 2


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale every gradient in place so their joint L2 norm is at most ``max_norm``; returns the norm
    before clipping (PyTorch's ``clip_grad_norm_``: factor max_norm/(norm + 1e-6) when norm > max_norm)."""
    _check_number("max_norm", max_norm, low=0.0, low_open=True)
    total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads.values()))
    if total > max_norm:
        factor = max_norm / (total + 1e-6)
        for g in grads.values():
            g *= g.dtype.type(factor)
    return total


def _check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else (f"> {low:g}" if low_open else f"≥ {low:g}")
        hi = "" if high is None else (f"< {high:g}" if high_open else f"≤ {high:g}")
        allowed = " and ".join(part for part in (lo, hi) if part) or "finite"
        raise ValueError(f"{name} must be a number {allowed}, got {name}={value!r}")
