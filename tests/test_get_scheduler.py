"""get_scheduler: transformers' entry point by name, with its names, numbers and kinds of error."""

from __future__ import annotations

import builtins
import enum
import warnings

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

import warmup_lib as wl
from warmup_lib import builders as B
from warmup_lib.compat import reference_schedules

FIXTURE = reference_schedules()

NAMES = ["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
         "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "cosine_warmup_with_min_lr",
         "warmup_stable_decay"]


def optimizer(lr=0.5):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def used_lrs(scheduler, steps):
    rows = []
    for _ in range(steps):
        rows.append([float(group["lr"]) for group in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return rows


@pytest.mark.parametrize("case", FIXTURE["get_scheduler"], ids=lambda case: ",".join(f"{v}" for v in case["args"].values()))
def test_get_scheduler_matches_transformers(case):
    opt = optimizer(case["optimizer"]["lr"])
    if "error" in case:
        with pytest.raises(getattr(builtins, case["error"])):
            wl.get_scheduler(optimizer=opt, **case["args"])
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wl.ScheduleWarning)
        scheduler = wl.get_scheduler(optimizer=opt, **case["args"])
    if case["type"] == "ReduceLROnPlateau":
        assert type(scheduler) is ReduceLROnPlateau
        assert scheduler.factor == case["args"]["scheduler_specific_kwargs"]["factor"]
        return
    assert isinstance(scheduler, wl.ScheduleLR)
    np.testing.assert_allclose(used_lrs(scheduler, case["steps"]), case["lrs"], rtol=1e-12, atol=1e-15)


BUILDER_OF = {
    "linear": wl.get_linear_schedule_with_warmup,
    "cosine": wl.get_cosine_schedule_with_warmup,
    "cosine_with_restarts": wl.get_cosine_with_hard_restarts_schedule_with_warmup,
    "polynomial": wl.get_polynomial_decay_schedule_with_warmup,
    "constant": wl.get_constant_schedule,
    "constant_with_warmup": wl.get_constant_schedule_with_warmup,
    "inverse_sqrt": wl.get_inverse_sqrt_schedule,
    "cosine_with_min_lr": wl.get_cosine_with_min_lr_schedule_with_warmup,
    "cosine_warmup_with_min_lr": wl.get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    "warmup_stable_decay": wl.get_wsd_schedule,
}


@pytest.mark.filterwarnings("ignore::warmup_lib.ScheduleWarning")  # constant ignores the warmup
@pytest.mark.parametrize("name", NAMES)
def test_every_name_builds_the_builder_of_that_name(name):
    extra = {"cosine_with_min_lr": {"min_lr_rate": 0.1}, "cosine_warmup_with_min_lr": {"min_lr_rate": 0.1},
             "warmup_stable_decay": {"num_decay_steps": 3}}.get(name, {})
    scheduler = wl.get_scheduler(name, optimizer(), 2, 10, extra)
    if name == "reduce_lr_on_plateau":
        assert type(scheduler) is ReduceLROnPlateau
        return
    args = {} if name == "constant" else {"num_warmup_steps": 2}
    if name not in ("constant", "constant_with_warmup", "inverse_sqrt"):
        args["num_training_steps"] = 10
    assert scheduler.schedule == BUILDER_OF[name](optimizer(), **args, **extra).schedule
    assert BUILDER_OF[name] is getattr(B, BUILDER_OF[name].__name__)


def test_an_unknown_name_lists_every_valid_one():
    with pytest.raises(ValueError) as error:
        wl.get_scheduler("bogus", optimizer(), 2, 10)
    assert all(repr(name) in str(error.value) for name in NAMES)


def test_transformers_scheduler_type_enum_values_are_accepted():
    class SchedulerType(str, enum.Enum):  # noqa: UP042 - as transformers defines it
        COSINE = "cosine"

    scheduler = wl.get_scheduler(SchedulerType.COSINE, optimizer(), 2, 10)
    assert scheduler.schedule == wl.get_scheduler("cosine", optimizer(), 2, 10).schedule


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"name": "bogus", "num_warmup_steps": 2, "num_training_steps": 10}, ValueError, "'linear', 'cosine'"),
        ({"name": "greedy"}, ValueError, "GreedyLR"),
        ({"name": 3}, TypeError, "name"),
        ({"name": "linear", "num_training_steps": 10}, ValueError, "requires `num_warmup_steps`"),
        ({"name": "polynomial", "num_warmup_steps": 2}, ValueError, "requires `num_training_steps`"),
        ({"name": "cosine", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": [1]}, TypeError, "scheduler_specific_kwargs"),
        ({"name": "cosine", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": {"num_cycle": 1}}, TypeError, "num_cycle"),
        ({"name": "linear", "num_warmup_steps": -2, "num_training_steps": 10}, ValueError, "num_warmup_steps"),
        ({"name": "linear", "num_warmup_steps": float("inf"), "num_training_steps": 10}, ValueError, "num_warmup_steps"),
        ({"name": "warmup_stable_decay", "num_warmup_steps": 2, "scheduler_specific_kwargs": {"num_decay_steps": 3}}, ValueError, "num_training_steps or num_stable_steps"),
    ],
)
def test_errors_name_the_argument(kwargs, exc, message):
    opt = optimizer()
    with pytest.raises(exc, match=message):
        wl.get_scheduler(optimizer=opt, **kwargs)
    assert "initial_lr" not in opt.param_groups[0]


def test_a_non_optimizer_is_rejected_first():
    with pytest.raises(TypeError, match="optimizer"):
        wl.get_scheduler("linear", torch.nn.Linear(2, 2), 2, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "constant", "num_warmup_steps": 100}, "ignores num_warmup_steps=100.*constant_with_warmup"),
        ({"name": "constant", "scheduler_specific_kwargs": {"num_cycles": 2}}, r"ignores scheduler_specific_kwargs \['num_cycles'\]"),
        ({"name": "constant_with_warmup", "num_warmup_steps": 2, "scheduler_specific_kwargs": {"x": 1}}, "ignores scheduler_specific_kwargs"),
        ({"name": "reduce_lr_on_plateau", "num_warmup_steps": 10}, "ignores num_warmup_steps"),
    ],
)
def test_arguments_transformers_ignores_silently_get_a_warning(kwargs, message):
    with pytest.warns(wl.ScheduleWarning, match=message) as record:
        wl.get_scheduler(optimizer=optimizer(), **kwargs)
    assert record[0].filename == __file__


def test_what_a_trainer_passes_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("constant", "linear", "cosine", "constant_with_warmup", "inverse_sqrt", "polynomial"):
            wl.get_scheduler(name, optimizer(), num_warmup_steps=0, num_training_steps=100)
