"""The pytorch_warmup package's own test suite (its test/ folder), ported to warmup_lib.

Each test below checks what the test of the same name upstream checks (test_base.py,
test_untuned.py, test_radam.py of the pytorch_warmup project, MIT licence), with the same
optimizers, the same expected learning rates and the same error messages, against
``warmup_lib.compat.pytorch_warmup`` imported under upstream's name (``warmup``). The checks,
inputs and expected values are upstream's; the test code is written anew as pytest functions
(upstream's unittest classes are not copied). Upstream runs each test with float learning rates
and, on request, with tensor ones; here both are parametrized. These run offline;
``test_upstream_pytorch_warmup.py`` also runs upstream's suite itself, with only its import
changed, from the package's source distribution.
"""

from __future__ import annotations

import math

import pytest
import torch

import warmup_lib.compat.pytorch_warmup as warmup


@pytest.fixture(params=[False, True], ids=["float-lr", "tensor-lr"])
def as_lr(request):
    """Upstream's _set_lr: learning rates as floats, or as 0-d tensors."""
    return (lambda lr: torch.tensor(lr)) if request.param else (lambda lr: lr)


def read_lr(lr):
    """Upstream's _get_lr."""
    return lr.item() if isinstance(lr, torch.Tensor) else lr


def two_groups(optimizer_class, as_lr, **kwargs):
    p1 = torch.nn.Parameter(torch.arange(10, dtype=torch.float32))
    p2 = torch.nn.Parameter(torch.arange(10, dtype=torch.float32))
    return optimizer_class([{"params": [p1]}, {"params": [p2], "lr": as_lr(0.1)}], lr=as_lr(0.5), **kwargs)


def check_state_dict(warmup_scheduler, constructor):
    """A fresh warmup that loads the state dict ends up equal, attribute by attribute."""
    copy = constructor()
    copy.load_state_dict(warmup_scheduler.state_dict())
    for key, value in warmup_scheduler.__dict__.items():
        if key != "optimizer":
            assert copy.__dict__[key] == value if key != "lrs" else [read_lr(x) for x in copy.lrs] == [read_lr(x) for x in value]


def check_optimizer_type(warmup_class, **kwargs):
    with pytest.raises(TypeError) as error:
        warmup_class(optimizer=0, **kwargs)
    assert str(error.value) == "0 (int) is not an Optimizer."


def check_warmup_params(optimizer, warmup_class):
    cases = [
        ([5], ValueError, "The size of warmup_period (1) does not match the size of param_groups (2)."),
        ([5.0, 10.0], TypeError, "An element in warmup_period, float, is not an int."),
        ([5, 0], ValueError, "An element in warmup_period must be a positive integer, but is 0."),
        (0, ValueError, "warmup_period must be a positive integer, but is 0."),
        (5.0, TypeError, "5.0 (float) is not a list nor an int."),
    ]
    for period, exc, message in cases:
        with pytest.raises(exc) as error:
            warmup_class(optimizer, warmup_period=period)
        assert str(error.value) == message


def step_all(optimizer, warmup_scheduler, *schedulers):
    optimizer.zero_grad()
    optimizer.step()
    with warmup_scheduler.dampening():
        for scheduler in schedulers:
            scheduler.step()


# ---- test_base.py --------------------------------------------------------------------------


def test_linear(as_lr):
    optimizer = two_groups(torch.optim.SGD, as_lr)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda step: 1.0)
    warmup_scheduler = warmup.LinearWarmup(optimizer, warmup_period=5)
    for step in range(1, 11):
        lr = [read_lr(group["lr"]) for group in optimizer.param_groups]
        factor = step / 5 if step < 5 else 1.0
        assert lr == pytest.approx([0.5 * factor, 0.1 * factor], abs=1e-7)
        step_all(optimizer, warmup_scheduler, lr_scheduler)
    check_state_dict(warmup_scheduler, lambda: warmup.LinearWarmup(optimizer, warmup_period=10))
    check_optimizer_type(warmup.LinearWarmup, warmup_period=5)
    check_warmup_params(optimizer, warmup.LinearWarmup)


def test_exponential(as_lr):
    optimizer = two_groups(torch.optim.SGD, as_lr)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda step: 1.0)
    warmup_scheduler = warmup.ExponentialWarmup(optimizer, warmup_period=5)
    for step in range(1, 11):
        lr = [read_lr(group["lr"]) for group in optimizer.param_groups]
        factor = 1 - math.exp(-step / 5)
        assert lr == pytest.approx([0.5 * factor, 0.1 * factor], abs=1e-7)
        step_all(optimizer, warmup_scheduler, lr_scheduler)
    check_state_dict(warmup_scheduler, lambda: warmup.ExponentialWarmup(optimizer, warmup_period=10))
    check_optimizer_type(warmup.ExponentialWarmup, warmup_period=5)
    check_warmup_params(optimizer, warmup.ExponentialWarmup)


