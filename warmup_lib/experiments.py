"""Experiments over seeds and grids: RunConfig, run_seeds, sweep and batched seed ensembles.

One training run says little about warmup: a run that diverges at one seed trains fine at the
next. This module runs the same configuration over several seeds and over a grid of peak learning
rate x warmup length, and turns the results into tidy pandas tables:

* :class:`RunConfig` — everything that defines a run except the seed (model factory, data,
  optimizer name and peak LR, schedule, steps, batch size...); ``config.run(seed)`` trains one.
* :func:`run_seeds` / :func:`compare` — one or several configurations over seeds, one row per
  step (``condition, seed, step, lr, train_loss, ..., val_loss, val_accuracy, diverged``).
* :func:`summarize_runs` / :func:`summarize_seeds` — one row per run / per condition: how many
  seeds diverged, how many succeeded by a :class:`SuccessRule`, final and early losses.
* :func:`sweep` / :func:`max_stable_lr` — the stability-frontier table of Kalra & Barkeshli 2024,
  "Why Warmup the Learning Rate? Underlying Mechanisms and Improvements", arXiv 2406.09405:
  success rate per (peak LR, warmup length); warmup widens the range of peak LRs that train.
* :func:`train_ensemble` — K seeds of one configuration trained *at once*: the K models' weights
  are stacked along a leading seed dimension and every layer becomes one batched matrix product.
  Each member gets exactly the initial weights, mini-batches and learning rates that
  ``config.run(seed)`` would use, so the K :class:`~warmup_lib.training.History` objects equal the
  sequential ones up to floating-point rounding. On one CPU core, 8 seeds of a 64-64 MLP train
  ~4x faster than one after another, of a 256-256 MLP ~2x (``benchmarks/ensemble.py``).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from . import runtime
from ._validation import check_bool, check_choice, check_float, check_int
from .losses import focal_loss, pos_weight_from_labels
from .schedules import LinearWarmup, Schedule
from .torch_adapter import ScheduleLR
from .training import (
    LOSSES,
    History,
    _BatchOrder,
    _check_data,
    _make_criterion,
    _metrics,
    _optimizer_hparams,
    _schedule_config,
    train,
)

if TYPE_CHECKING:  # pandas is imported lazily, as in training.py
    import pandas as pd

__all__ = [
    "OPTIMIZERS",
    "RunConfig",
    "SuccessRule",
    "compare",
    "default_warmup",
    "histories_to_frame",
    "max_stable_lr",
    "run_seeds",
    "summarize_runs",
    "summarize_seeds",
    "sweep",
    "train_ensemble",
]

#: Optimizer names :class:`RunConfig` accepts, mapped to their ``torch.optim`` class.
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "radam": torch.optim.RAdam,
    "nadam": torch.optim.NAdam,
    "adamax": torch.optim.Adamax,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}

# These optimizers update every weight from that weight's own gradient and state only (plus
# shared step counters). On weights stacked along a seed dimension, one such optimizer is
# therefore exactly K independent optimizers. Global-norm gradient clipping is NOT elementwise,
# which is why train_ensemble clips each member by its own norm.
_ELEMENTWISE = frozenset(OPTIMIZERS.values())
# torch's single-kernel ("fused") CPU implementations: ~10x faster than the default loop here.
_FUSED = frozenset({torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad})

# Keys of the per-step frame that identify a run rather than measure it.
_KEY_COLUMNS = ("condition", "peak_lr", "warmup_steps")
_STEP_MEASURES = ("step", "epoch", "lr", "train_loss", "grad_norm", "update_ratio")
_LAST_STEPS_FOR_TRAIN_LOSS = 10  # final_train_loss averages this many steps: one batch is noisy
_CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_ divides by (norm + 1e-6)


# ----------------------------------------------------------------------------------------------
# Small argument checks


def _check_seeds(seeds: Any, name: str = "seeds") -> list[int]:
    if isinstance(seeds, (numbers.Number, str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(
            f"{name} must be an iterable of integer seeds such as range(5), got {seeds!r}"
        )
    values = [
        check_int(f"{name}[{i}]", s, min_value=0, max_value=2**63 - 1) for i, s in enumerate(seeds)
    ]
    if not values:
        raise ValueError(f"{name} must hold at least one seed, got an empty sequence")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a seed (each run needs its own), got {values}")
    return values


def _check_sequence(name: str, values: Any, check: Callable[[str, Any], Any]) -> list[Any]:
    if isinstance(values, (numbers.Number, str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of values such as [0.01, 0.1, 1.0], got {values!r}")
    out = [check(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if not out:
        raise ValueError(f"{name} must not be empty")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a value, got {out}")
    return out


def _check_ensemble(value: Any) -> bool | str:
    if value == "auto" or isinstance(value, bool):
        return value
    raise ValueError(f"ensemble must be 'auto', True or False; got {value!r}")


def _factory_call(factory: Callable[..., Any]) -> Callable[[int], Any]:
    """How to pass the seed to a model factory: ``factory(seed=s)`` when it has a ``seed``
    parameter (``lambda seed: MLP(..., seed=seed)``, ``functools.partial(MLP, 64, 10)``), else
    ``factory(s)`` for a one-argument function."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins have no signature: try the keyword
        return lambda seed: factory(seed=seed)
    parameters = signature.parameters
    if "seed" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return lambda seed: factory(seed=seed)
    try:
        signature.bind(0)
    except TypeError:
        raise TypeError(
            "model must be a function of the seed that builds a fresh model, e.g. "
            "lambda seed: MLP(64, 10, seed=seed); the given callable takes neither a 'seed' "
            f"argument nor exactly one argument: {signature}"
        ) from None
    return lambda seed: factory(seed)


# ----------------------------------------------------------------------------------------------
# The declarative run


