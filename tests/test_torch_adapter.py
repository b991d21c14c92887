"""ScheduleLR: a genuine LRScheduler — torch equivalence, param groups, exact resume, pickling."""

from __future__ import annotations

import io
import pickle
import warnings

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


def test_long_runs_follow_the_curve_exactly():
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


# ---- per-group schedules, live reassignment, warnings, checkpoints ------------------------------


def test_one_schedule_per_parameter_group():
    warm = S.LinearWarmup(5) * S.CosineDecay(30)
    flat = S.CosineDecay(30, end=0.1)
    _, opt = model_and_optimizer(0.2, groups=True)
    sched = ScheduleLR(opt, [warm, flat])
    lrs = collect(sched, 30)
    bases = [group["initial_lr"] for group in opt.param_groups]
    np.testing.assert_array_equal(lrs[:, 0], bases[0] * warm.curve(np.arange(30)))
    np.testing.assert_array_equal(lrs[:, 1], bases[1] * flat.curve(np.arange(30)))
    assert sched.schedules == (warm, flat)
    with pytest.raises(AttributeError, match="schedules"):
        sched.schedule  # noqa: B018 - two different schedules: there is no single one to return
    assert "schedules=" in repr(sched)
    # a list of one shared schedule behaves like the schedule itself
    _, opt = model_and_optimizer(0.2, groups=True)
    assert ScheduleLR(opt, [warm, warm]).schedule == warm


@pytest.mark.parametrize("count", [1, 3])
def test_schedule_list_of_the_wrong_length_names_both_counts(count):
    _, opt = model_and_optimizer(groups=True)
    with pytest.raises(ValueError, match=rf"optimizer has 2 parameter groups, but {count} schedules"):
        ScheduleLR(opt, [S.Constant()] * count)
    with pytest.raises(TypeError, match=r"schedule\[1\]"):
        ScheduleLR(opt, [S.Constant(), lambda step: 1.0])
    assert "initial_lr" not in opt.param_groups[0]


def test_per_group_state_dict_round_trips_exactly_as_plain_data():
    schedules = [S.LinearWarmup(5, start=0.2) * S.LinearDecay(20), S.wsd(2, 3, 4, min_ratio=0.1)]
    _, opt = model_and_optimizer(0.1, groups=True)
    sched = ScheduleLR(opt, schedules)
    collect(sched, 7)
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["schedules"] == [s.to_dict() for s in schedules] and "schedule" not in state
    _, opt2 = model_and_optimizer(0.1, groups=True)
    clone = ScheduleLR(opt2, S.Constant())
    opt2.load_state_dict(opt.state_dict())  # a resume restores the optimizer (and its LRs) too
    clone.load_state_dict(state)
    assert clone.schedules == tuple(schedules) and clone.last_epoch == 7
    assert clone.state_dict() == sched.state_dict()
    np.testing.assert_array_equal(collect(clone, 10), collect(sched, 10))
    # a per-group checkpoint does not fit an optimizer with another number of groups
    _, opt3 = model_and_optimizer(0.1)
    with pytest.raises(ValueError, match="1 parameter groups, but 2 schedules"):
        ScheduleLR(opt3, S.Constant()).load_state_dict(state)


def test_assigning_a_schedule_takes_effect_at_the_next_step():
    _, opt = model_and_optimizer(1.0)
    sched = ScheduleLR(opt, S.LinearWarmup(10))
    collect(sched, 3)
    sched.schedule = S.Constant(0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.3), "nothing changes until the next step"
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == 0.5 and sched.get_last_lr() == [0.5]
    _, opt = model_and_optimizer(1.0, groups=True)
    sched = ScheduleLR(opt, S.Constant())
    sched.schedules = [S.Constant(0.5), S.Constant(0.25)]
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.5, 0.75]
    with pytest.raises(TypeError, match="schedule"):
        sched.schedule = lambda step: 1.0
    with pytest.raises(ValueError, match="2 parameter groups, but 3"):
        sched.schedules = [S.Constant()] * 3


