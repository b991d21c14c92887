"""Tests of warmup_lib.widgets: the explorers build without a browser and their callbacks compute the right things."""

from __future__ import annotations

import base64
import json
import os
import struct
from pathlib import Path

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
from warmup_lib.data import DataSplits
from warmup_lib.schedules import CosineDecay, Joined, LinearWarmup

torch.set_num_threads(1)
PNG_MAGIC = b"\x89PNG"
ROOT = Path(__file__).resolve().parent.parent


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_MAGIC)
    return struct.unpack(">II", png[16:24])


@pytest.fixture(autouse=True)
def _no_leaked_figures():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) <= before, "an explorer left a figure open"
    plt.close("all")


@pytest.fixture(scope="module")
def tiny_data():
    """A small synthetic 3-class task so training runs take milliseconds."""
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
    assert explorer.text.startswith("LR at step 0: 0 ")
    first_png = bytes(explorer.image.value)
    explorer.controls["shape"].value = "exponential"
    assert explorer.text.startswith("LR at step 0: 1e-06")
    assert bytes(explorer.image.value) != first_png
    explorer.controls["total_steps"].value = 100  # warmup (100) must stay inside training
    assert explorer.controls["warmup_steps"].max == 100
    assert "warmup lasts the whole run" in explorer.text


def test_explorer_shows_errors_in_the_summary_instead_of_raising():
    def render(x: int) -> tuple[Figure, str]:
        raise ValueError(f"x must be even, got {x}")

    explorer = W.Explorer({"x": ipywidgets.IntSlider(value=3)}, render)
    assert explorer.refresh() == "⚠ x must be even, got 3"
    assert "x must be even" in explorer.summary.value
    assert bytes(explorer.image.value) == b""
    assert explorer.image.layout.display == "none", "an empty Image is a broken-image icon"


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
    # Until the first Train it shows what Train will train (no empty, broken image).
    assert explorer.renders == 0 and bytes(explorer.image.value).startswith(PNG_MAGIC)
    preview = bytes(explorer.image.value)
    assert "Press" in explorer.summary.value
    explorer.controls["steps"].value = 10
    assert explorer.controls["warmup_steps"].max == 10
    assert bytes(explorer.image.value) != preview, "the preview follows the controls"
    explorer.button.click()
    assert explorer.renders == 1
    assert bytes(explorer.image.value).startswith(PNG_MAGIC)
    assert "5-step linear warmup" in explorer.text
    trained = bytes(explorer.image.value)
    explorer.controls["warmup_steps"].value = 0
    assert bytes(explorer.image.value) == trained, "after training a control change waits for Train"
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
    assert explorer.text.startswith("threshold 0.5: flagged")
    assert bytes(explorer.image.value).startswith(PNG_MAGIC)
    bayes_button, default_button = explorer.extra
    bayes_button.click()
    assert slider.value == pytest.approx(1 / 51)
    assert explorer.text.startswith("threshold 0.0196: flagged")
    default_button.click()
    assert slider.value == 0.5


def test_threshold_explorer_with_raw_scores(fraud_scores):
    y, scores = fraud_scores
    logits = np.log(scores / (1 - scores))
    explorer = W.threshold_explorer(y, logits, threshold=0.0)
    assert isinstance(explorer.controls["threshold"], ipywidgets.FloatSlider)
    _, report = W.threshold_report(y, logits, 0.0)
    assert explorer.text.startswith(f"threshold 0: flagged {report['flagged']:,}")


def test_building_explorers_prints_nothing(capsys, tiny_data, fraud_scores):
    # A notebook cell that builds an explorer must have no stream output that could differ run to run.
    y, scores = fraud_scores
    W.schedule_explorer()
    W.training_explorer(tiny_data, steps=10, warmup_steps=5, hidden=(4,))
    W.threshold_explorer(y, scores)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# --------------------------------------------------------------------------------------------
# How the explorers look and behave in JupyterLab (tests/test_browser.py checks it in a browser)
# --------------------------------------------------------------------------------------------


