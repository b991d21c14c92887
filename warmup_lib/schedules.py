"""Learning-rate schedules as pure, immutable functions of the optimizer step.

Conventions (they hold for every schedule in this module):

* A schedule returns the **LR multiplier**, a factor of the peak LR. The peak LR is the ``lr`` the
  optimizer was built with, so one schedule drives every parameter group from its own base LR,
  exactly like ``torch.optim.lr_scheduler.LambdaLR`` and the transformers schedules.
* ``schedule(k)`` is the multiplier used by the ``(k+1)``-th optimizer update: step 0 is the first
  update. Steps count optimizer updates, not micro-batches (with gradient accumulation over 4
  micro-batches, 1000 micro-batches are 250 steps).
* ``schedule.curve(steps)`` evaluates a whole NumPy array of steps at once (for plots and tables);
  ``schedule(step)`` evaluates one step and returns a Python ``float``.
* Warmups rise from ``start`` at step 0 to exactly 1 at step ``warmup_steps`` and hold 1 after it.
  Decays start at 1 at their own step 0. ``join`` glues phases described by their lengths, and
  ``warmup_then(warmup, decay)`` is the common case.
* Schedules are frozen dataclasses: hashable, picklable, comparable, and ``to_dict`` /
  ``schedule_from_dict`` turn them into plain data (for checkpoints loaded with
  ``torch.load(..., weights_only=True)``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ._validation import check_choice, check_float, check_int

__all__ = [
    "Schedule",
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
    "join",
    "warmup_then",
    "wsd",
    "noam_peak_lr",
    "untuned_warmup_steps",
    "untuned_warmup",
    "radam_rectification",
    "schedule_from_dict",
    "WARMUP_SHAPES",
]

_REGISTRY: dict[str, type[Schedule]] = {}


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


class Schedule:
    """Base class: a pure function ``step -> LR multiplier``.

    Subclasses are frozen dataclasses implementing ``_curve(t)`` on a float64 array of
    validated, non-negative whole steps.
    """

    #: Number of steps until the multiplier first reaches its peak (0 for decays).
    warmup_steps: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _REGISTRY[cls.__name__] = cls

    def _curve(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def curve(self, steps: Any) -> np.ndarray:
        """Multipliers at every step of ``steps`` (array-like of whole numbers >= 0), as float64."""
        t = _as_steps(steps)
        return np.asarray(self._curve(t), dtype=np.float64)

    def __call__(self, step: int) -> float:
        """Multiplier used by the ``(step+1)``-th optimizer update."""
        value = check_int("step", step, min_value=0)
        return float(self._curve(np.array([value], dtype=np.float64))[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain-data description (nested dicts, lists, numbers, strings) that rebuilds the schedule."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            out[field.name] = _to_plain(getattr(self, field.name))
        return out


def _to_plain(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


def schedule_from_dict(spec: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise TypeError(f"spec must be a dict made by Schedule.to_dict() with a 'type' key, got {spec!r}")
    kind = spec["type"]
    if kind not in _REGISTRY:
        raise ValueError(f"spec['type'] must name a schedule class ({', '.join(sorted(_REGISTRY))}); got {kind!r}")
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    if kind == "Joined":
        phases = tuple(schedule_from_dict(p) for p in kwargs["phases"])
        lengths = tuple(kwargs["lengths"])
        return Joined(phases=phases, lengths=lengths)
    return _REGISTRY[kind](**kwargs)


def _factor(name: str, value: Any, *, low: float = 0.0, high: float = 1.0) -> float:
    return check_float(name, value, min_value=low, max_value=high)


# --------------------------------------------------------------------------------------------
# Warmups: start -> 1 over warmup_steps, then hold 1.
# --------------------------------------------------------------------------------------------


def _progress(t: np.ndarray, warmup_steps: int) -> np.ndarray:
    """Fraction of warmup done, clipped to [0, 1] (``s / W`` as transformers computes it).

    A zero-length warmup is already done at step 0.
    """
    if warmup_steps == 0:
        return np.ones_like(t)
    return np.minimum(t / warmup_steps, 1.0)


@dataclass(frozen=True)
class _Ramp(Schedule):
    """Shared shape of the ramps: ``start + (1 - start) * ramp(min(1, t / W))``, then 1."""

    warmup_steps: int
    start: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps))
        object.__setattr__(self, "start", _factor("start", self.start))

    def _ramp(self, progress: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _curve(self, t: np.ndarray) -> np.ndarray:
        ramp = self._ramp(_progress(t, self.warmup_steps))
        if self.start == 0.0:  # keep transformers' exact arithmetic, e.g. float(s) / float(W)
            return ramp
        return self.start + (1.0 - self.start) * ramp


@dataclass(frozen=True)
class LinearWarmup(_Ramp):
    """Linear warmup: ``start + (1 - start) * min(1, t / W)``.

    With ``start=0`` this is transformers' warmup (multiplier 0 at step 0, a wasted first update);
    ``start=1/W`` avoids it. Goyal et al. 2017 (arXiv 1706.02677).
    """

    def _ramp(self, progress: np.ndarray) -> np.ndarray:
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

    def _curve(self, t: np.ndarray) -> np.ndarray:
        if self.warmup_steps == 0:
            return np.ones_like(t)
        remaining = np.maximum(self.warmup_steps - t, 0.0)
        # Multiply before dividing so whole-decade points (t = W/3 for start=1e-3) are exact.
        return np.power(10.0, math.log10(self.start) * remaining / self.warmup_steps)


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

    def _curve(self, t: np.ndarray) -> np.ndarray:
        rise = -np.expm1(-t / self.tau)  # 1 - exp(-t/tau), accurate for small t
        if self.warmup_steps is not None:
            rise = np.minimum(rise / -math.expm1(-self.warmup_steps / self.tau), 1.0)
        return self.start + (1.0 - self.start) * rise


@dataclass(frozen=True)
class CosineWarmup(_Ramp):
    """Cosine ramp: ``start + (1 - start) * (1 - cos(pi * min(1, t / W))) / 2`` — slow, fast, slow."""

    def _ramp(self, progress: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 - np.cos(math.pi * progress))


@dataclass(frozen=True)
class OneMinusSqrtWarmup(_Ramp):
    """Warmup ``start + (1 - start) * (1 - sqrt(1 - min(1, t / W)))`` (WSD's "1-sqrt" warmup type)."""

    def _ramp(self, progress: np.ndarray) -> np.ndarray:
        return 1.0 - np.sqrt(1.0 - progress)


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

    def _curve(self, t: np.ndarray) -> np.ndarray:
        return np.where(t < self.warmup_steps, self.factor, 1.0)


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

    def _curve(self, t: np.ndarray) -> np.ndarray:
        return np.full_like(t, self.value)


@dataclass(frozen=True)
class _Fall(Schedule):
    """Shared shape of the falls: ``end + (1 - end) * fall(t)`` with ``fall`` going 1 -> 0 over D."""

    decay_steps: int
    end: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay_steps", check_int("decay_steps", self.decay_steps))
        object.__setattr__(self, "end", _factor("end", self.end))

    def _fall(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _curve(self, t: np.ndarray) -> np.ndarray:
        down = self._fall(t)
        if self.end == 0.0:  # keep transformers' exact arithmetic
            return down
        return self.end + (1.0 - self.end) * down


@dataclass(frozen=True)
class LinearDecay(_Fall):
    """Linear decay ``end + (1 - end) * max(0, (D - t) / max(1, D))``: 1 at t=0, ``end`` from t=D on."""

    def _fall(self, t: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, (self.decay_steps - t) / max(1, self.decay_steps))


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

    def _curve(self, t: np.ndarray) -> np.ndarray:
        progress = t / max(1, self.decay_steps)
        wave = 0.5 * (1.0 + np.cos(math.pi * self.cycles * 2.0 * progress))
        if self.end == 0.0:
            return np.maximum(0.0, wave)
        return np.maximum(0.0, wave * (1.0 - self.end) + self.end)


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

    def _curve(self, t: np.ndarray) -> np.ndarray:
        progress = t / max(1, self.decay_steps)
        wave = np.maximum(0.0, 0.5 * (1.0 + np.cos(math.pi * ((float(self.cycles) * progress) % 1.0))))
        wave = np.where(progress >= 1.0, 0.0, wave)
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

    def _curve(self, t: np.ndarray) -> np.ndarray:
        if self.decay_steps == 0:  # no decay phase: already at the end (as LinearDecay(0) is)
            return np.full_like(t, self.end)
        remaining = np.maximum(1.0 - t / self.decay_steps, 0.0)
        return (1.0 - self.end) * remaining**self.power + self.end


@dataclass(frozen=True)
class InverseSqrtDecay(Schedule):
    """Inverse square-root decay ``1 / sqrt((t + timescale) / timescale)``.

    After a linear warmup of ``W`` steps with ``timescale = W`` this is the Transformer's "Noam"
    schedule (Vaswani et al. 2017, arXiv 1706.03762): LR proportional to ``1/sqrt(step)``.
    """

    timescale: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "timescale", check_int("timescale", self.timescale, min_value=1))

    def _curve(self, t: np.ndarray) -> np.ndarray:
        return 1.0 / np.sqrt((t + self.timescale) / self.timescale)


@dataclass(frozen=True)
class StepDecay(Schedule):
    """Step decay ``gamma ** floor(t / step_size)`` (torch's ``StepLR``)."""

    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "step_size", check_int("step_size", self.step_size, min_value=1))
        object.__setattr__(self, "gamma", check_float("gamma", self.gamma, min_value=0.0, max_value=1.0, min_open=True))

    def _curve(self, t: np.ndarray) -> np.ndarray:
        return self.gamma ** np.floor(t / self.step_size)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """Exponential decay ``gamma ** t`` (torch's ``ExponentialLR``, stepped every update)."""

    gamma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "gamma", check_float("gamma", self.gamma, min_value=0.0, max_value=1.0, min_open=True))

    def _curve(self, t: np.ndarray) -> np.ndarray:
        return self.gamma**t


