"""The notebooks of the series in learning order, with student working time and measured run time.

``series.csv`` beside this module is the one source of truth for these numbers: notebook 00
shows them, and tests check that the README and the instructor guide (``docs/instructor.md``)
agree with it. ``student_minutes`` (reading, running and trying the exercises) is kept by hand;
``run_seconds`` and ``peak_memory_mib`` (the notebook executed top to bottom in a fresh kernel
pinned to one core; memory summed over the kernel and the processes it starts) are written by ``python benchmarks/notebooks.py --write``.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["SERIES_FILE", "COLUMNS", "Lesson", "lessons", "learning_path", "write_lessons", "record_measurements"]

SERIES_FILE = Path(__file__).with_name("series.csv")
COLUMNS = ("notebook", "title", "student_minutes", "run_seconds", "peak_memory_mib")
_NOTEBOOK_NAME = re.compile(r"^[0-9A-Z][0-9]_[a-z0-9_]+$")


@dataclass(frozen=True)
class Lesson:
    """One notebook: its file name without ``.ipynb``, title, working time and measured cost."""

    notebook: str
    title: str
    student_minutes: int
    run_seconds: float | None
    peak_memory_mib: int | None

    @property
    def number(self) -> str:
        """The two-character prefix of the file name, e.g. ``"02"``; exercise ids start with it."""
        return self.notebook[:2]


def _field(path: Path, line: int, column: str, text: str, kind: type, optional: bool) -> float | int | None:
    if text.strip() == "" and optional:
        return None
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        blank = " or empty (not measured yet)" if optional else ""
        raise ValueError(f"{path}, line {line}, column {column}: expected {what}{blank}, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{path}, line {line}, column {column}: expected a positive number, got {text!r}")
    return value


def lessons(path: str | os.PathLike[str] | None = None) -> list[Lesson]:
    """Read the series file (default :data:`SERIES_FILE`): one :class:`Lesson` per notebook, in order."""
    path = SERIES_FILE if path is None else Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}, line 1: the header must be {','.join(COLUMNS)}, got {reader.fieldnames}")
        result = []
        for row in reader:
            line = reader.line_num
            if None in row or any(value is None for value in row.values()):
                raise ValueError(f"{path}, line {line}: expected {len(COLUMNS)} comma-separated fields")
            if not _NOTEBOOK_NAME.match(row["notebook"]):
                raise ValueError(
                    f"{path}, line {line}, column notebook: expected a file name without .ipynb "
                    f"such as 02_lr_curves, got {row['notebook']!r}"
                )
            if not row["title"].strip():
                raise ValueError(f"{path}, line {line}, column title: the title is empty")
            result.append(
                Lesson(
                    notebook=row["notebook"],
                    title=row["title"].strip(),
                    student_minutes=_field(path, line, "student_minutes", row["student_minutes"], int, False),
                    run_seconds=_field(path, line, "run_seconds", row["run_seconds"], float, True),
                    peak_memory_mib=_field(path, line, "peak_memory_mib", row["peak_memory_mib"], int, True),
                )
            )
    names = [lesson.notebook for lesson in result]
    if names != sorted(names) or len(set(names)) != len(names):
        raise ValueError(f"{path}: notebooks must be listed once each, in file-name order; got {names}")
    return result


def learning_path(path: str | os.PathLike[str] | None = None):
    """The series as a table for notebook 00: title, student working time and measured run time."""
    import pandas as pd

    rows = [
        {
            "notebook": lesson.notebook,
            "title": lesson.title,
            "student time (min)": lesson.student_minutes,
            "run time on one core (s)": lesson.run_seconds,
        }
        for lesson in lessons(path)
    ]
    return pd.DataFrame(rows).set_index("notebook")


def write_lessons(items: list[Lesson], path: str | os.PathLike[str] | None = None) -> Path:
    """Write ``items`` to the series file (default :data:`SERIES_FILE`)."""
    path = SERIES_FILE if path is None else Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for lesson in items:
            writer.writerow([
                lesson.notebook,
                lesson.title,
                lesson.student_minutes,
                "" if lesson.run_seconds is None else f"{lesson.run_seconds:.1f}",
                "" if lesson.peak_memory_mib is None else lesson.peak_memory_mib,
            ])
    return path


def record_measurements(
    measurements: Mapping[str, tuple[float, float]], path: str | os.PathLike[str] | None = None
) -> Path:
    """Store measured ``{notebook: (seconds, peak_memory_mib)}`` in the series file, keeping the rest.

    A notebook the file does not list yet is an error: add its row (title, student minutes) first.
    """
    current = lessons(path)
    known = {lesson.notebook for lesson in current}
    unknown = sorted(set(measurements) - known)
    if unknown:
        raise ValueError(
            f"measurements name notebook(s) {unknown} that the series file does not list; add a row "
            "with its title and student_minutes first"
        )
    updated = [
        replace(lesson, run_seconds=round(measurements[lesson.notebook][0], 1),
                peak_memory_mib=round(measurements[lesson.notebook][1]))
        if lesson.notebook in measurements else lesson
        for lesson in current
    ]
    return write_lessons(updated, path)
