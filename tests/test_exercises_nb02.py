"""Notebook 02's exercise checks: right, wrong, stub and hostile answers."""

from exercise_cases import Case, contract_tests

import warmup_lib as wl
from warmup_lib.exercises import ex


def _schedule(decay_end: float):
    return wl.warmup_then(wl.LinearWarmup(100), wl.CosineDecay(1900, end=decay_end))


def _first_below_half() -> int:
    import numpy as np

    steps = np.arange(2000)
    return int(np.argmax((steps >= 100) & (_schedule(0.1).curve(steps) < 0.5)))


CASES = {
    "02.1": lambda: Case(right=(_schedule(0.1), _first_below_half()), wrong=(_schedule(0.0), _first_below_half())),
    "02.2": lambda: Case(right=(702, 3), wrong=(5625, 3)),
    "02.3": lambda: Case(right=(1 - 0.999, 1999), wrong=(0.001, 1999)),
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
