"""Tests of warmup_lib.widgets: the explorers build without a browser and their callbacks compute the right things."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, precision_score, recall_score

from warmup_lib import widgets as W
from warmup_lib.schedules import CosineDecay, Joined, LinearWarmup

torch.set_num_threads(1)
PNG_MAGIC = b"\x89PNG"


@pytest.fixture(autouse=True)
def _no_leaked_figures():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) <= before, "an explorer left a figure open"
    plt.close("all")


@pytest.fixture(scope="module")
def tiny_data():
    """A small synthetic 3-class task so training runs take milliseconds."""
    from warmup_lib.data import DataSplits

    generator = torch.Generator().manual_seed(0)
    X = torch.randn(300, 8, generator=generator)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    return DataSplits(
        "blobs",
        "multiclass",
        X[:200],
        y[:200],
        X[200:250],
        y[200:250],
        X[250:],
        y[250:],
        n_classes=3,
    )


@pytest.fixture(scope="module")
def fraud_scores():
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.03).astype(int)
    scores = 1 / (1 + np.exp(-(rng.normal(-4, 1.2, y.size) + 3.5 * y)))
    return y, scores


# --------------------------------------------------------------------------------------------
# Schedule explorer
# --------------------------------------------------------------------------------------------


def test_explorer_schedule_composes_warmup_and_decay():
    schedule = W.explorer_schedule("linear", 100, "cosine", 1000)
    assert isinstance(schedule, Joined)
    expected = [
        LinearWarmup(100)(s) if s < 100 else CosineDecay(900)(s - 100)
        for s in (0, 50, 100, 550, 999)
    ]
    assert schedule.curve(np.array([0, 50, 100, 550, 999])).tolist() == pytest.approx(expected)
    no_warmup = W.explorer_schedule("none", 100, "linear", 1000)
    assert no_warmup(0) == 1.0 and no_warmup(500) == pytest.approx(0.5)
    assert W.explorer_schedule("linear", 0, "constant", 10)(0) == 1.0


@settings(max_examples=40, deadline=None)
@given(
    shape=st.sampled_from([s for s in W.WARMUP_SHAPE_CHOICES if s != "none"]),
    decay=st.sampled_from(W.DECAY_CHOICES),
    total_steps=st.integers(2, 3000),
    fraction=st.floats(0.0, 1.0),
)
def test_every_explorer_schedule_peaks_at_the_end_of_warmup(shape, decay, total_steps, fraction):
    warmup_steps = int(fraction * (total_steps - 1))
    curve = W.explorer_schedule(shape, warmup_steps, decay, total_steps).curve(
        np.arange(total_steps)
    )
    assert np.all(curve >= 0) and np.all(curve <= 1 + 1e-12)
    assert curve[warmup_steps] == pytest.approx(1.0)


def test_schedule_explorer_figure_text_and_figure():
    fig, text = W.schedule_explorer_figure("linear", 100, 1e-3, "cosine", 1000, False)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "optimizer step" and ax.get_ylabel() == "learning rate"
    last = 1e-3 * CosineDecay(900)(899)
    assert (
        text
        == f"LR at step 0: 0 · at the end of warmup (step 100): 0.001 · at the last step (999): {last:.3g}"
    )
    fig, text = W.schedule_explorer_figure("exponential", 300, 0.1, "constant", 1000, True)
    assert fig.axes[0].get_yscale() == "log"
    assert text.startswith("LR at step 0: 0.0001 ")
    _, text = W.schedule_explorer_figure("none", 100, 0.5, "linear", 100, False)
    assert "warmup" not in text.split("·")[1]
    _, text = W.schedule_explorer_figure("cosine", 100, 0.5, "linear", 100, False)
    assert "warmup lasts the whole run" in text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"shape": "quadratic"}, ValueError, "shape must be one of 'linear'"),
        ({"decay": "cyclic"}, ValueError, "decay must be one of"),
        ({"warmup_steps": 2000}, ValueError, "warmup_steps"),
        ({"peak_lr": 0.0}, ValueError, "peak_lr"),
        ({"total_steps": 1}, ValueError, "total_steps"),
        ({"log_scale": 1}, TypeError, "log_scale"),
    ],
)
def test_schedule_explorer_figure_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        W.schedule_explorer_figure(**kwargs)
    with pytest.raises(error, match=match):
        W.schedule_explorer(**kwargs)


def test_schedule_explorer_widget_updates_on_change():
    explorer = W.schedule_explorer()
    assert isinstance(explorer, ipywidgets.VBox)
    assert set(explorer.controls) == {
        "shape",
        "warmup_steps",
        "peak_lr",
        "decay",
        "total_steps",
        "log_scale",
    }
    assert bytes(explorer.image.value).startswith(PNG_MAGIC)
    assert explorer.summary.value.startswith("LR at step 0: 0 ")
    first_png = bytes(explorer.image.value)
    explorer.controls["shape"].value = "exponential"
    assert explorer.summary.value.startswith("LR at step 0: 1e-06")
    assert bytes(explorer.image.value) != first_png
    explorer.controls["total_steps"].value = 100  # warmup (100) must stay inside training
    assert explorer.controls["warmup_steps"].max == 100
    assert "warmup lasts the whole run" in explorer.summary.value


def test_explorer_shows_errors_in_the_summary_instead_of_raising():
    def render(x: int) -> tuple[Figure, str]:
        raise ValueError(f"x must be even, got {x}")

    explorer = W.Explorer({"x": ipywidgets.IntSlider(value=3)}, render)
    assert explorer.refresh() == "⚠ x must be even, got 3"
    assert "x must be even" in explorer.summary.value
    assert bytes(explorer.image.value) == b""


# --------------------------------------------------------------------------------------------
# Training explorer
# --------------------------------------------------------------------------------------------


def test_run_training_explorer_trains_warmup_and_control(tiny_data):
    fig, summary = W.run_training_explorer(0.05, 10, "adam", 30, 0, data=tiny_data, hidden=(16,))
    assert isinstance(fig, Figure)
    loss_ax, lr_ax = fig.axes
    assert "nats" in loss_ax.get_ylabel() and lr_ax.get_xlabel() == "optimizer step"
    lines = summary.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("10-step linear warmup: highest training loss")
    assert lines[1].startswith("no warmup: highest training loss")
    assert "validation loss" in lines[0]
    # The warmup run's LR rises from 0; the control starts at the peak.
    warm, control = (line.get_ydata() for line in lr_ax.get_lines() if len(line.get_xdata()) == 30)
    assert warm[0] == 0.0 and control[0] == pytest.approx(0.05)


def test_run_training_explorer_single_run_and_same_result_twice(tiny_data):
    _, only = W.run_training_explorer(
        0.1, 5, "momentum", 20, 3, data=tiny_data, hidden=(8,), compare=False
    )
    assert len(only.splitlines()) == 1
    _, again = W.run_training_explorer(
        0.1, 5, "momentum", 20, 3, data=tiny_data, hidden=(8,), compare=False
    )
    assert only == again  # seeded: the same numbers every time
    _, none = W.run_training_explorer(0.1, 0, "sgd", 20, 0, data=tiny_data, hidden=(8,))
    assert none.startswith("no warmup:") and len(none.splitlines()) == 1


def test_run_training_explorer_reports_divergence(tiny_data):
    _, summary = W.run_training_explorer(
        50.0, 0, "sgd", 20, 0, data=tiny_data, hidden=(16,), decay="constant"
    )
    assert "diverged at step" in summary


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"optimizer": "lbfgs"}, ValueError, "optimizer must be one of 'sgd', 'momentum', 'adam'"),
        ({"warmup_steps": 50, "steps": 20}, ValueError, "warmup_steps"),
        ({"peak_lr": -0.1}, ValueError, "peak_lr"),
        ({"decay": "exp"}, ValueError, "decay"),
        ({"hidden": 16}, TypeError, "hidden"),
        ({"data": "digits"}, ValueError, "data must be a warmup_lib.data.DataSplits"),
    ],
)
def test_run_training_explorer_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        W.run_training_explorer(**kwargs)


def test_training_explorer_builds_without_running_and_trains_on_click(tiny_data):
    explorer = W.training_explorer(tiny_data, steps=20, warmup_steps=5, hidden=(8,), run_now=False)
    assert isinstance(explorer, ipywidgets.VBox)
    assert bytes(explorer.image.value) == b""
    assert "Press" in explorer.summary.value
    explorer.controls["steps"].value = 10
    assert explorer.controls["warmup_steps"].max == 10
    explorer.button.click()
    assert bytes(explorer.image.value).startswith(PNG_MAGIC)
    assert "5-step linear warmup" in explorer.summary.value
    with pytest.raises(ValueError, match="optimizer"):
        W.training_explorer(tiny_data, optimizer="rmsprop", run_now=False)


# --------------------------------------------------------------------------------------------
# Threshold explorer
# --------------------------------------------------------------------------------------------


def test_threshold_report_matches_sklearn(fraud_scores):
    y, scores = fraud_scores
    fig, report = W.threshold_report(y, scores, 0.5, 1.0, 50.0)
    predicted = scores >= 0.5
    tn, fp, fn, tp = confusion_matrix(y, predicted).ravel()
    assert (report["tn"], report["fp"], report["fn"], report["tp"]) == (tn, fp, fn, tp)
    assert report["precision"] == pytest.approx(precision_score(y, predicted))
    assert report["recall"] == pytest.approx(recall_score(y, predicted))
    assert report["cost"] == pytest.approx(1.0 * fp + 50.0 * fn)
    assert report["flagged"] == predicted.sum()
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlabel() == "predicted class"
    assert "threshold" in fig.axes[1].get_xlabel()


def test_threshold_report_nothing_flagged(fraud_scores):
    y, scores = fraud_scores
    _, report = W.threshold_report(y, scores, 2.0)
    assert report["flagged"] == 0 and report["precision"] == 0 and report["recall"] == 0
    assert report["cost"] == 50.0 * y.sum()
    assert "precision undefined (nothing flagged)" in W._format_report(report)


def test_threshold_report_rejects_bad_input(fraud_scores):
    y, scores = fraud_scores
    with pytest.raises(ValueError, match="threshold"):
        W.threshold_report(y, scores, float("nan"))
    with pytest.raises(ValueError, match="cost_fp"):
        W.threshold_report(y, scores, 0.5, cost_fp=0)
    with pytest.raises(ValueError, match="both classes"):
        W.threshold_report(np.zeros(10, dtype=int), np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="one score per label"):
        W.threshold_report(y, scores[:10], 0.5)


def test_threshold_explorer_slider_and_buttons(fraud_scores):
    y, scores = fraud_scores
    explorer = W.threshold_explorer(y, scores, cost_fp=1.0, cost_fn=50.0)
    assert isinstance(explorer, ipywidgets.VBox)
    slider = explorer.controls["threshold"]
    assert isinstance(slider, ipywidgets.FloatLogSlider)
    assert explorer.summary.value.startswith("threshold 0.5: flagged")
    assert bytes(explorer.image.value).startswith(PNG_MAGIC)
    bayes_button, default_button = explorer.children[0].children[-1].children
    bayes_button.click()
    assert slider.value == pytest.approx(1 / 51)
    assert explorer.summary.value.startswith("threshold 0.0196: flagged")
    default_button.click()
    assert slider.value == 0.5


def test_threshold_explorer_with_raw_scores(fraud_scores):
    y, scores = fraud_scores
    logits = np.log(scores / (1 - scores))
    explorer = W.threshold_explorer(y, logits, threshold=0.0)
    assert isinstance(explorer.controls["threshold"], ipywidgets.FloatSlider)
    _, report = W.threshold_report(y, logits, 0.0)
    assert explorer.summary.value.startswith(f"threshold 0: flagged {report['flagged']:,}")


def test_building_explorers_prints_nothing(capsys, tiny_data, fraud_scores):
    # A notebook cell that builds an explorer must have no stream output that could differ run to run.
    y, scores = fraud_scores
    W.schedule_explorer()
    W.training_explorer(tiny_data, steps=10, warmup_steps=5, hidden=(4,))
    W.threshold_explorer(y, scores)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
