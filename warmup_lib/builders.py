"""Drop-in builders with transformers' names, signatures and numbers, returning a real LRScheduler.

Each ``get_*`` function here gives, at every step, the same learning rates as the function of the
same name in ``transformers.optimization``, and :func:`get_scheduler` is transformers' entry point
by name (``get_scheduler("cosine", optimizer, num_warmup_steps=100, num_training_steps=1000)``).
This includes transformers' quirk that the linear warmup starts at LR 0, so the first update is
wasted. The result is a :class:`~warmup_lib.torch_adapter.ScheduleLR` whose ``state_dict()`` is
plain data; a transformers checkpoint (a ``LambdaLR`` state) loads into it, but not the other way
round (see :class:`~warmup_lib.torch_adapter.ScheduleLR`).

The builders accept everything transformers accepts, because code being ported relies on it:
fractional step counts, warmup as long as or longer than training, ``num_training_steps=0``,
negative or fractional ``num_cycles``, a WSD whose phases overflow, tensor learning rates and
tensor step counts. Where such an input is almost surely a mistake they warn with a
:class:`~warmup_lib.schedules.ScheduleWarning` that names the argument
(``warnings.simplefilter("error", ScheduleWarning)`` makes that an error). They raise, naming
the argument, where transformers raises, and also for NaN or infinity, negative step counts,
wrong types, a non-optimizer and inputs transformers would crash on later in training.

To reproduce transformers' numbers exactly on all of these inputs, each builder's schedule is a
small frozen dataclass (``TransformersLinear``, ``TransformersCosine``, ...) whose fields are the
transformers arguments and whose formula is transformers' own ``lr_lambda``, computed with the same
scalar operations in the same order (so the numbers are bit-identical). The project's own
:mod:`~warmup_lib.schedules` classes stay strict and are the ones to compose: for whole-number
inputs ``get_cosine_schedule_with_warmup(opt, W, T)`` follows exactly
``warmup_then(LinearWarmup(W), CosineDecay(T - W))``.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from ._validation import check_choice, check_int, check_optimizer
from .schedules import Constant, Schedule, ScheduleWarning
from .torch_adapter import ScheduleLR

__all__ = [
    "get_scheduler",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_linear_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_inverse_sqrt_schedule",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_wsd_schedule",
]

_SHAPES = ("linear", "cosine", "1-sqrt")


# --------------------------------------------------------------------------------------------
# Argument rules: transformers' permissive ones, plus the errors it does not raise.
# --------------------------------------------------------------------------------------------


def _plain_number(name: str, value: Any) -> Any:
    """A 0-d tensor or NumPy scalar as a Python number; anything else unchanged."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{name} must be a number or a one-element tensor, got a tensor of shape {tuple(value.shape)}")
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _real(name: str, value: Any) -> int | float:
    """A finite real number (a one-element tensor is read as its value)."""
    value = _plain_number(name, value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _count(name: str, value: Any) -> int | float:
    """A number of steps >= 0; fractional counts are allowed, as transformers allows them."""
    value = _real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be a number of steps >= 0, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _odd(message: str) -> None:
    """Warn with a ScheduleWarning attributed to the caller's line outside this module."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, ScheduleWarning, stacklevel=level)


def _warn_about_lengths(warmup: int | float, total: int | float) -> None:
    if total == 0:
        _odd(
            "num_training_steps is 0: there is no training to schedule (transformers accepts it, "
            "and the LR follows its formulas past the end)"
        )
    elif warmup >= total:
        _odd(
            f"num_warmup_steps ({warmup}) >= num_training_steps ({total}): the warmup fills the "
            "whole run and nothing is left to decay; past it transformers' formulas run beyond their end"
        )


def _warn_about_cycles(cycles: float) -> None:
    if cycles < 0:
        _odd(f"num_cycles is negative ({cycles}); transformers accepts it, but the curve is unlikely to be the one you meant")


def _warn_about_ratio(name: str, ratio: float, what: str) -> None:
    if not 0 <= ratio <= 1:
        _odd(f"{name} is {ratio}, outside [0, 1]: {what}")


def _peak_lr(optimizer: Optimizer) -> float:
    """The optimizer's default ``lr`` as a number (transformers reads ``optimizer.defaults['lr']``)."""
    lr = _real("the optimizer's lr", optimizer.defaults["lr"])
    if lr <= 0:
        raise ValueError(f"the optimizer's lr must be > 0 for this schedule (it divides by it), got {lr!r}")
    return float(lr)


def _check_common(optimizer: Any, last_epoch: Any) -> int:
    check_optimizer("optimizer", optimizer)
    return check_int("last_epoch", last_epoch, min_value=-1)


# --------------------------------------------------------------------------------------------
# transformers' lr_lambdas as schedules.
# --------------------------------------------------------------------------------------------


class _TransformersFormula(Schedule):
    """Base of transformers' formulas: written for one step, exactly as transformers writes them.

    ``curve`` evaluates them step by step (they exist for the torch scheduler, which asks for one
    step at a time; plotting a few thousand steps takes milliseconds).
    """

    def _curve(self, t: np.ndarray) -> np.ndarray:
        return np.fromiter(map(self._value, t.ravel().tolist()), dtype=np.float64, count=t.size).reshape(t.shape)

    def _value(self, t: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def warmup_steps(self) -> int:  # type: ignore[override]
        """The first step at which the warmup is over (the formula's ``step < num_warmup_steps``)."""
        return math.ceil(self.num_warmup_steps)  # type: ignore[attr-defined]

    def _check_counts(self, *names: str) -> None:
        for name in names:
            object.__setattr__(self, name, _count(name, getattr(self, name)))

    def _check_reals(self, *names: str) -> None:
        for name in names:
            object.__setattr__(self, name, float(_real(name, getattr(self, name))))


def _warmup(t: float, warmup_steps: int | float) -> float:
    return float(t) / float(max(1, warmup_steps))


@dataclass(frozen=True)
class TransformersConstantWithWarmup(_TransformersFormula):
    """``s / max(1, W)`` while ``s < W``, then 1 (``get_constant_schedule_with_warmup``)."""

    num_warmup_steps: int | float

    def __post_init__(self) -> None:
        self._check_counts("num_warmup_steps")

    def _value(self, t: float) -> float:
        if t < self.num_warmup_steps:
            return float(t) / float(max(1.0, self.num_warmup_steps))
        return 1.0


@dataclass(frozen=True)
class TransformersLinear(_TransformersFormula):
    """Linear warmup, then ``max(0, (T - s) / max(1, T - W))`` (``get_linear_schedule_with_warmup``)."""

    num_warmup_steps: int | float
    num_training_steps: int | float

    def __post_init__(self) -> None:
        self._check_counts("num_warmup_steps", "num_training_steps")

    def _value(self, t: float) -> float:
        if t < self.num_warmup_steps:
            return _warmup(t, self.num_warmup_steps)
        return max(
            0.0,
            float(self.num_training_steps - t) / float(max(1, self.num_training_steps - self.num_warmup_steps)),
        )


@dataclass(frozen=True)
class TransformersCosine(_TransformersFormula):
    """Linear warmup, then ``max(0, f (1 - m) + m)`` with ``f = (1 + cos(2 pi c p)) / 2``,
    ``p = (s - W) / max(1, T - W)``, ``c = num_cycles``, ``m = min_lr_rate``
    (``get_cosine_schedule_with_warmup``, and with ``m > 0`` ``get_cosine_with_min_lr_schedule_with_warmup``).
    """

    num_warmup_steps: int | float
    num_training_steps: int | float
    num_cycles: float = 0.5
    min_lr_rate: float = 0.0

    def __post_init__(self) -> None:
        self._check_counts("num_warmup_steps", "num_training_steps")
        self._check_reals("num_cycles", "min_lr_rate")

    def _value(self, t: float) -> float:
        if t < self.num_warmup_steps:
            return _warmup(t, self.num_warmup_steps)
        progress = float(t - self.num_warmup_steps) / float(max(1, self.num_training_steps - self.num_warmup_steps))
        factor = 0.5 * (1.0 + math.cos(math.pi * float(self.num_cycles) * 2.0 * progress))
        factor = factor * (1 - self.min_lr_rate) + self.min_lr_rate
        return max(0, factor)


@dataclass(frozen=True)
class TransformersCosineHardRestarts(_TransformersFormula):
    """Linear warmup, then ``max(0, (1 + cos(pi ((c p) mod 1))) / 2)`` until ``p = 1``, then 0
    (``get_cosine_with_hard_restarts_schedule_with_warmup``)."""

    num_warmup_steps: int | float
    num_training_steps: int | float
    num_cycles: float = 1

    def __post_init__(self) -> None:
        self._check_counts("num_warmup_steps", "num_training_steps")
        object.__setattr__(self, "num_cycles", _real("num_cycles", self.num_cycles))

    def _value(self, t: float) -> float:
        if t < self.num_warmup_steps:
            return _warmup(t, self.num_warmup_steps)
        progress = float(t - self.num_warmup_steps) / float(max(1, self.num_training_steps - self.num_warmup_steps))
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(self.num_cycles) * progress) % 1.0))))


