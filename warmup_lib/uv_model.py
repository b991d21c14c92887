"""The two-parameter model f = u·v: gradient descent small enough to draw on its loss surface.

Lewkowycz et al. 2020 ("The large learning rate phase of deep learning: the catapult mechanism",
arXiv 2003.02218) study the simplest model whose curvature changes during training: the
prediction is the product ``u * v`` of two weights, fitted to a target ``y`` with the loss
``(u * v - y)**2 / 2``. The minima form a valley, the hyperbola ``u * v = y``, and its floor is
sharp where ``|u|`` and ``|v|`` are far apart and flat near ``u = v``: the top Hessian eigenvalue
on the floor is ``u**2 + v**2``. So where gradient descent goes decides how large a learning rate
it can then take (``lr < 2 / sharpness``), which is what warmup is about.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_array, check_float, check_int

__all__ = ["DESCENT_COLUMNS", "descend", "loss", "sharpness"]

#: Columns of the frame :func:`descend` returns.
DESCENT_COLUMNS = ("step", "u", "v", "loss", "sharpness", "lr", "threshold", "diverged")


def _grid(name: str, value: Any) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a number or an array of numbers, got {type(value).__name__}"
        ) from None


def loss(u: Any, v: Any, target: float = 1.0) -> np.ndarray | float:
    """The loss ``(u * v - target)**2 / 2``, for numbers or arrays of the same shape (a grid)."""
    target = check_float("target", target)
    u, v = _grid("u", u), _grid("v", v)
    value = 0.5 * (u * v - target) ** 2
    return float(value) if value.ndim == 0 else value


def sharpness(u: Any, v: Any, target: float = 1.0) -> np.ndarray | float:
    """The top eigenvalue of the loss's Hessian at ``(u, v)`` (exact; numbers or arrays).

    The Hessian is ``[[v**2, 2uv - y], [2uv - y, u**2]]``; its larger eigenvalue is
    ``(u**2 + v**2) / 2 + sqrt(((u**2 - v**2) / 2)**2 + (2uv - y)**2)``, which is
    ``u**2 + v**2`` on the valley floor ``u * v = y``.
    """
    target = check_float("target", target)
    u, v = _grid("u", u), _grid("v", v)
    value = (u * u + v * v) / 2 + np.sqrt(((u * u - v * v) / 2) ** 2 + (2 * u * v - target) ** 2)
    return float(value) if value.ndim == 0 else value


def descend(
    start: Any,
    lrs: Any,
    *,
    target: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    escape: float = 100.0,
) -> pd.DataFrame:
    """Gradient descent on the u·v model from ``start`` with learning rate ``lrs[k]`` at step ``k``.

    Step ``k`` moves ``(u, v)`` against the gradient ``(v * r, u * r)`` of the loss, where the
    residual ``r = u * v - y_k``. With ``noise > 0`` each step's target is ``y_k = target + noise *
    z_k`` (``z_k`` standard normal, seeded), the way a mini-batch's target differs a little from
    the whole data set's; it keeps the weights from ever resting exactly at the bottom, as in a real
    network. A run *diverges* when ``|u| + |v|`` exceeds ``escape`` (or stops being finite); it is
    stopped there.

    Args:
        start: the first ``(u, v)``.
        lrs: one learning rate (>= 0) per step, e.g. ``peak_lr * schedule.curve(np.arange(steps))``.
        target: the value ``u * v`` should fit.
        noise: standard deviation of the per-step target (>= 0).
        seed: seeds the target noise.
        escape: the size ``|u| + |v|`` beyond which a run counts as diverged (> 0).

    Returns:
        One row per visited point, the start being step 0: ``step, u, v``, the loss and sharpness
        there (noise-free target), ``lr`` of the step taken from there (NaN on the last row),
        ``threshold = 2 / lr`` (infinite at LR 0) and ``diverged`` (the same for every row).
    """
    point = as_array("start", start, "a pair (u, v)").astype(np.float64)
    if point.shape != (2,) or not np.all(np.isfinite(point)):
        raise ValueError(f"start must be two finite numbers (u, v), got {start!r}")
    rates = as_array("lrs", lrs, "one learning rate per step").astype(np.float64)
    if rates.ndim != 1 or rates.size == 0:
        raise ValueError("lrs must be a non-empty one-dimensional sequence of learning rates")
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("lrs must be finite and >= 0")
    target = check_float("target", target)
    noise = check_float("noise", noise, min_value=0.0)
    seed = check_int("seed", seed, min_value=0)
    escape = check_float("escape", escape, min_value=0.0, min_open=True)

    targets = target + noise * np.random.default_rng(seed).standard_normal(rates.size)
    u, v = float(point[0]), float(point[1])
    path = [(u, v)]
    diverged = False
    for lr, y in zip(rates, targets, strict=True):
        residual = u * v - y
        u, v = u - lr * v * residual, v - lr * u * residual
        if not (math.isfinite(u) and math.isfinite(v)) or abs(u) + abs(v) > escape:
            diverged = True
            break
        path.append((u, v))
    points = np.array(path)
    steps = np.arange(len(points))
    taken = np.full(len(points), np.nan)
    taken[: min(len(points), rates.size)] = rates[: len(points)]
    if not diverged:
        taken[-1] = np.nan  # no step is taken from the end point
    with np.errstate(divide="ignore"):
        threshold = np.where(taken > 0, 2.0 / taken, np.where(taken == 0, np.inf, np.nan))
    return pd.DataFrame(
        {
            "step": steps,
            "u": points[:, 0],
            "v": points[:, 1],
            "loss": loss(points[:, 0], points[:, 1], target),
            "sharpness": sharpness(points[:, 0], points[:, 1], target),
            "lr": taken,
            "threshold": threshold,
            "diverged": diverged,
        },
        columns=list(DESCENT_COLUMNS),
    )
