"""Benchmark: 8 seeds trained as one batched ensemble vs 8 sequential runs. Prints `name: value unit` lines.

Both sides train the same thing — sklearn digits, MLP 64->256->256->10, Adam lr 1e-3, batch 64,
300 steps, evaluation every 10 steps, seeds 0..7 — on one torch thread, and the script reports
how far apart their training losses are. Each side is timed ``--repeats`` times, alternating,
and the best time is kept (other processes on a shared machine only ever add time). Wall time
is the headline; CPU time of this (single-threaded) process is printed too, because on a busy
shared machine it is the steadier of the two.

The same comparison for hidden widths 64 and 128 shows where batching pays most: a sequential
run of a small MLP is dominated by per-step overhead (Python, per-tensor optimizer loops,
``.item()``, metric calls), which the ensemble pays once for all K members; at width 256 the
matrix products themselves dominate, and batching cannot make those cheaper.

    python benchmarks/ensemble.py [--seeds 8] [--steps 300] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from warmup_lib.data import DataSplits, load_digits
from warmup_lib.experiments import RunConfig, train_ensemble
from warmup_lib.models import MLP


def make_config(steps: int, width: int = 256, data: DataSplits | None = None) -> RunConfig:
    """The benchmarked configuration: MLP 64->width->width->10 on digits, Adam 1e-3, batch 64."""
    return RunConfig(
        model=lambda seed: MLP(64, 10, hidden=(width, width), seed=seed),
        data=load_digits() if data is None else data,
        steps=steps,
        optimizer="adam",
        peak_lr=1e-3,
        batch_size=64,
        eval_every=10,
    )


def compare(config: RunConfig, seeds: list[int], repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` wall and CPU seconds of the ensemble and of the sequential runs."""
    config.run(0)  # warm-up: imports (sklearn, pandas) and first-call costs
    train_ensemble(config, seeds[:2])
    wall: dict[str, list[float]] = {"ensemble": [], "sequential": []}
    cpu: dict[str, list[float]] = {"ensemble": [], "sequential": []}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall[name].append(time.perf_counter() - start)
        cpu[name].append(time.process_time() - start_cpu)
        return result

    for _ in range(repeats):
        batched = timed("ensemble", lambda: train_ensemble(config, seeds))
        sequential = timed("sequential", lambda: [config.run(seed) for seed in seeds])
    worst = max(
        float(np.max(np.abs(np.asarray(b.train_loss) - np.asarray(s.train_loss))))
        for b, s in zip(batched, sequential, strict=True)
    )
    return {
        "ensemble_s": min(wall["ensemble"]),
        "sequential_s": min(wall["sequential"]),
        "ensemble_cpu_s": min(cpu["ensemble"]),
        "sequential_cpu_s": min(cpu["sequential"]),
        "max_abs_diff": worst,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="ensemble size K (default 8)")
    parser.add_argument(
        "--steps", type=int, default=300, help="optimizer steps per run (default 300)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timings per side; the best is kept")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    k, seeds, data = args.seeds, list(range(args.seeds)), load_digits()

    main_result = compare(make_config(args.steps, 256, data), seeds, args.repeats)
    print(f"ensemble_speedup_k{k}: {main_result['sequential_s'] / main_result['ensemble_s']:.2f} x")
    print(f"ensemble_k{k}_s: {main_result['ensemble_s']:.2f} s")
    print(f"sequential_k{k}_s: {main_result['sequential_s']:.2f} s")
    print(
        f"ensemble_speedup_k{k}_cpu: {main_result['sequential_cpu_s'] / main_result['ensemble_cpu_s']:.2f} x"
    )
    print(f"ensemble_k{k}_cpu_s: {main_result['ensemble_cpu_s']:.2f} s")
    print(f"sequential_k{k}_cpu_s: {main_result['sequential_cpu_s']:.2f} s")
    print(
        f"ensemble_ms_per_member_step: {1000 * main_result['ensemble_s'] / (k * args.steps):.3f} ms"
    )
    print(f"sequential_ms_per_step: {1000 * main_result['sequential_s'] / (k * args.steps):.3f} ms")
    print(f"ensemble_max_abs_train_loss_diff: {main_result['max_abs_diff']:.2e} nats")
    for width in (64, 128):
        result = compare(make_config(args.steps, width, data), seeds, args.repeats)
        print(
            f"ensemble_speedup_k{k}_hidden{width}: {result['sequential_s'] / result['ensemble_s']:.2f} x"
        )
        print(
            f"ensemble_speedup_k{k}_hidden{width}_cpu: {result['sequential_cpu_s'] / result['ensemble_cpu_s']:.2f} x"
        )


if __name__ == "__main__":
    main()
