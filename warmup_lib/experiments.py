"""Experiments over seeds and grids: RunConfig, run_seeds, compare, sweep and batched ensembles.

One training run says little about warmup: a run that diverges at one seed trains fine at the
next. This module runs the same configuration over several seeds and over a grid of peak learning
rate x warmup length, and turns the results into tidy pandas tables:

* :class:`RunConfig` — everything that defines a run except the seed (model factory, data,
  optimizer name and peak LR, schedule, steps, batch size...); ``config.run(seed)`` trains one.
* :func:`run_seeds` / :func:`compare` — one or several configurations over seeds, one row per
  step (``condition, seed, step, lr, train_loss, ..., val_loss, val_accuracy, diverged``).
* :func:`summarize_runs` / :func:`summarize_seeds` — one row per run / per condition: how many
  seeds diverged, how many succeeded by a :class:`SuccessRule`, final and early losses.
* :func:`sweep` / :func:`max_stable_lr` — peak LR x warmup length x seeds: the stability-frontier
  table of Kalra & Barkeshli 2024, "Why Warmup the Learning Rate? Underlying Mechanisms and
  Improvements", arXiv 2406.09405 (success rate per cell), and the learning-rate sensitivity
  table (final validation loss per cell; ``warmup_lib.plotting.plot_lr_sensitivity``).
* :func:`train_ensemble` — many runs trained *at once*: K seeds of one configuration, or of
  several configurations that differ only in peak LR and schedule. The K models are stacked
  into one (:mod:`warmup_lib.ensemble`) and trained by the same loop as
  :func:`~warmup_lib.training.train`; each member gets exactly the initial weights,
  mini-batches and learning rates its own ``config.run(seed)`` would use, so the Histories equal
  the sequential ones up to floating-point rounding. :func:`run_seeds`, :func:`compare` and
  :func:`sweep` use it automatically for MLPs and the tiny transformer.
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
from torch import nn

from . import runtime
from ._validation import check_bool, check_choice, check_float, check_int
from .ensemble import NotStackable, check_stackable, stack_models
from .schedules import LinearWarmup, Schedule, with_warmup
from .torch_adapter import ScheduleLR
from .training import (
    DivergenceRule,
    History,
    StackedBatchOrder,
    StepRecorder,
    TrainSettings,
    progress_bar,
    run_steps,
    run_training,
)

if TYPE_CHECKING:  # pandas is imported lazily, as in training.py
    import pandas as pd

__all__ = [
    "OPTIMIZERS",
    "MAX_STACKED_MEMBERS",
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

#: Most runs :func:`run_seeds`, :func:`compare` and :func:`sweep` stack into one batched
#: ensemble; more are trained in several such groups. 20 transformers of the series' size hold
#: ~0.3 GB of weights, optimizer state and activations, and batching more members per group
#: gains little on one core (``python benchmarks/run.py`` measures K = 10, 20, 40).
MAX_STACKED_MEMBERS = 20

# These optimizers update every weight from that weight's own gradient and state only (plus
# shared step counters), and their update is proportional to the learning rate given that
# state. On weights stacked along a member axis, one such optimizer is therefore exactly K
# independent optimizers, at K learning rates if each member's update is rescaled. Global-norm
# gradient clipping is NOT elementwise, which is why the stacked network clips each member by
# its own norm.
_ELEMENTWISE = frozenset(OPTIMIZERS.values())
# torch's single-kernel ("fused") CPU implementations: ~10x faster than the default loop here.
_FUSED = frozenset({torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad})
# RunConfig fields that may differ between the members of one batched ensemble.
_PER_MEMBER_FIELDS = ("peak_lr", "schedule")

# Keys of the per-step frame that identify a run rather than measure it.
_KEY_COLUMNS = ("condition", "peak_lr", "warmup_steps")
_LAST_STEPS_FOR_TRAIN_LOSS = 10  # final_train_loss averages this many steps: one batch is noisy


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


# ----------------------------------------------------------------------------------------------
# The declarative run


@dataclass(frozen=True, eq=False)
class RunConfig:
    """Everything that defines one training run except the seed; ``config.run(seed)`` trains it.

    A run with seed ``s`` builds ``model(seed=s)``, the optimizer ``OPTIMIZERS[optimizer](params,
    lr=peak_lr, **optimizer_kwargs)`` and trains it with :func:`warmup_lib.training.train`'s
    loop and the other fields (LR at step k = ``peak_lr x schedule(k)``). The training
    settings (``data`` ... ``threads``) are validated once, into ``config.settings`` (a
    :class:`~warmup_lib.training.TrainSettings`), which every run of the config uses. Being
    plain data, a config can also be trained for several seeds at once (:func:`train_ensemble`),
    which :func:`run_seeds`, :func:`compare` and :func:`sweep` do automatically when the model
    allows it.

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
    divergence_factor, threads: as the arguments of :func:`~warmup_lib.training.train`.
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
        settings = TrainSettings(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(TrainSettings)}
        )
        set_(self, "_settings", settings)
        for f in dataclasses.fields(TrainSettings):  # the normalised values (100.0 -> 100)
            set_(self, f.name, getattr(settings, f.name))
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

    # -- building and running -------------------------------------------------------------------

    @property
    def settings(self) -> TrainSettings:
        """The validated training settings every run of this config uses (data ... threads)."""
        return self._settings  # type: ignore[attr-defined]

    @property
    def optimizer_class(self) -> type[torch.optim.Optimizer]:
        """The ``torch.optim`` class named by ``optimizer``."""
        return _optimizer_class(self.optimizer)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed, e.g. ``config.replace(peak_lr=0.1, schedule=None)``."""
        names = [f.name for f in dataclasses.fields(self)]
        unknown = set(changes) - set(names)
        if unknown:
            raise TypeError(
                f"replace() got unknown field(s) {sorted(unknown)}; RunConfig fields are: "
                f"{', '.join(names)}"
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
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(TrainSettings)
            if f.name not in ("data", "steps")
        }

    def run(self, seed: int = 0, *, progress: bool = False) -> History:
        """Train one fresh model with seed ``seed`` (init and batch order) and return its History."""
        return self.fit(seed, progress=progress)[1]

    def fit(self, seed: int = 0, *, progress: bool = False) -> tuple[nn.Module, History]:
        """Like :meth:`run`, but also return the trained model (to score other data with it)."""
        model = self.build_model(seed)
        optimizer = self.build_optimizer(model.parameters())
        history = run_training(
            model, optimizer, self.schedule, self.settings, seed, progress=progress
        )
        return model, history

    def differs_from(self, other: RunConfig) -> list[str]:
        """The fields, other than peak LR and schedule, in which ``other`` differs from this
        config: an empty list means the two can train in one batched ensemble."""
        out = []
        for f in dataclasses.fields(self):
            if f.name in _PER_MEMBER_FIELDS:
                continue
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if mine is theirs:
                continue
            comparable = not (
                callable(mine) or isinstance(mine, torch.Tensor) or f.name == "data"
            )
            if not comparable or mine != theirs:
                out.append(f.name)
        return out

    def __repr__(self) -> str:
        schedule = "None" if self.schedule is None else type(self.schedule).__name__
        return (
            f"RunConfig(data={getattr(self.data, 'name', '?')!r}, steps={self.steps}, "
            f"optimizer={self.optimizer_class.__name__}, peak_lr={self.peak_lr:g}, "
            f"optimizer_kwargs={dict(self.optimizer_kwargs)}, schedule={schedule}, "
            f"batch_size={self.batch_size})"
        )


# ----------------------------------------------------------------------------------------------
# The batched ensemble


class _MemberRates:
    """Learning rates of a batched ensemble: member k follows its own ``peak_lr x schedule``.

    Each distinct (peak LR, schedule) is driven by a genuine :class:`ScheduleLR` on a stand-in
    optimizer, so every member's LR is computed exactly as its sequential run computes it. At a
    step where all members' LRs are equal the stacked optimizer simply runs at that LR
    (:meth:`scales` is None); otherwise it runs at the largest and :meth:`scales` rescales each
    member's update by ``lr_k / lr_max``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, configs: Sequence[RunConfig]) -> None:
        self.optimizer = optimizer
        sources: list[tuple[float, Schedule | None]] = []
        self.source_of: list[int] = []
        for config in configs:
            key = (config.peak_lr, config.schedule)
            if key not in sources:
                sources.append(key)
            self.source_of.append(sources.index(key))
        self.drivers = []
        for peak_lr, schedule in sources:
            stand_in = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak_lr)
            scheduler = None if schedule is None else ScheduleLR(stand_in, schedule)
            self.drivers.append((stand_in, scheduler))
        self._scales: torch.Tensor | None = None

    def current(self) -> float | list[float]:
        lrs = [float(stand_in.param_groups[0]["lr"]) for stand_in, _ in self.drivers]
        used = sorted(set(self.source_of))
        if len(used) == 1:
            self._scales = None
            lr = lrs[used[0]]
            self.optimizer.param_groups[0]["lr"] = lr
            return lr
        per_member = [lrs[source] for source in self.source_of]
        reference = max(per_member)
        self.optimizer.param_groups[0]["lr"] = reference
        # Equal LRs (a warmup pair once its warmup is over): no rescaling pass over the weights.
        self._scales = (
            None
            if min(per_member) == reference
            else torch.tensor([lr / reference if reference > 0 else 0.0 for lr in per_member])
        )
        return per_member

    def scales(self) -> torch.Tensor | None:
        return self._scales

    def step(self) -> None:
        for stand_in, scheduler in self.drivers:
            stand_in.step()  # no gradients: changes nothing, but lets the scheduler step cleanly
            if scheduler is not None:
                scheduler.step()

    def keep(self, keep: list[bool]) -> None:
        self.source_of = [s for s, kept in zip(self.source_of, keep, strict=True) if kept]


