"""The recording trainer: ``train(model, optimizer, schedule, data, steps)`` and the ``History`` it returns."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from . import runtime
from ._validation import check_bool, check_choice, check_float, check_int, check_optimizer
from .losses import focal_loss, pos_weight_from_labels
from .schedules import Schedule
from .torch_adapter import ScheduleLR

if TYPE_CHECKING:  # pandas is imported lazily: it costs ~0.5 s and training does not need it
    import pandas as pd

__all__ = ["History", "train", "batch_rows", "TASKS", "LOSSES", "STEP_COLUMNS"]

#: Tasks a data set can declare (``DataSplits.task``).
TASKS = ("multiclass", "binary", "language")
#: Loss names ``train`` accepts (a callable ``loss(outputs, targets) -> scalar`` works too).
LOSSES = ("auto", "cross_entropy", "bce", "focal")
#: Per-step columns of :meth:`History.to_frame`, before the ``val_*`` columns.
STEP_COLUMNS = ("step", "epoch", "lr", "train_loss", "grad_norm", "update_ratio")

_CHECKPOINT_FORMAT = "warmup_lib.train/1"
_EVAL_CHUNK = 4096  # rows per forward pass when evaluating, to bound memory on a 1 GB Binder
_PROGRESS_EVERY = 25  # steps between loss updates in the progress bar's postfix
_REQUIRED_DATA_FIELDS = ("name", "task", "X_train", "y_train", "X_val", "y_val", "n_classes")
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
    ``config`` holds the run's settings (seed, steps, batch size, optimizer, peak LR, schedule...).
    ``seconds`` (wall time) is not part of equality, so two runs with the same seed compare equal;
    a diverged run holds NaNs and NaN != NaN, so compare those with ``a.to_frame().equals(b.to_frame())``.
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

    def _append_step(
        self, step: int, epoch: int, lr: float, loss: float, grad_norm: float, update_ratio: float
    ) -> None:
        self.step.append(step)
        self.epoch.append(epoch)
        self.lr.append(lr)
        self.train_loss.append(loss)
        self.grad_norm.append(grad_norm)
        self.update_ratio.append(update_ratio)

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
# Argument checks


def _check_data(data: Any) -> None:
    missing = [name for name in _REQUIRED_DATA_FIELDS if not hasattr(data, name)]
    if missing:
        raise TypeError(
            f"data must be a warmup_lib.data.DataSplits (or have its fields); "
            f"{type(data).__name__} lacks {', '.join(missing)}"
        )
    check_choice("data.task", data.task, TASKS)
    for part in ("X_train", "y_train", "X_val", "y_val"):
        if not isinstance(getattr(data, part), torch.Tensor):
            raise TypeError(
                f"data.{part} must be a torch.Tensor, got {type(getattr(data, part)).__name__}"
            )
    for split in ("train", "val"):
        X, y = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
        if len(X) == 0 or len(X) != len(y):
            raise ValueError(
                f"data.X_{split} and data.y_{split} must hold the same number (>= 1) of rows, "
                f"got {len(X)} and {len(y)}"
            )
    if data.task == "binary" and not data.y_train.is_floating_point():
        raise TypeError(
            f"data.y_train must hold float 0/1 labels for a binary task, got {data.y_train.dtype}"
        )
    if data.task != "binary" and data.y_train.dtype != torch.int64:
        raise TypeError(
            f"data.y_train must hold int64 class labels for task {data.task!r}, got {data.y_train.dtype}"
        )


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


def _resolve_schedule(schedule: Any, optimizer: torch.optim.Optimizer) -> LRScheduler | None:
    """The torch scheduler that drives ``optimizer`` (built here for a warmup_lib Schedule)."""
    if isinstance(schedule, Schedule):
        return ScheduleLR(optimizer, schedule)
    return schedule


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
    if isinstance(value, dict):
        return True  # nested dicts are filtered recursively by _plain
    return False


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


# ----------------------------------------------------------------------------------------------
# Losses and metrics


def _squeeze_logit(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # A model ending in Linear(.., 1) gives (batch, 1); the labels are (batch,).
    if outputs.dim() == targets.dim() + 1 and outputs.shape[-1] == 1:
        return outputs.squeeze(-1)
    return outputs


def _make_criterion(
    loss: Any, task: str, pos_weight: float | None, alpha: float | None, gamma: float
) -> tuple[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    name = loss
    if name == "auto":
        name = "bce" if task == "binary" else "cross_entropy"
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

    if name == "cross_entropy":
        if task == "language":

            def criterion(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
                return F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))
        else:
            criterion = F.cross_entropy
    elif name == "bce":
        weight = None if pos_weight is None else torch.tensor(pos_weight)

        def criterion(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(
                _squeeze_logit(outputs, targets), targets, pos_weight=weight
            )
    else:

        def criterion(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return focal_loss(_squeeze_logit(outputs, targets), targets, alpha=alpha, gamma=gamma)

    return name, criterion


def _check_outputs(outputs: Any, data: Any, batch: int) -> None:
    """Catch a model/data mismatch at the first step with a message that says what to change."""
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


def _metrics(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> dict[str, float]:
    from sklearn import metrics  # lazy: sklearn.metrics takes ~1 s to import

    if not bool(torch.isfinite(outputs).all()):
        names = ("val_accuracy",) if task != "binary" else _BINARY_METRICS
        return dict.fromkeys(names, math.nan)
    if task != "binary":
        predicted = outputs.argmax(dim=-1).reshape(-1).numpy()
        return {
            "val_accuracy": float(metrics.accuracy_score(targets.reshape(-1).numpy(), predicted))
        }
    scores = torch.sigmoid(_squeeze_logit(outputs, targets)).numpy()
    labels = targets.numpy().astype(int)
    predicted = (scores >= 0.5).astype(int)
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        labels, predicted, average="binary", zero_division=0
    )
    has_both = 0 < labels.sum() < len(labels)
    return {
        "val_average_precision": float(metrics.average_precision_score(labels, scores))
        if has_both
        else math.nan,
        "val_precision": float(precision),
        "val_recall": float(recall),
        "val_f1": float(f1),
        "val_accuracy": float(metrics.accuracy_score(labels, predicted)),
    }


_BINARY_METRICS = ("val_average_precision", "val_precision", "val_recall", "val_f1", "val_accuracy")


def _evaluate(model: nn.Module, criterion: Callable, data: Any) -> tuple[float, dict[str, float]]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            X = data.X_val
            outputs = torch.cat(
                [model(X[i : i + _EVAL_CHUNK]) for i in range(0, len(X), _EVAL_CHUNK)]
            )
            loss = float(criterion(outputs, data.y_val))
            return loss, _metrics(outputs, data.y_val, data.task)
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------------------------
# Data order


class _BatchOrder:
    """Mini-batches by shuffled epochs: a fresh permutation per epoch, read in consecutive slices.

    The last partial slice of each epoch is dropped, so every step sees exactly ``batch_size``
    rows (steps stay comparable) and one epoch is ``n_train // batch_size`` steps.
    ``batch_size=None`` is full-batch gradient descent: every step uses all rows, epoch == step.
    """

    def __init__(self, n_rows: int, batch_size: int | None, seed: int) -> None:
        self.n_rows = n_rows
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.permutation = torch.empty(0, dtype=torch.int64)
        self.position = 0
        self.epoch = -1

    def next(self) -> tuple[torch.Tensor | None, int]:
        if self.batch_size is None:
            self.epoch += 1
            return None, self.epoch
        if self.epoch < 0 or self.position + self.batch_size > self.n_rows:
            self.permutation = torch.randperm(self.n_rows, generator=self.generator)
            self.position = 0
            self.epoch += 1
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
    _check_data(data)
    steps = check_int("steps", steps, min_value=1)
    seed = check_int("seed", seed, min_value=0, max_value=2**63 - 1)
    n_train = len(data.X_train)
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=n_train)
    order = _BatchOrder(n_train, batch_size, seed)
    return torch.stack([order.next()[0] for _ in range(steps)])


def _total_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of a list of same-device tensors: ``sqrt(sum_i ||t_i||^2)``.

    The fused ``_foreach_norm`` that torch's own ``clip_grad_norm_`` uses; the public
    ``get_total_norm`` wrapper measured ~50 us slower per call, noticeable at ~2 ms per step.
    """
    if not tensors:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))


