"""Tests for warmup_lib.training (the recording trainer and History) and warmup_lib.runtime."""

from __future__ import annotations

import math
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from warmup_lib import runtime
from warmup_lib.data import DataSplits, load_digits, make_bigram_language
from warmup_lib.losses import pos_weight_from_labels
from warmup_lib.models import MLP, FraudClassifier, TinyTransformerLM
from warmup_lib.schedules import CosineDecay, LinearWarmup, warmup_then
from warmup_lib.training import (
    BatchOrder,
    Criterion,
    History,
    StackedBatchOrder,
    TrainSettings,
    train,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return load_digits(seed=0)


def make_binary(n: int = 600, fraud_rate: float = 0.05, seed: int = 0) -> DataSplits:
    """A small imbalanced binary task: positives are shifted along a few features."""
    g = torch.Generator().manual_seed(seed)

    def split(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = (torch.rand(rows, generator=g) < fraud_rate).float()
        y[:2] = 1.0  # every split has positives
        X = torch.randn(rows, 6, generator=g) + 1.5 * y[:, None] * torch.tensor(
            [1.0, 1.0, -1.0, 0.0, 0.0, 0.0]
        )
        return X, y

    (Xtr, ytr), (Xva, yva), (Xte, yte) = split(n), split(n // 2), split(n // 2)
    return DataSplits("toy-fraud", "binary", Xtr, ytr, Xva, yva, Xte, yte, n_classes=2)


def small_mlp(seed: int = 0) -> MLP:
    return MLP(64, 10, hidden=(32,), seed=seed)


def run(
    data, steps=40, seed=0, lr=1e-2, schedule=None, optimizer="adam", model=None, **kwargs
) -> tuple[History, nn.Module]:
    model = model if model is not None else small_mlp()
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    return train(model, opt, schedule, data, steps, seed, **kwargs), model


# ---------------------------------------------------------------------------- the basic record


def test_signature_from_the_contract(digits):
    model = small_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train(model, optimizer, None, digits, steps=30, seed=0)
    assert history.status == "completed" and not history.diverged and history.diverged_at is None
    assert history.steps_done == 30
    assert history.config["seed"] == 0 and history.config["optimizer"] == "SGD"


def test_frame_columns_and_evaluations(digits):
    history, _ = run(digits, steps=25, eval_every=10)
    frame = history.to_frame()
    assert list(frame.columns) == [
        "step",
        "epoch",
        "lr",
        "train_loss",
        "grad_norm",
        "update_ratio",
        "val_loss",
        "val_accuracy",
    ]
    assert frame["step"].tolist() == list(range(25))
    assert history.eval_step == [9, 19, 24]  # every 10th update and the last one
    assert frame["val_loss"].notna().sum() == 3 and math.isnan(frame.loc[0, "val_loss"])
    evals = history.eval_frame()
    assert evals["step"].tolist() == [9, 19, 24]
    assert evals["val_loss"].tolist() == history.val_loss
    assert history.final_val_loss == history.val_loss[-1]
    assert set(history.final_metrics) == {"val_loss", "val_accuracy"}
    assert (frame["grad_norm"] > 0).all() and (frame["update_ratio"] > 0).all()
    assert "status='completed'" in repr(history) and "val_accuracy" in repr(history)


def test_same_seed_gives_identical_history_and_global_state_is_restored(digits):
    rng_before, threads_before = torch.get_rng_state(), torch.get_num_threads()
    first, model_a = run(digits, steps=30, seed=3, schedule=LinearWarmup(10))
    second, model_b = run(digits, steps=30, seed=3, schedule=LinearWarmup(10))
    other, _ = run(digits, steps=30, seed=4, schedule=LinearWarmup(10))
    assert first == second
    assert all(
        torch.equal(p, q) for p, q in zip(model_a.parameters(), model_b.parameters(), strict=True)
    )
    assert first.train_loss != other.train_loss
    assert torch.equal(rng_before, torch.get_rng_state())
    assert torch.get_num_threads() == threads_before


def test_history_is_plain_data(digits):
    history, _ = run(digits, steps=12, schedule=warmup_then(LinearWarmup(5), CosineDecay(7)))
    assert pickle.loads(pickle.dumps(history)) == history
    assert History.from_dict(history.to_dict()) == history
    assert history.config["schedule"]["type"] == "Joined"
    with pytest.raises(ValueError, match="keys"):
        History.from_dict({"nonsense": 1})


def test_lr_column_is_schedule_times_peak_lr(digits):
    schedule = warmup_then(LinearWarmup(20), CosineDecay(40))
    history, _ = run(digits, steps=60, lr=0.05, schedule=schedule)
    np.testing.assert_allclose(history.lr, 0.05 * schedule.curve(np.arange(60)), rtol=1e-12)
    assert history.lr[0] == 0.0 and history.config["peak_lr"] == 0.05
    assert history.update_ratio[0] == 0.0  # LR 0: the first update moves nothing


def test_constant_lr_without_schedule_and_with_a_torch_scheduler(digits):
    history, _ = run(digits, steps=10, lr=0.02)
    assert history.lr == [0.02] * 10
    model = small_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=4)
    history = train(model, optimizer, scheduler, digits, 6)
    np.testing.assert_allclose(history.lr, [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1])
    assert history.config["schedule"] == {"type": "LinearLR"}


def test_grad_norm_and_update_ratio_are_exact_for_plain_sgd(digits):
    # Plain SGD: w_1 - w_0 = -lr * g, so ||dw|| / ||w|| = lr * ||g|| / ||w_0||.
    model = small_mlp()
    w0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
    history, _ = run(digits, steps=1, lr=0.1, optimizer="sgd", model=model, batch_size=None)
    reference = small_mlp()
    loss = nn.functional.cross_entropy(reference(digits.X_train), digits.y_train)
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    grad_norm = torch.cat([g.reshape(-1) for g in grads]).norm().item()
    assert history.train_loss[0] == pytest.approx(loss.item(), rel=1e-6)
    assert history.grad_norm[0] == pytest.approx(grad_norm, rel=1e-5)
    assert history.update_ratio[0] == pytest.approx(0.1 * grad_norm / w0.norm().item(), rel=1e-5)


def test_grad_clip_records_norm_before_clipping(digits):
    clipped, _ = run(digits, steps=1, lr=0.1, optimizer="sgd", batch_size=None, grad_clip=1e-3)
    free, _ = run(digits, steps=1, lr=0.1, optimizer="sgd", batch_size=None)
    assert clipped.grad_norm == free.grad_norm
    assert clipped.update_ratio[0] == pytest.approx(
        free.update_ratio[0] * 1e-3 / free.grad_norm[0], rel=1e-4
    )


def test_epochs_and_full_batch(digits):
    n_train = len(digits.X_train)
    history, _ = run(digits, steps=40, batch_size=64)
    per_epoch = n_train // 64
    assert history.epoch == [step // per_epoch for step in range(40)]
    full, _ = run(digits, steps=5, batch_size=None)
    assert full.epoch == [0, 1, 2, 3, 4] and full.config["batch_size"] is None


def test_digits_mlp_reaches_high_accuracy(digits):
    model = MLP(64, 10, hidden=(128,), seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = train(model, optimizer, LinearWarmup(30), digits, steps=250, seed=0, eval_every=50)
    assert history.final_metrics["val_accuracy"] > 0.9
    assert history.final_val_loss < history.val_loss[0]


# ---------------------------------------------------------------------------------- divergence


def test_divergence_is_recorded_not_raised(digits):
    history, _ = run(digits, steps=100, lr=100.0, optimizer="sgd")
    assert history.diverged and history.status == "diverged"
    step = history.diverged_at
    assert isinstance(step, int) and step == history.step[-1] and history.steps_done == step + 1
    last = history.train_loss[-1]
    assert not math.isfinite(last) or last > 10 * history.train_loss[0]
    assert math.isnan(history.grad_norm[-1]) and math.isnan(history.update_ratio[-1])
    assert history.eval_step[-1] == step  # evaluated where it stopped
    assert "diverged_at" in repr(history)
    assert len(history.to_frame()) == step + 1
    again, _ = run(digits, steps=100, lr=100.0, optimizer="sgd")
    assert again.to_frame().equals(history.to_frame())  # NaN-aware comparison


def test_divergence_factor_none_only_stops_on_non_finite(digits):
    ratio, _ = run(digits, steps=100, lr=100.0, optimizer="sgd", divergence_factor=10.0)
    finite_only, _ = run(digits, steps=100, lr=100.0, optimizer="sgd", divergence_factor=None)
    assert finite_only.diverged and not math.isfinite(finite_only.train_loss[-1])
    assert finite_only.diverged_at > ratio.diverged_at
    assert finite_only.train_loss[: ratio.diverged_at + 1] == ratio.train_loss
    assert all(math.isfinite(v) for v in finite_only.train_loss[:-1])


# -------------------------------------------------------------------------- checkpoint / resume


class DropoutNet(nn.Sequential):
    """An MLP with dropout, so exact resume must also restore torch's random state."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))


@pytest.mark.parametrize("make_model", [small_mlp, DropoutNet], ids=["mlp", "dropout"])
def test_resume_mid_warmup_is_exact(digits, tmp_path, make_model):
    schedule = warmup_then(LinearWarmup(50), CosineDecay(10))
    path = tmp_path / "run.pt"
    settings = {"schedule": schedule, "eval_every": 7, "seed": 5}

    straight, straight_model = run(digits, steps=60, model=make_model(), **settings)

    first, _ = run(
        digits,
        steps=60,
        model=make_model(),
        checkpoint_path=path,
        checkpoint_every=10,
        stop_at=30,
        **settings,
    )
    assert first.status == "stopped" and first.steps_done == 30
    saved = torch.load(path, weights_only=True)  # plain data only
    assert saved["next_step"] == 30

    resumed, resumed_model = run(digits, steps=60, model=make_model(), resume_from=path, **settings)
    assert resumed.status == "completed"
    assert resumed == straight
    assert resumed.to_frame().equals(straight.to_frame())
    for p, q in zip(
        straight_model.state_dict().values(), resumed_model.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q)


def test_a_finished_run_can_be_extended(digits, tmp_path):
    path = tmp_path / "run.pt"
    short, _ = run(digits, steps=20, checkpoint_path=path)
    assert short.status == "completed" and torch.load(path, weights_only=True)["next_step"] == 20
    extended, _ = run(digits, steps=30, resume_from=path)
    straight, _ = run(digits, steps=30)
    assert extended == straight


def test_resume_refuses_other_settings(digits, tmp_path):
    path = tmp_path / "run.pt"
    run(digits, steps=20, checkpoint_path=path, stop_at=10)
    with pytest.raises(ValueError, match="seed"):
        run(digits, steps=20, seed=1, resume_from=path)
    with pytest.raises(ValueError, match="schedule"):
        run(digits, steps=20, schedule=LinearWarmup(5), resume_from=path)
    with pytest.raises(ValueError, match="resume_from"):
        run(digits, steps=20, resume_from=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="steps"):
        run(digits, steps=5, resume_from=path)


# ------------------------------------------------------------------------------- other tasks


def test_binary_task_with_pos_weight_and_focal():
    data = make_binary()
    base_rate = float(data.y_train.mean())
    weighted, _ = run(
        data,
        steps=60,
        lr=1e-2,
        model=FraudClassifier(6, base_rate=base_rate, seed=0),
        pos_weight="balanced",
        eval_every=20,
    )
    assert weighted.config["pos_weight"] == pytest.approx(pos_weight_from_labels(data.y_train))
    assert weighted.config["loss"] == "bce"
    metrics = weighted.final_metrics
    assert set(metrics) == {
        "val_loss",
        "val_average_precision",
        "val_precision",
        "val_recall",
        "val_f1",
        "val_accuracy",
    }
    assert 0.0 <= metrics["val_average_precision"] <= 1.0
    assert metrics["val_average_precision"] > float(data.y_val.mean())  # better than chance

    focal, _ = run(
        data,
        steps=60,
        lr=1e-2,
        model=FraudClassifier(6, base_rate=base_rate, seed=0),
        loss="focal",
        focal_alpha=0.75,
        eval_every=20,
    )
    assert focal.config["loss"] == "focal" and focal.config["focal_alpha"] == 0.75
    assert focal.final_metrics["val_average_precision"] > float(data.y_val.mean())
    # A model with a (batch, 1) output works as well.
    plain, _ = run(data, steps=5, model=MLP(6, 1, hidden=(4,), seed=0), loss="bce")
    assert plain.status == "completed"


def test_language_task_and_callable_loss():
    data = make_bigram_language(vocab_size=8, seq_len=6, n_train=64, n_val=16, n_test=16, seed=0)
    model = TinyTransformerLM(8, 6, d_model=16, n_heads=2, n_layers=1, d_ff=16, seed=0)
    history, _ = run(data, steps=4, model=model, batch_size=8, eval_every=2)
    assert history.config["loss"] == "cross_entropy"
    assert set(history.final_metrics) == {"val_loss", "val_accuracy"}

    def mean_squared_logit(outputs, targets):
        return outputs.pow(2).mean()

    custom, _ = run(
        data,
        steps=2,
        model=TinyTransformerLM(8, 6, d_model=16, n_heads=2, n_layers=1, seed=0),
        batch_size=8,
        loss=mean_squared_logit,
    )
    assert custom.config["loss"] == "mean_squared_logit"


def test_progress_bar_runs(digits, capsys):
    history, _ = run(digits, steps=3, progress=True)
    assert history.steps_done == 3
    assert "train" in capsys.readouterr().err


# --------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": 2.5}, ValueError, "steps"),
        ({"seed": -1}, ValueError, "seed"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 100_000}, ValueError, "batch_size"),
        ({"eval_every": 0}, ValueError, "eval_every"),
        ({"loss": "hinge"}, ValueError, "loss"),
        ({"loss": "bce"}, ValueError, "binary"),
        ({"loss": 3}, TypeError, "loss"),
        ({"pos_weight": 2.0}, ValueError, "pos_weight"),
        ({"pos_weight": "balanced"}, ValueError, "pos_weight"),
        ({"focal_alpha": 2.0}, ValueError, "focal_alpha"),
        ({"focal_gamma": -1.0}, ValueError, "focal_gamma"),
        ({"grad_clip": 0.0}, ValueError, "grad_clip"),
        ({"divergence_factor": 1.0}, ValueError, "divergence_factor"),
        ({"threads": 0}, ValueError, "threads"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"checkpoint_every": 5}, ValueError, "checkpoint_path"),
        ({"checkpoint_path": 3}, TypeError, "checkpoint_path"),
        ({"stop_at": 50}, ValueError, "stop_at"),
        ({"schedule": lambda step: 1.0}, TypeError, "LambdaLR"),
    ],
)
def test_bad_arguments_name_the_argument(digits, kwargs, error, name):
    args = {"steps": 10, **kwargs}
    with pytest.raises(error, match=name):
        run(digits, **args)


def test_bad_model_optimizer_and_data(digits):
    model = small_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="model"):
        train("mlp", optimizer, None, digits, 5)
    with pytest.raises(TypeError, match="optimizer"):
        train(model, "adam", None, digits, 5)
    with pytest.raises(ValueError, match="optimizer"):
        train(model, torch.optim.SGD(small_mlp().parameters(), lr=0.1), None, digits, 5)
    with pytest.raises(TypeError, match="data"):
        train(model, optimizer, None, (digits.X_train, digits.y_train), 5)
    other = torch.optim.SGD(small_mlp().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another optimizer"):
        train(model, optimizer, torch.optim.lr_scheduler.LinearLR(other), digits, 5)
    wrong_width = MLP(64, 3, hidden=(8,), seed=0)
    with pytest.raises(ValueError, match="n_classes"):
        train(wrong_width, torch.optim.SGD(wrong_width.parameters(), lr=0.1), None, digits, 5)


# ----------------------------------------------------------------------------------- runtime


def test_thread_policy_restores_previous_count():
    before = torch.get_num_threads()
    previous = runtime.set_threads(1)
    assert previous == before and torch.get_num_threads() == 1
    with runtime.threads(2) as n:
        assert n == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    with runtime.threads(None) as n:
        assert n == 1
    runtime.set_threads(before)
    with pytest.raises(ValueError, match="n"):
        runtime.set_threads(0)


def test_describe_environment_and_seed_everything():
    info = runtime.describe_environment()
    assert info["torch"] == torch.__version__ and info["cpu_count"] >= 1
    assert {"python", "numpy", "sklearn", "pandas", "torch_threads", "cpus_available"} <= set(info)
    assert isinstance(pd.Series(info), pd.Series)
    runtime.seed_everything(1)
    a = (np.random.rand(), torch.rand(1).item())  # noqa: NPY002 - testing the legacy global seed
    runtime.seed_everything(1)
    assert a == (np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-5)


class _InputRecorder(nn.Module):
    """A linear classifier that keeps every training batch it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 10)
        self.batches: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.batches.append(x.detach().clone())
        return self.linear(x)


def test_batch_rows_are_the_rows_train_reads(digits):
    from warmup_lib.training import batch_rows

    model = _InputRecorder()
    steps = 40  # 16 steps per epoch of 64: crosses two reshuffles
    run(digits, steps=steps, seed=3, model=model, batch_size=64, eval_every=100)
    rows = batch_rows(digits, steps, 3, batch_size=64)
    assert rows.shape == (steps, 64) and rows.dtype == torch.int64
    for step, seen in enumerate(model.batches):
        assert torch.equal(seen, digits.X_train[rows[step]]), f"step {step} read other rows"
    epoch = len(digits.X_train) // 64
    assert len(set(rows[:epoch].flatten().tolist())) == epoch * 64, "no row twice within an epoch"
    assert not torch.equal(rows, batch_rows(digits, steps, 4, batch_size=64)), "another seed, another order"
    with pytest.raises(ValueError, match="batch_size"):
        batch_rows(digits, 5, batch_size=len(digits.X_train) + 1)
    with pytest.raises(ValueError, match="steps"):
        batch_rows(digits, 0)
    with pytest.raises(TypeError, match="DataSplits"):
        batch_rows(digits.X_train, 5)


def test_keep_freed_memory_is_idempotent_and_harmless():
    first = runtime.keep_freed_memory()
    assert isinstance(first, bool) and runtime.keep_freed_memory() == first
    big = torch.ones(8 * 2**20)  # allocations still work and hold what they should
    assert float(big.sum()) == 8 * 2**20


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RSS from /proc (Linux)")
def test_release_freed_memory_hands_kept_memory_back():
    kept = runtime.keep_freed_memory()
    # 32 x 4 MiB: each below the mmap threshold, and 128 MiB in all, well below the 256 MiB that
    # glibc may keep (at the threshold itself, free() could trim on its own and prove nothing).
    blocks = [torch.ones(2**20) for _ in range(32)]
    del blocks
    before = _rss_mib()
    released = runtime.release_freed_memory()
    assert released == kept  # both need glibc
    if released:
        assert _rss_mib() < before - 64, "malloc_trim should return the ~128 MiB just freed"


# ---------------------------------------------------------------------------- the shared parts


def test_train_settings_validate_once_and_describe_the_run(digits):
    settings = TrainSettings(digits, 100.0, batch_size=64.0, loss="auto")
    assert settings.steps == 100 and settings.batch_size == 64
    assert settings.criterion.name == "cross_entropy" and settings.criterion.batched
    with pytest.raises(ValueError, match="batch_size"):
        TrainSettings(digits, 10, batch_size=10**6)
    with pytest.raises(ValueError, match="pos_weight"):
        TrainSettings(digits, 10, pos_weight="balanced")
    model = small_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    config = settings.history_config(3, model, optimizer, LinearWarmup(10))
    assert config["seed"] == 3 and config["warmup_steps"] == 10 and config["peak_lr"] == 0.1
    other = small_mlp()
    history = train(other, torch.optim.SGD(other.parameters(), lr=0.1), None, digits, 5)
    assert set(history.config) == set(config) and history.config["warmup_steps"] is None


def test_a_run_config_reuses_its_validated_settings(digits, monkeypatch):
    from warmup_lib.experiments import RunConfig

    config = RunConfig(model=lambda seed: small_mlp(seed), data=digits, steps=5)
    made = []
    original = TrainSettings.__post_init__

    def counting(self):
        made.append(self)
        original(self)

    monkeypatch.setattr(TrainSettings, "__post_init__", counting)
    config.run(0)
    config.run(1)
    assert made == []  # the runs train by config.settings; nothing is validated again


def test_criterion_per_member_is_each_members_mean_loss():
    torch.manual_seed(0)
    outputs, targets = torch.randn(3, 8, 5), torch.randint(0, 5, (3, 8))
    criterion = Criterion("auto", "multiclass")
    per_member = criterion.per_member(outputs, targets)
    expected = torch.stack([criterion(outputs[k], targets[k]) for k in range(3)])
    torch.testing.assert_close(per_member, expected)
    binary = Criterion("focal", "binary", focal_alpha=0.75)
    logits, labels = torch.randn(2, 6, 1), (torch.rand(2, 6) < 0.5).float()
    torch.testing.assert_close(
        binary.per_member(logits, labels),
        torch.stack([binary(logits[k], labels[k]) for k in range(2)]),
    )
    with pytest.raises(ValueError, match="per-member"):
        Criterion(lambda o, t: o.sum(), "multiclass").per_member(outputs, targets)
    with pytest.raises(ValueError, match="binary task"):
        Criterion("bce", "multiclass")


def test_stacked_batch_order_gives_each_member_its_own_seeds_batches():
    stacked = StackedBatchOrder(50, 8, [3, 4])
    alone = [BatchOrder(50, 8, 3), BatchOrder(50, 8, 4)]
    for _ in range(20):  # several epochs of 6 steps
        index, epoch = stacked.next()
        for k, order in enumerate(alone):
            own, own_epoch = order.next()
            assert torch.equal(index[k], own) and epoch == own_epoch
    stacked.keep([False, True])
    index, _ = stacked.next()
    assert torch.equal(index[0], alone[1].next()[0])
