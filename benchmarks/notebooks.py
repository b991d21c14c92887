"""Benchmark: each notebook's wall time on one pinned core and its kernel's peak memory.

Runs every notebook (without saving it) in a fresh process pinned to CPU 0 with ``taskset -c 0``
(Binder gives one CPU), and prints `name: value unit` lines, e.g.
``nb_03_loss_comparison_s: 41.2 s`` and ``nb_03_loss_comparison_peak_rss_mib: 612 MiB``.
Budgets: <= 60 s and <= 1024 MiB (Binder's guaranteed memory) per notebook.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

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


def main() -> None:
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        figures = measure(path)
        name = path.stem
        print(f"nb_{name}_s: {figures['seconds']:.1f} s", flush=True)
        print(f"nb_{name}_peak_rss_mib: {figures['peak_rss_mib']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