@dataclass(frozen=True, eq=False)
class RunConfig:
    """Everything that defines one training run except the seed; ``config.run(seed)`` trains it.

    A run with seed ``s`` builds ``model(seed=s)``, the optimizer ``OPTIMIZERS[optimizer](params,
    lr=peak_lr, **optimizer_kwargs)`` and calls :func:`warmup_lib.training.train` with the other
    fields (LR at step k = ``peak_lr x schedule(k)``). Being plain data, a config can also be
    trained for several seeds at once (:func:`train_ensemble`), which :func:`run_seeds` and
    :func:`sweep` do automatically when the model is an MLP.

    Example::

        config = RunConfig(model=lambda seed: MLP(64, 10, seed=seed), data=load_digits(),
                           steps=300, optimizer="sgd", peak_lr=0.3,
                           optimizer_kwargs={"momentum": 0.9}, schedule=LinearWarmup(100))
        history = config.run(seed=0)
        no_warmup = config.replace(schedule=None)

    Parameters
    ----------
    model: a function of the seed returning a freshly initialised ``nn.Module``, e.g.
        ``lambda seed: MLP(64, 10, seed=seed)``; called as ``model(seed=s)`` if it has a
        ``seed`` parameter, else ``model(s)``.
    data: a :class:`warmup_lib.data.DataSplits`.
    steps: optimizer updates per run (>= 1).
    optimizer: a name in :data:`OPTIMIZERS` (``"sgd"``, ``"adam"``, ``"adamw"``, ``"radam"``...)
        or a ``torch.optim.Optimizer`` subclass.
    peak_lr: the optimizer's ``lr`` (> 0), the top of the schedule.
    optimizer_kwargs: other optimizer arguments, e.g. ``{"momentum": 0.9}`` or
        ``{"betas": (0.9, 0.98)}``; not ``lr`` (that is ``peak_lr``).
    schedule: a warmup_lib ``Schedule`` or ``None`` (constant LR).
    batch_size, eval_every, loss, pos_weight, focal_alpha, focal_gamma, grad_clip,
    divergence_factor, threads: passed to :func:`~warmup_lib.training.train` unchanged.
    """

    model: Callable[..., nn.Module]
    data: Any
    steps: int
    optimizer: str | type[torch.optim.Optimizer] = "adam"
    peak_lr: float = 1e-3
    optimizer_kwargs: Mapping[str, Any] = field(default_factory=dict)
    schedule: Schedule | None = None
    batch_size: int | None = 64
    eval_every: int = 10
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "auto"
    pos_weight: float | str | None = None
    focal_alpha: float | None = 0.25
    focal_gamma: float = 2.0
    grad_clip: float | None = None
    divergence_factor: float | None = 10.0
    threads: int | None = 1

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise fields in place once
        if not callable(self.model) or isinstance(self.model, nn.Module):
            raise TypeError(
                "model must be a function that builds a fresh model from a seed, e.g. "
                f"lambda seed: MLP(64, 10, seed=seed); got {type(self.model).__name__} "
                "(an already-built model cannot give each seed its own initial weights)"
            )
        _factory_call(self.model)  # fail now, not at the first run, on an unusable signature
        _check_data(self.data)
        set_(self, "steps", check_int("steps", self.steps, min_value=1))
        _optimizer_class(self.optimizer)
        set_(self, "peak_lr", check_float("peak_lr", self.peak_lr, min_value=0.0, min_open=True))
        if not isinstance(self.optimizer_kwargs, Mapping):
            raise TypeError(
                "optimizer_kwargs must be a dict of optimizer arguments such as {'momentum': 0.9}, "
                f"got {type(self.optimizer_kwargs).__name__}"
            )
        kwargs = dict(self.optimizer_kwargs)
        for reserved in ("lr", "params"):
            if reserved in kwargs:
                hint = (
                    "set peak_lr instead"
                    if reserved == "lr"
                    else "the parameters come from the model"
                )
                raise ValueError(f"optimizer_kwargs must not contain {reserved!r}: {hint}")
        set_(self, "optimizer_kwargs", kwargs)
        try:  # let torch judge the hyperparameters now, on a dummy tensor
            self.optimizer_class([torch.zeros(1, requires_grad=True)], lr=self.peak_lr, **kwargs)
        except (TypeError, ValueError) as error:
            raise type(error)(
                f"optimizer_kwargs {kwargs} are not valid for {self.optimizer_class.__name__}: {error}"
            ) from None
        if self.schedule is not None and not isinstance(self.schedule, Schedule):
            raise TypeError(
                "schedule must be a warmup_lib Schedule (e.g. LinearWarmup(100)) or None for a "
                f"constant LR, got {type(self.schedule).__name__}; a torch LRScheduler is tied to "
                "one optimizer, so a config that builds a fresh optimizer per seed cannot hold one"
            )
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
                    f"loss must be one of {', '.join(map(repr, LOSSES))} or a callable, got {self.loss!r}"
                )
            check_choice("loss", self.loss, LOSSES)
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
        # The loss arguments (pos_weight, focal_*) are checked against the task by the trainer's
        # own rules, so a bad combination fails here and not at the first seed.
        _criterion(self)

    # -- building and running -------------------------------------------------------------------

    @property
    def optimizer_class(self) -> type[torch.optim.Optimizer]:
        """The ``torch.optim`` class named by ``optimizer``."""
        return _optimizer_class(self.optimizer)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed, e.g. ``config.replace(peak_lr=0.1, schedule=None)``."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            names = ", ".join(f.name for f in dataclasses.fields(self))
            raise TypeError(
                f"replace() got unknown field(s) {sorted(unknown)}; RunConfig fields are: {names}"
            )
        return dataclasses.replace(self, **changes)

    def build_model(self, seed: int) -> nn.Module:
        """The model of seed ``seed``: ``model(seed=seed)``, checked to be an ``nn.Module``."""
        seed = check_int("seed", seed, min_value=0, max_value=2**63 - 1)
        model = _factory_call(self.model)(seed)
        if not isinstance(model, nn.Module):
            raise TypeError(
                f"model(seed={seed}) must return a torch.nn.Module, got {type(model).__name__}"
            )
        return model

    def build_optimizer(
        self, parameters: Iterable[torch.Tensor], **overrides: Any
    ) -> torch.optim.Optimizer:
        """``OPTIMIZERS[optimizer](parameters, lr=peak_lr, **optimizer_kwargs, **overrides)``."""
        return self.optimizer_class(
            parameters, lr=self.peak_lr, **{**self.optimizer_kwargs, **overrides}
        )

    def train_kwargs(self) -> dict[str, Any]:
        """The keyword arguments this config passes to :func:`~warmup_lib.training.train`."""
        return {
            "batch_size": self.batch_size,
            "eval_every": self.eval_every,
            "loss": self.loss,
            "pos_weight": self.pos_weight,
            "focal_alpha": self.focal_alpha,
            "focal_gamma": self.focal_gamma,
            "grad_clip": self.grad_clip,
            "divergence_factor": self.divergence_factor,
            "threads": self.threads,
        }

    def run(self, seed: int = 0, *, progress: bool = False) -> History:
        """Train one fresh model with seed ``seed`` (init and batch order) and return its History."""
        return self.fit(seed, progress=progress)[1]

    def fit(self, seed: int = 0, *, progress: bool = False) -> tuple[nn.Module, History]:
        """Like :meth:`run`, but also return the trained model (to score other data with it)."""
        model = self.build_model(seed)
        optimizer = self.build_optimizer(model.parameters())
        history = train(
            model,
            optimizer,
            self.schedule,
            self.data,
            self.steps,
            seed,
            progress=progress,
            **self.train_kwargs(),
        )
        return model, history

    def __repr__(self) -> str:
        schedule = "None" if self.schedule is None else type(self.schedule).__name__
        return (
            f"RunConfig(data={getattr(self.data, 'name', '?')!r}, steps={self.steps}, "
            f"optimizer={self.optimizer_class.__name__}, peak_lr={self.peak_lr:g}, "
            f"optimizer_kwargs={dict(self.optimizer_kwargs)}, schedule={schedule}, "
            f"batch_size={self.batch_size})"
        )


def _optimizer_class(optimizer: Any) -> type[torch.optim.Optimizer]:
    if isinstance(optimizer, str):
        check_choice("optimizer", optimizer.lower(), OPTIMIZERS)
        return OPTIMIZERS[optimizer.lower()]
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer
    raise TypeError(
        f"optimizer must be a name ({', '.join(map(repr, OPTIMIZERS))}) or a torch.optim.Optimizer "
        f"class such as torch.optim.SGD, got {optimizer!r}"
    )


