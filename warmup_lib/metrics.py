"""Classification metrics for imbalanced problems: confusion tables, PR curves, costs, thresholds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from ._coerce import as_1d, as_binary_labels, as_scores, same_length
from ._validation import check_choice, check_float, check_int

__all__ = [
    "base_rate",
    "bayes_threshold",
    "binary_counts",
    "calibration",
    "classification_metrics",
    "compare_models",
    "confusion",
    "cost_curve",
    "expected_cost",
    "pr_curve",
    "threshold_for_cost",
    "threshold_for_recall",
]


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _both_classes(name: str, y_true: np.ndarray) -> None:
    if y_true.min() == y_true.max():
        raise ValueError(
            f"{name} must contain both classes (0 and 1) to choose a threshold, "
            f"found only {int(y_true[0])}"
        )


def _costs(cost_fp: Any, cost_fn: Any) -> tuple[float, float]:
    return (
        check_float("cost_fp", cost_fp, min_value=0.0, min_open=True),
        check_float("cost_fn", cost_fn, min_value=0.0, min_open=True),
    )


def _is_hard(array: np.ndarray) -> bool:
    return bool(np.isin(array, [0, 1]).all())


# --------------------------------------------------------------------------------------------
# Confusion tables and headline metrics
# --------------------------------------------------------------------------------------------


def confusion(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Confusion matrix as a labelled table: rows ``actual <class>``, columns ``predicted <class>``.

    Wraps :func:`sklearn.metrics.confusion_matrix` (entry ``[i, j]`` counts samples of class ``i``
    predicted as ``j``). Works for any number of classes.

    Args:
        y_true, y_pred: true and predicted class labels, same length.
        labels: which classes, in which order (default: every class seen, sorted).
        class_names: display names for ``labels``, e.g. ``("legit", "fraud")``.
    """
    truth = as_1d("y_true", y_true)
    predicted = as_1d("y_pred", y_pred)
    same_length(y_true=truth, y_pred=predicted)
    if labels is None:
        labels = np.unique(np.concatenate([truth, predicted]))
    labels = list(labels)
    if not labels:
        raise ValueError("labels must name at least one class")
    if class_names is None:
        class_names = [str(label) for label in labels]
    elif isinstance(class_names, str) or len(class_names) != len(labels):
        raise ValueError(
            f"class_names must give one name per class ({len(labels)}: {labels}), got {class_names!r}"
        )
    matrix = confusion_matrix(truth, predicted, labels=labels)
    return pd.DataFrame(
        matrix,
        index=pd.Index([f"actual {name}" for name in class_names]),
        columns=pd.Index([f"predicted {name}" for name in class_names]),
    )


def binary_counts(y_true: Any, y_pred: Any) -> dict[str, int]:
    """Return ``{"tn", "fp", "fn", "tp"}`` for 0/1 labels (via sklearn's ``confusion_matrix``)."""
    truth = as_binary_labels("y_true", y_true)
    predicted = as_binary_labels("y_pred", y_pred)
    same_length(y_true=truth, y_pred=predicted)
    tn, fp, fn, tp = confusion_matrix(truth, predicted, labels=[0, 1]).ravel()
    return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


