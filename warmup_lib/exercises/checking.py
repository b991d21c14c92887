"""What a checkable exercise is: the Exercise, its registry, and helpers that judge a learner's answer.

A notebook's exercise ``NN.K`` (notebook ``NN``, exercise ``K``) is checked by a *checker*: a
plain function whose parameters are the answers the learner passes, that returns ``None`` or a
short note when the answer is right and raises :class:`Incorrect` with a message saying what
differs (with numbers) when it is not. The helpers below (:func:`number`, :func:`expect_close`,
:func:`call` ...) raise the right exceptions for the usual cases, so a checker reads like the
question it checks. :class:`Exercise` wraps a checker so that *nothing* a learner passes gives a
traceback: an unfilled stub (``...``), ``None``, a wrong type, the wrong number of answers, or
an exception raised inside the learner's own function all become one printed sentence.

Register a checker with :func:`exercise` in the module of its notebook
(``warmup_lib/exercises/nbNN.py``)::

    @exercise("02.2", hint="...", solution='''...''')
    def warmup_steps_for_three_epochs(warmup_steps, left_over):
        expect_equal("left_over", integer("left_over", left_over), 3)
        ...
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "Exercise",
    "Outcome",
    "Incorrect",
    "Unfilled",
    "Registry",
    "REGISTRY",
    "exercise",
    "is_stub",
    "number",
    "integer",
    "numbers_array",
    "frame",
    "call",
    "schedule_values",
    "expect_close",
    "expect_curve",
    "expect_equal",
    "fmt",
]

EXERCISE_ID = re.compile(r"^(?P<notebook>[0-9A-Z][0-9])\.(?P<number>[1-9][0-9]*)$")
Status = Literal["correct", "incorrect", "unfilled", "error"]

#: The first words of each printed outcome. Tests and the student-copy check look for them.
HEADLINES: dict[str, str] = {
    "correct": "Correct.",
    "incorrect": "Not yet:",
    "unfilled": "Not filled in yet:",
    "error": "Could not check this answer:",
}


class Incorrect(Exception):
    """Raised by a checker when the answer is wrong; the message says what differs."""


class Unfilled(Exception):
    """Raised by a checker when part of the answer is still the stub ``...``."""


def is_stub(value: Any) -> bool:
    """True for the placeholder of an unfilled starter cell: ``...`` (Ellipsis)."""
    return value is Ellipsis


def fmt(value: Any) -> str:
    """A number as a learner reads it: 6 significant digits, integers exactly."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.6g}"
    return repr(value)


def _sentence(message: Any) -> str:
    text = str(message).strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _kind(value: Any) -> str:
    if value is None:
        return "None (a function without `return` gives None)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} (a {type(value).__name__})"


def _scalar(value: Any) -> Any:
    """Unwrap a 0-d or one-element NumPy array or torch tensor into a Python number."""
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.reshape(()).item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def number(name: str, value: Any) -> float:
    """The learner's ``value`` as a finite float, or :class:`Incorrect`/:class:`Unfilled` naming ``name``."""
    if is_stub(value):
        raise Unfilled(name)
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Incorrect(f"`{name}` should be a number, got {_kind(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise Incorrect(f"`{name}` should be a finite number, got {result!r}")
    return result


def integer(name: str, value: Any) -> int:
    """The learner's ``value`` as an int (``702.0`` is accepted, ``702.5`` is not)."""
    result = number(name, value)
    if result != int(result):
        raise Incorrect(f"`{name}` should be a whole number, got {fmt(result)}")
    return int(result)


def numbers_array(name: str, value: Any, length: int | None = None) -> np.ndarray:
    """The learner's sequence of numbers (list, tuple, array, tensor, Series) as a float array."""
    if is_stub(value):
        raise Unfilled(name)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, str | bytes) or value is None or isinstance(value, numbers.Number):
        raise Incorrect(f"`{name}` should be a sequence of numbers, got {_kind(value)}")
    try:
        items = list(value)
    except TypeError:
        raise Incorrect(f"`{name}` should be a sequence of numbers, got {_kind(value)}") from None
    if any(is_stub(item) for item in items):
        raise Unfilled(name)
    result = np.array([number(f"{name}[{i}]", item) for i, item in enumerate(items)], dtype=float)
    if length is not None and len(result) != length:
        raise Incorrect(f"`{name}` should hold {length} numbers, it holds {len(result)}")
    return result


