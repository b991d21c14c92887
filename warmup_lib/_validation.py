"""Argument checks shared by every public function: each names the argument and the valid range."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


def check_int(name: str, value: Any, *, min_value: int | None = 0, max_value: int | None = None) -> int:
    """Return ``value`` as an ``int``; reject bools, non-integral numbers and values out of range.

    Integral floats such as ``100.0`` are accepted (a learner computing ``0.1 * 1000`` should not be
    punished); ``100.5``, NaN and infinity are not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    if not isinstance(value, numbers.Integral):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{name} must be a whole number of steps, got {value!r}")
    result = int(value)
    if (min_value is not None and result < min_value) or (max_value is not None and result > max_value):
        raise ValueError(
            f"{name} must be an integer {_range_text(min_value, max_value, False, False)}, got {result}"
        )
    return result


def check_float(
    name: str,
    value: Any,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` inside the given range, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be a finite number, got {result!r}")
    too_low = min_value is not None and (result <= min_value if min_open else result < min_value)
    too_high = max_value is not None and (result >= max_value if max_open else result > max_value)
    if too_low or too_high:
        bounds = _range_text(min_value, max_value, min_open, max_open)
        raise ValueError(f"{name} must be {bounds}, got {result!r}")
    return result


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; otherwise list the valid ones."""
    options = tuple(choices)
    if value not in options:
        valid = ", ".join(repr(c) for c in options)
        raise ValueError(f"{name} must be one of {valid}; got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a ``bool``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return value


def check_optimizer(name: str, value: Any) -> Any:
    """Return ``value`` if it is a ``torch.optim.Optimizer``."""
    import torch

    if not isinstance(value, torch.optim.Optimizer):
        raise TypeError(
            f"{name} must be a torch.optim.Optimizer (for example torch.optim.Adam(model.parameters(), "
            f"lr=1e-3)), got {_describe(value)}"
        )
    return value


def as_array(name: str, values: Any, what: str = "a sequence") -> np.ndarray:
    """Turn a list, NumPy array, pandas Series or torch tensor into a NumPy array.

    Rejects ``None``, strings, dicts, sets and single numbers with a message naming ``name`` and
    saying it must be ``what``; tensors are detached and moved to the CPU first.
    """
    if values is None or isinstance(values, str | bytes | dict | set) or isinstance(values, numbers.Number):
        raise TypeError(
            f"{name} must be {what} (list, NumPy array, pandas Series or tensor), got {type(values).__name__}"
        )
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        values = values.detach().cpu().numpy()
    return np.asarray(values)