@dataclass(frozen=True)
class TransformersPolynomial(_TransformersFormula):
    """Linear warmup, then ``((lr_init - lr_end) (1 - (s - W)/(T - W))**power + lr_end) / lr_init``
    until ``T``, then ``lr_end / lr_init`` (``get_polynomial_decay_schedule_with_warmup``).

    With ``W == T`` transformers divides by zero at step ``T``; this returns the limit
    ``lr_end / lr_init`` there.
    """

    num_warmup_steps: int | float
    num_training_steps: int | float
    lr_end: float
    power: float
    lr_init: float

    def __post_init__(self) -> None:
        self._check_counts("num_warmup_steps", "num_training_steps")
        self._check_reals("lr_end", "power", "lr_init")
        if self.power < 0:
            raise ValueError(f"power must be >= 0 (transformers divides by zero at the last step), got {self.power!r}")
        if not self.lr_init > self.lr_end:
            raise ValueError(f"lr_end ({self.lr_end}) must be smaller than initial lr ({self.lr_init})")

    def _value(self, t: float) -> float:
        if t < self.num_warmup_steps:
            return _warmup(t, self.num_warmup_steps)
        decay_steps = self.num_training_steps - self.num_warmup_steps
        if t > self.num_training_steps or decay_steps == 0:
            return self.lr_end / self.lr_init  # as LambdaLR multiplies by lr_init
        lr_range = self.lr_init - self.lr_end
        pct_remaining = 1 - (t - self.num_warmup_steps) / decay_steps
        decay = lr_range * pct_remaining**self.power + self.lr_end
        return decay / self.lr_init


