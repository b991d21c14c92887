"""Tests for warmup_lib.experiments: RunConfig, run_seeds, summaries, sweep and batched ensembles."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from warmup_lib.data import DataSplits, load_digits, make_bigram_language
from warmup_lib.experiments import (
    RunConfig,
    SuccessRule,
    compare,
    default_warmup,
    histories_to_frame,
    max_stable_lr,
    run_seeds,
    summarize_runs,
    summarize_seeds,
    sweep,
    train_ensemble,
)
from warmup_lib.models import MLP, FraudClassifier, TinyTransformerLM
from warmup_lib.schedules import CosineDecay, LinearWarmup, warmup_then, with_warmup
from warmup_lib.training import History, train

torch.set_num_threads(1)

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return load_digits(seed=0)


def small_mlp(seed: int, hidden: tuple[int, ...] = (32, 32), **kwargs) -> MLP:
    return MLP(64, 10, hidden=hidden, seed=seed, **kwargs)


def config_for(data: DataSplits, **changes) -> RunConfig:
    fields = {
        "model": small_mlp,
        "data": data,
        "steps": 50,
        "optimizer": "adam",
        "peak_lr": 3e-3,
        "batch_size": 64,
        "eval_every": 10,
    }
    fields.update(changes)
    return RunConfig(**fields)


def make_binary(n: int = 300, seed: int = 0) -> DataSplits:
    """A small imbalanced binary task: positives are shifted along a few features."""
    g = torch.Generator().manual_seed(seed)

    def split(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = (torch.rand(rows, generator=g) < 0.1).float()
        y[:2] = 1.0
        X = torch.randn(rows, 6, generator=g) + 1.5 * y[:, None] * torch.tensor(
            [1.0, 1.0, -1.0, 0, 0, 0]
        )
        return X, y

    (Xtr, ytr), (Xva, yva), (Xte, yte) = split(n), split(n // 2), split(n // 2)
    return DataSplits("toy-fraud", "binary", Xtr, ytr, Xva, yva, Xte, yte, n_classes=2)


def assert_same_run(batched: History, sequential: History, atol: float = 1e-5) -> None:
    """Equal up to floating-point rounding: same config, status, steps, LRs; losses within atol."""
    assert batched.config == sequential.config
    assert batched.status == sequential.status
    assert batched.diverged_at == sequential.diverged_at
    assert batched.step == sequential.step and batched.epoch == sequential.epoch
    assert batched.eval_step == sequential.eval_step
    assert batched.lr == sequential.lr  # identical arithmetic, not just close
    for name in ("train_loss", "val_loss"):
        np.testing.assert_allclose(
            getattr(batched, name), getattr(sequential, name), atol=atol, rtol=1e-5, err_msg=name
        )
    for name in ("grad_norm", "update_ratio"):
        np.testing.assert_allclose(
            getattr(batched, name), getattr(sequential, name), rtol=1e-4, atol=1e-7, err_msg=name
        )
    assert batched.val_metrics.keys() == sequential.val_metrics.keys()
    for name, values in batched.val_metrics.items():
        np.testing.assert_allclose(values, sequential.val_metrics[name], atol=1e-9, err_msg=name)


# ------------------------------------------------------------------------- ensemble == sequential


@pytest.mark.parametrize(
    "changes",
    [
        {},  # Adam, mini-batch
        {
            "optimizer": "sgd",
            "peak_lr": 0.05,
            "optimizer_kwargs": {"momentum": 0.9},
            "batch_size": None,
        },
        {
            "optimizer": "sgd",
            "peak_lr": 0.1,
            "optimizer_kwargs": {"momentum": 0.9, "nesterov": True},
            "schedule": warmup_then(LinearWarmup(10), CosineDecay(40)),
            "grad_clip": 0.5,
            "batch_size": 500,
        },
        {
            "optimizer": "adamw",
            "optimizer_kwargs": {"weight_decay": 0.1},
            "schedule": LinearWarmup(20),
            "model": functools.partial(small_mlp, norm="layer", activation="gelu"),
        },
        {"optimizer": "radam", "peak_lr": 1e-2, "model": functools.partial(small_mlp, hidden=())},
    ],
    ids=[
        "adam",
        "sgd-full-batch",
        "sgd-nesterov-clip-schedule",
        "adamw-layernorm",
        "radam-linear-model",
    ],
)
def test_ensemble_equals_sequential_runs(digits, changes):
    config = config_for(digits, **changes)
    batched = train_ensemble(config, SEEDS)
    assert [h.config["seed"] for h in batched] == SEEDS
    for seed, history in zip(SEEDS, batched, strict=True):
        assert history.status == "completed" and history.steps_done == 50
        assert_same_run(history, config.run(seed))


def test_ensemble_equals_train_called_by_hand(digits):
    # the contract: member k is exactly train(MLP(..., seed=s), ..., seed=s)
    config = config_for(digits, steps=20)
    (batched,) = train_ensemble(config, [7])
    model = small_mlp(7)
    by_hand = train(
        model,
        torch.optim.Adam(model.parameters(), lr=3e-3),
        None,
        digits,
        20,
        seed=7,
        batch_size=64,
        eval_every=10,
    )
    assert_same_run(batched, by_hand)


def test_ensemble_on_a_binary_task_with_fraud_classifier_and_focal_loss():
    data = make_binary()
    for extra in ({"pos_weight": "balanced"}, {"loss": "focal", "focal_alpha": 0.75}):
        config = RunConfig(
            model=lambda seed: FraudClassifier(6, hidden=(16,), base_rate=0.1, seed=seed),
            data=data,
            steps=30,
            peak_lr=1e-2,
            batch_size=32,
            **extra,
        )
        batched = train_ensemble(config, [0, 1])
        for seed, history in zip([0, 1], batched, strict=True):
            assert "val_average_precision" in history.val_metrics
            assert_same_run(history, config.run(seed))


# ------------------------------------------------------------------------------ divergence


def sometimes_unstable(seed: int) -> MLP:
    """Seed 1 starts with 6x larger weights and blows up at step 3 under SGD lr 0.1; the others train."""
    return MLP(64, 10, hidden=(32, 32, 32, 32), init_scale=6.0 if seed == 1 else 1.0, seed=seed)


def nan_at_seed_1(seed: int) -> MLP:
    model = MLP(64, 10, hidden=(32, 32), seed=seed)
    if seed == 1:
        with torch.no_grad():
            model[0].weight.fill_(math.nan)
    return model


@pytest.mark.parametrize("factory, diverged_at", [(sometimes_unstable, 3), (nan_at_seed_1, 0)])
def test_a_diverging_member_does_not_affect_the_others(digits, factory, diverged_at):
    config = config_for(
        digits,
        model=factory,
        steps=40,
        optimizer="sgd",
        peak_lr=0.1,
        optimizer_kwargs={"momentum": 0.9},
        batch_size=32,
        eval_every=5,
    )
    batched = train_ensemble(config, SEEDS)
    assert [h.status for h in batched] == ["completed", "diverged", "completed"]
    assert batched[1].diverged_at == diverged_at
    assert batched[1].steps_done == diverged_at + 1  # the blow-up step is recorded
    assert math.isnan(batched[1].grad_norm[-1]) and batched[1].eval_step[-1] == diverged_at
    for seed, history in zip(SEEDS, batched, strict=True):
        assert_same_run(history, config.run(seed))
    # and the survivors are the same as in an ensemble that never contained the bad seed
    without = train_ensemble(config, [0, 2])
    for alone, together in zip(without, [batched[0], batched[2]], strict=True):
        assert_same_run(alone, together, atol=1e-6)


def test_all_members_diverging_stops_the_ensemble(digits):
    config = config_for(digits, model=nan_at_seed_1, steps=30)
    (history,) = train_ensemble(config, [1])
    assert history.diverged and history.diverged_at == 0 and history.steps_done == 1


# ------------------------------------------------------------------------------ run_seeds


def test_run_seeds_frame_is_tidy_and_deterministic(digits):
    config = config_for(digits, steps=20)
    frame, histories = run_seeds(
        config, seeds=range(3), condition="no warmup", return_histories=True
    )
    assert list(frame.columns[:3]) == ["condition", "seed", "step"]
    assert {
        "lr",
        "train_loss",
        "grad_norm",
        "update_ratio",
        "val_loss",
        "val_accuracy",
        "diverged",
    } <= set(frame.columns)
    assert len(frame) == 3 * 20 and (frame["condition"] == "no warmup").all()
    assert sorted(frame["seed"].unique()) == [0, 1, 2] and not frame["diverged"].any()
    assert [h.config["seed"] for h in histories] == [0, 1, 2]
    pd.testing.assert_frame_equal(frame, run_seeds(config, seeds=range(3), condition="no warmup"))
    # the sequential path gives the same numbers
    sequential = run_seeds(config, seeds=range(3), condition="no warmup", ensemble=False)
    pd.testing.assert_frame_equal(frame, sequential, atol=1e-5, rtol=1e-4)


def test_run_seeds_accepts_a_function_of_the_seed(digits):
    def one_run(seed: int) -> History:
        model = small_mlp(seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return train(model, optimizer, LinearWarmup(5), digits, 15, seed=seed)

    frame = run_seeds(one_run, seeds=[3, 4], condition="warmup 5")
    expected = histories_to_frame([one_run(3), one_run(4)], condition="warmup 5")
    pd.testing.assert_frame_equal(frame, expected)
    with pytest.raises(TypeError, match="must return a History"):
        run_seeds(lambda seed: 1.0, seeds=[0])
    with pytest.warns(UserWarning, match="trained with seed=3"):  # a forgotten seed=seed
        forgot = run_seeds(lambda seed: one_run(3), seeds=[5])
    assert (forgot["seed"] == 5).all()
    with pytest.raises(ValueError, match="ensemble=True needs a RunConfig"):
        run_seeds(one_run, seeds=[0], ensemble=True)


@pytest.fixture(scope="module")
def language() -> DataSplits:
    return make_bigram_language(vocab_size=8, seq_len=6, n_train=256, n_val=32, n_test=16, seed=0)


def tiny_transformer(seed: int, norm_first: bool = False, **kwargs) -> TinyTransformerLM:
    sizes = {"d_model": 16, "n_heads": 2, "n_layers": 2, "d_ff": 32, **kwargs}
    return TinyTransformerLM(8, 6, norm_first=norm_first, seed=seed, **sizes)


def transformer_config(data: DataSplits, **changes) -> RunConfig:
    fields = {
        "model": tiny_transformer,
        "data": data,
        "steps": 25,
        "optimizer": "adam",
        "peak_lr": 3e-3,
        "batch_size": 8,
        "eval_every": 10,
    }
    fields.update(changes)
    return RunConfig(**fields)


# The float32 tolerance of a stacked transformer: the batched kernels add the same products in
# another order, ~1e-7 relative per operation; over 25 stable steps through 2 layers that grows
# to a few 1e-6 on the losses, well inside atol=rtol=1e-5 (assert_same_run). A run on the edge
# of stability amplifies rounding (as it amplifies any perturbation), so these tests stay off it.


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
@pytest.mark.parametrize("optimizer", ["adam", "radam"])
@pytest.mark.parametrize("schedule", [None, LinearWarmup(10)], ids=["no-warmup", "warmup"])
def test_transformer_ensemble_equals_sequential_runs(language, norm_first, optimizer, schedule):
    config = transformer_config(
        language,
        model=functools.partial(tiny_transformer, norm_first=norm_first),
        optimizer=optimizer,
        schedule=schedule,
    )
    batched = train_ensemble(config, [0, 1])
    for seed, history in zip([0, 1], batched, strict=True):
        assert history.status == "completed" and history.config["model"] == "TinyTransformerLM"
        assert_same_run(history, config.run(seed))


def test_ensemble_of_configs_with_their_own_peak_lr_and_schedule_equals_sequential(digits, language):
    # One optimizer, several learning rates: each member's update is rescaled to its own LR.
    for base in (config_for(digits, steps=30), transformer_config(language)):
        configs = [
            base,
            base.replace(peak_lr=1e-2, schedule=LinearWarmup(10)),
            base.replace(peak_lr=1e-3, schedule=warmup_then(LinearWarmup(5), CosineDecay(20))),
        ]
        batched = train_ensemble(configs, [0, 1])
        sequential = [c.run(s) for c in configs for s in [0, 1]]
        assert [(h.config["peak_lr"], h.config["seed"]) for h in batched] == [
            (c.peak_lr, s) for c in configs for s in [0, 1]
        ]
        for history, expected in zip(batched, sequential, strict=True):
            assert_same_run(history, expected)


def test_a_warmup_pair_rescales_only_while_its_learning_rates_differ(digits):
    # The notebooks' pair: the same cosine with and without a warmup factor. Once the warmup is
    # over both members have the same LR, so the stacked optimizer runs at it with no rescaling
    # pass, and each member still equals its own sequential run.
    from warmup_lib.experiments import _MemberRates

    base = config_for(digits, steps=30, schedule=CosineDecay(30))
    configs = [base, base.replace(schedule=with_warmup(CosineDecay(30), LinearWarmup(10)))]
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    rates = _MemberRates(optimizer, [c for c in configs for _ in (0, 1)])
    rescaled = []
    for _ in range(30):
        rates.current()
        rescaled.append(rates.scales() is not None)
        rates.step()
    assert rescaled == [True] * 10 + [False] * 20
    for history, expected in zip(
        train_ensemble(configs, [0, 1]), [c.run(s) for c in configs for s in (0, 1)], strict=True
    ):
        assert_same_run(history, expected)


def test_ensemble_rescaled_updates_match_sgd_with_weight_decay_and_clipping(digits):
    base = config_for(
        digits,
        optimizer="sgd",
        peak_lr=0.05,
        optimizer_kwargs={"momentum": 0.9, "weight_decay": 1e-3},
        grad_clip=1.0,
        steps=30,
    )
    configs = [base, base.replace(peak_lr=0.2, schedule=LinearWarmup(10))]
    for history, expected in zip(
        train_ensemble(configs, [3]), [c.run(3) for c in configs], strict=True
    ):
        assert_same_run(history, expected)


def nan_transformer_at_seed_1(seed: int) -> TinyTransformerLM:
    model = tiny_transformer(seed)
    if seed == 1:
        with torch.no_grad():
            model.head.weight.fill_(math.nan)
    return model


def test_transformer_ensemble_records_diverged_and_stuck_members_like_train(language):
    # In one ensemble: seed 1 blows up at step 0 (NaN weights) in every config; at Adam LR 0.3
    # the post-LN model trains badly (its loss rises above the first and stays high), at 1.0
    # it passes 2x its first loss at step 1; at 3e-3 it trains. Each member must match its own
    # sequential run, divergence step and final evaluation included.
    base = transformer_config(
        language, model=nan_transformer_at_seed_1, steps=15, divergence_factor=2.0
    )
    configs = [base, base.replace(peak_lr=0.3), base.replace(peak_lr=1.0)]
    batched = train_ensemble(configs, [0, 1])
    sequential = [c.run(s) for c in configs for s in [0, 1]]
    assert [h.status for h in batched] == ["completed", "diverged"] * 2 + ["diverged"] * 2
    assert [h.diverged_at for h in batched] == [None, 0, None, 0, 1, 0]
    assert max(batched[2].train_loss) > batched[2].train_loss[0]  # the high-LR run went up
    for history, expected in zip(batched, sequential, strict=True):
        assert_same_run(history, expected)


def test_transformers_the_ensemble_cannot_stack_run_sequentially(language):
    config = transformer_config(
        language, model=functools.partial(tiny_transformer, dropout=0.1), steps=3, eval_every=3
    )
    frame = run_seeds(config, seeds=[0, 1])  # ensemble="auto" falls back quietly
    assert len(frame) == 6
    pd.testing.assert_frame_equal(frame, run_seeds(config, seeds=[0, 1], ensemble=False))
    with pytest.raises(ValueError, match="dropout"):
        run_seeds(config, seeds=[0, 1], ensemble=True)
    with pytest.raises(ValueError, match="dropout"):
        train_ensemble(config, [0])


def test_train_ensemble_refuses_configs_that_differ_in_more_than_lr_and_schedule(digits):
    config = config_for(digits, steps=5)
    with pytest.raises(ValueError, match=r"config\[1\] differs from config\[0\] in batch_size"):
        train_ensemble([config, config.replace(batch_size=32)], [0])
    with pytest.raises(ValueError, match="empty"):
        train_ensemble([], [0])
    assert config.differs_from(config.replace(peak_lr=0.1, schedule=LinearWarmup(3))) == []
    assert config.differs_from(config.replace(model=lambda seed: small_mlp(seed))) == ["model"]


def test_compare_trains_conditions_that_differ_only_in_lr_as_one_ensemble(digits, monkeypatch):
    from warmup_lib import experiments

    calls = []
    real = experiments._train_stacked

    def spy(runs, progress):
        calls.append(len(runs))
        return real(runs, progress)

    monkeypatch.setattr(experiments, "_train_stacked", spy)
    config = config_for(digits, steps=10)
    compare({"a": config, "b": config.replace(schedule=LinearWarmup(5))}, seeds=[0, 1, 2])
    assert calls == [6]
    calls.clear()
    monkeypatch.setattr(experiments, "MAX_STACKED_MEMBERS", 4)
    sweep([1e-3, 1e-2], [0, 5], seeds=[0, 1], run=config)
    assert calls == [4, 4]


def test_models_the_ensemble_cannot_batch_fall_back_or_raise(digits):
    config = config_for(digits, model=lambda seed: small_mlp(seed, norm="batch"), steps=5)
    assert len(run_seeds(config, seeds=[0, 1])) == 10
    with pytest.raises(ValueError, match="BatchNorm"):
        train_ensemble(config, [0, 1])

    class Wrapped(nn.Module):
        def __init__(self, seed: int) -> None:
            super().__init__()
            self.inner = small_mlp(seed)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x)

    with pytest.raises(ValueError, match="own forward"):
        train_ensemble(config_for(digits, model=Wrapped), [0])
    with pytest.raises(ValueError, match="same architecture"):
        train_ensemble(
            config_for(digits, model=lambda seed: small_mlp(seed, hidden=(8 + seed,))), [0, 1]
        )


def test_compare_stacks_conditions(digits):
    config = config_for(digits, steps=20)
    frame = compare(
        {"warmup 10": config.replace(schedule=LinearWarmup(10)), "no warmup": config}, seeds=[0, 1]
    )
    assert list(frame["condition"].unique()) == ["warmup 10", "no warmup"]
    table = summarize_seeds(frame)
    assert list(table["condition"]) == ["warmup 10", "no warmup"]  # the order given, not sorted
    assert (table["n_seeds"] == 2).all()
    warm = frame[(frame["condition"] == "warmup 10") & (frame["seed"] == 0)]
    assert warm["lr"].iloc[0] == 0.0 and warm["lr"].iloc[10] == pytest.approx(3e-3)


# ------------------------------------------------------------------------------ summaries


def fake_frame(
    final_accuracy: dict[int, float], diverged: set[int] = frozenset(), steps: int = 20
) -> pd.DataFrame:
    """A per-step frame without training: seed s ends at final_accuracy[s]; losses 2 -> 0.5."""
    rows = []
    for seed, accuracy in final_accuracy.items():
        for step in range(steps):
            evaluated = (step + 1) % 5 == 0
            rows.append(
                {
                    "condition": "c",
                    "seed": seed,
                    "step": step,
                    "lr": 0.1,
                    "train_loss": 5.0 if step == 2 else 2.0 - 1.5 * step / (steps - 1),
                    "val_loss": 1.0 if evaluated else math.nan,
                    "val_accuracy": accuracy if evaluated else math.nan,
                    "diverged": seed in diverged,
                }
            )
    return pd.DataFrame(rows)


def test_summarize_runs_final_numbers_and_success_rule():
    runs = summarize_runs(fake_frame({0: 0.95, 1: 0.5, 2: 0.97}, diverged={2}), early_steps=5)
    assert list(runs["seed"]) == [0, 1, 2]
    assert list(runs["success"]) == [True, False, False]  # seed 2 diverged despite its accuracy
    assert runs.loc[2, "final_val_loss"] == math.inf and math.isnan(
        runs.loc[2, "final_val_accuracy"]
    )
    assert runs.loc[0, "final_val_accuracy"] == 0.95
    assert runs.loc[0, "max_early_loss"] == 5.0
    assert runs.loc[0, "final_train_loss"] == pytest.approx(
        np.mean([2.0 - 1.5 * s / 19 for s in range(10, 20)])
    )
    lenient = summarize_runs(
        fake_frame({0: 0.95, 1: 0.5}), success=SuccessRule("val_accuracy", 0.4)
    )
    assert lenient["success"].all()
    by_loss = summarize_runs(fake_frame({0: 0.95}), success=SuccessRule("val_loss", 0.5))
    assert not by_loss["success"].any()  # val_loss 1.0 is above 0.5 and lower is better
    custom = summarize_runs(
        fake_frame({0: 0.95, 1: 0.5}), success=lambda run: run["max_early_loss"] < 3
    )
    assert not custom["success"].any()


def test_summarize_seeds_counts():
    table = summarize_seeds(fake_frame({0: 0.95, 1: 0.5, 2: 0.97, 3: 0.99}, diverged={2}))
    row = table.iloc[0]
    assert (row["n_seeds"], row["n_diverged"], row["n_success"]) == (4, 1, 2)
    assert row["success_rate"] == 0.5
    assert row["median_final_val_accuracy"] == 0.95  # over the three that did not diverge
    assert row["max_final_val_loss"] == math.inf and row["min_final_val_loss"] == 1.0
    assert row["max_early_loss"] == 5.0


@settings(max_examples=25, deadline=None)
@given(
    accuracies=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6),
    diverged_mask=st.lists(st.booleans(), min_size=6, max_size=6),
    threshold=st.floats(0.0, 1.0),
)
def test_summary_counts_are_consistent(accuracies, diverged_mask, threshold):
    diverged = {i for i in range(len(accuracies)) if diverged_mask[i]}
    frame = fake_frame(dict(enumerate(accuracies)), diverged=diverged, steps=6)
    row = summarize_seeds(frame, success=SuccessRule("val_accuracy", threshold)).iloc[0]
    expected = sum(1 for i, a in enumerate(accuracies) if i not in diverged and a >= threshold)
    assert row["n_success"] == expected
    assert row["n_diverged"] == len(diverged)
    assert row["n_success"] + row["n_diverged"] <= row["n_seeds"] == len(accuracies)
    assert 0.0 <= row["success_rate"] <= 1.0


# ------------------------------------------------------------------------------ sweep


def test_sweep_builds_the_stability_frontier_table(digits):
    config = config_for(
        digits,
        model=lambda seed: small_mlp(seed, hidden=(16,)),
        steps=30,
        optimizer="sgd",
        optimizer_kwargs={"momentum": 0.9},
        batch_size=128,
        eval_every=10,
    )
    table, runs = sweep(
        [0.05, 5.0],
        [0, 10],
        seeds=[0, 1],
        run=config,
        success=SuccessRule("val_accuracy", 0.5),
        return_runs=True,
    )
    assert len(table) == 4
    assert list(table[["warmup_steps", "peak_lr"]].itertuples(index=False, name=None)) == [
        (0, 0.05),
        (0, 5.0),
        (10, 0.05),
        (10, 5.0),
    ]
    assert {
        "n_seeds",
        "n_diverged",
        "n_success",
        "success_rate",
        "median_final_val_loss",
        "median_final_val_accuracy",
        "max_early_loss",
    } <= set(table.columns)
    assert table["success_rate"].between(0, 1).all() and (table["n_seeds"] == 2).all()
    assert table.loc[0, "success_rate"] == 1.0  # a small LR trains
    assert table.loc[1, "n_diverged"] == 2  # a huge LR without warmup blows up
    assert set(runs.columns[:3]) == {"peak_lr", "warmup_steps", "seed"}
    frontier = max_stable_lr(table)
    assert list(frontier.index) == [0, 10] and frontier[0] == 0.05
    # runs in the frame carry their own schedule: the warmup cell starts at LR 0
    first = runs[(runs["warmup_steps"] == 10) & (runs["step"] == 0)]
    assert (first["lr"] == 0.0).all()


def test_sweep_with_a_function_and_a_custom_warmup(digits):
    calls = []

    def one_run(peak_lr: float, warmup_steps: int, seed: int) -> History:
        calls.append((peak_lr, warmup_steps, seed))
        model = small_mlp(seed, hidden=(8,))
        optimizer = torch.optim.SGD(model.parameters(), lr=peak_lr)
        return train(model, optimizer, default_warmup(warmup_steps), digits, 5, seed=seed)

    table = sweep([0.01], [0, 2], seeds=[0], run=one_run)
    assert calls == [(0.01, 0, 0), (0.01, 2, 0)]
    assert table["success_rate"].between(0, 1).all()
    config = config_for(digits, steps=10)
    table = sweep(
        [1e-3],
        [4],
        seeds=[0],
        run=config,
        warmup=lambda w: warmup_then(LinearWarmup(w), CosineDecay(10 - w)),
    )
    assert len(table) == 1
    with pytest.raises(TypeError, match=r"warmup\(4\) must return"):
        sweep([1e-3], [4], seeds=[0], run=config, warmup=lambda w: "linear")


def test_sweep_with_a_base_schedule_changes_only_the_warmup(digits):
    # "With vs without warmup" = the same base schedule, with and without a warmup factor on
    # top: after the warmup every cell follows the base exactly.
    config = config_for(digits, steps=40)
    table, frame = sweep(
        [1e-3, 1e-2], [0, 10], seeds=[0, 1], run=config, base=CosineDecay(40), return_runs=True
    )
    assert len(table) == 4 and {"median_final_val_loss", "min_final_val_loss"} <= set(table.columns)
    base = CosineDecay(40)
    for (lr, warmup), cell in frame.groupby(["peak_lr", "warmup_steps"]):
        run = cell[cell["seed"] == 0]
        expected = lr * base.curve(np.arange(40))
        if warmup:
            expected = expected * LinearWarmup(warmup).curve(np.arange(40))
        np.testing.assert_allclose(run["lr"], expected, rtol=1e-12)
        after = run["step"] >= warmup
        np.testing.assert_allclose(run["lr"][after], (lr * base.curve(np.arange(40)))[after.to_numpy()])
    runs = summarize_runs(frame)
    assert len(runs) == 8 and "final_val_loss" in runs
    with pytest.raises(TypeError, match="base"):
        sweep([1e-3], [0], seeds=[0], run=config, base="cosine")


def test_max_stable_lr_needs_every_smaller_lr_to_succeed():
    table = pd.DataFrame(
        {
            "warmup_steps": [0, 0, 0, 50, 50, 50],
            "peak_lr": [0.1, 0.3, 1.0, 0.1, 0.3, 1.0],
            "success_rate": [1.0, 0.4, 1.0, 1.0, 1.0, 0.8],
        }
    )
    frontier = max_stable_lr(table)
    assert frontier.to_dict() == {0: 0.1, 50: 0.3}
    assert max_stable_lr(table, min_success_rate=0.8).to_dict() == {0: 0.1, 50: 1.0}
    assert math.isnan(max_stable_lr(table.assign(success_rate=0.0))[0])


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "changes, error, name",
    [
        ({"model": small_mlp(0)}, TypeError, "model"),
        ({"model": 3}, TypeError, "model"),
        ({"model": lambda a, b: None}, TypeError, "model"),
        ({"steps": 0}, ValueError, "steps"),
        ({"optimizer": "adamm"}, ValueError, "optimizer"),
        ({"optimizer": nn.Linear}, TypeError, "optimizer"),
        ({"peak_lr": 0.0}, ValueError, "peak_lr"),
        ({"peak_lr": "big"}, TypeError, "peak_lr"),
        ({"optimizer_kwargs": {"lr": 0.1}}, ValueError, "optimizer_kwargs"),
        (
            {"optimizer_kwargs": {"momentum": -1.0}, "optimizer": "sgd"},
            ValueError,
            "optimizer_kwargs",
        ),
        (
            {"optimizer_kwargs": {"momentun": 0.9}, "optimizer": "sgd"},
            TypeError,
            "optimizer_kwargs",
        ),
        ({"optimizer_kwargs": [("momentum", 0.9)]}, TypeError, "optimizer_kwargs"),
        ({"schedule": lambda step: 1.0}, TypeError, "schedule"),
        ({"batch_size": 10**6}, ValueError, "batch_size"),
        ({"eval_every": 0}, ValueError, "eval_every"),
        ({"loss": "mse"}, ValueError, "loss"),
        ({"pos_weight": "balanced"}, ValueError, "pos_weight"),
        ({"grad_clip": -1.0}, ValueError, "grad_clip"),
        ({"divergence_factor": 1.0}, ValueError, "divergence_factor"),
        ({"data": "digits"}, TypeError, "data"),
    ],
)
def test_run_config_rejects_bad_fields(digits, changes, error, name):
    with pytest.raises(error, match=name):
        config_for(digits, **changes)


def test_run_config_replace_and_model_checks(digits):
    config = config_for(digits)
    assert config.replace(peak_lr=0.1).peak_lr == 0.1 and config.peak_lr == 3e-3
    with pytest.raises(TypeError, match="unknown field"):
        config.replace(lr=0.1)
    with pytest.raises(ValueError, match="peak_lr"):
        config.replace(peak_lr=-1)
    with pytest.raises(TypeError, match="must return a torch.nn.Module"):
        config_for(digits, model=lambda seed: "not a model").run(0)
    assert "peak_lr=0.003" in repr(config)


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda c: run_seeds(c, seeds=5), TypeError, "seeds"),
        (lambda c: run_seeds(c, seeds=[]), ValueError, "seeds"),
        (lambda c: run_seeds(c, seeds=[1, 1]), ValueError, "seeds"),
        (lambda c: run_seeds(c, seeds=[-1]), ValueError, r"seeds\[0\]"),
        (lambda c: run_seeds(c, seeds=[0], ensemble="yes"), ValueError, "ensemble"),
        (lambda c: run_seeds(c, seeds=[0], condition=3), TypeError, "condition"),
        (lambda c: run_seeds("config", seeds=[0]), TypeError, "run"),
        (lambda c: train_ensemble("config", [0]), TypeError, "config"),
        (lambda c: sweep([], [0], [0], c), ValueError, "peak_lrs"),
        (lambda c: sweep([0.1, 0.1], [0], [0], c), ValueError, "peak_lrs"),
        (lambda c: sweep([-0.1], [0], [0], c), ValueError, r"peak_lrs\[0\]"),
        (lambda c: sweep([0.1], [-5], [0], c), ValueError, r"warmup_steps_list\[0\]"),
        (lambda c: sweep([0.1], 10, [0], c), TypeError, "warmup_steps_list"),
        (lambda c: sweep([0.1], [0], [0], c, warmup="linear"), TypeError, "warmup"),
        (lambda c: sweep([0.1], [0], [0], c, success=0.9), TypeError, "success"),
        (lambda c: compare({}, [0]), TypeError, "conditions"),
        (lambda c: summarize_seeds(pd.DataFrame({"a": [1]})), ValueError, "frame"),
        (lambda c: summarize_seeds([1, 2]), TypeError, "frame"),
        (
            lambda c: summarize_seeds(fake_frame({0: 0.9}), success=SuccessRule("val_f1")),
            ValueError,
            "success",
        ),
        (lambda c: summarize_seeds(fake_frame({0: 0.9}), by="optimizer"), ValueError, "by"),
        (lambda c: summarize_runs(fake_frame({0: 0.9}), early_steps=0), ValueError, "early_steps"),
        (lambda c: max_stable_lr(pd.DataFrame({"peak_lr": [0.1]})), ValueError, "table"),
        (lambda c: SuccessRule(threshold=math.nan), ValueError, "threshold"),
        (lambda c: SuccessRule(metric=""), TypeError, "metric"),
        (lambda c: histories_to_frame([1]), TypeError, r"histories\[0\]"),
    ],
)
def test_bad_arguments_name_the_argument(digits, call, error, name):
    with pytest.raises(error, match=name):
        call(config_for(digits, steps=5))


def test_progress_bars_run(digits, capsys):
    config = config_for(digits, steps=3)
    assert len(run_seeds(config, seeds=[0, 1], progress=True)) == 6
    assert len(run_seeds(config, seeds=[0], progress=True, ensemble=False)) == 3
    assert len(sweep([1e-3], [0], seeds=[0], run=config, progress=True)) == 1
    assert "train x2" in capsys.readouterr().err


def test_fit_returns_the_trained_model_and_the_same_history_as_run():
    from warmup_lib.data import load_digits
    from warmup_lib.experiments import RunConfig
    from warmup_lib.models import MLP

    data = load_digits()
    config = RunConfig(model=lambda seed: MLP(64, 10, hidden=(16,), seed=seed), data=data, steps=20, peak_lr=1e-2)
    model, history = config.fit(3)
    assert history.to_frame().equals(config.run(3).to_frame())
    with torch.no_grad():
        accuracy = (model(data.X_val).argmax(1) == data.y_val).float().mean().item()
    assert accuracy == pytest.approx(history.final_metrics["val_accuracy"], abs=1e-6)
