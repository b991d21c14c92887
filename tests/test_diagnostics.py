"""Tests for warmup_lib.diagnostics: spikes, divergence, overfitting, run summaries, sharpness."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from warmup_lib.diagnostics import (
    RunSummary,
    find_divergence,
    find_spikes,
    overfitting_onset,
    sharpness,
    stability_threshold,
    summarize_run,
    track_sharpness,
)

torch.set_num_threads(1)


def decaying(
    n: int = 200, *, start: float = 2.3, floor: float = 0.1, tau: float = 40.0
) -> np.ndarray:
    """A smooth loss curve falling from ``start`` towards ``floor``."""
    return floor + (start - floor) * np.exp(-np.arange(n) / tau)


class FakeHistory:
    """Stands in for warmup_lib.training.History: only to_frame() and diverged_at are used."""

    def __init__(self, frame: pd.DataFrame, diverged_at: int | None = None) -> None:
        self._frame = frame
        self.diverged_at = diverged_at
        self.diverged = diverged_at is not None

    def to_frame(self) -> pd.DataFrame:
        return self._frame.copy()


def history_frame(train: np.ndarray, val: np.ndarray | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"step": np.arange(len(train)), "lr": 0.1, "train_loss": train})
    frame["val_loss"] = np.nan if val is None else val
    return frame


# ------------------------------------------------------------------------------------ spikes


def test_seed_pattern_is_one_spike_of_size_one_and_a_half() -> None:
    spikes = find_spikes([0.8, 1.2, 0.9], window=1)
    assert len(spikes) == 1
    row = spikes.iloc[0]
    assert row["step"] == 1 and row["start_step"] == 1 and row["end_step"] == 1
    assert row["loss_before"] == 0.8 and row["peak_loss"] == 1.2 and row["baseline"] == 0.8
    assert row["size"] == pytest.approx(1.5)
    assert row["rise"] == pytest.approx(0.4)
    assert math.isnan(row["recovered_step"])  # 0.9 never gets back to 0.8


def test_seed_pattern_inside_a_falling_curve_is_found_at_the_right_step() -> None:
    losses = np.r_[
        decaying(40, start=2.3, floor=0.75, tau=6.0), 1.2, 0.9, decaying(30, start=0.8, floor=0.5)
    ]
    spikes = find_spikes(losses)
    assert spikes["step"].tolist() == [40]
    row = spikes.iloc[0]
    assert row["loss_before"] == pytest.approx(losses[39])
    assert row["size"] > 1.5
    # Recovered once the loss is back at the pre-spike level, not merely below the peak.
    back = np.flatnonzero(losses[41:] <= row["baseline"])[0] + 41
    assert row["recovered_step"] == back
    assert back > 42


def test_recovered_step_is_first_step_back_at_the_baseline() -> None:
    losses = [1.0] * 10 + [3.0, 2.0, 1.5, 1.2, 1.0, 0.9]
    row = find_spikes(losses).iloc[0]
    # 2.0 and 1.5 are still above the line 1.0 + 0.5; 1.2 is below it but above the baseline.
    assert (row["start_step"], row["step"], row["end_step"]) == (10, 10, 12)
    assert row["recovered_step"] == 14


def test_consecutive_high_steps_are_one_spike_peaking_at_the_maximum() -> None:
    losses = np.r_[np.full(15, 1.0), 2.0, 4.0, 3.0, np.full(10, 1.0)]
    spikes = find_spikes(losses)
    assert len(spikes) == 1
    assert spikes.iloc[0][["start_step", "step", "end_step"]].tolist() == [15, 16, 17]
    assert spikes.iloc[0]["size"] == pytest.approx(4.0)


def test_two_separate_spikes() -> None:
    losses = decaying(120, start=2.0, floor=0.5, tau=30.0)
    losses[40] *= 2.0
    losses[90] *= 1.8
    spikes = find_spikes(losses)
    assert spikes["step"].tolist() == [40, 90]
    assert spikes["recovered_step"].tolist() == [41, 91]
    assert (spikes["size"] > 1.5).all()


@pytest.mark.parametrize("seed", range(5))
def test_noisy_exponential_decay_has_no_spikes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    clean = decaying(400, start=2.3, floor=0.1, tau=50.0)
    multiplicative = clean * (1 + 0.1 * rng.standard_normal(400))
    additive = decaying(400, start=2.3, floor=0.3, tau=5.0) + 0.05 * rng.standard_normal(400)
    assert find_spikes(multiplicative).empty
    assert find_spikes(additive).empty


def test_noise_term_raises_the_bar_on_a_noisy_plateau() -> None:
    # 20 % noise: a +50 % rise is only 2.5 standard deviations, so the relative rule alone fires.
    plateaus = [3.0 + 0.6 * np.random.default_rng(seed).standard_normal(300) for seed in range(10)]
    relative_only = sum(len(find_spikes(p, noise_sigmas=0.0)) for p in plateaus)
    with_noise = sum(len(find_spikes(p)) for p in plateaus)
    assert relative_only >= 20
    assert with_noise <= 0.1 * relative_only


def test_min_rise_ignores_needles_too_small_to_see() -> None:
    losses = np.r_[decaying(100, start=2.3, floor=0.001, tau=10.0)]
    losses[80] = 0.01  # ten times the level, but 0.4 % of the starting loss
    assert find_spikes(losses).empty
    assert find_spikes(losses, min_rise=0.0)["step"].tolist() == [80]


@pytest.mark.parametrize("losses", [[], [1.0], [0.8, 1.2, 0.9], list(range(10, 0, -1))])
def test_too_short_gives_an_empty_table_with_the_columns(losses: list[float]) -> None:
    spikes = find_spikes(losses)  # default window is 10
    assert spikes.empty
    assert list(spikes.columns) == [
        "step",
        "start_step",
        "end_step",
        "baseline",
        "loss_before",
        "peak_loss",
        "size",
        "rise",
        "recovered_step",
    ]


@pytest.mark.parametrize("value", [0.0, 1.0, 5.0])
def test_flat_series_has_no_spikes(value: float) -> None:
    assert find_spikes(np.full(50, value)).empty


def test_nan_and_inf_are_skipped() -> None:
    losses = np.r_[np.full(12, 1.0), np.nan, 1.0, np.inf, 1.0, 2.5, np.full(5, 1.0)]
    spikes = find_spikes(losses)
    assert spikes["step"].tolist() == [16]  # labels stay the original steps
    assert find_spikes(np.full(30, np.nan)).empty


def test_steps_come_from_argument_series_index_or_frame() -> None:
    losses = np.r_[np.full(12, 1.0), 2.0, np.full(5, 1.0)]
    steps = np.arange(len(losses)) * 10
    assert find_spikes(losses, steps=steps)["step"].tolist() == [120]
    assert find_spikes(pd.Series(losses, index=steps))["step"].tolist() == [120]
    frame = history_frame(losses).assign(step=steps)
    assert find_spikes(frame)["step"].tolist() == [120]
    assert find_spikes(FakeHistory(frame))["step"].tolist() == [120]
    assert find_spikes(torch.tensor(losses))["step"].tolist() == [12]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.01, 10.0), min_size=15, max_size=60),
    st.floats(0.01, 100.0),
)
def test_spikes_do_not_depend_on_the_scale_of_the_loss(losses: list[float], scale: float) -> None:
    losses_array = np.asarray(losses)
    original = find_spikes(losses_array)
    scaled = find_spikes(losses_array * scale)
    assert original["step"].tolist() == scaled["step"].tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=60))
def test_a_curve_that_never_rises_has_no_spikes(losses: list[float]) -> None:
    assert find_spikes(sorted(losses, reverse=True), window=3).empty


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"window": -1}, ValueError, "window"),
        ({"window": 0}, ValueError, "window"),
        ({"window": 2.5}, ValueError, "window"),
        ({"window": "10"}, TypeError, "window"),
        ({"threshold": 0.0}, ValueError, "threshold"),
        ({"threshold": float("nan")}, ValueError, "threshold"),
        ({"noise_sigmas": -1.0}, ValueError, "noise_sigmas"),
        ({"min_rise": -0.1}, ValueError, "min_rise"),
        ({"steps": [0, 1]}, ValueError, "steps"),
        ({"steps": [0, 2, 1, 3]}, ValueError, "steps"),
    ],
)
def test_find_spikes_rejects_bad_arguments(kwargs: dict, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        find_spikes([1.0, 2.0, 3.0, 4.0], **kwargs)


@pytest.mark.parametrize(
    "losses", ["0.8 1.2", 3.0, None, {"a": 1}, [["a"]], np.ones((3, 3)), ["x", "y"]]
)
def test_find_spikes_rejects_non_curves(losses: object) -> None:
    with pytest.raises((TypeError, ValueError), match="losses"):
        find_spikes(losses)


def test_frame_without_train_loss_column_is_explained() -> None:
    with pytest.raises(ValueError, match="train_loss"):
        find_spikes(pd.DataFrame({"loss": [1.0, 2.0]}))


# ------------------------------------------------------------------------------------ divergence


def test_steadily_rising_series_diverges_when_it_passes_factor_times_the_start() -> None:
    losses = np.arange(1.0, 21.0)  # 1, 2, ..., 20
    assert find_divergence(losses) == 10  # 11 > 10 x 1
    assert find_divergence(losses, factor=5.0) == 5
    assert find_divergence(losses, steps=np.arange(20) * 100) == 1000


def test_nan_and_inf_count_as_divergence() -> None:
    assert find_divergence([2.3, 2.0, np.nan, 1.0]) == 2
    assert find_divergence([2.3, np.inf]) == 1
    assert find_divergence([np.nan, np.nan]) == 0
    assert find_divergence([np.nan, 2.3, 2.0]) == 0


def test_healthy_and_empty_curves_do_not_diverge() -> None:
    assert find_divergence(decaying(100)) is None
    assert find_divergence([]) is None
    assert find_divergence([0.8, 1.2, 0.9]) is None


def test_divergence_with_non_positive_first_loss_counts_only_non_finite() -> None:
    assert find_divergence([0.0, 5.0, 100.0]) is None
    assert find_divergence([-1.0, 5.0, np.nan]) == 2


def test_divergence_reads_a_history() -> None:
    frame = history_frame(np.r_[decaying(20), 50.0, np.nan])
    assert find_divergence(FakeHistory(frame)) == 20
    assert isinstance(find_divergence(FakeHistory(frame)), int)


@pytest.mark.parametrize(
    ("factor", "error"), [(1.0, ValueError), (0.5, ValueError), ("10", TypeError)]
)
def test_find_divergence_rejects_bad_factor(factor: object, error: type) -> None:
    with pytest.raises(error, match="factor"):
        find_divergence([1.0, 2.0], factor=factor)


# ------------------------------------------------------------------------------------ overfitting


def u_shaped(n: int = 50, bottom: int = 20) -> tuple[np.ndarray, np.ndarray]:
    train = decaying(n, start=2.0, floor=0.01, tau=10.0)
    val = 0.5 + ((np.arange(n) - bottom) / n) ** 2
    return train, val


def test_u_shaped_validation_loss_gives_onset_at_its_minimum() -> None:
    train, val = u_shaped(bottom=20)
    assert overfitting_onset(train, val) == 20
    assert overfitting_onset(train, val, steps=np.arange(1, 51)) == 21  # epochs counted from 1


def test_no_overfitting_when_validation_keeps_falling() -> None:
    train = decaying(50)
    assert overfitting_onset(train, train + 0.1) is None


def test_rising_train_loss_is_instability_not_overfitting() -> None:
    _, val = u_shaped()
    train = np.linspace(1.0, 3.0, len(val))
    assert overfitting_onset(train, val) is None


def test_eval_columns_with_nan_between_evaluations() -> None:
    train, val_per_epoch = u_shaped(n=30, bottom=12)
    steps_per_eval = 10
    train_steps = np.repeat(train, steps_per_eval)
    val_steps = np.full(len(train_steps), np.nan)
    val_steps[steps_per_eval - 1 :: steps_per_eval] = val_per_epoch
    onset = overfitting_onset(train_steps, val_steps)
    assert onset == 12 * steps_per_eval + steps_per_eval - 1
    frame = history_frame(train_steps, val_steps)
    assert overfitting_onset(frame) == onset
    assert overfitting_onset(FakeHistory(frame)) == onset


def test_patience_and_min_delta() -> None:
    train = decaying(10)
    val = np.array([1.0, 0.8, 0.6, 0.61, 0.62, 0.5, 0.51, 0.52, 0.53, 0.54])
    assert overfitting_onset(train, val, patience=2) == 2
    assert overfitting_onset(train, val, patience=3) == 5
    assert overfitting_onset(train, val, patience=3, min_delta=0.05) is None
    assert overfitting_onset(train, val, patience=5) is None


@pytest.mark.parametrize("val", [np.full(50, np.nan), np.r_[0.5, 0.6, 0.7, np.full(47, np.nan)]])
def test_too_few_evaluations_give_none(val: np.ndarray) -> None:
    assert overfitting_onset(decaying(50), val) is None


def test_overfitting_onset_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="val_loss"):
        overfitting_onset([1.0, 0.9, 0.8], [1.0, 0.9])
    with pytest.raises(TypeError, match="val_loss"):
        overfitting_onset([1.0, 0.9, 0.8])
    with pytest.raises(TypeError, match="val_loss"):
        overfitting_onset(history_frame(decaying(5)), [1.0] * 5)
    with pytest.raises(ValueError, match="patience"):
        overfitting_onset([1.0, 0.9], [1.0, 0.9], patience=0)
    with pytest.raises(ValueError, match="min_delta"):
        overfitting_onset([1.0, 0.9], [1.0, 0.9], min_delta=-1.0)
    with pytest.raises(TypeError, match="train_loss"):
        overfitting_onset("loss", [1.0])


# ------------------------------------------------------------------------------------ summaries


def test_summary_of_a_stable_run() -> None:
    rng = np.random.default_rng(0)
    train = decaying(300) * (1 + 0.05 * rng.standard_normal(300))
    val = np.full(300, np.nan)
    val[::50] = decaying(300)[::50] + 0.05
    summary = summarize_run(history_frame(train, val))
    assert summary.status == "stable" and summary.flags == ("stable",)
    assert (
        summary.n_spikes == 0 and summary.diverged_at is None and summary.overfitting_onset is None
    )
    assert summary.initial_loss == pytest.approx(train[0])
    assert summary.final_val_loss == pytest.approx(val[250])
    assert summary.best_val_step == 250
    text = str(summary)
    assert text.startswith("stable: ") and "\n" not in text and "no loss spikes" in text


def test_summary_of_a_spiky_run_names_the_biggest_spike() -> None:
    train = decaying(100)
    train[30] = 3 * train[29]
    train[60] = 1.8 * train[59]
    summary = summarize_run(train)
    assert summary.status == "spiky" and summary.n_spikes == 2
    assert summary.biggest_spike_step == 30
    assert summary.biggest_spike == pytest.approx(summary.spikes.iloc[0]["size"])
    assert "2 loss spikes" in str(summary) and "step 30" in str(summary)


def test_diverged_takes_precedence_and_all_flags_are_kept() -> None:
    train = np.r_[decaying(40), 3.0, 30.0, np.nan, np.nan]
    train[20] *= 3
    summary = summarize_run(train)
    assert summary.status == "diverged"
    assert summary.diverged_at == 41
    assert "spiky" in summary.flags
    assert "diverged at step 41" in str(summary)


def test_history_diverged_at_is_trusted() -> None:
    frame = history_frame(decaying(30))
    assert summarize_run(FakeHistory(frame, diverged_at=12)).diverged_at == 12


def test_stalled_run_and_chance_loss() -> None:
    rng = np.random.default_rng(1)
    stuck = 3.0 + 0.02 * rng.standard_normal(200)
    stuck[0] = 3.47  # log(32) at init, then stuck at the unigram loss
    # Against the first loss a 13 % drop looks like progress; against chance it is none.
    assert "stalled" not in summarize_run(stuck).flags
    summary = summarize_run(stuck, chance_loss=3.0)
    assert summary.status == "stalled"
    flat = np.full(100, 2.3)
    assert summarize_run(flat).status == "stalled"


def test_overfitting_summary() -> None:
    train, val = u_shaped(n=60, bottom=25)
    summary = summarize_run(history_frame(train, val))
    assert summary.status == "overfitting"
    assert summary.overfitting_onset == 25
    assert "val loss rises after step 25" in str(summary)


def test_summary_to_dict_is_plain_data() -> None:
    summary = summarize_run(decaying(50))
    data = summary.to_dict()
    assert "spikes" not in data and data["status"] == "stable"
    assert isinstance(summary, RunSummary)
    assert pd.DataFrame([data]).shape == (1, len(data))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"spike_window": 0}, "spike_window"),
        ({"spike_threshold": -1.0}, "spike_threshold"),
        ({"divergence_factor": 1.0}, "divergence_factor"),
        ({"patience": 0}, "patience"),
        ({"stall_ratio": 0.0}, "stall_ratio"),
        ({"stall_ratio": 1.5}, "stall_ratio"),
        ({"chance_loss": -1.0}, "chance_loss"),
    ],
)
def test_summarize_run_rejects_bad_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        summarize_run(decaying(20), **kwargs)


def test_summarize_run_rejects_empty_and_non_curves() -> None:
    with pytest.raises(ValueError, match="run"):
        summarize_run([])
    with pytest.raises(TypeError, match="run"):
        summarize_run("history")


# ------------------------------------------------------------------------------------ a real run


def digits_full_batch() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    features, labels = load_digits(return_X_y=True)
    features = (features - features.mean(0)) / (features.std(0) + 1e-8)
    return torch.tensor(features[:500], dtype=torch.float32), torch.tensor(labels[:500])


def train_full_batch(lr: float, steps: int = 60) -> list[float]:
    torch.manual_seed(0)
    inputs, labels = digits_full_batch()
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_real_training_runs_are_told_apart() -> None:
    gentle = summarize_run(train_full_batch(lr=0.1))
    assert gentle.status == "stable"
    assert gentle.final_train_loss < 0.5 * gentle.initial_loss
    wild = summarize_run(train_full_batch(lr=50.0))
    assert wild.status == "diverged"


def test_summaries_of_real_histories_from_the_trainer() -> None:
    from warmup_lib.data import load_digits
    from warmup_lib.models import MLP
    from warmup_lib.training import train

    data = load_digits(seed=0)
    model = MLP(64, 10, (32,), seed=0)
    calm = train(model, torch.optim.Adam(model.parameters(), lr=1e-3), None, data, steps=80, seed=0)
    summary = summarize_run(calm)
    assert summary.status == "stable"
    assert summary.n_steps == 80
    assert summary.final_val_loss == pytest.approx(calm.final_val_loss)

    model = MLP(64, 10, (32,), seed=0)
    wild = train(model, torch.optim.SGD(model.parameters(), lr=50.0), None, data, steps=80, seed=0)
    assert wild.diverged
    summary = summarize_run(wild)
    assert summary.status == "diverged"
    assert summary.diverged_at == wild.diverged_at


# ------------------------------------------------------------------------------------ sharpness


def test_stability_threshold() -> None:
    assert stability_threshold(0.1) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="lr"):
        stability_threshold(0.0)


def linear_regression(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor, float]:
    """A linear model with MSE loss, and its exact top Hessian eigenvalue ``max eig(2 X^T X / n)``."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(64, 5, generator=generator) * torch.tensor([3.0, 1.0, 1.0, 0.5, 0.2])
    targets = inputs @ torch.randn(5, 1, generator=generator) + 0.1 * torch.randn(
        64, 1, generator=generator
    )
    torch.manual_seed(seed)
    model = torch.nn.Linear(5, 1)
    design = np.c_[inputs.numpy().astype(np.float64), np.ones(64)]  # the bias is a column of ones
    exact = np.linalg.eigvalsh(2 * design.T @ design / len(design)).max()
    return model, inputs, targets, float(exact)


