"""Benchmark: the post-LN transformer runs the notebooks need, judged against the machine's sgemm rate.

Prints `name: value unit (goal ...)` lines:

* ``transformer_roofline_fraction`` — the dense-layer FLOP rate the 10-run post-LN comparison
  achieves (5 seeds x with/without warmup, ``experiments.compare``, which trains the 10 runs
  as one batched ensemble) divided by single-thread ``torch.mm`` GFLOP/s. Goal >= 0.5.
* ``trainer_overhead_ratio_postln`` — a 300-step post-LN run through ``train()`` (recording
  LR, loss, gradient norm and update ratio every step, checking for divergence, one final
  evaluation) divided by the same 300 steps and final validation loss in a bare PyTorch loop.
  Goal <= 1.2. Evaluations every few steps are left out of both: they are the experiment's
  work, not the trainer's overhead (``postln_evaluation_ms`` says what one costs).
* ``transformer_ms_per_run_step_k{1,10,20,40}`` — CPU milliseconds per run and step when K runs
  of the model train as one ensemble (K=1: ``train()`` itself), to size the notebooks' grids.
* with ``--compile``: ``postln_k10_step_ms_eager`` / ``_compiled`` — one training step (forward,
  backward, fused Adam) of the 10 stacked models as written and through ``torch.compile``, and
  ``postln_k10_compile_s_cold`` / ``_cached``, the seconds the first compiled step takes with an
  empty compile cache (a fresh machine) and with the cache the first compile left: what a
  compiler's fusing would buy, and what it costs to start. It needs a C++ compiler; the notebooks
  do not use it.

The model and data are the notebooks': ``TinyTransformerLM`` post-LN, 6 layers of width 64
(4 heads, feed-forward 256), the bigram language of 32 tokens in sequences of 16, batch 16,
Adam (fused) at peak LR 1e-2 with a cosine decay over the run, warmup 60 steps, evaluation every
50 steps on 256 validation sequences, one torch thread.

    python benchmarks/transformer.py [--steps 300] [--repeats 3] [--compile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

import torch
import torch.nn.functional as F
from measure import (
    dense_flops,
    dense_parameters,
    report,
    seconds_per_step,
    sgemm_gflops,
    step_counts,
    timed,
)

from warmup_lib import runtime
from warmup_lib.data import DataSplits, make_bigram_language
from warmup_lib.ensemble import stack_models
from warmup_lib.experiments import RunConfig, compare, train_ensemble
from warmup_lib.models import TinyTransformerLM
from warmup_lib.schedules import CosineDecay, LinearWarmup, with_warmup
from warmup_lib.training import Criterion, train

SEQ_LEN, BATCH, WARMUP = 16, 16, 60


def post_ln(seed: int) -> TinyTransformerLM:
    return TinyTransformerLM(32, SEQ_LEN, d_model=64, n_heads=4, n_layers=6, d_ff=256, seed=seed)


def comparison(language: DataSplits, steps: int) -> dict[str, RunConfig]:
    """The notebooks' with/without-warmup pair: the same cosine, with and without a warmup."""
    no_warmup = RunConfig(
        model=post_ln,
        data=language,
        steps=steps,
        optimizer="adam",
        peak_lr=1e-2,
        optimizer_kwargs={"fused": True},
        schedule=CosineDecay(steps),
        batch_size=BATCH,
        eval_every=50,
    )
    warmup = with_warmup(CosineDecay(steps), LinearWarmup(min(WARMUP, steps // 5)))
    return {"no warmup": no_warmup, "warmup": no_warmup.replace(schedule=warmup)}


def bare_run(language: DataSplits, steps: int) -> None:
    """The same optimisation with nothing recorded, then one validation loss."""
    model = post_ln(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True)
    generator = torch.Generator().manual_seed(0)
    n_rows = len(language.X_train)
    permutation, position = torch.randperm(n_rows, generator=generator), 0
    vocab = language.n_classes
    for _ in range(steps):
        if position + BATCH > n_rows:
            permutation, position = torch.randperm(n_rows, generator=generator), 0
        index = permutation[position : position + BATCH]
        position += BATCH
        optimizer.zero_grad(set_to_none=True)
        logits = model(language.X_train[index])
        loss = F.cross_entropy(logits.reshape(-1, vocab), language.y_train[index].reshape(-1))
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(language.X_val)
        F.cross_entropy(logits.reshape(-1, vocab), language.y_val.reshape(-1)).item()


def trainer_run(language: DataSplits, steps: int) -> None:
    model = post_ln(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True)
    train(model, optimizer, None, language, steps, batch_size=BATCH, eval_every=steps)


def compiled_step(language: DataSplits, members: int = 10, steps: int = 30) -> None:
    """One training step of ``members`` stacked post-LN models, eager and through torch.compile."""
    models = [post_ln(seed) for seed in range(members)]
    stacked = stack_models(models, Criterion("cross_entropy", language.task))
    optimizer = torch.optim.Adam(stacked.params, lr=1e-3, fused=True)
    generator = torch.Generator().manual_seed(0)

    def total_loss(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return stacked.losses(stacked.forward(X), y).sum()

    def step(loss_of) -> None:
        index = torch.randint(0, len(language.X_train), (members, BATCH), generator=generator)
        loss_of(language.X_train[index], language.y_train[index]).backward()
        optimizer.step()
        stacked.zero_grad(optimizer)

    # A fresh cache folder: a learner's first compile (Binder starts from a clean machine), then
    # the same compile again with what the first one cached.
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    for cache in ("cold", "cached"):
        torch._dynamo.reset()
        compiled = torch.compile(total_loss)
        try:
            _, _, compile_wall = timed(lambda f=compiled: step(f))
        except Exception as error:  # no C++ compiler, or an unsupported platform
            print(f"torch.compile unavailable here: {type(error).__name__}: {str(error)[:200]}")
            return
        report(f"postln_k10_compile_s_{cache}", compile_wall, "s", 1)
    for name, loss_of in (("eager", total_loss), ("compiled", compiled)):
        seconds = seconds_per_step(lambda n, f=loss_of: [step(f) for _ in range(n)], steps)
        report(f"postln_k10_step_ms_{name}", 1000 * seconds, "ms", 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="steps per run (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="overhead timings per side")
    parser.add_argument(
        "--compile", action="store_true", help="also time the stacked step under torch.compile"
    )
    args = parser.parse_args(argv)
    runtime.set_threads(1)
    runtime.keep_freed_memory()  # what train() does; the bare loop gets the same allocator
    language = make_bigram_language(seq_len=SEQ_LEN, n_train=2048, n_val=256, n_test=256, seed=0)
    tokens_per_step, val_tokens = BATCH * SEQ_LEN, len(language.X_val) * SEQ_LEN
    dense = dense_parameters(post_ln(0))
    sgemm = sgemm_gflops()
    report("sgemm_gflops_1thread", sgemm, "GFLOP/s", 1)

    # The 10-run comparison, as a notebook runs it.
    conditions = comparison(language, args.steps)
    compare(comparison(language, 10), seeds=range(2))  # warm-up: imports, first-call costs
    frame, cpu, wall = timed(lambda: compare(conditions, seeds=range(5), ensemble=True))
    flops = dense_flops(*step_counts(frame), dense, tokens_per_step, val_tokens)
    sgemm = max(sgemm, sgemm_gflops())  # the better of two measurements: the machine's peak
    report("postln_comparison_10_runs_s", cpu, "s", 1)
    report("postln_comparison_10_runs_wall_s", wall, "s", 1)
    report("postln_comparison_dense_gflops", flops / cpu / 1e9, "GFLOP/s", 1)
    report("transformer_roofline_fraction", flops / cpu / 1e9 / sgemm, "", goal=">= 0.5")
    report("transformer_roofline_fraction_wall", flops / wall / 1e9 / sgemm, "")

    # train() against a bare loop, interleaved so that load from other processes hits both.
    trainer_run(language, 5)
    bare, recorded = [], []
    for _ in range(args.repeats):
        bare.append(timed(lambda: bare_run(language, args.steps))[1:])
        recorded.append(timed(lambda: trainer_run(language, args.steps))[1:])
    bare_cpu, trainer_cpu = (statistics.median(t[0] for t in ts) for ts in (bare, recorded))
    bare_wall, trainer_wall = (statistics.median(t[1] for t in ts) for ts in (bare, recorded))
    report("postln_bare_ms_per_step", 1000 * bare_cpu / args.steps, "ms", 2)
    report("trainer_overhead_ratio_postln", trainer_cpu / bare_cpu, "x", goal="<= 1.2")
    report("trainer_overhead_ratio_postln_wall", trainer_wall / bare_wall, "x")
    model = post_ln(0).eval()
    with torch.no_grad():
        _, evaluation, _ = timed(lambda: [model(language.X_val) for _ in range(5)])
    report("postln_evaluation_ms", 1000 * evaluation / 5, "ms", 1)

    # Cost per run and step as the ensemble grows (training steps only).
    per_run_step = {1: trainer_cpu / args.steps}
    config = conditions["no warmup"]
    for k in (10, 20, 40):

        def run(steps: int, k: int = k) -> None:
            train_ensemble(config.replace(steps=steps, eval_every=steps), range(k))

        per_run_step[k] = seconds_per_step(run, max(10, args.steps // 20)) / k
    for k, seconds in per_run_step.items():
        report(f"transformer_ms_per_run_step_k{k}", 1000 * seconds, "ms", 2)
    report("transformer_ensemble_speedup_k10", per_run_step[1] / per_run_step[10], "x")
    if args.compile:
        compiled_step(language)


if __name__ == "__main__":
    main()
