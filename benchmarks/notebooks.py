"""Benchmark: each notebook's wall time on one pinned core and its peak memory.

Runs every notebook (without saving it) in a fresh process pinned to CPU 0 with ``taskset -c 0``
(Binder gives one CPU), and prints `name: value unit` lines, e.g.
``nb_03_loss_comparison_s: 41.2 s`` and ``nb_03_loss_comparison_peak_memory_mib: 612 MiB``.
Budgets: <= 60 s and <= 1024 MiB (Binder's guaranteed memory) per notebook.

Memory is what a container's limit sees: the kernel *and every process it starts* (notebook 06
launches a distributed run with three more Python processes), summed as proportional set size
(PSS: a page shared by several processes, such as torch's libraries, counts once in total),
sampled every 50 ms while the notebook runs. Where ``/proc`` is missing (not Linux) it falls back
to the kernel's own peak RSS.

    python benchmarks/notebooks.py                       # every notebook of the series
    python benchmarks/notebooks.py 02_lr_curves --write  # one, and store its figures

``--write`` stores the measured seconds and peak memory in ``warmup_lib/series.csv``, the one
source of truth that notebook 00, the README and ``docs/instructor.md`` take their times from
(tests check that the two documents agree with it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
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
print(json.dumps({"seconds": elapsed, "peak_memory_mib": peak_kib / 1024}))
"""


def _parents() -> dict[int, int]:
    """``{pid: parent pid}`` of every process visible in /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    # The command name (in parentheses) may hold spaces; the parent pid follows it.
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # the process ended while we looked
    return parents


def _pss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _descendants_memory_mib(root: int) -> float:
    """Summed PSS of every process below ``root`` (the kernel and what it started), in MiB."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0.0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        total += _pss_mib(pid)
        stack.extend(children.get(pid, []))
    return total


def measure(path: Path) -> dict[str, float]:
    """Execute one notebook pinned to one core; return seconds and the peak memory in MiB."""
    command = [sys.executable, "-c", _CHILD, str(path), str(path.parent)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _descendants_memory_mib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    if os.path.isdir("/proc/self"):
        sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, stdout, stderr)
    figures = json.loads(stdout.strip().splitlines()[-1])
    if peak[0] > 0:
        figures["peak_memory_mib"] = peak[0]
    return figures


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
        measured[path.stem] = (figures["seconds"], figures["peak_memory_mib"])
        print(f"nb_{path.stem}_s: {figures['seconds']:.1f} s", flush=True)
        print(f"nb_{path.stem}_peak_memory_mib: {figures['peak_memory_mib']:.0f} MiB", flush=True)
    if args.write:
        print(f"stored in {series.record_measurements(measured).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
