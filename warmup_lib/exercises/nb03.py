"""Checks for notebook 03's exercises (spike detection, how short a warmup, pre-LN without warmup)."""

from __future__ import annotations

import inspect

from ..diagnostics import find_spikes
from .checking import Incorrect, call, exercise, expect_equal, fmt, frame, integer


def _default_window() -> int:
    return int(inspect.signature(find_spikes).parameters["window"].default)


@exercise(
    "03.1",
    hint=(
        "Read find_spikes' docstring (find_spikes?): a step is compared with the median of the "
        "`window` losses before it. What is the default window, and which steps have that many "
        "losses before them?"
    ),
    solution='''\
ex1_run = high[(high["condition"] == "lr 0.03, no warmup") & (high["seed"] == 1)]
ex1_first = ex1_run[ex1_run["step"] < 30]
print(ex1_first["train_loss"].head(5).round(2).tolist())
print(diagnostics.find_spikes(ex1_first))
# The default window is 10: a step is compared with the median of the 10 losses before it, so
# step 10 is the first one that can be flagged. The jump at step 1 has no history to compare
# with; window=1 (compare with the previous step) catches it — and, on a noisy mini-batch
# curve, a few later needles too.
print(diagnostics.find_spikes(ex1_first, window=1)[["step", "loss_before", "peak_loss", "size"]].round(2))
ex1_reports_first_jump = False
ex1_earliest_step = 10
ex["03.1"].check(ex1_reports_first_jump, ex1_earliest_step)''',
)
def default_spike_window(reports_first_jump, earliest_step):
    if not isinstance(reports_first_jump, bool):
        raise Incorrect(
            f"`reports_first_jump` should be True or False, got {reports_first_jump!r}"
        )
    if reports_first_jump:
        raise Incorrect(
            "`reports_first_jump` is True, but with the default settings the jump of the first "
            "steps is not in find_spikes' table: look at what it printed"
        )
    window = _default_window()
    expect_equal("earliest_step", integer("earliest_step", earliest_step), window)
    return f"the default window is {window}: step {window} is the first with {window} losses before it."


@exercise(
    "03.2",
    hint=(
        "experiments.sweep([GD_PEAK], [10, 20], SEEDS, gradient_descent, success=trained) runs "
        "the grid; diverging runs stop early."
    ),
    solution='''\
ex2_table = experiments.sweep([GD_PEAK], [10, 20], SEEDS, gradient_descent, success=trained)
print(ex2_table[["peak_lr", "warmup_steps", "n_diverged", "n_success"]].to_string(index=False))
# A short warmup reaches the peak LR before the network has moved to a flatter region, so it
# behaves like no warmup at all. The warmup has to be long enough for the catapults to happen
# while the LR is still small; beyond that, more warmup only costs training time.
ex["03.2"].check(ex2_table)''',
)
def short_warmups_at_peak_two(table):
    table = frame("table", table, columns=("peak_lr", "warmup_steps", "n_seeds", "n_success"))
    warmups = sorted(int(w) for w in table["warmup_steps"])
    if warmups != [10, 20]:
        raise Incorrect(f"`table` has warmup lengths {warmups}; the exercise asks for [10, 20]")
    peaks = sorted({float(p) for p in table["peak_lr"]})
    if peaks != [2.0]:
        raise Incorrect(f"`table` has peak LRs {[fmt(p) for p in peaks]}; the exercise asks for 2.0")
    too_few = table[table["n_seeds"] < 5]
    if len(too_few):
        raise Incorrect(f"`table` has only {int(too_few['n_seeds'].min())} seed(s) in a row; use all five")
    counts = ", ".join(
        f"{int(row.warmup_steps)} steps: {int(row.n_success)}/{int(row.n_seeds)} trained"
        for row in table.sort_values("warmup_steps").itertuples()
    )
    return f"{counts}."


@exercise(
    "03.3",
    hint=(
        "Write a function of the seed that builds the same TinyTransformerLM as "
        "post_ln_transformer but with norm_first=True; train it with "
        "experiments.run_seeds(post_ln_adam.replace(model=your_function), SEEDS, ...) and "
        "summarise with experiments.summarize_seeds(..., success=learned)."
    ),
    solution='''\
def ex3_pre_ln_transformer(seed):
    return TinyTransformerLM(
        language.n_classes, SEQUENCE_LENGTH, d_model=64, n_heads=4, n_layers=6, d_ff=256, norm_first=True, seed=seed
    )


ex3_runs = experiments.run_seeds(post_ln_adam.replace(model=ex3_pre_ln_transformer), SEEDS, condition="pre-LN, no warmup")
ex3_summary = experiments.summarize_seeds(ex3_runs, success=learned)
print(ex3_summary[["condition", "n_seeds", "n_success", "median_final_val_loss"]].round(3).to_string(index=False))
# Pre-LN keeps the residual stream un-normalised, so gradients near the output are not blown up
# at initialisation (Xiong et al. 2020), and Adam at 1e-2 trains without any warmup.
# The optimizer-side cure is RAdam: post_ln_adam.replace(optimizer="radam", optimizer_kwargs={}).
ex["03.3"].check(ex3_pre_ln_transformer, ex3_summary)''',
)
def pre_ln_without_warmup(make_model, summary):
    from ..models import TinyTransformerLM

    model = call("make_model", make_model, 0)
    if not isinstance(model, TinyTransformerLM):
        raise Incorrect(f"`make_model(0)` should return a TinyTransformerLM, got a {type(model).__name__}")
    if not model.encoder.layers[0].norm_first:
        raise Incorrect("`make_model(0)` builds a post-LN transformer; pass norm_first=True for pre-LN")
    if model.n_layers != 6:
        raise Incorrect(f"`make_model(0)` has {model.n_layers} layers; keep the 6 of the post-LN model")
    table = frame("summary", summary, columns=("n_seeds", "n_success"))
    if len(table) != 1:
        raise Incorrect(f"`summary` should have one row (one condition), it has {len(table)}")
    n_seeds, n_success = int(table["n_seeds"].iloc[0]), int(table["n_success"].iloc[0])
    if n_seeds < 5:
        raise Incorrect(f"`summary` covers {n_seeds} seed(s); train all five")
    return f"{n_success} of {n_seeds} pre-LN seeds learned the language without warmup."