def _criterion(config: RunConfig) -> tuple[str, Callable, float | None]:
    """The trainer's loss name and function for ``config``, and the resolved ``pos_weight``."""
    pos_weight = config.pos_weight
    if isinstance(pos_weight, str):
        check_choice("pos_weight", pos_weight, ("balanced",))
        if config.data.task != "binary":
            raise ValueError(
                f"pos_weight='balanced' needs a binary task; data.task is {config.data.task!r}"
            )
        pos_weight = pos_weight_from_labels(config.data.y_train)
    elif pos_weight is not None:
        pos_weight = check_float("pos_weight", pos_weight, min_value=0.0, min_open=True)
    alpha = config.focal_alpha
    if alpha is not None:
        alpha = check_float("focal_alpha", alpha, min_value=0.0, max_value=1.0)
    gamma = check_float("focal_gamma", config.focal_gamma, min_value=0.0)
    name, criterion = _make_criterion(config.loss, config.data.task, pos_weight, alpha, gamma)
    return name, criterion, pos_weight


# ----------------------------------------------------------------------------------------------
# The batched ensemble


class _Unsupported(Exception):
    """The configuration cannot be trained as a batched ensemble; the message says why."""


_ACTIVATIONS = (
    nn.ReLU,
    nn.GELU,
    nn.Tanh,
    nn.SiLU,
    nn.LeakyReLU,
    nn.Sigmoid,
    nn.Identity,
    nn.ELU,
    nn.Softplus,
)


def _layers_of(model: nn.Module) -> tuple[list[nn.Module], bool]:
    """The flat layer list of an MLP-like model and whether its output is squeezed to ``(batch,)``."""
    from .models import FraudClassifier

    squeeze = False
    if isinstance(model, FraudClassifier) and type(model).forward is FraudClassifier.forward:
        model, squeeze = model.net, True
    if type(model).forward is not nn.Sequential.forward:
        raise _Unsupported(
            f"only nn.Sequential models (MLP, FraudClassifier) are batched; {type(model).__name__} "
            "has its own forward(), so its seeds train one after another"
        )
    if any(not p.requires_grad for p in model.parameters()):
        raise _Unsupported("models with frozen parameters (requires_grad=False) are not batched")
    layers = list(model)
    for layer in layers:
        if isinstance(layer, nn.Linear) or isinstance(layer, _ACTIVATIONS):
            continue
        if isinstance(layer, nn.LayerNorm) and len(layer.normalized_shape) == 1:
            continue
        raise _Unsupported(
            f"layer {layer!r} is not batched (supported: Linear, LayerNorm and elementwise "
            "activations; BatchNorm keeps running statistics per model)"
        )
    return layers, squeeze


