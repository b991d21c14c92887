"""warmup_lib.compat.pytorch_warmup: the pytorch_warmup package's API, numbers and checkpoints."""

from __future__ import annotations

import builtins
import io

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, StepLR

import warmup_lib as wl
import warmup_lib.compat.pytorch_warmup as warmup
from warmup_lib.compat import reference_schedules

FIXTURE = reference_schedules()

BASES = {
    "none": lambda opt: [],
    "constant": lambda opt: [LambdaLR(opt, lambda step: 1.0)],
    "exponential+step": lambda opt: [ExponentialLR(opt, gamma=0.9), StepLR(opt, step_size=3, gamma=0.1)],
    "cosine": lambda opt: [CosineAnnealingLR(opt, T_max=20)],
}


def make_optimizer(spec, tensor_lrs=False):
    """The optimizer the fixture's generator built (one parameter per group)."""
    kind = getattr(torch.optim, spec.get("kind", "SGD"))
    lrs = spec.get("group_lrs", [spec["lr"]])
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))],
               "lr": torch.tensor(lr, dtype=torch.float64) if tensor_lrs else lr} for lr in lrs]
    kwargs = {"lr": spec["lr"]}
    if "betas" in spec:
        kwargs["betas"] = tuple(spec["betas"])
    for group, betas in zip(groups, spec.get("group_betas", [None] * len(groups)), strict=True):
        if betas is not None:
            group["betas"] = tuple(betas)
    return kind(groups, **kwargs)


def run(optimizer, warmup_scheduler, schedulers, steps):
    lrs = []
    for _ in range(steps):
        lrs.append([float(group["lr"]) for group in optimizer.param_groups])
        optimizer.step()
        with warmup_scheduler.dampening():
            for scheduler in schedulers:
                scheduler.step()
    return lrs


def _case_id(case):
    return f"{case['class']}({case['args']})-{case['optimizer'].get('kind', 'SGD')}-{case['base']}"


@pytest.mark.parametrize("tensor_lrs", [False, True], ids=["float-lr", "tensor-lr"])
@pytest.mark.parametrize("case", FIXTURE["pytorch_warmup"], ids=_case_id)
def test_matches_the_pytorch_warmup_package(case, tensor_lrs):
    optimizer = make_optimizer(case["optimizer"], tensor_lrs)
    schedulers = BASES[case["base"]](optimizer)
    cls = getattr(warmup, case["class"])
    if "error" in case:
        with pytest.raises(getattr(builtins, case["error"])) as error:
            cls(optimizer, **case["args"])
        assert str(error.value) == case["message"], "the package's own message, word for word"
        return
    warmup_scheduler = cls(optimizer, **case["args"])
    lrs = run(optimizer, warmup_scheduler, schedulers, case["steps"])
    np.testing.assert_allclose(lrs, case["lrs"], rtol=1e-12, atol=0)
    state = warmup_scheduler.state_dict()
    assert state["last_step"] == case["state_dict"]["last_step"]
    assert state["warmup_params"] == case["state_dict"]["warmup_params"]
    np.testing.assert_allclose([float(lr) for lr in state["lrs"]], case["state_dict"]["lrs"], rtol=1e-12, atol=0)
    factors = [[warmup_scheduler.warmup_factor(step, **p) for p in warmup_scheduler.warmup_params] for step in range(case["steps"])]
    np.testing.assert_allclose(factors, case["factors"], rtol=1e-12, atol=0)


def test_radam_offsets_and_rho_functions_match():
    for beta2, offset in FIXTURE["radam_offsets"].items():
        assert warmup.get_offset(float(beta2), warmup.rho_inf_fn(float(beta2))) == offset
    rho_inf = warmup.rho_inf_fn(0.999)
    assert rho_inf == pytest.approx(1999.0)
    assert warmup.rho_fn(5, 0.999, rho_inf) > 4 >= warmup.rho_fn(4, 0.999, rho_inf)
    with pytest.raises(ValueError, match=r"beta2 \(0.5\) must be greater than 0.6"):
        warmup.get_offset(0.5, warmup.rho_inf_fn(0.5))


def test_the_untuned_length_is_the_packages_1999_not_the_papers_2000():
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3, betas=(0.9, 0.999))
    assert warmup.UntunedLinearWarmup(optimizer).warmup_params == [{"warmup_period": 1999}]
    assert warmup.UntunedExponentialWarmup(optimizer).warmup_params == [{"warmup_period": 999}]
    assert wl.untuned_warmup_steps(0.999) == 2000 and wl.untuned_warmup_steps(0.999, "exponential") == 1000