def frame(name: str, value: Any, columns: tuple[str, ...] = ()) -> Any:
    """The learner's pandas DataFrame, checked to have ``columns``."""
    import pandas as pd

    if is_stub(value):
        raise Unfilled(name)
    if not isinstance(value, pd.DataFrame):
        raise Incorrect(f"`{name}` should be a pandas DataFrame, got {_kind(value)}")
    missing = [c for c in columns if c not in value.columns]
    if missing:
        raise Incorrect(
            f"`{name}` has no column(s) {missing}; it has {list(value.columns)}"
        )
    return value


def call(name: str, function: Any, *args: Any) -> Any:
    """Call the learner's ``function(*args)``; its exceptions and stubs become a sentence."""
    if is_stub(function):
        raise Unfilled(name)
    if not callable(function):
        raise Incorrect(f"`{name}` should be a function, got {_kind(function)}")
    shown = ", ".join(fmt(a) for a in args)
    try:
        result = function(*args)
    except Exception as error:  # the learner's code: report it, never a traceback
        raise Incorrect(
            f"calling your `{name}({shown})` raised {type(error).__name__}: {error}"
        ) from None
    if is_stub(result):
        raise Unfilled(name)
    return result


def schedule_values(name: str, schedule: Any, steps: np.ndarray) -> np.ndarray:
    """The learner's schedule evaluated at ``steps``: a warmup_lib schedule (``.curve``) or a plain
    function ``step -> multiplier``; stubs, exceptions and wrong shapes become a sentence."""
    if is_stub(schedule):
        raise Unfilled(name)
    if hasattr(schedule, "curve") and callable(schedule.curve):
        try:
            values = np.asarray(schedule.curve(steps), dtype=float)
        except Exception as error:  # the learner's object: report it, never a traceback
            raise Incorrect(f"`{name}.curve(steps)` raised {type(error).__name__}: {error}") from None
    else:
        values = np.array([number(f"{name}({k})", call(name, schedule, int(k))) for k in steps])
    if values.shape != np.shape(steps):
        raise Incorrect(f"`{name}` gave {values.size} values for {np.size(steps)} steps")
    return values


def expect_curve(
    name: str,
    got: np.ndarray,
    expected: np.ndarray,
    *,
    what: str,
    rtol: float,
    atol: float,
    phase: Callable[[int], str] | None = None,
    unit: str = "",
    hint: Callable[[int], str] | None = None,
) -> None:
    """:class:`Incorrect` unless ``got`` matches ``expected`` at every step: the sentence says how
    many steps differ from ``what`` and shows the first (``phase(k)`` names its part of the
    schedule, ``unit`` prefixes the values, ``hint(k)`` adds a likely cause)."""
    wrong = np.flatnonzero(~np.isclose(got, expected, rtol=rtol, atol=atol))
    if wrong.size:
        k = int(wrong[0])
        where = f" ({phase(k)})" if phase is not None else ""
        extra = hint(k) if hint is not None else ""
        raise Incorrect(
            f"`{name}` differs from {what} at {wrong.size} steps; the first is step {k}{where}: "
            f"{unit}{fmt(got[k])} instead of {fmt(expected[k])}{extra}"
        )


def expect_close(
    name: str, got: float, expected: float, *, rel: float = 1e-6, abs: float = 1e-12
) -> None:
    """:class:`Incorrect` unless ``got`` is within ``rel`` (relative) or ``abs`` of ``expected``."""
    if not math.isclose(got, expected, rel_tol=rel, abs_tol=abs):
        hint = ""
        if expected != 0 and got != 0 and (got / expected) > 0:
            ratio = got / expected
            if ratio >= 2 or ratio <= 0.5:
                hint = f" ({fmt(ratio)} times the expected value)"
        raise Incorrect(f"`{name}` is {fmt(got)}, expected {fmt(expected)}{hint}")


def expect_equal(name: str, got: Any, expected: Any) -> None:
    """:class:`Incorrect` unless ``got == expected``."""
    if got != expected:
        raise Incorrect(f"`{name}` is {fmt(got)}, expected {fmt(expected)}")


