"""Notebook 07's exercise checks: right, wrong, stub and hostile answers."""

from exercise_cases import Case, contract_tests

import warmup_lib as wl
from warmup_lib.exercises import ex

CASES = {
    "07.1": lambda: Case(right=(1 - 0.999, 1999), wrong=(0.001, 1999)),
    "07.2": lambda: Case(right=(wl.LinearWarmup(49, start=1 / 50), 49), wrong=(wl.LinearWarmup(50), 49)),
    "07.3": lambda: Case(
        right=(wl.ExponentialWarmup(150, start=1e-3), 1e-2), wrong=(wl.LinearWarmup(150, start=1e-3), 1e-2)
    ),
}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)


def test_a_warmup_starting_at_zero_is_told_the_package_convention():
    outcome = ex["07.2"].evaluate(wl.LinearWarmup(50), 49)
    assert "step 0" in outcome.message and "never 0" in outcome.message


def test_the_first_full_update_is_counted_from_zero():
    outcome = ex["07.2"].evaluate(wl.LinearWarmup(49, start=1 / 50), 50)
    assert outcome.status == "incorrect" and "`first_full` is 50, expected 49" in outcome.message


def test_the_exponential_recipe_accepts_a_plain_function_and_names_a_wrong_peak():
    schedule = wl.ExponentialWarmup(150, start=1e-3)
    assert ex["07.3"].evaluate(lambda step: schedule(step), 1e-2).correct
    assert "`peak_lr` is 0.1" in ex["07.3"].evaluate(schedule, 0.1).message
