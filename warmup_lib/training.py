"""The recording trainer: ``train(model, optimizer, schedule, data, steps)``, its ``History``, and the one training loop.

Everything a run shares with :mod:`warmup_lib.experiments` lives here under a public name:

* :class:`TrainSettings` — the run contract (data, steps, batch size, loss, clipping, divergence
  rule...), validated once; :func:`train` builds one from its arguments and
  :class:`~warmup_lib.experiments.RunConfig` holds one;
* :class:`Criterion` — the training loss, for one model or for K stacked ones;
* :class:`BatchOrder` / :class:`StackedBatchOrder` — which rows each step trains on;
* :class:`DivergenceRule`, :class:`StepRecorder` and :func:`evaluate` — when a run has blown up,
  what is recorded per step, and the validation pass;
* :func:`run_steps` — the loop itself. :func:`train` runs it on one model;
  :func:`~warmup_lib.experiments.train_ensemble` runs it on K models stacked into one
  (:mod:`warmup_lib.ensemble`), so both record exactly the same things in the same way.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from . import runtime
from ._validation import check_bool, check_choice, check_float, check_int, check_optimizer
from .data import TASKS
from .losses import focal_loss, pos_weight_from_labels
from .schedules import Schedule
from .torch_adapter import ScheduleLR

if TYPE_CHECKING:  # pandas is imported lazily by the methods that need it
    import pandas as pd

__all__ = [
    "History",
    "train",
    "batch_rows",
    "run_training",
    "LOSSES",
    "STEP_COLUMNS",
    "TrainSettings",
    "Criterion",
    "BatchOrder",
    "StackedBatchOrder",
    "DivergenceRule",
    "StepRecorder",
    "Members",
    "ModelMember",
    "OptimizerRates",
    "evaluate",
    "run_steps",
    "check_data",
    "eval_chunk_rows",
    "progress_bar",
    "total_norm",
]

#: Loss names ``train`` accepts (a callable ``loss(outputs, targets) -> scalar`` works too).
LOSSES = ("auto", "cross_entropy", "bce", "focal")
#: Per-step columns of :meth:`History.to_frame`, before the ``val_*`` columns.
STEP_COLUMNS = ("step", "epoch", "lr", "train_loss", "grad_norm", "update_ratio")

_CHECKPOINT_FORMAT = "warmup_lib.train/1"
# Forward passes during evaluation hold at most this many examples (tokens for a language
# model) x members at once: bounds memory on a 1 GB Binder, and keeps each activation small
# enough (a few MB) to be reused by the allocator instead of being mapped afresh every time.
_EVAL_EXAMPLES = 8192
_PROGRESS_EVERY = 25  # steps between loss updates in the progress bar's postfix
_REQUIRED_DATA_FIELDS = ("name", "task", "X_train", "y_train", "X_val", "y_val", "n_classes")
_BINARY_METRICS = ("val_average_precision", "val_precision", "val_recall", "val_f1", "val_accuracy")
# Run settings that must agree between a checkpoint and the call resuming from it.
_RESUME_MUST_MATCH = (
    "seed",
    "batch_size",
    "data",
    "task",
    "n_train",
    "model",
    "n_parameters",
    "optimizer",
    "peak_lr",
    "schedule",
    "loss",
    "pos_weight",
    "grad_clip",
)


@dataclass(repr=False)
class History:
    """Everything one training run recorded, as plain Python data (picklable, comparable).

    Per optimizer step ``k`` (0-based; step ``k`` is the ``(k+1)``-th update):

    * ``lr[k]`` — the learning rate the update actually used (parameter group 0);
    * ``train_loss[k]`` — the mini-batch loss before the update;
    * ``grad_norm[k]`` — global L2 norm of all gradients, before any clipping;
    * ``update_ratio[k]`` — relative update size ``||w_after - w_before|| / ||w_before||`` over all
      parameters (Kosson et al. 2024, arXiv 2410.23922: warmup exists to keep this small early);
    * ``epoch[k]`` — which pass over the training set the batch came from.

    Every ``eval_every`` steps and at the last step the model is evaluated on the validation
    split: ``eval_step``, ``val_loss`` (same loss as training) and ``val_metrics`` (e.g.
    ``{"val_accuracy": [...]}``; binary tasks also get average precision, precision, recall and
    F1 at threshold 0.5).

    ``status`` is ``"completed"``, ``"diverged"`` (loss non-finite or above
    ``divergence_factor`` x the first loss; the row at ``diverged_at`` holds that loss and no
    update was applied), ``"stopped"`` (``stop_at`` reached) or ``"not started"``.
    ``config`` holds the run's settings (seed, steps, batch size, optimizer, peak LR, schedule,
    its ``warmup_steps``...). ``seconds`` (wall time) is not part of equality, so two runs with
    the same seed compare equal; a diverged run holds NaNs and NaN != NaN, so compare those with
    ``a.to_frame().equals(b.to_frame())``.
    """

    config: dict[str, Any] = field(default_factory=dict)
    step: list[int] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    update_ratio: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metrics: dict[str, list[float]] = field(default_factory=dict)
    status: str = "not started"
    diverged_at: int | None = None
    seconds: float = field(default=0.0, compare=False)

    @property
    def diverged(self) -> bool:
        """True when training stopped because the loss blew up (see ``diverged_at``)."""
        return self.status == "diverged"

    @property
    def steps_done(self) -> int:
        """Number of recorded steps (including a final diverged step)."""
        return len(self.step)

    @property
    def final_train_loss(self) -> float:
        """Training loss of the last recorded step (NaN if nothing was recorded)."""
        return self.train_loss[-1] if self.train_loss else math.nan

    @property
    def final_val_loss(self) -> float:
        """Validation loss at the last evaluation (NaN if never evaluated)."""
        return self.val_loss[-1] if self.val_loss else math.nan

    @property
    def final_metrics(self) -> dict[str, float]:
        """``{"val_loss": ..., "val_<metric>": ...}`` at the last evaluation (empty if none)."""
        if not self.eval_step:
            return {}
        out = {"val_loss": self.val_loss[-1]}
        out.update({name: values[-1] for name, values in self.val_metrics.items()})
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per step: ``step, epoch, lr, train_loss, grad_norm, update_ratio, val_loss,
        val_<metric>...``; the ``val_*`` columns are NaN on steps without an evaluation."""
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame({name: getattr(self, name) for name in STEP_COLUMNS})
        frame = frame.astype(
            {
                "step": "int64",
                "epoch": "int64",
                "lr": "float64",
                "train_loss": "float64",
                "grad_norm": "float64",
                "update_ratio": "float64",
            }
        )
        rows = np.searchsorted(frame["step"].to_numpy(), np.asarray(self.eval_step, dtype=np.int64))
        for name, values in {"val_loss": self.val_loss, **self.val_metrics}.items():
            column = np.full(len(frame), np.nan)
            column[rows] = values
            frame[name] = column
        return frame

    def eval_frame(self) -> pd.DataFrame:
        """Only the evaluated steps of :meth:`to_frame` (re-indexed from 0)."""
        frame = self.to_frame()
        return frame[frame["step"].isin(self.eval_step)].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts/lists/numbers (what checkpoints store); inverse of :meth:`from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History from :meth:`to_dict` output."""
        if not isinstance(data, dict):
            raise TypeError(
                f"data must be a dict made by History.to_dict(), got {type(data).__name__}"
            )
        names = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"data has keys History does not know: {sorted(unknown)}")
        return cls(**data)

    def __repr__(self) -> str:
        cfg = self.config
        parts = [f"steps={self.steps_done}/{cfg.get('steps', '?')}", f"status={self.status!r}"]
        if self.diverged:
            parts.append(f"diverged_at={self.diverged_at}")
        if self.train_loss:
            parts.append(f"train_loss={self.final_train_loss:.4g}")
        parts += [f"{name}={value:.4g}" for name, value in self.final_metrics.items()]
        if "optimizer" in cfg:
            parts.append(f"optimizer={cfg['optimizer']}")
        if "peak_lr" in cfg:
            parts.append(f"peak_lr={cfg['peak_lr']:g}")
        schedule = cfg.get("schedule")
        parts.append(f"schedule={schedule.get('type') if isinstance(schedule, dict) else schedule}")
        parts.append(f"seed={cfg.get('seed')}")
        return f"History({', '.join(parts)})"


# ----------------------------------------------------------------------------------------------
# The run contract


def check_data(data: Any, name: str = "data") -> None:
    """Check that ``data`` is a :class:`~warmup_lib.data.DataSplits` (or has its fields) that can be trained on."""
    missing = [field_ for field_ in _REQUIRED_DATA_FIELDS if not hasattr(data, field_)]
    if missing:
        raise TypeError(
            f"{name} must be a warmup_lib.data.DataSplits (or have its fields); "
            f"{type(data).__name__} lacks {', '.join(missing)}"
        )
    check_choice(f"{name}.task", data.task, TASKS)
    for part in ("X_train", "y_train", "X_val", "y_val"):
        if not isinstance(getattr(data, part), torch.Tensor):
            raise TypeError(
                f"{name}.{part} must be a torch.Tensor, got {type(getattr(data, part)).__name__}"
            )
    for split in ("train", "val"):
        X, y = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
        if len(X) == 0 or len(X) != len(y):
            raise ValueError(
                f"{name}.X_{split} and {name}.y_{split} must hold the same number (>= 1) of rows, "
                f"got {len(X)} and {len(y)}"
            )
    if data.task == "binary" and not data.y_train.is_floating_point():
        raise TypeError(
            f"{name}.y_train must hold float 0/1 labels for a binary task, got {data.y_train.dtype}"
        )
    if data.task != "binary" and data.y_train.dtype != torch.int64:
        raise TypeError(
            f"{name}.y_train must hold int64 class labels for task {data.task!r}, got {data.y_train.dtype}"
        )


def _squeeze_logit(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # A model ending in Linear(.., 1) gives (batch, 1); the labels are (batch,).
    if outputs.dim() == targets.dim() + 1 and outputs.shape[-1] == 1:
        return outputs.squeeze(-1)
    return outputs


class Criterion:
    """The training loss of a run, by name (``"cross_entropy"``, ``"bce"``, ``"focal"``) or a callable.

    ``criterion(outputs, targets)`` is the mean loss of one model's outputs (what
    :func:`train` minimises and reports); ``criterion.per_member(outputs, targets)`` takes the
    outputs of K stacked models, ``(K, batch, ...)``, and targets ``(K, batch, ...)`` and returns
    each model's mean loss, shape ``(K,)`` — the sum of those K numbers has every member's own
    gradient as its gradient, because the members share nothing. A callable loss has no
    per-member form (``batched`` is False).
    """

    def __init__(
        self,
        loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        task: str,
        pos_weight: float | None = None,
        focal_alpha: float | None = 0.25,
        focal_gamma: float = 2.0,
    ) -> None:
        self.task = task
        self.pos_weight = pos_weight
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        if callable(loss):
            self.name = getattr(loss, "__name__", type(loss).__name__)
            self.function = loss
            return
        name = "bce" if loss == "auto" and task == "binary" else loss
        name = "cross_entropy" if name == "auto" else name
        if name in ("bce", "focal") and task != "binary":
            raise ValueError(
                f"loss={name!r} needs a binary task; data.task is {task!r} (use 'auto' or 'cross_entropy')"
            )
        if name == "cross_entropy" and task == "binary":
            raise ValueError(
                "loss='cross_entropy' needs class labels; for a binary task use 'auto', 'bce' or 'focal'"
            )
        if pos_weight is not None and name != "bce":
            raise ValueError(
                f"pos_weight only applies to loss='bce' (or 'auto' on a binary task), not {name!r}"
            )
        self.name = name
        self.function = None
        self._weight = None if pos_weight is None else torch.tensor(pos_weight)

    @property
    def batched(self) -> bool:
        """Whether :meth:`per_member` exists (every named loss; not a callable)."""
        return self.function is None

    def _per_row(self, outputs: torch.Tensor, targets: torch.Tensor, reduction: str) -> torch.Tensor:
        if self.name == "cross_entropy":
            classes = outputs.shape[-1]
            return F.cross_entropy(
                outputs.reshape(-1, classes), targets.reshape(-1), reduction=reduction
            )
        logits = _squeeze_logit(outputs, targets)
        if self.name == "bce":
            return F.binary_cross_entropy_with_logits(
                logits, targets, pos_weight=self._weight, reduction=reduction
            )
        return focal_loss(
            logits, targets, alpha=self.focal_alpha, gamma=self.focal_gamma, reduction=reduction
        )

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean loss of one model's ``outputs`` against ``targets`` (a scalar tensor)."""
        if self.function is not None:
            return self.function(outputs, targets)
        return self._per_row(outputs, targets, "mean")

    def per_member(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean loss of each of K stacked models: outputs ``(K, batch, ...)`` -> ``(K,)``."""
        if self.function is not None:
            raise ValueError(f"the loss {self.name!r} is a function: it has no per-member form")
        members = outputs.shape[0]
        return self._per_row(outputs, targets, "none").view(members, -1).mean(dim=1)

    def __repr__(self) -> str:
        return f"Criterion({self.name!r}, task={self.task!r})"


@dataclass(frozen=True, eq=False)
class TrainSettings:
    """How a run trains, apart from the model, optimizer and schedule: validated once, here.

    :func:`train` builds one from its keyword arguments; a
    :class:`~warmup_lib.experiments.RunConfig` holds one, so a bad value fails when the config
    is made and every run of it (sequential or batched) trains by the same settings. The fields
    mean what :func:`train`'s arguments of the same names mean. Derived once:
    ``settings.criterion`` (the :class:`Criterion`, with ``pos_weight="balanced"`` resolved to
    n_neg / n_pos of the training labels).
    """

    data: Any
    steps: int
    batch_size: int | None = 64
    eval_every: int = 10
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "auto"
    pos_weight: float | str | torch.Tensor | None = None
    focal_alpha: float | None = 0.25
    focal_gamma: float = 2.0
    grad_clip: float | None = None
    divergence_factor: float | None = 10.0
    threads: int | None = 1

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise each field once, in place
        check_data(self.data)
        set_(self, "steps", check_int("steps", self.steps, min_value=1))
        n_train = len(self.data.X_train)
        if self.batch_size is not None:
            set_(
                self,
                "batch_size",
                check_int("batch_size", self.batch_size, min_value=1, max_value=n_train),
            )
        set_(self, "eval_every", check_int("eval_every", self.eval_every, min_value=1))
        if not callable(self.loss):
            if not isinstance(self.loss, str):
                raise TypeError(
                    f"loss must be one of {', '.join(map(repr, LOSSES))} or a callable, "
                    f"got {type(self.loss).__name__}"
                )
            check_choice("loss", self.loss, LOSSES)
        pos_weight = self._resolve_pos_weight()
        if self.focal_alpha is not None:
            set_(
                self,
                "focal_alpha",
                check_float("focal_alpha", self.focal_alpha, min_value=0.0, max_value=1.0),
            )
        set_(self, "focal_gamma", check_float("focal_gamma", self.focal_gamma, min_value=0.0))
        if self.grad_clip is not None:
            set_(
                self,
                "grad_clip",
                check_float("grad_clip", self.grad_clip, min_value=0.0, min_open=True),
            )
        if self.divergence_factor is not None:
            set_(
                self,
                "divergence_factor",
                check_float(
                    "divergence_factor", self.divergence_factor, min_value=1.0, min_open=True
                ),
            )
        if self.threads is not None:
            set_(self, "threads", check_int("threads", self.threads, min_value=1))
        set_(
            self,
            "criterion",
            Criterion(self.loss, self.data.task, pos_weight, self.focal_alpha, self.focal_gamma),
        )

    def _resolve_pos_weight(self) -> float | None:
        value = self.pos_weight
        if isinstance(value, str):
            check_choice("pos_weight", value, ("balanced",))
            if self.data.task != "binary":
                raise ValueError(
                    f"pos_weight='balanced' needs a binary task; data.task is {self.data.task!r}"
                )
            return pos_weight_from_labels(self.data.y_train)
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"pos_weight must be one number, got a tensor of shape {tuple(value.shape)}"
                )
            value = value.item()
        if value is None:
            return None
        return check_float("pos_weight", value, min_value=0.0, min_open=True)

    def history_config(
        self, seed: int, model: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any
    ) -> dict[str, Any]:
        """The ``History.config`` of a run of ``model`` with ``optimizer`` and ``schedule`` by these settings."""
        first_group = optimizer.param_groups[0]
        criterion: Criterion = self.criterion  # type: ignore[attr-defined]
        focal = criterion.name == "focal"
        return {
            "seed": seed,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "eval_every": self.eval_every,
            "data": str(self.data.name),
            "task": self.data.task,
            "n_train": len(self.data.X_train),
            "n_val": len(self.data.X_val),
            "model": type(model).__name__,
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "optimizer": type(optimizer).__name__,
            "optimizer_hparams": _optimizer_hparams(optimizer),
            "peak_lr": float(first_group.get("initial_lr", first_group["lr"])),
            "schedule": _schedule_config(schedule),
            "warmup_steps": schedule.warmup_steps if isinstance(schedule, Schedule) else None,
            "loss": criterion.name,
            "pos_weight": criterion.pos_weight,
            "focal_alpha": self.focal_alpha if focal else None,
            "focal_gamma": self.focal_gamma if focal else None,
            "grad_clip": self.grad_clip,
            "divergence_factor": self.divergence_factor,
            "threads": self.threads,
        }


def _check_path(name: str, value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"{name} must be a file path (str or pathlib.Path) or None, got {type(value).__name__}"
        )
    return Path(value)


def _check_schedule(schedule: Any, optimizer: torch.optim.Optimizer) -> None:
    if schedule is None or isinstance(schedule, Schedule):
        return
    if isinstance(schedule, LRScheduler):
        if schedule.optimizer is not optimizer:
            raise ValueError(
                "schedule is a torch LRScheduler attached to another optimizer; build it on the "
                "optimizer passed to train"
            )
        return
    raise TypeError(
        "schedule must be a warmup_lib Schedule (e.g. LinearWarmup(100)), a torch LRScheduler "
        f"built on this optimizer, or None for a constant LR; got {type(schedule).__name__}. "
        "For a plain function step -> multiplier use torch.optim.lr_scheduler.LambdaLR(optimizer, fn)."
    )


def _schedule_config(schedule: Any) -> dict[str, Any] | None:
    if schedule is None:
        return None
    if isinstance(schedule, Schedule):
        return schedule.to_dict()
    return {"type": type(schedule).__name__}


def _plain(value: Any) -> Any:
    """Keep only what ``torch.load(weights_only=True)`` reads back; drop functions and objects."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if _is_plain(v)}
    return None


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, dict)  # nested dicts are filtered recursively by _plain


def _optimizer_hparams(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    out = {}
    for key, value in optimizer.defaults.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, (bool, int, float, str)) or (
            isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value)
        ):
            out[key] = value
    return out


def _check_outputs(outputs: Any, targets: torch.Tensor, data: Any) -> None:
    """Catch a model/data mismatch at the first step with a message that says what to change."""
    batch = len(targets)
    if not isinstance(outputs, torch.Tensor):
        raise TypeError(f"model must return a tensor of logits, got {type(outputs).__name__}")
    shape = tuple(outputs.shape)
    if data.task == "multiclass":
        ok = len(shape) == 2 and shape == (batch, data.n_classes)
        want = f"(batch, n_classes) = ({batch}, {data.n_classes})"
    elif data.task == "language":
        ok = len(shape) == 3 and shape[0] == batch and shape[2] == data.n_classes
        want = f"(batch, length, vocab_size) with vocab_size = data.n_classes = {data.n_classes}"
    else:
        ok = shape in ((batch,), (batch, 1))
        want = f"({batch},) or ({batch}, 1): one logit per row (e.g. FraudClassifier or MLP(.., 1))"
    if not ok:
        raise ValueError(
            f"model output has shape {shape}; for data.task={data.task!r} it must be {want}"
        )


# ----------------------------------------------------------------------------------------------
# Data order


class BatchOrder:
    """Mini-batches by shuffled epochs: a fresh permutation per epoch, read in consecutive slices.

    The permutations come from a generator seeded with ``seed`` and nothing else, so the same
    seed gives the same batches in any process. The last partial slice of each epoch is
    dropped, so every step sees exactly ``batch_size`` rows (steps stay comparable) and one
    epoch is ``n_rows // batch_size`` steps. ``batch_size=None`` is full-batch gradient descent:
    every step uses all rows, epoch == step. ``next()`` returns ``(row indices or None, epoch)``.
    """

    def __init__(self, n_rows: int, batch_size: int | None, seed: int) -> None:
        self.n_rows = n_rows
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.permutation = torch.empty(0, dtype=torch.int64)
        self.position = 0
        self.epoch = -1

    def new_epoch(self) -> torch.Tensor:
        """Start the next epoch: draw its permutation and return it."""
        self.permutation = torch.randperm(self.n_rows, generator=self.generator)
        self.position = 0
        self.epoch += 1
        return self.permutation

    def next(self) -> tuple[torch.Tensor | None, int]:
        """The rows of the next step and the epoch they belong to."""
        if self.batch_size is None:
            self.epoch += 1
            return None, self.epoch
        if self.epoch < 0 or self.position + self.batch_size > self.n_rows:
            self.new_epoch()
        index = self.permutation[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index, self.epoch

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "permutation": self.permutation,
            "position": self.position,
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.permutation = state["permutation"]
        self.position = int(state["position"])
        self.epoch = int(state["epoch"])


def batch_rows(data: Any, steps: int, seed: int = 0, *, batch_size: int = 64) -> torch.Tensor:
    """The training rows each step of ``train(..., data, steps, seed, batch_size=batch_size)`` reads.

    Row ``k`` of the result holds the indices into ``data.X_train`` of step ``k``'s mini-batch,
    shape ``(steps, batch_size)``, exactly as :func:`train` (and a seed ensemble of
    ``warmup_lib.experiments``) draws them: a fresh shuffle per epoch, the last partial batch
    dropped. When a loss spike appears at step ``k``, ``data.X_train[batch_rows(...)[k]]`` is the
    batch that produced it - look at it before blaming the learning rate.
    """
    check_data(data)
    steps = check_int("steps", steps, min_value=1)
    seed = check_int("seed", seed, min_value=0, max_value=2**63 - 1)
    n_train = len(data.X_train)
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=n_train)
    order = BatchOrder(n_train, batch_size, seed)
    return torch.stack([order.next()[0] for _ in range(steps)])


class StackedBatchOrder:
    """The :class:`BatchOrder` of several seeds at once: ``next()`` gives a ``(K, batch)`` index.

    Member k draws exactly the permutations ``BatchOrder(n_rows, batch_size, seeds[k])`` draws.
    All members start a new epoch at the same steps (same data and batch size), so each step
    reads one ``(K, batch)`` slice of the stacked permutations without per-member work.
    """

    def __init__(self, n_rows: int, batch_size: int | None, seeds: Sequence[int]) -> None:
        self.orders = [BatchOrder(n_rows, batch_size, seed) for seed in seeds]
        self.n_rows, self.batch_size = n_rows, batch_size
        self.permutations: torch.Tensor | None = None
        self.position = 0
        self.epoch = -1

    def next(self) -> tuple[torch.Tensor | None, int]:
        if self.batch_size is None:
            self.epoch += 1
            return None, self.epoch
        if self.permutations is None or self.position + self.batch_size > self.n_rows:
            self.permutations = torch.stack([order.new_epoch() for order in self.orders])
            self.epoch = self.orders[0].epoch
            self.position = 0
        index = self.permutations[:, self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index, self.epoch

    def keep(self, keep: list[bool]) -> None:
        """Forget the members where ``keep`` is False."""
        self.orders = [order for order, kept in zip(self.orders, keep, strict=True) if kept]
        if self.permutations is not None:
            self.permutations = self.permutations[torch.tensor(keep)]


# ----------------------------------------------------------------------------------------------
# What every step measures, and when a run has blown up


def eval_chunk_rows(X: torch.Tensor, members: int = 1) -> int:
    """How many rows of ``X`` one evaluation forward pass takes for ``members`` stacked models."""
    per_row = X[0].numel() if X.dim() == 2 and not X.is_floating_point() else 1  # tokens
    return max(1, _EVAL_EXAMPLES // (per_row * members))


def total_norm(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of a list of tensors, ``sqrt(sum_i ||t_i||^2)``, as a 0-dim tensor.

    The fused ``_foreach_norm`` that torch's own ``clip_grad_norm_`` uses; the public
    ``get_total_norm`` wrapper measured ~50 us slower per call, noticeable at ~2 ms per step.
    """
    if not tensors:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(list(tensors))))


class DivergenceRule:
    """When a run has blown up: its loss is not finite, or above ``factor`` x its own first loss.

    ``factor=None`` checks finiteness only. ``blown_up(losses)`` takes the K members' losses of
    one step and returns a ``(K,)`` boolean tensor; the first call fixes each member's first
    loss (``initial``, float64). A first loss <= 0 disables the factor test for that member.
    """

    def __init__(self, factor: float | None, initial: torch.Tensor | None = None) -> None:
        self.factor = factor
        self.initial = initial

    def blown_up(self, losses: torch.Tensor) -> torch.Tensor:
        values = losses.detach().double()
        if self.initial is None:
            self.initial = values.clone()
        bad = ~torch.isfinite(values)
        if self.factor is not None:
            bad |= (self.initial > 0) & (values > self.factor * self.initial)
        return bad

    def keep(self, keep: torch.Tensor) -> None:
        if self.initial is not None:
            self.initial = self.initial[keep]


class StepRecorder:
    """Writes what :func:`run_steps` measures into one :class:`History` per member.

    Per-step numbers stay tensors until :meth:`flush` (at the end, at a divergence, before a
    checkpoint): the loop then never waits for a number per member per step. ``active`` maps
    the rows of the stacked tensors to the members still training.
    """

    def __init__(self, histories: Sequence[History]) -> None:
        self.histories = list(histories)
        self.active = list(range(len(self.histories)))
        self._pending: list[tuple[int, int, float | list[float], torch.Tensor]] = []

    def add_step(
        self,
        step: int,
        epoch: int,
        lrs: float | list[float],
        losses: torch.Tensor,
        measures: torch.Tensor,
    ) -> None:
        """Record one step of every active member: ``lrs`` (one for all, or one per member),
        ``losses`` ``(K,)`` and ``measures`` ``(2, K)`` = gradient norms and update ratios."""
        self._pending.append((step, epoch, lrs, torch.cat([losses.view(1, -1), measures])))

    def flush(self) -> None:
        """Move the pending per-step tensors into the Histories (one device sync for all)."""
        if not self._pending:
            return
        values = torch.stack([stats for *_, stats in self._pending]).tolist()  # (steps, 3, K)
        for (step, epoch, lrs, _), (losses, grads, ratios) in zip(
            self._pending, values, strict=True
        ):
            for row, member in enumerate(self.active):
                history = self.histories[member]
                history.step.append(step)
                history.epoch.append(epoch)
                history.lr.append(lrs if isinstance(lrs, float) else lrs[row])
                history.train_loss.append(losses[row])
                history.grad_norm.append(grads[row])
                history.update_ratio.append(ratios[row])
        self._pending = []

    def add_divergence(
        self, step: int, epoch: int, lrs: float | list[float], losses: torch.Tensor, rows: list[int]
    ) -> None:
        """Record the blow-up step of the members at ``rows``: their loss, no update (NaN norms)."""
        self.flush()
        values = losses.tolist()
        for row in rows:
            history = self.histories[self.active[row]]
            history.step.append(step)
            history.epoch.append(epoch)
            history.lr.append(lrs if isinstance(lrs, float) else lrs[row])
            history.train_loss.append(values[row])
            history.grad_norm.append(math.nan)
            history.update_ratio.append(math.nan)
            history.status, history.diverged_at = "diverged", step

    def add_evaluation(
        self, step: int, rows: list[int], results: list[tuple[float, dict[str, float]]]
    ) -> None:
        for row, (val_loss, metrics) in zip(rows, results, strict=True):
            history = self.histories[self.active[row]]
            history.eval_step.append(step)
            history.val_loss.append(val_loss)
            for name, value in metrics.items():
                history.val_metrics.setdefault(name, []).append(value)

    def keep(self, keep: list[bool]) -> None:
        self.flush()
        self.active = [member for member, kept in zip(self.active, keep, strict=True) if kept]


# ----------------------------------------------------------------------------------------------
# What the loop trains and how its learning rates move


class Members(Protocol):
    """What :func:`run_steps` trains: one model (:class:`ModelMember`) or K stacked ones
    (:class:`warmup_lib.ensemble.StackedNet`). Stacked quantities have a leading member axis."""

    count: int  # members still training

    def zero_grad(self, optimizer: torch.optim.Optimizer) -> None: ...

    def batch(
        self, X: torch.Tensor, y: torch.Tensor, index: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def forward(self, X: torch.Tensor) -> torch.Tensor: ...

    def first_output(
        self, outputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...

    def eval_outputs(self, X: torch.Tensor, rows: list[int]) -> torch.Tensor: ...

    def eval_losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...

    def update(
        self,
        optimizer: torch.optim.Optimizer,
        grad_clip: float | None,
        scales: torch.Tensor | None,
    ) -> torch.Tensor: ...

    def keep(self, keep: torch.Tensor, optimizer: torch.optim.Optimizer) -> None: ...


class ModelMember:
    """One ``nn.Module`` as the single member of :func:`run_steps` (what :func:`train` trains)."""

    count = 1

    def __init__(self, model: nn.Module, criterion: Criterion) -> None:
        self.model, self.criterion = model, criterion
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.weights = [p.detach() for p in self.params]
        # One preallocated copy of the weights, reused every step, holds w_before - w_after;
        # one flat tensor when all weights share a dtype and device, so that its norm is one
        # reduction instead of one per tensor.
        kinds = {(w.dtype, w.device) for w in self.weights}
        if len(kinds) == 1:
            (dtype, device), sizes = kinds.pop(), [w.numel() for w in self.weights]
            flat = torch.empty(sum(sizes), dtype=dtype, device=device)
            self.snapshot = [flat]
            self.snapshot_views = [
                piece.view_as(w)
                for piece, w in zip(torch.split(flat, sizes), self.weights, strict=True)
            ]
        else:
            self.snapshot = self.snapshot_views = [w.clone() for w in self.weights]

    def zero_grad(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)

    def batch(
        self, X: torch.Tensor, y: torch.Tensor, index: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return (X, y) if index is None else (X[index], y[index])

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.model(X)

    def first_output(
        self, outputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return outputs, targets

    def losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion(outputs, targets).reshape(1)

    def eval_outputs(self, X: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """Outputs on ``X`` in eval mode (dropout off), ``(1, n, ...)``, in bounded chunks."""
        was_training = self.model.training
        self.model.eval()
        rows = eval_chunk_rows(X)
        try:
            chunks = [self.model(X[i : i + rows]) for i in range(0, len(X), rows)]
        finally:
            self.model.train(was_training)
        return torch.cat(chunks).unsqueeze(0)

    def eval_losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion(outputs[0], targets).reshape(1)

    @torch.no_grad()
    def update(
        self,
        optimizer: torch.optim.Optimizer,
        grad_clip: float | None,
        scales: torch.Tensor | None,
    ) -> torch.Tensor:
        """Clip (if asked), ``optimizer.step()``; return ``(2, 1)``: gradient norm, update ratio."""
        if grad_clip is None:
            grad_norm = total_norm([p.grad for p in self.params if p.grad is not None])
        else:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, grad_clip)
        torch._foreach_copy_(self.snapshot_views, self.weights)
        weight_norm = total_norm(self.snapshot)
        optimizer.step()
        torch._foreach_sub_(self.snapshot_views, self.weights)
        update_ratio = total_norm(self.snapshot) / weight_norm
        return torch.stack([grad_norm.float(), update_ratio.float()]).view(2, 1)

    def keep(self, keep: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if not bool(keep.all()):
            self.count = 0


class OptimizerRates:
    """The learning rate of a single run: the optimizer's own, moved by its torch scheduler."""

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: LRScheduler | None) -> None:
        self.optimizer, self.scheduler = optimizer, scheduler

    def current(self) -> float | list[float]:
        # Looked up every step: optimizer.load_state_dict replaces the group dicts.
        return float(self.optimizer.param_groups[0]["lr"])

    def scales(self) -> torch.Tensor | None:
        return None

    def step(self) -> None:
        if self.scheduler is not None:
            self.scheduler.step()

    def keep(self, keep: list[bool]) -> None:
        pass


# ----------------------------------------------------------------------------------------------
# Evaluation and the loop


def _metrics(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> list[dict[str, float]]:
    """Validation metrics of each member's outputs ``(K, n, ...)`` against the shared ``targets``."""
    members = outputs.shape[0]
    finite = torch.isfinite(outputs.reshape(members, -1)).all(dim=1).tolist()
    if task != "binary":
        # accuracy_score is (number right) / n; the integer count makes this identical to it.
        n = targets.numel()
        correct = (outputs.argmax(dim=-1) == targets).reshape(members, -1).sum(dim=1).tolist()
        return [
            {"val_accuracy": c / n if ok else math.nan} for c, ok in zip(correct, finite, strict=True)
        ]
    from sklearn import metrics  # lazy: sklearn.metrics takes ~1 s to import

    labels = targets.numpy().astype(int)
    has_both = 0 < labels.sum() < len(labels)
    out = []
    for member, ok in enumerate(finite):
        if not ok:
            out.append(dict.fromkeys(_BINARY_METRICS, math.nan))
            continue
        scores = torch.sigmoid(_squeeze_logit(outputs[member], targets)).numpy()
        predicted = (scores >= 0.5).astype(int)
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(
            labels, predicted, average="binary", zero_division=0
        )
        out.append(
            {
                "val_average_precision": float(metrics.average_precision_score(labels, scores))
                if has_both
                else math.nan,
                "val_precision": float(precision),
                "val_recall": float(recall),
                "val_f1": float(f1),
                "val_accuracy": float(metrics.accuracy_score(labels, predicted)),
            }
        )
    return out


def evaluate(
    members: Members, data: Any, rows: list[int] | None = None
) -> list[tuple[float, dict[str, float]]]:
    """``(val_loss, {"val_<metric>": ...})`` of each member at ``rows`` (default: all) on the
    validation split, without gradients; the loss is the training loss."""
    rows = list(range(members.count)) if rows is None else rows
    with torch.no_grad():
        outputs = members.eval_outputs(data.X_val, rows)
        losses = members.eval_losses(outputs, data.y_val).tolist()
        metrics = _metrics(outputs, data.y_val, data.task)
    return list(zip(losses, metrics, strict=True))


def run_steps(
    members: Members,
    optimizer: torch.optim.Optimizer,
    rates: Any,
    settings: TrainSettings,
    order: Any,
    recorder: StepRecorder,
    rule: DivergenceRule,
    *,
    start_step: int = 0,
    end_step: int | None = None,
    bar: Any = None,
    after_step: Callable[[int], None] | None = None,
) -> None:
    """The training loop, for one model or K stacked ones; stops early when no member is left.

    Each step: take the next mini-batch, compute each member's loss, check it with ``rule``
    (a member that blew up is recorded with that loss and no update, evaluated once and
    dropped; the others carry on unchanged), back-propagate, measure gradient norms (and clip),
    apply ``optimizer.step()``, measure the relative update sizes, advance the learning rates,
    record; every ``eval_every`` steps and after the last one, evaluate. ``rates`` gives the
    learning rate(s) of the step (``current()``), per-member update scales (``scales()``, or
    None) and advances them (``step()``); ``after_step(done)`` runs after each step (checkpoints).
    """
    runtime.keep_freed_memory()  # re-faulting freed activations costs ~10-25 % of a step
    data = settings.data
    X_train, y_train = data.X_train, data.y_train
    end_step = settings.steps if end_step is None else end_step
    for step in range(start_step, end_step):
        index, epoch = order.next()
        lrs = rates.current()
        while True:  # one pass, or two when some members blow up at this step
            members.zero_grad(optimizer)
            X, y = members.batch(X_train, y_train, index)
            outputs = members.forward(X)
            if step == start_step:
                _check_outputs(*members.first_output(outputs, y), data)
            losses = members.losses(outputs, y)
            values = losses.detach()
            blown = rule.blown_up(values)
            if not bool(blown.any()):
                break
            rows = torch.nonzero(blown).flatten().tolist()
            recorder.add_divergence(step, epoch, lrs, values, rows)
            recorder.add_evaluation(step, rows, evaluate(members, data, rows))
            keep = ~blown
            kept = keep.tolist()
            members.keep(keep, optimizer)
            recorder.keep(kept)
            rule.keep(keep)
            if not members.count:
                return
            order.keep(kept)
            rates.keep(kept)
            lrs = rates.current()
            if index is not None:
                index = index[keep]
        losses.sum().backward()
        measures = members.update(optimizer, settings.grad_clip, rates.scales())
        rates.step()
        recorder.add_step(step, epoch, lrs, values, measures)

        done = step + 1
        # Not at an interruption (stop_at): a resumed run's record equals an uninterrupted one.
        evaluate_now = done % settings.eval_every == 0 or done == settings.steps
        if evaluate_now:
            recorder.add_evaluation(step, list(range(members.count)), evaluate(members, data))
        if bar is not None:
            bar.update(1)
            if evaluate_now or done % _PROGRESS_EVERY == 0:
                postfix = {"loss": f"{float(values.median()):.4g}"}
                last = recorder.histories[recorder.active[0]].val_loss
                if members.count == 1 and last:
                    postfix["val_loss"] = f"{last[-1]:.4g}"
                bar.set_postfix(postfix, refresh=False)
        if after_step is not None:
            after_step(done)


def progress_bar(progress: bool, total: int, initial: int = 0, desc: str = "train") -> Any:
    """A tqdm bar (JupyterLab or terminal) when ``progress`` is True, else None."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step")


# ----------------------------------------------------------------------------------------------
# The trainer


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    # Write then rename, so an interrupted save never leaves a half-written checkpoint behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule | LRScheduler | None,
    data: Any,
    steps: int,
    seed: int = 0,
    *,
    batch_size: int | None = 64,
    eval_every: int = 10,
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "auto",
    pos_weight: float | str | None = None,
    focal_alpha: float | None = 0.25,
    focal_gamma: float = 2.0,
    grad_clip: float | None = None,
    divergence_factor: float | None = 10.0,
    threads: int | None = 1,
    progress: bool = False,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume_from: str | os.PathLike | None = None,
    stop_at: int | None = None,
) -> History:
    """Train ``model`` for ``steps`` optimizer updates and record what happened at every step.

    Each step: take the next mini-batch, compute the loss, back-propagate, measure the gradient
    norm (and clip it if ``grad_clip``), apply ``optimizer.step()``, measure the relative update
    size, then advance the schedule. The model is trained in place; the returned
    :class:`History` holds the record (``history.to_frame()`` for a DataFrame).

    Parameters
    ----------
    model: any ``nn.Module`` mapping ``data.X_*`` rows to logits (see ``warmup_lib.models``).
    optimizer: a ``torch.optim.Optimizer`` over the model's parameters; its ``lr`` is the peak LR.
    schedule: a warmup_lib ``Schedule`` (wrapped in :class:`~warmup_lib.torch_adapter.ScheduleLR`:
        LR at step k = peak LR x schedule(k)), an already-built torch ``LRScheduler`` on this
        optimizer, or ``None`` for a constant LR.
    data: a :class:`warmup_lib.data.DataSplits` (task "multiclass", "binary" or "language").
    steps: number of optimizer updates (>= 1).
    seed: seeds the mini-batch order and torch's random state during training (dropout), so the
        same seed, model init and settings give an identical History. The global random state
        is restored afterwards.
    batch_size: rows per step (1..n_train), or ``None`` for full-batch gradient descent. Batches
        come from a shuffled permutation per epoch; the last partial batch of an epoch is dropped.
    eval_every: evaluate on the validation split after every ``eval_every``-th update and after
        the last one. The validation loss uses the training loss function.
    loss: ``"auto"`` (cross-entropy for multiclass/language, BCE-with-logits for binary),
        ``"cross_entropy"``, ``"bce"``, ``"focal"`` (:func:`warmup_lib.losses.focal_loss`), or a
        callable ``loss(model_outputs, targets) -> scalar tensor`` given the raw outputs.
    pos_weight: for BCE on a binary task: weight of each positive, ``"balanced"`` for
        n_neg / n_pos of the training labels, or ``None``.
    focal_alpha, focal_gamma: the focal loss's alpha (None or in [0, 1]; 0.25 *down*-weights
        positives) and gamma (>= 0).
    grad_clip: clip the global gradient norm to this value (``None``: no clipping). The recorded
        ``grad_norm`` is the norm before clipping.
    divergence_factor: stop (status "diverged", no exception) when the loss is not finite or
        exceeds this factor (> 1) times the first step's loss; ``None`` checks finiteness only.
    threads: torch threads during training (1 is fastest for these small models; ``None`` leaves
        the current setting). Restored afterwards.
    progress: show a tqdm progress bar (works in JupyterLab and terminals).
    checkpoint_path, checkpoint_every: save a checkpoint every ``checkpoint_every`` steps and when
        training ends (completed or stopped; a diverged state is not saved). Needs
        ``checkpoint_path``.
    resume_from: a checkpoint written by this function. Pass a freshly built model and optimizer
        of the same kind and the same settings; training continues exactly where it stopped, up
        to ``steps`` in total.
    stop_at: stop after this many steps in total (1..steps) with status "stopped", as if the run
        had been interrupted there (no extra evaluation happens at that step).
    """
    settings = TrainSettings(
        data,
        steps,
        batch_size=batch_size,
        eval_every=eval_every,
        loss=loss,
        pos_weight=pos_weight,
        focal_alpha=focal_alpha,
        focal_gamma=focal_gamma,
        grad_clip=grad_clip,
        divergence_factor=divergence_factor,
        threads=threads,
    )
    return run_training(
        model,
        optimizer,
        schedule,
        settings,
        seed,
        progress=progress,
        checkpoint_path=checkpoint_path,
        checkpoint_every=checkpoint_every,
        resume_from=resume_from,
        stop_at=stop_at,
    )


def run_training(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule | LRScheduler | None,
    settings: TrainSettings,
    seed: int = 0,
    *,
    progress: bool = False,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume_from: str | os.PathLike | None = None,
    stop_at: int | None = None,
) -> History:
    """:func:`train` with its settings already validated in a :class:`TrainSettings`.

    What :class:`~warmup_lib.experiments.RunConfig` calls: the settings were checked when the
    config was made, so each run only checks what is new to it (model, optimizer, schedule,
    seed and the call's options).
    """
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_optimizer("optimizer", optimizer)
    model_params = {id(p) for p in model.parameters()}
    if not any(id(p) in model_params for group in optimizer.param_groups for p in group["params"]):
        raise ValueError(
            "optimizer must be built on this model's parameters, e.g. torch.optim.Adam(model.parameters())"
        )
    _check_schedule(schedule, optimizer)
    seed = check_int("seed", seed, min_value=0, max_value=2**63 - 1)
    check_bool("progress", progress)
    checkpoint_path = _check_path("checkpoint_path", checkpoint_path)
    if checkpoint_every is not None:
        checkpoint_every = check_int("checkpoint_every", checkpoint_every, min_value=1)
        if checkpoint_path is None:
            raise ValueError(
                "checkpoint_every needs checkpoint_path (where to save the checkpoints)"
            )
    resume_from = _check_path("resume_from", resume_from)
    if resume_from is not None and not resume_from.is_file():
        raise ValueError(
            f"resume_from must be an existing checkpoint file, got {str(resume_from)!r} (not found)"
        )
    if stop_at is not None:
        stop_at = check_int("stop_at", stop_at, min_value=1, max_value=settings.steps)
    steps = settings.steps
    config = settings.history_config(seed, model, optimizer, schedule)

    # Read and check a checkpoint before touching the optimizer, so a refused resume changes nothing.
    checkpoint = None if resume_from is None else _read_checkpoint(resume_from, config, steps)
    scheduler = ScheduleLR(optimizer, schedule) if isinstance(schedule, Schedule) else schedule
    order = BatchOrder(len(settings.data.X_train), settings.batch_size, seed)
    history = History(config=config, status="running")
    rule = DivergenceRule(settings.divergence_factor)
    start_step = 0
    rng_state: torch.Tensor | None = None
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(checkpoint["scheduler"])
        order.load_state_dict(checkpoint["batch_order"])
        rng_state = checkpoint["torch_rng"]
        if checkpoint["initial_loss"] is not None:
            rule.initial = torch.tensor([checkpoint["initial_loss"]], dtype=torch.float64)
        start_step = int(checkpoint["next_step"])
        history = History.from_dict(checkpoint["history"])
        history.config = config
        history.status = "running"
    recorder = StepRecorder([history])
    end_step = steps if stop_at is None else max(stop_at, start_step)
    started = time.perf_counter()

    def save_checkpoint(done: int) -> None:
        nonlocal started
        if checkpoint_path is None or not (
            (checkpoint_every is not None and done % checkpoint_every == 0) or done == end_step
        ):
            return
        recorder.flush()
        history.status = "completed" if done == steps else "stopped"
        history.seconds += time.perf_counter() - started
        started = time.perf_counter()
        initial = rule.initial
        _save_checkpoint(
            checkpoint_path,
            {
                "format": _CHECKPOINT_FORMAT,
                "next_step": done,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": None if scheduler is None else _plain(scheduler.state_dict()),
                "batch_order": order.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "initial_loss": None if initial is None else float(initial[0]),
                "history": history.to_dict(),
            },
        )
        history.status = "running"

    bar = progress_bar(progress, steps, start_step)
    model.train()
    try:
        with runtime.threads(settings.threads), torch.random.fork_rng(devices=[]):
            if rng_state is None:
                torch.manual_seed(seed)
            else:
                torch.set_rng_state(rng_state)
            run_steps(
                ModelMember(model, settings.criterion),  # type: ignore[attr-defined]
                optimizer,
                OptimizerRates(optimizer, scheduler),
                settings,
                order,
                recorder,
                rule,
                start_step=start_step,
                end_step=end_step,
                bar=bar,
                after_step=save_checkpoint,
            )
    finally:
        if bar is not None:
            bar.close()
    recorder.flush()
    if history.status == "running":
        history.status = "completed" if end_step == steps else "stopped"
    history.seconds += time.perf_counter() - started
    return history


def _read_checkpoint(path: Path, config: dict[str, Any], steps: int) -> dict[str, Any]:
    """Load a checkpoint (plain data only) and check it can continue the run ``config`` describes."""
    checkpoint = torch.load(path, weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(
            f"resume_from must be a checkpoint written by warmup_lib.training.train: {str(path)!r}"
        )
    saved = checkpoint["history"]["config"]
    for key in _RESUME_MUST_MATCH:
        if saved.get(key) != config[key]:
            raise ValueError(
                f"resume_from: the checkpoint was made with {key}={saved.get(key)!r} but this call "
                f"has {key}={config[key]!r}; resume with the same settings"
            )
    if checkpoint["history"]["status"] == "diverged":
        raise ValueError(
            f"resume_from: that run diverged at step {checkpoint['history']['diverged_at']}; "
            "there is nothing to resume"
        )
    if int(checkpoint["next_step"]) > steps:
        raise ValueError(
            f"steps must be >= the {checkpoint['next_step']} steps already in the checkpoint, got {steps}"
        )
    return checkpoint