class _EnsembleNet:
    """K models of identical architecture, trained as one.

    All weights of member k live in row k of a single ``(K, n_parameters)`` leaf tensor
    (``params[0]``), so per-member norms, the snapshot for the update ratio and the optimizer
    step are each one operation on one tensor. The layers read reshaped views of it; Linear
    weights are viewed as ``(K, in, out)`` (transposed), so a layer is ``x @ W + b`` in one
    batched matrix product. Norms and elementwise optimizers do not care about the layout.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        structures = [_layers_of(m) for m in models]
        layers, self.squeeze = structures[0]

        def shapes(layer_list: list[nn.Module]) -> list[tuple[Any, ...]]:
            return [
                (type(layer), tuple(p.shape for p in layer.parameters())) for layer in layer_list
            ]

        reference = shapes(layers)
        for seed_index, (other, squeeze) in enumerate(structures[1:], start=1):
            if squeeze != self.squeeze or shapes(other) != reference:
                raise ValueError(
                    f"model must build the same architecture for every seed; member {seed_index} differs from member 0"
                )
        self.ops: list[tuple[str, Any]] = []
        blocks: list[torch.Tensor] = []

        def stacked(tensors: list[torch.Tensor]) -> int:
            """Stack one parameter of every member; return its position among the views."""
            blocks.append(torch.stack([t.detach() for t in tensors]))
            return len(blocks) - 1

        per_model = [layer_list for layer_list, _ in structures]
        for position, layer in enumerate(layers):
            same = [layer_list[position] for layer_list in per_model]
            if isinstance(layer, nn.Linear):
                weight = stacked([m.weight.t() for m in same])
                bias = stacked([m.bias for m in same]) if layer.bias is not None else None
                self.ops.append(("linear", (weight, bias)))
            elif isinstance(layer, nn.LayerNorm):
                weight = stacked([m.weight for m in same]) if layer.weight is not None else None
                bias = stacked([m.bias for m in same]) if layer.bias is not None else None
                self.ops.append(("layer_norm", (layer.normalized_shape, weight, bias, layer.eps)))
            else:
                self.ops.append(("activation", layer))
        if not blocks:
            raise _Unsupported("the model has no parameters to train")
        members = len(models)
        self.shapes = [tuple(block.shape[1:]) for block in blocks]
        self.sizes = [block[0].numel() for block in blocks]
        flat = torch.cat([block.reshape(members, -1) for block in blocks], dim=1)
        self.params: list[torch.Tensor] = [flat.contiguous().requires_grad_()]

    @property
    def members(self) -> int:
        return self.params[0].shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, batch, out)`` for member inputs ``(K, batch, in)`` or a shared ``(batch, in)``."""
        members = self.members
        views = [
            piece.view(members, *shape)
            for piece, shape in zip(
                torch.split(self.params[0], self.sizes, dim=1), self.shapes, strict=True
            )
        ]
        for kind, args in self.ops:
            if kind == "linear":
                weight, bias = args
                x = torch.matmul(
                    x, views[weight]
                )  # (K,B,in)@(K,in,out); a shared (B,in) broadcasts
                if bias is not None:
                    x = x + views[bias].unsqueeze(1)
            elif kind == "layer_norm":
                shape, weight, bias, eps = args
                x = F.layer_norm(x, shape, None, None, eps)
                if weight is not None:
                    x = x * views[weight].unsqueeze(1)
                if bias is not None:
                    x = x + views[bias].unsqueeze(1)
            else:
                x = args(x)
        return x.squeeze(-1) if self.squeeze else x

    def keep(self, keep: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Drop the members where ``keep`` is False from the weights and the optimizer state.

        The kept rows become new leaf tensors (autograd remembers a leaf's shape, so shrinking
        one in place is not allowed) that replace the old ones in the optimizer.
        """
        members = self.members
        replaced = {}
        with torch.no_grad():
            for i, param in enumerate(self.params):
                new = param.detach()[keep].clone().requires_grad_()
                state = optimizer.state.pop(param, None)
                if state is not None:
                    optimizer.state[new] = {
                        key: value[keep].clone()
                        if isinstance(value, torch.Tensor)
                        and value.dim() >= 1
                        and value.shape[0] == members
                        else value
                        for key, value in state.items()
                    }
                replaced[id(param)] = new
                self.params[i] = new
        for group in optimizer.param_groups:
            group["params"] = [replaced.get(id(p), p) for p in group["params"]]


def _member_norms(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """L2 norm over all of a member's tensors, per member: ``sqrt(sum_p ||t_p[k]||^2)``, shape ``(K,)``.

    Same structure as ``torch.nn.utils.get_total_norm`` (norm of the per-tensor norms) so the
    numbers match the sequential trainer's to rounding.
    """
    if len(tensors) == 1:  # the ensemble keeps all weights in one tensor: one reduction
        return torch.linalg.vector_norm(tensors[0].reshape(tensors[0].shape[0], -1), dim=1)
    per_tensor = [torch.linalg.vector_norm(t.reshape(t.shape[0], -1), dim=1) for t in tensors]
    return torch.linalg.vector_norm(torch.stack(per_tensor), dim=0)


def _member_loss(config: RunConfig, loss_name: str, pos_weight: float | None) -> Callable:
    """Per-member mean loss ``(K,)`` from outputs ``(K, batch, ...)`` and targets ``(K, batch)``.

    Mirrors the trainer's criterion with ``reduction="none"`` and a mean per member; the sum of
    these K numbers has the K members' gradients as its gradient (the members share nothing).
    """
    task = config.data.task

    def squeeze(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if outputs.dim() == targets.dim() + 1 and outputs.shape[-1] == 1:
            return outputs.squeeze(-1)
        return outputs

    if loss_name == "cross_entropy" and task == "multiclass":

        def member_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            k, batch, classes = outputs.shape
            flat = F.cross_entropy(
                outputs.reshape(k * batch, classes), targets.reshape(-1), reduction="none"
            )
            return flat.view(k, batch).mean(dim=1)
    elif loss_name == "bce":
        weight = None if pos_weight is None else torch.tensor(pos_weight)

        def member_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            logits = squeeze(outputs, targets)
            per_row = F.binary_cross_entropy_with_logits(
                logits, targets, pos_weight=weight, reduction="none"
            )
            return per_row.mean(dim=1)
    elif loss_name == "focal":

        def member_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            logits = squeeze(outputs, targets)
            per_row = focal_loss(
                logits,
                targets,
                alpha=config.focal_alpha,
                gamma=config.focal_gamma,
                reduction="none",
            )
            return per_row.mean(dim=1)
    else:  # pragma: no cover - _ensemble_blocker rules these out first
        raise _Unsupported(f"loss {loss_name!r} on task {task!r} is not batched")
    return member_loss


def _ensemble_blocker(config: RunConfig, seed: int | None = None) -> str | None:
    """Why ``config`` cannot run as a batched ensemble, or ``None`` if it can."""
    if config.data.task == "language":
        return "language models (the transformer) are trained one seed at a time"
    if callable(config.loss):
        return "a custom loss function is not batched; use loss='auto', 'bce' or 'focal'"
    if config.optimizer_class not in _ELEMENTWISE:
        return (
            f"{config.optimizer_class.__name__} is not known to update each weight independently; "
            f"batched optimizers: {', '.join(sorted(c.__name__ for c in _ELEMENTWISE))}"
        )
    if seed is not None:
        try:
            _layers_of(config.build_model(seed))
        except _Unsupported as reason:
            return str(reason)
    return None


class _EnsembleOrder:
    """The mini-batch order of ``train(..., seed=s)`` for several seeds at once.

    Each member keeps the trainer's own ``_BatchOrder`` (same generator, same seed), so its
    permutations are exactly the ones ``train`` draws. All members start a new epoch at the
    same steps (same data size and batch size): one permutation per member per epoch, then each
    step reads one ``(K, batch)`` slice without any per-member work.
    """

    def __init__(self, n_rows: int, batch_size: int | None, seeds: Sequence[int]) -> None:
        self.orders = [_BatchOrder(n_rows, batch_size, seed) for seed in seeds]
        self.n_rows, self.batch_size = n_rows, batch_size
        self.permutations: torch.Tensor | None = None
        self.position = 0
        self.epoch = -1

    def next(self) -> tuple[torch.Tensor | None, int]:
        if self.batch_size is None:
            self.epoch += 1
            return None, self.epoch
        if self.permutations is None or self.position + self.batch_size > self.n_rows:
            for order in self.orders:
                order.position = self.n_rows  # this epoch is used up: make it draw the next one
                order.next()
            self.permutations = torch.stack([order.permutation for order in self.orders])
            self.epoch = self.orders[0].epoch
            self.position = 0
        index = self.permutations[:, self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index, self.epoch

    def keep(self, keep: list[bool]) -> None:
        self.orders = [order for order, kept in zip(self.orders, keep, strict=True) if kept]
        if self.permutations is not None:
            self.permutations = self.permutations[torch.tensor(keep)]


def _train_config(
    config: RunConfig, seed: int, model: nn.Module, loss_name: str, pos_weight: float | None
) -> dict[str, Any]:
    """The ``History.config`` that ``train`` writes for this run (kept key for key identical)."""
    optimizer = config.build_optimizer(model.parameters())
    group = optimizer.param_groups[0]
    return {
        "seed": seed,
        "steps": config.steps,
        "batch_size": config.batch_size,
        "eval_every": config.eval_every,
        "data": str(config.data.name),
        "task": config.data.task,
        "n_train": len(config.data.X_train),
        "n_val": len(config.data.X_val),
        "model": type(model).__name__,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "optimizer": type(optimizer).__name__,
        "optimizer_hparams": _optimizer_hparams(optimizer),
        "peak_lr": float(group.get("initial_lr", group["lr"])),
        "schedule": _schedule_config(config.schedule),
        "loss": loss_name,
        "pos_weight": pos_weight,
        "focal_alpha": config.focal_alpha if loss_name == "focal" else None,
        "focal_gamma": config.focal_gamma if loss_name == "focal" else None,
        "grad_clip": config.grad_clip,
        "divergence_factor": config.divergence_factor,
        "threads": config.threads,
    }


def train_ensemble(
    config: RunConfig, seeds: Iterable[int], *, progress: bool = False
) -> list[History]:
    """Train ``config`` for every seed in ``seeds`` at once; return one History per seed, in order.

    The K models' weights are stacked along a leading seed dimension, so each layer is one
    batched product ``(K, batch, in) @ (K, in, out)`` and one optimizer updates all members.
    Nothing is shared between members:

    * initial weights: member k starts from ``config.model(seed=seeds[k])``;
    * data order: member k draws exactly the mini-batches ``train(..., seed=seeds[k])`` draws;
    * learning rate: the same ``peak_lr x schedule(step)`` for every member, as in ``train``;
    * optimizer: SGD, Adam, AdamW, ... update each weight from its own gradient and state, so
      one optimizer over the stacked weights *is* K independent optimizers. Gradient clipping
      (``grad_clip``) is done per member, with each member's own global norm;
    * divergence: a member whose loss is not finite or exceeds ``divergence_factor`` x its own
      first loss is recorded exactly as ``train`` records it (that step, no update, one final
      evaluation) and removed; the others carry on unchanged.

    The result equals ``[config.run(s) for s in seeds]`` up to floating-point rounding (the
    batched kernels add in a different order; ~1e-6 on the losses of a stable run). At a peak
    LR on the edge of stability, training amplifies any perturbation, rounding included, so
    there single curves can drift apart after a few dozen steps while the seed statistics do
    not. ``History.seconds`` is the ensemble's wall time divided by K.

    Why it is faster: a sequential step of a small MLP spends most of its time on fixed costs
    (Python, launching many small operations, one optimizer loop per tensor, reading the loss
    back), which the ensemble pays once for all K members. The matrix products themselves cost
    the same batched or not, so the gain shrinks as the model grows: ~4x for 8 seeds of a
    64-64 MLP on digits, ~2x for 256-256 (``python benchmarks/ensemble.py``).

    Supported: ``nn.Sequential`` models of Linear, LayerNorm and elementwise activations
    (:class:`~warmup_lib.models.MLP`, :class:`~warmup_lib.models.FraudClassifier`) on
    multiclass or binary data. The transformer is not batched (:func:`run_seeds` trains its
    seeds one after another).
    """
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    seeds = _check_seeds(seeds)
    check_bool("progress", progress)
    reason = _ensemble_blocker(config)
    if reason is not None:
        raise ValueError(f"config cannot be trained as a batched ensemble: {reason}")
    models = [config.build_model(seed) for seed in seeds]
    try:
        net = _EnsembleNet(models)
    except _Unsupported as error:
        raise ValueError(f"config cannot be trained as a batched ensemble: {error}") from None
    loss_name, criterion, pos_weight = _criterion(config)
    configs = [
        _train_config(config, s, m, loss_name, pos_weight)
        for s, m in zip(seeds, models, strict=True)
    ]
    del models
    with runtime.threads(config.threads):
        records = _EnsembleTrainer(config, net, seeds, loss_name, criterion, pos_weight).run(
            progress
        )
    return [History(config=cfg, **record) for cfg, record in zip(configs, records, strict=True)]


class _EnsembleTrainer:
    """The training loop of :func:`train_ensemble` (kept in one place, step by step like ``train``)."""

    def __init__(
        self,
        config: RunConfig,
        net: _EnsembleNet,
        seeds: list[int],
        loss_name: str,
        criterion: Callable,
        pos_weight: float | None,
    ) -> None:
        self.config, self.net, self.criterion = config, net, criterion
        self.member_loss = _member_loss(config, loss_name, pos_weight)
        overrides: dict[str, Any] = {}
        if config.optimizer_class in _FUSED:
            overrides = {"fused": True, "foreach": None}
        try:
            self.optimizer = config.build_optimizer(net.params, **overrides)
        except (RuntimeError, TypeError, ValueError):  # an older torch without fused CPU kernels
            self.optimizer = config.build_optimizer(net.params)
        self.scheduler = (
            None if config.schedule is None else ScheduleLR(self.optimizer, config.schedule)
        )
        data = config.data
        self.order = _EnsembleOrder(len(data.X_train), config.batch_size, seeds)
        self.active = list(range(len(seeds)))  # original member index of each stacked row
        self.records: list[dict[str, Any]] = [
            {
                "step": [],
                "epoch": [],
                "lr": [],
                "train_loss": [],
                "grad_norm": [],
                "update_ratio": [],
                "eval_step": [],
                "val_loss": [],
                "val_metrics": {},
                "status": "running",
                "diverged_at": None,
            }
            for _ in seeds
        ]
        # Per-step numbers stay tensors until the end (or a divergence): no Python per member per step.
        self.pending: list[tuple[int, int, float, torch.Tensor]] = []
        self.initial_loss: torch.Tensor | None = None

    # -- bookkeeping ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Move the pending per-step tensors into the members' plain-Python records."""
        if not self.pending:
            return
        values = torch.stack([stats for *_, stats in self.pending]).tolist()  # (steps, 3, K)
        for (step, epoch, lr, _), (losses, grads, ratios) in zip(self.pending, values, strict=True):
            for row, member in enumerate(self.active):
                record = self.records[member]
                record["step"].append(step)
                record["epoch"].append(epoch)
                record["lr"].append(lr)
                record["train_loss"].append(losses[row])
                record["grad_norm"].append(grads[row])
                record["update_ratio"].append(ratios[row])
        self.pending = []

    def evaluate(self, step: int, rows: list[int]) -> None:
        """Evaluate the stacked members at ``rows`` on the validation split, as ``train`` does."""
        data = self.config.data
        with torch.no_grad():
            X, y = data.X_val, data.y_val
            outputs = torch.cat([self.net(X[i : i + 4096]) for i in range(0, len(X), 4096)], dim=1)
            outputs = outputs[rows]
            if data.task == "multiclass":
                k, n, classes = outputs.shape
                losses = F.cross_entropy(
                    outputs.reshape(k * n, classes), y.repeat(k), reduction="none"
                )
                val_losses = losses.view(k, n).mean(dim=1).tolist()
                finite = torch.isfinite(outputs.reshape(k, -1)).all(dim=1).tolist()
                # accuracy_score is (number right) / n; the integer count makes it identical
                correct = (outputs.argmax(dim=-1) == y).sum(dim=1).tolist()
                metrics = [
                    {"val_accuracy": c / n if ok else math.nan}
                    for c, ok in zip(correct, finite, strict=True)
                ]
            else:
                val_losses = [float(self.criterion(out, y)) for out in outputs]
                metrics = [_metrics(out, y, data.task) for out in outputs]
        for row, val_loss, values in zip(rows, val_losses, metrics, strict=True):
            record = self.records[self.active[row]]
            record["eval_step"].append(step)
            record["val_loss"].append(val_loss)
            for name, value in values.items():
                record["val_metrics"].setdefault(name, []).append(value)

    def drop_diverged(
        self, step: int, epoch: int, lr: float, losses: torch.Tensor, blew_up: torch.Tensor
    ) -> None:
        """Record the blown-up members as ``train`` does (the step, no update, one evaluation) and drop them."""
        self.flush()
        rows = torch.nonzero(blew_up).flatten().tolist()
        values = losses.tolist()
        for row in rows:
            record = self.records[self.active[row]]
            record["step"].append(step)
            record["epoch"].append(epoch)
            record["lr"].append(lr)
            record["train_loss"].append(values[row])
            record["grad_norm"].append(math.nan)
            record["update_ratio"].append(math.nan)
            record["status"], record["diverged_at"] = "diverged", step
        self.evaluate(step, rows)
        keep = ~blew_up
        self.net.keep(keep, self.optimizer)
        self.order.keep(keep.tolist())
        self.active = [
            member for member, kept in zip(self.active, keep.tolist(), strict=True) if kept
        ]
        assert self.initial_loss is not None
        self.initial_loss = self.initial_loss[keep]

    # -- the loop -------------------------------------------------------------------------------

    def run(self, progress: bool) -> list[dict[str, Any]]:
        """Train every member for ``config.steps`` steps; return the History fields per member."""
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.config.steps, desc=f"train x{len(self.active)}", unit="step")
        started = time.perf_counter()
        try:
            self.train_steps(bar)
        finally:
            if bar is not None:
                bar.close()
        self.flush()
        for record in self.records:
            if record["status"] == "running":
                record["status"] = "completed"
        seconds = (time.perf_counter() - started) / len(self.records)
        return [{**record, "seconds": seconds} for record in self.records]

    def train_steps(self, bar: Any) -> None:
        """The loop: the same step as ``train`` (batch, loss, divergence check, backward, norms,
        clip, optimizer step, update ratio, schedule, evaluation) for all members at once."""
        config, net, optimizer = self.config, self.net, self.optimizer
        X_train, y_train = config.data.X_train, config.data.y_train
        factor = config.divergence_factor
        group = optimizer.param_groups[0]
        snapshot: list[torch.Tensor] = []
        for step in range(config.steps):
            index, epoch = self.order.next()
            lr = float(group["lr"])
            while True:  # one pass, or two when some members blow up at this step
                if index is None:
                    X, y = X_train, y_train.expand(len(self.active), -1)
                else:
                    X, y = X_train[index], y_train[index]
                for param in net.params:
                    param.grad = None
                losses = self.member_loss(net(X), y)
                values = losses.detach()
                if self.initial_loss is None:
                    self.initial_loss = values.double()
                blew_up = ~torch.isfinite(values)
                if factor is not None:
                    blew_up |= (self.initial_loss > 0) & (
                        values.double() > factor * self.initial_loss
                    )
                if not bool(blew_up.any()):
                    break
                self.drop_diverged(step, epoch, lr, values, blew_up)
                if not self.active:
                    break
                if index is not None:
                    index = index[~blew_up]
            if not self.active:
                break
            if len(snapshot) != len(net.params) or snapshot[0].shape != net.params[0].shape:
                snapshot = [p.detach().clone() for p in net.params]
            weights = [p.detach() for p in net.params]

            losses.sum().backward()
            with torch.no_grad():
                grads = [p.grad for p in net.params]
                grad_norm = _member_norms(grads)
                if config.grad_clip is not None:
                    # each member clipped by its own norm, exactly like clip_grad_norm_ on one model
                    coef = (config.grad_clip / (grad_norm + _CLIP_EPS)).clamp(max=1.0)
                    for grad in grads:
                        grad.mul_(coef.view(-1, *([1] * (grad.dim() - 1))))
                torch._foreach_copy_(snapshot, weights)
                weight_norm = _member_norms(snapshot)
                optimizer.step()
                torch._foreach_sub_(snapshot, weights)
                update_ratio = _member_norms(snapshot) / weight_norm
            if self.scheduler is not None:
                self.scheduler.step()
            self.pending.append((step, epoch, lr, torch.stack([values, grad_norm, update_ratio])))

            done = step + 1
            if done % config.eval_every == 0 or done == config.steps:
                self.evaluate(step, list(range(len(self.active))))
            if bar is not None:
                bar.update(1)