@dataclass(frozen=True)
class TransformersInverseSqrt(_TransformersFormula):
    """Linear warmup, then ``1 / sqrt((s + timescale - W) / timescale)`` (``get_inverse_sqrt_schedule``)."""

    num_warmup_steps: int | float
    timescale: int | float

    def __post_init__(self) -> None:
        self._check_counts("num_warmup_steps")
        object.__setattr__(self, "timescale", _real("timescale", self.timescale))
        if self.timescale <= 0:
            raise ValueError(
                f"timescale must be > 0 (transformers divides by it once warmup is over), got {self.timescale!r}"
            )

    def _value(self, t: float) -> float:
        if t < self.num_warmup_steps:
            return _warmup(t, self.num_warmup_steps)
        shift = self.timescale - self.num_warmup_steps
        return 1.0 / math.sqrt((t + shift) / self.timescale)


@dataclass(frozen=True)
class TransformersCosineWarmupWithMinLR(_TransformersFormula):
    """The ``cosine_warmup_with_min_lr`` schedule (``get_cosine_with_min_lr_schedule_with_warmup_lr_rate``).

    Its warmup starts one step in: ``(s + 1) / max(1, W)``, or with ``warmup_lr_rate = r``
    ``r + (1 - r) s / max(1, W - 1)``; then ``max(0, f (1 - m) + m)`` with the cosine ``f`` of
    ``p = (s - W + 1) / max(1, T - W)``. It peaks at step ``W - 1``.
    """

    num_warmup_steps: int | float
    num_training_steps: int | float
    num_cycles: float = 0.5
    min_lr_rate: float = 0.0
    warmup_lr_rate: float | None = None

    def __post_init__(self) -> None:
        self._check_counts("num_warmup_steps", "num_training_steps")
        self._check_reals("num_cycles", "min_lr_rate")
        if self.warmup_lr_rate is not None:
            self._check_reals("warmup_lr_rate")

    @property
    def warmup_steps(self) -> int:  # type: ignore[override]
        """The step at which the warmup reaches the peak: ``W - 1``."""
        return max(0, math.ceil(self.num_warmup_steps) - 1)

    def _value(self, t: float) -> float:
        current_step = float(t)
        num_warmup_steps = float(self.num_warmup_steps)
        num_training_steps = float(self.num_training_steps)
        if current_step < num_warmup_steps:
            if self.warmup_lr_rate is None:
                return (current_step + 1.0) / max(1.0, num_warmup_steps)
            warmup_lr_rate = float(self.warmup_lr_rate)
            return warmup_lr_rate + (1.0 - warmup_lr_rate) * (current_step) / (max(1, num_warmup_steps - 1))
        progress = (current_step - num_warmup_steps + 1.0) / (max(1.0, num_training_steps - num_warmup_steps))
        factor = 0.5 * (1.0 + math.cos(math.pi * self.num_cycles * 2.0 * progress))
        factor = factor * (1 - self.min_lr_rate) + self.min_lr_rate
        return max(0, factor)