def _ensemble_blocker(config: RunConfig, seed: int | None = None) -> str | None:
    """Why ``config`` cannot run as a batched ensemble, or ``None`` if it can."""
    if not config.settings.criterion.batched:
        return "a custom loss function is not batched; use loss='auto', 'bce' or 'focal'"
    if config.optimizer_class not in _ELEMENTWISE:
        return (
            f"{config.optimizer_class.__name__} is not known to update each weight independently; "
            f"batched optimizers: {', '.join(sorted(c.__name__ for c in _ELEMENTWISE))}"
        )
    if seed is not None:
        try:
            check_stackable(config.build_model(seed))
        except NotStackable as reason:
            return str(reason)
    return None


def _check_configs(config: Any) -> list[RunConfig]:
    configs = [config] if isinstance(config, RunConfig) else config
    if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Sequence):
        raise TypeError(
            f"config must be a RunConfig or a list of RunConfigs, got {type(config).__name__}"
        )
    if not configs:
        raise ValueError("config must hold at least one RunConfig, got an empty list")
    for i, item in enumerate(configs):
        if not isinstance(item, RunConfig):
            raise TypeError(f"config[{i}] must be a RunConfig, got {type(item).__name__}")
        differ = configs[0].differs_from(item)
        if differ:
            raise ValueError(
                f"config[{i}] differs from config[0] in {', '.join(differ)}; the runs of one "
                f"batched ensemble may differ only in {' and '.join(_PER_MEMBER_FIELDS)} "
                "(give every config the same model function, data and settings)"
            )
    return list(configs)


