"""Turning what a learner passes (list, NumPy array, pandas Series, torch tensor) into checked 1-D NumPy arrays.

One set of helpers for :mod:`warmup_lib.metrics`, :mod:`warmup_lib.diagnostics`,
:mod:`warmup_lib.plotting` and :mod:`warmup_lib.widgets`, so the same mistake gets the same
message everywhere: the message names the argument and says what would be valid.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import as_array

__all__ = ["as_1d", "as_numbers", "as_binary_labels", "as_scores", "same_length"]


def as_1d(
    name: str,
    values: Any,
    *,
    what: str = "a sequence of numbers",
    unit: str = "one value per example",
    allow_empty: bool = False,
) -> np.ndarray:
    """``values`` as a 1-D array; an ``(n, 1)`` column (one model output per row) is flattened.

    Rejects ``None``, strings, dicts, sets and single numbers (``TypeError``), other shapes
    and, unless ``allow_empty``, empty input (``ValueError``).
    """
    array = as_array(name, values, what)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional ({unit}), got shape {array.shape}")
    if not allow_empty and array.size == 0:
        raise ValueError(f"{name} must not be empty: there is nothing to compute")
    return array


def as_numbers(
    name: str,
    values: Any,
    *,
    what: str = "a sequence of numbers",
    unit: str = "one value per example",
    allow_empty: bool = False,
) -> np.ndarray:
    """``values`` as a 1-D float64 array; NaN and infinity are kept (callers decide what they mean)."""
    array = as_1d(name, values, what=what, unit=unit, allow_empty=allow_empty)
    if array.dtype == object:
        try:
            array = array.astype(float)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must contain numbers only, got {list(array[:5])!r}..."
            ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must contain numbers, got values of dtype {array.dtype}")
    return array.astype(np.float64)


def as_binary_labels(name: str, values: Any) -> np.ndarray:
    """0/1 (or False/True) labels as an int array; names the values found if they are not 0/1."""
    array = as_1d(name, values, what="a sequence of 0/1 labels (1 = positive, e.g. fraud)")
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must contain 0/1 labels (1 = positive, e.g. fraud), got values of dtype {array.dtype}"
        )
    has_nan = array.dtype.kind == "f" and bool(np.isnan(array).any())
    found = np.unique(array[~np.isnan(array)] if array.dtype.kind == "f" else array)
    if has_nan or not np.isin(found, [0, 1]).all():
        shown = ", ".join(f"{v:g}" for v in found[:10]) + (", ..." if len(found) > 10 else "")
        raise ValueError(
            f"{name} must contain only 0 and 1, found {shown}{' and NaN' if has_nan else ''}"
        )
    return array.astype(int)


def as_scores(
    name: str, values: Any, n: int | None = None, *, labels_name: str = "y_true"
) -> np.ndarray:
    """Finite scores (probabilities, logits, predictions) as float64; ``n``: one per label."""
    array = as_1d(name, values, what="a sequence of scores")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must contain numbers, got values of dtype {array.dtype}")
    array = array.astype(np.float64)
    if n is not None and array.size != n:
        raise ValueError(
            f"{name} must have one score per label: {labels_name} has {n}, {name} has {array.size}"
        )
    if not np.isfinite(array).all():
        raise ValueError(
            f"{name} must be finite; found {int((~np.isfinite(array)).sum())} NaN/inf values"
        )
    return array


def same_length(**arrays: np.ndarray) -> None:
    """Raise naming the first argument whose length differs from the first one's."""
    (first_name, first), *rest = arrays.items()
    for name, array in rest:
        if len(array) != len(first):
            raise ValueError(
                f"{name} must have the same length as {first_name} ({len(first)}), got {len(array)}"
            )