@dataclass(frozen=True)
class TransformersWSD(_TransformersFormula):
    """Warmup-stable-decay as transformers computes it (``get_wsd_schedule``).

    Warm up from ``min_lr_ratio`` to 1, hold 1 for ``num_stable_steps``, decay back to
    ``min_lr_ratio`` over ``num_decay_steps``, hold it. A negative ``num_stable_steps`` (phases that
    overflow ``num_training_steps``) starts the decay part-way through, as in transformers.
    """

    num_warmup_steps: int | float
    num_stable_steps: int | float
    num_decay_steps: int | float
    warmup_type: str = "linear"
    decay_type: str = "cosine"
    min_lr_ratio: float = 0.0
    num_cycles: float = 0.5

    def __post_init__(self) -> None:
        self._check_counts("num_warmup_steps", "num_decay_steps")
        object.__setattr__(self, "num_stable_steps", _real("num_stable_steps", self.num_stable_steps))
        check_choice("warmup_type", self.warmup_type, _SHAPES)
        check_choice("decay_type", self.decay_type, _SHAPES)
        self._check_reals("min_lr_ratio", "num_cycles")

    def _value(self, t: float) -> float:
        warmup, stable, decay = self.num_warmup_steps, self.num_stable_steps, self.num_decay_steps
        ratio = self.min_lr_ratio
        if t < warmup:
            progress = float(t) / float(max(1, warmup))
            if self.warmup_type == "linear":
                factor = progress
            elif self.warmup_type == "cosine":
                factor = 0.5 * (1.0 - math.cos(math.pi * progress))
            else:
                factor = 1.0 - math.sqrt(1.0 - progress)
            factor = factor * (1.0 - ratio) + ratio
            return max(0.0, factor)
        if t < warmup + stable:
            return 1.0
        if t < warmup + stable + decay:
            progress = float(t - warmup - stable) / float(max(1, decay))
            if self.decay_type == "linear":
                factor = 1.0 - progress
            elif self.decay_type == "cosine":
                factor = 0.5 * (1.0 + math.cos(math.pi * float(self.num_cycles) * 2.0 * progress))
            else:
                factor = 1.0 - math.sqrt(progress)
            factor = factor * (1.0 - ratio) + ratio
            return max(0.0, factor)
        return ratio


# --------------------------------------------------------------------------------------------
# The builders.
# --------------------------------------------------------------------------------------------


def get_constant_schedule(optimizer: Optimizer, last_epoch: int = -1) -> ScheduleLR:
    """Constant learning rate: the ``lr`` set in the optimizer at every step (multiplier 1)."""
    last_epoch = _check_common(optimizer, last_epoch)
    return ScheduleLR(optimizer, Constant(), last_epoch)


def get_constant_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, last_epoch: int = -1
) -> ScheduleLR:
    """Linear warmup ``s / max(1, W)`` for ``s < W``, then the optimizer's ``lr`` forever."""
    last_epoch = _check_common(optimizer, last_epoch)
    schedule = TransformersConstantWithWarmup(_count("num_warmup_steps", num_warmup_steps))
    return ScheduleLR(optimizer, schedule, last_epoch)


def _warmup_and_total(num_warmup_steps: Any, num_training_steps: Any) -> tuple[int | float, int | float]:
    warmup = _count("num_warmup_steps", num_warmup_steps)
    total = _count("num_training_steps", num_training_steps)
    return warmup, total


