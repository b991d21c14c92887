"""Write warmup_lib/compat/reference_schedules.json: learning rates computed by the real packages.

The tests compare warmup_lib's transformers-named builders, ``get_scheduler``, and
``warmup_lib.compat.pytorch_warmup`` with these numbers (to 1e-12). The numbers come from the
``transformers`` and ``pytorch-warmup`` packages themselves, which are not dependencies of this
project, so this script is not run in CI. It never imports warmup_lib. To re-run it (e.g. after a
new transformers release), from the repository root:

    python3.11 -m venv .venv-reference
    .venv-reference/bin/pip install torch==2.13.0
    .venv-reference/bin/pip install transformers pytorch-warmup
    .venv-reference/bin/python tools/make_reference_fixtures.py

The fixture records the versions it was made with. Every case is a call as a user would write
it; a case transformers rejects records the exception type, and one that crashes during
training records the step and the exception type.
"""

from __future__ import annotations

import json
import math
import warnings
from importlib.metadata import version
from pathlib import Path

import pytorch_warmup
import torch
import transformers.optimization as T
from torch.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, StepLR

OUT = Path(__file__).resolve().parent.parent / "warmup_lib" / "compat" / "reference_schedules.json"


# ---- values that JSON cannot hold directly ---------------------------------------------------


def tensor(value, dtype="float64"):
    """A JSON stand-in for torch.tensor(value, dtype=dtype), decoded by decode()."""
    return {"tensor": value, "dtype": dtype}


def decode(value):
    if isinstance(value, dict) and "tensor" in value:
        return torch.tensor(value["tensor"], dtype=getattr(torch, value["dtype"]))
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    return value


def plain(value):
    """State-dict values as JSON: tensors become numbers (the tests compare numbers)."""
    if isinstance(value, torch.Tensor):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def make_optimizer(spec):
    """An optimizer from {"kind", "lr", "group_lrs", "betas"}: one parameter per group.

    A tensor LR is given to each group as its own tensor (distinct from optimizer.defaults['lr']),
    as a user passing tensors per group would; see the polynomial builder's docstring for why.
    """
    kind = getattr(torch.optim, spec.get("kind", "SGD"))
    group_lrs = spec.get("group_lrs", [spec["lr"]])
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": decode(lr)} for lr in group_lrs]
    kwargs = {"lr": decode(spec["lr"])}
    if "betas" in spec:
        kwargs["betas"] = tuple(spec["betas"])
    if "group_betas" in spec:
        for group, betas in zip(groups, spec["group_betas"], strict=True):
            group["betas"] = tuple(betas)
    return kind(groups, **kwargs)


def lrs_of(optimizer):
    return [float(group["lr"]) for group in optimizer.param_groups]


def run_scheduler(scheduler, optimizer, steps):
    """LRs used by each of `steps` updates; stops at the first exception (recorded)."""
    lrs = []
    for step in range(steps):
        lrs.append(lrs_of(optimizer))
        optimizer.step()
        try:
            scheduler.step()
        except Exception as error:  # transformers crashes mid-run on some inputs
            return {"lrs": lrs, "error": type(error).__name__, "error_at_step": step + 1}
    return {"lrs": lrs}


# ---- transformers -------------------------------------------------------------------------

SGD = {"lr": 0.5}
TENSOR_LR = {"lr": tensor(0.5)}
TWO_GROUPS = {"lr": 0.1, "group_lrs": [0.1, 0.01], "kind": "AdamW"}

TRANSFORMERS_CASES = [
    ("get_constant_schedule", {}, SGD, 4),
    ("get_constant_schedule", {}, TENSOR_LR, 4),
]
for w in (0, 1, 4, 2.5, 0.5, tensor(3, "int64")):
    TRANSFORMERS_CASES.append(("get_constant_schedule_with_warmup", {"num_warmup_steps": w}, SGD, 8))
TRANSFORMERS_CASES.append(("get_constant_schedule_with_warmup", {"num_warmup_steps": 3}, TENSOR_LR, 6))

LENGTHS = [(0, 10), (1, 10), (2, 10), (10, 10), (14, 10), (0, 0), (3, 0), (2.5, 10), (0.5, 10), (2, 10.5),
           (tensor(2, "int64"), tensor(10, "int64")), (tensor(2.5), 10)]
