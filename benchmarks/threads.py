"""Measure training speed of the series' small models with 1 and 2 torch threads, and the trainer's overhead.

Run ``python benchmarks/threads.py`` (add ``--quick`` for a ~15 s version). Every result is printed
as one ``name: value unit`` line, for example::

    mlp_steps_per_s_1thread: 1234 steps/s
    mlp_steps_per_s_2threads: 456 steps/s
    thread_speedup_1_vs_2: 2.7 x

What is measured (the models and sizes the notebooks train):

* the MLP 64 -> 256 -> 256 -> 10 with Adam, batch 64, on random data the size of scikit-learn's
  digits split (1077 training rows), trained with ``warmup_lib.training.train`` at 1 and 2
  threads, and the same steps as a bare PyTorch loop (the difference is the trainer's cost for
  recording LR, loss, gradient norm and update size at every step);
* the post-LN ``TinyTransformerLM`` (6 layers, width 64, 4 heads, FF 256), batch 32, sequences of
  24 over 32 tokens, at 1 and 2 threads;
* the wall time of one complete 200-step post-LN run on the bigram language (Adam lr 1e-2, 40-step
  linear warmup, evaluation every 10 steps on 256 validation sequences) — the unit of the
  transformer notebooks.

Timings are the median of ``--repeats`` runs; on a shared machine expect +-20 %.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from warmup_lib import runtime
from warmup_lib.data import DataSplits, make_bigram_language
from warmup_lib.models import MLP, TinyTransformerLM
from warmup_lib.schedules import LinearWarmup
from warmup_lib.training import train


def digits_sized_data(seed: int = 0) -> DataSplits:
    """Random features/labels with the shapes of the digits split: 1077/360/360 rows x 64, 10 classes."""
    g = torch.Generator().manual_seed(seed)
    parts = []
    for rows in (1077, 360, 360):
        parts += [torch.randn(rows, 64, generator=g), torch.randint(0, 10, (rows,), generator=g)]
    return DataSplits("digits-sized random", "multiclass", *parts, n_classes=10)


def token_data(n_train: int = 2048, n_val: int = 64, seed: int = 0) -> DataSplits:
    """Random tokens shaped like the bigram language: 32 tokens, sequences of 24."""
    g = torch.Generator().manual_seed(seed)
    parts = []
    for rows in (n_train, n_val, n_val):
        parts += [torch.randint(0, 32, (rows, 24), generator=g) for _ in range(2)]
    return DataSplits("random tokens", "language", *parts, n_classes=32)


def trainer_run(
    make_model: Callable[[], torch.nn.Module],
    data: DataSplits,
    steps: int,
    batch_size: int,
    threads: int,
) -> tuple[float, float]:
    """Train with ``warmup_lib.training.train``; return (steps per wall second, CPU s per step)."""
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    cpu_start = time.thread_time()
    # One evaluation at the end only: this measures the training step, not the validation pass.
    history = train(
        model,
        optimizer,
        None,
        data,
        steps,
        batch_size=batch_size,
        eval_every=steps,
        threads=threads,
    )
    return steps / history.seconds, (time.thread_time() - cpu_start) / steps


def bare_run(
    make_model: Callable[[], torch.nn.Module], data: DataSplits, steps: int, batch_size: int
) -> tuple[float, float]:
    """The same optimisation with nothing recorded (forward, backward, Adam step), on 1 thread."""
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    n_rows = len(data.X_train)
    permutation, position = torch.randperm(n_rows, generator=generator), 0
    with runtime.threads(1):
        cpu_start, start = time.thread_time(), time.perf_counter()
        for _ in range(steps):
            if position + batch_size > n_rows:
                permutation, position = torch.randperm(n_rows, generator=generator), 0
            index = permutation[position : position + batch_size]
            position += batch_size
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(data.X_train[index]), data.y_train[index])
            loss.backward()
            optimizer.step()
        wall = time.perf_counter() - start
        return steps / wall, (time.thread_time() - cpu_start) / steps


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def report(name: str, value: float, unit: str, digits: int = 0) -> None:
    print(f"{name}: {value:.{digits}f} {unit}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (~15 s)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timing repeats (default 3, quick 1)"
    )
    parser.add_argument("--skip-transformer", action="store_true", help="MLP measurements only")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    mlp_steps = 200 if args.quick else 500
    lm_steps = 15 if args.quick else 40

    runtime.set_threads(1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# torch {torch.__version__}, {runtime.describe_environment()['cpus_available']} CPUs "
        f"available, load average {load:.1f}, median of {repeats}"
    )

    digits = digits_sized_data()

    def make_mlp() -> MLP:
        return MLP(64, 10, hidden=(256, 256), seed=0)

    trainer_run(make_mlp, digits, 20, 64, 1)  # warm up allocator, imports and sklearn
    # Interleaved, so that load from other processes hits every variant alike.
    one, two, bare = [], [], []
    for _ in range(repeats):
        one.append(trainer_run(make_mlp, digits, mlp_steps, 64, 1))
        two.append(trainer_run(make_mlp, digits, mlp_steps, 64, 2))
        bare.append(bare_run(make_mlp, digits, mlp_steps, 64))
    (mlp_1, cpu_1), (mlp_2, _), (bare_1, bare_cpu) = medians(one), medians(two), medians(bare)
    report("mlp_steps_per_s_1thread", mlp_1, "steps/s")
    report("mlp_steps_per_s_2threads", mlp_2, "steps/s")
    report("thread_speedup_1_vs_2", mlp_1 / mlp_2, "x", 2)
    # 1 / (CPU seconds per step): what one thread achieves when it gets a core to itself.
    report("mlp_steps_per_cpu_s_1thread", 1 / cpu_1, "steps/s")
    report("mlp_bare_loop_steps_per_s_1thread", bare_1, "steps/s")
    # CPU time of the one busy thread: less sensitive to other processes than wall time.
    report("trainer_overhead_per_step_cpu", 1e6 * (cpu_1 - bare_cpu), "us")

    if args.skip_transformer:
        return
    tokens = token_data()

    def make_lm() -> TinyTransformerLM:
        return TinyTransformerLM(32, 24, norm_first=False, seed=0)

    trainer_run(make_lm, tokens, 3, 32, 1)
    lm_one, lm_two = [], []
    for _ in range(repeats):
        lm_one.append(trainer_run(make_lm, tokens, lm_steps, 32, 1))
        lm_two.append(trainer_run(make_lm, tokens, lm_steps, 32, 2))
    (lm_1, lm_cpu_1), (lm_2, _) = medians(lm_one), medians(lm_two)
    report("transformer_steps_per_s_1thread", lm_1, "steps/s", 1)
    report("transformer_steps_per_cpu_s_1thread", 1 / lm_cpu_1, "steps/s", 1)
    report("transformer_steps_per_s_2threads", lm_2, "steps/s", 1)
    report("transformer_thread_speedup_1_vs_2", lm_1 / lm_2, "x", 2)

    if args.quick:
        return
    bigram = make_bigram_language(n_train=8192, n_val=256, n_test=256, seed=0)
    model = make_lm()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = time.perf_counter()
    history = train(model, optimizer, LinearWarmup(40), bigram, 200, batch_size=32, eval_every=10)
    report("postln_200_step_run", time.perf_counter() - start, "s", 1)
    report("postln_200_step_final_val_loss", history.final_val_loss, "nats", 3)


if __name__ == "__main__":
    main()