# ----------------------------------------------------------------------------------------------
# Many runs -> tidy frames


def histories_to_frame(
    histories: Sequence[History],
    *,
    condition: str | None = None,
    seeds: Sequence[int] | None = None,
    **keys: Any,
) -> pd.DataFrame:
    """Stack ``History.to_frame()`` of several runs into one tidy frame, one row per run and step.

    Columns: ``condition`` (if given), any extra ``keys`` (e.g. ``peak_lr=0.1``), ``seed``, the
    trainer's per-step columns, and ``diverged`` (the run's flag, repeated on each of its rows).
    ``seed`` is ``seeds[i]`` when given, else ``history.config["seed"]``; a History trained with
    another seed than the one asked for triggers a warning (usually a forgotten ``seed=seed``).
    """
    import pandas as pd

    if isinstance(histories, History) or not isinstance(histories, Sequence):
        raise TypeError(
            f"histories must be a list of History objects, got {type(histories).__name__}"
        )
    if seeds is not None and len(seeds) != len(histories):
        raise ValueError(
            f"seeds must give one seed per History: {len(seeds)} seeds for {len(histories)} histories"
        )
    frames = []
    for i, history in enumerate(histories):
        if not isinstance(history, History):
            raise TypeError(
                f"histories[{i}] must be a History (what train returns), got {type(history).__name__}"
            )
        trained_with = history.config.get("seed")
        seed = trained_with if seeds is None else seeds[i]
        if seeds is not None and trained_with is not None and trained_with != seed:
            warnings.warn(
                f"the run for seed {seed} was trained with seed={trained_with}; pass seed=seed to "
                "train (and to the model) so that each seed is its own run",
                UserWarning,
                stacklevel=3,
            )
        frame = history.to_frame()
        front: dict[str, Any] = {}
        if condition is not None:
            front["condition"] = condition
        front.update(keys)
        front["seed"] = i if seed is None else seed
        for position, (name, value) in enumerate(front.items()):
            frame.insert(position, name, value)
        frame["diverged"] = history.diverged
        frames.append(frame)
    if not frames:
        raise ValueError("histories must hold at least one History")
    return pd.concat(frames, ignore_index=True)


