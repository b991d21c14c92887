"""warmup_lib: learning-rate warmup schedules and the experiment engine behind the notebook series."""

from .builders import (
    get_constant_schedule,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_cosine_with_hard_restarts_schedule_with_warmup,
    get_cosine_with_min_lr_schedule_with_warmup,
    get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    get_inverse_sqrt_schedule,
    get_linear_schedule_with_warmup,
    get_polynomial_decay_schedule_with_warmup,
    get_scheduler,
    get_wsd_schedule,
)
from .schedules import (
    WARMUP_SHAPES,
    Constant,
    ConstantWarmup,
    CosineDecay,
    CosineRestartsDecay,
    CosineWarmup,
    ExponentialDecay,
    ExponentialWarmup,
    InverseSqrtDecay,
    Joined,
    LinearDecay,
    LinearWarmup,
    OneCycle,
    OneMinusSqrtDecay,
    OneMinusSqrtWarmup,
    PolynomialDecay,
    Product,
    SaturatingWarmup,
    Schedule,
    ScheduleWarning,
    StepDecay,
    join,
    noam_peak_lr,
    radam_rectification,
    schedule_from_dict,
    steps_that_differ,
    untuned_warmup,
    untuned_warmup_steps,
    warmup_then,
    with_warmup,
    wsd,
)
from .torch_adapter import ScheduleLR, record_lrs

__version__ = "0.1.0"

# The engine's modules load on first use (``wl.training``, ``wl.plotting`` ...): importing the
# package stays cheap, and ``python -m warmup_lib.data`` does not import itself twice.
_SUBMODULES = (
    "builders", "compat", "data", "diagnostics", "exercises", "experiments", "losses", "metrics",
    "models", "plotting", "runtime", "schedules", "series", "step_counting", "torch_adapter",
    "training", "uv_model", "widgets",
)
_LAZY_NAMES = {"train": "training", "History": "training"}


def __getattr__(name: str):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'warmup_lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES) | set(_LAZY_NAMES))

__all__ = [
    "History",
    "train",
    "WARMUP_SHAPES",
    "Constant",
    "ConstantWarmup",
    "CosineDecay",
    "CosineRestartsDecay",
    "CosineWarmup",
    "ExponentialDecay",
    "ExponentialWarmup",
    "InverseSqrtDecay",
    "Joined",
    "LinearDecay",
    "LinearWarmup",
    "OneCycle",
    "OneMinusSqrtDecay",
    "OneMinusSqrtWarmup",
    "PolynomialDecay",
    "Product",
    "SaturatingWarmup",
    "Schedule",
    "ScheduleLR",
    "ScheduleWarning",
    "StepDecay",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_inverse_sqrt_schedule",
    "get_linear_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_scheduler",
    "get_wsd_schedule",
    "join",
    "noam_peak_lr",
    "radam_rectification",
    "record_lrs",
    "schedule_from_dict",
    "steps_that_differ",
    "untuned_warmup",
    "untuned_warmup_steps",
    "warmup_then",
    "with_warmup",
    "wsd",
]
