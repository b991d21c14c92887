"""Tests of warmup_lib.plotting: every figure is labelled, marks what it promises, and rejects bad input."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import math
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, confusion_matrix

from warmup_lib import plotting
from warmup_lib.plotting import (
    LINESTYLES,
    PALETTE,
    mark_warmup_end,
    plot_confusion_matrix,
    plot_cost_vs_threshold,
    plot_epoch_vs_step,
    plot_history,
    plot_lr_sensitivity,
    plot_pr_curve,
    plot_runs,
    plot_schedules,
    plot_seeds,
    plot_sharpness,
    plot_stability_frontier,
    plot_update_ratio,
    series_style,
)
from warmup_lib.schedules import (
    CosineDecay,
    ExponentialWarmup,
    LinearWarmup,
    warmup_then,
)

torch.set_num_threads(1)


# --------------------------------------------------------------------------------------------
# Fakes with the History contract, and helpers that read a figure back.
# --------------------------------------------------------------------------------------------


def history_frame(
    steps: int = 100, *, spike_at: int | None = None, diverge_at: int | None = None
) -> pd.DataFrame:
    """A DataFrame shaped like History.to_frame(): per-step columns, val_* every 10 steps."""
    step = np.arange(steps)
    loss = 2.3 * np.exp(-step / 30) + 0.1 + 0.01 * np.sin(step)
    if spike_at is not None:
        loss[spike_at] = 3.0
    if diverge_at is not None:
        loss = loss[: diverge_at + 1]
        loss[-1] = np.nan
        step = step[: diverge_at + 1]
    val = np.full(step.size, np.nan)
    val[9::10] = loss[9::10] + 0.05
    accuracy = np.where(np.isnan(val), np.nan, 1 - val / 3)
    return pd.DataFrame(
        {
            "step": step,
            "epoch": step // 17,
            "lr": 0.1 * np.minimum(1, step / 20),
            "train_loss": loss,
            "grad_norm": 1.0 + 0 * loss,
            "update_ratio": 0.01 + 0.1 * np.exp(-step / 10),
            "val_loss": val,
            "val_accuracy": accuracy,
        }
    )


@dataclass
class FakeHistory:
    """The parts of warmup_lib.training.History that plotting reads."""

    frame: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    diverged_at: int | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.frame


def data_lines(ax: Any, n_points: int | None = None) -> list[Any]:
    """Plotted series (not reference lines): labelled or long enough."""
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
    if n_points is not None:
        lines = [line for line in lines if len(line.get_xdata()) == n_points]
    return lines


def legend_texts(fig: Figure) -> list[str]:
    legends = list(fig.legends) + [
        ax.get_legend() for ax in fig.axes if ax.get_legend() is not None
    ]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def warmup_markers(ax: Any) -> list[Any]:
    return [t for t in ax.texts if t.get_gid() == "warmup-end"]


def assert_labelled(ax: Any) -> None:
    assert ax.get_xlabel().strip(), "x-axis has no label"
    assert ax.get_ylabel().strip(), "y-axis has no label"


@pytest.fixture(autouse=True)
def _no_leaked_figures():
    """Every function closes the figures it creates (Jupyter then shows the returned one once)."""
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) <= before
    plt.close("all")


@pytest.fixture(scope="module")
def real_history():
    """A real 30-step run of a small MLP (with a 10-step warmup) on a tiny synthetic 3-class task."""
    from warmup_lib.data import DataSplits
    from warmup_lib.models import MLP
    from warmup_lib.training import train

    generator = torch.Generator().manual_seed(0)
    X = torch.randn(300, 8, generator=generator)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    data = DataSplits(
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
    model = MLP(8, 3, hidden=(16,), seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    schedule = warmup_then(LinearWarmup(10), CosineDecay(20))
    return train(model, optimizer, schedule, data, 30, seed=0, batch_size=32, eval_every=10)


# --------------------------------------------------------------------------------------------
# Palette and styles.
# --------------------------------------------------------------------------------------------


def test_palette_and_styles_are_distinct_and_cycle():
    assert len(set(PALETTE)) == len(PALETTE) >= 6
    assert len(LINESTYLES) >= 3
    pairs = {(series_style(i)["color"], str(series_style(i)["linestyle"])) for i in range(28)}
    assert len(pairs) == 28  # colour and style together repeat only after 28 series
    assert series_style(0) == series_style(28)


def test_series_style_rejects_bad_index():
    with pytest.raises(TypeError, match="index"):
        series_style("1")
    with pytest.raises(ValueError, match="index"):
        series_style(-1)


def test_mark_warmup_end_draws_line_and_label():
    fig, ax = plt.subplots()
    try:
        mark_warmup_end(ax, 50)
        assert [t.get_text() for t in warmup_markers(ax)] == ["end of warmup (step 50)"]
        assert any(list(line.get_xdata()) == [50, 50] for line in ax.get_lines())
        with pytest.raises(ValueError, match="position"):
            mark_warmup_end(ax, 5, position="left")
        with pytest.raises(TypeError, match="ax"):
            mark_warmup_end("axes", 5)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------------------
# plot_schedules
# --------------------------------------------------------------------------------------------


def test_plot_schedules_single_schedule():
    fig = plot_schedules(warmup_then(LinearWarmup(100), CosineDecay(900)), 1000)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert_labelled(ax)
    assert ax.get_xlabel() == "optimizer step"
    assert "multiplier" in ax.get_ylabel()
    (line,) = data_lines(ax, 1000)
    assert line.get_ydata().max() == pytest.approx(1.0)
    assert [t.get_text() for t in warmup_markers(ax)] == ["end of warmup (step 100)"]
    assert "LinearWarmup" in fig._suptitle.get_text()


def test_plot_schedules_dict_peak_lr_and_styles():
    schedules = {
        "linear": LinearWarmup(100),
        "exponential": ExponentialWarmup(300),
        "none": CosineDecay(500),
    }
    fig = plot_schedules(schedules, 500, peak_lr=3e-3, title="three schedules")
    (ax,) = fig.axes
    assert ax.get_ylabel() == "learning rate"
    lines = data_lines(ax, 500)
    assert len(lines) == 3
    assert len({(line.get_color(), line.get_linestyle()) for line in lines}) == 3
    assert max(line.get_ydata().max() for line in lines) == pytest.approx(3e-3)
    assert legend_texts(fig) == ["linear", "exponential", "none"]
    # Two schedules warm up (to different steps); the decay has no warmup marker.
    assert sorted(t.get_text() for t in warmup_markers(ax)) == [
        "end of warmup (step 100)",
        "end of warmup (step 300)",
    ]


def test_plot_schedules_log_and_both_scales():
    fig = plot_schedules({"exp": ExponentialWarmup(300, start=1e-3)}, 400, log_scale=True)
    assert fig.axes[0].get_yscale() == "log"
    assert fig.axes[0].get_ylim()[0] > 0
    fig = plot_schedules({"exp": ExponentialWarmup(300)}, 400, both_scales=True)
    assert [ax.get_yscale() for ax in fig.axes] == ["linear", "log"]
    assert all(len(warmup_markers(ax)) == 1 for ax in fig.axes)


def test_plot_schedules_warmup_override_and_plain_function():
    fig = plot_schedules(lambda step: min(1.0, (step + 1) / 50), 200, warmup_steps=50)
    (ax,) = fig.axes
    assert len(data_lines(ax, 200)) == 1
    assert [t.get_text() for t in warmup_markers(ax)] == ["end of warmup (step 50)"]


def test_plot_schedules_into_given_axes_keeps_the_figure_open():
    fig, axes = plt.subplots(1, 2)
    try:
        returned = plot_schedules(LinearWarmup(10), 100, ax=axes[1])
        assert returned is fig
        assert fig.number in plt.get_fignums()  # the caller's figure stays the caller's
        assert len(data_lines(axes[1], 100)) == 1
        assert data_lines(axes[0]) == []
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"schedules": {}}, ValueError, "schedules"),
        ({"schedules": 3}, TypeError, "schedules"),
        ({"total_steps": 0}, ValueError, "total_steps"),
        ({"total_steps": 10.5}, ValueError, "total_steps"),
        ({"peak_lr": -1.0}, ValueError, "peak_lr"),
        ({"log_scale": "yes"}, TypeError, "log_scale"),
        ({"warmup_steps": -5}, ValueError, "warmup_steps"),
        ({"ax": "left"}, TypeError, "ax"),
        ({"title": 5}, TypeError, "title"),
    ],
)
def test_plot_schedules_rejects_bad_input(kwargs, error, match):
    arguments = {"schedules": LinearWarmup(10), "total_steps": 100, **kwargs}
    with pytest.raises(error, match=match):
        plot_schedules(arguments.pop("schedules"), arguments.pop("total_steps"), **arguments)


def test_plot_schedules_both_scales_with_ax_is_refused():
    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError, match="both_scales"):
            plot_schedules(LinearWarmup(10), 100, both_scales=True, ax=ax)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------------------
# plot_history and plot_runs
# --------------------------------------------------------------------------------------------


def test_plot_history_from_frame():
    fig = plot_history(history_frame(), warmup_steps=20)
    loss_ax, lr_ax = fig.axes
    assert_labelled(lr_ax)
    assert "nats" in loss_ax.get_ylabel()
    assert lr_ax.get_ylabel() == "learning rate"
    assert lr_ax.get_xlabel() == "optimizer step"
    train_line, val_line = data_lines(loss_ax)
    assert len(train_line.get_xdata()) == 100
    assert list(val_line.get_xdata()) == list(range(9, 100, 10))  # only evaluated steps
    assert val_line.get_marker() == "o"
    assert len(warmup_markers(loss_ax)) == 1
    assert any("training loss" in t for t in legend_texts(fig))


def test_plot_history_other_metrics_get_their_own_panel_and_log_scale():
    fig = plot_history(
        history_frame(), metrics=("train_loss", "val_accuracy"), log_loss=True, title="run"
    )
    loss_ax, metric_ax, lr_ax = fig.axes
    assert loss_ax.get_yscale() == "log"
    assert metric_ax.get_ylabel() == "validation accuracy"
    assert fig.legends[0].get_title().get_text() == "run"
    fig = plot_history(history_frame(), lr=False, metrics="train_loss")
    (ax,) = fig.axes
    assert_labelled(ax)


def test_plot_history_marks_spikes_and_divergence():
    fig = plot_history(history_frame(spike_at=60))
    assert any(t.startswith("loss spikes (1") for t in legend_texts(fig))
    fig = plot_history(history_frame(diverge_at=40))
    assert "diverged at step 40 (training stopped)" in legend_texts(fig)
    history = FakeHistory(history_frame(diverge_at=30), diverged_at=30, config={"warmup_steps": 10})
    fig = plot_history(history)
    assert "diverged at step 30 (training stopped)" in legend_texts(fig)
    assert len(warmup_markers(fig.axes[0])) == 1  # from config


def test_plot_history_clips_runaway_losses():
    frame = history_frame()
    frame.loc[50, "train_loss"] = 1e6
    fig = plot_history(frame)
    top = fig.axes[0].get_ylim()[1]
    assert top < 30  # 10x the first loss (2.4), not 1e6
    assert any("drawn at the top edge" in t for t in legend_texts(fig))


def test_plot_history_real_run(real_history):
    fig = plot_history(real_history)
    loss_ax, lr_ax = fig.axes
    assert len(data_lines(loss_ax, 30)) == 1
    assert [t.get_text() for t in warmup_markers(loss_ax)] == [
        "end of warmup (step 10)"
    ]  # from History.config
    assert lr_ax.get_lines()[0].get_ydata().max() == pytest.approx(0.01)


def test_plot_history_rejects_bad_input():
    with pytest.raises(TypeError, match="history_or_frame"):
        plot_history([1, 2, 3])
    with pytest.raises(ValueError, match=r"no column 'val_f1'.*train_loss"):
        plot_history(history_frame(), metrics=("train_loss", "val_f1"))
    with pytest.raises(ValueError, match="empty"):
        plot_history(history_frame().iloc[:0])
    with pytest.raises(TypeError, match="metrics"):
        plot_history(history_frame(), metrics=[1])
    with pytest.raises(TypeError, match="spikes"):
        plot_history(history_frame(), spikes=1)
    with pytest.raises(ValueError, match="ylim"):
        plot_history(history_frame(), ylim=(3, 1))


def test_plot_runs_overlays_runs_with_lr_panel():
    runs = {
        "warmup": FakeHistory(history_frame(), config={"warmup_steps": 20}),
        "no warmup": FakeHistory(history_frame(diverge_at=30), diverged_at=30),
    }
    fig = plot_runs(runs, title="compare")
    loss_ax, lr_ax = fig.axes
    assert_labelled(lr_ax)
    assert "no warmup (diverged at step 30)" in legend_texts(fig)
    assert len(data_lines(lr_ax)) == 2
    assert len(warmup_markers(loss_ax)) == 1
    with pytest.raises(ValueError, match="empty"):
        plot_runs({})
    with pytest.raises(TypeError, match="histories"):
        plot_runs([runs["warmup"]])


# --------------------------------------------------------------------------------------------
# plot_seeds
# --------------------------------------------------------------------------------------------


def tidy_runs(diverge: bool = False) -> pd.DataFrame:
    pieces = []
    for condition, scale in (("no warmup", 1.2), ("warmup", 1.0)):
        for seed in range(3):
            frame = history_frame(60)[["step", "train_loss"]].copy()
            frame["train_loss"] *= scale + 0.05 * seed
            if diverge and condition == "no warmup" and seed > 0:
                frame.loc[frame["step"] >= 20 + seed, "train_loss"] = np.nan
            frame["condition"], frame["seed"] = condition, seed
            pieces.append(frame)
    return pd.concat(pieces, ignore_index=True)


def test_plot_seeds_thin_lines_and_bold_medians():
    fig = plot_seeds(tidy_runs(), warmup_steps=20)
    (ax,) = fig.axes
    assert_labelled(ax)
    lines = data_lines(ax, 60)
    assert len(lines) == 2 * 3 + 2
    medians = [line for line in lines if line.get_linewidth() > 2]
    assert len(medians) == 2
    assert {line.get_linestyle() for line in medians} == {"-", "--"}
    assert all(line.get_alpha() < 1 for line in lines if line not in medians)
    assert legend_texts(fig)[:2] == ["no warmup: median of 3 seeds", "warmup: median of 3 seeds"]
    assert len(warmup_markers(ax)) == 1


def test_plot_seeds_shows_diverged_runs_at_the_top():
    fig = plot_seeds(tidy_runs(diverge=True), ylim=(0, 5))
    (ax,) = fig.axes
    assert ax.get_ylim()[1] == pytest.approx(5 * 1.03)
    assert "no warmup: median of 3 seeds, 2/3 diverged" in legend_texts(fig)
    medians = [line for line in data_lines(ax) if line.get_linewidth() > 2]
    # Two of three seeds diverged, so from step 22 on the median is a failure, drawn at the top.
    assert medians[0].get_ydata()[-1] == pytest.approx(5.0)
    crosses = [
        line for line in ax.get_lines() if line.get_marker() == "x" and len(line.get_xdata()) == 1
    ]
    assert sorted(float(c.get_xdata()[0]) for c in crosses) == [21.0, 22.0]


def test_plot_seeds_reads_the_diverged_flag_of_experiment_frames():
    # warmup_lib.experiments frames flag a diverged run on every row; the trainer stopped at its
    # last step, whose loss is finite (above 10x the first loss), not NaN.
    frame = tidy_runs()
    frame["diverged"] = False
    stopped = (frame["condition"] == "warmup") & (frame["seed"] == 1)
    frame = frame[~stopped | (frame["step"] <= 30)].copy()
    frame.loc[stopped & (frame["step"] == 30), "train_loss"] = 40.0
    frame.loc[stopped, "diverged"] = True
    fig = plot_seeds(frame)
    assert "warmup: median of 3 seeds, 1/3 diverged" in legend_texts(fig)
    crosses = [
        line
        for line in fig.axes[0].get_lines()
        if line.get_marker() == "x" and len(line.get_xdata()) == 1
    ]
    assert [float(c.get_xdata()[0]) for c in crosses] == [30.0]


def test_plot_seeds_from_histories_and_log_axis():
    runs = {
        "a": [FakeHistory(history_frame(40), config={"seed": s}) for s in range(2)],
        "b": [FakeHistory(history_frame(40, diverge_at=10), diverged_at=10, config={"seed": 0})],
    }
    fig = plot_seeds(runs, log_y=True)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert "b: median of 1 seed, 1/1 diverged" in legend_texts(fig)


def test_plot_seeds_other_columns_and_label_by():
    frame = tidy_runs().rename(columns={"condition": "schedule"})
    fig = plot_seeds(frame, label_by="schedule", column="train_loss")
    assert len(data_lines(fig.axes[0], 60)) == 8
    histories = {"x": [FakeHistory(history_frame(50))]}
    fig = plot_seeds(histories, column="val_accuracy")
    assert "accuracy" in fig.axes[0].get_ylabel()
    assert len(data_lines(fig.axes[0], 5)) == 2  # evaluated every 10 steps: 5 points


def test_plot_seeds_rejects_bad_input():
    with pytest.raises(ValueError, match=r"no column 'condition'.*seed"):
        plot_seeds(tidy_runs().drop(columns="condition"))
    with pytest.raises(ValueError, match="no column 'val_f1'"):
        plot_seeds(tidy_runs(), column="val_f1")
    with pytest.raises(ValueError, match="empty"):
        plot_seeds({})
    with pytest.raises(TypeError, match="runs"):
        plot_seeds([1, 2])
    with pytest.raises(TypeError, match=r"runs\['a'\]"):
        plot_seeds({"a": "history"})


# --------------------------------------------------------------------------------------------
# plot_stability_frontier
# --------------------------------------------------------------------------------------------


def frontier_table() -> pd.DataFrame:
    rows = []
    for lr in (0.1, 0.3, 1.0):
        for warmup in (0, 10, 100):
            ok = 5 if lr < 0.3 or (lr == 0.3 and warmup > 0) or (lr == 1.0 and warmup == 100) else 1
            rows.append(
                {
                    "peak_lr": lr,
                    "warmup_steps": warmup,
                    "success_rate": ok / 5,
                    "n_seeds": 5,
                    "final_loss": 0.05 if ok == 5 else 2.3,
                }
            )
    return pd.DataFrame(rows)


def test_plot_stability_frontier_annotates_every_cell():
    fig = plot_stability_frontier(frontier_table(), title="grid")
    ax, colorbar_ax = fig.axes
    assert ax.get_xlabel() == "warmup length (optimizer steps)"
    assert ax.get_ylabel() == "peak learning rate"
    assert colorbar_ax.get_ylabel() == "fraction of seeds that trained successfully"
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9
    assert set(texts) == {"5/5", "1/5"}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.1", "0.3", "1"]
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert (
        colours["5/5"] == "black" and colours["1/5"] == "white"
    )  # readable on yellow and on purple


def test_plot_stability_frontier_per_seed_rows_loss_and_missing_cells():
    seeds = pd.DataFrame(
        [{"peak_lr": 0.1, "warmup_steps": 0, "success": s < 3} for s in range(4)]
        + [{"peak_lr": 1.0, "warmup_steps": 10, "success": True}]
    )
    seeds["success"] = seeds["success"].astype(float)
    fig = plot_stability_frontier(seeds, value="success")
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1/1", "3/4", "–", "–"]
    fig = plot_stability_frontier(frontier_table(), value="final_loss", cmap="cividis")
    assert "nats" in fig.axes[1].get_ylabel()


def test_plot_stability_frontier_rejects_bad_input():
    with pytest.raises(TypeError, match="table"):
        plot_stability_frontier({"peak_lr": [0.1]})
    with pytest.raises(ValueError, match=r"no column 'success_rate'.*peak_lr"):
        plot_stability_frontier(frontier_table().drop(columns="success_rate"))
    bad = frontier_table()
    bad.loc[0, "peak_lr"] = 0.0
    with pytest.raises(ValueError, match="peak_lr"):
        plot_stability_frontier(bad)
    with pytest.raises(ValueError, match="no numbers"):
        plot_stability_frontier(frontier_table().assign(success_rate="high"))


# --------------------------------------------------------------------------------------------
# plot_lr_sensitivity
# --------------------------------------------------------------------------------------------


def sensitivity_runs() -> pd.DataFrame:
    """One row per run, as summarize_runs gives: without warmup the two top LRs fail."""
    rows = []
    for warmup in (0, 60):
        for lr in (1e-3, 3e-3, 1e-2, 3e-2):
            for seed in range(5):
                loss = 0.8 + 0.01 * seed
                if lr >= 1e-2 and warmup == 0:
                    loss = 3.07
                if lr == 3e-2 and warmup == 60:
                    loss = math.inf if seed < 2 else 2.9
                rows.append(
                    {"peak_lr": lr, "warmup_steps": warmup, "seed": seed, "final_val_loss": loss}
                )
    return pd.DataFrame(rows)


def test_plot_lr_sensitivity_draws_median_band_seeds_and_references():
    fig = plot_lr_sensitivity(
        sensitivity_runs(), reference={"best possible loss": 0.79, "unigram loss": 3.07}
    )
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "peak learning rate (log scale)"
    assert ax.get_ylabel() == "final validation loss (cross-entropy, nats)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.003", "0.01", "0.03"]
    medians = [line for line in ax.get_lines() if len(line.get_xdata()) == 4]
    assert len(medians) == 2
    no_warmup, warmup = (np.asarray(line.get_ydata()) for line in medians)
    np.testing.assert_allclose(no_warmup, [0.82, 0.82, 3.07, 3.07])
    np.testing.assert_allclose(warmup[:3], [0.82, 0.82, 0.82])
    assert warmup[3] == pytest.approx(2.9)  # 3 of 5 seeds at 2.9, 2 diverged (inf)
    assert medians[0].get_color() != medians[1].get_color()
    assert medians[0].get_linestyle() != medians[1].get_linestyle()
    references = sorted(line.get_ydata()[0] for line in ax.get_lines() if len(line.get_xdata()) == 2)
    assert references == [0.79, 3.07]
    texts = legend_texts(fig)
    assert "no warmup: median, 5 seeds" in texts and "warmup 60 steps: median, 5 seeds" in texts
    assert "min–max over seeds" in texts and "one seed" in texts
    assert "a seed diverged (drawn at the top edge)" in texts
    assert "unigram loss (3.07)" in texts
    # 40 runs: 38 finite dots, 2 diverged crosses at the top edge
    dots = sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets"))
    assert dots >= 40
    assert ax.get_ylim()[1] > 3.07


def test_plot_lr_sensitivity_from_the_sweep_table_and_iqr_and_bad_input():
    runs = sensitivity_runs()
    table = (
        runs.groupby(["peak_lr", "warmup_steps"])["final_val_loss"]
        .agg(["median", "min", "max", "size"])
        .add_suffix("_final_val_loss")
        .rename(columns={"size_final_val_loss": "n_seeds"})
        .reset_index()
    )
    fig = plot_lr_sensitivity(table, reference=0.79, title="sweep table")
    assert "reference (0.79)" in legend_texts(fig)
    fig, ax = plt.subplots()
    assert plot_lr_sensitivity(runs, spread="iqr", ax=ax) is fig
    assert "interquartile range over seeds" in legend_texts(fig)
    plt.close(fig)
    with pytest.raises(TypeError, match="table"):
        plot_lr_sensitivity(runs.to_dict())
    with pytest.raises(ValueError, match="spread"):
        plot_lr_sensitivity(runs, spread="std")
    with pytest.raises(ValueError, match="iqr"):
        plot_lr_sensitivity(table, spread="iqr")
    with pytest.raises(ValueError, match="final_train_loss"):
        plot_lr_sensitivity(runs, value="final_train_loss")
    with pytest.raises(ValueError, match="peak_lr"):
        plot_lr_sensitivity(runs.assign(peak_lr=0.0))
    with pytest.raises(ValueError, match="reference"):
        plot_lr_sensitivity(runs, reference=math.nan)


def tick_texts(axis) -> list[str]:
    """The tick labels a reader sees on a y axis: non-empty, inside the shown range, bottom up."""
    axis.axes.figure.canvas.draw()
    low, high = sorted(axis.get_view_interval())
    labels = axis.get_majorticklabels() + axis.get_minorticklabels()
    shown = [
        (label.get_position()[1], label.get_text())
        for label in labels
        if label.get_text() and low * (1 - 1e-9) <= label.get_position()[1] <= high * (1 + 1e-9)
    ]
    return [text for _, text in sorted(shown)]


def test_log_loss_axes_read_as_plain_numbers():
    fig = plot_lr_sensitivity(sensitivity_runs(), log_y=True)
    texts = tick_texts(fig.axes[0].yaxis)
    assert "1" in texts and "2" in texts, texts
    assert not any("10^" in t or "$" in t or "e-" in t or "e\u2212" in t for t in texts), texts
    runs = {"a": [FakeHistory(history_frame(40), config={"seed": 0})]}
    fig = plot_seeds(runs, log_y=True)
    texts = tick_texts(fig.axes[0].yaxis)
    assert texts and not any("$" in t or "10^" in t for t in texts), texts
    plt.close("all")


def test_minor_log_ticks_are_thinned_on_wide_axes():
    fig = plot_lr_sensitivity(sensitivity_runs(), log_y=True)
    ax = fig.axes[0]
    ax.set_ylim(0.01, 100)
    wide = tick_texts(ax.yaxis)
    if wide != ["0.01", "0.1", "1", "10", "100"]:
        plt.close(fig)
    assert wide == ["0.01", "0.1", "1", "10", "100"], wide
    ax.set_ylim(0.6, 5)
    texts = tick_texts(ax.yaxis)
    plt.close(fig)
    assert "0.7" not in texts and {"1", "2", "3", "5"} <= set(texts), texts


# --------------------------------------------------------------------------------------------
# Imbalanced classification
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fraud_scores():
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.02).astype(int)
    scores = 1 / (1 + np.exp(-(rng.normal(-4, 1.2, y.size) + 3.5 * y)))
    return y, scores


def test_plot_confusion_matrix_counts_match_sklearn(fraud_scores):
    y, scores = fraud_scores
    predicted = scores >= 0.5
    fig = plot_confusion_matrix(y, predicted)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["legitimate", "fraud"]
    expected = confusion_matrix(y, predicted)
    shown = [int(t.get_text().replace(",", "")) for t in ax.texts]
    assert shown == expected.ravel().tolist()


def test_plot_confusion_matrix_normalized_shows_fraction_and_count(fraud_scores):
    y, scores = fraud_scores
    fig = plot_confusion_matrix(y, scores >= 0.1, normalize="true", labels=None)
    counts = confusion_matrix(y, scores >= 0.1)
    first = fig.axes[0].texts[0].get_text()
    assert first == f"{counts[0, 0] / counts[0].sum():.2f}\n({counts[0, 0]:,})"
    # Classes missing from the data still get their row: a model that flags nothing.
    fig = plot_confusion_matrix([0, 0, 1], [0, 0, 0])
    assert len(fig.axes[0].texts) == 4


def test_plot_confusion_matrix_colours_rates_per_true_class_not_counts():
    # 9,990 legitimate rows, 10 frauds of which 5 are caught: by counts the fraud row would be
    # near-white whatever the model did; by row rates its two cells are both half-coloured.
    y = np.array([0] * 10_000 + [1] * 10)
    predicted = np.array([0] * 9_990 + [1] * 10 + [1] * 5 + [0] * 5)
    fig = plot_confusion_matrix(y, predicted)
    image = fig.axes[0].images[0]
    np.testing.assert_allclose(np.asarray(image.get_array()), [[0.999, 0.001], [0.5, 0.5]])
    assert image.get_clim() == (0.0, 1.0)
    # The counts are still what the cells say, in a colour that reads on their cell.
    texts = fig.axes[0].texts
    assert [t.get_text() for t in texts] == ["9,990", "10", "5", "5"]
    assert (texts[0].get_color(), texts[1].get_color()) == ("white", "black")
    # normalize= chooses what the colours (and the fractions shown) are shares of.
    fig = plot_confusion_matrix(y, predicted, normalize="pred", colorbar=True)
    np.testing.assert_allclose(
        np.asarray(fig.axes[0].images[0].get_array()), [[9990 / 9995, 10 / 15], [5 / 9995, 5 / 15]]
    )
    assert fig.axes[1].get_ylabel() == "share of the predicted class (column)"
    # A class with no rows gets rates of 0, not NaN (nothing to colour).
    fig = plot_confusion_matrix([0, 0, 0], [0, 1, 0])
    assert np.isfinite(np.asarray(fig.axes[0].images[0].get_array())).all()


def test_plot_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        plot_confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="labels"):
        plot_confusion_matrix([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="normalize"):
        plot_confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(TypeError, match="colorbar"):
        plot_confusion_matrix([0, 1], [0, 1], colorbar="yes")
    with pytest.raises(ValueError, match="y_true"):
        plot_confusion_matrix([], [])


def test_plot_pr_curve_chance_line_ap_and_operating_points(fraud_scores):
    y, scores = fraud_scores
    weak = scores + np.random.default_rng(1).normal(0, 0.2, scores.size)
    fig = plot_pr_curve(y, {"model": scores, "weak": weak}, operating_point={"model": [0.5, 0.1]})
    ax = fig.axes[0]
    assert_labelled(ax)
    texts = legend_texts(fig)
    assert texts[0] == f"model (AP = {average_precision_score(y, scores):.3f})"
    assert texts[2] == f"chance = base rate {y.mean():.3g}"
    chance = [line for line in ax.get_lines() if line.get_linestyle() == ":"][0]
    assert chance.get_ydata()[0] == pytest.approx(y.mean())
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(dots) == 2
    predicted = scores >= 0.1
    recall = (predicted & (y == 1)).sum() / y.sum()
    assert any(dot.get_xdata()[0] == pytest.approx(recall) for dot in dots)


def test_plot_pr_curve_rejects_bad_input(fraud_scores):
    y, scores = fraud_scores
    with pytest.raises(ValueError, match="y_true must contain only 0 and 1"):
        plot_pr_curve(y * 2, scores)
    with pytest.raises(ValueError, match="one score per label"):
        plot_pr_curve(y, scores[:-1])
    with pytest.raises(ValueError, match="no positive"):
        plot_pr_curve(np.zeros(10, dtype=int), np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="NaN"):
        plot_pr_curve(y, np.where(y == 1, np.nan, scores))
    with pytest.raises(TypeError, match="operating_point"):
        plot_pr_curve(y, scores, operating_point="high")


def brute_force_cost(y, scores, threshold, cost_fp, cost_fn):
    flagged = scores >= threshold
    return cost_fp * np.sum(flagged & (y == 0)) + cost_fn * np.sum(~flagged & (y == 1))


def test_plot_cost_vs_threshold_marks_minimum_and_bayes(fraud_scores):
    y, scores = fraud_scores
    fig = plot_cost_vs_threshold(y, scores, cost_fp=1, cost_fn=50, mark=0.5)
    ax = fig.axes[0]
    assert_labelled(ax)
    assert ax.get_xscale() == "log"  # the Bayes threshold 0.0196 is far below 0.1
    assert ax.get_ylabel() == "total cost = 1·FP + 50·FN"
    best = min(brute_force_cost(y, scores, t, 1, 50) for t in [*np.unique(scores), 2.0])
    texts = legend_texts(fig)
    assert any(
        t.startswith(f"lowest cost {best:,.0f}") or t.startswith(f"lowest cost {best:.3g}")
        for t in texts
    )
    assert any(t.startswith("Bayes threshold c_FP/(c_FP+c_FN) = 0.0196") for t in texts)
    assert any(t.startswith("threshold 0.5: cost") for t in texts)
    fig = plot_cost_vs_threshold(y, scores, log_x=False)
    assert fig.axes[0].get_xscale() == "linear"


@settings(max_examples=15, deadline=None)
@given(
    labels=st.lists(st.integers(0, 1), min_size=0, max_size=40),
    seed=st.integers(0, 1000),
    cost_fn=st.floats(0.5, 100),
)
def test_cost_curve_minimum_matches_brute_force(labels, seed, cost_fn):
    y = np.array([0, 1, *labels])
    scores = np.round(np.random.default_rng(seed).random(y.size), 2)  # ties on purpose
    fig = plot_cost_vs_threshold(y, scores, cost_fp=1.0, cost_fn=cost_fn, log_x=False)
    minimum = min(brute_force_cost(y, scores, t, 1.0, cost_fn) for t in [*np.unique(scores), 2.0])
    dot = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"][0]
    assert dot.get_ydata()[0] == pytest.approx(minimum)
    plt.close("all")


def test_plot_cost_vs_threshold_rejects_bad_input(fraud_scores):
    y, scores = fraud_scores
    with pytest.raises(ValueError, match="cost_fn"):
        plot_cost_vs_threshold(y, scores, cost_fn=-1)
    with pytest.raises(ValueError, match="cost_fp"):
        plot_cost_vs_threshold(y, scores, cost_fp=0)
    with pytest.raises(ValueError, match="both classes"):
        plot_cost_vs_threshold(np.ones(5, dtype=int), np.linspace(0, 1, 5))
    with pytest.raises(TypeError, match="log_x"):
        plot_cost_vs_threshold(y, scores, log_x="auto")
    with pytest.raises(TypeError, match="mark"):
        plot_cost_vs_threshold(y, scores, mark="best")


# --------------------------------------------------------------------------------------------
# Update size, sharpness, epoch averages
# --------------------------------------------------------------------------------------------


def test_plot_update_ratio(real_history):
    runs = {"no warmup": history_frame(), "real": real_history}
    fig = plot_update_ratio(runs, warmup_steps=20, max_step=50)
    (ax,) = fig.axes
    assert_labelled(ax)
    assert ax.get_yscale() == "log"
    assert "‖Δw‖ / ‖w‖" in ax.get_ylabel()
    assert len(data_lines(ax)) == 2
    assert max(data_lines(ax)[0].get_xdata()) == 50
    assert len(warmup_markers(ax)) == 1
    with pytest.raises(ValueError, match="no column 'update_ratio'"):
        plot_update_ratio(history_frame().drop(columns="update_ratio"))


def test_plot_sharpness_shades_unstable_steps():
    steps = np.arange(0, 100, 5)
    lrs = 1.6 * np.minimum(1, (steps + 1) / 50)
    sharpness = np.minimum(5 * np.exp(steps / 30), 2 / lrs)
    sharpness[10] = 2 / lrs[10] * 1.5
    fig = plot_sharpness(steps, sharpness, lrs, warmup_steps=50)
    (ax,) = fig.axes
    assert_labelled(ax)
    assert ax.get_yscale() == "log"
    assert "unstable: sharpness > 2 / lr" in legend_texts(fig)
    fig = plot_sharpness(
        steps, np.ones(steps.size), 0.1, log_y=False
    )  # a constant LR; always stable
    assert "unstable: sharpness > 2 / lr" not in legend_texts(fig)
    with pytest.raises(ValueError, match="sharpness"):
        plot_sharpness(steps, sharpness[:-1], lrs)
    with pytest.raises(ValueError, match="lrs"):
        plot_sharpness(steps, sharpness, lrs[:3])


def test_plot_epoch_vs_step_shows_both_granularities(real_history):
    fig = plot_epoch_vs_step(history_frame(spike_at=40))
    (ax,) = fig.axes
    assert_labelled(ax)
    texts = legend_texts(fig)
    # The legend compares the spike, not the loss at step 0 (the highest value of a falling curve).
    frame = history_frame(spike_at=40)
    jump = 3.0 - frame["train_loss"][39]
    assert texts[0] == f"logged every step (biggest jump +{jump:.3g} at step 40)"
    assert texts[1] == "epoch average (never rises)", "averaged over its epoch, this spike disappears"
    frame.loc[40, "train_loss"] = 30.0  # a spike big enough to lift its epoch's average
    epoch_means = frame.groupby("epoch")["train_loss"].mean()
    epoch_jump = epoch_means.diff().max()
    texts = legend_texts(plot_epoch_vs_step(frame))
    assert texts[1] == f"epoch average (biggest jump +{epoch_jump:.3g} at epoch {epoch_means.diff().idxmax()})"
    assert epoch_jump < (30.0 - frame["train_loss"][39]) / 5, "the epoch average dilutes the spike"
    smooth = plot_epoch_vs_step(history_frame().assign(train_loss=np.linspace(2.3, 0.1, 100)))
    assert legend_texts(smooth) == ["logged every step (never rises)", "epoch average (never rises)"]
    fig = plot_epoch_vs_step(history_frame().drop(columns="epoch"), steps_per_epoch=25)
    assert len(fig.axes[0].patches) == 1  # the stairs
    assert isinstance(plot_epoch_vs_step(real_history), Figure)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        plot_epoch_vs_step(history_frame().drop(columns="epoch"))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        plot_epoch_vs_step(history_frame(), steps_per_epoch=0)


def test_inputs_may_be_torch_tensors(fraud_scores):
    y, scores = fraud_scores
    tensor_scores = torch.tensor(scores, requires_grad=True)
    fig = plot_pr_curve(torch.tensor(y), tensor_scores)
    assert isinstance(fig, Figure)
    assert math.isclose(float(fig.axes[0].get_lines()[-1].get_ydata()[0]), y.mean())


def test_module_does_not_switch_the_backend():
    import importlib

    backend = plt.get_backend()
    importlib.reload(plotting)
    assert plt.get_backend() == backend


# --------------------------------------------------------------------------------------------
# Runs side by side, spikes in their curve's colour, sharpness of many runs, the u·v model
# --------------------------------------------------------------------------------------------


def _spike_markers(ax: Any) -> list[Any]:
    return [line for line in ax.get_lines() if line.get_marker() == "^"]


def test_plot_history_marks_spikes_in_the_colour_of_their_curve():
    fig = plot_history(history_frame(spike_at=60))
    loss_ax = fig.axes[0]
    (markers,) = _spike_markers(loss_ax)
    training_loss = next(line for line in loss_ax.get_lines() if len(line.get_xdata()) == 100)
    assert markers.get_color() == training_loss.get_color()
    assert list(markers.get_xdata()) == [60]


def test_plot_histories_puts_runs_side_by_side_on_shared_axes():
    runs = {"no warmup": history_frame(diverge_at=30), "warmup": history_frame(spike_at=60)}
    fig = plotting.plot_histories(
        runs,
        metrics=("train_loss", "val_loss", "val_accuracy"),
        warmup_steps={"no warmup": None, "warmup": 20},
        ylim=(0, 4),
        title="side by side",
    )
    assert len(fig.axes) == 6  # 3 rows (loss, accuracy, LR) x 2 runs
    loss_left, loss_right = fig.axes[0], fig.axes[1]
    assert [loss_left.get_title(), loss_right.get_title()] == ["no warmup", "warmup"]
    assert loss_left.get_ylim() == loss_right.get_ylim()  # shared y within a row
    assert loss_left.get_xlim() == loss_right.get_xlim()  # shared steps: the short run looks short
    assert not warmup_markers(loss_left) and len(warmup_markers(loss_right)) == 1
    assert "diverged at step 30 (training stopped)" in legend_texts(fig)
    assert len(_spike_markers(loss_right)) == 1
    assert fig.get_suptitle() == "side by side"
    assert_labelled(fig.axes[4])


def test_plot_histories_reads_each_runs_warmup_from_its_config_and_rejects_bad_input():
    runs = {
        "a": FakeHistory(history_frame(), config={"warmup_steps": 10}),
        "b": FakeHistory(history_frame(), config={}),
    }
    fig = plotting.plot_histories(runs)
    assert len(warmup_markers(fig.axes[0])) == 1 and not warmup_markers(fig.axes[1])
    with pytest.raises(ValueError, match="not in histories"):
        plotting.plot_histories(runs, warmup_steps={"c": 5})
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_histories({})
    with pytest.raises(TypeError, match="dict"):
        plotting.plot_histories([history_frame()])
    with pytest.raises(ValueError, match=r"histories\['a'\] has no column 'val_f1'"):
        plotting.plot_histories(runs, metrics=("train_loss", "val_f1"))


def _unstable_regions(ax: Any) -> list[Any]:
    return [c for c in ax.collections if c.get_label() == "unstable region: above 2 / lr"]


def test_plot_sharpness_always_shows_the_unstable_region_above_the_threshold():
    steps = np.arange(0, 100, 5)
    fig = plot_sharpness(steps, np.full(steps.size, 0.5), 0.1, log_y=True)  # never unstable
    (ax,) = fig.axes
    (region,) = _unstable_regions(ax)
    bottom_of_region = region.get_paths()[0].vertices[:, 1].min()
    assert bottom_of_region == pytest.approx(20.0)  # 2 / lr: the region starts at the threshold
    assert ax.get_ylim()[1] > 20.0  # ... and the region is inside the visible axes
    assert "unstable region: above 2 / lr" in legend_texts(fig)


def _sharpness_table() -> pd.DataFrame:
    steps = np.arange(0, 101, 10)
    rows = []
    for condition, schedule in (("no warmup", np.ones(steps.size)), ("warmup", np.minimum(1, steps / 50))):
        for seed in range(3):
            lr = 1.6 * schedule
            sharpness = 0.2 + 10 * np.exp(-((steps - 60) / 15) ** 2) + 0.01 * seed
            keep = steps <= (30 if condition == "no warmup" and seed == 0 else 100)  # seed 0 diverged
            rows.append(
                pd.DataFrame(
                    {"condition": condition, "seed": seed, "step": steps[keep], "lr": lr[keep], "sharpness": sharpness[keep]}
                )
            )
    return pd.concat(rows, ignore_index=True)


def test_plot_sharpness_runs_draws_one_panel_per_condition_with_the_unstable_region():
    fig = plotting.plot_sharpness_runs(_sharpness_table(), warmup_steps={"warmup": 50}, title="sharpness")
    left, right = fig.axes
    assert [left.get_title(), right.get_title()] == ["no warmup", "warmup"]
    assert left.get_ylim() == right.get_ylim() and left.get_yscale() == "log"
    assert _unstable_regions(left) and _unstable_regions(right)
    assert len(warmup_markers(right)) == 1 and not warmup_markers(left)
    texts = legend_texts(fig)
    assert "unstable: sharpness > 2 / lr" in texts
    assert "run diverged (measured no further)" in texts  # seed 0 of "no warmup" stops early
    diverged = [line for line in left.get_lines() if line.get_marker() == "X"]
    assert len(diverged) == 1 and list(diverged[0].get_xdata()) == [30]
    assert_labelled(left)


def test_plot_sharpness_runs_rejects_bad_input():
    with pytest.raises(ValueError, match="no column 'lr'"):
        plotting.plot_sharpness_runs(_sharpness_table().drop(columns="lr"))
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_sharpness_runs(_sharpness_table().iloc[:0])
    with pytest.raises(ValueError, match="no finite sharpness"):
        plotting.plot_sharpness_runs(_sharpness_table().assign(sharpness=-1.0))


def test_plot_uv_descent_marks_where_a_run_leaves_and_where_one_ends():
    from warmup_lib import uv_model

    lrs_high = np.full(30, 0.7)
    lrs_warm = 0.7 * np.minimum(1, np.arange(160) / 80)
    runs = {
        "no warmup": [uv_model.descend((2.8, -0.1), lrs_high, noise=0.01)],
        "warmup": [uv_model.descend((2.8, -0.1), lrs_warm, noise=0.01)],
    }
    extent = (-0.25, 3.5, -1.25, 2.5)
    fig = plotting.plot_uv_descent(runs, peak_lr=0.7, extent=extent, title="u·v")
    left, right = [ax for ax in fig.axes if ax.get_title()]
    (exit_marker,) = [line for line in left.get_lines() if line.get_marker() == "X"]
    u, v = exit_marker.get_xdata()[0], exit_marker.get_ydata()[0]
    on_border = np.isclose([u, u, v, v], extent).any()
    assert on_border, f"the divergence mark should sit on the picture's border, got ({u}, {v})"
    (end_marker,) = [line for line in right.get_lines() if line.get_marker() == "*"]
    end = runs["warmup"][0].iloc[-1]
    assert (end_marker.get_xdata()[0], end_marker.get_ydata()[0]) == pytest.approx((end["u"], end["v"]))
    assert left.get_xlabel() == "weight u" and left.get_ylabel() == "weight v"
    assert any("flat enough for LR 0.7" in t for t in legend_texts(fig))


def test_plot_uv_descent_rejects_bad_input():
    from warmup_lib import uv_model

    run = uv_model.descend((2.8, -0.1), np.full(5, 0.1))
    with pytest.raises(TypeError, match="list of uv_model.descend frames"):
        plotting.plot_uv_descent({"a": run}, peak_lr=0.7)
    with pytest.raises(ValueError, match="peak_lr"):
        plotting.plot_uv_descent({"a": [run]}, peak_lr=0.0)
    with pytest.raises(ValueError, match="u_min < u_max"):
        plotting.plot_uv_descent({"a": [run]}, peak_lr=0.7, extent=(1, 0, 0, 1))
    with pytest.raises(ValueError, match="no column 'diverged'"):
        plotting.plot_uv_descent({"a": [run.drop(columns="diverged")]}, peak_lr=0.7)
