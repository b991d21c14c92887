"""Drop-in for the ``pytorch_warmup`` package: warmup as a dampening factor on top of any scheduler.

Many codebases keep their torch scheduler and add warmup by multiplying its learning rate by a
warmup factor during the first steps::

    import warmup_lib.compat.pytorch_warmup as warmup

    lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps)
    warmup_scheduler = warmup.LinearWarmup(optimizer, warmup_period=2000)
    for batch in batches:
        ...
        optimizer.step()
        with warmup_scheduler.dampening():
            lr_scheduler.step()

This module has that package's public API (``LinearWarmup``, ``ExponentialWarmup``,
``UntunedLinearWarmup``, ``UntunedExponentialWarmup``, ``RAdamWarmup``, ``BaseWarmup``, ``rho_fn``,
``rho_inf_fn``, ``get_offset``), its numbers, its error messages word for word, and its
``state_dict`` layout, so checkpoints move between the two in both directions. Tensor learning
rates are supported (each group's tensor is updated in place).

Dampening is the schedule algebra's ``warmup * base``: the LR the scheduler sets, times the
warmup factor. With a ``ScheduleLR`` as the scheduler, the same LRs come from one scheduler,
``ScheduleLR(optimizer, warmup_lib.LinearWarmup(tau - 1, start=1 / tau) * base)``.

**Conventions that differ from the rest of warmup_lib.** They are the package's, kept here so its
numbers carry over unchanged:

* *Step numbering.* The package applies the factor of its step ``t + 1`` to the ``t``-th update
  (counting from 0), so the first update already gets ``1/tau`` and the linear factor
  ``min(1, (t + 1) / tau)`` reaches 1 at update ``tau - 1``. warmup_lib's schedules (and
  transformers') give update ``t`` the factor of step ``t``: ``LinearWarmup(W)`` starts at 0 and
  reaches 1 at step ``W``. The package's linear warmup with period ``tau`` is
  ``LinearWarmup(tau - 1, start=1 / tau)``; its exponential warmup ``1 - exp(-(t + 1) / tau)`` is
  ``SaturatingWarmup(tau)`` one step later, and never reaches exactly 1.
* *The untuned warmup's length.* ``UntunedLinearWarmup`` uses ``int(2 / (1 - beta2))`` steps, which
  is **1999** for Adam's ``beta2 = 0.999`` because ``2 / (1 - 0.999)`` is 1999.9999999999998 in
  floating point (and ``UntunedExponentialWarmup`` uses ``int(1 / (1 - beta2))``, 999).
  ``warmup_lib.untuned_warmup_steps(0.999)`` keeps the paper's ``2 / (1 - beta2)`` = **2000**
  (Ma & Yarats 2019, "On the adequacy of untuned warmup for adaptive optimization",
  arXiv 1910.04209), computed so that the rounding error does not cost a step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.optim import Optimizer

from .._validation import check_int
from ..schedules import LinearWarmup as _LinearRamp
from ..schedules import radam_rectification

__all__ = [
    "BaseWarmup",
    "LinearWarmup",
    "ExponentialWarmup",
    "UntunedLinearWarmup",
    "UntunedExponentialWarmup",
    "RAdamWarmup",
    "rho_fn",
    "rho_inf_fn",
    "get_offset",
]


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{optimizer} ({type(optimizer).__name__}) is not an Optimizer.")


def _get_lr(group: dict[str, Any]) -> Any:
    lr = group["lr"]
    if isinstance(lr, torch.Tensor):
        if lr.dim() != 0:
            raise ValueError(f"a parameter group's lr must be a number or a 0-d tensor, got a tensor of shape {tuple(lr.shape)}")
        return lr.clone().detach()  # a copy: dampening changes the group's tensor in place
    return lr


def _set_lr(group: dict[str, Any], lr: Any) -> None:
    if isinstance(group["lr"], torch.Tensor):
        group["lr"].copy_(lr)
    else:
        group["lr"] = lr


def _betas2(optimizer: Optimizer, name: str) -> list[float]:
    try:
        return [group["betas"][1] for group in optimizer.param_groups]
    except KeyError:
        raise TypeError(
            f"{name} needs an Adam-family optimizer (Adam, AdamW, NAdam, ...) whose parameter groups "
            f"have 'betas'; got {type(optimizer).__name__}"
        ) from None


class BaseWarmup:
    """Base class of the warmups: multiply each group's LR by a warmup factor ``omega_t`` in [0, 1].

    The constructor dampens the optimizer's LRs for the first update at once. Then, after every
    ``optimizer.step()``, run the LR scheduler's ``step()`` inside ``with warmup.dampening():``
    (or nothing, for a constant LR): the undampened LRs are restored, the scheduler steps, the new
    LRs are remembered and dampened by the next factor. Create the warmup after the scheduler.

    ``warmup_params`` holds one dict of parameters per group; ``last_step`` is the index of the
    last dampened step (-1 before the first); ``lrs`` are the undampened LRs.
    """

    def __init__(self, optimizer: Optimizer, warmup_params: list[dict[str, Any]], last_step: int = -1) -> None:
        self.optimizer = optimizer
        self.warmup_params = warmup_params
        self.last_step = check_int("last_step", last_step, min_value=-1)
        self.lrs = [_get_lr(group) for group in self.optimizer.param_groups]
        self.dampen()

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (the package's layout: warmup_params, last_step, lrs)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (also one saved by the ``pytorch_warmup`` package)."""
        self.__dict__.update(state_dict)

    def dampen(self, step: int | None = None) -> None:
        """Multiply each group's LR by the warmup factor of ``step`` (default: the next step).

        Called by :meth:`dampening`; call it yourself only right after a scheduler's ``step()``.
        """
        if step is None:
            step = self.last_step + 1
        self.last_step = check_int("step", step)
        for group, params in zip(self.optimizer.param_groups, self.warmup_params, strict=True):
            omega = self.warmup_factor(step, **params)
            group["lr"] *= omega

    @contextmanager
    def dampening(self) -> Iterator[None]:
        """Restore the undampened LRs, let the body step the LR scheduler(s), then dampen again.

        ``with warmup.dampening(): lr_scheduler.step()``; with two schedulers step both inside;
        with no scheduler, ``pass``.
        """
        for group, lr in zip(self.optimizer.param_groups, self.lrs, strict=True):
            _set_lr(group, lr)
        yield
        self.lrs = [_get_lr(group) for group in self.optimizer.param_groups]
        self.dampen()

    def warmup_factor(self, step: int, **params: Any) -> float:  # pragma: no cover - abstract
        """The warmup factor ``omega`` at ``step`` for one group's parameters."""
        raise NotImplementedError


