"""Notebook 03's exercise checks: right, wrong, stub and hostile answers."""

import pandas as pd
from exercise_cases import Case, contract_tests

from warmup_lib.models import TinyTransformerLM


def _table(warmups) -> pd.DataFrame:
    return pd.DataFrame({"peak_lr": 2.0, "warmup_steps": warmups, "n_seeds": 5, "n_success": [0, 2]})


def _transformer(norm_first: bool):
    def make(seed):
        return TinyTransformerLM(8, 8, d_model=16, n_heads=2, n_layers=6, d_ff=32, norm_first=norm_first, seed=seed)

    return make


_SUMMARY = pd.DataFrame({"condition": ["pre-LN, no warmup"], "n_seeds": [5], "n_success": [5]})

CASES = {
    "03.1": lambda: Case(right=(False, 10), wrong=(False, 1)),
    "03.2": lambda: Case(right=(_table([10, 20]),), wrong=(_table([40, 80]),)),
    "03.3": lambda: Case(right=(_transformer(True), _SUMMARY), wrong=(_transformer(False), _SUMMARY)),
}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)