class _UpdateProbe:
    """Measures each update: global gradient norm (before clipping) and ``||dw|| / ||w||``."""

    def __init__(self, model: nn.Module, grad_clip: float | None) -> None:
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.weights = [p.detach() for p in self.params]
        # One preallocated copy of the weights, reused every step, holds w_before - w_after.
        self.snapshot = [w.clone() for w in self.weights]
        self.grad_clip = grad_clip

    @torch.no_grad()
    def clip_and_step(self, optimizer: torch.optim.Optimizer) -> tuple[float, float]:
        """Clip (if asked), call ``optimizer.step()``; return (grad_norm, update_ratio)."""
        if self.grad_clip is None:
            grad_norm = _total_norm([p.grad for p in self.params if p.grad is not None])
        else:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        torch._foreach_copy_(self.snapshot, self.weights)
        weight_norm = _total_norm(self.snapshot)
        optimizer.step()
        torch._foreach_sub_(self.snapshot, self.weights)
        update_ratio = _total_norm(self.snapshot) / weight_norm
        grad_value, ratio_value = torch.stack([grad_norm, update_ratio]).tolist()  # one sync
        return grad_value, ratio_value


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    # Write then rename, so an interrupted save never leaves a half-written checkpoint behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


# ----------------------------------------------------------------------------------------------
# The trainer


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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_optimizer("optimizer", optimizer)
    model_params = {id(p) for p in model.parameters()}
    if not any(id(p) in model_params for group in optimizer.param_groups for p in group["params"]):
        raise ValueError(
            "optimizer must be built on this model's parameters, e.g. torch.optim.Adam(model.parameters())"
        )
    _check_schedule(schedule, optimizer)
    _check_data(data)
    steps = check_int("steps", steps, min_value=1)
    seed = check_int("seed", seed, min_value=0, max_value=2**63 - 1)
    n_train = len(data.X_train)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, min_value=1, max_value=n_train)
    eval_every = check_int("eval_every", eval_every, min_value=1)
    if not callable(loss):
        if not isinstance(loss, str):
            raise TypeError(
                f"loss must be one of {', '.join(map(repr, LOSSES))} or a callable, got {type(loss).__name__}"
            )
        check_choice("loss", loss, LOSSES)
    if isinstance(pos_weight, str):
        check_choice("pos_weight", pos_weight, ("balanced",))
        if data.task != "binary":
            raise ValueError(
                f"pos_weight='balanced' needs a binary task; data.task is {data.task!r}"
            )
        pos_weight = pos_weight_from_labels(data.y_train)
    elif isinstance(pos_weight, torch.Tensor):
        if pos_weight.numel() != 1:
            raise ValueError(
                f"pos_weight must be one number, got a tensor of shape {tuple(pos_weight.shape)}"
            )
        pos_weight = check_float("pos_weight", pos_weight.item(), min_value=0.0, min_open=True)
    elif pos_weight is not None:
        pos_weight = check_float("pos_weight", pos_weight, min_value=0.0, min_open=True)
    if focal_alpha is not None:
        focal_alpha = check_float("focal_alpha", focal_alpha, min_value=0.0, max_value=1.0)
    focal_gamma = check_float("focal_gamma", focal_gamma, min_value=0.0)
    if grad_clip is not None:
        grad_clip = check_float("grad_clip", grad_clip, min_value=0.0, min_open=True)
    if divergence_factor is not None:
        divergence_factor = check_float(
            "divergence_factor", divergence_factor, min_value=1.0, min_open=True
        )
    if threads is not None:
        threads = check_int("threads", threads, min_value=1)
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
        stop_at = check_int("stop_at", stop_at, min_value=1, max_value=steps)

    loss_name, criterion = _make_criterion(loss, data.task, pos_weight, focal_alpha, focal_gamma)
    first_group = optimizer.param_groups[0]
    peak_lr = float(first_group.get("initial_lr", first_group["lr"]))
    config: dict[str, Any] = {
        "seed": seed,
        "steps": steps,
        "batch_size": batch_size,
        "eval_every": eval_every,
        "data": str(data.name),
        "task": data.task,
        "n_train": n_train,
        "n_val": len(data.X_val),
        "model": type(model).__name__,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "optimizer": type(optimizer).__name__,
        "optimizer_hparams": _optimizer_hparams(optimizer),
        "peak_lr": peak_lr,
        "schedule": _schedule_config(schedule),
        "loss": loss_name,
        "pos_weight": pos_weight,
        "focal_alpha": focal_alpha if loss_name == "focal" else None,
        "focal_gamma": focal_gamma if loss_name == "focal" else None,
        "grad_clip": grad_clip,
        "divergence_factor": divergence_factor,
        "threads": threads,
    }

    # Read and check a checkpoint before touching the optimizer, so a refused resume changes nothing.
    checkpoint = None if resume_from is None else _read_checkpoint(resume_from, config, steps)
    scheduler = _resolve_schedule(schedule, optimizer)
    order = _BatchOrder(n_train, batch_size, seed)
    history = History(config=config, status="running")
    start_step = 0
    initial_loss: float | None = None
    rng_state: torch.Tensor | None = None
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(checkpoint["scheduler"])
        order.load_state_dict(checkpoint["batch_order"])
        rng_state = checkpoint["torch_rng"]
        initial_loss = checkpoint["initial_loss"]
        start_step = int(checkpoint["next_step"])
        history = History.from_dict(checkpoint["history"])
        history.config = config
        history.status = "running"

    def checkpoint_state(next_step: int) -> dict[str, Any]:
        return {
            "format": _CHECKPOINT_FORMAT,
            "next_step": next_step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": None if scheduler is None else _plain(scheduler.state_dict()),
            "batch_order": order.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "initial_loss": initial_loss,
            "history": history.to_dict(),
        }

    end_step = steps if stop_at is None else max(stop_at, start_step)
    probe = _UpdateProbe(model, grad_clip)
    X_train, y_train = data.X_train, data.y_train
    started = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=start_step, desc="train", unit="step")

    model.train()
    try:
        with runtime.threads(threads), torch.random.fork_rng(devices=[]):
            if rng_state is None:
                torch.manual_seed(seed)
            else:
                torch.set_rng_state(rng_state)
            for step in range(start_step, end_step):
                index, epoch = order.next()
                X, y = (X_train, y_train) if index is None else (X_train[index], y_train[index])
                # Looked up every step: optimizer.load_state_dict replaces the group dicts.
                lr = float(optimizer.param_groups[0]["lr"])
                optimizer.zero_grad(set_to_none=True)
                outputs = model(X)
                if step == start_step:
                    _check_outputs(outputs, data, len(X))
                batch_loss = criterion(outputs, y)
                loss_value = batch_loss.item()
                if initial_loss is None:
                    initial_loss = loss_value
                blew_up = not math.isfinite(loss_value) or (
                    divergence_factor is not None
                    and initial_loss > 0
                    and loss_value > divergence_factor * initial_loss
                )
                if blew_up:
                    history._append_step(step, epoch, lr, loss_value, math.nan, math.nan)
                    history.status, history.diverged_at = "diverged", step
                    _record_eval(history, step, model, criterion, data)
                    break

                batch_loss.backward()
                grad_norm, update_ratio = probe.clip_and_step(optimizer)
                if scheduler is not None:
                    scheduler.step()
                history._append_step(step, epoch, lr, loss_value, grad_norm, update_ratio)

                done = step + 1
                # Not at stop_at: an interrupted run gets no extra evaluation, so a resumed run's
                # record is identical to an uninterrupted one.
                evaluate = done % eval_every == 0 or done == steps
                if evaluate:
                    _record_eval(history, step, model, criterion, data)
                if bar is not None:
                    bar.update(1)
                    if evaluate or done % _PROGRESS_EVERY == 0:
                        postfix = {"loss": f"{loss_value:.4g}"}
                        if history.val_loss:
                            postfix["val_loss"] = f"{history.val_loss[-1]:.4g}"
                        bar.set_postfix(postfix, refresh=False)
                if checkpoint_path is not None and (
                    (checkpoint_every is not None and done % checkpoint_every == 0)
                    or done == end_step
                ):
                    history.status = "completed" if done == steps else "stopped"
                    history.seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    _save_checkpoint(checkpoint_path, checkpoint_state(done))
                    history.status = "running"
            else:
                history.status = "completed" if end_step == steps else "stopped"
    finally:
        if bar is not None:
            bar.close()
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


def _record_eval(
    history: History, step: int, model: nn.Module, criterion: Callable, data: Any
) -> None:
    val_loss, metrics = _evaluate(model, criterion, data)
    history.eval_step.append(step)
    history.val_loss.append(val_loss)
    for name, value in metrics.items():
        history.val_metrics.setdefault(name, []).append(value)
