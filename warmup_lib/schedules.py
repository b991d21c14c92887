"""Learning-rate schedules as pure, immutable functions of the optimizer step.

Conventions (they hold for every schedule in this module):

* A schedule returns the **LR multiplier**, a factor of the peak LR. The peak LR is the ``lr`` the
  optimizer was built with, so one schedule drives every parameter group from its own base LR,
  exactly like ``torch.optim.lr_scheduler.LambdaLR`` and the transformers schedules.
* ``schedule(k)`` is the multiplier used by the ``(k+1)``-th optimizer update: step 0 is the first
  update. Steps count optimizer updates, not micro-batches (with gradient accumulation over 4
  micro-batches, 1000 micro-batches are 250 steps).
* ``schedule.curve(steps)`` evaluates a whole NumPy array of steps at once (for plots and tables);
  ``schedule(step)`` evaluates one step and returns a Python ``float``. Both run the same formula
  and give bit-identical numbers; the one-step path avoids NumPy's per-call overhead, so a torch
  scheduler can call it every update.
* Warmups rise from ``start`` at step 0 to exactly 1 at step ``warmup_steps`` and hold 1 after it.
  Decays start at 1 at their own step 0. ``join`` glues phases described by their lengths, and
  ``warmup_then(warmup, decay)`` is the common case.
* Schedules multiply: ``warmup * base`` (or :func:`with_warmup`) is the base schedule, unchanged,
  times the warmup's factor. Since a warmup is exactly 1 from its ``warmup_steps`` on, the product
  equals ``base`` at every later step. **"With vs without warmup" in this project means ``base`` vs
  ``warmup * base``**: the same base schedule, with and without a warmup factor on top, so a
  comparison changes nothing but the warmup; :func:`steps_that_differ` checks it.
* Schedules are frozen dataclasses: hashable, picklable, comparable, and ``to_dict`` /
  ``schedule_from_dict`` turn them into plain data (for checkpoints loaded with
  ``torch.load(..., weights_only=True)``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ._validation import check_choice, check_float, check_int

__all__ = [
    "Schedule",
    "ScheduleWarning",
    "LinearWarmup",
    "ExponentialWarmup",
    "SaturatingWarmup",
    "CosineWarmup",
    "ConstantWarmup",
    "OneMinusSqrtWarmup",
    "Constant",
    "LinearDecay",
    "CosineDecay",
    "CosineRestartsDecay",
    "PolynomialDecay",
    "InverseSqrtDecay",
    "StepDecay",
    "ExponentialDecay",
    "OneMinusSqrtDecay",
    "OneCycle",
    "Joined",
    "Product",
    "join",
    "warmup_then",
    "with_warmup",
    "steps_that_differ",
    "wsd",
    "noam_peak_lr",
    "untuned_warmup_steps",
    "untuned_warmup",
    "radam_rectification",
    "schedule_from_dict",
    "WARMUP_SHAPES",
]

_REGISTRY: dict[str, type[Schedule]] = {}


class ScheduleWarning(UserWarning):
    """An argument that is allowed but almost surely a mistake (warmup as long as training, ...).

    The transformers-compatible builders accept everything transformers accepts and warn with this
    category where the input is odd. ``warnings.simplefilter("error", ScheduleWarning)`` turns
    these warnings into errors for people who want strictness.
    """


def _as_steps(steps: Any, name: str = "steps") -> np.ndarray:
    """Validate an array of optimizer steps (non-negative whole numbers) and return it as float64."""
    array = np.asarray(steps)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold integer optimizer steps, got dtype {array.dtype}")
    values = array.astype(np.float64, copy=False)
    if values.size:
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite whole numbers >= 0; found NaN or infinity")
        if values.min() < 0:
            raise ValueError(f"{name} must be >= 0 (step 0 is the first update), got {values.min():g}")
        if np.issubdtype(array.dtype, np.floating) and not np.array_equal(values, np.floor(values)):
            raise ValueError(f"{name} must be whole numbers of optimizer steps, got fractional values")
    return values


# --------------------------------------------------------------------------------------------
# One formula, two ways to evaluate it. Each schedule writes its formula once, against ``ops``:
# ``_VECTOR`` runs it on a float64 array (``curve``), ``_SCALAR`` on one Python float
# (``__call__``, every optimizer step), where a NumPy call per operation would cost more than
# the whole torch scheduler step. Basic arithmetic is IEEE-exact either way; transcendental
# functions go through NumPy in both modes (SIMD builds of NumPy may differ from ``math`` by an
# ulp), with the same operand layout, so both modes give bit-identical numbers.
# --------------------------------------------------------------------------------------------


def _contiguous(value: Any, like: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=np.float64), like.shape))


class _VectorOps:
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    where = staticmethod(np.where)
    sqrt = staticmethod(np.sqrt)
    floor = staticmethod(np.floor)
    cos = staticmethod(np.cos)
    expm1 = staticmethod(np.expm1)

    @staticmethod
    def full(t: np.ndarray, value: float) -> np.ndarray:
        return np.full_like(t, value)

    @staticmethod
    def power(base: Any, exponent: Any) -> np.ndarray:
        shape = np.broadcast_shapes(np.shape(base), np.shape(exponent))
        like = np.empty(shape)
        return np.power(_contiguous(base, like), _contiguous(exponent, like))


_ONE_VALUE = threading.local()  # a reusable one-element float64 array per thread


def _one(ufunc: np.ufunc, x: float) -> float:
    """``ufunc`` on one value, through the same contiguous float64 loop as an array.

    Writing into a reused one-element array costs ~0.3 µs less per call than building one (the
    cosine schedules call this once per optimizer step); one array per thread keeps concurrent
    schedulers from overwriting each other's value.
    """
    try:
        value = _ONE_VALUE.array
    except AttributeError:
        value = _ONE_VALUE.array = np.empty(1, dtype=np.float64)
    value[0] = x
    return ufunc(value).item()


class _ScalarOps:
    minimum = staticmethod(min)
    maximum = staticmethod(max)
    sqrt = staticmethod(math.sqrt)  # IEEE-exact, as np.sqrt is

    @staticmethod
    def where(condition: bool, if_true: float, if_false: float) -> float:
        return if_true if condition else if_false

    @staticmethod
    def floor(x: float) -> float:
        return float(math.floor(x))

    @staticmethod
    def full(t: float, value: float) -> float:
        return value

    @staticmethod
    def cos(x: float) -> float:
        return _one(np.cos, x)

    @staticmethod
    def expm1(x: float) -> float:
        return _one(np.expm1, x)

    @staticmethod
    def power(base: float, exponent: float) -> float:
        return np.power(np.array((float(base),)), np.array((float(exponent),))).item()


_VECTOR = _VectorOps()
_SCALAR = _ScalarOps()


class Schedule:
    """Base class: a pure function ``step -> LR multiplier``.

    Subclasses are frozen dataclasses implementing ``_formula(t, ops)``: the multiplier at the
    validated, non-negative whole step(s) ``t``, written with ``ops`` (minimum, maximum, where,
    cos, power, ...) so the same code evaluates a float64 array or a single float. Compositions
    implement ``_curve(t)`` (array) and ``_value(t)`` (one float) instead.
    Schedules multiply: ``warmup * base`` is a :class:`Product`.
    """

    #: Number of steps until the multiplier first reaches its peak (0 for decays).
    warmup_steps: ClassVar[int] = 0

    # Make NumPy scalars defer to __rmul__ (``np.float64(2) * schedule`` is a Product, not an
    # object array).
    __array_ufunc__ = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _REGISTRY[cls.__name__] = cls

    def _formula(self, t: Any, ops: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _curve(self, t: np.ndarray) -> np.ndarray:
        return self._formula(t, _VECTOR)

    def _value(self, t: float) -> float:
        return self._formula(t, _SCALAR)

    def curve(self, steps: Any) -> np.ndarray:
        """Multipliers at every step of ``steps`` (array-like of whole numbers >= 0), as float64."""
        t = _as_steps(steps)
        return np.asarray(self._curve(t), dtype=np.float64)

    def __call__(self, step: int) -> float:
        """Multiplier used by the ``(step+1)``-th optimizer update."""
        if type(step) is not int or step < 0:  # the common case skips the full check
            step = check_int("step", step, min_value=0)
        return float(self._value(float(step)))

    def __mul__(self, other: Any) -> Product:
        """``warmup * base``: the product of two schedules (or of a schedule and a number >= 0)."""
        factor = _as_factor(other)
        if factor is None:
            return NotImplemented
        return Product((*_factors_of(self), *_factors_of(factor)))

    def __rmul__(self, other: Any) -> Product:
        factor = _as_factor(other)
        if factor is None:
            return NotImplemented
        return Product((*_factors_of(factor), *_factors_of(self)))

    def to_dict(self) -> dict[str, Any]:
        """Plain-data description (nested dicts, lists, numbers, strings) that rebuilds the schedule."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            out[field.name] = _to_plain(getattr(self, field.name))
        return out