def train_ensemble(
    config: RunConfig | Sequence[RunConfig], seeds: Iterable[int], *, progress: bool = False
) -> list[History]:
    """Train every seed of ``config`` (or of each config in a list) at once; one History per run.

    ``config`` is a :class:`RunConfig` or a list of them that differ only in ``peak_lr`` and
    ``schedule`` (e.g. a peak-LR grid with and without warmup). The runs are every config with
    every seed, returned config by config: ``[c0 s0, c0 s1, ..., c1 s0, ...]``.

    The K models are stacked into one (:func:`warmup_lib.ensemble.stack_models`): each layer is
    one batched product over the members, one optimizer updates all of them, and the loop is
    the one :func:`~warmup_lib.training.train` runs. Nothing is shared between members:

    * initial weights: run k starts from ``config.model(seed=s)``;
    * data order: run k draws exactly the mini-batches ``train(..., seed=s)`` draws;
    * learning rate: each run's own ``peak_lr x schedule(step)``. With several distinct LRs the
      optimizer steps at the largest and each member's update is scaled by its own LR over it,
      exact for torch's elementwise optimizers (SGD, Adam, AdamW, RAdam...), whose update is
      proportional to the LR given the gradients;
    * gradient clipping (``grad_clip``) is done per member, with each member's own global norm;
    * divergence: a member whose loss is not finite or exceeds ``divergence_factor`` x its own
      first loss is recorded exactly as ``train`` records it (that step, no update, one final
      evaluation) and removed; the others carry on unchanged.

    The result equals ``[c.run(s) for c in configs for s in seeds]`` up to floating-point
    rounding (batched kernels add in another order: ~1e-6 on the losses of a stable run). At a
    peak LR on the edge of stability, training amplifies any perturbation, rounding included,
    so there single curves can drift apart after a few dozen steps while the seed statistics
    do not. ``History.seconds`` is the ensemble's wall time divided by the number of runs.

    Supported models: MLPs and other ``nn.Sequential`` stacks of Linear, LayerNorm and
    elementwise activations, :class:`~warmup_lib.models.FraudClassifier`, and
    :class:`~warmup_lib.models.TinyTransformerLM` without dropout; losses ``"auto"``,
    ``"cross_entropy"``, ``"bce"``, ``"focal"``; the optimizers in :data:`OPTIMIZERS`.
    """
    configs = _check_configs(config)
    seeds = _check_seeds(seeds)
    check_bool("progress", progress)
    reason = _ensemble_blocker(configs[0])
    if reason is not None:
        raise ValueError(f"config cannot be trained as a batched ensemble: {reason}")
    return _train_stacked([(c, s) for c in configs for s in seeds], progress)


