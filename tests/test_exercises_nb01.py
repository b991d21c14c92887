"""Notebook 01's exercise checks: right, wrong, stub and hostile answers."""

import torch
from exercise_cases import Case, contract_tests

import warmup_lib as wl
from warmup_lib.exercises import ex, nb01


def _adam() -> Case:
    grad = torch.tensor([0.5, -0.002, 3e-7], dtype=torch.float64)
    update = -0.01 * grad / (grad.abs() + 1e-8)
    return Case(right=(update, 2), wrong=(-0.01 * torch.sign(grad), 2))


def _uv() -> Case:
    landed = nb01.uv_home_counts()
    shortest = min(w for w, n in landed.items() if n == len(nb01.UV_STARTS))
    return Case(right=(landed, shortest), wrong=({**landed, 10: 5}, shortest))


def _fair() -> Case:
    fair = wl.LinearWarmup(50) * wl.CosineDecay(400)
    unfair = wl.warmup_then(wl.LinearWarmup(50), wl.CosineDecay(350))
    return Case(right=(400, fair, 50), wrong=(400, unfair, 50))


CASES = {
    "01.1": _adam,
    "01.2": lambda: Case(right=(1e-4 * 10**1.5,), wrong=(0.05,)),
    "01.3": _uv,
    "01.4": lambda: Case(right=(2000, 100, 1999), wrong=(2000, 100, 2000)),
    "01.5": _fair,
}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)


def test_the_uv_counts_show_that_a_short_warmup_fails_and_a_long_one_lands():
    landed = nb01.uv_home_counts()
    assert landed[min(landed)] < len(nb01.UV_STARTS) == landed[max(landed)]


def test_uv_counts_of_the_runs_that_did_not_land_are_named_as_such():
    landed = nb01.uv_home_counts()
    flipped = {w: len(nb01.UV_STARTS) - n for w, n in landed.items()}
    assert "did *not* land" in ex["01.3"].evaluate(flipped, 40).message


def test_uv_answer_missing_a_warmup_length_says_which():
    landed = nb01.uv_home_counts()
    landed.pop(20)
    outcome = ex["01.3"].evaluate(landed, 40)
    assert outcome.status == "incorrect" and "[20]" in outcome.message


def test_a_fair_schedule_that_changes_the_decay_is_caught_after_warmup():
    wrong = wl.LinearWarmup(50) * wl.CosineDecay(350)
    outcome = ex["01.5"].evaluate(400, wrong, 50)
    assert outcome.status == "incorrect" and "after the warmup" in outcome.message