def get_linear_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, last_epoch: int = -1
) -> ScheduleLR:
    """Linear warmup ``s / max(1, W)``, then linear decay ``max(0, (T - s) / max(1, T - W))`` to 0."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _warmup_and_total(num_warmup_steps, num_training_steps)
    schedule = TransformersLinear(warmup, total)
    _warn_about_lengths(warmup, total)
    return ScheduleLR(optimizer, schedule, last_epoch)


def get_cosine_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
) -> ScheduleLR:
    """Linear warmup, then ``max(0, (1 + cos(2 pi c p)) / 2)`` with ``p = (s - W) / max(1, T - W)``
    and ``c = num_cycles`` (0.5: one half-cosine from the peak to 0)."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _warmup_and_total(num_warmup_steps, num_training_steps)
    schedule = TransformersCosine(warmup, total, num_cycles=_real("num_cycles", num_cycles))
    _warn_about_lengths(warmup, total)
    _warn_about_cycles(schedule.num_cycles)
    return ScheduleLR(optimizer, schedule, last_epoch)


def get_cosine_with_hard_restarts_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: int = 1,
    last_epoch: int = -1,
) -> ScheduleLR:
    """Linear warmup, then ``num_cycles`` half-cosines from the peak to 0 with hard restarts
    (``(1 + cos(pi ((c p) mod 1))) / 2``), and 0 from step ``T`` on. ``num_cycles`` may be
    fractional (1.5: one full cycle and half of a second one)."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _warmup_and_total(num_warmup_steps, num_training_steps)
    schedule = TransformersCosineHardRestarts(warmup, total, num_cycles=_real("num_cycles", num_cycles))
    _warn_about_lengths(warmup, total)
    _warn_about_cycles(schedule.num_cycles)
    return ScheduleLR(optimizer, schedule, last_epoch)


def get_polynomial_decay_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    lr_end: float = 1e-7,
    power: float = 1.0,
    last_epoch: int = -1,
) -> ScheduleLR:
    """Linear warmup, then ``lr = (lr_init - lr_end) (1 - (s - W)/(T - W))**power + lr_end`` down to
    ``lr_end`` at step ``T`` and after; ``lr_init`` is the optimizer's default ``lr``.

    ``lr_init`` is read once, as a number. (transformers keeps the optimizer's ``lr`` object: when
    that is a tensor shared with the parameter groups, its scheduler overwrites it in place and
    its later multipliers drift.)
    """
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _warmup_and_total(num_warmup_steps, num_training_steps)
    schedule = TransformersPolynomial(
        warmup, total, lr_end=_real("lr_end", lr_end), power=_real("power", power), lr_init=_peak_lr(optimizer)
    )
    _warn_about_lengths(warmup, total)
    if schedule.lr_end < 0:
        _odd(f"lr_end is negative ({schedule.lr_end}): the LR would end below 0")
    if schedule.power == 0:
        _odd("power is 0: the LR stays at its peak and drops to lr_end only after num_training_steps")
    return ScheduleLR(optimizer, schedule, last_epoch)


def get_inverse_sqrt_schedule(
    optimizer: Optimizer, num_warmup_steps: int, timescale: int | None = None, last_epoch: int = -1
) -> ScheduleLR:
    """Linear warmup, then ``1 / sqrt((s + timescale - W) / timescale)``; ``timescale`` defaults to
    ``num_warmup_steps``, or 10 000 when that is 0 (big_vision's and transformers' choice)."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup = _count("num_warmup_steps", num_warmup_steps)
    if timescale is None:
        timescale = warmup or 10_000
    schedule = TransformersInverseSqrt(warmup, _real("timescale", timescale))
    return ScheduleLR(optimizer, schedule, last_epoch)


def _min_lr_rate(optimizer: Optimizer, min_lr: Any, min_lr_rate: Any) -> float:
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("Only one of min_lr or min_lr_rate should be set: min_lr is an absolute LR, min_lr_rate a fraction of lr")
    if min_lr is not None:
        rate = _real("min_lr", min_lr) / _peak_lr(optimizer)
        _warn_about_ratio("min_lr / lr", rate, "the floor is not between 0 and the peak LR")
        return rate
    if min_lr_rate is None:
        raise ValueError("One of min_lr (an absolute LR) or min_lr_rate (a fraction of lr in [0, 1]) must be set")
    rate = float(_real("min_lr_rate", min_lr_rate))
    _warn_about_ratio("min_lr_rate", rate, "the floor is not between 0 and the peak LR")
    return rate


