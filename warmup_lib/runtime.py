"""The CPU thread and memory policy, reproducible seeding and the environment report used by notebook 00."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import random
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

import numpy as np
import torch

from ._validation import check_int

__all__ = [
    "set_threads",
    "threads",
    "keep_freed_memory",
    "release_freed_memory",
    "describe_environment",
    "seed_everything",
    "DEFAULT_THREADS",
    "KEPT_FREED_MEMORY",
]

#: The series trains tiny models (tens to hundreds of thousands of weights). For those, torch's
#: intra-op thread pool costs more in hand-offs than it gains. Measured with
#: ``python benchmarks/threads.py`` on a 2-core machine (torch 2.13): the 64-256-256-10 MLP ran
#: 2x faster on 1 thread than on 2 with the second core idle, and 15-20x faster when other
#: processes kept the cores busy (a second thread then waits for a core at every operation).
#: The 6-layer transformer gained ~15 % from an idle second core but was 11x slower on a busy
#: machine. Binder gives one CPU anyway. So one thread is the default.
DEFAULT_THREADS = 1


def set_threads(n: int = DEFAULT_THREADS) -> int:
    """Set the number of threads torch uses inside one operation; return the previous number.

    One thread is fastest for the tiny models of this series (see :data:`DEFAULT_THREADS`).
    Only intra-op threads are changed: the inter-op pool can be set once per process only and
    these models do not use it.
    """
    n = check_int("n", n, min_value=1)
    previous = torch.get_num_threads()
    if n != previous:
        torch.set_num_threads(n)
    return previous


@contextmanager
def threads(n: int | None = DEFAULT_THREADS) -> Iterator[int]:
    """Use ``n`` torch threads inside the ``with`` block and restore the previous count after.

    ``n=None`` leaves the current setting alone (handy for passing a user's choice through).
    Yields the thread count in effect inside the block.
    """
    if n is None:
        yield torch.get_num_threads()
        return
    previous = set_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(previous)


#: How much freed memory :func:`keep_freed_memory` lets the C allocator keep for reuse (bytes).
KEPT_FREED_MEMORY = 256 * 2**20

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # the largest value glibc accepts on 64-bit systems
_memory_kept = False


def keep_freed_memory() -> bool:
    """Let the C allocator keep freed memory for reuse instead of handing it back every step.

    Each training step allocates and frees tens of MB of activations and gradients (torch's
    CPU allocator is plain ``malloc``). By default glibc returns freed memory at the top of the
    heap to the operating system as soon as a few MB are free, so the next step's tensors fault
    their pages in again: ~5,000 page faults and ~10 % of the CPU time of a step of 10 stacked
    transformers (``python benchmarks/run.py``). This raises glibc's trim threshold to
    :data:`KEPT_FREED_MEMORY` and keeps tensors below 32 MB on the heap. The peak memory use
    does not grow (memory is only kept after it was needed once). Process-wide and permanent,
    like ``torch.set_num_threads``; a no-op (returning False) where the C library is not glibc.
    Called by :func:`warmup_lib.training.train` and the batched ensembles.
    """
    global _memory_kept
    if _memory_kept:
        return True
    libc = _glibc()
    if libc is None:
        return False
    try:
        ok = libc.mallopt(_M_TRIM_THRESHOLD, KEPT_FREED_MEMORY) == 1
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1 and ok
    except (OSError, AttributeError):
        return False
    _memory_kept = ok
    return ok


def release_freed_memory() -> bool:
    """Hand the freed memory the C allocator keeps for reuse back to the operating system, now.

    :func:`keep_freed_memory` lets a training process keep up to :data:`KEPT_FREED_MEMORY` of
    freed memory. Call this before starting other processes (notebook 06 launches a distributed
    run from the kernel) so that memory the kernel no longer uses does not count against a
    container's limit while they run. Costs a few milliseconds; later steps fault their pages in
    again once. Returns False (and does nothing) where the C library is not glibc.
    """
    libc = _glibc()
    if libc is None:
        return False
    try:
        libc.malloc_trim(0)
    except AttributeError:
        return False
    return True


def _glibc() -> ctypes.CDLL | None:
    """The C library, where it is glibc (whose malloc the two functions above tune); else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe_environment() -> dict[str, Any]:
    """Return plain facts about this machine and its libraries, for the environment check.

    Keys: ``python``, ``platform``, ``torch``, ``numpy``, ``sklearn``, ``pandas``, ``matplotlib``,
    ``tqdm`` (versions; ``None`` if not installed), ``torch_threads`` (intra-op threads now),
    ``cpu_count`` (``os.cpu_count()``: cores in the machine) and ``cpus_available`` (cores this
    process may run on — smaller than ``cpu_count`` in containers and on Binder; ``None`` where the
    OS cannot say).
    """
    try:
        cpus_available: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        cpus_available = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": _version("scikit-learn"),
        "pandas": _version("pandas"),
        "matplotlib": _version("matplotlib"),
        "tqdm": _version("tqdm"),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpus_available": cpus_available,
    }


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's legacy global generator and torch's generator with ``seed``.

    For code that draws from the global generators. The library itself never relies on them:
    models take ``seed=`` and :func:`warmup_lib.training.train` seeds its own generator.
    """
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeding the legacy global generator is the point here
    torch.manual_seed(seed)
