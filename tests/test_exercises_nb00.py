"""Notebook 00's exercise check: right, wrong, stub and hostile answers."""

from exercise_cases import Case, contract_tests

CASES = {"00.1": lambda: Case(right=(5e-4,), wrong=(0.5,))}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)