def get_warmup_params(warmup_period: Any, group_count: int) -> list[dict[str, int]]:
    """One ``{"warmup_period": n}`` per parameter group, from an int or a list with one per group."""
    if isinstance(warmup_period, list):
        if len(warmup_period) != group_count:
            raise ValueError(
                f"The size of warmup_period ({len(warmup_period)}) does not match the size of param_groups ({group_count})."
            )
        for x in warmup_period:
            if isinstance(x, bool) or not isinstance(x, numbers.Integral):
                raise TypeError(f"An element in warmup_period, {type(x).__name__}, is not an int.")
            if x <= 0:
                raise ValueError(f"An element in warmup_period must be a positive integer, but is {x}.")
        return [dict(warmup_period=int(x)) for x in warmup_period]
    if isinstance(warmup_period, numbers.Integral) and not isinstance(warmup_period, bool):
        if warmup_period <= 0:
            raise ValueError(f"warmup_period must be a positive integer, but is {warmup_period}.")
        return [dict(warmup_period=int(warmup_period)) for _ in range(group_count)]
    raise TypeError(f"{warmup_period} ({type(warmup_period).__name__}) is not a list nor an int.")


class LinearWarmup(BaseWarmup):
    """Linear warmup: ``omega_t = min(1, (t + 1) / tau)`` with ``tau = warmup_period``.

    ``warmup_period`` is an int or a list with one per parameter group. The factor is
    warmup_lib's ``LinearWarmup(tau)`` one step later (see the module docstring).
    """

    def __init__(self, optimizer: Optimizer, warmup_period: int | list[int], last_step: int = -1) -> None:
        _check_optimizer(optimizer)
        warmup_params = get_warmup_params(warmup_period, len(optimizer.param_groups))
        super().__init__(optimizer, warmup_params, last_step)

    def warmup_factor(self, step: int, warmup_period: int) -> float:
        """``min(1, (step + 1) / warmup_period)``."""
        return _LinearRamp(warmup_period)(step + 1)


