"""Shared machinery for the exercise-check tests: each ``test_exercises_nbNN.py`` lists its cases.

A notebook's test module defines ``CASES = {"NN.K": make_case, ...}``, where ``make_case()``
returns a :class:`Case`: a right answer and a wrong one, each a tuple of the arguments the
learner passes to ``ex["NN.K"].check``; ``contract_tests(CASES)`` turns them into tests.
tests/test_exercises.py checks that every registered exercise has a case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from warmup_lib.exercises import ex


@dataclass(frozen=True)
class Case:
    right: tuple[Any, ...]
    wrong: tuple[Any, ...]


def contract_tests(cases: dict[str, Callable[[], Case]]):
    """Three tests per exercise: right -> correct, wrong -> says what differs, stub -> unfilled."""

    ids = sorted(cases)
    cases = {key: functools.cache(make) for key, make in cases.items()}  # build each case once

    @pytest.mark.parametrize("exercise_id", ids)
    def test_right_answer_is_correct(exercise_id, capsys):
        case = cases[exercise_id]()
        outcome = ex[exercise_id].evaluate(*case.right)
        assert outcome.status == "correct", outcome
        ex[exercise_id].check(*case.right)
        assert capsys.readouterr().out.startswith("Correct.")

    @pytest.mark.parametrize("exercise_id", ids)
    def test_wrong_answer_says_what_differs(exercise_id):
        case = cases[exercise_id]()
        outcome = ex[exercise_id].evaluate(*case.wrong)
        assert outcome.status == "incorrect", outcome
        assert any(ch.isdigit() for ch in outcome.message), f"say what differs with numbers: {outcome}"
        assert "`" in outcome.message, f"name the answer that differs: {outcome}"

    @pytest.mark.parametrize("exercise_id", ids)
    def test_unfilled_stub_is_reported(exercise_id):
        case = cases[exercise_id]()
        stubbed = (..., *case.right[1:])
        outcome = ex[exercise_id].evaluate(*stubbed)
        assert outcome.status == "unfilled", outcome
        assert ex[exercise_id].answers[0] in outcome.message

    @pytest.mark.parametrize("exercise_id", ids)
    @pytest.mark.parametrize("nasty", NASTY_ANSWERS, ids=[name for name, _ in NASTY_ANSWERS])
    def test_any_first_answer_gives_a_sentence_not_a_traceback(exercise_id, nasty, capsys):
        case = cases[exercise_id]()
        _, value = nasty
        outcome = ex[exercise_id].evaluate(value, *case.right[1:])
        assert outcome.status in ("incorrect", "unfilled", "error"), outcome
        ex[exercise_id].check(value, *case.right[1:])
        printed = capsys.readouterr().out
        assert "Traceback" not in printed and printed.strip()

    return (
        test_right_answer_is_correct,
        test_wrong_answer_says_what_differs,
        test_unfilled_stub_is_reported,
        test_any_first_answer_gives_a_sentence_not_a_traceback,
    )


class _Hostile:
    """An object that fails at everything a check might try on it."""

    def _fail(self, *args, **kwargs):
        raise RuntimeError("a learner's object that raises")

    __float__ = __int__ = __index__ = __len__ = __iter__ = __getitem__ = __call__ = _fail
    __eq__ = __lt__ = __gt__ = __bool__ = __array__ = __contains__ = _fail
    __hash__ = object.__hash__

    def __getattr__(self, name):
        self._fail()

    def __repr__(self):
        return "<hostile>"


def _raises(*args):
    raise ZeroDivisionError("division by zero")


NASTY_ANSWERS = [
    ("none", None),
    ("string", "42"),
    ("nan", float("nan")),
    ("bool", True),
    ("empty_list", []),
    ("dict", {"a": 1}),
    ("function_that_raises", _raises),
    ("function_returning_stub", lambda *args: ...),
    ("hostile_object", _Hostile()),
]
