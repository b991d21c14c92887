"""Benchmark: MLP seeds trained as one batched ensemble, against the machine and against sequential runs.

Prints `name: value unit (goal ...)` lines:

* ``ensemble_roofline_fraction_hidden256`` — the dense-layer FLOP rate of 8 seeds of the MLP
  64->256->256->10 trained as one ensemble (sklearn digits, Adam 1e-3, batch 64, 300 steps,
  evaluation every 10) divided by single-thread ``torch.mm`` GFLOP/s. Goal >= 0.5. At these
  sizes the step is compute-bound, so the machine's peak is the yardstick, not the sequential
  runs.
* ``ensemble_speedup_k8`` (and ``_hidden64``, ``_hidden128``) — the same 8 seeds one after
  another (``config.run``) divided by the ensemble, and how far apart their training losses are.
* ``mlp256x3_ms_per_run_step_k{1,10,20,40}`` — CPU milliseconds per run and training step of the
  MLP 64->256->256->256->10 on digits (batch 64) when K runs train as one ensemble (K=1: one
  ``train()`` run), to size the notebooks' grids.

Each side of a comparison is timed ``--repeats`` times, alternating, and the best time is kept
(other processes on a shared machine only ever add time). Times are CPU seconds of this
single-threaded process; wall times are printed too (see ``measure.py``).

    python benchmarks/ensemble.py [--seeds 8] [--steps 300] [--repeats 2]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from measure import dense_flops, report, seconds_per_step, sgemm_gflops, timed

from warmup_lib import runtime
from warmup_lib.data import DataSplits, load_digits
from warmup_lib.experiments import RunConfig, train_ensemble
from warmup_lib.models import MLP


def make_config(steps: int, hidden: tuple[int, ...], data: DataSplits) -> RunConfig:
    """MLP 64 -> hidden -> 10 on digits, Adam 1e-3, batch 64, evaluation every 10 steps."""
    return RunConfig(
        model=lambda seed: MLP(64, 10, hidden=hidden, seed=seed),
        data=data,
        steps=steps,
        optimizer="adam",
        peak_lr=1e-3,
        batch_size=64,
        eval_every=10,
    )


def dense_weights(hidden: tuple[int, ...]) -> int:
    widths = (64, *hidden, 10)
    return sum(a * b for a, b in zip(widths, widths[1:], strict=False))


def compare(config: RunConfig, seeds: list[int], repeats: int) -> dict[str, Any]:
    """Best-of-``repeats`` CPU and wall seconds of the ensemble and of the sequential runs."""
    config.run(0)  # warm-up: imports (sklearn, pandas) and first-call costs
    train_ensemble(config, seeds[:2])
    times: dict[str, list[tuple[float, float]]] = {"ensemble": [], "sequential": []}
    for _ in range(repeats):
        batched, cpu, wall = timed(lambda: train_ensemble(config, seeds))
        times["ensemble"].append((cpu, wall))
        sequential, cpu, wall = timed(lambda: [config.run(seed) for seed in seeds])
        times["sequential"].append((cpu, wall))
    worst = max(
        float(np.max(np.abs(np.asarray(b.train_loss) - np.asarray(s.train_loss))))
        for b, s in zip(batched, sequential, strict=True)
    )
    best = {name: min(values) for name, values in times.items()}
    return {"best": best, "histories": batched, "max_abs_diff": worst}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="ensemble size K (default 8)")
    parser.add_argument("--steps", type=int, default=300, help="steps per run (default 300)")
    parser.add_argument("--repeats", type=int, default=2, help="timings per side; the best is kept")
    args = parser.parse_args(argv)
    runtime.set_threads(1)
    runtime.keep_freed_memory()
    k, seeds, data = args.seeds, list(range(args.seeds)), load_digits()
    sgemm = sgemm_gflops()
    report("sgemm_gflops_1thread", sgemm, "GFLOP/s", 1)

    hidden = (256, 256)
    result = compare(make_config(args.steps, hidden, data), seeds, args.repeats)
    (ensemble_cpu, ensemble_wall), (sequential_cpu, sequential_wall) = (
        result["best"]["ensemble"],
        result["best"]["sequential"],
    )
    histories = result["histories"]
    flops = dense_flops(
        sum(h.steps_done for h in histories),
        sum(len(h.eval_step) for h in histories),
        dense_weights(hidden),
        64,
        len(data.X_val),
    )
    sgemm = max(sgemm, sgemm_gflops())
    report("ensemble_dense_gflops_hidden256", flops / ensemble_cpu / 1e9, "GFLOP/s", 1)
    report(
        "ensemble_roofline_fraction_hidden256", flops / ensemble_cpu / 1e9 / sgemm, "", goal=">= 0.5"
    )
    report("ensemble_roofline_fraction_hidden256_wall", flops / ensemble_wall / 1e9 / sgemm, "")
    report(f"ensemble_speedup_k{k}", sequential_cpu / ensemble_cpu, "x")
    report(f"ensemble_speedup_k{k}_wall", sequential_wall / ensemble_wall, "x")
    report(f"ensemble_k{k}_s", ensemble_cpu, "s")
    report(f"sequential_k{k}_s", sequential_cpu, "s")
    report("ensemble_ms_per_member_step", 1000 * ensemble_cpu / (k * args.steps), "ms", 3)
    report("sequential_ms_per_step", 1000 * sequential_cpu / (k * args.steps), "ms", 3)
    report("ensemble_max_abs_train_loss_diff", result["max_abs_diff"], "nats", 1, fmt="e")
    for width in (64, 128):
        other = compare(make_config(args.steps, (width, width), data), seeds, args.repeats)
        speedup = other["best"]["sequential"][0] / other["best"]["ensemble"][0]
        report(f"ensemble_speedup_k{k}_hidden{width}", speedup, "x")

    # Cost per run and training step as the ensemble grows.
    wide = make_config(args.steps, (256, 256, 256), data)
    short = max(20, args.steps // 10)

    def one_run(steps: int) -> None:
        wide.replace(steps=steps, eval_every=steps).run(0)

    report("mlp256x3_ms_per_run_step_k1", 1000 * seconds_per_step(one_run, short), "ms", 3)
    for size in (10, 20, 40):

        def run(steps: int, size: int = size) -> None:
            train_ensemble(wide.replace(steps=steps, eval_every=steps), range(size))

        per_step = seconds_per_step(run, short) / size
        report(f"mlp256x3_ms_per_run_step_k{size}", 1000 * per_step, "ms", 3)


if __name__ == "__main__":
    main()
