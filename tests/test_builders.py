"""transformers-named builders: same LR at every step as the documented transformers formulas."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import warmup_lib
from warmup_lib import builders as B
from warmup_lib.torch_adapter import ScheduleLR

# Reference multipliers written from the formulas transformers documents (no transformers import).


def ref_warmup(s, w):
    return float(s) / float(max(1, w))


def ref_linear(s, w, t):
    if s < w:
        return ref_warmup(s, w)
    return max(0.0, float(t - s) / float(max(1, t - w)))


def ref_cosine(s, w, t, c=0.5, min_rate=0.0):
    if s < w:
        return ref_warmup(s, w)
    p = float(s - w) / float(max(1, t - w))
    f = 0.5 * (1.0 + math.cos(math.pi * float(c) * 2.0 * p))
    return max(0.0, f * (1 - min_rate) + min_rate)


def ref_restarts(s, w, t, c=1):
    if s < w:
        return ref_warmup(s, w)
    p = float(s - w) / float(max(1, t - w))
    if p >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(c) * p) % 1.0))))


def ref_poly(s, w, t, lr_init, lr_end=1e-7, power=1.0):
    if s < w:
        return ref_warmup(s, w)
    if s > t:
        return lr_end / lr_init
    pct = 1 - (s - w) / (t - w)
    return ((lr_init - lr_end) * pct**power + lr_end) / lr_init


def ref_inv_sqrt(s, w, timescale=None):
    timescale = timescale or w or 10_000
    if s < w:
        return ref_warmup(s, w)
    return 1.0 / math.sqrt((s + timescale - w) / timescale)


def ref_wsd(s, w, stable, d, wtype="linear", dtype="cosine", m=0.0, c=0.5):
    if s < w:
        p = float(s) / float(max(1, w))
        f = {"linear": p, "cosine": 0.5 * (1.0 - math.cos(math.pi * p)), "1-sqrt": 1.0 - math.sqrt(1.0 - p)}[wtype]
        return max(0.0, f * (1.0 - m) + m)
    if s < w + stable:
        return 1.0
    if s < w + stable + d:
        p = float(s - w - stable) / float(max(1, d))
        f = {"linear": 1.0 - p, "cosine": 0.5 * (1.0 + math.cos(math.pi * c * 2.0 * p)), "1-sqrt": 1.0 - math.sqrt(p)}[dtype]
        return max(0.0, f * (1.0 - m) + m)
    return m


def make_optimizer(lr=0.1, groups=False):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    if groups:
        params = [{"params": model[0].parameters()}, {"params": model[1].parameters(), "lr": lr / 10}]
        return torch.optim.AdamW(params, lr=lr)
    return torch.optim.SGD(model.parameters(), lr=lr)


def run(scheduler, steps):
    lrs = []
    for _ in range(steps):
        lrs.append([g["lr"] for g in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return lrs


def assert_matches(scheduler, reference, steps, base_lrs):
    got = run(scheduler, steps)
    for step, row in enumerate(got):
        for lr, base in zip(row, base_lrs, strict=True):
            assert lr == pytest.approx(base * reference(step), rel=1e-12, abs=1e-15), f"step {step}"


CASES = [(0, 10), (1, 10), (5, 10), (10, 10), (3, 50), (17, 100)]


@pytest.mark.parametrize(("w", "t"), CASES)
@pytest.mark.parametrize("groups", [False, True])
def test_linear_cosine_restarts_poly_match(w, t, groups):
    lr = 0.3
    bases = [lr, lr / 10] if groups else [lr]
    assert_matches(B.get_linear_schedule_with_warmup(make_optimizer(lr, groups), w, t), lambda s: ref_linear(s, w, t), t + 15, bases)
    for c in (0.5, 1.0, 1.5):
        opt = make_optimizer(lr, groups)
        assert_matches(B.get_cosine_schedule_with_warmup(opt, w, t, num_cycles=c), lambda s, c=c: ref_cosine(s, w, t, c), t + 15, bases)
    for c in (1, 3):
        opt = make_optimizer(lr, groups)
        sched = B.get_cosine_with_hard_restarts_schedule_with_warmup(opt, w, t, num_cycles=c)
        assert_matches(sched, lambda s, c=c: ref_restarts(s, w, t, c), t + 15, bases)
    if t > w:  # transformers divides by zero when warmup == training; we test that case separately
        for power in (1.0, 2.0):
            opt = make_optimizer(lr, groups)
            sched = B.get_polynomial_decay_schedule_with_warmup(opt, w, t, lr_end=1e-4, power=power)
            assert_matches(sched, lambda s, p=power: ref_poly(s, w, t, lr, 1e-4, p), t + 15, bases)


@pytest.mark.parametrize(("w", "t"), CASES)
def test_min_lr_constant_and_inverse_sqrt_match(w, t):
    lr = 0.05
    for kwargs, rate in (({"min_lr_rate": 0.1}, 0.1), ({"min_lr": 0.01}, 0.01 / lr)):
        opt = make_optimizer(lr)
        sched = B.get_cosine_with_min_lr_schedule_with_warmup(opt, w, t, **kwargs)
        assert_matches(sched, lambda s, r=rate: ref_cosine(s, w, t, 0.5, r), t + 15, [lr])
    assert_matches(B.get_constant_schedule_with_warmup(make_optimizer(lr), w), lambda s: ref_warmup(s, w) if s < w else 1.0, t + 5, [lr])
    assert_matches(B.get_constant_schedule(make_optimizer(lr)), lambda s: 1.0, 5, [lr])
    assert_matches(B.get_inverse_sqrt_schedule(make_optimizer(lr), w), lambda s: ref_inv_sqrt(s, w), t + 50, [lr])
    assert_matches(B.get_inverse_sqrt_schedule(make_optimizer(lr), w, timescale=7), lambda s: ref_inv_sqrt(s, w, 7), t + 50, [lr])


@pytest.mark.parametrize("wtype", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("dtype", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize(("w", "stable", "d", "m"), [(5, 10, 8, 0.0), (0, 3, 4, 0.1), (4, 0, 1, 0.2), (6, 6, 0, 0.0)])
def test_wsd_matches(wtype, dtype, w, stable, d, m):
    lr = 0.02
    total = w + stable + d
    sched = B.get_wsd_schedule(make_optimizer(lr), w, d, num_training_steps=total, warmup_type=wtype, decay_type=dtype, min_lr_ratio=m)
    assert_matches(sched, lambda s: ref_wsd(s, w, stable, d, wtype, dtype, m), total + 10, [lr])
    sched = B.get_wsd_schedule(make_optimizer(lr), w, d, num_stable_steps=stable, warmup_type=wtype, decay_type=dtype, min_lr_ratio=m, num_cycles=1.0)
    assert_matches(sched, lambda s: ref_wsd(s, w, stable, d, wtype, dtype, m, 1.0), total + 10, [lr])


def test_lr_zero_at_step_zero_quirk_and_top_level_names():
    opt = make_optimizer(1.0)
    sched = warmup_lib.get_linear_schedule_with_warmup(opt, 10, 100)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler) and isinstance(sched, ScheduleLR)
    assert sched.get_last_lr() == [0.0], "transformers' first update uses LR 0"
    for name in B.__all__:
        assert getattr(warmup_lib, name) is getattr(B, name)


def test_polynomial_warmup_equal_to_training_returns_the_limit():
    opt = make_optimizer(0.1)
    lrs = [row[0] for row in run(B.get_polynomial_decay_schedule_with_warmup(opt, 10, 10, lr_end=1e-3), 13)]
    assert lrs[:10] == pytest.approx([0.1 * s / 10 for s in range(10)])
    assert lrs[10:] == pytest.approx([1e-3] * 3)


def test_warmup_equal_to_training_and_zero_warmup_are_valid():
    for builder in (B.get_linear_schedule_with_warmup, B.get_cosine_schedule_with_warmup):
        assert run(builder(make_optimizer(1.0), 10, 10), 12)[9][0] == pytest.approx(0.9)
        assert run(builder(make_optimizer(1.0), 0, 10), 1)[0][0] == 1.0


def test_wsd_warns_when_both_lengths_given():
    with pytest.warns(UserWarning, match="num_stable_steps is used"):
        B.get_wsd_schedule(make_optimizer(), 2, 2, num_training_steps=10, num_stable_steps=3)


def test_last_epoch_resumes_like_lambda_lr():
    opt = make_optimizer(1.0)
    first = B.get_linear_schedule_with_warmup(opt, 10, 100)
    run(first, 25)
    resumed = B.get_linear_schedule_with_warmup(opt, 10, 100, last_epoch=24)
    assert resumed.get_last_lr() == pytest.approx([ref_linear(25, 10, 100)])


@pytest.mark.parametrize(
    ("call", "exc", "argument"),
    [
        (lambda o: B.get_linear_schedule_with_warmup(o, -1, 10), ValueError, "num_warmup_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 1.5, 10), ValueError, "num_warmup_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 20, 10), ValueError, "num_warmup_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, 0), ValueError, "num_training_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, float("inf")), ValueError, "num_training_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, "10"), TypeError, "num_training_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, 10, last_epoch=-5), ValueError, "last_epoch"),
        (lambda o: B.get_cosine_schedule_with_warmup(o, 2, 10, num_cycles=float("nan")), ValueError, "num_cycles"),
        (lambda o: B.get_cosine_schedule_with_warmup(o, 2, 10, num_cycles=-0.5), ValueError, "num_cycles"),
        (lambda o: B.get_cosine_with_hard_restarts_schedule_with_warmup(o, 2, 10, num_cycles=-1), ValueError, "num_cycles"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, lr_end=0.5), ValueError, "lr_end"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, lr_end=0.1), ValueError, "lr_end"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, power=-1), ValueError, "power"),
        (lambda o: B.get_inverse_sqrt_schedule(o, 2, timescale=0), ValueError, "timescale"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup(o, 2, 10, min_lr=0.01, min_lr_rate=0.1), ValueError, "min_lr"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup(o, 2, 10), ValueError, "min_lr"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup(o, 2, 10, min_lr_rate=1.5), ValueError, "min_lr_rate"),
        (lambda o: B.get_wsd_schedule(o, 5, 6, num_training_steps=10), ValueError, "do not fit"),
        (lambda o: B.get_wsd_schedule(o, 5, 6), ValueError, "num_training_steps or num_stable_steps"),
        (lambda o: B.get_wsd_schedule(o, 1, 1, num_stable_steps=-1), ValueError, "num_stable_steps"),
        (lambda o: B.get_wsd_schedule(o, 1, 1, 10, warmup_type="exp"), ValueError, "warmup_type"),
        (lambda o: B.get_wsd_schedule(o, 1, 1, 10, decay_type="step"), ValueError, "decay_type"),
        (lambda o: B.get_wsd_schedule(o, 1, 1, 10, min_lr_ratio=2), ValueError, "min_lr_ratio"),
    ],
)
def test_bad_arguments_rejected_before_anything_is_built(call, exc, argument):
    opt = make_optimizer(0.1)
    with pytest.raises(exc, match=argument):
        call(opt)
    assert "initial_lr" not in opt.param_groups[0], "validation must happen before the optimizer is touched"


@pytest.mark.parametrize("name", B.__all__)
def test_every_builder_rejects_a_non_optimizer(name):
    builder = getattr(B, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="optimizer"):
            builder(torch.nn.Linear(2, 2), 1, 10) if name != "get_constant_schedule" else builder("sgd")
