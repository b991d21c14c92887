"""transformers-named builders: same LR at every step as the documented transformers formulas."""

from __future__ import annotations

import builtins
import io
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import warmup_lib
from warmup_lib import builders as B
from warmup_lib.compat import reference_schedules
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
@pytest.mark.filterwarnings("ignore::warmup_lib.ScheduleWarning")  # the warmup == training cases
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
@pytest.mark.filterwarnings("ignore::warmup_lib.ScheduleWarning")  # the warmup == training cases
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


@pytest.mark.filterwarnings("ignore::warmup_lib.ScheduleWarning")
def test_polynomial_warmup_equal_to_training_returns_the_limit():
    opt = make_optimizer(0.1)
    lrs = [row[0] for row in run(B.get_polynomial_decay_schedule_with_warmup(opt, 10, 10, lr_end=1e-3), 13)]
    assert lrs[:10] == pytest.approx([0.1 * s / 10 for s in range(10)])
    assert lrs[10:] == pytest.approx([1e-3] * 3)


@pytest.mark.filterwarnings("ignore::warmup_lib.ScheduleWarning")
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
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, float("inf")), ValueError, "num_training_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, "10"), TypeError, "num_training_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, 10, last_epoch=-5), ValueError, "last_epoch"),
        (lambda o: B.get_cosine_schedule_with_warmup(o, 2, 10, num_cycles=float("nan")), ValueError, "num_cycles"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, lr_end=0.5), ValueError, "lr_end"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, lr_end=0.1), ValueError, "lr_end"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, power=-1), ValueError, "power"),
        (lambda o: B.get_inverse_sqrt_schedule(o, 2, timescale=0), ValueError, "timescale"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup(o, 2, 10, min_lr=0.01, min_lr_rate=0.1), ValueError, "min_lr"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup(o, 2, 10), ValueError, "min_lr"),
        (lambda o: B.get_wsd_schedule(o, 5, 6), ValueError, "num_training_steps or num_stable_steps"),
        (lambda o: B.get_wsd_schedule(o, 1, 1, num_stable_steps=-1), ValueError, "num_stable_steps"),
        (lambda o: B.get_wsd_schedule(o, 1, 1, 10, warmup_type="exp"), ValueError, "warmup_type"),
        (lambda o: B.get_wsd_schedule(o, 1, 1, 10, decay_type="step"), ValueError, "decay_type"),
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


# ---- reference vectors from the real transformers package (tools/make_reference_fixtures.py) ----

FIXTURE = reference_schedules()


def decode(value):
    if isinstance(value, dict) and "tensor" in value:
        return torch.tensor(value["tensor"], dtype=getattr(torch, value["dtype"]))
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    return value


def reference_optimizer(spec):
    """The optimizer the fixture's generator built for a case (one parameter per group)."""
    kind = getattr(torch.optim, spec.get("kind", "SGD"))
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": decode(lr)} for lr in spec.get("group_lrs", [spec["lr"]])]
    kwargs = {"lr": decode(spec["lr"])}
    if "betas" in spec:
        kwargs["betas"] = tuple(spec["betas"])
    for group, betas in zip(groups, spec.get("group_betas", [None] * len(groups)), strict=True):
        if betas is not None:
            group["betas"] = tuple(betas)
    return kind(groups, **kwargs)


