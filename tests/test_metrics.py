"""Tests for warmup_lib.metrics: checked against direct scikit-learn calls and hand-worked examples."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from warmup_lib.metrics import (
    base_rate,
    bayes_threshold,
    binary_counts,
    calibration,
    classification_metrics,
    compare_models,
    confusion,
    cost_curve,
    expected_cost,
    pr_curve,
    threshold_for_cost,
    threshold_for_recall,
)

torch.set_num_threads(1)

# Ten samples where everything can be worked out by hand. Sorted by score:
# 0.05 0.10 0.15 0.20 0.30 0.35+ 0.40 0.60 0.70+ 0.90+   (+ = fraud)
Y_TEN = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
S_TEN = np.array([0.05, 0.10, 0.15, 0.20, 0.30, 0.40, 0.60, 0.35, 0.70, 0.90])


def imbalanced(n: int = 2000, rate: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < rate).astype(int)
    scores = np.clip(0.1 + 0.4 * labels + 0.2 * rng.standard_normal(n), 0.0, 1.0)
    return labels, scores


# ------------------------------------------------------------------------------------ confusion


def test_confusion_is_sklearns_matrix_with_labels() -> None:
    labels, scores = imbalanced()
    predicted = (scores >= 0.5).astype(int)
    table = confusion(labels, predicted)
    np.testing.assert_array_equal(table.to_numpy(), confusion_matrix(labels, predicted))
    assert list(table.index) == ["actual 0", "actual 1"]
    assert list(table.columns) == ["predicted 0", "predicted 1"]
    named = confusion(labels, predicted, class_names=["legit", "fraud"])
    assert named.loc["actual fraud", "predicted legit"] == binary_counts(labels, predicted)["fn"]


def test_confusion_multiclass_and_explicit_labels() -> None:
    truth = ["cat", "dog", "dog", "bird"]
    predicted = ["cat", "cat", "dog", "dog"]
    table = confusion(truth, predicted, labels=["dog", "cat", "bird"])
    assert list(table.index) == ["actual dog", "actual cat", "actual bird"]
    assert table.loc["actual dog", "predicted cat"] == 1
    assert table.to_numpy().sum() == 4
    with pytest.raises(ValueError, match="class_names"):
        confusion(truth, predicted, class_names=["a", "b"])
    with pytest.raises(ValueError, match="y_pred"):
        confusion(truth, predicted[:3])


def test_binary_counts_by_hand() -> None:
    counts = binary_counts([0, 0, 1, 1, 1], [0, 1, 0, 1, 1])
    assert counts == {"tn": 1, "fp": 1, "fn": 1, "tp": 2}
    assert binary_counts(torch.tensor([1.0, 0.0]), np.array([True, False])) == {
        "tn": 1,
        "fp": 0,
        "fn": 0,
        "tp": 1,
    }


# ------------------------------------------------------------------------------------ headline metrics


def test_classification_metrics_match_sklearn_for_scores() -> None:
    labels, scores = imbalanced()
    result = classification_metrics(labels, scores, threshold=0.4)
    predicted = (scores >= 0.4).astype(int)
    assert result["precision"] == pytest.approx(precision_score(labels, predicted))
    assert result["recall"] == pytest.approx(recall_score(labels, predicted))
    assert result["f1"] == pytest.approx(f1_score(labels, predicted))
    assert result["average_precision"] == pytest.approx(average_precision_score(labels, scores))
    assert result["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert result["base_rate"] == pytest.approx(labels.mean())
    assert result["tp"] + result["fn"] == labels.sum()
    assert result["threshold"] == 0.4


def test_hard_predictions_get_no_ranking_metrics() -> None:
    result = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0])
    assert result["accuracy"] == 0.75 and result["recall"] == 0.5 and result["precision"] == 1.0
    assert "average_precision" not in result and "threshold" not in result


def test_the_accuracy_trap() -> None:
    labels = np.zeros(1000, dtype=int)
    labels[:5] = 1  # 0.5 % fraud
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division=0: no UndefinedMetricWarning
        result = classification_metrics(labels, np.zeros(1000, dtype=int))
    assert result["accuracy"] == pytest.approx(0.995)
    assert result["recall"] == 0.0 and result["precision"] == 0.0 and result["f1"] == 0.0
    assert result["fn"] == 5


def test_ranking_metrics_are_nan_with_one_class() -> None:
    result = classification_metrics([0, 0, 0], [0.1, 0.7, 0.3])
    assert math.isnan(result["average_precision"]) and math.isnan(result["roc_auc"])
    assert result["fp"] == 1


def test_base_rate() -> None:
    assert base_rate([0, 0, 0, 1]) == 0.25
    assert base_rate(pd.Series([True, False])) == 0.5


# ------------------------------------------------------------------------------------ costs


def test_bayes_threshold() -> None:
    assert bayes_threshold(1.0, 50.0) == pytest.approx(1 / 51)
    assert bayes_threshold(1.0, 50.0) == pytest.approx(0.0196, abs=1e-4)
    assert bayes_threshold(1.0, 1.0) == 0.5
    with pytest.raises(ValueError, match="cost_fn"):
        bayes_threshold(1.0, 0.0)
    with pytest.raises(ValueError, match="cost_fp"):
        bayes_threshold(-1.0, 5.0)


def test_expected_cost_by_hand() -> None:
    truth = [0, 0, 1, 1, 1]
    predicted = [1, 0, 0, 0, 1]  # one false alarm, two misses
    assert expected_cost(truth, predicted, cost_fp=1.0, cost_fn=50.0) == 101.0
    assert expected_cost(
        truth, predicted, cost_fp=2.0, cost_fn=3.0, per_sample=True
    ) == pytest.approx(8 / 5)
    with pytest.raises(TypeError, match="per_sample"):
        expected_cost(truth, predicted, per_sample="yes")


def test_threshold_for_cost_ten_samples_by_hand() -> None:
    # cost_fn = 5 * cost_fp. Threshold 0.35 flags 0.35+, 0.40, 0.60, 0.70+, 0.90+: FP 2, FN 0, cost 2.
    # 0.70: FN 1 (cost 5); 0.60: FP 1 FN 1 (cost 6); 0.30: FP 3 (cost 3). So 0.35 is optimal.
    assert threshold_for_cost(Y_TEN, S_TEN, cost_fp=1.0, cost_fn=5.0) == 0.35
    # When a miss costs little, fewer alarms win: 0.70 flags the two top frauds only (cost 0.5).
    assert threshold_for_cost(Y_TEN, S_TEN, cost_fp=1.0, cost_fn=0.5) == 0.70
    # When a false alarm costs a fortune and a negative outranks every fraud, flag nothing.
    assert threshold_for_cost([1, 0], [0.2, 0.8], cost_fp=100.0, cost_fn=1.0) == math.inf


def test_threshold_for_cost_breaks_ties_towards_fewer_alarms() -> None:
    # Threshold 0.8 (FN 1) and 0.2 (FP 1) both cost 1, 0.5 and inf cost 2: the higher is returned.
    assert threshold_for_cost([1, 0, 1], [0.2, 0.5, 0.8], cost_fp=1.0, cost_fn=1.0) == 0.8


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.floats(0.0, 1.0)), min_size=2, max_size=40),
    st.floats(0.1, 100.0),
)
def test_threshold_for_cost_is_the_brute_force_minimum(samples: list, cost_fn: float) -> None:
    labels = np.array([label for label, _ in samples])
    scores = np.array([score for _, score in samples])
    if labels.min() == labels.max():
        labels[0] = 1 - labels[0]
    best = threshold_for_cost(labels, scores, cost_fp=1.0, cost_fn=cost_fn)
    candidates = np.r_[np.unique(scores), np.inf]
    costs = [expected_cost(labels, (scores >= t).astype(int), 1.0, cost_fn) for t in candidates]
    assert expected_cost(labels, (scores >= best).astype(int), 1.0, cost_fn) == pytest.approx(
        min(costs)
    )


def test_threshold_for_recall_by_hand() -> None:
    # Fraud scores are 0.90, 0.70, 0.35.
    assert threshold_for_recall(Y_TEN, S_TEN, target_recall=1 / 3) == 0.90
    assert threshold_for_recall(Y_TEN, S_TEN, target_recall=0.5) == 0.70
    assert threshold_for_recall(Y_TEN, S_TEN, target_recall=2 / 3) == 0.70
    assert threshold_for_recall(Y_TEN, S_TEN, target_recall=1.0) == 0.35


@pytest.mark.parametrize("target", [0.2, 0.5, 0.8, 0.95, 1.0])
def test_threshold_for_recall_is_the_highest_that_reaches_the_target(target: float) -> None:
    labels, scores = imbalanced()
    threshold = threshold_for_recall(labels, scores, target_recall=target)
    assert recall_score(labels, scores >= threshold) >= target
    higher = np.unique(scores[scores > threshold])
    if higher.size:
        assert recall_score(labels, scores >= higher[0]) < target


def test_cost_curve_agrees_with_expected_cost() -> None:
    curve = cost_curve(Y_TEN, S_TEN, cost_fp=1.0, cost_fn=5.0)
    assert list(curve.columns) == [
        "threshold",
        "cost",
        "precision",
        "recall",
        "tp",
        "fp",
        "fn",
        "tn",
    ]
    assert curve["threshold"].tolist() == sorted(S_TEN.tolist())
    for row in curve.itertuples():
        predicted = (S_TEN >= row.threshold).astype(int)
        assert row.cost == expected_cost(Y_TEN, predicted, 1.0, 5.0)
        assert row.precision == pytest.approx(precision_score(Y_TEN, predicted, zero_division=0))
        assert row.recall == pytest.approx(recall_score(Y_TEN, predicted))
    best = curve.loc[curve["cost"].idxmin(), "threshold"]
    assert best == threshold_for_cost(Y_TEN, S_TEN, cost_fp=1.0, cost_fn=5.0)


def test_cost_curve_on_a_grid() -> None:
    curve = cost_curve(Y_TEN, S_TEN, 1.0, 50.0, thresholds=[1.0, 0.0, 0.5])
    assert curve["threshold"].tolist() == [0.0, 0.5, 1.0]
    assert curve.iloc[0][["tp", "fp"]].tolist() == [3, 7]
    assert curve.iloc[2]["precision"] == 0.0  # nothing flagged
    assert curve.iloc[2]["cost"] == 150.0


# ------------------------------------------------------------------------------------ curves


def test_pr_curve_wraps_sklearn() -> None:
    labels, scores = imbalanced()
    curve = pr_curve(labels, scores)
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    np.testing.assert_allclose(curve["precision"], precision)
    np.testing.assert_allclose(curve["recall"], recall)
    np.testing.assert_allclose(curve["threshold"].iloc[:-1], thresholds)
    assert math.isnan(curve["threshold"].iloc[-1])


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_calibration_wraps_sklearn_and_counts_samples(strategy: str) -> None:
    labels, scores = imbalanced(seed=2)
    table = calibration(labels, scores, n_bins=8, strategy=strategy)
    fraction, mean_predicted = calibration_curve(labels, scores, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(table["fraction_positive"], fraction)
    np.testing.assert_allclose(table["mean_predicted"], mean_predicted)
    assert table["count"].sum() == len(labels)
    assert (table["count"] > 0).all()


def test_calibration_rejects_non_probabilities_and_bad_options() -> None:
    with pytest.raises(ValueError, match="probs"):
        calibration([0, 1], [-2.0, 3.0])
    with pytest.raises(ValueError, match="strategy"):
        calibration([0, 1], [0.2, 0.8], strategy="kmeans")
    with pytest.raises(ValueError, match="n_bins"):
        calibration([0, 1], [0.2, 0.8], n_bins=0)


# ------------------------------------------------------------------------------------ comparison


def test_compare_models_table() -> None:
    labels, scores = imbalanced()
    cheap = threshold_for_cost(labels, scores, cost_fp=1.0, cost_fn=50.0)
    table = compare_models(
        {"default 0.5": (labels, scores, 0.5), "cost-tuned": (labels, scores, cheap)}
    )
    assert list(table.index) == ["default 0.5", "cost-tuned"]
    assert {"threshold", "precision", "recall", "f1", "average_precision", "cost"} <= set(
        table.columns
    )
    assert table.loc["cost-tuned", "cost"] <= table.loc["default 0.5", "cost"]
    predicted = (scores >= 0.5).astype(int)
    assert table.loc["default 0.5", "cost"] == expected_cost(labels, predicted, 1.0, 50.0)
    with pytest.raises(TypeError, match="rows"):
        compare_models({})
    with pytest.raises(TypeError, match="rows"):
        compare_models({"a": (labels, scores)})


def test_a_real_model_tuned_for_cost_beats_the_default_threshold() -> None:
    rng = np.random.default_rng(0)
    n = 6000
    labels = (rng.random(n) < 0.02).astype(int)
    features = rng.standard_normal((n, 4)) + 1.2 * labels[:, None] * np.array([1.0, 0.5, 0.0, 0.0])
    train, val, test = slice(0, 3000), slice(3000, 4500), slice(4500, n)
    model = LogisticRegression().fit(features[train], labels[train])
    val_scores = model.predict_proba(features[val])[:, 1]
    test_scores = model.predict_proba(features[test])[:, 1]
    tuned = threshold_for_cost(labels[val], val_scores, cost_fp=1.0, cost_fn=50.0)
    assert tuned < 0.5
    default_cost = expected_cost(labels[test], (test_scores >= 0.5).astype(int), 1.0, 50.0)
    tuned_cost = expected_cost(labels[test], (test_scores >= tuned).astype(int), 1.0, 50.0)
    assert tuned_cost < default_cost
    # The default threshold looks excellent by accuracy and useless by recall.
    default = classification_metrics(labels[test], test_scores)
    assert default["accuracy"] > 0.97 and default["recall"] < 0.2


# ------------------------------------------------------------------------------------ bad input


def test_labels_must_be_zero_or_one_and_the_message_lists_them() -> None:
    with pytest.raises(ValueError, match=r"y_true must contain only 0 and 1, found 0, 1, 2"):
        classification_metrics([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"y_true .* NaN"):
        base_rate([0.0, np.nan])
    with pytest.raises(TypeError, match="y_true"):
        base_rate(["fraud", "legit"])
    with pytest.raises(ValueError, match="y_pred"):
        binary_counts([0, 1], [0, 5])


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: classification_metrics([0, 1], [0.5]), ValueError, "y_pred_or_scores"),
        (lambda: classification_metrics([0, 1], [0.5, np.nan]), ValueError, "y_pred_or_scores"),
        (
            lambda: classification_metrics([0, 1], [0.5, 0.2], threshold="high"),
            TypeError,
            "threshold",
        ),
        (lambda: classification_metrics(0, [0.5]), TypeError, "y_true"),
        (lambda: classification_metrics([], []), ValueError, "y_true"),
        (lambda: classification_metrics(np.zeros((2, 2)), [0.1, 0.2]), ValueError, "y_true"),
        (lambda: threshold_for_cost([0, 0], [0.1, 0.2]), ValueError, "y_true"),
        (lambda: threshold_for_cost([0, 1], [0.1, 0.2], cost_fn=0), ValueError, "cost_fn"),
        (lambda: threshold_for_cost([0, 1], [0.1, np.inf]), ValueError, "scores"),
        (
            lambda: threshold_for_recall([0, 1], [0.1, 0.2], target_recall=0.0),
            ValueError,
            "target_recall",
        ),
        (
            lambda: threshold_for_recall([0, 1], [0.1, 0.2], target_recall=1.5),
            ValueError,
            "target_recall",
        ),
        (lambda: threshold_for_recall([0, 0], [0.1, 0.2]), ValueError, "y_true"),
        (lambda: cost_curve([0, 1], [0.1, 0.2], thresholds=[np.nan]), ValueError, "thresholds"),
        (lambda: pr_curve([0, 0], [0.1, 0.2]), ValueError, "y_true"),
        (lambda: pr_curve([0, 1], "scores"), TypeError, "scores"),
        (lambda: expected_cost([0, 1], [0.3, 0.7]), ValueError, "y_pred"),
        (
            lambda: compare_models({"a": ([0, 1], [0.2, 0.6], 0.5)}, cost_fp=0.0),
            ValueError,
            "cost_fp",
        ),
    ],
)
def test_bad_input_names_the_argument(call, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        call()


def test_column_vectors_from_models_are_accepted() -> None:
    scores = torch.tensor([[0.2], [0.9], [0.4]])
    assert classification_metrics([0, 1, 0], scores)["accuracy"] == 1.0
