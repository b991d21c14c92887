"""What every benchmark shares: the machine's reference speed, timers, and the `name: value unit` line.

Speed goals are ratios to the machine itself, measured in the same run: a FLOP rate divided by
what single-thread ``torch.mm`` (sgemm) reaches on the same core, or one loop's time divided by
another's. Times are CPU seconds of this single-threaded process (``time.process_time``); on a
quiet machine they equal wall time, and on a shared one they leave out the time other processes
held the core, which wall time would add at random. Wall times are printed alongside.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def report(
    name: str, value: float, unit: str, digits: int = 2, goal: str | None = None, fmt: str = "f"
) -> None:
    """Print one figure as ``name: value unit`` (``(goal ...)`` appended when it has one)."""
    text = f"{value:.{digits}{fmt}}" + (f" {unit}" if unit else "") + (f" (goal {goal})" if goal else "")
    print(f"{name}: {text}", flush=True)


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``'s result, its CPU seconds and its wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def seconds_per_step(run: Callable[[int], Any], steps: int) -> float:
    """CPU seconds per training step of ``run(steps)``, without its fixed costs (model building,
    the final evaluation): ``(t(2 steps) - t(steps)) / steps``."""
    _, short, _ = timed(lambda: run(steps))
    _, long, _ = timed(lambda: run(2 * steps))
    return max(long - short, 0.0) / steps


def sgemm_gflops(size: int = 1024, repeats: int = 5) -> float:
    """Single-thread ``torch.mm`` on two float32 ``size x size`` matrices: best GFLOP/s (CPU time)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        _, cpu, _ = timed(lambda: [torch.mm(a, b) for _ in range(3)])
        best = min(best, cpu / 3)
    return 2 * size**3 / best / 1e9


def dense_parameters(model: nn.Module) -> int:
    """Weights of the model's matrix products (every 2-D weight except embedding tables)."""
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if p.dim() == 2 and "embedding" not in name
    )


def dense_flops(steps: int, evaluations: int, dense: int, train_rows: int, val_rows: int) -> float:
    """FLOPs of the dense layers in ``steps`` training steps and ``evaluations`` validation
    passes (summed over runs): 6 per weight and row for a training step (forward 2, backward
    4), 2 per weight and row for an evaluation; a row is one example (a token for a language
    model)."""
    return 6.0 * dense * train_rows * steps + 2.0 * dense * val_rows * evaluations


def step_counts(frame: Any) -> tuple[int, int]:
    """Training steps and evaluations in a per-step frame of ``run_seeds``/``compare``/``sweep``."""
    return len(frame), int(frame["val_loss"].notna().sum())
