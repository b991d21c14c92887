"""Counting optimizer steps: warmup given in epochs or as a fraction of training, turned into steps.

A schedule counts *optimizer steps*. People state warmup in other units — "5 epochs" (Goyal et
al. 2017), "10 % of training" (transformers' ``warmup_ratio``) — and the number of steps those
mean depends on the data set size, the batch per device, the number of devices and gradient
accumulation. :func:`count_steps` does that arithmetic once, the way the frameworks do it, and
shows it::

    >>> plan = count_steps(50_000, 32, epochs=10, devices=4, grad_accumulation_steps=2,
    ...                    warmup_fraction=0.05)
    >>> plan.total_steps, plan.warmup_steps
    (1960, 98)
    >>> print(plan)
    global batch       = 32 per device x 4 device(s) x 2 accumulation = 256 examples per optimizer step
    per device         = ceil(50,000 / 4) = 12,500 examples per epoch
    micro-batches      = ceil(12,500 / 32) = 391 per device per epoch
    optimizer steps    = ceil(391 / 2) = 196 per epoch
    training steps     = ceil(196 x 10 epochs) = 1,960
    warmup steps       = ceil(0.05 x 1,960) = 98
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._validation import check_bool, check_float, check_int

__all__ = ["StepCount", "count_steps"]


@dataclass(frozen=True)
class StepCount:
    """The result of :func:`count_steps`: every intermediate number, and ``str()`` explains them."""

    dataset_size: int
    per_device_batch_size: int
    devices: int
    grad_accumulation_steps: int
    epochs: float
    drop_last: bool
    warmup_fraction: float | None
    warmup_epochs: float | None
    #: Examples behind one optimizer step: per-device batch x devices x accumulation.
    global_batch_size: int
    #: Examples each device sees per epoch (the distributed sampler pads to equal shares).
    examples_per_device: int
    #: Forward/backward passes ("micro-batches") per device per epoch.
    micro_batches_per_epoch: int
    #: Optimizer steps (and scheduler steps) per epoch.
    steps_per_epoch: int
    #: Optimizer steps in the whole run: what ``num_training_steps`` must be.
    total_steps: int
    #: Warmup length in optimizer steps: what ``num_warmup_steps`` must be.
    warmup_steps: int

    def explain(self) -> str:
        """The arithmetic behind every number, one line each, as :func:`count_steps` did it."""
        n, b, d, a = self.dataset_size, self.per_device_batch_size, self.devices, self.grad_accumulation_steps
        share = (
            f"ceil({n:,} / {d}) = {self.examples_per_device:,} examples per epoch"
            if d > 1
            else f"all {n:,} examples per epoch"
        )
        rounding = "floor" if self.drop_last else "ceil"
        lines = [
            f"global batch       = {b} per device x {d} device(s) x {a} accumulation = {self.global_batch_size:,} examples per optimizer step",
            f"per device         = {share}",
            f"micro-batches      = {rounding}({self.examples_per_device:,} / {b}) = {self.micro_batches_per_epoch:,} per device per epoch"
            + (" (the last, incomplete one dropped)" if self.drop_last else ""),
            f"optimizer steps    = ceil({self.micro_batches_per_epoch:,} / {a}) = {self.steps_per_epoch:,} per epoch",
            f"training steps     = ceil({self.steps_per_epoch:,} x {self.epochs:g} epochs) = {self.total_steps:,}",
        ]
        if self.warmup_fraction is not None:
            lines.append(
                f"warmup steps       = ceil({self.warmup_fraction:g} x {self.total_steps:,}) = {self.warmup_steps:,}"
            )
        elif self.warmup_epochs is not None:
            lines.append(
                f"warmup steps       = ceil({self.warmup_epochs:g} epochs x {self.steps_per_epoch:,}) = {self.warmup_steps:,}"
            )
        else:
            lines.append("warmup steps       = 0 (no warmup asked for)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


def _ceil(value: float) -> int:
    """``ceil`` of a product of a decimal fraction and a count, without floating-point surprises.

    ``0.07 * 100`` is ``7.000000000000001`` in floating point, and ``math.ceil`` of it is 8 (the
    slip ``math.ceil(num_training_steps * warmup_ratio)`` makes); rounding to 9 decimals first
    gives the 7 a person means.
    """
    return math.ceil(round(value, 9))


def count_steps(
    dataset_size: int,
    per_device_batch_size: int,
    *,
    epochs: float = 1,
    devices: int = 1,
    grad_accumulation_steps: int = 1,
    warmup_fraction: float | None = None,
    warmup_epochs: float | None = None,
    drop_last: bool = False,
) -> StepCount:
    """Optimizer steps per epoch, in the whole run and in the warmup; ``print()`` it for the arithmetic.

    The count follows what a data-parallel PyTorch run does:

    1. a ``DistributedSampler`` gives each of the ``devices`` processes ``ceil(dataset_size /
       devices)`` examples per epoch (it repeats a few to make the shares equal);
    2. each device's ``DataLoader`` turns them into ``ceil(examples / per_device_batch_size)``
       micro-batches (``floor`` with ``drop_last=True``);
    3. with gradient accumulation the optimizer steps once every ``grad_accumulation_steps``
       micro-batches, and once more for a shorter window at the end of an epoch:
       ``ceil(micro_batches / grad_accumulation_steps)`` steps per epoch — the rule of
       Lightning's ``trainer.estimated_stepping_batches``. (Some trainers drop that shorter window:
       transformers' Trainer has used ``len(dataloader) // gradient_accumulation_steps``; the two
       differ only when the accumulation does not divide the micro-batches.)
    4. training lasts ``ceil(steps_per_epoch x epochs)`` steps, and the warmup
       ``ceil(warmup_fraction x total_steps)`` steps (transformers' rule for ``warmup_ratio``) or
       ``ceil(warmup_epochs x steps_per_epoch)``.

    Give at most one of ``warmup_fraction`` (in [0, 1]) and ``warmup_epochs`` (>= 0, at most
    ``epochs``); with neither, ``warmup_steps`` is 0. Pass ``total_steps`` and ``warmup_steps`` to
    a scheduler that you step once per optimizer step. The warmup in *steps* changes with
    ``devices`` when it is given in epochs (more devices: fewer, larger steps per epoch).
    """
    dataset_size = check_int("dataset_size", dataset_size, min_value=1)
    per_device_batch_size = check_int("per_device_batch_size", per_device_batch_size, min_value=1)
    epochs = check_float("epochs", epochs, min_value=0.0, min_open=True)
    devices = check_int("devices", devices, min_value=1)
    grad_accumulation_steps = check_int("grad_accumulation_steps", grad_accumulation_steps, min_value=1)
    drop_last = check_bool("drop_last", drop_last)
    if warmup_fraction is not None and warmup_epochs is not None:
        raise ValueError(
            f"give warmup_fraction or warmup_epochs, not both (got warmup_fraction={warmup_fraction!r} "
            f"and warmup_epochs={warmup_epochs!r})"
        )
    if warmup_fraction is not None:
        warmup_fraction = check_float("warmup_fraction", warmup_fraction, min_value=0.0, max_value=1.0)
    if warmup_epochs is not None:
        warmup_epochs = check_float("warmup_epochs", warmup_epochs, min_value=0.0, max_value=epochs)

    examples_per_device = math.ceil(dataset_size / devices)
    if drop_last:
        micro_batches = examples_per_device // per_device_batch_size
        if micro_batches == 0:
            raise ValueError(
                f"per_device_batch_size must be <= {examples_per_device} (the examples each of the {devices} "
                f"device(s) gets per epoch) with drop_last=True, got {per_device_batch_size}: every batch would be dropped"
            )
    else:
        micro_batches = math.ceil(examples_per_device / per_device_batch_size)
    steps_per_epoch = math.ceil(micro_batches / grad_accumulation_steps)
    total_steps = _ceil(steps_per_epoch * epochs)
    if warmup_fraction is not None:
        warmup_steps = _ceil(warmup_fraction * total_steps)
    elif warmup_epochs is not None:
        warmup_steps = min(_ceil(warmup_epochs * steps_per_epoch), total_steps)
    else:
        warmup_steps = 0
    return StepCount(
        dataset_size=dataset_size,
        per_device_batch_size=per_device_batch_size,
        devices=devices,
        grad_accumulation_steps=grad_accumulation_steps,
        epochs=epochs,
        drop_last=drop_last,
        warmup_fraction=warmup_fraction,
        warmup_epochs=warmup_epochs,
        global_batch_size=per_device_batch_size * devices * grad_accumulation_steps,
        examples_per_device=examples_per_device,
        micro_batches_per_epoch=micro_batches,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        warmup_steps=warmup_steps,
    )
