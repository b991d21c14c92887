"""Write student copies of the notebooks: solution cells removed, outputs cleared, the rest unchanged.

    python tools/student_copies.py OUT                       # OUT/NN_*.ipynb for every notebook
    python tools/student_copies.py OUT notebooks/02_lr_curves.ipynb

A student copy keeps every statement, starter cell (with its `...` stubs and the
``ex["NN.K"].check(...)`` line) and self-check; only the cells tagged ``solution`` go. The
checks still offer ``ex["NN.K"].hint()`` and ``.solution()``, so hand out copies knowing that
the answers are one call away (see docs/instructor.md). Unfilled stubs do not break later cells:
tests/test_student_copies.py runs every copy top to bottom.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_TAG = "solution"


def student_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a copy of ``notebook`` without ``solution`` cells, outputs or execution counts."""
    copy = nbformat.from_dict(notebook)
    copy.cells = [cell for cell in copy.cells if SOLUTION_TAG not in cell.get("metadata", {}).get("tags", [])]
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    copy.metadata.pop("widgets", None)
    return copy


def write_student_copies(out: Path, paths: list[Path] | None = None) -> list[Path]:
    """Write a student copy of each notebook (default: every one in notebooks/) into ``out``."""
    paths = paths or sorted((ROOT / "notebooks").glob("*.ipynb"))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = out / path.name
        if target.resolve() == path.resolve():
            raise ValueError(f"OUT must not be the notebooks' own folder: {path} would be overwritten")
        nbformat.write(student_copy(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the copies into (created if needed)")
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    try:
        written = write_student_copies(args.out, args.paths or None)
    except ValueError as error:
        parser.error(str(error))
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