def _train_stacked(runs: list[tuple[RunConfig, int]], progress: bool) -> list[History]:
    """The (config, seed) runs, all batchable together, trained as one stacked network."""
    first = runs[0][0]
    settings = first.settings
    models = [config.build_model(seed) for config, seed in runs]
    try:
        net = stack_models(models, settings.criterion)  # type: ignore[attr-defined]
    except NotStackable as error:
        raise ValueError(f"config cannot be trained as a batched ensemble: {error}") from None
    histories = [
        History(
            config=settings.history_config(
                seed, model, config.build_optimizer(model.parameters()), config.schedule
            ),
            status="running",
        )
        for (config, seed), model in zip(runs, models, strict=True)
    ]
    del models
    fused = {"fused": True, "foreach": None} if first.optimizer_class in _FUSED else {}
    try:
        optimizer = first.build_optimizer(net.params, **fused)
    except (RuntimeError, TypeError, ValueError):  # an older torch without fused CPU kernels
        optimizer = first.build_optimizer(net.params)
    recorder = StepRecorder(histories)
    bar = progress_bar(progress, settings.steps, desc=f"train x{len(runs)}")
    started = time.perf_counter()
    try:
        with runtime.threads(settings.threads):
            run_steps(
                net,
                optimizer,
                _MemberRates(optimizer, [config for config, _ in runs]),
                settings,
                StackedBatchOrder(len(settings.data.X_train), settings.batch_size, [s for _, s in runs]),
                recorder,
                DivergenceRule(settings.divergence_factor),
                bar=bar,
            )
    finally:
        if bar is not None:
            bar.close()
    recorder.flush()
    seconds = (time.perf_counter() - started) / len(runs)
    for history in histories:
        if history.status == "running":
            history.status = "completed"
        history.seconds = seconds
    return histories


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


