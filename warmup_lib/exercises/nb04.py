"""Checks for notebook 04's exercises (epoch tables, spikes in code, leakage, thresholds, suspect rows)."""

from __future__ import annotations

from collections.abc import Mapping

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

THRESHOLDS = (0.5, 0.2, 0.05)


def _epoch_table(run):
    import pandas as pd

    per_step = run if isinstance(run, pd.DataFrame) else run.to_frame()
    table = per_step.groupby("epoch").agg(train_loss=("train_loss", "mean"), val_loss=("val_loss", "last")).dropna()
    table["gap"] = table["val_loss"] - table["train_loss"]
    return table


@exercise(
    "04.1",
    hint=(
        "history.to_frame() has one row per step with an `epoch` column: group by it, average "
        "the training loss and take the last validation loss of each epoch (.dropna() drops "
        "epochs without one). The gap is val_loss - train_loss; .idxmin() finds the best epoch."
    ),
    solution='''\
ex1_frame = overfit_runs[0].to_frame()
ex1_table = ex1_frame.groupby("epoch").agg(train_loss=("train_loss", "mean"), val_loss=("val_loss", "last")).dropna()
ex1_table["gap"] = ex1_table["val_loss"] - ex1_table["train_loss"]
ex1_best = ex1_table["val_loss"].idxmin()
print(f"lowest validation loss in epoch {ex1_best}; gap there {ex1_table.loc[ex1_best, 'gap']:.3f}, "
      f"at the end {ex1_table['gap'].iloc[-1]:.3f}")
ex["04.1"].check(ex1_table, ex1_best, overfit_runs[0])
ex1_table.iloc[::4]''',
)
def epoch_table(table, best_epoch, run):
    mine = frame("table", table, columns=("train_loss", "val_loss", "gap"))
    expected = _epoch_table(run)
    missing = [epoch for epoch in expected.index if epoch not in mine.index]
    if missing:
        raise Incorrect(
            f"`table` has no row for epoch(s) {missing[:5]}; index it by epoch "
            "(groupby('epoch') does) with one row per epoch that has a validation loss"
        )
    for column in ("train_loss", "val_loss", "gap"):
        got = mine.loc[expected.index, column].to_numpy(dtype=float)
        wrong = np.flatnonzero(~np.isclose(got, expected[column].to_numpy(), rtol=1e-6, atol=1e-9))
        if wrong.size:
            epoch = expected.index[wrong[0]]
            raise Incorrect(
                f"`table['{column}']` in epoch {epoch} is {fmt(got[wrong[0]])}, expected "
                f"{fmt(expected[column].iloc[wrong[0]])}"
            )
    best = integer("best_epoch", best_epoch)
    expect_equal("best_epoch", best, int(expected["val_loss"].idxmin()))
    after = expected.loc[best:, "gap"]
    trend = "grows" if after.iloc[-1] > after.iloc[0] else "does not grow"
    return f"after epoch {best} the gap {trend}: {fmt(after.iloc[0])} there, {fmt(after.iloc[-1])} at the end."


@exercise(
    "04.2",
    hint="find_spikes(losses, window=1) compares each step with the step before it; len() of its table counts the spikes.",
    solution='''\
ex2_bad = [0.8, 1.2, 0.9]
ex2_good = np.linspace(0.8, 0.3, 8)
ex2_bad_spikes = find_spikes(ex2_bad, window=1)
ex2_good_spikes = find_spikes(ex2_good, window=1)
print(ex2_bad_spikes[["step", "baseline", "peak_loss", "size"]])
print("good curve, spikes found:", len(ex2_good_spikes))
print("bad: ", summarize_run(ex2_bad, spike_window=1))  # 'stalled': it ends above where it started
print("good:", summarize_run(ex2_good, spike_window=1))
ex["04.2"].check(ex2_bad_spikes, ex2_good_spikes)''',
)
def spikes_in_code(bad_spikes, good_spikes):
    bad = frame("bad_spikes", bad_spikes, columns=("step",))
    good = frame("good_spikes", good_spikes, columns=("step",))
    if len(bad) != 1 or int(bad["step"].iloc[0]) != 1:
        raise Incorrect(
            f"`bad_spikes` should hold one spike, at step 1 (the 1.2); it holds steps "
            f"{[int(s) for s in bad['step']]}. Did you pass window=1?"
        )
    if len(good):
        raise Incorrect(f"`good_spikes` should be empty for a steadily falling curve; it has {len(good)} row(s)")
    return "one spike at step 1 in the bad curve, none in the good one."