def get_cosine_with_min_lr_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
) -> ScheduleLR:
    """Cosine schedule with a floor: ``max(0, f (1 - m) + m)`` where ``f`` is the cosine factor and
    ``m = min_lr_rate`` (or ``min_lr / lr``). Give exactly one of ``min_lr`` and ``min_lr_rate``."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _warmup_and_total(num_warmup_steps, num_training_steps)
    cycles = _real("num_cycles", num_cycles)
    rate = _min_lr_rate(optimizer, min_lr, min_lr_rate)
    schedule = TransformersCosine(warmup, total, num_cycles=cycles, min_lr_rate=rate)
    _warn_about_lengths(warmup, total)
    _warn_about_cycles(cycles)
    return ScheduleLR(optimizer, schedule, last_epoch)


def get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
) -> ScheduleLR:
    """Cosine with a floor and a warmup that starts one step in (``cosine_warmup_with_min_lr``).

    The warmup is ``(s + 1) / max(1, W)`` (so the first update is not wasted), or with
    ``warmup_lr_rate = r`` rises from ``r`` to 1; it peaks at step ``W - 1``. The cosine then
    falls to ``min_lr_rate`` (or ``min_lr / lr``), see :class:`TransformersCosineWarmupWithMinLR`.
    """
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _warmup_and_total(num_warmup_steps, num_training_steps)
    cycles = _real("num_cycles", num_cycles)
    rate = _min_lr_rate(optimizer, min_lr, min_lr_rate)
    if warmup_lr_rate is not None:
        warmup_lr_rate = float(_real("warmup_lr_rate", warmup_lr_rate))
        _warn_about_ratio("warmup_lr_rate", warmup_lr_rate, "the warmup does not start between 0 and the peak LR")
    schedule = TransformersCosineWarmupWithMinLR(
        warmup, total, num_cycles=cycles, min_lr_rate=rate, warmup_lr_rate=warmup_lr_rate
    )
    _warn_about_lengths(warmup, total)
    _warn_about_cycles(cycles)
    return ScheduleLR(optimizer, schedule, last_epoch)


def get_wsd_schedule(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_decay_steps: int,
    num_training_steps: int | None = None,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
) -> ScheduleLR:
    """Warmup-stable-decay: warm up from ``min_lr_ratio`` to 1, hold, decay to ``min_lr_ratio``,
    hold. ``num_stable_steps`` defaults to ``num_training_steps - num_warmup_steps - num_decay_steps``
    (if both are given, ``num_stable_steps`` wins with a warning, as in transformers). When the
    warmup and decay do not fit in ``num_training_steps`` transformers runs a negative stable
    phase (the decay starts part-way through); so does this, with a warning."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup = _count("num_warmup_steps", num_warmup_steps)
    decay = _count("num_decay_steps", num_decay_steps)
    check_choice("warmup_type", warmup_type, _SHAPES)
    check_choice("decay_type", decay_type, _SHAPES)
    ratio = float(_real("min_lr_ratio", min_lr_ratio))
    cycles = _real("num_cycles", num_cycles)
    if num_training_steps is None and num_stable_steps is None:
        raise ValueError(
            "Either num_training_steps or num_stable_steps must be specified: give num_training_steps "
            "or num_stable_steps (the length of the constant phase)"
        )
    if num_stable_steps is not None:
        stable = _count("num_stable_steps", num_stable_steps)
        if num_training_steps is not None:
            _count("num_training_steps", num_training_steps)
            _odd("Both num_training_steps and num_stable_steps are specified; num_stable_steps is used")
    else:
        total = _count("num_training_steps", num_training_steps)
        stable = total - warmup - decay
        if stable < 0:
            _odd(
                f"WSD phases do not fit: num_warmup_steps ({warmup}) + num_decay_steps ({decay}) = "
                f"{warmup + decay} > num_training_steps ({total}); as in transformers the stable phase "
                f"is negative ({stable}) and the decay starts part-way through"
            )
    schedule = TransformersWSD(
        warmup, stable, decay, warmup_type=warmup_type, decay_type=decay_type, min_lr_ratio=ratio, num_cycles=cycles
    )
    _warn_about_ratio("min_lr_ratio", ratio, "the warmup and the decay do not stay between 0 and the peak LR")
    _warn_about_cycles(cycles)
    return ScheduleLR(optimizer, schedule, last_epoch)


# --------------------------------------------------------------------------------------------
# get_scheduler: the builders by name.
# --------------------------------------------------------------------------------------------