def _explorers(tiny_data, fraud_scores) -> dict[str, W.Explorer]:
    y, scores = fraud_scores
    return {
        "schedule": W.schedule_explorer(),
        "training": W.training_explorer(tiny_data, steps=20, warmup_steps=5, hidden=(4,)),
        "preview": W.training_explorer(
            tiny_data, steps=20, warmup_steps=5, hidden=(4,), run_now=False
        ),
        "threshold": W.threshold_explorer(y, scores),
    }


def test_figures_are_drawn_at_twice_the_size_they_are_shown(tiny_data, fraud_scores):
    for name, explorer in _explorers(tiny_data, fraud_scores).items():
        width, height = png_size(bytes(explorer.image.value))
        layout = explorer.image.layout
        shown = int(layout.width.removesuffix("px"))
        assert (width, height) == (2 * shown, pytest.approx(2 * shown * height / width, abs=1)), (
            name
        )
        # Never stretched past that size; shrunk with its aspect kept in a narrow column.
        assert (layout.max_width, layout.height, layout.display) == ("100%", "auto", None), name
        assert shown <= 900, f"{name}: {shown} px is wider than a notebook column at 1366 px"


def test_sliders_get_a_row_each_and_choices_wrap(tiny_data, fraud_scores):
    for name, explorer in _explorers(tiny_data, fraud_scores).items():
        rows = explorer.children[:-2]
        assert explorer.children[-2:] == (explorer.summary, explorer.image)
        sliders = [row for row in rows if isinstance(row, W._SLIDERS)]
        assert sliders, name
        for slider in sliders:  # full width: long enough that a drag moves a few steps
            assert slider.layout.width == "auto" and slider.style.description_width == "9em"
        shown = int(explorer.image.layout.width.removesuffix("px"))
        assert explorer.layout.max_width == f"{max(shown, 600)}px", name
        for row in rows:
            if isinstance(row, ipywidgets.Box):
                assert row.layout.flex_flow == "row wrap", name
                for item in row.children:
                    assert item.layout.width == "auto", f"{name}: {item.description} may be cut"
                    if not isinstance(item, ipywidgets.Button):
                        assert item.style.description_width == "initial"


def test_the_summary_breaks_lines_only_between_its_clauses(tiny_data):
    explorer = W.schedule_explorer(shape="exponential")
    assert "e-06" in explorer.text
    html = explorer.summary.value
    assert html.count("white-space: nowrap") == len(explorer.text.split(" · ")) == 3
    assert html.startswith("<span style='white-space: nowrap'>LR at step 0: 1e-06</span> · ")
    # The training summary's long lines break at "; " (a whole line kept on one line is cut).
    explorer = W.training_explorer(tiny_data, steps=20, warmup_steps=5, hidden=(4,))
    first, second = explorer.summary.value.split("<br>")
    assert first.count("</span>; <span") == 1 and second.count("</span>; <span") == 1


def test_long_button_labels_are_not_cut(fraud_scores):
    y, scores = fraud_scores
    bayes, default = W.threshold_explorer(y, scores).extra
    assert bayes.description == "Bayes threshold 0.0196" and bayes.layout.width == "auto"


def _counting_explorer(render_calls: list[int]) -> W.Explorer:
    def render(x: int) -> tuple[Figure, str]:
        render_calls.append(x)
        return Figure(figsize=(2, 1)), f"x = {x}"

    return W.Explorer({"x": ipywidgets.IntSlider(value=3)}, render, button="Train")


def test_a_double_click_trains_once(monkeypatch):
    calls: list[int] = []
    explorer = _counting_explorer(calls)
    # The second click of a double click reaches the kernel right after the first run ended.
    explorer.button.click()
    explorer.button.click()
    assert calls == [3] and explorer.renders == 1
    assert not explorer.button.disabled
    # A click after the run has settled trains again.
    monkeypatch.setattr(W.time, "monotonic", lambda: explorer._refuse_clicks_until + 0.01)
    explorer.button.click()
    assert calls == [3, 3] and explorer.renders == 2


