"""Notebook 01's exercise checks: right, wrong, stub and hostile answers."""

import numpy as np
import pandas as pd
import torch
from exercise_cases import Case, contract_tests

import warmup_lib as wl


def _runs(warmup_steps: int) -> pd.DataFrame:
    steps = np.arange(300)
    lr = 1.6 * wl.LinearWarmup(warmup_steps).curve(steps)
    return pd.concat(
        [pd.DataFrame({"seed": seed, "step": steps, "lr": lr, "diverged": seed == 0}) for seed in range(5)],
        ignore_index=True,
    )


def _adam() -> Case:
    grad = torch.tensor([0.5, -0.002, 3e-7], dtype=torch.float64)
    update = -0.01 * grad / (grad.abs() + 1e-8)
    return Case(right=(update, 2), wrong=(-0.01 * torch.sign(grad), 2))


CASES = {
    "01.1": _adam,
    "01.2": lambda: Case(right=(1e-4 * 10**1.5,), wrong=(0.05,)),
    "01.3": lambda: Case(right=(_runs(100),), wrong=(_runs(200),)),
    "01.4": lambda: Case(right=(2000, 100, 1999), wrong=(2000, 100, 2000)),
}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)


def test_a_run_without_warmup_is_named_as_such():
    from warmup_lib.exercises import ex

    frame = _runs(100).assign(lr=1.6)
    assert "there is no warmup" in ex["01.3"].evaluate(frame).message
