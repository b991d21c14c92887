"""Run every benchmark in one go and print `name: value unit (goal ...)` lines (the README's figures).

    python benchmarks/run.py              # schedules, threads, ensemble, transformer, widgets
    python benchmarks/run.py --notebooks  # ... plus each notebook on one pinned core

Budgets are goals reported here, not timed tests: timings on shared machines vary. Speed goals
are ratios to the machine measured in the same run (see measure.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["schedules.py", "threads.py", "ensemble.py", "transformer.py", "widgets.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", action="store_true", help="also time every notebook (slow)")
    args = parser.parse_args()
    scripts = SCRIPTS + (["notebooks.py"] if args.notebooks else [])
    for script in scripts:
        result = subprocess.run([sys.executable, str(HERE / script)], check=False)
        if result.returncode:
            print(f"{script} failed with exit code {result.returncode}", file=sys.stderr)
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