def _runs(run: Any, seeds: list[int], ensemble: bool | str, progress: bool) -> list[History]:
    """Histories of ``run`` for every seed: batched when possible and allowed, else one by one."""
    if isinstance(run, RunConfig):
        if ensemble is not False:
            reason = _ensemble_blocker(run, seeds[0])
            if reason is None:
                return train_ensemble(run, seeds, progress=progress)
            if ensemble is True:
                raise ValueError(f"ensemble=True but this config cannot be batched: {reason}")
        return [run.run(seed) for seed in _progress(seeds, progress, "seeds")]
    if ensemble is True:
        raise ValueError(
            "ensemble=True needs a RunConfig (a declarative run); a function of the seed runs sequentially"
        )
    histories = []
    for seed in _progress(seeds, progress, "seeds"):
        history = run(seed)
        if not isinstance(history, History):
            raise TypeError(
                f"run(seed={seed}) must return a History (what train returns), got {type(history).__name__}"
            )
        histories.append(history)
    return histories


def _progress(items: Sequence[Any], progress: bool, desc: str) -> Iterable[Any]:
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc)


def _check_run(run: Any) -> None:
    if not (isinstance(run, RunConfig) or callable(run)):
        raise TypeError(
            "run must be a RunConfig or a function seed -> History, e.g. "
            f"lambda seed: train(MLP(64, 10, seed=seed), ..., seed=seed); got {type(run).__name__}"
        )


def run_seeds(
    run: RunConfig | Callable[[int], History],
    seeds: Iterable[int],
    *,
    condition: str | None = None,
    ensemble: bool | str = "auto",
    progress: bool = False,
    return_histories: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, list[History]]:
    """Train one configuration once per seed; return the tidy per-step frame (and the Histories).

    ``run`` is either a :class:`RunConfig` or any function ``seed -> History``::

        frame = run_seeds(config, seeds=range(5), condition="no warmup")
        frame = run_seeds(lambda seed: train(MLP(64, 10, seed=seed), ..., seed=seed), range(5))

    The frame has one row per (seed, step): ``condition, seed, step, epoch, lr, train_loss,
    grad_norm, update_ratio, val_loss, val_<metric>..., diverged``; summarise it with
    :func:`summarize_seeds`. With a RunConfig, ``ensemble="auto"`` trains all seeds at once with
    :func:`train_ensemble` when the model allows it (MLPs; same numbers, several times faster)
    and one by one otherwise; ``True`` insists on batching, ``False`` forbids it.
    ``return_histories=True`` returns ``(frame, histories)``, histories in seed order.
    """
    _check_run(run)
    seeds = _check_seeds(seeds)
    if condition is not None and not isinstance(condition, str):
        raise TypeError(
            f"condition must be a string label such as 'no warmup' or None, got {condition!r}"
        )
    ensemble = _check_ensemble(ensemble)
    check_bool("progress", progress)
    check_bool("return_histories", return_histories)
    histories = _runs(run, seeds, ensemble, progress)
    frame = histories_to_frame(
        histories, condition="run" if condition is None else condition, seeds=seeds
    )
    return (frame, histories) if return_histories else frame


