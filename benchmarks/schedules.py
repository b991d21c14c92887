"""Benchmark: schedule curves and the torch adapter's step() cost. Prints `name: value unit` lines."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

import warmup_lib as wl


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def curve_1e6_ms() -> float:
    """Evaluate a composed schedule (warmup, stable, cosine cooldown) at 10^6 steps."""
    schedule = wl.wsd(10_000, 790_000, 200_000, warmup_type="cosine", decay_type="cosine", min_ratio=0.01)
    steps = np.arange(1_000_000)
    schedule.curve(steps)  # warm-up call
    return 1000 * _best_of(lambda: schedule.curve(steps), 7)


def adapter_step_ratio_vs_lambdalr(n_steps: int = 20_000) -> tuple[float, float, float]:
    """Time scheduler.step() for ScheduleLR and for LambdaLR with an equivalent plain lambda."""
    warmup, total = 1000, n_steps

    def lam(step: int) -> float:  # the hand-written lambda people pass to LambdaLR
        if step < warmup:
            return step / warmup
        return max(0.0, (total - step) / (total - warmup))

    def timed(make):
        model = torch.nn.Linear(8, 8)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        opt._opt_called = True  # we time step() alone; no optimizer update between calls
        sched = make(opt)

        def go():
            for _ in range(n_steps):
                sched.step()

        return _best_of(go, 3) / n_steps

    ours = timed(lambda opt: wl.ScheduleLR(opt, wl.warmup_then(wl.LinearWarmup(warmup), wl.LinearDecay(total - warmup))))
    theirs = timed(lambda opt: LambdaLR(opt, lam))
    return ours / theirs, ours * 1e6, theirs * 1e6


def main() -> None:
    torch.set_num_threads(1)
    print(f"curve_1e6_ms: {curve_1e6_ms():.1f} ms")
    ratio, ours_us, theirs_us = adapter_step_ratio_vs_lambdalr()
    print(f"adapter_step_us: {ours_us:.2f} us")
    print(f"lambdalr_step_us: {theirs_us:.2f} us")
    print(f"adapter_step_ratio_vs_lambdalr: {ratio:.2f} x")


if __name__ == "__main__":
    main()