def _metric(name: str, metrics, key: str) -> float:
    if not isinstance(metrics, Mapping) and not hasattr(metrics, "index"):
        raise Incorrect(
            f"`{name}` should be what classification_metrics returns (a dict), got a {type(metrics).__name__}"
        )
    if key not in metrics:
        raise Incorrect(f"`{name}` has no '{key}'; pass the result of classification_metrics(...)")
    return number(f"{name}['{key}']", metrics[key])


@exercise(
    "04.3",
    hint=(
        "Copy leaky.X_test with .clone(), overwrite its last column with torch.randn(...), and "
        "call classification_metrics(leaky.y_test, model.predict_proba(X)) on both versions."
    ),
    solution='''\
ex3_model, _ = leaky_config.replace(schedule=wl.LinearWarmup(100)).fit(seed=0)
ex3_deployed = leaky.X_test.clone()
ex3_deployed[:, -1] = torch.randn(len(ex3_deployed), generator=torch.Generator().manual_seed(1))  # no chargeback yet
ex3_with_column = classification_metrics(leaky.y_test, ex3_model.predict_proba(leaky.X_test))
ex3_at_prediction_time = classification_metrics(leaky.y_test, ex3_model.predict_proba(ex3_deployed))
ex["04.3"].check(ex3_with_column, ex3_at_prediction_time)
ex3_results = pd.DataFrame({
    "test, leaky column present": ex3_with_column,
    "test, as at prediction time": ex3_at_prediction_time,
})
ex3_results.loc[["average_precision", "precision", "recall", "accuracy"]]''',
)
def leak_at_prediction_time(with_column, at_prediction_time):
    before = _metric("with_column", with_column, "average_precision")
    after = _metric("at_prediction_time", at_prediction_time, "average_precision")
    if before == after:
        raise Incorrect(
            f"`with_column` and `at_prediction_time` both give average precision {fmt(before)}: did you replace the last "
            "column of a *copy* of X_test (.clone()) before the second one?"
        )
    if after > before:
        raise Incorrect(
            f"average precision is higher without the leaky column ({fmt(after)} vs {fmt(before)}): "
            "check that the first evaluation uses the stored test split"
        )
    recall_before = _metric("with_column", with_column, "recall")
    recall_after = _metric("at_prediction_time", at_prediction_time, "recall")
    return (
        f"average precision {fmt(before)} -> {fmt(after)}, recall {fmt(recall_before)} -> "
        f"{fmt(recall_after)} once the leak is gone."
    )


@exercise(
    "04.4",
    hint=(
        "classification_metrics(fraud.y_val, fraud_scores, threshold=t) for each t; put the "
        "three dicts in a pd.DataFrame (one column per threshold, in the order 0.5, 0.2, 0.05)."
    ),
    solution='''\
ex4_table = pd.DataFrame({
    f"threshold {t}": classification_metrics(fraud.y_val, fraud_scores, threshold=t) for t in (0.5, 0.2, 0.05)
}).loc[["precision", "recall", "f1", "fp", "fn"]]
ex["04.4"].check(ex4_table, fraud.y_val, fraud_scores)
ex4_table''',
)
def thresholds_move_precision_and_recall(table, y_true, scores):
    from ..metrics import classification_metrics

    mine = frame("table", table)
    if mine.shape[1] != len(THRESHOLDS):
        raise Incorrect(f"`table` should have {len(THRESHOLDS)} columns (thresholds 0.5, 0.2, 0.05), it has {mine.shape[1]}")
    for row in ("precision", "recall"):
        if row not in mine.index:
            raise Incorrect(f"`table` has no row '{row}'; its rows are {list(mine.index)}")
    for position, threshold in enumerate(THRESHOLDS):
        expected = classification_metrics(y_true, scores, threshold=threshold)
        for row in ("precision", "recall"):
            got = number(f"table.loc['{row}'] at threshold {threshold}", mine.loc[row].iloc[position])
            expect_close(f"{row} at threshold {threshold}", got, expected[row], rel=1e-6, abs=1e-9)
    recalls = [fmt(v) for v in mine.loc["recall"]]
    precisions = [fmt(v) for v in mine.loc["precision"]]
    return f"lower thresholds: recall {' -> '.join(recalls)}, precision {' -> '.join(precisions)}."


