"""Drop-in builders with transformers' names, signatures and numbers, returning a real LRScheduler.

Each ``get_*`` function here gives, at every step, the same learning rates as the function of the
same name in ``transformers.optimization`` — including its quirk that the linear warmup starts at
LR 0, so the first update is wasted — without depending on transformers. Unlike transformers,
every argument is validated before anything is built, the result is a
:class:`~warmup_lib.torch_adapter.ScheduleLR` whose ``state_dict()`` is plain data, and edge
cases transformers crashes on (polynomial decay with warmup equal to training) return the limit.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch.optim import Optimizer

from ._validation import check_choice, check_float, check_int, check_optimizer
from .schedules import (
    Constant,
    CosineDecay,
    CosineRestartsDecay,
    InverseSqrtDecay,
    LinearDecay,
    LinearWarmup,
    PolynomialDecay,
    warmup_then,
    wsd,
)
from .torch_adapter import ScheduleLR

__all__ = [
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_linear_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_inverse_sqrt_schedule",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_wsd_schedule",
]


def _check_common(optimizer: Any, last_epoch: Any) -> int:
    check_optimizer("optimizer", optimizer)
    return check_int("last_epoch", last_epoch, min_value=-1)


def _check_warmup_and_total(num_warmup_steps: Any, num_training_steps: Any) -> tuple[int, int]:
    warmup = check_int("num_warmup_steps", num_warmup_steps)
    total = check_int("num_training_steps", num_training_steps, min_value=1)
    if warmup > total:
        raise ValueError(
            f"num_warmup_steps ({warmup}) must be <= num_training_steps ({total}): "
            "warmup cannot be longer than training"
        )
    return warmup, total


def _peak_lr(optimizer: Optimizer) -> float:
    return check_float("optimizer lr", optimizer.defaults["lr"], min_value=0.0, min_open=True)


def get_constant_schedule(optimizer: Optimizer, last_epoch: int = -1) -> ScheduleLR:
    """Constant learning rate: the ``lr`` set in the optimizer at every step (multiplier 1)."""
    last_epoch = _check_common(optimizer, last_epoch)
    return ScheduleLR(optimizer, Constant(), last_epoch)


def get_constant_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, last_epoch: int = -1
) -> ScheduleLR:
    """Linear warmup ``s / max(1, W)`` for ``s < W``, then the optimizer's ``lr`` forever."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup = check_int("num_warmup_steps", num_warmup_steps)
    return ScheduleLR(optimizer, warmup_then(LinearWarmup(warmup), Constant()), last_epoch)


def get_linear_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, last_epoch: int = -1
) -> ScheduleLR:
    """Linear warmup ``s / max(1, W)``, then linear decay ``max(0, (T - s) / max(1, T - W))`` to 0."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _check_warmup_and_total(num_warmup_steps, num_training_steps)
    return ScheduleLR(optimizer, warmup_then(LinearWarmup(warmup), LinearDecay(total - warmup)), last_epoch)


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
    warmup, total = _check_warmup_and_total(num_warmup_steps, num_training_steps)
    cycles = check_float("num_cycles", num_cycles, min_value=0.0)
    schedule = warmup_then(LinearWarmup(warmup), CosineDecay(total - warmup, cycles=cycles))
    return ScheduleLR(optimizer, schedule, last_epoch)


def get_cosine_with_hard_restarts_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: int = 1,
    last_epoch: int = -1,
) -> ScheduleLR:
    """Linear warmup, then ``num_cycles`` half-cosines from the peak to 0 with hard restarts
    (``(1 + cos(pi ((c p) mod 1))) / 2``), and 0 from step ``T`` on."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _check_warmup_and_total(num_warmup_steps, num_training_steps)
    cycles = check_int("num_cycles", num_cycles, min_value=1)
    schedule = warmup_then(LinearWarmup(warmup), CosineRestartsDecay(total - warmup, cycles=cycles))
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
    ``lr_end`` at step ``T`` and after; ``lr_init`` is the optimizer's default ``lr``."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup, total = _check_warmup_and_total(num_warmup_steps, num_training_steps)
    lr_init = _peak_lr(optimizer)
    lr_end = check_float("lr_end", lr_end, min_value=0.0)
    if not lr_end < lr_init:
        raise ValueError(f"lr_end ({lr_end}) must be smaller than the optimizer's initial lr ({lr_init})")
    power = check_float("power", power, min_value=0.0, min_open=True)
    decay = PolynomialDecay(total - warmup, end=lr_end / lr_init, power=power)
    return ScheduleLR(optimizer, warmup_then(LinearWarmup(warmup), decay), last_epoch)


