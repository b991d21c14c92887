"""Checks for notebook 05's exercises (costs and thresholds, random AUPRC, focal loss's alpha, LR sensitivity)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .checking import (
    Incorrect,
    exercise,
    expect_close,
    expect_equal,
    fmt,
    frame,
    integer,
    number,
    numbers_array,
)

COST_FP, COST_FN = 1.0, 50.0
MIN_SEEDS = 5  # the series' rule: no conclusion about training from fewer seeds
WINDOW = 0.05  # exercise 5: "near the best" means within this much median AUPRC
_SWEEP_AUPRC = "median_final_val_average_precision"


@exercise(
    "05.1",
    hint=(
        "bayes_threshold(cost_fp=1.0, cost_fn=10.0) is 1 / (1 + 10); "
        "threshold_for_cost(y_val, scores, cost_fp=1.0, cost_fn=10.0) chooses one on validation."
    ),
    solution='''\
ex1_bayes = bayes_threshold(cost_fp=1.0, cost_fn=10.0)
ex1_tuned = threshold_for_cost(y_val, val_scores["plain BCE"][0], cost_fp=1.0, cost_fn=10.0)
ex1_scores = test_scores["plain BCE"][0]
print(f"Bayes threshold 1 / (1 + 10) = {ex1_bayes:.4f}; chosen on validation: {ex1_tuned:.4f}")
ex["05.1"].check(ex1_bayes, ex1_tuned, y_val, val_scores["plain BCE"][0])
compare_models({
    "@ 0.5": (y_test, ex1_scores, 0.5),
    "@ Bayes": (y_test, ex1_scores, ex1_bayes),
    "@ validation threshold": (y_test, ex1_scores, ex1_tuned),
}, cost_fp=1.0, cost_fn=10.0)[["threshold", "recall", "precision", "fp", "fn", "cost"]].round(3)''',
)
def thresholds_for_cheaper_misses(bayes, validation_threshold, y_val, scores):
    from ..metrics import threshold_for_cost

    got = number("bayes", bayes)
    if math.isclose(got, 1 / 51, rel_tol=1e-6):
        raise Incorrect("`bayes` is 1 / 51, the threshold for c_FN = 50; here a miss costs 10")
    expect_close("bayes", got, 1 / 11, rel=1e-6)
    expected = threshold_for_cost(y_val, scores, cost_fp=1.0, cost_fn=10.0)
    expect_close("validation_threshold", number("validation_threshold", validation_threshold), expected, rel=1e-9)
    return f"Bayes {fmt(1 / 11)}, chosen on validation {fmt(expected)}."


@exercise(
    "05.2",
    hint=(
        "cost = c_FP * FP + c_FN * FN. Keep FP, set the cost to half and solve for FN; round "
        "down, since you cannot miss part of a fraud. Recall = 1 - FN / (number of frauds)."
    ),
    solution='''\
ex2 = compare_models({"tuned": (y_test, test_scores["plain BCE"][0], chosen["plain BCE"][0])},
                     cost_fp=COST_FP, cost_fn=COST_FN).iloc[0]
ex2_n_fraud = int(y_test.sum())
ex2_max_fn = math.floor((ex2["cost"] / 2 - COST_FP * ex2["fp"]) / COST_FN)
ex2_recall_needed = 1 - ex2_max_fn / ex2_n_fraud
ex2_near_share = (is_fraud & near_home).sum() / is_fraud.sum()
ex2_near_recall = by_group.iloc[0, 0]
# Best case without better data: every far-from-home fraud caught, near-home recall unchanged.
ex2_ceiling = 1 - ex2_near_share * (1 - ex2_near_recall)
print(f"now: cost {ex2['cost']:,.0f} = {ex2['fp']:.0f} FP + {COST_FN:g} x {ex2['fn']:.0f} FN, recall {ex2['recall']:.2f}")
print(f"half the cost allows at most {ex2_max_fn} missed frauds -> recall >= {ex2_recall_needed:.2f}")
print(f"but {ex2_near_share:.0%} of the test frauds are near home, and the model catches only "
      f"{ex2_near_recall:.0%} of those: even catching every far-from-home fraud gives recall {ex2_ceiling:.2f}")
ex["05.2"].check(ex2_max_fn, ex2_recall_needed, y_test, test_scores["plain BCE"][0], chosen["plain BCE"][0])''',
)
def halving_the_cost(max_missed, recall_needed, y_test, scores, threshold):
    from ..metrics import classification_metrics

    counts = classification_metrics(y_test, scores, threshold=threshold)
    cost = COST_FP * counts["fp"] + COST_FN * counts["fn"]
    n_fraud = int(np.sum(np.asarray(y_test)))
    exact = (cost / 2 - COST_FP * counts["fp"]) / COST_FN
    right = math.floor(exact)
    got = integer("max_missed", max_missed)
    if got == math.ceil(exact) and got != right:
        raise Incorrect(f"`max_missed` is {got}: {fmt(exact)} rounds *down*, or the cost is above half")
    expect_equal("max_missed", got, right)
    expect_close("recall_needed", number("recall_needed", recall_needed), 1 - right / n_fraud, rel=1e-6)
    return (
        f"cost {fmt(cost)} now; at most {right} of {n_fraud} frauds missed, i.e. recall >= "
        f"{fmt(1 - right / n_fraud)}."
    )


@exercise(
    "05.3",
    hint=(
        "rng = np.random.default_rng(0); rng.random(len(y_val)) is one set of random scores; "
        "classification_metrics(y_val, scores)['average_precision'] is its AUPRC."
    ),
    solution='''\
ex3_rng = np.random.default_rng(0)
ex3_ap = [classification_metrics(y_val, ex3_rng.random(len(y_val)))["average_precision"] for _ in range(5)]
print(f"base rate {y_val.mean():.4f}; AUPRC of random scores: " + ", ".join(f"{ap:.4f}" for ap in ex3_ap))
ex["05.3"].check(ex3_ap, y_val)''',
)
def random_scores_auprc(ap_values, y_val):
    values = numbers_array("ap_values", ap_values)
    if len(values) != 5:
        raise Incorrect(f"`ap_values` should hold five AUPRCs (five sets of random scores), it holds {len(values)}")
    if np.any((values < 0) | (values > 1)):
        raise Incorrect(f"`ap_values` should lie in [0, 1]: got {[fmt(v) for v in values]}")
    if np.ptp(values) == 0:
        raise Incorrect(f"the five `ap_values` are all {fmt(values[0])}: draw new random scores for each set")
    base_rate = float(np.mean(np.asarray(y_val, dtype=float)))
    mean = float(values.mean())
    # With a few dozen frauds one draw scatters a lot around the base rate (a single early
    # fraud lifts it several-fold), so only an average far away means the scores were not random.
    low, high = base_rate / 3, base_rate + max(0.05, 3 * base_rate)
    if not low <= mean <= high:
        raise Incorrect(
            f"random scores should give an AUPRC near the base rate {fmt(base_rate)}; your "
            f"`ap_values` average {fmt(mean)}. Are the scores uniform random numbers, one per "
            "validation row, rather than a model's scores?"
        )
    return (
        f"mean AUPRC {fmt(mean)} vs base rate {fmt(base_rate)}: a random model's AUPRC is about "
        "the base rate, and single draws scatter around it."
    )


@exercise(
    "05.4",
    hint=(
        'approaches["focal α=0.25 γ=2"].replace(focal_alpha=0.75) changes only alpha; '
        "summarize_runs(run_seeds(config, SEEDS)) trains every seed at once and has one row per "
        "seed, with the column final_val_recall."
    ),
    solution='''\
ex4_config = approaches["focal α=0.25 γ=2"].replace(focal_alpha=0.75)
ex4_recall = summarize_runs(run_seeds(ex4_config, SEEDS))["final_val_recall"].to_numpy()
ex4_low = np.array([h.final_metrics["val_recall"] for _, h in trained["focal α=0.25 γ=2"]])
print(pd.DataFrame({"alpha = 0.25": ex4_low, "alpha = 0.75": ex4_recall}, index=pd.Index(SEEDS, name="seed")).round(3))
print(f"alpha = 0.75 catches more validation frauds at 0.5 on {(ex4_recall > ex4_low).sum()} of {len(ex4_low)} seeds "
      f"(fewer on {(ex4_recall < ex4_low).sum()}); median recall {np.median(ex4_low):.3f} -> {np.median(ex4_recall):.3f}")
ex["05.4"].check(ex4_config, ex4_recall, approaches["focal α=0.25 γ=2"])''',
)
def focal_alpha_for_frauds(config, recall_by_seed, reference):
    from ..experiments import RunConfig

    if not isinstance(config, RunConfig):
        raise Incorrect(f"`config` should be a RunConfig, got a {type(config).__name__}")
    expect_close("config.focal_alpha", number("config.focal_alpha", config.focal_alpha), 0.75)
    changed = [
        f.name
        for f in dataclasses.fields(RunConfig)
        if f.init
        and f.name != "focal_alpha"
        and getattr(config, f.name) is not getattr(reference, f.name)
        and getattr(config, f.name) != getattr(reference, f.name)
    ]
    if changed:
        raise Incorrect(f"`config` also changes {changed}; change only focal_alpha, so the comparison is fair")
    recall = numbers_array("recall_by_seed", recall_by_seed)
    if len(recall) < MIN_SEEDS:
        raise Incorrect(
            f"`recall_by_seed` holds {len(recall)} value(s); give one recall per seed, at least "
            f"{MIN_SEEDS}: a single seed can point either way"
        )
    if np.any((recall < 0) | (recall > 1)):
        raise Incorrect(f"`recall_by_seed` should lie in [0, 1] (a share of frauds caught): got {[fmt(v) for v in recall]}")
    return (
        f"only alpha changed, over {len(recall)} seeds (median recall {fmt(float(np.median(recall)))}): "
        "a fair comparison with the alpha = 0.25 runs."
    )


@exercise(
    "05.5",
    hint=(
        'sensitivity.pivot(index="peak_lr", columns="warmup_steps", '
        'values="median_final_val_average_precision") has one column per condition (0 = no warmup). '
        "Compare each column with its own .max() - 0.05 and take the largest peak_lr that passes."
    ),
    solution='''\
ex5_auprc = sensitivity.pivot(index="peak_lr", columns="warmup_steps", values="median_final_val_average_precision")
ex5_near_best = ex5_auprc >= ex5_auprc.max() - 0.05  # per column: within 0.05 of that condition's best
ex5_largest_without = ex5_near_best.index[ex5_near_best[0]].max()
ex5_largest_with = ex5_near_best.index[ex5_near_best[WARMUP_STEPS]].max()
print(ex5_auprc.round(3))
print(f"within 0.05 of the best: up to {ex5_largest_without:g} without warmup, up to {ex5_largest_with:g} with it")
ex["05.5"].check(ex5_largest_without, ex5_largest_with, sensitivity)''',
)
def widest_learning_rates(largest_without, largest_with, table):
    got_without = number("largest_without", largest_without)
    got_with = number("largest_with", largest_with)
    table = frame("table", table, ("peak_lr", "warmup_steps", _SWEEP_AUPRC))
    auprc = table.pivot(index="peak_lr", columns="warmup_steps", values=_SWEEP_AUPRC)
    if 0 not in auprc.columns or len(auprc.columns) < 2:
        raise Incorrect(
            f"`table` should hold runs without warmup (warmup_steps 0) and with it; it holds warmup_steps "
            f"{sorted(auprc.columns.tolist())}. Pass the table sweep returned"
        )
    best_lr = auprc.idxmax()
    near_best = auprc >= auprc.max() - WINDOW
    expected = {w: float(near_best.index[near_best[w]].max()) for w in auprc.columns}
    warmup = max(auprc.columns)
    for name, got, w in (("largest_without", got_without, 0), ("largest_with", got_with, warmup)):
        if math.isclose(got, expected[w], rel_tol=1e-9):
            continue
        if math.isclose(got, float(best_lr[w]), rel_tol=1e-9):
            raise Incorrect(
                f"`{name}` is {fmt(got)}, the peak LR with the *best* median AUPRC; the question asks "
                f"for the largest peak LR within {fmt(WINDOW)} of that best"
            )
        raise Incorrect(f"`{name}` is {fmt(got)}, expected {fmt(expected[w])}")
    return (
        f"within {fmt(WINDOW)} of the best median AUPRC up to {fmt(expected[0])} without warmup and "
        f"up to {fmt(expected[warmup])} with it."
    )
