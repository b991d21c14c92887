"""Benchmark: schedule curves and the torch adapter's step() cost. Prints `name: value unit` lines."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

import warmup_lib as wl


def _best_of(fn, repeats: int, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def curve_1e6_ms() -> float:
    """Evaluate a composed schedule (warmup, stable, cosine cooldown) at 10^6 steps."""
    schedule = wl.wsd(10_000, 790_000, 200_000, warmup_type="cosine", decay_type="cosine", min_ratio=0.01)
    steps = np.arange(1_000_000)
    schedule.curve(steps)  # warm-up call
    return 1000 * _best_of(lambda: schedule.curve(steps), 7)


def adapter_step_ratio_vs_lambdalr(n_steps: int = 20_000, decay: str = "linear") -> tuple[float, float, float]:
    """Time scheduler.step() for ScheduleLR and for LambdaLR with an equivalent plain lambda.

    ``decay="linear"`` is linear warmup then linear decay; ``"cosine"`` a cosine decay, whose
    one-step path calls NumPy for the cosine (see the notes in warmup_lib/schedules.py).
    """
    warmup, total = 1000, n_steps

    def lam(step: int) -> float:  # the hand-written lambda people pass to LambdaLR
        if step < warmup:
            return step / warmup
        progress = (step - warmup) / (total - warmup)
        if decay == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def stepper(make):
        model = torch.nn.Linear(8, 8)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        opt._opt_called = True  # we time step() alone; no optimizer update between calls
        sched = make(opt)

        def go():
            for _ in range(n_steps):
                sched.step()

        return go

    after = wl.LinearDecay(total - warmup) if decay == "linear" else wl.CosineDecay(total - warmup)
    schedule = wl.warmup_then(wl.LinearWarmup(warmup), after)
    ours = stepper(lambda opt: wl.ScheduleLR(opt, schedule))
    theirs = stepper(lambda opt: LambdaLR(opt, lam))
    # Alternate the two, and count this thread's CPU time, so that load from other processes on
    # a shared machine does not favour either.
    best_ours = best_theirs = float("inf")
    for _ in range(5):
        best_ours = min(best_ours, _best_of(ours, 1, time.thread_time) / n_steps)
        best_theirs = min(best_theirs, _best_of(theirs, 1, time.thread_time) / n_steps)
    return best_ours / best_theirs, best_ours * 1e6, best_theirs * 1e6


def main() -> None:
    torch.set_num_threads(1)
    print(f"curve_1e6_ms: {curve_1e6_ms():.1f} ms (goal <= 50)")
    ratio, ours_us, theirs_us = adapter_step_ratio_vs_lambdalr()
    print(f"adapter_step_us: {ours_us:.2f} us")
    print(f"lambdalr_step_us: {theirs_us:.2f} us")
    print(f"adapter_step_ratio_vs_lambdalr: {ratio:.2f} x (goal <= 1.5)")
    ratio, _, _ = adapter_step_ratio_vs_lambdalr(decay="cosine")
    print(f"adapter_step_ratio_vs_lambdalr_cosine: {ratio:.2f} x (goal <= 1.5)")


if __name__ == "__main__":
    main()
