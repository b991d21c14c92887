"""transformers' ScheduleInitTest (tests/optimization/test_optimization.py), ported to warmup_lib.

The test below checks what upstream's ``ScheduleInitTest.test_schedulers`` checks (transformers,
Apache-2.0 licence): the same optimizer (one ``AdamW`` at lr 10, shared by every schedule), the
same builders and arguments, the same expected learning rates (to 1e-2, as upstream), read with
``get_lr()`` as upstream does, and the same save / ``torch.load`` / reload halfway through, with
the builders imported from ``warmup_lib`` instead of ``transformers`` (torch's ``AdamW``, which
older transformers versions re-exported). The checks, inputs and expected values are
upstream's; the test code is written anew as pytest functions (upstream's unittest class and
helpers are not copied). Upstream's ``OptimizationTest``
tests transformers' own optimizers (``Adafactor``), which warmup_lib does not provide, so it is
not ported.
"""

from __future__ import annotations

import os
import tempfile

import pytest
import torch
from torch import nn
from torch.optim import AdamW

from warmup_lib import (
    get_constant_schedule,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_cosine_with_hard_restarts_schedule_with_warmup,
    get_inverse_sqrt_schedule,
    get_linear_schedule_with_warmup,
    get_polynomial_decay_schedule_with_warmup,
)

NUM_STEPS = 10
COMMON = {"num_warmup_steps": 2, "num_training_steps": 10}
SCHEDULES = {
    get_constant_schedule: ({}, [10.0] * NUM_STEPS),
    get_constant_schedule_with_warmup: ({"num_warmup_steps": 4}, [0.0, 2.5, 5.0, 7.5, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]),
    get_linear_schedule_with_warmup: (COMMON, [0.0, 5.0, 10.0, 8.75, 7.5, 6.25, 5.0, 3.75, 2.5, 1.25]),
    get_cosine_schedule_with_warmup: (COMMON, [0.0, 5.0, 10.0, 9.61, 8.53, 6.91, 5.0, 3.08, 1.46, 0.38]),
    get_cosine_with_hard_restarts_schedule_with_warmup: (
        {**COMMON, "num_cycles": 2}, [0.0, 5.0, 10.0, 8.53, 5.0, 1.46, 10.0, 8.53, 5.0, 1.46]),
    get_polynomial_decay_schedule_with_warmup: (
        {**COMMON, "power": 2.0, "lr_end": 1e-7}, [0.0, 5.0, 10.0, 7.656, 5.625, 3.906, 2.5, 1.406, 0.625, 0.156]),
    get_inverse_sqrt_schedule: (
        {"num_warmup_steps": 2}, [0.0, 5.0, 10.0, 8.165, 7.071, 6.325, 5.774, 5.345, 5.0, 4.714]),
}


def lrs_read_with_get_lr(scheduler, num_steps=NUM_STEPS):
    lrs = []
    for _ in range(num_steps):
        lrs.append(scheduler.get_lr()[0])
        scheduler.step()
    return lrs


def lrs_with_a_save_and_reload_halfway(scheduler, num_steps=NUM_STEPS):
    lrs = []
    for step in range(num_steps):
        lrs.append(scheduler.get_lr()[0])
        scheduler.step()
        if step == num_steps // 2:
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "schedule.bin")
                torch.save(scheduler.state_dict(), path)
                scheduler.load_state_dict(torch.load(path))
    return lrs


@pytest.mark.filterwarnings("ignore:To get the last learning rate")  # upstream reads get_lr() directly
@pytest.mark.filterwarnings("ignore:Detected call of")  # and never steps the optimizer
class TestScheduleInit:
    model = nn.Linear(50, 50)
    optimizer = AdamW(model.parameters(), lr=10.0)

    @pytest.mark.parametrize("builder", list(SCHEDULES), ids=lambda builder: builder.__name__)
    def test_schedulers(self, builder):
        kwargs, expected = SCHEDULES[builder]
        scheduler = builder(self.optimizer, **kwargs)
        assert len([scheduler.get_lr()[0]]) == 1
        lrs = lrs_read_with_get_lr(scheduler)
        assert lrs == pytest.approx(expected, abs=1e-2), f"failed for {builder.__name__} in normal scheduler"
        scheduler = builder(self.optimizer, **kwargs)
        assert lrs_with_a_save_and_reload_halfway(scheduler) == lrs, f"failed for {builder.__name__} in save and reload"
