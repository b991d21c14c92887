"""Tests of warmup_lib.step_counting: the counts match real PyTorch loaders, and bad arguments are named."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, DistributedSampler

from warmup_lib import step_counting
from warmup_lib.step_counting import StepCount, count_steps


def test_docstring_example_runs_as_written():
    assert doctest.testmod(step_counting).failed == 0


def test_worked_example_numbers_and_arithmetic_text():
    plan = count_steps(50_000, 32, epochs=10, devices=4, grad_accumulation_steps=2, warmup_fraction=0.05)
    assert isinstance(plan, StepCount)
    assert plan.global_batch_size == 256
    assert (plan.examples_per_device, plan.micro_batches_per_epoch, plan.steps_per_epoch) == (12_500, 391, 196)
    assert (plan.total_steps, plan.warmup_steps) == (1960, 98)
    text = str(plan)
    for piece in ("256 examples per optimizer step", "ceil(50,000 / 4) = 12,500", "ceil(391 / 2) = 196", "= 1,960", "= 98"):
        assert piece in text


def _steps_a_real_loop_takes(dataset_size, batch, devices, accumulation, drop_last):
    """Optimizer steps in one epoch of an accumulation loop over a real DistributedSampler/DataLoader."""
    counts = []
    for rank in range(devices):
        sampler = DistributedSampler(range(dataset_size), num_replicas=devices, rank=rank, shuffle=False)
        loader = DataLoader(range(dataset_size), batch_size=batch, sampler=sampler, drop_last=drop_last)
        n_micro = len(loader)
        steps = sum(1 for i in range(n_micro) if (i + 1) % accumulation == 0 or i + 1 == n_micro)
        counts.append((n_micro, steps))
    assert len(set(counts)) == 1, "every rank must take the same number of steps"
    return counts[0]


@settings(max_examples=60, deadline=None)
@given(
    dataset_size=st.integers(1, 3000),
    batch=st.integers(1, 64),
    devices=st.integers(1, 8),
    accumulation=st.integers(1, 8),
    drop_last=st.booleans(),
)
def test_counts_match_a_real_distributed_loader_and_accumulation_loop(dataset_size, batch, devices, accumulation, drop_last):
    if drop_last and math.ceil(dataset_size / devices) < batch:
        with pytest.raises(ValueError, match="per_device_batch_size"):
            count_steps(dataset_size, batch, devices=devices, grad_accumulation_steps=accumulation, drop_last=drop_last)
        return
    plan = count_steps(dataset_size, batch, devices=devices, grad_accumulation_steps=accumulation, drop_last=drop_last)
    assert (plan.micro_batches_per_epoch, plan.steps_per_epoch) == _steps_a_real_loop_takes(
        dataset_size, batch, devices, accumulation, drop_last
    )


def test_a_scheduler_stepped_per_optimizer_step_ends_exactly_at_total_steps():
    plan = count_steps(1000, 16, epochs=3, grad_accumulation_steps=4, warmup_fraction=0.1)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, s / plan.warmup_steps) * max(0.0, 1 - s / plan.total_steps)
    )
    steps = 0
    for _ in range(3):
        n_micro = plan.micro_batches_per_epoch
        for i in range(n_micro):
            if (i + 1) % 4 == 0 or i + 1 == n_micro:
                optimizer.step()
                scheduler.step()
                steps += 1
    assert steps == plan.total_steps
    assert scheduler.get_last_lr()[0] == 0.0  # the decay reached its end, not before and not after


def test_warmup_in_epochs_shrinks_in_steps_with_more_devices():
    one = count_steps(12_800, 32, epochs=10, devices=1, warmup_epochs=2)
    eight = count_steps(12_800, 32, epochs=10, devices=8, warmup_epochs=2)
    assert one.warmup_steps == 800 and eight.warmup_steps == 100
    # the same fraction of the run either way
    assert one.warmup_steps / one.total_steps == eight.warmup_steps / eight.total_steps == 0.2


def test_fractions_are_not_rounded_up_by_floating_point():
    assert 0.07 * 100 > 7  # the trap
    assert count_steps(100, 1, warmup_fraction=0.07).warmup_steps == 7
    assert count_steps(100, 1, epochs=0.29).total_steps == 29


def test_fractional_epochs_and_warmup_bounds():
    plan = count_steps(100, 10, epochs=2.5, warmup_epochs=2.5)
    assert plan.total_steps == 25 and plan.warmup_steps == 25
    assert count_steps(100, 10).warmup_steps == 0
    assert count_steps(100, 10, warmup_fraction=1).warmup_steps == 10
    assert "no warmup" in str(count_steps(100, 10))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        ((0, 8), {}, ValueError, "dataset_size"),
        ((100, 0), {}, ValueError, "per_device_batch_size"),
        ((100, 8.5), {}, ValueError, "whole number"),
        ((100, 8), {"devices": 0}, ValueError, "devices"),
        ((100, 8), {"grad_accumulation_steps": 0}, ValueError, "grad_accumulation_steps"),
        ((100, 8), {"epochs": 0}, ValueError, "epochs must be > 0"),
        ((100, 8), {"warmup_fraction": 1.5}, ValueError, "warmup_fraction must be >= 0 and <= 1"),
        ((100, 8), {"warmup_epochs": 2}, ValueError, "warmup_epochs must be >= 0 and <= 1"),
        ((100, 8), {"warmup_fraction": 0.1, "warmup_epochs": 1}, ValueError, "not both"),
        ((100, 8), {"drop_last": "yes"}, TypeError, "drop_last"),
        (("100", 8), {}, TypeError, "dataset_size must be an integer"),
        ((10, 8), {"devices": 4, "drop_last": True}, ValueError, "every batch would be dropped"),
    ],
)
def test_bad_arguments_name_the_argument(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        count_steps(*args, **kwargs)