def compare(
    conditions: Mapping[str, RunConfig | Callable[[int], History]],
    seeds: Iterable[int],
    *,
    ensemble: bool | str = "auto",
    progress: bool = False,
) -> pd.DataFrame:
    """:func:`run_seeds` for each ``{condition name: run}`` and all of them in one tidy frame.

    ``compare({"no warmup": config, "warmup 100": config.replace(schedule=LinearWarmup(100))},
    seeds=range(5))`` then ``summarize_seeds(frame)`` is the usual with/without-warmup control.
    """
    import pandas as pd

    if not isinstance(conditions, Mapping) or not conditions:
        raise TypeError(
            "conditions must be a non-empty dict {condition name: RunConfig or function seed -> History}"
        )
    for name, run in conditions.items():
        if not isinstance(name, str):
            raise TypeError(f"conditions keys must be strings (condition names), got {name!r}")
        _check_run(run)
    seeds = _check_seeds(seeds)
    frames = [
        run_seeds(run, seeds, condition=name, ensemble=ensemble, progress=progress)
        for name, run in conditions.items()
    ]
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# Success and summaries


@dataclass(frozen=True)
class SuccessRule:
    """When a run counts as a success: it did not diverge and its final ``metric`` is good enough.

    ``metric`` names a per-run number of :func:`summarize_runs` without the ``final_`` prefix:
    ``"val_accuracy"``, ``"val_loss"``, ``"train_loss"``, ``"val_average_precision"``...
    Success means ``final >= threshold`` when higher is better and ``final <= threshold`` when
    lower is better; ``higher_is_better=None`` decides from the name (metrics with "loss" in
    the name are lower-is-better). The default, final validation accuracy >= 0.9, suits digits
    (chance is 0.1, a trained MLP reaches ~0.97); for language data use e.g.
    ``SuccessRule("val_loss", 1.0)``.
    """

    metric: str = "val_accuracy"
    threshold: float = 0.9
    higher_is_better: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise TypeError(
                f"metric must be a metric name such as 'val_accuracy', got {self.metric!r}"
            )
        object.__setattr__(self, "metric", self.metric.removeprefix("final_"))
        object.__setattr__(self, "threshold", check_float("threshold", self.threshold))
        if self.higher_is_better is not None:
            check_bool("higher_is_better", self.higher_is_better)

    @property
    def column(self) -> str:
        """The :func:`summarize_runs` column this rule reads."""
        return f"final_{self.metric}"

    @property
    def higher(self) -> bool:
        """Whether larger values of the metric are better."""
        return "loss" not in self.metric if self.higher_is_better is None else self.higher_is_better

    def __call__(self, run: Mapping[str, Any]) -> bool:
        """Apply the rule to one row of :func:`summarize_runs` (a Series or dict)."""
        if bool(run["diverged"]):
            return False
        value = float(run[self.column])
        if math.isnan(value):
            return False
        return value >= self.threshold if self.higher else value <= self.threshold

    def describe(self) -> str:
        """The rule in words, e.g. ``"not diverged and final val_accuracy >= 0.9"``."""
        return f"not diverged and final {self.metric} {'>=' if self.higher else '<='} {self.threshold:g}"


def _check_success(success: Any) -> SuccessRule | Callable[[Any], bool]:
    if success is None:
        return SuccessRule()
    if isinstance(success, SuccessRule) or callable(success):
        return success
    raise TypeError(
        "success must be a SuccessRule (e.g. SuccessRule('val_accuracy', 0.9)), a function "
        f"run_summary -> bool, or None for the default; got {success!r}"
    )


def _check_frame(frame: Any) -> None:
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"frame must be a pandas DataFrame from run_seeds, compare or sweep, got {type(frame).__name__}"
        )
    missing = [c for c in ("seed", "step", "train_loss", "diverged") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame lacks the column(s) {missing}; pass the per-step frame of run_seeds, compare or sweep "
            "(or histories_to_frame)"
        )
    if frame.empty:
        raise ValueError("frame has no rows")


def _run_keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in _KEY_COLUMNS if c in frame.columns] + ["seed"]


def summarize_runs(
    frame: pd.DataFrame, *, success: Any = None, early_steps: int = 100
) -> pd.DataFrame:
    """One row per run of a per-step frame: its final numbers, early peak and success.

    Runs are identified by ``condition`` / ``peak_lr`` / ``warmup_steps`` (those present) and
    ``seed``. Columns added per run:

    * ``diverged``, ``steps_done``;
    * ``final_train_loss`` — mean training loss of the last 10 recorded steps (one mini-batch
      is noisy); ``final_val_loss`` and ``final_val_<metric>`` — the last evaluation. A diverged
      run has final losses ``inf`` and final metrics NaN: its last numbers describe a blow-up,
      not a trained model;
    * ``max_early_loss`` — the largest training loss in steps ``< early_steps`` (``inf`` if it
      was not finite): the early spike warmup is meant to prevent, visible even when the run
      recovers;
    * ``success`` — ``success(row)``; the default :class:`SuccessRule` is "not diverged and
      final val_accuracy >= 0.9". A function ``row -> bool`` works too.
    """
    import numpy as np
    import pandas as pd

    _check_frame(frame)
    rule = _check_success(success)
    early_steps = check_int("early_steps", early_steps, min_value=1)
    keys = _run_keys(frame)
    metric_columns = [c for c in frame.columns if c.startswith("val_")]
    rows = []
    for key, run in frame.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        run = run.sort_values("step")
        diverged = bool(run["diverged"].iloc[0])
        losses = run["train_loss"].to_numpy(dtype=float)
        early = losses[run["step"].to_numpy() < early_steps]
        early = np.where(np.isnan(early), np.inf, early)
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row["diverged"] = diverged
        row["steps_done"] = len(run)
        row["final_train_loss"] = (
            math.inf if diverged else float(np.mean(losses[-_LAST_STEPS_FOR_TRAIN_LOSS:]))
        )
        for column in metric_columns:
            evaluated = run[column].dropna()
            last = float(evaluated.iloc[-1]) if len(evaluated) else math.nan
            if diverged:
                last = math.inf if "loss" in column else math.nan
            row[f"final_{column}"] = last
        row["max_early_loss"] = float(early.max()) if len(early) else math.nan
        rows.append(row)
    runs = pd.DataFrame(rows)
    if isinstance(rule, SuccessRule) and rule.column not in runs.columns:
        available = [c.removeprefix("final_") for c in runs.columns if c.startswith("final_")]
        raise ValueError(
            f"success: the rule reads {rule.metric!r} but the runs have no such column; "
            f"available metrics: {available}"
        )
    runs["success"] = [bool(rule(row)) for _, row in runs.iterrows()]
    return runs


