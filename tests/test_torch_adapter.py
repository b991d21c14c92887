"""ScheduleLR: a genuine LRScheduler — torch equivalence, param groups, exact resume, pickling."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import (
    ChainedScheduler,
    CosineAnnealingLR,
    LambdaLR,
    LinearLR,
    SequentialLR,
)

from warmup_lib import schedules as S
from warmup_lib.torch_adapter import ScheduleLR


def model_and_optimizer(lr=0.1, optimizer=torch.optim.SGD, groups=False):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    if groups:
        params = [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": lr * 3}]
    else:
        params = model.parameters()
    return model, optimizer(params, lr=lr)


def collect(scheduler, steps):
    lrs = []
    for _ in range(steps):
        lrs.append([g["lr"] for g in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(lrs)


def test_is_a_real_lr_scheduler_and_applies_base_lr_times_multiplier():
    schedule = S.warmup_then(S.LinearWarmup(5, start=0.1), S.CosineDecay(20))
    _, opt = model_and_optimizer(0.2, groups=True)
    sched = ScheduleLR(opt, schedule)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    lrs = collect(sched, 30)
    expected = schedule.curve(np.arange(30))
    np.testing.assert_allclose(lrs[:, 0], 0.2 * expected, rtol=1e-12)
    np.testing.assert_allclose(lrs[:, 1], 0.6 * expected, rtol=1e-12)
    assert sched.get_last_lr() == pytest.approx([0.2 * schedule(30), 0.6 * schedule(30)])


def test_equivalent_to_torch_linear_lr_sequential_cosine():
    warmup, total, start = 10, 60, 0.1
    _, opt_torch = model_and_optimizer(0.5)
    reference = SequentialLR(
        opt_torch,
        [LinearLR(opt_torch, start_factor=start, end_factor=1.0, total_iters=warmup), CosineAnnealingLR(opt_torch, T_max=total - warmup)],
        milestones=[warmup],
    )
    _, opt_ours = model_and_optimizer(0.5)
    ours = ScheduleLR(opt_ours, S.warmup_then(S.LinearWarmup(warmup, start=start), S.CosineDecay(total - warmup)))
    np.testing.assert_allclose(collect(ours, total), collect(reference, total), rtol=1e-9, atol=1e-12)


def test_equivalent_to_lambda_lr_over_a_long_run():
    schedule = S.warmup_then(S.ExponentialWarmup(300, start=1e-3), S.InverseSqrtDecay(300))
    _, opt_a = model_and_optimizer(0.1)
    _, opt_b = model_and_optimizer(0.1)
    ours = ScheduleLR(opt_a, schedule)
    reference = LambdaLR(opt_b, lambda step: schedule(step))
    np.testing.assert_array_equal(collect(ours, 9000), collect(reference, 9000))


def test_works_inside_sequential_lr_and_chained_scheduler():
    _, opt = model_and_optimizer(1.0)
    warm = ScheduleLR(opt, S.LinearWarmup(4, start=0.25))
    seq = SequentialLR(opt, [warm, CosineAnnealingLR(opt, T_max=8)], milestones=[4])
    lrs = collect(seq, 12)[:, 0]
    np.testing.assert_allclose(lrs[:4], [0.25, 0.4375, 0.625, 0.8125])
    assert lrs[4] == pytest.approx(1.0)
    # and as the second scheduler (SequentialLR steps it to epoch 0 with the closed form)
    _, opt = model_and_optimizer(1.0)
    seq = SequentialLR(opt, [LinearLR(opt, start_factor=0.5, total_iters=2), ScheduleLR(opt, S.LinearDecay(4))], milestones=[2])
    np.testing.assert_allclose(collect(seq, 7)[:, 0], [0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0])
    _, opt = model_and_optimizer(1.0)
    chained = ChainedScheduler([ScheduleLR(opt, S.LinearWarmup(4))])
    np.testing.assert_allclose(collect(chained, 6)[:, 0], [0, 0.25, 0.5, 0.75, 1, 1])


def test_state_dict_is_plain_data_and_resume_mid_warmup_is_exact():
    schedule = S.warmup_then(S.CosineWarmup(40, start=0.05), S.LinearDecay(60))

    def train(model, opt, sched, steps, gen):
        losses = []
        for _ in range(steps):
            x = torch.randn(16, 4, generator=gen)
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        return losses

    model, opt = model_and_optimizer(0.05, torch.optim.Adam)
    sched = ScheduleLR(opt, schedule)
    straight = train(model, opt, sched, 50, torch.Generator().manual_seed(1))

    model, opt = model_and_optimizer(0.05, torch.optim.Adam)
    sched = ScheduleLR(opt, schedule)
    gen = torch.Generator().manual_seed(1)
    first = train(model, opt, sched, 20, gen)  # stop mid-warmup
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # no pickled lambdas or classes allowed
    assert saved["sched"]["schedule"] == schedule.to_dict()

    model2, opt2 = model_and_optimizer(0.05, torch.optim.Adam)
    sched2 = ScheduleLR(opt2, S.Constant())  # deliberately different: the checkpoint's schedule wins
    model2.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    gen2 = torch.Generator()
    gen2.set_state(saved["gen"])
    assert sched2.schedule == schedule and sched2.last_epoch == 20
    second = train(model2, opt2, sched2, 30, gen2)
    assert first + second == straight
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.05 * schedule(50))


def test_pickles_and_repr():
    _, opt = model_and_optimizer()
    sched = ScheduleLR(opt, S.LinearWarmup(10))
    collect(sched, 3)
    clone = pickle.loads(pickle.dumps(sched))
    assert clone.last_epoch == 3 and clone.schedule == S.LinearWarmup(10)
    assert clone.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.3)
    assert "LinearWarmup" in repr(sched)


def test_long_runs_cross_cache_blocks():
    _, opt = model_and_optimizer(1.0)
    schedule = S.InverseSqrtDecay(100)
    sched = ScheduleLR(opt, schedule)
    lrs = collect(sched, 10_000)[:, 0]
    np.testing.assert_allclose(lrs, schedule.curve(np.arange(10_000)), rtol=1e-15)


def test_bad_arguments():
    _, opt = model_and_optimizer()
    with pytest.raises(TypeError, match="optimizer"):
        ScheduleLR(torch.nn.Linear(2, 2), S.Constant())
    with pytest.raises(TypeError, match="schedule"):
        ScheduleLR(opt, lambda step: 1.0)
    with pytest.raises(ValueError, match="last_epoch"):
        ScheduleLR(opt, S.Constant(), last_epoch=-3)
