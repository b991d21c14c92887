"""Schedules: exact formulas, the user's example, composition, theory helpers, properties, bad input."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warmup_lib import schedules as S

ALL_WARMUPS = [
    S.LinearWarmup(50),
    S.LinearWarmup(50, start=0.02),
    S.ExponentialWarmup(50, start=1e-3),
    S.SaturatingWarmup(tau=10.0, warmup_steps=50),
    S.CosineWarmup(50),
    S.OneMinusSqrtWarmup(50, start=0.1),
]
ALL_DECAYS = [
    S.Constant(),
    S.LinearDecay(150),
    S.CosineDecay(150, end=0.1),
    S.CosineRestartsDecay(150, cycles=3),
    S.PolynomialDecay(150, end=0.01, power=2.0),
    S.InverseSqrtDecay(50),
    S.StepDecay(40, gamma=0.5),
    S.ExponentialDecay(0.99),
    S.OneMinusSqrtDecay(150, end=0.05),
]


def test_users_example_exponential_warmup_reproduced_exactly():
    schedule = S.ExponentialWarmup(300, start=1e-3)
    peak_lr = 0.1
    lrs = {step: peak_lr * schedule(step) for step in (0, 100, 200, 300, 400, 10_000)}
    assert lrs[0] == pytest.approx(1e-4, rel=1e-15)
    assert lrs[100] == pytest.approx(1e-3, rel=1e-15)
    assert lrs[200] == pytest.approx(1e-2, rel=1e-15)
    assert lrs[300] == lrs[400] == lrs[10_000] == peak_lr
    # One decade every 100 steps, i.e. a constant ratio per step.
    ratios = np.diff(np.log10(schedule.curve(np.arange(301))))
    assert np.allclose(ratios, 0.01)


@pytest.mark.parametrize(
    ("schedule", "step", "expected"),
    [
        (S.LinearWarmup(100), 0, 0.0),
        (S.LinearWarmup(100), 25, 0.25),
        (S.LinearWarmup(100), 100, 1.0),
        (S.LinearWarmup(100, start=0.2), 50, 0.6),
        (S.LinearWarmup(0), 0, 1.0),
        (S.CosineWarmup(100), 50, 0.5),
        (S.CosineWarmup(100, start=0.5), 0, 0.5),
        (S.SaturatingWarmup(tau=10.0), 10, 1 - math.exp(-1)),
        (S.SaturatingWarmup(tau=10.0, warmup_steps=30), 30, 1.0),
        (S.ConstantWarmup(10, factor=0.1), 9, 0.1),
        (S.ConstantWarmup(10, factor=0.1), 10, 1.0),
        (S.OneMinusSqrtWarmup(100), 75, 0.5),
        (S.LinearDecay(100), 25, 0.75),
        (S.LinearDecay(100, end=0.1), 100, 0.1),
        (S.LinearDecay(100, end=0.1), 500, 0.1),
        (S.CosineDecay(100), 50, 0.5),
        (S.CosineDecay(100, end=0.2), 100, 0.2),
        (S.CosineDecay(100, cycles=1.0), 100, 1.0),
        (S.CosineRestartsDecay(100, cycles=2), 50, 1.0),
        (S.CosineRestartsDecay(100, cycles=2), 100, 0.0),
        (S.PolynomialDecay(100, end=0.0, power=2.0), 50, 0.25),
        (S.PolynomialDecay(100, end=0.1), 1000, 0.1),
        (S.InverseSqrtDecay(100), 300, 0.5),
        (S.StepDecay(10, gamma=0.5), 25, 0.25),
        (S.ExponentialDecay(0.5), 3, 0.125),
        (S.OneMinusSqrtDecay(100), 25, 0.5),
        (S.Constant(0.3), 7, 0.3),
    ],
)
def test_documented_formula_values(schedule, step, expected):
    assert schedule(step) == pytest.approx(expected, abs=1e-12)


def test_call_matches_curve_and_returns_python_float():
    schedule = S.warmup_then(S.CosineWarmup(20), S.CosineDecay(80, end=0.1))
    steps = np.arange(0, 150)
    curve = schedule.curve(steps)
    assert curve.dtype == np.float64
    assert all(type(schedule(int(k))) is float for k in steps[:3])
    assert np.array_equal(curve, [schedule(int(k)) for k in steps])


def test_join_uses_phase_lengths_and_local_steps():
    schedule = S.join((S.LinearWarmup(10), 10), (S.Constant(), 5), (S.LinearDecay(20), None))
    assert schedule.boundaries == (10, 15)
    assert schedule(9) == pytest.approx(0.9)
    assert schedule(10) == schedule(14) == 1.0
    assert schedule(15) == 1.0
    assert schedule(25) == pytest.approx(0.5)
    assert schedule(35) == 0.0
    assert schedule.warmup_steps == 10


def test_warmup_then_and_wsd():
    schedule = S.warmup_then(S.LinearWarmup(4), S.LinearDecay(4))
    assert schedule.curve(np.arange(10)).tolist() == [0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    wsd = S.wsd(10, 20, 10, decay_type="linear", min_ratio=0.1)
    values = wsd.curve(np.arange(50))
    assert values[0] == pytest.approx(0.1) and values[10] == 1.0 and values[29] == 1.0
    assert values[35] == pytest.approx(0.55) and values[40] == pytest.approx(0.1) and values[49] == pytest.approx(0.1)


def test_one_cycle_matches_torch():
    torch = pytest.importorskip("torch")
    for kwargs in ({}, {"anneal": "linear"}, {"three_phase": True}, {"pct_start": 0.25, "div_factor": 10.0}):
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        torch_kwargs = {k: v for k, v in kwargs.items() if k != "anneal"}
        if "anneal" in kwargs:
            torch_kwargs["anneal_strategy"] = kwargs["anneal"]
        reference = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=100, cycle_momentum=False, **torch_kwargs)
        expected = []
        for _ in range(100):
            expected.append(reference.get_last_lr()[0])
            opt.step()
            reference.step()
        ours = 0.5 * S.OneCycle(100, **kwargs).curve(np.arange(100))
        np.testing.assert_allclose(ours, expected, rtol=1e-12, err_msg=str(kwargs))


def test_noam_is_linear_warmup_then_inverse_sqrt():
    d_model, warmup = 512, 4000
    peak = S.noam_peak_lr(d_model, warmup)
    schedule = S.warmup_then(S.LinearWarmup(warmup), S.InverseSqrtDecay(warmup))
    for t in (1, 100, 4000, 8000, 16000, 100_000):
        noam = d_model**-0.5 * min(t**-0.5, t * warmup**-1.5)
        assert peak * schedule(t) == pytest.approx(noam, rel=1e-12)


# ---- theory helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("beta2", "shape", "expected"),
    [(0.999, "linear", 2000), (0.999, "exponential", 1000), (0.98, "linear", 100), (0.9, "linear", 20),
     (0.95, "exponential", 20), (0.9999, "linear", 20000), (0.997, "linear", 666), (0.5, "exponential", 2)],
)
def test_untuned_warmup_steps_exact_and_floored(beta2, shape, expected):
    assert S.untuned_warmup_steps(beta2, shape=shape) == expected


def test_untuned_warmup_schedules():
    assert S.untuned_warmup(0.999) == S.LinearWarmup(2000)
    exp = S.untuned_warmup(0.999, "exponential")
    assert exp(1000) == pytest.approx(1 - math.exp(-1))


@pytest.mark.parametrize("beta2", [0.0, 1.0, -0.1, 1.5, float("nan"), float("inf")])
def test_untuned_warmup_rejects_beta2_outside_open_interval(beta2):
    with pytest.raises(ValueError, match="beta2"):
        S.untuned_warmup_steps(beta2)


def test_radam_rectification_matches_paper_formula():
    beta2 = 0.999
    rho_inf = 2 / (1 - beta2) - 1
    for t in (6, 10, 100, 1000, 10_000):
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        expected = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        assert S.radam_rectification(beta2, t) == pytest.approx(expected, rel=1e-10)
    # Undefined while rho_t <= 4 (the first four updates for beta2=0.999) and at t=0.
    assert [S.radam_rectification(beta2, t) for t in range(5)] == [0.0] * 5
    assert S.radam_rectification(beta2, 5) > 0
    values = S.radam_rectification(beta2, np.arange(0, 20_000))
    assert isinstance(values, np.ndarray) and values.shape == (20_000,)
    assert np.all(np.diff(values[5:]) > 0) and values[-1] < 1 and values[-1] > 0.99


def test_radam_rectification_of_one_step_is_computed_as_pytorch_warmup_computes_it():
    # Python floats and the C library's pow, in upstream's order of operations: equal to the last
    # bit on every machine. (NumPy's vectorised power rounds beta2**7 differently on some CPUs,
    # which near rho_t = 4 moved the compat RAdamWarmup's LR by 6e-12 relative.)
    for beta2 in (0.999, 0.98, 0.9):
        rho_inf = 2.0 / (1 - beta2) - 1
        for t in range(1, 60):
            b2t = beta2**t
            rho = rho_inf - 2 * t * b2t / (1 - b2t)
            expected = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)) if rho > 4 else 0.0
            assert S.radam_rectification(beta2, t) == expected, (beta2, t)
        array = S.radam_rectification(beta2, np.arange(1, 60))
        scalars = [S.radam_rectification(beta2, t) for t in range(1, 60)]
        np.testing.assert_allclose(array, scalars, rtol=1e-10, atol=0)


def test_radam_rectification_rejects_bad_input():
    with pytest.raises(ValueError, match="beta2"):
        S.radam_rectification(1.0, 10)
    with pytest.raises(ValueError, match="step"):
        S.radam_rectification(0.999, -1)
    with pytest.raises(TypeError, match="step"):
        S.radam_rectification(0.999, "ten")


# ---- properties -----------------------------------------------------------------------------


@pytest.mark.parametrize("warmup", ALL_WARMUPS, ids=repr)
def test_warmups_are_monotone_bounded_and_reach_one(warmup):
    values = warmup.curve(np.arange(0, 3 * warmup.warmup_steps))
    assert np.all(np.diff(values) >= -1e-15), "a warmup must never lower the LR"
    assert np.all((values >= 0) & (values <= 1))
    assert values[warmup.warmup_steps] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("decay", ALL_DECAYS, ids=repr)
@pytest.mark.parametrize("warmup", ALL_WARMUPS, ids=repr)
def test_joins_are_continuous_and_bounded(warmup, decay):
    schedule = S.warmup_then(warmup, decay)
    join = warmup.warmup_steps
    # The warmup's own limit at its end equals the decay's first value: no jump at the join.
    assert warmup.curve([join])[0] == pytest.approx(decay(0), abs=1e-12)
    values = schedule.curve(np.arange(0, 400))
    assert np.all((values >= 0) & (values <= 1 + 1e-12))
    step_sizes = np.abs(np.diff(values))
    # No single step changes the multiplier more than the steepest phase does on its own
    # (restarts and step decays jump by design).
    if not isinstance(decay, S.CosineRestartsDecay | S.StepDecay):
        assert step_sizes[join - 1 : join + 1].max() <= step_sizes.max() + 1e-12


@settings(max_examples=60, deadline=None)
@given(
    warmup_steps=st.integers(0, 500),
    decay_steps=st.integers(0, 500),
    start=st.floats(0.0, 1.0),
    end=st.floats(0.0, 0.99),
    shape=st.sampled_from(["linear", "cosine", "1-sqrt"]),
)
def test_property_warmup_cosine_bounded_monotone_warmup(warmup_steps, decay_steps, start, end, shape):
    warmup = S.WARMUP_SHAPES[shape](warmup_steps, start=start)
    schedule = S.warmup_then(warmup, S.CosineDecay(decay_steps, end=end))
    values = schedule.curve(np.arange(0, warmup_steps + decay_steps + 1))
    assert np.all(values >= 0) and np.all(values <= 1 + 1e-12)
    assert np.all(np.diff(values[: warmup_steps + 1]) >= -1e-12)
    assert values[warmup_steps] == pytest.approx(1.0)
    assert values[-1] == pytest.approx(end if decay_steps else 1.0, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(spec=st.sampled_from(ALL_WARMUPS + ALL_DECAYS), steps=st.lists(st.integers(0, 10**6), min_size=1, max_size=50))
def test_property_call_equals_vectorised_curve(spec, steps):
    assert np.array_equal(spec.curve(np.array(steps)), [spec(s) for s in steps])


def test_schedules_are_immutable_hashable_picklable_and_round_trip_through_plain_dicts():
    schedule = S.wsd(10, 20, 30, warmup_type="cosine", decay_type="1-sqrt", min_ratio=0.05)
    with pytest.raises(AttributeError):
        schedule.phases = ()
    assert hash(schedule) == hash(pickle.loads(pickle.dumps(schedule)))
    spec = schedule.to_dict()
    assert spec["type"] == "Joined" and spec["phases"][0]["type"] == "CosineWarmup"
    assert S.schedule_from_dict(spec) == schedule
    for item in ALL_WARMUPS + ALL_DECAYS + [S.OneCycle(100)]:
        assert S.schedule_from_dict(item.to_dict()) == item


# ---- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "exc", "argument"),
    [
        (lambda: S.LinearWarmup(-1), ValueError, "warmup_steps"),
        (lambda: S.LinearWarmup(10.5), ValueError, "warmup_steps"),
        (lambda: S.LinearWarmup("10"), TypeError, "warmup_steps"),
        (lambda: S.LinearWarmup(True), TypeError, "warmup_steps"),
        (lambda: S.LinearWarmup(float("nan")), ValueError, "warmup_steps"),
        (lambda: S.LinearWarmup(10, start=1.5), ValueError, "start"),
        (lambda: S.ExponentialWarmup(10, start=0.0), ValueError, "start"),
        (lambda: S.SaturatingWarmup(tau=0.0), ValueError, "tau"),
        (lambda: S.CosineDecay(100, end=float("inf")), ValueError, "end"),
        (lambda: S.CosineDecay(100, cycles=-1), ValueError, "cycles"),
        (lambda: S.CosineRestartsDecay(100, cycles=0), ValueError, "cycles"),
        (lambda: S.PolynomialDecay(100, power=0), ValueError, "power"),
        (lambda: S.PolynomialDecay(100, end=1.0), ValueError, "end"),
        (lambda: S.InverseSqrtDecay(0), ValueError, "timescale"),
        (lambda: S.StepDecay(0), ValueError, "step_size"),
        (lambda: S.ExponentialDecay(1.5), ValueError, "gamma"),
        (lambda: S.OneCycle(100, anneal="cubic"), ValueError, "anneal"),
        (lambda: S.wsd(10, 10, 10, warmup_type="exp"), ValueError, "warmup_type"),
        (lambda: S.join(), ValueError, "phase"),
        (lambda: S.join((S.LinearWarmup(3), None), (S.Constant(), None)), ValueError, "phase 0"),
        (lambda: S.join((S.LinearWarmup(3), -2), (S.Constant(), None)), ValueError, "length of phase 0"),
        (lambda: S.join(S.LinearWarmup(3)), TypeError, "phase 0"),
        (lambda: S.warmup_then(S.SaturatingWarmup(tau=3.0), S.Constant()), ValueError, "warmup_steps"),
        (lambda: S.LinearWarmup(10)(-1), ValueError, "step"),
        (lambda: S.LinearWarmup(10)(2.5), ValueError, "step"),
        (lambda: S.LinearWarmup(10).curve([0, -3]), ValueError, "steps"),
        (lambda: S.LinearWarmup(10).curve([0.5]), ValueError, "steps"),
        (lambda: S.LinearWarmup(10).curve([np.nan]), ValueError, "steps"),
        (lambda: S.LinearWarmup(10).curve(["a"]), TypeError, "steps"),
        (lambda: S.schedule_from_dict({"type": "Nope"}), ValueError, "type"),
        (lambda: S.untuned_warmup_steps(0.999, shape="cubic"), ValueError, "shape"),
    ],
)
def test_bad_arguments_are_named(factory, exc, argument):
    with pytest.raises(exc, match=argument):
        factory()


def test_valid_edge_cases_work():
    assert S.LinearWarmup(0)(0) == 1.0
    assert S.warmup_then(S.LinearWarmup(0), S.LinearDecay(0))(0) == 0.0
    assert S.LinearWarmup(10.0)(5) == 0.5  # an integral float is a whole number of steps
    assert S.PolynomialDecay(0, end=0.1)(0) == 0.1


# ---- the schedule algebra: warmup * base ----------------------------------------------------


BASES = [S.CosineDecay(300), S.LinearDecay(200, end=0.1), S.Constant(0.5), S.StepDecay(40, gamma=0.5),
         S.wsd(0, 100, 100, min_ratio=0.1), S.OneCycle(300)]


@pytest.mark.parametrize("base", BASES, ids=repr)
@pytest.mark.parametrize("warmup", ALL_WARMUPS + [S.ConstantWarmup(20, factor=0.1)], ids=repr)
def test_warmup_times_base_is_the_base_dampened_during_warmup_and_equal_after(warmup, base):
    product = warmup * base
    assert product == S.with_warmup(base, warmup) == S.Product((warmup, base))
    steps = np.arange(400)
    np.testing.assert_array_equal(product.curve(steps), warmup.curve(steps) * base.curve(steps))
    differ = S.steps_that_differ(base, product, 400)
    assert differ.dtype.kind == "i" and (differ.size == 0 or differ.max() < warmup.warmup_steps)
    assert product.warmup_steps == max(warmup.warmup_steps, base.warmup_steps)
    # plain data, hashable, picklable, and the one-step path agrees bit for bit
    assert S.schedule_from_dict(product.to_dict()) == product
    assert hash(pickle.loads(pickle.dumps(product))) == hash(product)
    assert np.array_equal(product.curve(steps), [product(int(k)) for k in steps])


def test_steps_that_differ_lists_exactly_the_dampened_steps():
    base = S.CosineDecay(100)
    assert S.steps_that_differ(base, S.LinearWarmup(10) * base, 100).tolist() == list(range(10))
    assert S.steps_that_differ(base, base, 100).size == 0
    # the last cosine step is 0, so warmup changes nothing there; atol ignores tiny differences
    assert S.steps_that_differ(base, S.LinearWarmup(101) * base, 101).tolist() == list(range(100))
    assert S.steps_that_differ(S.Constant(1.0), S.Constant(1.0 - 1e-13), 5, atol=1e-12).size == 0


def test_products_flatten_and_take_numbers():
    a, b, c = S.LinearWarmup(5), S.CosineDecay(50), S.Constant(0.5)
    assert (a * b) * c == a * (b * c) == S.Product((a, b, c))
    assert 0.5 * b == S.Product((S.Constant(0.5), b)) and b * 2 == S.Product((b, S.Constant(2.0)))
    assert np.float64(0.5) * b == 0.5 * b  # NumPy scalars defer to the schedule
    assert (0.5 * b)(0) == 0.5


def test_warmups_hold_exactly_one_from_their_end_for_any_start():
    for start in np.linspace(0.0, 1.0, 51):
        for warmup in (S.LinearWarmup(7, start=start), S.CosineWarmup(7, start=start),
                       S.OneMinusSqrtWarmup(7, start=start), S.SaturatingWarmup(2.0, start=start, warmup_steps=7)):
            assert np.all(warmup.curve(np.arange(7, 50)) == 1.0), warmup
            assert warmup(7) == 1.0
            S.with_warmup(S.Constant(), warmup)  # accepted


@pytest.mark.parametrize(
    ("call", "exc", "argument"),
    [
        (lambda: S.with_warmup(S.Constant(), S.ExponentialDecay(0.9)), ValueError, "exactly 1"),
        (lambda: S.with_warmup(S.Constant(), S.SaturatingWarmup(tau=3.0)), ValueError, "warmup_steps"),
        (lambda: S.with_warmup(S.Constant(), S.LinearDecay(10)), ValueError, "warmup"),
        (lambda: S.with_warmup(lambda t: 1.0, S.LinearWarmup(3)), TypeError, "base"),
        (lambda: S.with_warmup(S.Constant(), 3), TypeError, "warmup"),
        (lambda: S.Constant() * "a", TypeError, "multiply"),
        (lambda: S.Constant() * True, TypeError, "unsupported"),
        (lambda: -1.0 * S.Constant(), ValueError, "value"),
        (lambda: float("nan") * S.Constant(), ValueError, "value"),
        (lambda: S.Product(()), TypeError, "factors"),
        (lambda: S.Product((S.Constant(), 2.0)), TypeError, "factors"),
        (lambda: S.steps_that_differ(S.Constant(), 1.0, 5), TypeError, "a and b"),
        (lambda: S.steps_that_differ(S.Constant(), S.Constant(), -1), ValueError, "steps"),
        (lambda: S.steps_that_differ(S.Constant(), S.Constant(), 5, atol=-1e-3), ValueError, "atol"),
    ],
)
def test_algebra_bad_arguments_are_named(call, exc, argument):
    with pytest.raises(exc, match=argument):
        call()


def test_schedule_warning_is_a_user_warning_at_the_package_root():
    import warmup_lib

    assert issubclass(warmup_lib.ScheduleWarning, UserWarning)
    assert warmup_lib.ScheduleWarning is S.ScheduleWarning
    for name in ("Product", "with_warmup", "steps_that_differ"):
        assert getattr(warmup_lib, name) is getattr(S, name)


COMPOSED = [
    S.OneCycle(100), S.OneCycle(100, three_phase=True, anneal="linear"),
    S.wsd(10, 20, 30, warmup_type="cosine", decay_type="1-sqrt", min_ratio=0.05),
    S.wsd(5, 0, 10, warmup_type="1-sqrt", decay_type="cosine", cycles=1.0),
    S.LinearWarmup(30, start=0.3) * S.CosineRestartsDecay(80, cycles=3, end=0.1),
    0.5 * S.ExponentialWarmup(40, start=1e-3) * S.PolynomialDecay(120, end=0.01, power=1.7),
    S.join((S.ConstantWarmup(5, factor=0.2), 5), (S.SaturatingWarmup(3.0), 20), (S.ExponentialDecay(0.97), None)),
]


@settings(max_examples=60, deadline=None)
@given(spec=st.sampled_from(COMPOSED), steps=st.lists(st.integers(0, 10**6), min_size=1, max_size=50))
def test_property_one_step_path_equals_curve_for_compositions(spec, steps):
    assert np.array_equal(spec.curve(np.array(steps)), [spec(s) for s in steps])


def test_one_step_path_is_bit_identical_to_curve_from_several_threads():
    # The one-step path reuses a one-element array per thread for NumPy's cos; threads running
    # schedules at once must not see each other's values.
    import threading

    schedule = S.CosineDecay(997, end=0.1) * S.LinearWarmup(31)
    steps = np.arange(1000)
    expected = schedule.curve(steps)
    mismatches: list[int] = []

    def walk(offset: int) -> None:
        for k in np.roll(steps, offset):
            if schedule(int(k)) != expected[k]:
                mismatches.append(int(k))

    threads = [threading.Thread(target=walk, args=(offset,)) for offset in (0, 333, 667, 500)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []
