"""The torch adapter: any warmup_lib schedule as a genuine ``torch.optim.lr_scheduler.LRScheduler``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from ._validation import check_int, check_optimizer
from .schedules import Schedule, schedule_from_dict

__all__ = ["ScheduleLR", "record_lrs"]

# Keys of a LambdaLR state_dict (transformers' builders return LambdaLR) that mean nothing here:
# the lambdas themselves are never in a checkpoint, only their __dict__ or None.
_FOREIGN_KEYS = ("lr_lambdas",)


class ScheduleLR(LRScheduler):
    """Drive an optimizer's learning rates with :class:`~warmup_lib.schedules.Schedule` objects.

    Every parameter group gets ``lr = base_lr * schedule(step)``, where ``base_lr`` is the group's
    own initial ``lr`` (its peak) and ``step`` is ``last_epoch``, the number of ``scheduler.step()``
    calls so far. Call ``optimizer.step()`` then ``scheduler.step()`` once per update, as with any
    torch scheduler: the ``(k+1)``-th update uses ``schedule(k)``.

    ``schedule`` is one schedule for every group, or a list with one per parameter group (as
    ``LambdaLR`` takes a list of lambdas): ``ScheduleLR(optimizer, [warmup * decay, decay])``.
    ``scheduler.schedule = Constant(0.5)`` (or ``scheduler.schedules = [...]``) replaces the
    schedule from the next ``step()`` on; nothing is cached.

    It is a real ``LRScheduler`` (``get_last_lr``, ``SequentialLR``, ``ChainedScheduler``), its
    ``state_dict()`` is plain data (each schedule is stored via ``Schedule.to_dict()``, never as
    a function), so it saves with ``torch.save`` and loads with ``torch.load(weights_only=True)``,
    and it pickles. Like ``LambdaLR`` it is closed-form: it ignores what other schedulers did to
    ``group["lr"]``.

    Checkpoints and transformers: the ``state_dict`` of a transformers scheduler (a ``LambdaLR``)
    loads into a ``ScheduleLR`` (its step counters and base LRs are taken; a ``LambdaLR``
    checkpoint holds no schedule, so this scheduler keeps its own). The other way round does not
    work: ``LambdaLR.load_state_dict`` requires an ``"lr_lambdas"`` entry that a ``ScheduleLR``
    checkpoint does not have (``KeyError``), and a ``LambdaLR`` could not use the schedule stored
    here anyway. To move a run to transformers, build its scheduler with
    ``last_epoch=state["last_epoch"]`` after loading the optimizer's state.
    """

    def __init__(
        self, optimizer: Optimizer, schedule: Schedule | Sequence[Schedule], last_epoch: int = -1
    ) -> None:
        check_optimizer("optimizer", optimizer)
        self.optimizer = optimizer  # the schedules setter counts its parameter groups
        self.schedules = schedule
        check_int("last_epoch", last_epoch, min_value=-1)
        super().__init__(optimizer, last_epoch)

    # ---- the schedules ------------------------------------------------------------------------

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """One schedule per parameter group (the same schedule repeated when they share one)."""
        return self._schedules

    @schedules.setter
    def schedules(self, value: Schedule | Sequence[Schedule]) -> None:
        groups = len(self.optimizer.param_groups)
        if isinstance(value, Schedule):
            schedules = (value,) * groups
        elif isinstance(value, list | tuple):
            if len(value) != groups:
                raise ValueError(
                    f"schedule must be one Schedule or a list with one per parameter group: the "
                    f"optimizer has {groups} parameter groups, but {len(value)} schedules were given"
                )
            schedules = tuple(value)
        else:
            schedules = (value,)
        for i, item in enumerate(schedules):
            if not isinstance(item, Schedule):
                where = "schedule" if isinstance(value, Schedule) or len(schedules) == 1 else f"schedule[{i}]"
                raise TypeError(
                    f"{where} must be a warmup_lib Schedule (e.g. warmup_then(LinearWarmup(100), "
                    f"CosineDecay(900))), got {type(item).__name__}"
                )
        self._schedules = schedules
        # One shared schedule (or equal ones) is evaluated once per step, not once per group.
        self._shared = all(s == schedules[0] for s in schedules)

    @property
    def schedule(self) -> Schedule:
        """The schedule every parameter group follows; assigning one applies it to all groups."""
        if not self._shared:
            raise AttributeError(
                "this ScheduleLR has one schedule per parameter group; read .schedules instead"
            )
        return self._schedules[0]

    @schedule.setter
    def schedule(self, value: Schedule) -> None:
        if not isinstance(value, Schedule):
            raise TypeError(
                f"schedule must be a warmup_lib Schedule; for one per parameter group assign a "
                f"list to .schedules; got {type(value).__name__}"
            )
        self.schedules = value

    # ---- the learning rates -------------------------------------------------------------------

    def _lrs_at(self, step: int) -> list[Any]:
        t = float(step) if step > 0 else 0.0  # SequentialLR rewinds to -1 before stepping us
        if self._shared:
            factor = self._schedules[0]._value(t)
            return [base_lr * factor for base_lr in self.base_lrs]
        return [base_lr * s._value(t) for base_lr, s in zip(self.base_lrs, self._schedules, strict=True)]

    def get_lr(self) -> list[Any]:
        """Learning rates for the current ``last_epoch``: each group's base LR times its multiplier.

        Called by ``step()``; read the current LRs with ``get_last_lr()``. Like torch's own
        schedulers it warns when called outside ``step()``.
        """
        # torch's step() raises this flag around its get_lr() call (torch.optim.lr_scheduler's
        # _enable_get_lr_call); its schedulers warn with this message when it is down.
        if not getattr(self, "_get_lr_called_within_step", False):
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=2,
            )
        return self._lrs_at(self.last_epoch)

    def _get_closed_form_lr(self) -> list[Any]:
        # The schedule is a closed form, so stepping to an explicit epoch (as SequentialLR does
        # at its milestones) is exact.
        return self._lrs_at(self.last_epoch)

    # ---- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Scheduler state as plain data: counters, base LRs and each schedule's ``to_dict()``.

        One shared schedule is stored under ``"schedule"``; per-group schedules under
        ``"schedules"`` (a list).
        """
        state = {
            k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedules", "_shared")
        }
        if self._shared:
            state["schedule"] = self._schedules[0].to_dict()
        else:
            state["schedules"] = [s.to_dict() for s in self._schedules]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output; the saved schedules replace the current ones.

        A ``LambdaLR`` state (e.g. from transformers' builders) also loads: its counters and
        base LRs are restored and this scheduler keeps its schedules.
        """
        state = {k: v for k, v in state_dict.items() if k not in _FOREIGN_KEYS}
        single = state.pop("schedule", None)
        per_group = state.pop("schedules", None)
        if single is not None:
            schedules: Any = schedule_from_dict(single)
        elif per_group is not None:
            schedules = [schedule_from_dict(spec) for spec in per_group]
        else:
            schedules = self._schedules
        self.schedules = schedules  # validates the count against this optimizer
        self.__dict__.update(state)

    def __repr__(self) -> str:
        if self._shared:
            return f"ScheduleLR(step={self.last_epoch}, schedule={self._schedules[0]!r})"
        return f"ScheduleLR(step={self.last_epoch}, schedules={list(self._schedules)!r})"


def record_lrs(scheduler: LRScheduler, steps: int, *, group: int | None = 0) -> np.ndarray:
    """Play ``steps`` updates and return the learning rate each one used: a schedule's LRs, read from torch.

    Works with any torch ``LRScheduler`` (``LambdaLR``, ``SequentialLR``, ``OneCycleLR``,
    :class:`ScheduleLR`, ...). Each step reads the LR from ``optimizer.param_groups`` *before* the
    update, then calls ``optimizer.step()`` and ``scheduler.step()``, as a training loop does. No
    gradients are computed, so no weight moves; the scheduler (and its optimizer's step counts)
    advance by ``steps``. Returns an array of ``steps`` LRs for parameter group ``group``, or with
    ``group=None`` one column per group (shape ``(steps, groups)``).
    """
    if not isinstance(scheduler, LRScheduler):
        raise TypeError(
            "scheduler must be a torch LRScheduler (e.g. LambdaLR, SequentialLR or ScheduleLR), got "
            f"{type(scheduler).__name__}; ReduceLROnPlateau needs a metric every step and cannot be played"
        )
    steps = check_int("steps", steps)
    groups = len(scheduler.optimizer.param_groups)
    if group is not None:
        group = check_int("group", group, max_value=groups - 1)
    lrs = np.empty((steps, groups))
    for step in range(steps):
        lrs[step] = [float(g["lr"]) for g in scheduler.optimizer.param_groups]
        scheduler.optimizer.step()  # without gradients this changes no weight
        scheduler.step()
    return lrs if group is None else lrs[:, group]
