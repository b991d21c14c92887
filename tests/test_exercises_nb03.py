"""Notebook 03's exercise checks: right, wrong, stub and hostile answers."""

import numpy as np
import pandas as pd
from exercise_cases import Case, contract_tests

import warmup_lib as wl
from warmup_lib.exercises import ex

CHANCE = 3.0


def _fair(warmup: int = 50):
    return wl.LinearWarmup(warmup) * wl.LinearDecay(200)


def _runs() -> pd.DataFrame:
    """Two conditions of three seeds: without warmup two runs stay flat near CHANCE."""
    steps = np.arange(100)
    learning = 0.8 + (CHANCE - 0.8) * np.exp(-steps / 15)
    rows = []
    for condition, curves in {
        "no warmup": [np.full(100, CHANCE - 0.05), np.full(100, CHANCE + 0.02), learning],
        "warmup": [learning, learning * 1.01, learning * 0.99],
    }.items():
        for seed, curve in enumerate(curves):
            rows.append(pd.DataFrame({"condition": condition, "seed": seed, "step": steps, "train_loss": curve}))
    return pd.concat(rows, ignore_index=True)


def _table(n_success: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"peak_lr": [0.1], "warmup_steps": [75], "n_seeds": [5], "n_diverged": [0], "n_success": [n_success]}
    )


CASES = {
    "03.1": lambda: Case(
        right=(_fair(), np.arange(50)),
        wrong=(wl.warmup_then(wl.LinearWarmup(50), wl.LinearDecay(150)), np.arange(50)),
    ),
    "03.2": lambda: Case(
        right=({"no warmup": 2, "warmup": 0}, _runs(), CHANCE),
        wrong=({"no warmup": 0, "warmup": 0}, _runs(), CHANCE),
    ),
    "03.3": lambda: Case(right=(_table(0), False), wrong=(_table(0), True)),
}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)


def test_a_plain_function_is_accepted_as_the_schedule():
    schedule = _fair()
    assert ex["03.1"].evaluate(lambda step: schedule(step), np.arange(50)).correct


def test_a_joined_schedule_is_named_as_the_mistake():
    message = ex["03.1"].evaluate(wl.warmup_then(wl.LinearWarmup(50), wl.LinearDecay(150)), np.arange(50)).message
    assert "joined" in message and "after the warmup" in message


def test_a_wrong_warmup_length_is_caught_during_the_warmup():
    message = ex["03.1"].evaluate(_fair(40), np.arange(40)).message
    assert "during the warmup" in message


def test_the_differing_steps_must_include_step_zero():
    outcome = ex["03.1"].evaluate(_fair(), np.arange(1, 50))
    assert outcome.status == "incorrect" and "step 0" in outcome.message


def test_counts_must_name_every_condition():
    outcome = ex["03.2"].evaluate({"no warmup": 2}, _runs(), CHANCE)
    assert outcome.status == "incorrect" and "missing ['warmup']" in outcome.message


def test_a_table_for_another_warmup_is_rejected():
    table = _table(0).assign(warmup_steps=30)
    outcome = ex["03.3"].evaluate(table, False)
    assert outcome.status == "incorrect" and "75-step warmup" in outcome.message


def test_works_is_true_when_four_of_five_succeed():
    assert ex["03.3"].evaluate(_table(4), True).correct
    assert not ex["03.3"].evaluate(_table(3), True).correct
