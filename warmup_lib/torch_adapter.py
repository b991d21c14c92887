"""The torch adapter: any warmup_lib schedule as a genuine ``torch.optim.lr_scheduler.LRScheduler``."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from ._validation import check_int, check_optimizer
from .schedules import Schedule, schedule_from_dict

__all__ = ["ScheduleLR"]

# Multipliers are evaluated a block at a time with the vectorised curve and looked up per step,
# so ``step()`` costs a list index instead of a NumPy call (see benchmarks/run.py).
_BLOCK = 4096


class ScheduleLR(LRScheduler):
    """Drive an optimizer's learning rates with a :class:`~warmup_lib.schedules.Schedule`.

    Every parameter group gets ``lr = base_lr * schedule(step)``, where ``base_lr`` is the group's
    own initial ``lr`` (its peak) and ``step`` is ``last_epoch``, the number of ``scheduler.step()``
    calls so far. Call ``optimizer.step()`` then ``scheduler.step()`` once per update, as with any
    torch scheduler: the ``(k+1)``-th update uses ``schedule(k)``.

    It is a real ``LRScheduler`` (``get_last_lr``, ``SequentialLR``, ``ChainedScheduler``), its
    ``state_dict()`` is plain data (the schedule is stored via ``Schedule.to_dict()``, never as a
    function), so it saves with ``torch.save`` and loads with ``torch.load(weights_only=True)``,
    and it pickles. Like ``LambdaLR`` it is closed-form: it ignores what other schedulers did to
    ``group["lr"]``.
    """

    def __init__(self, optimizer: Optimizer, schedule: Schedule, last_epoch: int = -1) -> None:
        check_optimizer("optimizer", optimizer)
        if not isinstance(schedule, Schedule):
            raise TypeError(
                "schedule must be a warmup_lib Schedule (e.g. warmup_then(LinearWarmup(100), "
                f"CosineDecay(900))), got {type(schedule).__name__}"
            )
        check_int("last_epoch", last_epoch, min_value=-1)
        self.schedule = schedule
        self._blocks: dict[int, list[float]] = {}
        super().__init__(optimizer, last_epoch)

    def multiplier(self, step: int) -> float:
        """``schedule(step)``, served from a cache of vectorised blocks."""
        index, offset = divmod(step, _BLOCK)
        block = self._blocks.get(index)
        if block is None:
            start = index * _BLOCK
            block = self.schedule.curve(np.arange(start, start + _BLOCK)).tolist()
            if len(self._blocks) > 64:  # bound memory for very long runs
                self._blocks.clear()
            self._blocks[index] = block
        return block[offset]

    def get_lr(self) -> list[float]:
        """Learning rates for the current ``last_epoch``: each group's base LR times the multiplier."""
        factor = self.multiplier(max(self.last_epoch, 0))
        return [base_lr * factor for base_lr in self.base_lrs]

    # The schedule is a closed form, so stepping to an explicit epoch (as SequentialLR does at its
    # milestones) is exact.
    _get_closed_form_lr = get_lr

    def state_dict(self) -> dict[str, Any]:
        """Scheduler state as plain data: counters, base LRs and the schedule's ``to_dict()``."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "schedule", "_blocks")}
        state["schedule"] = self.schedule.to_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output; the saved schedule replaces the current one."""
        state = dict(state_dict)
        spec = state.pop("schedule", None)
        self.__dict__.update(state)
        if spec is not None:
            self.schedule = schedule_from_dict(spec)
        self._blocks = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_blocks"] = {}
        return state

    def __repr__(self) -> str:
        return f"ScheduleLR(step={self.last_epoch}, schedule={self.schedule!r})"
