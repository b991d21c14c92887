"""Notebook 02's exercise checks: right, wrong, stub and hostile answers."""

from exercise_cases import Case, contract_tests

import warmup_lib as wl
from warmup_lib.exercises import ex


def _schedule(decay_end: float):
    return wl.warmup_then(wl.LinearWarmup(100), wl.CosineDecay(1900, end=decay_end))


def _fair_base():
    return wl.CosineDecay(3000, end=0.1)


def _first_below_half() -> int:
    import numpy as np

    steps = np.arange(2000)
    return int(np.argmax((steps >= 100) & (_schedule(0.1).curve(steps) < 0.5)))


CASES = {
    "02.1": lambda: Case(right=(_schedule(0.1), _first_below_half()), wrong=(_schedule(0.0), _first_below_half())),
    "02.2": lambda: Case(right=(702, 3), wrong=(5625, 3)),
    "02.3": lambda: Case(
        right=(wl.LinearWarmup(300) * _fair_base(), _fair_base()(300)),
        wrong=(wl.warmup_then(wl.LinearWarmup(300), wl.CosineDecay(2700, end=0.1)), _fair_base()(300)),
    ),
}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)


def test_a_plain_function_is_accepted_as_a_schedule():
    schedule = _schedule(0.1)
    assert ex["02.1"].evaluate(lambda step: schedule(step), _first_below_half()).correct


def test_rounding_up_the_updates_per_epoch_is_explained():
    assert "full updates per epoch" in ex["02.2"].evaluate(705, 3).message


def test_a_fair_warmup_is_judged_after_and_during_warmup_and_its_peak_is_not_one():
    base = _fair_base()
    assert ex["02.3"].evaluate(wl.with_warmup(base, wl.LinearWarmup(300)), base(300)).correct
    shifted = ex["02.3"].evaluate(wl.warmup_then(wl.LinearWarmup(300), wl.CosineDecay(2700, end=0.1)), base(300))
    assert "after the warmup" in shifted.message and "multiply" in shifted.message
    other_start = ex["02.3"].evaluate(wl.LinearWarmup(300, start=0.5) * base, base(300))
    assert other_start.status == "incorrect" and "during it step 0" in other_start.message
    one = ex["02.3"].evaluate(wl.LinearWarmup(300) * base, 1.0)
    assert one.status == "incorrect" and "never reaches 1" in one.message