def _as_factor(value: Any) -> Schedule | None:
    if isinstance(value, Schedule):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return Constant(value)  # validates: a finite number >= 0
    return None


def _factors_of(schedule: Schedule) -> tuple[Schedule, ...]:
    return schedule.factors if isinstance(schedule, Product) else (schedule,)


def _to_plain(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


def _from_plain(value: Any) -> Any:
    if isinstance(value, dict) and "type" in value:
        return schedule_from_dict(value)
    if isinstance(value, list):
        return tuple(_from_plain(v) for v in value)
    return value


def schedule_from_dict(spec: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output (nested schedules included)."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise TypeError(f"spec must be a dict made by Schedule.to_dict() with a 'type' key, got {spec!r}")
    kind = spec["type"]
    if kind not in _REGISTRY:
        raise ValueError(f"spec['type'] must name a schedule class ({', '.join(sorted(_REGISTRY))}); got {kind!r}")
    kwargs = {k: _from_plain(v) for k, v in spec.items() if k != "type"}
    return _REGISTRY[kind](**kwargs)


def _factor(name: str, value: Any, *, low: float = 0.0, high: float = 1.0) -> float:
    return check_float(name, value, min_value=low, max_value=high)


# --------------------------------------------------------------------------------------------
# Warmups: start -> 1 over warmup_steps, then hold 1.
# --------------------------------------------------------------------------------------------


def _progress(t: Any, warmup_steps: int, ops: Any) -> Any:
    """Fraction of warmup done, clipped to [0, 1] (``s / W`` as transformers computes it).

    A zero-length warmup is already done at step 0.
    """
    if warmup_steps == 0:
        return ops.full(t, 1.0)
    return ops.minimum(t / warmup_steps, 1.0)


@dataclass(frozen=True)
class _Ramp(Schedule):
    """Shared shape of the ramps: ``start + (1 - start) * ramp(min(1, t / W))``, then 1."""

    warmup_steps: int
    start: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps))
        object.__setattr__(self, "start", _factor("start", self.start))

    def _ramp(self, progress: Any, ops: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _formula(self, t: Any, ops: Any) -> Any:
        ramp = self._ramp(_progress(t, self.warmup_steps, ops), ops)
        if self.start != 0.0:  # with start=0 keep transformers' exact arithmetic, float(s) / float(W)
            ramp = self.start + (1.0 - self.start) * ramp
        # Exactly 1 from W on, whatever rounding in start + (1 - start) * 1 or cos(pi) gives.
        return ops.where(t >= self.warmup_steps, 1.0, ramp)


@dataclass(frozen=True)
class LinearWarmup(_Ramp):
    """Linear warmup: ``start + (1 - start) * min(1, t / W)``.

    With ``start=0`` this is transformers' warmup (multiplier 0 at step 0, a wasted first update);
    ``start=1/W`` avoids it. Goyal et al. 2017 (arXiv 1706.02677).
    """

    def _ramp(self, progress: Any, ops: Any) -> Any:
        return progress


@dataclass(frozen=True)
class ExponentialWarmup(Schedule):
    """Geometric warmup: the multiplier grows by the same factor every step,
    ``start ** (1 - t / W)`` (computed as ``10 ** (log10(start) * (W - t) / W)``), then 1.

    ``ExponentialWarmup(300, start=1e-3)`` at peak LR 0.1 gives 1e-4, 1e-3, 1e-2, 0.1 at steps
    0, 100, 200, 300: one decade every 100 steps.
    """

    warmup_steps: int
    start: float = 1e-3

    def __post_init__(self) -> None:
        object.__setattr__(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps))
        object.__setattr__(
            self, "start", check_float("start", self.start, min_value=0.0, max_value=1.0, min_open=True)
        )

    def _formula(self, t: Any, ops: Any) -> Any:
        if self.warmup_steps == 0:
            return ops.full(t, 1.0)
        remaining = ops.maximum(self.warmup_steps - t, 0.0)
        # Multiply before dividing so whole-decade points (t = W/3 for start=1e-3) are exact.
        rise = ops.power(10.0, math.log10(self.start) * remaining / self.warmup_steps)
        return ops.where(t >= self.warmup_steps, 1.0, rise)


@dataclass(frozen=True)
class SaturatingWarmup(Schedule):
    """Exponential-saturation warmup ``1 - (1 - start) * exp(-t / tau)``.

    This is pytorch_warmup's "exponential" shape (time constant ``tau``; the multiplier reaches
    63 % after ``tau`` steps and 99.3 % after ``5 tau``) and never quite reaches 1. Give
    ``warmup_steps`` to rescale it so that it reaches exactly 1 at that step and holds there, which
    makes it continuous when joined to a decay.
    """

    tau: float
    start: float = 0.0
    warmup_steps: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau", check_float("tau", self.tau, min_value=0.0, min_open=True))
        object.__setattr__(self, "start", _factor("start", self.start))
        if self.warmup_steps is not None:
            object.__setattr__(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps, min_value=1))

    def _formula(self, t: Any, ops: Any) -> Any:
        rise = -ops.expm1(-t / self.tau)  # 1 - exp(-t/tau), accurate for small t
        if self.warmup_steps is None:
            return self.start + (1.0 - self.start) * rise
        rise = ops.minimum(rise / -math.expm1(-self.warmup_steps / self.tau), 1.0)
        return ops.where(t >= self.warmup_steps, 1.0, self.start + (1.0 - self.start) * rise)


@dataclass(frozen=True)
class CosineWarmup(_Ramp):
    """Cosine ramp: ``start + (1 - start) * (1 - cos(pi * min(1, t / W))) / 2`` — slow, fast, slow."""

    def _ramp(self, progress: Any, ops: Any) -> Any:
        return 0.5 * (1.0 - ops.cos(math.pi * progress))


@dataclass(frozen=True)
class OneMinusSqrtWarmup(_Ramp):
    """Warmup ``start + (1 - start) * (1 - sqrt(1 - min(1, t / W)))`` (WSD's "1-sqrt" warmup type)."""

    def _ramp(self, progress: Any, ops: Any) -> Any:
        return 1.0 - ops.sqrt(1.0 - progress)