def _histories(
    runs: Sequence[tuple[Any, int]], ensemble: bool | str, progress: bool
) -> list[History]:
    """The History of each ``(run, seed)``, in order: runs that can share a batched ensemble
    (RunConfigs that differ only in peak LR and schedule) train together in groups of at most
    :data:`MAX_STACKED_MEMBERS` when ``ensemble`` allows it; the others one by one."""
    results: list[History | None] = [None] * len(runs)
    sequential: list[int] = []
    groups: list[list[int]] = []
    for i, (run, _) in enumerate(runs):
        if not isinstance(run, RunConfig):
            if ensemble is True:
                raise ValueError(
                    "ensemble=True needs a RunConfig (a declarative run); a function of the seed "
                    "runs sequentially"
                )
            sequential.append(i)
        elif ensemble is False:
            sequential.append(i)
        else:
            for group in groups:
                if not runs[group[0]][0].differs_from(run):
                    group.append(i)
                    break
            else:
                groups.append([i])
    for group in groups:
        config, seed = runs[group[0]]
        reason = _ensemble_blocker(config, seed)
        if reason is not None:
            if ensemble is True:
                raise ValueError(f"ensemble=True but this config cannot be batched: {reason}")
            sequential.extend(group)
            continue
        for start in range(0, len(group), MAX_STACKED_MEMBERS):
            chunk = group[start : start + MAX_STACKED_MEMBERS]
            for i, history in zip(chunk, _train_stacked([runs[i] for i in chunk], progress), strict=True):
                results[i] = history
    for i in _progress(sorted(sequential), progress, "runs"):
        run, seed = runs[i]
        history = run.run(seed) if isinstance(run, RunConfig) else run(seed)
        if not isinstance(history, History):
            raise TypeError(
                f"run(seed={seed}) must return a History (what train returns), got {type(history).__name__}"
            )
        results[i] = history
    return results  # type: ignore[return-value]