@dataclass(frozen=True)
class OneMinusSqrtDecay(_Fall):
    """Decay ``end + (1 - end) * (1 - sqrt(min(1, t / D)))`` (WSD's "1-sqrt" cooldown, Hägele et al. 2024)."""

    def _fall(self, t: np.ndarray) -> np.ndarray:
        return 1.0 - np.sqrt(np.minimum(t / max(1, self.decay_steps), 1.0))


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

    def _anneal(self, start: float, end: float, pct: np.ndarray) -> np.ndarray:
        if self.anneal == "cos":
            return end + (start - end) / 2.0 * (np.cos(math.pi * pct) + 1)
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
            out[mask] = self._anneal(lo, hi, pct)
            assigned |= mask
            phase_start = phase_end
        return out


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
    """
    beta2 = _check_beta2(beta2)
    scalar = isinstance(step, numbers.Integral) and not isinstance(step, bool)
    if scalar:
        t = np.array([check_int("step", step)], dtype=np.float64)
    else:
        t = _as_steps(step, "step")
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        beta_t = np.power(beta2, t)
        rho_t = rho_inf - 2.0 * t * beta_t / (1.0 - beta_t)
        ratio = (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        r = np.where((t >= 1) & (rho_t > 4.0), np.sqrt(np.where(rho_t > 4.0, ratio, 0.0)), 0.0)
    return float(r[0]) if scalar else r