@dataclass(frozen=True)
class Outcome:
    """What a check found: ``status`` and the sentence printed for the learner."""

    status: Status
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        text = HEADLINES[self.status]
        return f"{text} {self.message}" if self.message else text


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``check(answer, ...)``, ``hint()`` and ``solution()`` print for the learner."""

    id: str
    checker: Callable[..., str | None] = field(repr=False)
    hint_text: str = field(repr=False)
    solution_text: str = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not EXERCISE_ID.match(self.id):
            raise ValueError(
                f"exercise id must look like '02.1' (notebook number, a dot, the exercise "
                f"number from 1), got {self.id!r}"
            )
        if not callable(self.checker):
            raise TypeError(f"checker must be a function, got {type(self.checker).__name__}")
        for name in ("hint_text", "solution_text"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"exercise {self.id}: {name} must be a non-empty string")

    @property
    def notebook(self) -> str:
        """The notebook's number as in its file name, e.g. ``"02"`` for ``02_lr_curves.ipynb``."""
        return self.id.split(".")[0]

    @property
    def answers(self) -> list[str]:
        """The names of the answers ``check`` expects, in order."""
        return list(inspect.signature(self.checker).parameters)

    def usage(self) -> str:
        return f'ex["{self.id}"].check({", ".join(self.answers)})'

    def evaluate(self, *answers: Any, **named_answers: Any) -> Outcome:
        """Judge the answers and return the :class:`Outcome`; never raises for a learner's input."""
        try:
            bound = inspect.signature(self.checker).bind(*answers, **named_answers)
        except TypeError as error:
            return Outcome("error", f"{error}. Call it as {self.usage()}.")
        unfilled = [name for name, value in bound.arguments.items() if is_stub(value)]
        if unfilled:
            return Outcome("unfilled", self._unfilled_message(unfilled))
        try:
            note = self.checker(*bound.args, **bound.kwargs)
        except Unfilled as stub:
            return Outcome("unfilled", self._unfilled_message([str(stub)]))
        except Incorrect as wrong:
            return Outcome("incorrect", f"{_sentence(wrong)}\nStuck? ex[\"{self.id}\"].hint() gives a hint.")
        except Exception as error:  # a learner's object can fail in any way; say so, calmly
            return Outcome(
                "error",
                f"{type(error).__name__}: {error}. Check what you passed: {self.usage()}.",
            )
        note = (note or "").strip()
        return Outcome("correct", note[:1].upper() + note[1:])

    def check(self, *answers: Any, **named_answers: Any) -> None:
        """Print whether the answers are correct, what differs, or that the stub is not filled in."""
        print(self.evaluate(*answers, **named_answers))

    def hint(self) -> None:
        """Print a hint."""
        print(f"Hint for exercise {self.id}: {self.hint_text.strip()}")

    def solution(self) -> None:
        """Print a solution (the code of the notebook's solution cell)."""
        print(f"A solution to exercise {self.id}:\n\n{self.solution_text.strip()}")

    def _unfilled_message(self, names: list[str]) -> str:
        listed = ", ".join(f"`{name}`" for name in names)
        return f"replace the `...` of {listed} with your answer, then run the cell again."


class Registry(Mapping[str, Exercise]):
    """Every registered exercise by id: ``ex["02.1"]``; iterate for all of them."""

    def __init__(self) -> None:
        self._exercises: dict[str, Exercise] = {}

    def add(self, item: Exercise) -> Exercise:
        if not isinstance(item, Exercise):
            raise TypeError(f"item must be an Exercise, got {type(item).__name__}")
        if item.id in self._exercises:
            raise ValueError(f"exercise {item.id} is registered twice")
        self._exercises[item.id] = item
        return item

    def __getitem__(self, exercise_id: str) -> Exercise:
        try:
            return self._exercises[exercise_id]
        except KeyError:
            known = ", ".join(sorted(self._exercises, key=_order)) or "none"
            raise KeyError(
                f"no exercise {exercise_id!r}; ids are notebook.exercise such as '02.1'. "
                f"Registered: {known}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._exercises, key=_order))

    def __len__(self) -> int:
        return len(self._exercises)

    def for_notebook(self, notebook: str) -> list[Exercise]:
        """The exercises of one notebook (``"02"``), in order."""
        return [self[i] for i in self if self[i].notebook == notebook]

    def __repr__(self) -> str:
        return f"Registry({', '.join(self)})"


def _order(exercise_id: str) -> tuple[str, int]:
    notebook, number = exercise_id.split(".")
    return notebook, int(number)


#: The registry the package fills when ``warmup_lib.exercises`` is imported.
REGISTRY = Registry()


def exercise(
    exercise_id: str, *, hint: str, solution: str, registry: Registry = REGISTRY
) -> Callable[[Callable[..., str | None]], Callable[..., str | None]]:
    """Register the decorated checker as exercise ``exercise_id`` with its hint and solution."""

    def register(checker: Callable[..., str | None]) -> Callable[..., str | None]:
        registry.add(Exercise(exercise_id, checker, hint, solution))
        return checker

    return register