for w, t in LENGTHS:
    TRANSFORMERS_CASES.append(("get_linear_schedule_with_warmup", {"num_warmup_steps": w, "num_training_steps": t}, SGD, 18))
    TRANSFORMERS_CASES.append(("get_cosine_schedule_with_warmup", {"num_warmup_steps": w, "num_training_steps": t}, SGD, 18))
for c in (1.0, 1.5, 0, -0.5, -1.5, tensor(2.0)):
    TRANSFORMERS_CASES.append(("get_cosine_schedule_with_warmup", {"num_warmup_steps": 2, "num_training_steps": 12, "num_cycles": c}, SGD, 16))
for w, t, c in [(2, 12, 1), (2, 12, 2), (2, 12, 3), (2, 12, 0.5), (2, 12, 1.5), (2, 12, 0), (2, 12, -1), (10, 10, 1),
                (15, 10, 2), (0, 0, 1), (2.5, 11.5, 2)]:
    TRANSFORMERS_CASES.append(("get_cosine_with_hard_restarts_schedule_with_warmup",
                               {"num_warmup_steps": w, "num_training_steps": t, "num_cycles": c}, SGD, 18))
for w, t, extra in [(2, 10, {}), (2, 10, {"lr_end": 1e-4, "power": 2.0}), (2, 10, {"lr_end": 0.01, "power": 0.5}),
                    (2, 10, {"lr_end": 1e-4, "power": 0.0}), (0, 10, {"power": 3.0}), (8, 5, {}), (2, 10, {"lr_end": -0.05}),
                    (5, 5, {"lr_end": 1e-3}), (2.5, 10.5, {"power": 3.0}), (2, 10, {"lr_end": 0.5}), (2, 10, {"lr_end": 0.7}),
                    (2, 10, {"power": -1.0}), (0, 0, {})]:
    TRANSFORMERS_CASES.append(("get_polynomial_decay_schedule_with_warmup",
                               {"num_warmup_steps": w, "num_training_steps": t, **extra}, SGD, 14))
for w, extra in [(0, {}), (2, {}), (2, {"timescale": 7}), (2.5, {}), (0.5, {}), (3, {"timescale": 2.5}), (4, {"timescale": 0})]:
    TRANSFORMERS_CASES.append(("get_inverse_sqrt_schedule", {"num_warmup_steps": w, **extra}, SGD, 12))
for extra in [{"min_lr_rate": 0.1}, {"min_lr_rate": 0.0}, {"min_lr": 0.05}, {"min_lr_rate": 1.5}, {"min_lr_rate": -0.1},
              {"min_lr_rate": 0.1, "num_cycles": 1.0}, {"min_lr": 0.05, "min_lr_rate": 0.1}, {}]:
    TRANSFORMERS_CASES.append(("get_cosine_with_min_lr_schedule_with_warmup",
                               {"num_warmup_steps": 2, "num_training_steps": 12, **extra}, SGD, 15))
for w, t in [(0, 0), (12, 10), (2.5, 10.5)]:
    TRANSFORMERS_CASES.append(("get_cosine_with_min_lr_schedule_with_warmup",
                               {"num_warmup_steps": w, "num_training_steps": t, "min_lr_rate": 0.1}, SGD, 15))
for w, extra in [(3, {}), (3, {"warmup_lr_rate": 0.2}), (3, {"warmup_lr_rate": 0.0}), (0, {}), (1, {}), (1, {"warmup_lr_rate": 0.2}),
                 (2.5, {}), (2.5, {"warmup_lr_rate": 0.2}), (12, {}), (3, {"num_cycles": 1.0, "min_lr": 0.02})]:
    args = {"num_warmup_steps": w, "num_training_steps": 10, "min_lr_rate": 0.1, **extra}
    if "min_lr" in extra:
        del args["min_lr_rate"]
    TRANSFORMERS_CASES.append(("get_cosine_with_min_lr_schedule_with_warmup_lr_rate", args, SGD, 14))
TRANSFORMERS_CASES.append(("get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
                           {"num_warmup_steps": 3, "num_training_steps": 10}, SGD, 4))