@pytest.mark.parametrize("tau", [1, 2, 7, 100])
def test_dampening_a_schedulelr_is_warmup_times_base_in_one_scheduler(tau):
    base = wl.CosineDecay(3 * tau + 10, end=0.1)
    opt_a = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.3)
    lr_scheduler = wl.ScheduleLR(opt_a, base)
    dampened = run(opt_a, warmup.LinearWarmup(opt_a, tau), [lr_scheduler], 3 * tau + 10)
    opt_b = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.3)
    one = wl.ScheduleLR(opt_b, wl.LinearWarmup(tau - 1, start=1 / tau) * base)
    used = []
    for _ in range(3 * tau + 10):
        used.append([opt_b.param_groups[0]["lr"]])
        opt_b.step()
        one.step()
    np.testing.assert_allclose(dampened, used, rtol=1e-14, atol=1e-17)


def test_checkpoints_are_plain_data_and_resume_exactly():
    def build():
        optimizer = torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.zeros(2))]},
                                       {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.01}], lr=0.1)
        lr_scheduler = CosineAnnealingLR(optimizer, T_max=30)
        return optimizer, lr_scheduler, warmup.UntunedExponentialWarmup(optimizer)

    optimizer, lr_scheduler, warmup_scheduler = build()
    straight = run(optimizer, warmup_scheduler, [lr_scheduler], 30)
    optimizer, lr_scheduler, warmup_scheduler = build()
    first = run(optimizer, warmup_scheduler, [lr_scheduler], 12)
    buffer = io.BytesIO()
    torch.save({"opt": optimizer.state_dict(), "sched": lr_scheduler.state_dict(), "warmup": warmup_scheduler.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    optimizer, lr_scheduler, warmup_scheduler = build()
    optimizer.load_state_dict(saved["opt"])
    lr_scheduler.load_state_dict(saved["sched"])
    warmup_scheduler.load_state_dict(saved["warmup"])
    assert warmup_scheduler.last_step == 12
    assert first + run(optimizer, warmup_scheduler, [lr_scheduler], 18) == straight


def test_a_state_dict_saved_by_the_package_loads():
    case = next(c for c in FIXTURE["pytorch_warmup"] if c["class"] == "RAdamWarmup" and "lrs" in c)
    optimizer = make_optimizer(case["optimizer"])
    warmup_scheduler = warmup.RAdamWarmup(optimizer)
    warmup_scheduler.load_state_dict(case["state_dict"])
    assert warmup_scheduler.last_step == case["state_dict"]["last_step"]
    assert warmup_scheduler.state_dict() == case["state_dict"]


def test_the_old_explicit_dampen_call_still_works():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.5)
    lr_scheduler = LambdaLR(optimizer, lambda step: 1.0)
    warmup_scheduler = warmup.LinearWarmup(optimizer, warmup_period=4)
    lrs = []
    for _ in range(6):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        lr_scheduler.step()  # before torch 1.4's chainable schedulers, dampen() followed step()
        warmup_scheduler.dampen()
    assert lrs == pytest.approx([0.125, 0.25, 0.375, 0.5, 0.5, 0.5])


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda o: warmup.UntunedLinearWarmup(o), TypeError, "Adam-family"),
        (lambda o: warmup.RAdamWarmup(o), TypeError, "betas"),
        (lambda o: warmup.LinearWarmup(o, 5, last_step=-2), ValueError, "last_step"),
        (lambda o: warmup.LinearWarmup(o, True), TypeError, "not a list nor an int"),
        (lambda o: warmup.ExponentialWarmup(o, [1.5]), TypeError, "An element in warmup_period, float, is not an int."),
        (lambda o: warmup.LinearWarmup("sgd", 5), TypeError, r"sgd \(str\) is not an Optimizer."),
    ],
)
def test_bad_arguments(call, exc, message):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.5)
    with pytest.raises(exc, match=message):
        call(optimizer)


def test_numpy_integer_periods_are_accepted():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.5)
    assert warmup.LinearWarmup(optimizer, np.int64(4)).warmup_params == [{"warmup_period": 4}]


def test_the_compat_package_is_reachable_from_the_root():
    assert wl.compat.pytorch_warmup is warmup
    assert set(warmup.__all__) == {"BaseWarmup", "LinearWarmup", "ExponentialWarmup", "UntunedLinearWarmup",
                                   "UntunedExponentialWarmup", "RAdamWarmup", "rho_fn", "rho_inf_fn", "get_offset"}