def test_get_lr_outside_step_warns_like_torch_and_stepping_does_not():
    _, opt = model_and_optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = ScheduleLR(opt, S.LinearWarmup(4))
        collect(sched, 3)
        seq = SequentialLR(opt, [ScheduleLR(opt, S.LinearWarmup(2)), ScheduleLR(opt, S.LinearDecay(4))], milestones=[2])
        collect(seq, 5)
    reference = LambdaLR(model_and_optimizer()[1], lambda step: 1.0)
    with pytest.warns(UserWarning, match="get_last_lr") as ours:
        assert sched.get_lr() == pytest.approx([0.1 * 0.75])
    with pytest.warns(UserWarning, match="get_last_lr") as theirs:
        reference.get_lr()
    assert str(ours[0].message) == str(theirs[0].message)
    assert ours[0].filename == __file__, "the warning points at the caller"


def test_a_lambdalr_checkpoint_loads_into_schedulelr_but_not_the_other_way_round():
    schedule = S.warmup_then(S.LinearWarmup(4), S.LinearDecay(16))
    _, opt = model_and_optimizer(0.1)
    reference = LambdaLR(opt, lambda step: schedule(step))  # what transformers' builders return
    collect(reference, 6)
    state = reference.state_dict()
    _, opt2 = model_and_optimizer(0.1)
    ours = ScheduleLR(opt2, schedule)
    opt2.load_state_dict(opt.state_dict())
    ours.load_state_dict(state)
    assert ours.last_epoch == 6 and ours.schedule == schedule
    assert "lr_lambdas" not in ours.state_dict()
    np.testing.assert_array_equal(collect(ours, 10), collect(reference, 10))
    # LambdaLR.load_state_dict needs an "lr_lambdas" entry, which ScheduleLR checkpoints do not have
    with pytest.raises(KeyError, match="lr_lambdas"):
        LambdaLR(model_and_optimizer(0.1)[1], lambda step: 1.0).load_state_dict(ours.state_dict())


def test_tensor_learning_rates():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=torch.tensor(0.1, dtype=torch.float64))
    sched = ScheduleLR(opt, S.LinearWarmup(4))
    lrs = []
    for _ in range(6):
        lrs.append(float(opt.param_groups[0]["lr"]))  # the group's tensor is updated in place
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1, 0.1], abs=1e-15)
    assert isinstance(opt.param_groups[0]["lr"], torch.Tensor)


# ---- record_lrs ------------------------------------------------------------------------------


def test_record_lrs_gives_the_lrs_a_training_loop_uses_for_any_torch_scheduler():
    from warmup_lib.torch_adapter import record_lrs

    schedule = S.warmup_then(S.LinearWarmup(5, start=0.2), S.CosineDecay(15))
    model, opt = model_and_optimizer(0.2, groups=True)
    weights = [p.detach().clone() for p in model.parameters()]
    both = record_lrs(ScheduleLR(opt, schedule), 20, group=None)
    assert both.shape == (20, 2)
    np.testing.assert_allclose(both[:, 0], 0.2 * schedule.curve(np.arange(20)), rtol=1e-12)
    np.testing.assert_allclose(both[:, 1], 3 * both[:, 0], rtol=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True)), "no weight moves"
    _, opt = model_and_optimizer(0.5)
    torch_lrs = record_lrs(LinearLR(opt, start_factor=0.25, total_iters=3), 5)
    np.testing.assert_allclose(torch_lrs, [0.125, 0.25, 0.375, 0.5, 0.5])
    assert collect(ScheduleLR(opt, schedule), 1).shape == (1, 1)  # the optimizer is still usable


def test_record_lrs_names_what_is_wrong():
    from warmup_lib.torch_adapter import record_lrs

    _, opt = model_and_optimizer(0.1, groups=True)
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        record_lrs(torch.optim.lr_scheduler.ReduceLROnPlateau(opt), 3)
    with pytest.raises(ValueError, match="group"):
        record_lrs(ScheduleLR(opt, S.Constant()), 3, group=2)
    with pytest.raises(ValueError, match="steps"):
        record_lrs(ScheduleLR(opt, S.Constant()), -1)
