"""Benchmark: each notebook's wall time on one pinned core and its kernel's peak memory.

Runs every notebook (without saving it) in a fresh process pinned to CPU 0 with ``taskset -c 0``
(Binder gives one CPU), and prints `name: value unit` lines, e.g.
``nb_03_loss_comparison_s: 41.2 s`` and ``nb_03_loss_comparison_peak_rss_mib: 612 MiB``.
Budgets: <= 60 s and <= 1024 MiB (Binder's guaranteed memory) per notebook.

    python benchmarks/notebooks.py                       # every notebook of the series
    python benchmarks/notebooks.py 02_lr_curves --write  # one, and store its figures

``--write`` stores the measured seconds and peak memory in ``warmup_lib/series.csv``, the one
source of truth that notebook 00, the README and ``docs/instructor.md`` take their times from
(tests check that the two documents agree with it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from warmup_lib import series

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}})
start = time.perf_counter()
client.execute()
elapsed = time.perf_counter() - start
# The kernel is our child process; once it has exited, RUSAGE_CHILDREN holds its peak RSS (KiB).
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_rss_mib": peak_kib / 1024}))
"""


def measure(path: Path) -> dict[str, float]:
    """Execute one notebook pinned to one core; return seconds and the kernel's peak RSS in MiB."""
    command = [sys.executable, "-c", _CHILD, str(path), str(path.parent)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names such as 02_lr_curves (default: all)")
    parser.add_argument("--write", action="store_true", help="store the figures in warmup_lib/series.csv")
    args = parser.parse_args(argv)
    names = args.notebooks or [lesson.notebook for lesson in series.lessons()]
    measured = {}
    for name in names:
        path = ROOT / "notebooks" / f"{name.removesuffix('.ipynb')}.ipynb"
        if not path.is_file():
            parser.error(f"no notebook {path.name} in notebooks/")
        figures = measure(path)
        measured[path.stem] = (figures["seconds"], figures["peak_rss_mib"])
        print(f"nb_{path.stem}_s: {figures['seconds']:.1f} s", flush=True)
        print(f"nb_{path.stem}_peak_rss_mib: {figures['peak_rss_mib']:.0f} MiB", flush=True)
    if args.write:
        print(f"stored in {series.record_measurements(measured).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