def test_a_click_during_a_run_is_refused():
    calls: list[int] = []
    explorer = _counting_explorer(calls)
    inner = explorer._render

    def render(x: int) -> tuple[Figure, str]:
        assert explorer.button.disabled, "the button is disabled while the run lasts"
        explorer.refresh()  # re-entry, e.g. a control changed by the render itself
        explorer.button.click()
        return inner(x)

    explorer._render = render
    explorer.refresh()
    assert calls == [3] and explorer.renders == 1


def test_this_threshold_stays_inside_the_cost_chart(fraud_scores):
    y, scores = fraud_scores
    assert scores.min() > 1e-6
    for threshold in (1e-6, 1e-4, 0.003, 1 / 51, 0.5, 1.0):
        fig, report = W.threshold_report(y, scores, threshold)
        ax = fig.axes[1]
        (mark,) = [line for line in ax.get_lines() if line.get_label().startswith("this threshold")]
        ((x, y_drawn),) = mark.get_xydata()
        (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
        assert left <= x <= right and bottom <= y_drawn <= top, threshold
        assert f"cost {report['cost']:,.0f}" in mark.get_label()
        above, left_of = report["cost"] > top, threshold < left
        assert ("above the chart" in mark.get_label()) == above
        assert mark.get_marker() == ("^" if above else "<" if left_of else "s")
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert mark.get_label() in legend


def test_an_explorer_carries_a_picture_for_static_readers(tiny_data, fraud_scores):
    from IPython.core.formatters import DisplayFormatter

    for name, explorer in _explorers(tiny_data, fraud_scores).items():
        data, metadata = DisplayFormatter().format(explorer)
        assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.model_id
        assert base64.b64decode(data["image/png"]) == bytes(explorer.image.value), name
        width, height = png_size(bytes(explorer.image.value))
        assert metadata["image/png"] == {"width": width // 2, "height": height // 2}, name
        assert "interactive in a running notebook" in data["text/plain"], name
        assert "children=" not in data["text/plain"]


def test_an_explorer_without_a_picture_carries_none():
    def render(x: int) -> tuple[Figure, str]:
        raise ValueError("no")

    explorer = W.Explorer({"x": ipywidgets.IntSlider()}, render)
    explorer.refresh()
    bundle = explorer._repr_mimebundle_()
    assert "image/png" not in bundle and "application/vnd.jupyter.widget-view+json" in bundle


@pytest.mark.parametrize(
    ("notebook", "builder"),
    [
        ("02_lr_curves", "schedule_explorer("),
        ("03_loss_comparison", "training_explorer("),
        ("05_imbalanced_fraud", "threshold_explorer("),
    ],
)
def test_stored_explorers_show_a_picture_to_static_readers(notebook, builder):
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    explorer_cells = [
        c for c in cells if c["cell_type"] == "code" and builder in "".join(c["source"])
    ]
    assert explorer_cells, f"{notebook}: no cell calls {builder}...)"
    for cell in explorer_cells:
        (result,) = [o for o in cell["outputs"] if o["output_type"] == "execute_result"]
        assert "application/vnd.jupyter.widget-view+json" in result["data"]
        assert png_size(base64.b64decode(result["data"]["image/png"]))[0] > 0, notebook
        assert result["metadata"]["image/png"]["width"] > 0


@pytest.mark.parametrize("decay", W.DECAY_CHOICES)
def test_training_explorer_compares_the_same_base_with_and_without_the_warmup_factor(decay):
    import warmup_lib as wl

    pair = W.training_explorer_schedules(30, decay, 120)
    with_warmup, without = pair["30-step linear warmup"], pair["no warmup"]
    differ = wl.steps_that_differ(with_warmup, without, 120)
    assert differ.size and differ.max() < 30, f"{decay}: the runs must differ only during warmup"
    assert list(W.training_explorer_schedules(0, decay, 120)) == ["no warmup"]
