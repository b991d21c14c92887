"""Notebook 06's exercise checks: right, wrong, stub and hostile answers."""

import pandas as pd
from exercise_cases import Case, contract_tests

import warmup_lib as wl

_LAST = wl.LinearWarmup(80)(59) * wl.CosineDecay(240)(59)  # the warmup factor times the base
_SUMMARY = pd.DataFrame(
    {"condition": ["batch 1024, LR 0.8, no warmup", "batch 1024, LR 0.8, warmup"], "n_seeds": [5, 5],
     "median_final_val_loss": [1.075, 1.055]}
)

CASES = {
    "06.1": lambda: Case(right=(705, 43), wrong=(702, 43)),
    "06.2": lambda: Case(right=(80, _LAST), wrong=(20, _LAST)),
    "06.3": lambda: Case(right=(_SUMMARY, True, 0.928), wrong=(_SUMMARY, False, 0.928)),
}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)