@dataclass(frozen=True)
class ConstantWarmup(Schedule):
    """Constant warmup: a low multiplier ``factor`` for ``W`` steps, then a jump to 1
    (He et al. 2016 trained ResNet-110 at 0.1x LR for the first steps). Discontinuous by design.
    """

    warmup_steps: int
    factor: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps))
        object.__setattr__(self, "factor", _factor("factor", self.factor))

    def _formula(self, t: Any, ops: Any) -> Any:
        return ops.where(t < self.warmup_steps, self.factor, 1.0)


WARMUP_SHAPES: dict[str, type[Schedule]] = {
    "linear": LinearWarmup,
    "exponential": ExponentialWarmup,
    "saturating": SaturatingWarmup,
    "cosine": CosineWarmup,
    "1-sqrt": OneMinusSqrtWarmup,
    "constant": ConstantWarmup,
}


# --------------------------------------------------------------------------------------------
# Decays: 1 at their own step 0.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constant(Schedule):
    """The multiplier ``value`` at every step (no decay)."""

    value: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_float("value", self.value, min_value=0.0))

    def _formula(self, t: Any, ops: Any) -> Any:
        return ops.full(t, self.value)


@dataclass(frozen=True)
class _Fall(Schedule):
    """Shared shape of the falls: ``end + (1 - end) * fall(t)`` with ``fall`` going 1 -> 0 over D."""

    decay_steps: int
    end: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay_steps", check_int("decay_steps", self.decay_steps))
        object.__setattr__(self, "end", _factor("end", self.end))

    def _fall(self, t: Any, ops: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _formula(self, t: Any, ops: Any) -> Any:
        down = self._fall(t, ops)
        if self.end == 0.0:  # keep transformers' exact arithmetic
            return down
        return self.end + (1.0 - self.end) * down


@dataclass(frozen=True)
class LinearDecay(_Fall):
    """Linear decay ``end + (1 - end) * max(0, (D - t) / max(1, D))``: 1 at t=0, ``end`` from t=D on."""

    def _fall(self, t: Any, ops: Any) -> Any:
        return ops.maximum(0.0, (self.decay_steps - t) / max(1, self.decay_steps))


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """Cosine decay ``end + (1 - end) * (1 + cos(2 pi c t / max(1, D))) / 2`` with ``c = cycles``.

    ``cycles=0.5`` (the default) is a half cosine from 1 to ``end`` over ``D`` steps (Loshchilov &
    Hutter 2016, arXiv 1608.03983). Like transformers, the formula is not clipped: past ``D`` the
    wave continues (with ``cycles=0.5`` it rises again), so train for exactly ``D`` decay steps or
    join a ``Constant`` phase after it.
    """

    decay_steps: int
    end: float = 0.0
    cycles: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay_steps", check_int("decay_steps", self.decay_steps))
        object.__setattr__(self, "end", _factor("end", self.end))
        object.__setattr__(self, "cycles", check_float("cycles", self.cycles, min_value=0.0))

    def _formula(self, t: Any, ops: Any) -> Any:
        progress = t / max(1, self.decay_steps)
        wave = 0.5 * (1.0 + ops.cos(math.pi * self.cycles * 2.0 * progress))
        if self.end == 0.0:
            return ops.maximum(0.0, wave)
        return ops.maximum(0.0, wave * (1.0 - self.end) + self.end)


@dataclass(frozen=True)
class CosineRestartsDecay(Schedule):
    """Cosine with hard restarts: ``cycles`` half-cosines from 1 to ``end`` inside ``D`` steps,
    jumping back to 1 at each restart, then ``end`` from t=D on (SGDR, arXiv 1608.03983).
    """

    decay_steps: int
    cycles: int = 1
    end: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay_steps", check_int("decay_steps", self.decay_steps))
        object.__setattr__(self, "cycles", check_int("cycles", self.cycles, min_value=1))
        object.__setattr__(self, "end", _factor("end", self.end))

    def _formula(self, t: Any, ops: Any) -> Any:
        progress = t / max(1, self.decay_steps)
        wave = ops.maximum(0.0, 0.5 * (1.0 + ops.cos(math.pi * ((float(self.cycles) * progress) % 1.0))))
        wave = ops.where(progress >= 1.0, 0.0, wave)
        if self.end == 0.0:
            return wave
        return self.end + (1.0 - self.end) * wave


@dataclass(frozen=True)
class PolynomialDecay(Schedule):
    """Polynomial decay ``end + (1 - end) * (1 - t / D) ** power`` for t <= D, then ``end``.

    ``power=1`` is linear (BERT's default); ``end`` is a fraction of the peak LR.
    """

    decay_steps: int
    end: float = 0.0
    power: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay_steps", check_int("decay_steps", self.decay_steps))
        object.__setattr__(self, "end", check_float("end", self.end, min_value=0.0, max_value=1.0, max_open=True))
        object.__setattr__(self, "power", check_float("power", self.power, min_value=0.0, min_open=True))

    def _formula(self, t: Any, ops: Any) -> Any:
        if self.decay_steps == 0:  # no decay phase: already at the end (as LinearDecay(0) is)
            return ops.full(t, self.end)
        remaining = ops.maximum(1.0 - t / self.decay_steps, 0.0)
        return (1.0 - self.end) * ops.power(remaining, self.power) + self.end


@dataclass(frozen=True)
class InverseSqrtDecay(Schedule):
    """Inverse square-root decay ``1 / sqrt((t + timescale) / timescale)``.

    After a linear warmup of ``W`` steps with ``timescale = W`` this is the Transformer's "Noam"
    schedule (Vaswani et al. 2017, arXiv 1706.03762): LR proportional to ``1/sqrt(step)``.
    """

    timescale: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "timescale", check_int("timescale", self.timescale, min_value=1))

    def _formula(self, t: Any, ops: Any) -> Any:
        return 1.0 / ops.sqrt((t + self.timescale) / self.timescale)


