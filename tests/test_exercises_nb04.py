"""Notebook 04's exercise checks: right, wrong, stub and hostile answers."""

import numpy as np
import pandas as pd
import torch
from exercise_cases import Case, contract_tests

from warmup_lib.diagnostics import find_spikes
from warmup_lib.metrics import classification_metrics


def _run() -> pd.DataFrame:
    steps = np.arange(60)
    train = np.exp(-steps / 20)
    val = np.where(steps % 3 == 2, 0.3 + (steps / 60 - 0.4) ** 2, np.nan)
    return pd.DataFrame({"step": steps, "epoch": steps // 3, "train_loss": train, "val_loss": val})


def _epoch_case() -> Case:
    run = _run()
    table = run.groupby("epoch").agg(train_loss=("train_loss", "mean"), val_loss=("val_loss", "last")).dropna()
    table["gap"] = table["val_loss"] - table["train_loss"]
    best = table["val_loss"].idxmin()
    return Case(right=(table, best, run), wrong=(table.assign(gap=-table["gap"]), best, run))


def _threshold_case() -> Case:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(int)
    scores = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    table = pd.DataFrame({
        f"threshold {t}": classification_metrics(y, scores, threshold=t) for t in (0.5, 0.2, 0.05)
    }).loc[["precision", "recall", "f1", "fp", "fn"]]
    return Case(right=(table, y, scores), wrong=(table.iloc[:, ::-1], y, scores))


def _spike_batch_case() -> Case:
    from warmup_lib.data import corrupt_rows, load_digits
    from warmup_lib.training import batch_rows

    broken = corrupt_rows(load_digits(), n_rows=4, feature_scale=10.0, seed=0)
    spikes = pd.DataFrame({"seed": [0, 2], "step": [5, 30], "peak loss": [0.9, 1.7]})
    batch = batch_rows(broken, 31, 2, batch_size=64)[30]
    suspect = int(batch[torch.linalg.vector_norm(broken.X_train[batch], dim=1).argmax()])
    other = int(batch[0]) if int(batch[0]) != suspect else int(batch[1])
    return Case(right=(batch, suspect, broken, spikes), wrong=(batch, other, broken, spikes))


_LEAKY = {"average_precision": 0.95, "recall": 0.9}
_DEPLOYED = {"average_precision": 0.2, "recall": 0.1}

CASES = {
    "04.1": _epoch_case,
    "04.2": lambda: Case(
        right=(find_spikes([0.8, 1.2, 0.9], window=1), find_spikes(np.linspace(0.8, 0.3, 8), window=1)),
        wrong=(find_spikes([0.8, 1.2, 0.9]), find_spikes(np.linspace(0.8, 0.3, 8), window=1)),
    ),
    "04.3": lambda: Case(right=(_LEAKY, _DEPLOYED), wrong=(_LEAKY, _LEAKY)),
    "04.4": _threshold_case,
    "04.5": _spike_batch_case,
}

(
    test_right_answer_is_correct,
    test_wrong_answer_says_what_differs,
    test_unfilled_stub_is_reported,
    test_any_first_answer_gives_a_sentence_not_a_traceback,
) = contract_tests(CASES)



def test_spike_batch_check_names_the_batch_when_it_is_wrong():
    from warmup_lib.exercises import ex

    batch, suspect, broken, spikes = _spike_batch_case().right
    outcome = ex["04.5"].evaluate(batch[:10], suspect, broken, spikes)
    assert outcome.status == "incorrect" and "step 30 of seed 2" in outcome.message