def _aggregate(runs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of runs: counts, success rate and the spread of final numbers."""
    import pandas as pd

    metric_columns = [
        c for c in runs.columns if c.startswith("final_val_") and c != "final_val_loss"
    ]
    out = []
    for key, group in runs.groupby(by, sort=False):  # conditions stay in the order they were run
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        n = len(group)
        row["n_seeds"] = n
        row["n_diverged"] = int(group["diverged"].sum())
        row["n_success"] = int(group["success"].sum())
        row["success_rate"] = row["n_success"] / n
        for column in ("final_val_loss", "final_train_loss"):
            if column in group:
                name = column.removeprefix("final_")
                row[f"median_final_{name}"] = float(group[column].median())
                row[f"min_final_{name}"] = float(group[column].min())
                row[f"max_final_{name}"] = float(group[column].max())
        for column in metric_columns:  # NaN for diverged runs, so over the runs that trained
            row[f"median_{column}"] = float(group[column].median())
        row["median_max_early_loss"] = float(group["max_early_loss"].median())
        row["max_early_loss"] = float(group["max_early_loss"].max())
        out.append(row)
    return pd.DataFrame(out)


def summarize_seeds(
    frame: pd.DataFrame,
    *,
    success: Any = None,
    early_steps: int = 100,
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per condition: how many seeds diverged, how many succeeded, and final losses.

    ``frame`` is the per-step frame of :func:`run_seeds`, :func:`compare` or :func:`sweep`;
    runs are summarised by :func:`summarize_runs` (see there for ``success`` and
    ``early_steps``) and grouped by ``by`` (default: ``condition``, ``peak_lr`` and
    ``warmup_steps``, those present). Columns: ``n_seeds, n_diverged, n_success,
    success_rate`` (n_success / n_seeds), ``median/min/max_final_val_loss`` and
    ``..._final_train_loss`` (a diverged run counts as ``inf``), ``median_final_val_<metric>``
    (over the runs that did not diverge), ``median_max_early_loss`` and ``max_early_loss``.
    """
    runs = summarize_runs(frame, success=success, early_steps=early_steps)
    if by is None:
        groups = [c for c in _KEY_COLUMNS if c in runs.columns]
        if not groups:
            groups = ["condition"]
            runs = runs.assign(condition="run")
    else:
        groups = [by] if isinstance(by, str) else list(by)
        missing = [c for c in groups if c not in runs.columns]
        if missing:
            raise ValueError(
                f"by names column(s) {missing} that the runs do not have; they have {list(runs.columns)}"
            )
    return _aggregate(runs, groups)


# ----------------------------------------------------------------------------------------------
# The stability frontier


def default_warmup(warmup_steps: int) -> Schedule | None:
    """The schedule :func:`sweep` uses by default: ``LinearWarmup(warmup_steps)``, or ``None``
    (constant LR from the first step) for ``warmup_steps == 0``."""
    warmup_steps = check_int("warmup_steps", warmup_steps)
    return None if warmup_steps == 0 else LinearWarmup(warmup_steps)


def sweep(
    peak_lrs: Iterable[float],
    warmup_steps_list: Iterable[int],
    seeds: Iterable[int],
    run: RunConfig | Callable[..., History],
    *,
    warmup: Callable[[int], Schedule | None] = default_warmup,
    success: Any = None,
    early_steps: int = 100,
    ensemble: bool | str = "auto",
    progress: bool = False,
    return_runs: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Peak LR x warmup length x seeds: the stability-frontier table, one row per (peak_lr, warmup_steps).

    Kalra & Barkeshli 2024 ("Why Warmup the Learning Rate?", arXiv 2406.09405) show warmup's
    main benefit as a picture of this grid: with longer warmup, larger peak LRs still train.

    ``run`` is a :class:`RunConfig` — each cell trains ``run.replace(peak_lr=lr,
    schedule=warmup(warmup_steps))`` for every seed (all seeds at once when the model allows it,
    see :func:`train_ensemble`) — or a function called as ``run(peak_lr=..., warmup_steps=...,
    seed=...)`` returning a History. ``warmup`` maps a warmup length to the schedule
    (default :func:`default_warmup`: linear warmup, constant LR for 0; pass e.g.
    ``lambda w: warmup_then(LinearWarmup(w), CosineDecay(steps - w))`` for a decay after it).

    Columns: ``peak_lr, warmup_steps`` and the :func:`summarize_seeds` columns, of which
    ``success_rate`` (fraction of seeds that succeeded by ``success``, in [0, 1]) is the
    frontier. ``table.pivot(index="warmup_steps", columns="peak_lr", values="success_rate")``
    is the grid; :func:`max_stable_lr` reads the frontier off it. ``return_runs=True`` returns
    ``(table, per-step frame)``.
    """
    import pandas as pd

    peak_lrs = _check_sequence(
        "peak_lrs", peak_lrs, lambda name, v: check_float(name, v, min_value=0.0, min_open=True)
    )
    warmups = _check_sequence(
        "warmup_steps_list", warmup_steps_list, lambda name, v: check_int(name, v)
    )
    seeds = _check_seeds(seeds)
    _check_run(run)
    if not callable(warmup):
        raise TypeError(
            f"warmup must be a function warmup_steps -> Schedule or None, got {type(warmup).__name__}"
        )
    rule = _check_success(success)
    early_steps = check_int("early_steps", early_steps, min_value=1)
    ensemble = _check_ensemble(ensemble)
    check_bool("progress", progress)
    check_bool("return_runs", return_runs)
    if isinstance(run, RunConfig):
        schedules = {}
        for w in warmups:
            schedule = warmup(w)
            if schedule is not None and not isinstance(schedule, Schedule):
                raise TypeError(
                    f"warmup({w}) must return a warmup_lib Schedule or None, got {type(schedule).__name__}"
                )
            schedules[w] = schedule

    cells = [(lr, w) for w in warmups for lr in peak_lrs]
    frames = []
    for lr, w in _progress(cells, progress, "sweep"):
        if isinstance(run, RunConfig):
            histories = _runs(
                run.replace(peak_lr=lr, schedule=schedules[w]), seeds, ensemble, False
            )
        else:
            if ensemble is True:
                raise ValueError(
                    "ensemble=True needs a RunConfig; a function runs its seeds sequentially"
                )
            histories = []
            for seed in seeds:
                history = run(peak_lr=lr, warmup_steps=w, seed=seed)
                if not isinstance(history, History):
                    raise TypeError(
                        f"run(peak_lr={lr}, warmup_steps={w}, seed={seed}) must return a History, "
                        f"got {type(history).__name__}"
                    )
                histories.append(history)
        frames.append(histories_to_frame(histories, seeds=seeds, peak_lr=lr, warmup_steps=w))
    runs = pd.concat(frames, ignore_index=True)
    table = summarize_seeds(
        runs, success=rule, early_steps=early_steps, by=["peak_lr", "warmup_steps"]
    )
    table = table.sort_values(["warmup_steps", "peak_lr"], ignore_index=True)
    return (table, runs) if return_runs else table


def max_stable_lr(table: pd.DataFrame, *, min_success_rate: float = 1.0) -> pd.Series:
    """For each warmup length, the largest peak LR that trains reliably — the stability frontier.

    "Reliably" means this peak LR *and every smaller one in the grid* reach ``success_rate >=
    min_success_rate`` (so a lucky cell beyond a failing one does not count). NaN where even the
    smallest peak LR fails. ``table`` is the output of :func:`sweep`; the Series is indexed by
    ``warmup_steps``. If warmup helps, the values grow with the warmup length.
    """
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"table must be the DataFrame returned by sweep, got {type(table).__name__}"
        )
    missing = [c for c in ("peak_lr", "warmup_steps", "success_rate") if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the column(s) {missing}; pass the table returned by sweep")
    min_success_rate = check_float(
        "min_success_rate", min_success_rate, min_value=0.0, max_value=1.0
    )
    out = {}
    for warmup_steps, group in table.groupby("warmup_steps", sort=True):
        best = math.nan
        for lr, rate in sorted(zip(group["peak_lr"], group["success_rate"], strict=True)):
            if rate < min_success_rate:
                break
            best = float(lr)
        out[warmup_steps] = best
    series = pd.Series(out, name="max_stable_lr", dtype=float)
    series.index.name = "warmup_steps"
    return series