def test_linear_chaining(as_lr):
    def preparation():
        optimizer = two_groups(torch.optim.SGD, as_lr)
        lr_scheduler1 = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
        lr_scheduler2 = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1)
        return optimizer, lr_scheduler1, lr_scheduler2

    optimizer, lr_scheduler1, lr_scheduler2 = preparation()
    undampened = []
    for _ in range(1, 11):
        undampened.append([read_lr(group["lr"]) for group in optimizer.param_groups])
        optimizer.zero_grad()
        optimizer.step()
        lr_scheduler1.step()
        lr_scheduler2.step()

    optimizer, lr_scheduler1, lr_scheduler2 = preparation()
    warmup_scheduler = warmup.LinearWarmup(optimizer, warmup_period=5)
    for step in range(1, 11):
        lr = [read_lr(group["lr"]) for group in optimizer.param_groups]
        factor = step / 5 if step < 5 else 1.0
        assert lr == pytest.approx([x * factor for x in undampened[step - 1]], abs=1e-7)
        step_all(optimizer, warmup_scheduler, lr_scheduler1, lr_scheduler2)
    check_state_dict(warmup_scheduler, lambda: warmup.LinearWarmup(optimizer, warmup_period=10))


def test_linear_wo_lr_scheduler(as_lr):
    optimizer = two_groups(torch.optim.SGD, as_lr)
    warmup_scheduler = warmup.LinearWarmup(optimizer, warmup_period=5)
    for step in range(1, 11):
        lr = [read_lr(group["lr"]) for group in optimizer.param_groups]
        factor = step / 5 if step < 5 else 1.0
        assert lr == pytest.approx([0.5 * factor, 0.1 * factor], abs=1e-7)
        step_all(optimizer, warmup_scheduler)
    check_state_dict(warmup_scheduler, lambda: warmup.LinearWarmup(optimizer, warmup_period=10))


# ---- test_untuned.py -----------------------------------------------------------------------


def test_untuned_linear(as_lr):
    optimizer = two_groups(torch.optim.Adam, as_lr, betas=(0.9, 0.7))
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda step: 1.0)
    warmup_scheduler = warmup.UntunedLinearWarmup(optimizer)
    for step in range(1, 11):
        lr = [read_lr(group["lr"]) for group in optimizer.param_groups]
        factor = step / 6 if step < 6 else 1.0  # int(2 / (1 - 0.7)) = 6
        assert lr == pytest.approx([0.5 * factor, 0.1 * factor], abs=1e-7)
        step_all(optimizer, warmup_scheduler, lr_scheduler)
    check_state_dict(warmup_scheduler, lambda: warmup.UntunedLinearWarmup(optimizer))
    check_optimizer_type(warmup.UntunedLinearWarmup)


def test_untuned_exponential(as_lr):
    optimizer = two_groups(torch.optim.Adam, as_lr, betas=(0.9, 0.7))
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda step: 1.0)
    warmup_scheduler = warmup.UntunedExponentialWarmup(optimizer)
    for step in range(1, 11):
        lr = [read_lr(group["lr"]) for group in optimizer.param_groups]
        factor = 1 - math.exp(-step / 3)  # int(1 / (1 - 0.7)) = 3
        assert lr == pytest.approx([0.5 * factor, 0.1 * factor], abs=1e-7)
        step_all(optimizer, warmup_scheduler, lr_scheduler)
    check_state_dict(warmup_scheduler, lambda: warmup.UntunedExponentialWarmup(optimizer))
    check_optimizer_type(warmup.UntunedExponentialWarmup)


# ---- test_radam.py -------------------------------------------------------------------------


def test_radam(as_lr):
    optimizer = two_groups(torch.optim.Adam, as_lr, betas=(0.9, 0.7))
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda step: 1.0)
    warmup_scheduler = warmup.RAdamWarmup(optimizer)
    for _ in range(1, 11):
        lr = [read_lr(group["lr"]) for group in optimizer.param_groups]
        assert lr[0] < 0.5 and lr[1] < 0.1
        step_all(optimizer, warmup_scheduler, lr_scheduler)
    check_state_dict(warmup_scheduler, lambda: warmup.RAdamWarmup(optimizer))
    check_optimizer_type(warmup.RAdamWarmup)