def test_sharpness_matches_the_exact_hessian_of_linear_regression() -> None:
    model, inputs, targets, exact = linear_regression()
    estimate = sharpness(model, torch.nn.functional.mse_loss, inputs, targets, iters=200, tol=1e-7)
    assert estimate == pytest.approx(exact, rel=1e-3)
    assert all(p.grad is None for p in model.parameters())


def test_gradient_descent_is_stable_below_two_over_sharpness_and_not_above() -> None:
    model, inputs, targets, _ = linear_regression(seed=1)
    top = sharpness(model, torch.nn.functional.mse_loss, inputs, targets, iters=200, tol=1e-7)
    start = {k: v.clone() for k, v in model.state_dict().items()}

    def final_loss(lr: float) -> float:
        model.load_state_dict(start)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for _ in range(200):
            loss = torch.nn.functional.mse_loss(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return torch.nn.functional.mse_loss(model(inputs), targets).item()

    initial = torch.nn.functional.mse_loss(model(inputs), targets).item()
    assert final_loss(0.9 * stability_threshold(top) / 1.0) < initial
    assert final_loss(1.1 * stability_threshold(top)) > 100 * initial


def test_sharpness_of_a_tiny_mlp_is_finite_positive_and_seeded() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    inputs = torch.randn(32, 4)
    targets = torch.randint(0, 3, (32,))
    loss_fn = torch.nn.functional.cross_entropy
    first = sharpness(model, loss_fn, inputs, targets, iters=50, seed=3)
    assert math.isfinite(first) and first > 0
    assert sharpness(model, loss_fn, inputs, targets, iters=50, seed=3) == first


def test_sharpness_of_a_model_without_curvature_is_zero() -> None:
    model = torch.nn.Linear(3, 1)
    inputs = torch.randn(8, 3)
    assert sharpness(model, lambda out, _: out.mean(), inputs, None) == 0.0


def test_sharpness_rejects_bad_arguments() -> None:
    model, inputs, targets, _ = linear_regression()
    mse = torch.nn.functional.mse_loss
    with pytest.raises(TypeError, match="model"):
        sharpness("model", mse, inputs, targets)
    with pytest.raises(TypeError, match="loss_fn"):
        sharpness(model, "mse", inputs, targets)
    with pytest.raises(ValueError, match="iters"):
        sharpness(model, mse, inputs, targets, iters=0)
    with pytest.raises(ValueError, match="tol"):
        sharpness(model, mse, inputs, targets, tol=0.0)
    with pytest.raises(ValueError, match="loss_fn"):
        sharpness(model, torch.nn.MSELoss(reduction="none"), inputs, targets)
    frozen = torch.nn.Linear(5, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="model"):
        sharpness(frozen, mse, inputs, targets)

    with pytest.raises(ValueError, match="method"):
        sharpness(model, mse, inputs, targets, method="qr")


class Saddle(torch.nn.Module):
    """Two weights and the loss (w0**2 - 5 * w1**2) / 2: Hessian eigenvalues +1 and -5."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([0.3, -0.2]))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.w

    @staticmethod
    def loss(outputs: torch.Tensor, targets: None) -> torch.Tensor:
        return 0.5 * (outputs[0] ** 2 - 5 * outputs[1] ** 2)


def test_lanczos_finds_the_top_eigenvalue_where_power_iteration_finds_the_largest_magnitude() -> None:
    model = Saddle()
    assert sharpness(model, Saddle.loss, None, None) == pytest.approx(1.0)
    assert sharpness(model, Saddle.loss, None, None, method="power", iters=50) == pytest.approx(-5.0, rel=1e-3)


def test_both_methods_agree_on_a_tiny_mlp() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    inputs, targets = torch.randn(32, 4), torch.randint(0, 3, (32,))
    lanczos = sharpness(model, torch.nn.functional.cross_entropy, inputs, targets, iters=60, tol=1e-8)
    params = torch.cat([p.detach().flatten() for p in model.parameters()])

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        pieces, offset = {}, 0
        for name, p in model.named_parameters():
            pieces[name] = flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        outputs = torch.func.functional_call(model, pieces, (inputs,))
        return torch.nn.functional.cross_entropy(outputs, targets)

    exact = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, params)).max().item()
    assert lanczos == pytest.approx(exact, rel=1e-4)


# ------------------------------------------------------------------------------ track_sharpness


@pytest.fixture(scope="module")
def small_config():
    from warmup_lib.data import DataSplits
    from warmup_lib.experiments import RunConfig
    from warmup_lib.models import MLP
    from warmup_lib.schedules import Constant, LinearWarmup

    generator = torch.Generator().manual_seed(0)
    X = torch.randn(260, 6, generator=generator)
    y = (X[:, 0] + X[:, 1] > 0).long() + (X[:, 2] > 0.7).long()
    data = DataSplits("blobs", "multiclass", X[:200], y[:200], X[200:230], y[200:230], X[230:], y[230:], n_classes=3)
    config = RunConfig(
        model=lambda seed: MLP(6, 3, hidden=(16,), seed=seed), data=data, steps=30, optimizer="sgd",
        peak_lr=0.5, batch_size=32, eval_every=10, schedule=Constant(),
    )
    return config, config.replace(schedule=LinearWarmup(10) * Constant())


def test_track_sharpness_measures_the_very_runs_that_compare_trains(small_config) -> None:
    from warmup_lib.experiments import compare
    from warmup_lib.training import train

    no_warmup, warmup = small_config
    conditions = {"no warmup": no_warmup, "warmup": warmup}
    data = warmup.data
    runs, table = track_sharpness(
        conditions, [0, 1], at_steps=[0, 10, 25], inputs=data.X_train[:64], targets=data.y_train[:64],
        loss_fn=torch.nn.functional.cross_entropy, iters=40, tol=1e-6,
    )
    reference = compare(conditions, [0, 1], ensemble=False)
    pd.testing.assert_frame_equal(runs, reference)  # stopping to measure changes nothing
    assert list(table.columns) == ["condition", "seed", "step", "lr", "sharpness", "threshold", "unstable"]
    assert len(table) == 2 * 2 * 3
    first = table[(table["condition"] == "warmup") & (table["step"] == 0)]
    assert (first["lr"] == 0).all() and (first["threshold"] == math.inf).all() and not first["unstable"].any()
    at_10 = table[(table["condition"] == "warmup") & (table["seed"] == 1) & (table["step"] == 10)].iloc[0]
    assert at_10["lr"] == pytest.approx(0.5) and at_10["threshold"] == pytest.approx(4.0)
    # The measurement at step 10 is the sharpness of the model trained for exactly 10 steps.
    model = warmup.build_model(1)
    optimizer = warmup.build_optimizer(model.parameters())
    train(model, optimizer, warmup.schedule, data, warmup.steps, 1, stop_at=10, **warmup.train_kwargs())
    expected = sharpness(model, torch.nn.functional.cross_entropy, data.X_train[:64], data.y_train[:64], iters=60, tol=1e-8)
    assert at_10["sharpness"] == pytest.approx(expected, rel=1e-3)
    assert (table["unstable"] == (table["sharpness"] > table["threshold"])).all()


def test_track_sharpness_stops_measuring_a_run_when_it_diverges(small_config) -> None:
    no_warmup, _ = small_config
    wild = no_warmup.replace(peak_lr=200.0)
    data = wild.data
    runs, table = track_sharpness(
        {"wild": wild}, [0], at_steps=range(0, 31, 5), inputs=data.X_train[:64], targets=data.y_train[:64],
        loss_fn=torch.nn.functional.cross_entropy,
    )
    assert runs["diverged"].all()
    diverged_at = runs["step"].max()
    assert table["step"].max() <= diverged_at < 30
    assert table["unstable"].iloc[-1]


def test_track_sharpness_rejects_bad_arguments(small_config) -> None:
    no_warmup, _ = small_config
    data = no_warmup.data
    kwargs = {"inputs": data.X_train[:8], "targets": data.y_train[:8], "loss_fn": torch.nn.functional.cross_entropy}
    with pytest.raises(TypeError, match="conditions"):
        track_sharpness(no_warmup, [0], at_steps=[0], **kwargs)
    with pytest.raises(TypeError, match=r"conditions\['a'\] must be an experiments.RunConfig"):
        track_sharpness({"a": lambda seed: None}, [0], at_steps=[0], **kwargs)
    with pytest.raises(ValueError, match="strictly increasing"):
        track_sharpness({"a": no_warmup}, [0], at_steps=[10, 5], **kwargs)
    with pytest.raises(ValueError, match=r"at_steps\[1\]"):
        track_sharpness({"a": no_warmup}, [0], at_steps=[0, 31], **kwargs)
    with pytest.raises(ValueError, match="iters"):
        track_sharpness({"a": no_warmup}, [0], at_steps=[0], iters=1, **kwargs)
    with pytest.raises(TypeError, match="loss_fn"):
        track_sharpness({"a": no_warmup}, [0], at_steps=[0], inputs=data.X_train[:8], targets=data.y_train[:8], loss_fn="ce")