_BUILDERS = {
    "linear": get_linear_schedule_with_warmup,
    "cosine": get_cosine_schedule_with_warmup,
    "cosine_with_restarts": get_cosine_with_hard_restarts_schedule_with_warmup,
    "polynomial": get_polynomial_decay_schedule_with_warmup,
    "constant": get_constant_schedule,
    "constant_with_warmup": get_constant_schedule_with_warmup,
    "inverse_sqrt": get_inverse_sqrt_schedule,
    "reduce_lr_on_plateau": ReduceLROnPlateau,
    "cosine_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup,
    "cosine_warmup_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    "warmup_stable_decay": get_wsd_schedule,
}


def get_scheduler(
    name: str,
    optimizer: Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict[str, Any] | None = None,
) -> ScheduleLR | ReduceLROnPlateau:
    """Any of the schedules above by transformers' name, with transformers' rules.

    ``name`` is one of ``linear``, ``cosine``, ``cosine_with_restarts``, ``polynomial``,
    ``constant``, ``constant_with_warmup``, ``inverse_sqrt``, ``reduce_lr_on_plateau`` (torch's
    ``ReduceLROnPlateau``, built with ``scheduler_specific_kwargs``), ``cosine_with_min_lr``,
    ``cosine_warmup_with_min_lr`` and ``warmup_stable_decay`` (transformers' ``SchedulerType``
    values are accepted too). Every schedule but ``constant`` and ``reduce_lr_on_plateau`` needs
    ``num_warmup_steps``; all but those and ``constant_with_warmup``, ``inverse_sqrt`` and
    ``warmup_stable_decay`` need ``num_training_steps``. ``scheduler_specific_kwargs`` go to the
    builder (``{"num_cycles": 2}``, ``{"min_lr_rate": 0.1}``, ``{"num_decay_steps": 100}``, ...);
    one it does not take is a ``TypeError``. Arguments a schedule ignores (transformers ignores
    them silently) get a :class:`~warmup_lib.schedules.ScheduleWarning`.
    """
    check_optimizer("optimizer", optimizer)
    name = getattr(name, "value", name)  # transformers' SchedulerType is a str Enum
    if not isinstance(name, str):
        raise TypeError(f"name must be a schedule name such as 'linear' or 'cosine', got {name!r}")
    valid = ", ".join(repr(n) for n in _BUILDERS)
    if name == "greedy":
        raise ValueError(f"name 'greedy' is transformers' own GreedyLR, which warmup_lib does not provide; valid names: {valid}")
    if name not in _BUILDERS:
        raise ValueError(f"name must be one of {valid}; got {name!r}")
    if scheduler_specific_kwargs is None:
        scheduler_specific_kwargs = {}
    if not isinstance(scheduler_specific_kwargs, Mapping):
        raise TypeError(
            f"scheduler_specific_kwargs must be a dict of extra arguments for {name!r}, "
            f"got {type(scheduler_specific_kwargs).__name__}"
        )
    kwargs = dict(scheduler_specific_kwargs)
    builder: Any = _BUILDERS[name]

    def ignored(what: str, hint: str = "") -> None:
        _odd(f"get_scheduler({name!r}) ignores {what}, as transformers does{hint}")

    if name in ("constant", "reduce_lr_on_plateau"):
        if num_warmup_steps is not None and _count("num_warmup_steps", num_warmup_steps) > 0:
            hint = "; 'constant_with_warmup' has a warmup" if name == "constant" else ""
            ignored(f"num_warmup_steps={num_warmup_steps!r} (this schedule has no warmup)", hint)
        if name == "constant":
            if kwargs:
                ignored(f"scheduler_specific_kwargs {sorted(kwargs)}")
            return builder(optimizer)
        return builder(optimizer, **kwargs)

    if num_warmup_steps is None:
        raise ValueError(f"{name} requires `num_warmup_steps`, please provide that argument.")
    if name == "constant_with_warmup":
        if kwargs:
            ignored(f"scheduler_specific_kwargs {sorted(kwargs)}")
        return builder(optimizer, num_warmup_steps=num_warmup_steps)
    if name == "inverse_sqrt":
        return builder(optimizer, num_warmup_steps=num_warmup_steps, **kwargs)
    if name == "warmup_stable_decay":
        return builder(optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps, **kwargs)
    if num_training_steps is None:
        raise ValueError(f"{name} requires `num_training_steps`, please provide that argument.")
    return builder(optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps, **kwargs)
