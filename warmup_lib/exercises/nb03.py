"""Checks for notebook 03's exercises (the fair pair, stuck or slow, a longer warmup for the MLP)."""

from __future__ import annotations

import numpy as np

from ..diagnostics import summarize_run
from ..schedules import LinearDecay, LinearWarmup, warmup_then
from .checking import (
    Incorrect,
    exercise,
    expect_curve,
    fmt,
    frame,
    integer,
    number,
    numbers_array,
    schedule_values,
)

# Exercise 03.1: a linear decay over 200 steps, with and without a 50-step linear warmup.
PAIR_STEPS = 200
PAIR_WARMUP = 50
# Exercise 03.3: the MLP at Adam's peak LR 0.1 with a longer warmup.
LONG_WARMUP_PEAK_LR = 0.1
LONG_WARMUP_STEPS = 75


def _span(steps: np.ndarray) -> str:
    if steps.size == 0:
        return "no step"
    if steps.size == 1:
        return f"step {int(steps[0])}"
    return f"{steps.size} steps, from {int(steps[0])} to {int(steps[-1])}"


@exercise(
    "03.1",
    hint=(
        "A warmup factor multiplies the base schedule: wl.LinearWarmup(50) * ex1_base. Then "
        "wl.steps_that_differ(ex1_base, ex1_with_warmup, 200) lists the steps where the two "
        "multipliers are not equal."
    ),
    solution='''\
ex1_base = wl.LinearDecay(200)
ex1_with_warmup = wl.LinearWarmup(50) * ex1_base
ex1_differ = wl.steps_that_differ(ex1_base, ex1_with_warmup, 200)
print(f"the pair differs at {len(ex1_differ)} steps: {ex1_differ.min()} to {ex1_differ.max()}")
# Joining a warmup to a shorter decay instead (the mistake this notebook avoids) delays the decay,
# so the two runs would differ long after the warmup:
ex1_joined = wl.warmup_then(wl.LinearWarmup(50), wl.LinearDecay(150))
print(f"the joined schedule differs at {len(wl.steps_that_differ(ex1_base, ex1_joined, 200))} of 200 steps")
ex["03.1"].check(ex1_with_warmup, ex1_differ)''',
)
def fair_pair(with_warmup, differ):
    steps = np.arange(PAIR_STEPS)
    base = LinearDecay(PAIR_STEPS).curve(steps)
    expected = (LinearWarmup(PAIR_WARMUP) * LinearDecay(PAIR_STEPS)).curve(steps)
    got = schedule_values("with_warmup", with_warmup, steps)
    joined = warmup_then(LinearWarmup(PAIR_WARMUP), LinearDecay(PAIR_STEPS - PAIR_WARMUP)).curve(steps)
    wrong = np.flatnonzero(~np.isclose(got, expected, rtol=1e-9, atol=1e-12))
    if wrong.size and np.allclose(got, joined, rtol=1e-9, atol=1e-12):
        after = wrong[wrong >= PAIR_WARMUP]
        k = int(after[0])
        raise Incorrect(
            f"`with_warmup` is the warmup joined to a shorter decay: it differs from the base "
            f"after the warmup too ({_span(after)}; at step {k}: {fmt(got[k])} instead of "
            f"{fmt(base[k])}). Multiply the base by the warmup instead"
        )
    expect_curve(
        "with_warmup", got, expected,
        what=f"a {PAIR_WARMUP}-step linear warmup times LinearDecay({PAIR_STEPS})",
        rtol=1e-9, atol=1e-12,
        phase=lambda k: "during the warmup" if k < PAIR_WARMUP else "after the warmup",
    )
    listed = numbers_array("differ", differ)
    right = np.flatnonzero(base != expected)
    if listed.shape != right.shape or not np.array_equal(listed, right):
        raise Incorrect(
            f"`differ` holds {_span(listed.astype(int))}; the two schedules differ at "
            f"{_span(right)} (step 0 too: the warmup starts at 0)"
        )
    return (
        f"the pair differs at steps 0 to {PAIR_WARMUP - 1} only; from step {PAIR_WARMUP} on both "
        "follow the same decay."
    )


def _counts(name: str, value) -> dict[str, int]:
    if not isinstance(value, dict):
        raise Incorrect(
            f"`{name}` should be a dict such as {{'no warmup': 5, 'warmup': 0}}, got a "
            f"{type(value).__name__}"
        )
    return {str(key): integer(f"{name}[{key!r}]", count) for key, count in value.items()}