class ExponentialWarmup(BaseWarmup):
    """Exponential warmup: ``omega_t = 1 - exp(-(t + 1) / tau)`` with ``tau = warmup_period``.

    The factor reaches 63 % at update ``tau - 1`` and never reaches 1 (warmup_lib's
    ``SaturatingWarmup`` is the same curve, one step earlier, and can be made to end).
    """

    def __init__(self, optimizer: Optimizer, warmup_period: int | list[int], last_step: int = -1) -> None:
        _check_optimizer(optimizer)
        warmup_params = get_warmup_params(warmup_period, len(optimizer.param_groups))
        super().__init__(optimizer, warmup_params, last_step)

    def warmup_factor(self, step: int, warmup_period: int) -> float:
        """``1 - exp(-(step + 1) / warmup_period)``, computed as the package computes it."""
        return 1.0 - math.exp(-(step + 1) / warmup_period)


class UntunedLinearWarmup(LinearWarmup):
    """Linear warmup over ``int(2 / (1 - beta2))`` steps per group, beta2 from the group's Adam
    ``betas`` (1999 steps for 0.999; see the module docstring for warmup_lib's 2000)."""

    def __init__(self, optimizer: Optimizer, last_step: int = -1) -> None:
        _check_optimizer(optimizer)
        periods = [int(2.0 / (1.0 - beta2)) for beta2 in _betas2(optimizer, "UntunedLinearWarmup")]
        super().__init__(optimizer, periods, last_step)


class UntunedExponentialWarmup(ExponentialWarmup):
    """Exponential warmup with ``tau = int(1 / (1 - beta2))`` per group (999 for beta2 = 0.999)."""

    def __init__(self, optimizer: Optimizer, last_step: int = -1) -> None:
        _check_optimizer(optimizer)
        periods = [int(1.0 / (1.0 - beta2)) for beta2 in _betas2(optimizer, "UntunedExponentialWarmup")]
        super().__init__(optimizer, periods, last_step)


def rho_inf_fn(beta2: float) -> float:
    """RAdam's ``rho_inf = 2 / (1 - beta2) - 1``."""
    return 2.0 / (1 - beta2) - 1


def rho_fn(t: int, beta2: float, rho_inf: float) -> float:
    """RAdam's ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``."""
    b2t = beta2**t
    return rho_inf - 2 * t * b2t / (1 - b2t)


def get_offset(beta2: float, rho_inf: float) -> int:
    """The smallest ``delta >= 1`` with ``rho_delta > 4`` (where RAdam's rectification is defined)."""
    if not beta2 > 0.6:
        raise ValueError(f"beta2 ({beta2}) must be greater than 0.6")
    offset = 1
    while rho_fn(offset, beta2, rho_inf) <= 4:
        offset += 1
    return offset


class RAdamWarmup(BaseWarmup):
    """RAdam's rectification term as a warmup factor: ``omega_t = r_{t + delta}`` where ``r`` is
    :func:`warmup_lib.radam_rectification` and ``delta`` (:func:`get_offset`) is the first step
    at which it is defined. Needs Adam-family ``betas`` with ``beta2 > 0.6``."""

    def __init__(self, optimizer: Optimizer, last_step: int = -1) -> None:
        _check_optimizer(optimizer)
        warmup_params = [
            dict(beta2=beta2, rho_inf=rho_inf_fn(beta2)) for beta2 in _betas2(optimizer, "RAdamWarmup")
        ]
        for params in warmup_params:
            params["offset"] = get_offset(**params)
        super().__init__(optimizer, warmup_params, last_step)

    def warmup_factor(self, step: int, beta2: float, rho_inf: float, offset: int) -> float:
        """``r_{step + offset}`` for this group's ``beta2``."""
        return radam_rectification(beta2, step + offset)