def classification_metrics(
    y_true: Any, y_pred_or_scores: Any, threshold: float = 0.5
) -> dict[str, float]:
    """Accuracy, precision, recall and F1 (and, for scores, AUPRC and ROC AUC) for a binary task.

    If every value of ``y_pred_or_scores`` is 0 or 1 it is taken as hard predictions. Otherwise it
    is a score (probability or logit) and a sample is predicted positive when
    ``score >= threshold``; then ``average_precision`` (area under the precision-recall curve,
    the metric to watch on imbalanced data) and ``roc_auc`` are added (NaN when ``y_true`` has only
    one class). Precision and F1 use ``zero_division=0``: a model that never predicts positive
    gets precision 0, not a warning.

    The accuracy trap: on 0.5 % positives, predicting "negative" for everything scores 0.995
    accuracy and 0 recall. Always read recall and precision next to accuracy.

    Returns:
        ``accuracy, precision, recall, f1, tn, fp, fn, tp, base_rate`` plus, for scores,
        ``threshold, average_precision, roc_auc``.
    """
    truth = as_binary_labels("y_true", y_true)
    values = as_scores("y_pred_or_scores", y_pred_or_scores)
    same_length(y_true=truth, y_pred_or_scores=values)
    threshold = check_float("threshold", threshold)
    hard = _is_hard(values)
    predicted = values.astype(int) if hard else (values >= threshold).astype(int)

    result: dict[str, float] = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision_score(truth, predicted, zero_division=0)),
        "recall": float(recall_score(truth, predicted, zero_division=0)),
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        **binary_counts(truth, predicted),
        "base_rate": float(truth.mean()),
    }
    if not hard:
        both = truth.min() != truth.max()
        result["threshold"] = threshold
        result["average_precision"] = (
            float(average_precision_score(truth, values)) if both else math.nan
        )
        result["roc_auc"] = float(roc_auc_score(truth, values)) if both else math.nan
    return result


def base_rate(y_true: Any) -> float:
    """Fraction of positives: the precision of flagging everyone, and the AUPRC of a random model."""
    return float(as_binary_labels("y_true", y_true).mean())


# --------------------------------------------------------------------------------------------
# Costs and thresholds
# --------------------------------------------------------------------------------------------


def bayes_threshold(cost_fp: float = 1.0, cost_fn: float = 50.0) -> float:
    """Cost-optimal threshold for a *calibrated* probability: ``cost_fp / (cost_fp + cost_fn)``.

    Flag a sample when the expected cost of ignoring it, ``p * cost_fn``, exceeds that of
    flagging it, ``(1 - p) * cost_fp`` (Elkan 2001, "The Foundations of Cost-Sensitive
    Learning"). With a missed fraud costing 50 false alarms the threshold is 1/51 ~ 0.02.
    """
    cost_fp, cost_fn = _costs(cost_fp, cost_fn)
    return cost_fp / (cost_fp + cost_fn)


def expected_cost(
    y_true: Any,
    y_pred: Any,
    cost_fp: float = 1.0,
    cost_fn: float = 50.0,
    per_sample: bool = False,
) -> float:
    """Total cost ``cost_fp * FP + cost_fn * FN`` of hard 0/1 predictions (divided by n if ``per_sample``)."""
    cost_fp, cost_fn = _costs(cost_fp, cost_fn)
    if not isinstance(per_sample, bool):
        raise TypeError(f"per_sample must be True or False, got {per_sample!r}")
    counts = binary_counts(y_true, y_pred)
    total = cost_fp * counts["fp"] + cost_fn * counts["fn"]
    return total / sum(counts.values()) if per_sample else float(total)


def _counts_at(
    truth: np.ndarray, scores: np.ndarray, thresholds: np.ndarray
) -> dict[str, np.ndarray]:
    """TP/FP/FN/TN when predicting ``score >= t``, for every ``t`` at once (by sorting, O(n log n))."""
    positives = np.sort(scores[truth == 1])
    negatives = np.sort(scores[truth == 0])
    tp = len(positives) - np.searchsorted(positives, thresholds, side="left")
    fp = len(negatives) - np.searchsorted(negatives, thresholds, side="left")
    return {"tp": tp, "fp": fp, "fn": len(positives) - tp, "tn": len(negatives) - fp}