for w, d, extra in [(2, 3, {"num_training_steps": 10}), (0, 3, {"num_training_steps": 8}), (5, 6, {"num_training_steps": 10}),
                    (3, 2, {"num_stable_steps": 4}), (2, 2, {"num_training_steps": 10, "num_stable_steps": 3}),
                    (2, 0, {"num_training_steps": 6}), (2.5, 3, {"num_training_steps": 10.5}), (2, 2, {}),
                    (2, 2, {"num_training_steps": 8, "min_lr_ratio": 0.1, "num_cycles": 1.0}),
                    (2, 2, {"num_training_steps": 8, "min_lr_ratio": 1.5}), (2, 2, {"num_training_steps": 8, "warmup_type": "exp"}),
                    (2, 2, {"num_training_steps": 8, "decay_type": "step"}), (9, 4, {"num_training_steps": 10}),
                    (tensor(2, "int64"), tensor(3, "int64"), {"num_training_steps": tensor(10, "int64")})]:
    TRANSFORMERS_CASES.append(("get_wsd_schedule", {"num_warmup_steps": w, "num_decay_steps": d, **extra}, SGD, 14))
for wt in ("linear", "cosine", "1-sqrt"):
    for dt in ("linear", "cosine", "1-sqrt"):
        TRANSFORMERS_CASES.append(("get_wsd_schedule", {"num_warmup_steps": 4, "num_decay_steps": 5, "num_training_steps": 12,
                                                        "warmup_type": wt, "decay_type": dt, "min_lr_ratio": 0.05}, SGD, 14))
# Tensor learning rates and several parameter groups, in every builder.
EVERY_BUILDER = [
    ("get_constant_schedule_with_warmup", {"num_warmup_steps": 3}),
    ("get_linear_schedule_with_warmup", {"num_warmup_steps": 2, "num_training_steps": 10}),
    ("get_cosine_schedule_with_warmup", {"num_warmup_steps": 2, "num_training_steps": 10}),
    ("get_cosine_with_hard_restarts_schedule_with_warmup", {"num_warmup_steps": 2, "num_training_steps": 10, "num_cycles": 2}),
    ("get_polynomial_decay_schedule_with_warmup", {"num_warmup_steps": 2, "num_training_steps": 10, "lr_end": 1e-3, "power": 2.0}),
    ("get_inverse_sqrt_schedule", {"num_warmup_steps": 2}),
    ("get_cosine_with_min_lr_schedule_with_warmup", {"num_warmup_steps": 2, "num_training_steps": 10, "min_lr": 0.05}),
    ("get_cosine_with_min_lr_schedule_with_warmup_lr_rate", {"num_warmup_steps": 2, "num_training_steps": 10, "min_lr": 0.05}),
    ("get_wsd_schedule", {"num_warmup_steps": 2, "num_decay_steps": 3, "num_training_steps": 10, "min_lr_ratio": 0.1}),
]
for builder, args in EVERY_BUILDER:
    TRANSFORMERS_CASES.append((builder, args, TENSOR_LR, 12))
    TRANSFORMERS_CASES.append((builder, args, TWO_GROUPS, 12))