def get_inverse_sqrt_schedule(
    optimizer: Optimizer, num_warmup_steps: int, timescale: int | None = None, last_epoch: int = -1
) -> ScheduleLR:
    """Linear warmup, then ``1 / sqrt((s + timescale - W) / timescale)``; ``timescale`` defaults to
    ``num_warmup_steps``, or 10 000 when that is 0 (big_vision's and transformers' choice)."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup = check_int("num_warmup_steps", num_warmup_steps)
    if timescale is None:
        timescale = warmup or 10_000
    timescale = check_int("timescale", timescale, min_value=1)
    return ScheduleLR(optimizer, warmup_then(LinearWarmup(warmup), InverseSqrtDecay(timescale)), last_epoch)


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
    warmup, total = _check_warmup_and_total(num_warmup_steps, num_training_steps)
    cycles = check_float("num_cycles", num_cycles, min_value=0.0)
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("give only one of min_lr (an absolute LR) or min_lr_rate (a fraction of lr), not both")
    if min_lr is not None:
        lr_init = _peak_lr(optimizer)
        min_lr = check_float("min_lr", min_lr, min_value=0.0, max_value=lr_init)
        min_lr_rate = min_lr / lr_init
    elif min_lr_rate is None:
        raise ValueError("one of min_lr (an absolute LR) or min_lr_rate (a fraction of lr in [0, 1]) is required")
    rate = check_float("min_lr_rate", min_lr_rate, min_value=0.0, max_value=1.0)
    schedule = warmup_then(LinearWarmup(warmup), CosineDecay(total - warmup, end=rate, cycles=cycles))
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
    (if both are given, ``num_stable_steps`` wins with a warning, as in transformers)."""
    last_epoch = _check_common(optimizer, last_epoch)
    warmup = check_int("num_warmup_steps", num_warmup_steps)
    decay = check_int("num_decay_steps", num_decay_steps)
    check_choice("warmup_type", warmup_type, ("linear", "cosine", "1-sqrt"))
    check_choice("decay_type", decay_type, ("linear", "cosine", "1-sqrt"))
    ratio = check_float("min_lr_ratio", min_lr_ratio, min_value=0.0, max_value=1.0)
    cycles = check_float("num_cycles", num_cycles, min_value=0.0)
    if num_training_steps is None and num_stable_steps is None:
        raise ValueError("give num_training_steps or num_stable_steps (the length of the constant phase)")
    if num_stable_steps is not None:
        if num_training_steps is not None:
            check_int("num_training_steps", num_training_steps, min_value=1)
            warnings.warn(
                "both num_training_steps and num_stable_steps are given; num_stable_steps is used",
                UserWarning,
                stacklevel=2,
            )
        stable = check_int("num_stable_steps", num_stable_steps)
    else:
        total = check_int("num_training_steps", num_training_steps, min_value=1)
        stable = total - warmup - decay
        if stable < 0:
            raise ValueError(
                f"WSD phases do not fit: num_warmup_steps ({warmup}) + num_decay_steps ({decay}) = "
                f"{warmup + decay} > num_training_steps ({total})"
            )
    schedule = wsd(
        warmup, stable, decay, warmup_type=warmup_type, decay_type=decay_type, min_ratio=ratio, cycles=cycles
    )
    return ScheduleLR(optimizer, schedule, last_epoch)

