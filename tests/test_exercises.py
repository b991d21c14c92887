"""The exercise framework: ex["NN.K"].check never raises, says what differs, and every exercise has tests."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from warmup_lib.exercises import checking, ex
from warmup_lib.exercises.checking import (
    Exercise,
    Incorrect,
    Registry,
    call,
    expect_close,
    integer,
    number,
    numbers_array,
)

ROOT = Path(__file__).resolve().parent.parent


def _registry_with_one():
    registry = Registry()

    @checking.exercise("07.1", hint="add them", solution="x = 1 + 2", registry=registry)
    def sum_of_two(total, extra=0):
        expect_close("total", number("total", total), 3.0)
        return "1 + 2 = 3."

    return registry


def test_registry_finds_exercises_and_lists_the_ids_on_a_typo():
    registry = _registry_with_one()
    assert list(registry) == ["07.1"] and len(registry) == 1
    assert registry.for_notebook("07")[0].id == "07.1"
    with pytest.raises(KeyError, match="Registered: 07.1"):
        registry["07.2"]


def test_registering_an_id_twice_or_a_malformed_id_is_refused():
    registry = _registry_with_one()
    with pytest.raises(ValueError, match="twice"):
        checking.exercise("07.1", hint="h", solution="s", registry=registry)(lambda a: None)
    with pytest.raises(ValueError, match="'02.1'"):
        Exercise("2.1", lambda a: None, "h", "s")
    with pytest.raises(ValueError, match="hint_text"):
        Exercise("02.1", lambda a: None, " ", "s")


@pytest.mark.parametrize(
    ("answers", "status", "words"),
    [
        ((3,), "correct", "1 + 2 = 3"),
        ((3.0000001,), "correct", ""),
        ((4,), "incorrect", "`total` is 4, expected 3"),
        ((...,), "unfilled", "replace the `...` of `total`"),
        ((None,), "incorrect", "a function without `return` gives None"),
        (("3",), "incorrect", "should be a number"),
        ((), "error", 'ex["07.1"].check(total, extra)'),
        ((1, 2, 3), "error", "too many"),
    ],
)
def test_outcomes(answers, status, words, capsys):
    exercise = _registry_with_one()["07.1"]
    outcome = exercise.evaluate(*answers)
    assert outcome.status == status and words in str(outcome)
    exercise.check(*answers)
    assert capsys.readouterr().out.strip() == str(outcome)


def test_a_bug_in_a_checker_is_reported_as_a_sentence():
    exercise = Exercise("07.2", lambda answer: 1 / 0, "h", "s")
    outcome = exercise.evaluate(1)
    assert outcome.status == "error" and "ZeroDivisionError" in outcome.message


def test_hint_and_solution_print_text(capsys):
    exercise = _registry_with_one()["07.1"]
    exercise.hint()
    exercise.solution()
    printed = capsys.readouterr().out
    assert "add them" in printed and "x = 1 + 2" in printed


def test_helpers_accept_tensors_and_arrays_and_name_the_answer():
    torch = pytest.importorskip("torch")
    import numpy as np

    assert number("x", torch.tensor(2.5)) == 2.5 and number("x", np.float32(1.5)) == 1.5
    assert integer("n", 702.0) == 702
    assert list(numbers_array("v", torch.tensor([1.0, 2.0]), length=2)) == [1.0, 2.0]
    with pytest.raises(Incorrect, match="`n` should be a whole number"):
        integer("n", 702.5)
    with pytest.raises(Incorrect, match="`v` should hold 3 numbers"):
        numbers_array("v", [1, 2], length=3)
    with pytest.raises(Incorrect, match=r"calling your `f\(1\)` raised KeyError"):
        call("f", {}.__getitem__, 1)
    with pytest.raises(Incorrect, match="2 times the expected value"):
        expect_close("lr", 0.2, 0.1)


def test_every_registered_exercise_has_right_wrong_and_stub_tests():
    keys = sorted({item.notebook for item in ex.values()})
    for key in keys:
        module = importlib.import_module(f"test_exercises_nb{key.lower()}")
        missing = sorted(item.id for item in ex.for_notebook(key) if item.id not in module.CASES)
        assert not missing, f"tests/test_exercises_nb{key.lower()}.py has no CASES for {missing}"
    modules = sorted(path.stem for path in (ROOT / "tests").glob("test_exercises_nb*.py"))
    assert modules == [f"test_exercises_nb{key.lower()}" for key in keys]


def test_each_notebook_has_its_own_check_module():
    modules = sorted(path.stem for path in (ROOT / "warmup_lib" / "exercises").glob("nb*.py"))
    assert modules == [f"nb{key.lower()}" for key in sorted({item.notebook for item in ex.values()})]