GET_SCHEDULER_CASES = [
    {"name": "linear", "num_warmup_steps": 2, "num_training_steps": 10},
    {"name": "cosine", "num_warmup_steps": 2, "num_training_steps": 10},
    {"name": "cosine", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": {"num_cycles": 1.5}},
    {"name": "cosine_with_restarts", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": {"num_cycles": 1.5}},
    {"name": "polynomial", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": {"power": 2.0, "lr_end": 1e-3}},
    {"name": "constant"},
    {"name": "constant", "num_warmup_steps": 0, "num_training_steps": 10},
    {"name": "constant_with_warmup", "num_warmup_steps": 3},
    {"name": "constant_with_warmup", "num_warmup_steps": 3, "num_training_steps": 10},
    {"name": "inverse_sqrt", "num_warmup_steps": 2},
    {"name": "inverse_sqrt", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": {"timescale": 5}},
    {"name": "reduce_lr_on_plateau", "scheduler_specific_kwargs": {"factor": 0.5, "patience": 1}},
    {"name": "cosine_with_min_lr", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": {"min_lr_rate": 0.1}},
    {"name": "cosine_warmup_with_min_lr", "num_warmup_steps": 2, "num_training_steps": 10,
     "scheduler_specific_kwargs": {"min_lr_rate": 0.1, "warmup_lr_rate": 0.3}},
    {"name": "warmup_stable_decay", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": {"num_decay_steps": 3}},
    {"name": "warmup_stable_decay", "num_warmup_steps": 2, "scheduler_specific_kwargs": {"num_decay_steps": 3, "num_stable_steps": 4}},
    # transformers' errors
    {"name": "no_such_schedule", "num_warmup_steps": 2, "num_training_steps": 10},
    {"name": "linear", "num_training_steps": 10},
    {"name": "linear", "num_warmup_steps": 2},
    {"name": "cosine_with_min_lr", "num_warmup_steps": 2},
    {"name": "inverse_sqrt"},
    {"name": "warmup_stable_decay", "num_warmup_steps": 2, "scheduler_specific_kwargs": {"num_decay_steps": 3}},
    {"name": "cosine", "num_warmup_steps": 2, "num_training_steps": 10, "scheduler_specific_kwargs": {"num_cycle": 1}},
    {"name": "cosine_with_min_lr", "num_warmup_steps": 2, "num_training_steps": 10},
]


def transformers_case(builder, args, optimizer_spec, steps):
    record = {"builder": builder, "args": args, "optimizer": optimizer_spec, "steps": steps}
    optimizer = make_optimizer(optimizer_spec)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scheduler = getattr(T, builder)(optimizer, **decode(args))
    except Exception as error:
        record["error"] = type(error).__name__
        return record
    record.update(run_scheduler(scheduler, optimizer, steps))
    return record


def get_scheduler_case(args):
    record = {"args": args, "optimizer": SGD, "steps": 12}
    optimizer = make_optimizer(SGD)
    try:
        scheduler = T.get_scheduler(optimizer=optimizer, **decode(args))
    except Exception as error:
        record["error"] = type(error).__name__
        return record
    record["type"] = type(scheduler).__name__
    if isinstance(scheduler, LambdaLR):
        record.update(run_scheduler(scheduler, optimizer, 12))
    return record


def lambdalr_checkpoint():
    """A transformers scheduler saved mid-run, and the LRs after resuming it."""
    args = {"num_warmup_steps": 3, "num_training_steps": 20}
    optimizer = make_optimizer(TWO_GROUPS)
    scheduler = T.get_cosine_schedule_with_warmup(optimizer, **args)
    run_scheduler(scheduler, optimizer, 7)
    state = plain(scheduler.state_dict())
    return {"builder": "get_cosine_schedule_with_warmup", "args": args, "optimizer": TWO_GROUPS,
            "state_dict": state, "optimizer_lrs": lrs_of(optimizer), "lrs_after": run_scheduler(scheduler, optimizer, 10)["lrs"]}


# ---- pytorch_warmup ------------------------------------------------------------------------

TWO_SGD_GROUPS = {"lr": 0.5, "group_lrs": [0.5, 0.1]}
ADAM = {"kind": "Adam", "lr": 0.5, "group_lrs": [0.5, 0.1], "betas": [0.9, 0.999]}
ADAM_07 = {"kind": "AdamW", "lr": 0.5, "group_lrs": [0.5, 0.1], "betas": [0.9, 0.7]}
ADAM_MIXED = {"kind": "Adam", "lr": 0.5, "group_lrs": [0.5, 0.1], "group_betas": [[0.9, 0.99], [0.9, 0.98]]}

BASES = {
    "none": lambda opt: [],
    "constant": lambda opt: [LambdaLR(opt, lambda step: 1.0)],
    "exponential+step": lambda opt: [ExponentialLR(opt, gamma=0.9), StepLR(opt, step_size=3, gamma=0.1)],
    "cosine": lambda opt: [CosineAnnealingLR(opt, T_max=20)],
}

WARMUP_CASES = [
    ("LinearWarmup", {"warmup_period": 5}, TWO_SGD_GROUPS, "constant", 12),
    ("LinearWarmup", {"warmup_period": [3, 7]}, TWO_SGD_GROUPS, "constant", 12),
    ("LinearWarmup", {"warmup_period": 1}, TWO_SGD_GROUPS, "constant", 4),
    ("LinearWarmup", {"warmup_period": 5}, TWO_SGD_GROUPS, "exponential+step", 12),
    ("LinearWarmup", {"warmup_period": 5}, TWO_SGD_GROUPS, "none", 10),
    ("LinearWarmup", {"warmup_period": 6, "last_step": 2}, TWO_SGD_GROUPS, "constant", 8),
    ("ExponentialWarmup", {"warmup_period": 5}, TWO_SGD_GROUPS, "constant", 12),
    ("ExponentialWarmup", {"warmup_period": [2, 9]}, TWO_SGD_GROUPS, "cosine", 25),
    ("ExponentialWarmup", {"warmup_period": 4}, TWO_SGD_GROUPS, "exponential+step", 12),
    ("UntunedLinearWarmup", {}, ADAM, "constant", 12),
    ("UntunedLinearWarmup", {}, ADAM_07, "constant", 10),
    ("UntunedLinearWarmup", {}, ADAM_MIXED, "cosine", 12),
    ("UntunedExponentialWarmup", {}, ADAM, "constant", 12),
    ("UntunedExponentialWarmup", {}, ADAM_07, "exponential+step", 10),
    ("UntunedExponentialWarmup", {}, ADAM_MIXED, "constant", 12),
    ("RAdamWarmup", {}, ADAM, "constant", 12),
    ("RAdamWarmup", {}, ADAM_07, "constant", 10),
    ("RAdamWarmup", {}, ADAM_MIXED, "cosine", 12),
    ("RAdamWarmup", {}, {"kind": "Adam", "lr": 0.5, "betas": [0.9, 0.61]}, "constant", 6),
    ("RAdamWarmup", {}, {"kind": "Adam", "lr": 0.5, "betas": [0.9, 0.6]}, "constant", 6),
    ("LinearWarmup", {"warmup_period": [5]}, TWO_SGD_GROUPS, "constant", 2),
    ("LinearWarmup", {"warmup_period": [5, 0]}, TWO_SGD_GROUPS, "constant", 2),
    ("LinearWarmup", {"warmup_period": 5.0}, TWO_SGD_GROUPS, "constant", 2),
]


def warmup_case(name, args, optimizer_spec, base, steps):
    record = {"class": name, "args": args, "optimizer": optimizer_spec, "base": base, "steps": steps}
    optimizer = make_optimizer(optimizer_spec)
    schedulers = BASES[base](optimizer)
    try:
        warmup = getattr(pytorch_warmup, name)(optimizer, **args)
    except Exception as error:
        record["error"] = type(error).__name__
        record["message"] = str(error)
        return record
    lrs = []
    for _ in range(steps):
        lrs.append(lrs_of(optimizer))
        optimizer.step()
        with warmup.dampening():
            for scheduler in schedulers:
                scheduler.step()
    record["lrs"] = lrs
    record["state_dict"] = plain(warmup.state_dict())
    record["factors"] = [
        [warmup.warmup_factor(step, **params) for params in warmup.warmup_params] for step in range(steps)
    ]
    return record


def main() -> None:
    torch.set_default_dtype(torch.float64)  # parameters only; LRs are Python floats or float64 tensors
    fixture = {
        "generated_by": "tools/make_reference_fixtures.py",
        "versions": {name: version(name) for name in ("transformers", "pytorch-warmup", "torch")},
        "transformers": [transformers_case(*case) for case in TRANSFORMERS_CASES],
        "get_scheduler": [get_scheduler_case(args) for args in GET_SCHEDULER_CASES],
        "lambdalr_checkpoint": lambdalr_checkpoint(),
        "pytorch_warmup": [warmup_case(*case) for case in WARMUP_CASES],
        "radam_offsets": {str(b2): pytorch_warmup.get_offset(b2, pytorch_warmup.rho_inf_fn(b2)) for b2 in (0.61, 0.7, 0.9, 0.98, 0.999, 0.9999)},
    }
    text = json.dumps(fixture, indent=None, separators=(",", ":"), allow_nan=False)
    assert all(math.isfinite(x) for case in fixture["transformers"] for row in case.get("lrs", []) for x in row)
    OUT.write_text(text + "\n")
    print(f"wrote {OUT.relative_to(OUT.parent.parent.parent)}: {len(text) / 1024:.0f} KiB, "
          f"{len(fixture['transformers'])} builder cases, {len(fixture['get_scheduler'])} get_scheduler cases, "
          f"{len(fixture['pytorch_warmup'])} pytorch_warmup cases")


if __name__ == "__main__":
    main()