def used_lrs(scheduler, optimizer, steps):
    rows = []
    for _ in range(steps):
        rows.append([float(group["lr"]) for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return rows


def _case_id(case):
    args = ",".join(f"{k}={v['tensor'] if isinstance(v, dict) else v}" for k, v in case["args"].items())
    lr = "tensor" if isinstance(case["optimizer"]["lr"], dict) else "groups" if "group_lrs" in case["optimizer"] else ""
    return f"{case['builder'].removeprefix('get_')}({args}){lr}"


@pytest.mark.parametrize("case", FIXTURE["transformers"], ids=_case_id)
def test_builders_match_transformers_reference_vectors(case):
    builder = getattr(warmup_lib, case["builder"])
    optimizer = reference_optimizer(case["optimizer"])
    args = decode(case["args"])
    polynomial_without_decay = case["builder"] == "get_polynomial_decay_schedule_with_warmup" and (
        args["num_warmup_steps"] == args["num_training_steps"]
    )
    if "error" in case and not polynomial_without_decay:
        # transformers raises here, or (error_at_step) crashes later in training: we raise up front
        with pytest.raises(getattr(builtins, case["error"]) if "error_at_step" not in case else ValueError):
            builder(optimizer, **args)
        assert "initial_lr" not in optimizer.param_groups[0]
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", warmup_lib.ScheduleWarning)
        scheduler = builder(optimizer, **args)
    ours = used_lrs(scheduler, optimizer, case["steps"])
    reference = case.get("lrs", [])
    if polynomial_without_decay:  # transformers divides by zero at step T; we give the limit, lr_end
        assert all(row == pytest.approx([args.get("lr_end", 1e-7)]) for row in ours[len(reference):])
        ours = ours[: len(reference)]
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-15)


def test_a_transformers_checkpoint_resumes_in_our_builder():
    saved = FIXTURE["lambdalr_checkpoint"]
    optimizer = reference_optimizer(saved["optimizer"])
    scheduler = getattr(warmup_lib, saved["builder"])(optimizer, **saved["args"])
    for group, lr in zip(optimizer.param_groups, saved["optimizer_lrs"], strict=True):
        group["lr"] = lr  # what optimizer.load_state_dict restores
    scheduler.load_state_dict(saved["state_dict"])
    assert scheduler.last_epoch == saved["state_dict"]["last_epoch"]
    np.testing.assert_allclose(used_lrs(scheduler, optimizer, 10), saved["lrs_after"], rtol=1e-12, atol=0)


def test_fixture_is_small_and_records_its_provenance():
    path = Path(warmup_lib.compat.__file__).parent / "reference_schedules.json"
    assert path.stat().st_size < 200_000
    assert set(FIXTURE["versions"]) == {"transformers", "pytorch-warmup", "torch"}
    assert {case["builder"] for case in FIXTURE["transformers"]} == set(B.__all__) - {"get_scheduler"}


# ---- what transformers accepts: accepted, with a ScheduleWarning where it is almost surely a mistake ----


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda o: B.get_linear_schedule_with_warmup(o, 20, 10), "num_warmup_steps"),
        (lambda o: B.get_cosine_schedule_with_warmup(o, 10, 10), "num_warmup_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, 0), "num_training_steps is 0"),
        (lambda o: B.get_cosine_schedule_with_warmup(o, 2, 10, num_cycles=-0.5), "num_cycles"),
        (lambda o: B.get_cosine_with_hard_restarts_schedule_with_warmup(o, 2, 10, num_cycles=-1), "num_cycles"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, lr_end=-0.01), "lr_end"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, power=0), "power"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup(o, 2, 10, min_lr_rate=1.5), "min_lr_rate"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup(o, 2, 10, min_lr=0.2), "min_lr"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(o, 2, 10, min_lr_rate=0.1, warmup_lr_rate=1.5), "warmup_lr_rate"),
        (lambda o: B.get_wsd_schedule(o, 5, 6, num_training_steps=10), "do not fit"),
        (lambda o: B.get_wsd_schedule(o, 1, 1, 10, min_lr_ratio=2), "min_lr_ratio"),
        (lambda o: B.get_wsd_schedule(o, 2, 2, num_training_steps=10, num_stable_steps=3), "num_stable_steps is used"),
    ],
)
def test_odd_inputs_transformers_accepts_warn_and_can_be_made_errors(call, argument):
    with pytest.warns(warmup_lib.ScheduleWarning, match=argument) as record:
        call(make_optimizer(0.1))
    assert record[0].filename == __file__, "the warning points at the caller's line"
    with warnings.catch_warnings():
        warnings.simplefilter("error", warmup_lib.ScheduleWarning)
        with pytest.raises(warmup_lib.ScheduleWarning, match=argument):
            call(make_optimizer(0.1))


def test_fractional_and_tensor_step_counts_are_accepted_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(B.get_linear_schedule_with_warmup(make_optimizer(1.0), 2.5, 10), 4) == [[0.0], [0.4], [0.8], [pytest.approx(7 / 7.5)]]
        sched = B.get_cosine_schedule_with_warmup(make_optimizer(1.0), torch.tensor(2), torch.tensor(10), num_cycles=torch.tensor(0.5))
        assert sched.schedule.to_dict() == {"type": "TransformersCosine", "num_warmup_steps": 2, "num_training_steps": 10,
                                            "num_cycles": 0.5, "min_lr_rate": 0.0}
        B.get_cosine_with_hard_restarts_schedule_with_warmup(make_optimizer(), 2, 10, num_cycles=1.5)
        B.get_wsd_schedule(make_optimizer(), np.int64(2), 3, num_training_steps=10.0)