@exercise(
    "03.2",
    hint=(
        "Group the main comparison by condition and seed (tf_main.groupby(['condition', 'seed'])) "
        "and call diagnostics.summarize_run(run, chance_loss=UNIGRAM_LOSS) on each run; its "
        ".status is 'stalled' for a run that stayed near the unigram loss. Count per condition."
    ),
    solution='''\
ex2_stalled = {}
for (ex2_condition, ex2_seed), ex2_run in tf_main.groupby(["condition", "seed"], sort=False):
    ex2_summary = diagnostics.summarize_run(ex2_run, chance_loss=UNIGRAM_LOSS)
    ex2_stalled[ex2_condition] = ex2_stalled.get(ex2_condition, 0) + (ex2_summary.status == "stalled")
    print(f"{ex2_condition}, seed {ex2_seed}: {ex2_summary.status}")
print(ex2_stalled)
# Without warmup nothing exploded: the loss went flat at the level of a model that ignores the
# context. Told that level (chance_loss), summarize_run calls such a run stalled.
ex["03.2"].check(ex2_stalled, tf_main, UNIGRAM_LOSS)''',
)
def stuck_or_slow(stalled, runs, chance_loss):
    answer = _counts("stalled", stalled)
    table = frame("runs", runs, columns=("condition", "seed", "train_loss"))
    chance = number("chance_loss", chance_loss)
    expected: dict[str, int] = {}
    totals: dict[str, int] = {}
    for (condition, _), run in table.groupby(["condition", "seed"], sort=False):
        status = summarize_run(run, chance_loss=chance).status
        expected[str(condition)] = expected.get(str(condition), 0) + (status == "stalled")
        totals[str(condition)] = totals.get(str(condition), 0) + 1
    missing = [c for c in expected if c not in answer]
    extra = [c for c in answer if c not in expected]
    if missing or extra:
        raise Incorrect(
            f"`stalled` should have one count per condition of `runs`, {sorted(expected)}; "
            f"missing {missing}, not in the runs {extra}"
        )
    for condition, count in expected.items():
        if answer[condition] != count:
            raise Incorrect(
                f"`stalled['{condition}']` is {answer[condition]}; summarize_run calls {count} of "
                f"the {totals[condition]} runs of that condition stalled"
            )
    return "; ".join(f"{c}: {expected[c]} of {totals[c]} runs stalled" for c in expected) + "."


@exercise(
    "03.3",
    hint=(
        "experiments.sweep([0.1], [75], SEEDS, mlp_adam, base=constant) trains the five seeds "
        "with a 75-step warmup; its n_success column counts the seeds that ended above 90 % "
        "validation accuracy. 'Works' means at least four of the five."
    ),
    solution='''\
ex3_table = experiments.sweep([0.1], [75], SEEDS, mlp_adam, base=constant)
print(ex3_table[["peak_lr", "warmup_steps", "n_diverged", "n_success", "median_final_val_loss",
                 "median_final_val_accuracy"]].round(3).to_string(index=False))
ex3_works = bool(ex3_table["n_success"].iloc[0] >= 4)
# The runs do not learn, whether or not one of them diverges: at this LR the trouble is not
# confined to the first steps, so a longer warmup does not cure it. A lower peak LR does.
ex["03.3"].check(ex3_table, ex3_works)''',
)
def longer_warmup_for_the_mlp(table, works):
    table = frame("table", table, columns=("peak_lr", "warmup_steps", "n_seeds", "n_success"))
    if len(table) != 1:
        raise Incorrect(f"`table` should have one row (one peak LR, one warmup), it has {len(table)}")
    row = table.iloc[0]
    peak, warmup = float(row["peak_lr"]), int(row["warmup_steps"])
    if peak != LONG_WARMUP_PEAK_LR or warmup != LONG_WARMUP_STEPS:
        raise Incorrect(
            f"`table` is for peak LR {fmt(peak)} with a {warmup}-step warmup; the exercise asks "
            f"for peak LR {fmt(LONG_WARMUP_PEAK_LR)} with a {LONG_WARMUP_STEPS}-step warmup"
        )
    n_seeds, n_success = int(row["n_seeds"]), int(row["n_success"])
    if n_seeds < 5:
        raise Incorrect(f"`table` covers {n_seeds} seed(s); train all five")
    if not isinstance(works, bool | np.bool_):
        raise Incorrect(f"`works` should be True or False, got {works!r}")
    expected = n_success >= n_seeds - 1
    if bool(works) != expected:
        raise Incorrect(
            f"`works` is {bool(works)}, but {n_success} of {n_seeds} seeds reached 90 % accuracy "
            f"(works means at least {n_seeds - 1})"
        )
    verdict = "it works" if expected else "a longer warmup does not make this LR work"
    return f"{n_success} of {n_seeds} seeds reached 90 % accuracy with a {warmup}-step warmup: {verdict}."
