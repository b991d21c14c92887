"""Notebook 05's exercise checks: right, wrong, stub and hostile answers."""

import math

import numpy as np
import pandas as pd
from exercise_cases import Case, contract_tests

from warmup_lib.data import load_digits
from warmup_lib.exercises import ex
from warmup_lib.experiments import RunConfig
from warmup_lib.metrics import classification_metrics, threshold_for_cost
from warmup_lib.models import MLP


def _labels_and_scores(seed: int = 0, n: int = 2000):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(int)
    return y, np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1)


def _thresholds() -> Case:
    y, scores = _labels_and_scores()
    tuned = threshold_for_cost(y, scores, cost_fp=1.0, cost_fn=10.0)
    return Case(right=(1 / 11, tuned, y, scores), wrong=(1 / 51, tuned, y, scores))


def _halving() -> Case:
    y, scores = _labels_and_scores(1)
    counts = classification_metrics(y, scores, threshold=0.5)
    cost = counts["fp"] + 50 * counts["fn"]
    max_fn = math.floor((cost / 2 - counts["fp"]) / 50)
    recall = 1 - max_fn / y.sum()
    return Case(right=(max_fn, recall, y, scores, 0.5), wrong=(max_fn + 3, recall, y, scores, 0.5))


def _random_auprc() -> Case:
    y, _ = _labels_and_scores(2)
    rng = np.random.default_rng(0)
    aps = [classification_metrics(y, rng.random(len(y)))["average_precision"] for _ in range(5)]
    return Case(right=(aps, y), wrong=([0.4, 0.45, 0.5, 0.42, 0.38], y))


def _focal() -> Case:
    reference = RunConfig(model=lambda seed: MLP(64, 10, seed=seed), data=load_digits(), steps=5)
    recall = [0.45, 0.38, 0.43, 0.43, 0.38]
    return Case(
        right=(reference.replace(focal_alpha=0.75), recall, reference),
        wrong=(reference.replace(focal_alpha=0.75, peak_lr=0.1), recall, reference),
    )


def _sensitivity_table() -> pd.DataFrame:
    # Without warmup the median AUPRC falls off after 0.3, with warmup after 0.6 (as in notebook 05).
    auprc = {0: [0.48, 0.47, 0.46, 0.44, 0.34, 0.01], 50: [0.48, 0.47, 0.46, 0.46, 0.44, 0.26]}
    return pd.DataFrame(
        [
            {"peak_lr": lr, "warmup_steps": w, "median_final_val_average_precision": value, "n_seeds": 5}
            for w, values in auprc.items()
            for lr, value in zip([0.01, 0.03, 0.1, 0.3, 0.6, 1.0], values, strict=True)
        ]
    )


def _window() -> Case:
    table = _sensitivity_table()
    return Case(right=(0.3, 0.6, table), wrong=(0.3, 1.0, table))


def test_window_names_the_best_lr_mistake():
    outcome = ex["05.5"].evaluate(0.01, 0.6, _sensitivity_table())
    assert outcome.status == "incorrect" and "best" in outcome.message, outcome


def test_window_needs_both_conditions():
    table = _sensitivity_table()
    outcome = ex["05.5"].evaluate(0.3, 0.6, table[table["warmup_steps"] == 0])
    assert outcome.status == "incorrect" and "warmup_steps" in outcome.message, outcome


def test_focal_needs_five_seeds():
    case = _focal()
    outcome = ex["05.4"].evaluate(case.right[0], [0.45], case.right[2])
    assert outcome.status == "incorrect" and "5" in outcome.message, outcome


CASES = {"05.1": _thresholds, "05.2": _halving, "05.3": _random_auprc, "05.4": _focal, "05.5": _window}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)