@dataclass(frozen=True)
class StepDecay(Schedule):
    """Step decay ``gamma ** floor(t / step_size)`` (torch's ``StepLR``)."""

    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "step_size", check_int("step_size", self.step_size, min_value=1))
        object.__setattr__(self, "gamma", check_float("gamma", self.gamma, min_value=0.0, max_value=1.0, min_open=True))

    def _formula(self, t: Any, ops: Any) -> Any:
        return ops.power(self.gamma, ops.floor(t / self.step_size))


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """Exponential decay ``gamma ** t`` (torch's ``ExponentialLR``, stepped every update)."""

    gamma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "gamma", check_float("gamma", self.gamma, min_value=0.0, max_value=1.0, min_open=True))

    def _formula(self, t: Any, ops: Any) -> Any:
        return ops.power(self.gamma, t)


@dataclass(frozen=True)
class OneMinusSqrtDecay(_Fall):
    """Decay ``end + (1 - end) * (1 - sqrt(min(1, t / D)))`` (WSD's "1-sqrt" cooldown, Hägele et al. 2024)."""

    def _fall(self, t: Any, ops: Any) -> Any:
        return 1.0 - ops.sqrt(ops.minimum(t / max(1, self.decay_steps), 1.0))


@dataclass(frozen=True)
class OneCycle(Schedule):
    """One-cycle policy (Smith & Topin 2017, arXiv 1708.07120), the same curve as torch's ``OneCycleLR``.

    Multipliers are relative to the peak (``max_lr``): rise from ``1/div_factor`` to 1 over
    ``pct_start * total_steps - 1`` steps, then anneal to ``1/(div_factor * final_div_factor)`` at
    step ``total_steps - 1``; ``anneal="cos"`` or ``"linear"``; ``three_phase`` mirrors torch.
    Beyond ``total_steps - 1`` the multiplier holds its final value (torch raises instead).
    """

    total_steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal: str = "cos"
    three_phase: bool = False

    @property
    def warmup_steps(self) -> int:  # type: ignore[override]
        """Step at which the multiplier peaks (torch: ``pct_start * total_steps - 1``)."""
        return max(0, math.ceil(self.pct_start * self.total_steps - 1))

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_steps", check_int("total_steps", self.total_steps, min_value=2))
        object.__setattr__(
            self, "pct_start", check_float("pct_start", self.pct_start, min_value=0.0, max_value=1.0, min_open=True, max_open=True)
        )
        object.__setattr__(self, "div_factor", check_float("div_factor", self.div_factor, min_value=1.0))
        object.__setattr__(self, "final_div_factor", check_float("final_div_factor", self.final_div_factor, min_value=1.0))
        check_choice("anneal", self.anneal, ("cos", "linear"))
        if not isinstance(self.three_phase, bool):
            raise TypeError(f"three_phase must be True or False, got {self.three_phase!r}")

    def _phases(self) -> list[tuple[float, float, float]]:
        """(end_step, start_multiplier, end_multiplier) per phase, as torch computes them."""
        initial = 1.0 / self.div_factor
        minimum = initial / self.final_div_factor
        rise_end = float(self.pct_start * self.total_steps) - 1
        if self.three_phase:
            return [
                (rise_end, initial, 1.0),
                (float(2 * self.pct_start * self.total_steps) - 2, 1.0, initial),
                (self.total_steps - 1.0, initial, minimum),
            ]
        return [(rise_end, initial, 1.0), (self.total_steps - 1.0, 1.0, minimum)]

    def _anneal(self, start: float, end: float, pct: Any, ops: Any) -> Any:
        if self.anneal == "cos":
            return end + (start - end) / 2.0 * (ops.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _curve(self, t: np.ndarray) -> np.ndarray:
        t = np.minimum(t, self.total_steps - 1.0)
        out = np.empty_like(t)
        phase_start = 0.0
        assigned = np.zeros(t.shape, dtype=bool)
        phases = self._phases()
        for i, (phase_end, lo, hi) in enumerate(phases):
            mask = ~assigned & ((t <= phase_end) | (i == len(phases) - 1))
            pct = (t[mask] - phase_start) / (phase_end - phase_start)
            out[mask] = self._anneal(lo, hi, pct, _VECTOR)
            assigned |= mask
            phase_start = phase_end
        return out

    def _value(self, t: float) -> float:
        t = min(t, self.total_steps - 1.0)
        phase_start = 0.0
        phases = self._phases()
        for i, (phase_end, lo, hi) in enumerate(phases):
            if t <= phase_end or i == len(phases) - 1:
                return self._anneal(lo, hi, (t - phase_start) / (phase_end - phase_start), _SCALAR)
            phase_start = phase_end
        raise AssertionError("unreachable: the last phase takes every remaining step")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Composition.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Joined(Schedule):
    """Phases played one after another; phase ``i`` sees its own local step ``t - offset_i``.

    Built by :func:`join`. ``lengths`` has one entry per phase but the last, which runs forever.
    """

    phases: tuple[Schedule, ...]
    lengths: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.phases or not all(isinstance(p, Schedule) for p in self.phases):
            raise TypeError("phases must be a non-empty tuple of Schedule objects")
        if len(self.lengths) != len(self.phases) - 1:
            raise ValueError("lengths must give one length per phase except the last")
        object.__setattr__(self, "phases", tuple(self.phases))
        object.__setattr__(
            self, "lengths", tuple(check_int(f"length of phase {i}", n) for i, n in enumerate(self.lengths))
        )
        # (phase, first step, end step) for the one-step path, which runs every optimizer step.
        starts = (0, *np.cumsum(self.lengths).tolist())
        spans = tuple(zip(self.phases[:-1], starts[:-1], starts[1:], strict=True))
        object.__setattr__(self, "_spans", spans)
        object.__setattr__(self, "_last_start", starts[-1])

    @property
    def warmup_steps(self) -> int:  # type: ignore[override]
        first = self.phases[0]
        return min(getattr(first, "warmup_steps", 0) or 0, self.lengths[0] if self.lengths else 1 << 62)

    @property
    def boundaries(self) -> tuple[int, ...]:
        """Global steps at which each phase after the first begins."""
        return tuple(int(x) for x in np.cumsum(self.lengths))

    def _curve(self, t: np.ndarray) -> np.ndarray:
        out = np.empty_like(t)
        offset = 0
        for phase, length in zip(self.phases, (*self.lengths, None), strict=True):
            mask = t >= offset if length is None else (t >= offset) & (t < offset + length)
            if mask.any():
                out[mask] = phase._curve(t[mask] - offset)
            if length is not None:
                offset += length
        return out

    def _value(self, t: float) -> float:
        for phase, start, end in self._spans:
            if t < end:
                return phase._value(t - start)
        return self.phases[-1]._value(t - self._last_start)


@dataclass(frozen=True)
class Product(Schedule):
    """Schedules multiplied step by step: ``factors[0](t) * factors[1](t) * ...``.

    Built by ``warmup * base`` or :func:`with_warmup`. With a warmup among the factors this is
    the base schedule, unchanged, dampened by the warmup's factor while it is below 1 (the
    "dampening" form of warmup). Every factor sees the same global step.
    """

    factors: tuple[Schedule, ...]

    def __post_init__(self) -> None:
        factors = tuple(self.factors) if isinstance(self.factors, tuple | list) else None
        if not factors or not all(isinstance(f, Schedule) for f in factors):
            raise TypeError(f"factors must be a non-empty tuple of Schedule objects, got {self.factors!r}")
        object.__setattr__(self, "factors", factors)

    @property
    def warmup_steps(self) -> int | None:  # type: ignore[override]
        """The longest warmup among the factors: from this step on every warmup factor is 1.

        ``None`` if a factor has no defined end of warmup (``SaturatingWarmup`` without
        ``warmup_steps``).
        """
        lengths = [getattr(f, "warmup_steps", 0) for f in self.factors]
        return None if any(n is None for n in lengths) else max(lengths)

    def _curve(self, t: np.ndarray) -> np.ndarray:
        out = self.factors[0]._curve(t)
        for factor in self.factors[1:]:
            out = out * factor._curve(t)
        return out

    def _value(self, t: float) -> float:
        out = self.factors[0]._value(t)
        for factor in self.factors[1:]:
            out = out * factor._value(t)
        return out


def join(*phases: tuple[Schedule, int | None]) -> Joined:
    """Play schedules one after another, each for the number of steps given with it.

    ``join((LinearWarmup(100), 100), (CosineDecay(900), None))`` warms up for 100 steps, then
    decays; the last phase's length may be ``None`` (it runs for the rest of training) or a number
    (documentation only: the last phase always continues). Phases are described by how long they
    last, never by global milestones.
    """
    if not phases:
        raise ValueError("join needs at least one (schedule, length) phase")
    for i, phase in enumerate(phases):
        if not (isinstance(phase, tuple) and len(phase) == 2 and isinstance(phase[0], Schedule)):
            raise TypeError(f"phase {i} must be a (Schedule, length) tuple, got {phase!r}")
        if i < len(phases) - 1 and phase[1] is None:
            raise ValueError(f"phase {i} needs a length: only the last phase may have length None")
    return Joined(tuple(p[0] for p in phases), tuple(p[1] for p in phases[:-1]))


def warmup_then(warmup: Schedule, decay: Schedule) -> Joined:
    """A warmup phase followed by any decay, which starts (at its own step 0) when warmup ends."""
    if not isinstance(warmup, Schedule) or not isinstance(decay, Schedule):
        raise TypeError("warmup and decay must be Schedule objects, e.g. LinearWarmup(100), CosineDecay(900)")
    length = getattr(warmup, "warmup_steps", None)
    if not isinstance(length, int):
        raise ValueError(
            f"warmup must know its length: {type(warmup).__name__} has warmup_steps={length!r}; "
            "give it warmup_steps=..., or use join((warmup, n), (decay, None))"
        )
    return join((warmup, length), (decay, None))


# A probe of steps far past any warmup: a warmup factor must be exactly 1 at all of them.
_HOLD_PROBES = (1, 2, 10, 100, 10_000, 10**6, 10**9)


def with_warmup(base: Schedule, warmup: Schedule) -> Product:
    """The base schedule with a warmup factor on top: ``warmup * base``.

    ``with_warmup(CosineDecay(1000), LinearWarmup(100))`` is the cosine decay, unchanged, scaled
    by ``t / 100`` for the first 100 steps, and equal to it at every step from 100 on (the LR
    peaks a little below 1 because the cosine has started decaying). This is how the series
    compares "with vs without warmup": ``base`` vs ``with_warmup(base, warmup)``.
    ``warmup`` must reach exactly 1 at its ``warmup_steps`` and hold it (every warmup in this
    module does; ``SaturatingWarmup`` needs ``warmup_steps=...``).
    """
    if not isinstance(base, Schedule):
        raise TypeError(f"base must be a Schedule (e.g. CosineDecay(1000)), got {type(base).__name__}")
    if not isinstance(warmup, Schedule):
        raise TypeError(f"warmup must be a Schedule (e.g. LinearWarmup(100)), got {type(warmup).__name__}")
    length = getattr(warmup, "warmup_steps", None)
    if not isinstance(length, int) or isinstance(length, bool):
        raise ValueError(
            f"warmup must know where it ends: {type(warmup).__name__} has warmup_steps={length!r}; "
            "give it warmup_steps=... (e.g. SaturatingWarmup(tau=100, warmup_steps=500))"
        )
    probes = np.array([length] + [length + k for k in _HOLD_PROBES], dtype=np.float64)
    values = warmup.curve(probes)
    if not np.all(values == 1.0):
        bad = int(np.flatnonzero(values != 1.0)[0])
        raise ValueError(
            f"warmup must be exactly 1 from its warmup_steps ({length}) on, so that warmup * base "
            f"equals base after warmup; {warmup!r} gives {float(values[bad])!r} at step {int(probes[bad])}"
        )
    return warmup * base


def steps_that_differ(a: Schedule, b: Schedule, steps: int, atol: float = 0.0) -> np.ndarray:
    """The steps in ``range(steps)`` where the multipliers of ``a`` and ``b`` differ by more than ``atol``.

    ``steps_that_differ(base, warmup * base, 1000)`` lists exactly the warmup steps where the
    warmup factor is below 1 (``atol=0`` compares bit for bit), so a notebook can print and assert
    that the two runs of a with/without-warmup comparison share every step after warmup.
    """
    if not isinstance(a, Schedule) or not isinstance(b, Schedule):
        raise TypeError(
            f"a and b must be Schedule objects, got {type(a).__name__} and {type(b).__name__}"
        )
    steps = check_int("steps", steps)
    atol = check_float("atol", atol, min_value=0.0)
    t = np.arange(steps)
    return np.flatnonzero(np.abs(a.curve(t) - b.curve(t)) > atol)


_WSD_WARMUPS = {"linear": LinearWarmup, "cosine": CosineWarmup, "1-sqrt": OneMinusSqrtWarmup}


def wsd(
    warmup_steps: int,
    stable_steps: int,
    decay_steps: int,
    *,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_ratio: float = 0.0,
    cycles: float = 0.5,
) -> Joined:
    """Warmup-stable-decay (Hu et al. 2024, MiniCPM, arXiv 2404.06395).

    Warm up from ``min_ratio`` to 1 (``warmup_type`` linear, cosine or 1-sqrt), hold 1 for
    ``stable_steps``, decay to ``min_ratio`` (``decay_type`` linear, cosine or 1-sqrt) over
    ``decay_steps``, then hold ``min_ratio``. ``cycles`` shapes the cosine decay as in
    :class:`CosineDecay`. Same numbers as transformers' ``get_wsd_schedule``.
    """
    warmup_steps = check_int("warmup_steps", warmup_steps)
    stable_steps = check_int("stable_steps", stable_steps)
    decay_steps = check_int("decay_steps", decay_steps)
    check_choice("warmup_type", warmup_type, tuple(_WSD_WARMUPS))
    check_choice("decay_type", decay_type, ("linear", "cosine", "1-sqrt"))
    min_ratio = _factor("min_ratio", min_ratio)
    warmup = _WSD_WARMUPS[warmup_type](warmup_steps, start=min_ratio)
    decay: Schedule
    if decay_type == "linear":
        decay = LinearDecay(decay_steps, end=min_ratio)
    elif decay_type == "cosine":
        decay = CosineDecay(decay_steps, end=min_ratio, cycles=cycles)
    else:
        decay = OneMinusSqrtDecay(decay_steps, end=min_ratio)
    return join((warmup, warmup_steps), (Constant(), stable_steps), (decay, decay_steps), (Constant(min_ratio), None))


def noam_peak_lr(d_model: int, warmup_steps: int, factor: float = 1.0) -> float:
    """Peak LR of the Transformer's schedule, ``factor * d_model**-0.5 * warmup_steps**-0.5``.

    Use it as the optimizer's ``lr`` with ``warmup_then(LinearWarmup(W), InverseSqrtDecay(W))``.
    """
    d_model = check_int("d_model", d_model, min_value=1)
    warmup_steps = check_int("warmup_steps", warmup_steps, min_value=1)
    factor = check_float("factor", factor, min_value=0.0, min_open=True)
    return factor * d_model**-0.5 * warmup_steps**-0.5


# --------------------------------------------------------------------------------------------
# Theory helpers: untuned warmup (Ma & Yarats 2019) and RAdam's rectification (Liu et al. 2019).
# --------------------------------------------------------------------------------------------


def _check_beta2(beta2: Any) -> float:
    return check_float("beta2", beta2, min_value=0.0, max_value=1.0, min_open=True, max_open=True)


def untuned_warmup_steps(beta2: float, shape: str = "linear") -> int:
    """Warmup length that needs no tuning (Ma & Yarats 2019, arXiv 1910.04209).

    ``2 / (1 - beta2)`` steps for ``shape="linear"`` and ``1 / (1 - beta2)`` (the time constant)
    for ``shape="exponential"``: 2000 and 1000 for Adam's default ``beta2=0.999``. Computed
    exactly: a naive ``int(2 / (1 - 0.999))`` is 1999 in floating point, so the quotient is rounded
    to the nearest integer when it is within 1e-9 of it, and floored otherwise.
    """
    beta2 = _check_beta2(beta2)
    check_choice("shape", shape, ("linear", "exponential"))
    numerator = 2.0 if shape == "linear" else 1.0
    exact = numerator / (1.0 - beta2)
    nearest = round(exact)
    if abs(exact - nearest) <= 1e-9 * max(1.0, exact):
        return int(nearest)
    return math.floor(exact)


def untuned_warmup(beta2: float, shape: str = "linear") -> Schedule:
    """The untuned warmup as a schedule: linear over ``2/(1-beta2)`` steps, or exponential
    saturation ``1 - exp(-t (1 - beta2))`` (time constant ``1/(1-beta2)``)."""
    steps = untuned_warmup_steps(beta2, shape)
    if shape == "linear":
        return LinearWarmup(steps)
    return SaturatingWarmup(tau=float(steps))


def radam_rectification(beta2: float, step: int | np.ndarray) -> float | np.ndarray:
    """RAdam's variance rectification term ``r_t`` (Liu et al. 2019, arXiv 1908.03265).

    ``rho_inf = 2/(1-beta2) - 1``, ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)`` and
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.
    ``step`` is the paper's ``t``: the number of updates so far including this one (1 for the
    first update, i.e. our schedule step ``t - 1``). Where ``rho_t <= 4`` the variance is undefined
    and RAdam takes an un-adapted (SGD-with-momentum) step: this returns 0 there, including t=0.
    Accepts an int (returns float) or an array of ints (returns an array).

    An int is computed exactly as the pytorch_warmup package computes it (Python floats, the C
    library's ``pow`` for ``beta2**t``, the same order of operations), so on any machine the two
    agree to the last bit. An array goes through NumPy, whose vectorised ``power`` may round
    differently by an ulp on some CPUs; near ``rho_t = 4`` the formula magnifies that to ~1e-11.
    """
    beta2 = _check_beta2(beta2)
    scalar = isinstance(step, numbers.Integral) and not isinstance(step, bool)
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    if scalar:
        t = check_int("step", step)
        if t < 1:
            return 0.0
        beta_t = beta2**t  # Python's float power: the C library's pow
    else:
        t = _as_steps(step, "step")
        beta_t = np.power(beta2, t)
    # One formula for both (floats and arrays share the operators), in upstream's order.
    with np.errstate(divide="ignore", invalid="ignore"):
        rho_t = rho_inf - 2.0 * t * beta_t / (1.0 - beta_t)
        ratio = (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        if scalar:
            return math.sqrt(ratio) if rho_t > 4.0 else 0.0
        return np.where((t >= 1) & (rho_t > 4.0), np.sqrt(np.where(rho_t > 4.0, ratio, 0.0)), 0.0)