def _candidate_thresholds(truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Every threshold at which a prediction changes, highest first, starting at +inf (flag none)."""
    # roc_curve's thresholds are the distinct scores (plus +inf); drop_intermediate=False keeps all.
    _, _, thresholds = roc_curve(truth, scores, drop_intermediate=False)
    return thresholds


def cost_curve(
    y_true: Any,
    scores: Any,
    cost_fp: float = 1.0,
    cost_fn: float = 50.0,
    thresholds: Any = None,
) -> pd.DataFrame:
    """Cost, precision and recall of ``score >= threshold`` for each threshold: the cost-vs-threshold plot.

    Args:
        y_true: 0/1 labels.
        scores: model scores, same length.
        cost_fp, cost_fn: cost of one false alarm and of one missed positive (> 0).
        thresholds: where to evaluate (default: every distinct score, i.e. every place the cost
            can change).

    Returns:
        Columns ``threshold`` (ascending), ``cost`` (= ``cost_fp * fp + cost_fn * fn``),
        ``precision`` (0 when nothing is flagged), ``recall``, ``tp``, ``fp``, ``fn``, ``tn``.
    """
    truth = as_binary_labels("y_true", y_true)
    values = as_scores("scores", scores)
    same_length(y_true=truth, scores=values)
    cost_fp, cost_fn = _costs(cost_fp, cost_fn)
    if thresholds is None:
        grid = np.unique(values)
    else:
        grid = np.sort(as_scores("thresholds", thresholds))
    counts = _counts_at(truth, values, grid)
    flagged = counts["tp"] + counts["fp"]
    n_pos = counts["tp"] + counts["fn"]
    return pd.DataFrame(
        {
            "threshold": grid,
            "cost": cost_fp * counts["fp"] + cost_fn * counts["fn"],
            "precision": np.divide(
                counts["tp"], flagged, out=np.zeros(len(grid)), where=flagged > 0
            ),
            "recall": np.divide(counts["tp"], n_pos, out=np.zeros(len(grid)), where=n_pos > 0),
            **counts,
        }
    )


def threshold_for_cost(
    y_true: Any, scores: Any, cost_fp: float = 1.0, cost_fn: float = 50.0
) -> float:
    """Return the threshold that minimises ``cost_fp * FP + cost_fn * FN`` on a validation set.

    Every distinct score is tried (the cost only changes there; candidates come from
    :func:`sklearn.metrics.roc_curve`). Predict positive when ``score >= threshold``. Among
    equally cheap thresholds the highest is returned (fewest alarms). Returns ``inf`` when
    flagging nothing is cheapest. Choose it on validation data and report cost on test data.
    """
    truth = as_binary_labels("y_true", y_true)
    values = as_scores("scores", scores)
    same_length(y_true=truth, scores=values)
    cost_fp, cost_fn = _costs(cost_fp, cost_fn)
    _both_classes("y_true", truth)
    candidates = _candidate_thresholds(truth, values)
    counts = _counts_at(truth, values, candidates)
    cost = cost_fp * counts["fp"] + cost_fn * counts["fn"]
    # Candidates run from high to low, so argmin's first minimum is the highest cheapest one.
    return float(candidates[int(np.argmin(cost))])


def threshold_for_recall(y_true: Any, scores: Any, target_recall: float = 0.8) -> float:
    """Return the highest threshold whose recall (``score >= threshold``) is at least ``target_recall``.

    The highest such threshold flags the fewest samples, so it has the best precision among the
    thresholds that meet the recall target.
    """
    truth = as_binary_labels("y_true", y_true)
    values = as_scores("scores", scores)
    same_length(y_true=truth, scores=values)
    target_recall = check_float(
        "target_recall", target_recall, min_value=0.0, max_value=1.0, min_open=True
    )
    if truth.sum() == 0:
        raise ValueError("y_true must contain at least one positive (1) to measure recall")
    candidates = _candidate_thresholds(truth, values)
    counts = _counts_at(truth, values, candidates)
    recall = counts["tp"] / truth.sum()
    # Small tolerance: 0.8 of 5 positives is 4/5, which floating point may put just below 0.8.
    reached = np.flatnonzero(recall >= target_recall - 1e-12)
    return float(candidates[reached[0]])


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------


def pr_curve(y_true: Any, scores: Any) -> pd.DataFrame:
    """Precision-recall curve as a table (wraps :func:`sklearn.metrics.precision_recall_curve`).

    Columns ``precision``, ``recall``, ``threshold``. Rows follow sklearn's order (thresholds
    ascending); the last row is sklearn's end point (precision 1, recall 0), which has no
    threshold (NaN).
    """
    truth = as_binary_labels("y_true", y_true)
    values = as_scores("scores", scores)
    same_length(y_true=truth, scores=values)
    if truth.sum() == 0:
        raise ValueError(
            "y_true must contain at least one positive (1) for a precision-recall curve"
        )
    precision, recall, thresholds = precision_recall_curve(truth, values)
    return pd.DataFrame(
        {"precision": precision, "recall": recall, "threshold": np.append(thresholds, np.nan)}
    )


def calibration(
    y_true: Any, probs: Any, n_bins: int = 10, strategy: str = "quantile"
) -> pd.DataFrame:
    """Reliability table: mean predicted probability vs observed fraction of positives, per bin.

    Wraps :func:`sklearn.calibration.calibration_curve`. ``strategy="quantile"`` puts the same
    number of samples in every bin, which suits imbalanced data (most probabilities are near 0);
    ``"uniform"`` uses equal-width bins. Empty bins are left out, as sklearn does. A calibrated
    model has ``fraction_positive ~ mean_predicted`` in every row, and only then is
    :func:`bayes_threshold` the cost-optimal threshold.

    Returns:
        Columns ``mean_predicted``, ``fraction_positive``, ``count`` (samples in the bin).
    """
    truth = as_binary_labels("y_true", y_true)
    values = as_scores("probs", probs)
    same_length(y_true=truth, probs=values)
    if values.min() < 0 or values.max() > 1:
        raise ValueError(
            f"probs must be probabilities in [0, 1], got values from {values.min():g} to {values.max():g} "
            f"(apply a sigmoid to logits first)"
        )
    n_bins = check_int("n_bins", n_bins, min_value=1)
    strategy = check_choice("strategy", strategy, ("quantile", "uniform"))
    fraction, mean_predicted = calibration_curve(truth, values, n_bins=n_bins, strategy=strategy)
    # sklearn does not return bin sizes; recompute them with its own bin edges and assignment.
    if strategy == "quantile":
        edges = np.percentile(values, np.linspace(0, 100, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    sizes = np.bincount(np.searchsorted(edges[1:-1], values), minlength=n_bins)
    return pd.DataFrame(
        {"mean_predicted": mean_predicted, "fraction_positive": fraction, "count": sizes[sizes > 0]}
    )


# --------------------------------------------------------------------------------------------
# Comparison table
# --------------------------------------------------------------------------------------------


def compare_models(
    rows: Mapping[str, tuple[Any, Any, float]],
    *,
    cost_fp: float = 1.0,
    cost_fn: float = 50.0,
) -> pd.DataFrame:
    """One table comparing models, each given as ``name: (y_true, scores, threshold)``.

    Columns: ``threshold, accuracy, precision, recall, f1, average_precision, roc_auc, fp, fn,
    cost`` (``cost = cost_fp * fp + cost_fn * fn``), one row per model, in the order given.
    """
    if not isinstance(rows, Mapping) or not rows:
        raise TypeError("rows must be a non-empty dict {name: (y_true, scores, threshold)}")
    cost_fp, cost_fn = _costs(cost_fp, cost_fn)
    table = {}
    for name, entry in rows.items():
        if not isinstance(entry, (tuple, list)) or len(entry) != 3:
            raise TypeError(
                f"rows[{name!r}] must be a tuple (y_true, scores, threshold), got {entry!r:.80}"
            )
        y_true, scores, threshold = entry
        metrics = classification_metrics(y_true, scores, threshold)
        table[name] = {
            "threshold": threshold,
            "accuracy": metrics["accuracy"],
            "precision": metrics["precision"],
            "recall": metrics["recall"],
            "f1": metrics["f1"],
            "average_precision": metrics.get("average_precision", math.nan),
            "roc_auc": metrics.get("roc_auc", math.nan),
            "fp": metrics["fp"],
            "fn": metrics["fn"],
            "cost": cost_fp * metrics["fp"] + cost_fn * metrics["fn"],
        }
    return pd.DataFrame.from_dict(table, orient="index")