@pytest.mark.parametrize(
    ("call", "exc", "argument"),
    [
        (lambda o: B.get_linear_schedule_with_warmup(o, True, 10), TypeError, "num_warmup_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, torch.tensor([1, 2]), 10), TypeError, "num_warmup_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, float("nan")), ValueError, "num_training_steps"),
        (lambda o: B.get_linear_schedule_with_warmup(o, 2, -10), ValueError, "num_training_steps"),
        (lambda o: B.get_constant_schedule_with_warmup(o, -3), ValueError, "num_warmup_steps"),
        (lambda o: B.get_cosine_schedule_with_warmup(o, 2, 10, num_cycles="half"), TypeError, "num_cycles"),
        (lambda o: B.get_cosine_schedule_with_warmup(o, 2, 10, num_cycles=torch.tensor(float("inf"))), ValueError, "num_cycles"),
        (lambda o: B.get_polynomial_decay_schedule_with_warmup(o, 2, 10, lr_end=float("nan")), ValueError, "lr_end"),
        (lambda o: B.get_inverse_sqrt_schedule(o, 2, timescale=-4), ValueError, "timescale"),
        (lambda o: B.get_inverse_sqrt_schedule(o, 2, timescale="4"), TypeError, "timescale"),
        (lambda o: B.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(o, 2, 10, min_lr_rate=0.1, warmup_lr_rate=float("nan")), ValueError, "warmup_lr_rate"),
        (lambda o: B.get_wsd_schedule(o, 2, -1, 10), ValueError, "num_decay_steps"),
        (lambda o: B.get_wsd_schedule(o, 2, 2, 10, num_cycles=None), TypeError, "num_cycles"),
    ],
)
def test_more_bad_arguments_are_named(call, exc, argument):
    optimizer = make_optimizer(0.1)
    with pytest.raises(exc, match=argument):
        call(optimizer)
    assert "initial_lr" not in optimizer.param_groups[0]


def test_an_optimizer_lr_of_zero_is_named_where_a_schedule_divides_by_it():
    optimizer = make_optimizer(0.0)
    with pytest.raises(ValueError, match="optimizer's lr"):
        B.get_cosine_with_min_lr_schedule_with_warmup(optimizer, 2, 10, min_lr=0.0)


def test_the_builders_schedules_are_plain_data_and_their_curves_match_their_steps():
    optimizer = make_optimizer(0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", warmup_lib.ScheduleWarning)
        schedulers = [
            B.get_constant_schedule_with_warmup(optimizer, 2.5),
            B.get_linear_schedule_with_warmup(optimizer, 3, 12),
            B.get_cosine_schedule_with_warmup(optimizer, 3, 12, num_cycles=1.5),
            B.get_cosine_with_hard_restarts_schedule_with_warmup(optimizer, 3, 12, num_cycles=1.5),
            B.get_polynomial_decay_schedule_with_warmup(optimizer, 3, 12, lr_end=1e-3, power=2),
            B.get_inverse_sqrt_schedule(optimizer, 3),
            B.get_cosine_with_min_lr_schedule_with_warmup(optimizer, 3, 12, min_lr_rate=0.1),
            B.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(optimizer, 3, 12, min_lr_rate=0.1),
            B.get_wsd_schedule(optimizer, 5, 6, num_training_steps=10, decay_type="1-sqrt"),
        ]
    for scheduler in schedulers:
        schedule = scheduler.schedule
        assert warmup_lib.schedule_from_dict(schedule.to_dict()) == schedule
        steps = np.arange(30)
        assert np.array_equal(schedule.curve(steps), [schedule(int(k)) for k in steps])
        buffer = io.BytesIO()
        torch.save(scheduler.state_dict(), buffer)
        buffer.seek(0)
        assert torch.load(buffer, weights_only=True)["schedule"] == schedule.to_dict()
        assert pickle.loads(pickle.dumps(schedule)) == schedule
    assert [s.schedule.warmup_steps for s in schedulers] == [3, 3, 3, 3, 3, 3, 3, 2, 5]


def test_builders_follow_the_projects_own_schedules_for_whole_numbers():
    """What notebook 02 shows: the cosine builder is warmup_then(LinearWarmup(W), CosineDecay(T - W))."""
    for w, t in CASES:
        builder = B.get_cosine_schedule_with_warmup(make_optimizer(1.0), w, t).schedule if w < t else None
        if builder is not None:
            ours = warmup_lib.warmup_then(warmup_lib.LinearWarmup(w), warmup_lib.CosineDecay(t - w))
            assert np.array_equal(builder.curve(np.arange(t + 20)), ours.curve(np.arange(t + 20)))