SPIKE_BATCH_SIZE = 64  # the batch size of notebook 04's section 3 runs


def _biggest_spike_batch(data, spikes):
    from ..training import batch_rows

    table = frame("spikes", spikes, columns=("seed", "step", "peak loss"))
    if table.empty:
        raise Incorrect("`spikes` has no rows: pass the spike table of section 3 (data_spikes)")
    biggest = table.loc[table["peak loss"].idxmax()]
    seed, step = int(biggest["seed"]), int(biggest["step"])
    rows = batch_rows(data, step + 1, seed, batch_size=SPIKE_BATCH_SIZE)[step]
    return seed, step, rows


@exercise(
    "04.5",
    hint=(
        "data_spikes['peak loss'].idxmax() picks the biggest spike; batch_rows(broken, step + 1, seed, "
        "batch_size=64)[step] holds its rows. torch.linalg.vector_norm(broken.X_train[rows], dim=1) "
        "gives one norm per row; rows[norms.argmax()] is the one that stands out."
    ),
    solution='''\
ex5_spike = data_spikes.loc[data_spikes["peak loss"].idxmax()]
ex5_seed, ex5_step = int(ex5_spike["seed"]), int(ex5_spike["step"])
ex5_batch = batch_rows(broken, ex5_step + 1, ex5_seed, batch_size=64)[ex5_step]
ex5_norms = torch.linalg.vector_norm(broken.X_train[ex5_batch], dim=1)
ex5_suspect = int(ex5_batch[ex5_norms.argmax()])
print(f"biggest spike: seed {ex5_seed}, step {ex5_step}; row norms in its batch: median {ex5_norms.median():.1f}, "
      f"largest {ex5_norms.max():.1f} (row {ex5_suspect})")
ex["04.5"].check(ex5_batch, ex5_suspect, broken, data_spikes)''',
)
def suspect_in_the_spike_batch(batch, suspect, data, spikes):
    import torch

    mine = numbers_array("batch", batch)
    seed, step, rows = _biggest_spike_batch(data, spikes)
    expected = rows.tolist()
    if len(mine) != len(expected) or sorted(int(r) for r in mine) != sorted(expected):
        extra = sorted(set(int(r) for r in mine) - set(expected))[:5]
        raise Incorrect(
            f"`batch` should hold the {len(expected)} rows that step {step} of seed {seed} read "
            f"(batch_rows(data, {step + 1}, {seed}, batch_size={SPIKE_BATCH_SIZE})[{step}]); it holds "
            f"{len(mine)} rows" + (f", among them {extra} that step did not read" if extra else "")
        )
    row = integer("suspect", suspect)
    norms = torch.linalg.vector_norm(data.X_train[rows], dim=1)
    largest = int(rows[int(norms.argmax())])
    if row != largest:
        mine_norm = fmt(float(torch.linalg.vector_norm(data.X_train[row]))) if 0 <= row < len(data.X_train) else "none"
        raise Incorrect(
            f"`suspect` is row {row} (feature norm {mine_norm}); the largest norm in that batch is row "
            f"{largest}'s, {fmt(float(norms.max()))} (the batch's median is {fmt(float(norms.median()))})"
        )
    corrupted = set(data.info.get("corrupted_rows", {}).get("rows", []))
    verdict = "one of the corrupted rows" if row in corrupted else "not one of the corrupted rows"
    return (
        f"row {row} has feature norm {fmt(float(norms.max()))}, the batch's median row "
        f"{fmt(float(norms.median()))}: it is {verdict}."
    )