def _progress(items: Sequence[Any], progress: bool, desc: str) -> Iterable[Any]:
    if not progress or not items:
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
    :func:`train_ensemble` when the model allows it (MLPs, the tiny transformer; same numbers,
    several times faster) and one by one otherwise; ``True`` insists on batching, ``False``
    forbids it. ``return_histories=True`` returns ``(frame, histories)``, histories in seed order.
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
    histories = _histories([(run, seed) for seed in seeds], ensemble, progress)
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
    Conditions whose configs differ only in peak LR and schedule train together in one batched
    ensemble (with and without warmup: 10 runs at once for 5 seeds).
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
    ensemble = _check_ensemble(ensemble)
    check_bool("progress", progress)
    runs = [(run, seed) for run in conditions.values() for seed in seeds]
    histories = _histories(runs, ensemble, progress)
    n = len(seeds)
    frames = [
        histories_to_frame(histories[i * n : (i + 1) * n], condition=name, seeds=seeds)
        for i, name in enumerate(conditions)
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

    _check_frame(frame)
    rule = _check_success(success)
    early_steps = check_int("early_steps", early_steps, min_value=1)
    keys = _run_keys(frame)
    metric_columns = [c for c in frame.columns if c.startswith("val_")]
    # Stable: runs keep the order they were run in, steps are in order within each run.
    ordered = frame.sort_values("step", kind="stable")
    by_run = ordered.groupby(keys, sort=False, dropna=False)
    runs = by_run.agg(diverged=("diverged", "first"), steps_done=("step", "size"))
    runs["diverged"] = runs["diverged"].astype(bool)
    last_steps = by_run.tail(_LAST_STEPS_FOR_TRAIN_LOSS).groupby(keys, sort=False, dropna=False)
    runs["final_train_loss"] = last_steps["train_loss"].mean()
    for column in metric_columns:  # groupby's last() is the last non-missing value: an evaluation
        runs[f"final_{column}"] = by_run[column].last()
    early = ordered[ordered["step"] < early_steps].assign(
        train_loss=lambda f: f["train_loss"].fillna(np.inf)
    )
    runs["max_early_loss"] = early.groupby(keys, sort=False, dropna=False)["train_loss"].max()
    blown = runs["diverged"]
    runs.loc[blown, "final_train_loss"] = math.inf
    for column in metric_columns:
        runs.loc[blown, f"final_{column}"] = math.inf if "loss" in column else math.nan
    runs = runs.reset_index()
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
    metric_columns = [
        c for c in runs.columns if c.startswith("final_val_") and c != "final_val_loss"
    ]
    named: dict[str, tuple[str, str]] = {
        "n_seeds": ("success", "size"),
        "n_diverged": ("diverged", "sum"),
        "n_success": ("success", "sum"),
    }
    for column in ("final_val_loss", "final_train_loss"):
        if column in runs:
            for statistic in ("median", "min", "max"):
                named[f"{statistic}_{column}"] = (column, statistic)
    for column in metric_columns:  # NaN for diverged runs, so over the runs that trained
        named[f"median_{column}"] = (column, "median")
    named["median_max_early_loss"] = ("max_early_loss", "median")
    named["max_early_loss"] = ("max_early_loss", "max")
    # conditions stay in the order they were run
    table = runs.groupby(by, sort=False, dropna=False).agg(**named).reset_index()
    table = table.astype({"n_diverged": int, "n_success": int})
    table.insert(len(by) + 3, "success_rate", table["n_success"] / table["n_seeds"])
    return table


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
    """The warmup :func:`sweep` uses by default: ``LinearWarmup(warmup_steps)``, or ``None`` (no
    warmup factor at all) for ``warmup_steps == 0``."""
    warmup_steps = check_int("warmup_steps", warmup_steps)
    return None if warmup_steps == 0 else LinearWarmup(warmup_steps)


def _with_warmup(warmup: Schedule | None, base: Schedule | None) -> Schedule | None:
    """A grid cell's schedule: ``base`` multiplied by the warmup factor (either may be absent)."""
    if base is None or warmup is None:
        return warmup if base is None else base
    return with_warmup(base, warmup)


def sweep(
    peak_lrs: Iterable[float],
    warmup_steps_list: Iterable[int],
    seeds: Iterable[int],
    run: RunConfig | Callable[..., History],
    *,
    base: Schedule | None = None,
    warmup: Callable[[int], Schedule | None] = default_warmup,
    success: Any = None,
    early_steps: int = 100,
    ensemble: bool | str = "auto",
    progress: bool = False,
    return_runs: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Peak LR x warmup length x seeds: one row per (peak_lr, warmup_steps) with its seed statistics.

    Two pictures come from this table. Kalra & Barkeshli 2024 ("Why Warmup the Learning
    Rate?", arXiv 2406.09405) show warmup's main benefit as the stability frontier: with longer
    warmup, larger peak LRs still train (``success_rate``, :func:`max_stable_lr`,
    ``plot_stability_frontier``). The learning-rate sensitivity curve shows the final
    validation loss against the peak LR with and without warmup (``median_final_val_loss``,
    ``plot_lr_sensitivity``): how wide the window of LRs that work is.

    ``run`` is a :class:`RunConfig` — each cell trains ``run.replace(peak_lr=lr,
    schedule=...)`` for every seed, all cells at once in batched ensembles when the model
    allows it (:func:`train_ensemble`) — or a function called as ``run(peak_lr=...,
    warmup_steps=..., seed=...)`` returning a History. A cell's schedule is the same ``base``
    schedule with and without the warmup factor: ``warmup(w) * base`` for a warmup of ``w``
    steps and ``base`` itself for ``w == 0`` (``warmup`` defaults to :func:`default_warmup`,
    linear warmup; ``base=None`` means a constant LR, so a cell is just ``warmup(w)``).
    Multiplying rather than joining keeps the comparison fair: after the warmup both
    conditions follow exactly the same schedule, e.g. ``base=CosineDecay(steps)`` decays over
    the whole run in every cell.

    Columns: ``peak_lr, warmup_steps`` and the :func:`summarize_seeds` columns
    (``success_rate`` in [0, 1] by ``success``; ``median/min/max_final_val_loss``...).
    ``table.pivot(index="warmup_steps", columns="peak_lr", values="success_rate")`` is the
    grid. ``return_runs=True`` returns ``(table, per-step frame)`` with columns ``peak_lr,
    warmup_steps, seed, step, ...``; :func:`summarize_runs` of it has one row per run (for the
    per-seed dots of ``plot_lr_sensitivity``).
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
    if base is not None and not isinstance(base, Schedule):
        raise TypeError(
            f"base must be a warmup_lib Schedule such as CosineDecay(300), or None for a constant "
            f"LR; got {type(base).__name__}"
        )
    if not callable(warmup):
        raise TypeError(
            f"warmup must be a function warmup_steps -> Schedule or None, got {type(warmup).__name__}"
        )
    rule = _check_success(success)
    early_steps = check_int("early_steps", early_steps, min_value=1)
    ensemble = _check_ensemble(ensemble)
    check_bool("progress", progress)
    check_bool("return_runs", return_runs)
    if not isinstance(run, RunConfig) and base is not None:
        raise ValueError(
            "base applies to a RunConfig; a function run(peak_lr, warmup_steps, seed) builds "
            "its own schedule"
        )
    cells = [(lr, w) for w in warmups for lr in peak_lrs]
    if isinstance(run, RunConfig):
        schedules = {}
        for w in warmups:
            factor = warmup(w)
            if factor is not None and not isinstance(factor, Schedule):
                raise TypeError(
                    f"warmup({w}) must return a warmup_lib Schedule or None, got {type(factor).__name__}"
                )
            schedules[w] = _with_warmup(factor, base)
        configs = {(lr, w): run.replace(peak_lr=lr, schedule=schedules[w]) for lr, w in cells}
        members: list[tuple[Any, int]] = [(configs[cell], seed) for cell in cells for seed in seeds]
    else:
        if ensemble is True:
            raise ValueError(
                "ensemble=True needs a RunConfig; a function runs its seeds sequentially"
            )

        def cell_run(lr: float, w: int) -> Callable[[int], History]:
            def one(seed: int) -> History:
                history = run(peak_lr=lr, warmup_steps=w, seed=seed)
                if not isinstance(history, History):
                    raise TypeError(
                        f"run(peak_lr={lr}, warmup_steps={w}, seed={seed}) must return a History, "
                        f"got {type(history).__name__}"
                    )
                return history

            return one

        members = [(cell_run(lr, w), seed) for lr, w in cells for seed in seeds]
    histories = _histories(members, ensemble, progress)
    n = len(seeds)
    frames = [
        histories_to_frame(histories[i * n : (i + 1) * n], seeds=seeds, peak_lr=lr, warmup_steps=w)
        for i, (lr, w) in enumerate(cells)
    ]
    frame = pd.concat(frames, ignore_index=True)
    runs = summarize_runs(frame, success=rule, early_steps=early_steps)
    table = _aggregate(runs, ["peak_lr", "warmup_steps"])
    table = table.sort_values(["warmup_steps", "peak_lr"], ignore_index=True)
    return (table, frame) if return_runs else table


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
