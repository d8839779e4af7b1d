"""Checks of kernel calls, shared by the fast and the naive kernels so both refuse the same calls.

Each message says what is wrong, what is allowed and what was received. The window geometry is the
model's (``convviz.model.geometry``): a call either brings a :class:`Window2d` (the network's layers
pass the one their report holds) or raw stride/pad/dilation that ``window2d`` turns into one. These
checks only make sure the arrays fit that geometry; they never judge the geometry again.
"""

from __future__ import annotations

import numpy as np

from convviz.model.geometry import Window2d, pair_of, window2d

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
CONV_W = "(K, C, Fh, Fw)"
LOCAL_W = "(Ho, Wo, K, C, Fh, Fw)"


def check_array(name: str, a, ndim: int, dims: str) -> np.ndarray:
    """``a`` as an ndarray of ``ndim`` dimensions and a float dtype, or a ValueError saying why not."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {dims}, got shape {a.shape}")
    if a.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {a.dtype}")
    return a


def check_same_dtype(x: np.ndarray, **others) -> None:
    """Every array in ``others`` (None allowed) has x's dtype: kernels never cast silently."""
    for name, a in others.items():
        if a is not None and a.dtype != x.dtype:
            raise ValueError(f"{name}.dtype {a.dtype} does not match x.dtype {x.dtype}")


def check_shape(name: str, a: np.ndarray, expected: tuple, why: str) -> None:
    if a.shape != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)} {why}, got {a.shape}")


def check_dout(dout, expected: tuple, like: np.ndarray) -> None:
    """dout is the forward output's shape and dtype."""
    check_array("dout", dout, 4, "(N, K, Ho, Wo)")
    check_shape("dout", dout, expected, "like the forward output")
    if dout.dtype != like.dtype:
        raise ValueError(f"dout.dtype {dout.dtype} does not match the forward's dtype {like.dtype}")


def sliding_window(x, w, b, stride, pad, dilation, local: bool = False, geometry: Window2d | None = None) -> Window2d:
    """Check a conv2d (local=False) or local2d call; returns its window geometry (``geometry`` if given)."""
    w_dims = LOCAL_W if local else CONV_W
    check_array("x", x, 4, "(N, C, H, W)")
    check_array("w", w, w_dims.count(",") + 1, w_dims)
    check_same_dtype(x, w=w)
    if w.shape[-3] != x.shape[1]:
        raise ValueError(f"x has C={x.shape[1]} channels but w expects C={w.shape[-3]} (w.shape={w.shape})")
    if geometry is None:
        geo = window2d(x.shape[2], x.shape[3], w.shape[-2], w.shape[-1], stride, pad, dilation, what="filter")
    else:
        geo = _fits(geometry, x, w.shape[-2:], "w", w.shape)
    if local and (geo.out_h, geo.out_w) != w.shape[:2]:
        raise ValueError(
            f"w is for a {w.shape[0]}×{w.shape[1]} output but this input, stride, pad and dilation give "
            f"{geo.out_h}×{geo.out_w} (w.shape={w.shape})"
        )
    if b is not None:
        b_shape = (geo.out_h, geo.out_w, w.shape[2]) if local else (w.shape[0],)
        check_array("b", b, len(b_shape), "(Ho, Wo, K)" if local else "(K,)")
        check_shape("b", b, b_shape, f"to match w.shape={w.shape}" if local else f"to match K={w.shape[0]} filters")
        check_same_dtype(x, b=b)
    return geo


def pool_window(x, size, stride, pad, geometry: Window2d | None = None) -> Window2d:
    """Check a pooling call: 4-D float x and its geometry (``geometry``, or ``window2d`` of the raw
    arguments with the pooling-padding rule)."""
    check_array("x", x, 4, "(N, C, H, W)")
    if geometry is not None:
        return _fits(geometry, x, (geometry.taps_h, geometry.taps_w), "size", (geometry.taps_h, geometry.taps_w))
    fh, fw = pair_of(size, "size")
    return window2d(x.shape[2], x.shape[3], fh, fw, size if stride is None else stride, pad, 1,
                    what="pooling window", pool=True)


def _fits(geo: Window2d, x: np.ndarray, taps: tuple, name: str, shape: tuple) -> Window2d:
    """The given geometry is for this input plane and these taps."""
    if not isinstance(geo, Window2d):
        raise ValueError(f"geometry must be a convviz.model.geometry.Window2d, got {type(geo).__name__}")
    if x.shape[2:] != (geo.in_h, geo.in_w):
        raise ValueError(f"x is {x.shape[2]}×{x.shape[3]} but the geometry is for a {geo.in_h}×{geo.in_w} input")
    if tuple(taps) != (geo.taps_h, geo.taps_w):
        raise ValueError(f"{name}.shape={shape} does not match the geometry's {geo.taps_h}×{geo.taps_w} window")
    return geo
