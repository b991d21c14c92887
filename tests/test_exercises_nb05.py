"""Notebook 05's exercise checks: right, wrong, stub and hostile answers."""

import math

import numpy as np
from exercise_cases import Case, contract_tests

from warmup_lib.data import load_digits
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
    return Case(
        right=(reference.replace(focal_alpha=0.75), reference),
        wrong=(reference.replace(focal_alpha=0.75, peak_lr=0.1), reference),
    )


CASES = {"05.1": _thresholds, "05.2": _halving, "05.3": _random_auprc, "05.4": _focal}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)
