"""Checks for notebook 01's exercises (why warm up: Adam's first step, the example schedule,
the warmup length on the u·v model, untuned warmup, and a fair with/without comparison)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import uv_model
from ..schedules import Constant, CosineDecay, LinearWarmup, steps_that_differ, warmup_then
from .checking import (
    Incorrect,
    exercise,
    expect_close,
    expect_equal,
    fmt,
    integer,
    number,
    numbers_array,
    schedule_values,
)

ADAM_LR, ADAM_EPS = 0.01, 1e-8
ADAM_GRADIENT = np.array([0.5, -0.002, 3e-7])

# The u·v picture of notebook 01 (its UV_* constants and uv_starts).
UV_PEAK_LR, UV_STEPS, UV_NOISE = 0.7, 160, 0.01
UV_STARTS = ((2.6, 0.15), (2.8, -0.1), (3.0, 0.05), (2.7, 0.3), (2.9, -0.25))
UV_WARMUPS = (10, 20, 40, 80)


@exercise(
    "01.1",
    hint=(
        "Adam's first update is -lr * m / (sqrt(v) + eps) with m = g and v = g**2 after bias "
        "correction, i.e. -lr * g / (|g| + eps). Compare each gradient with eps = 1e-8."
    ),
    solution="""\
ex1_lr, ex1_eps = 0.01, 1e-8
ex1_grad = torch.tensor([0.5, -0.002, 3e-7], dtype=torch.float64)
ex1_by_hand = -ex1_lr * ex1_grad / (ex1_grad.abs() + ex1_eps)

ex1_weights = torch.zeros(3, dtype=torch.float64, requires_grad=True)
ex1_adam = torch.optim.Adam([ex1_weights], lr=ex1_lr, eps=ex1_eps)
(ex1_grad * ex1_weights).sum().backward()  # a loss whose gradient is exactly ex1_grad
ex1_adam.step()
print("by hand:", ex1_by_hand.tolist())
print("Adam:   ", ex1_weights.detach().tolist())
assert torch.allclose(ex1_by_hand, ex1_weights.detach()), "the formula should match torch's Adam"
# The third weight: its gradient (3e-7) is only 30x eps, so g / (|g| + eps) = 0.968, not 1.
# eps matters only for gradients within a few orders of magnitude of it.
ex1_odd_weight = 2
ex["01.1"].check(ex1_by_hand, ex1_odd_weight)""",
)
def adams_first_update(update_by_hand, odd_weight):
    got = numbers_array("update_by_hand", update_by_hand, length=3)
    expected = -ADAM_LR * ADAM_GRADIENT / (np.abs(ADAM_GRADIENT) + ADAM_EPS)
    for i, (mine, right) in enumerate(zip(got, expected, strict=True)):
        if np.sign(mine) != np.sign(right) and mine != 0:
            raise Incorrect(
                f"`update_by_hand[{i}]` is {fmt(mine)}: the update goes against the gradient, "
                f"so its sign is the opposite of g[{i}] = {fmt(ADAM_GRADIENT[i])}"
            )
        expect_close(f"update_by_hand[{i}]", mine, right, rel=1e-3)
    odd = integer("odd_weight", odd_weight)
    if odd not in (0, 1, 2):
        raise Incorrect(f"`odd_weight` is an index into the three weights: 0, 1 or 2, got {odd}")
    expect_equal("odd_weight", odd, 2)
    return (
        f"Weight 2's update is {fmt(expected[2])}, only {fmt(expected[2] / -ADAM_LR)} x lr: "
        "its gradient is just 30 times eps."
    )


@exercise(
    "01.2",
    hint="From 1e-4 the LR gains a factor 10 every 100 steps: at step 150 that is 10 ** 1.5.",
    solution="""\
ex2_by_hand = 1e-4 * 10 ** (150 / 100)  # 1.5 decades above 1e-4
ex2_schedule = user_peak_lr * user_schedule(150)
print(f"by hand {ex2_by_hand:.5f}, schedule {ex2_schedule:.5f}")  # 0.00316 = 0.1 / 10**1.5
assert math.isclose(ex2_by_hand, ex2_schedule, rel_tol=1e-9)
ex["01.2"].check(ex2_by_hand)""",
)
def lr_at_step_150(lr_at_150):
    got = number("lr_at_150", lr_at_150)
    expected = 1e-4 * 10**1.5
    if np.isclose(got, 1e-4 + 150 / 300 * (0.1 - 1e-4), rtol=1e-3):
        raise Incorrect(
            f"`lr_at_150` is {fmt(got)}, halfway on a *linear* ramp; this warmup is "
            "exponential (x10 every 100 steps)"
        )
    expect_close("lr_at_150", got, expected, rel=2e-3)
    return f"{fmt(expected)} = 0.1 / 10**1.5."


def _lands_on_flat_floor(run) -> bool:
    end = run.iloc[-1]
    return bool(
        not run["diverged"].iloc[0] and end["loss"] < 0.01 and end["sharpness"] < 2 / UV_PEAK_LR
    )


def uv_home_counts() -> dict[int, int]:
    """For each warmup length of :data:`UV_WARMUPS`: how many of the five starts end on the flat floor."""
    counts = {}
    for warmup in UV_WARMUPS:
        lrs = UV_PEAK_LR * (LinearWarmup(warmup) * Constant()).curve(np.arange(UV_STEPS))
        runs = [
            uv_model.descend(start, lrs, noise=UV_NOISE, seed=i)
            for i, start in enumerate(UV_STARTS)
        ]
        counts[warmup] = int(sum(_lands_on_flat_floor(run) for run in runs))
    return counts


@exercise(
    "01.3",
    hint=(
        "Reuse the picture's code: UV_PEAK_LR * (wl.LinearWarmup(w) * wl.Constant()).curve("
        "np.arange(UV_STEPS)) gives the learning rates, uv_model.descend(start, lrs, noise=0.01, "
        "seed=i) runs start i. A run lands when it did not diverge and its last row has loss < 0.01 "
        "and sharpness < 2 / UV_PEAK_LR."
    ),
    solution="""\
def ex3_lands_on_flat_floor(run):
    end = run.iloc[-1]
    return not run["diverged"].iloc[0] and end["loss"] < 0.01 and end["sharpness"] < 2 / UV_PEAK_LR


ex3_landed = {}
for ex3_warmup in (10, 20, 40, 80):
    ex3_lrs = UV_PEAK_LR * (wl.LinearWarmup(ex3_warmup) * wl.Constant()).curve(np.arange(UV_STEPS))
    ex3_runs = [uv_model.descend(start, ex3_lrs, noise=0.01, seed=i) for i, start in enumerate(uv_starts)]
    ex3_landed[ex3_warmup] = int(sum(ex3_lands_on_flat_floor(run) for run in ex3_runs))
print(f"starts that land, by warmup length: {ex3_landed}")
ex3_shortest = min(w for w, landed in ex3_landed.items() if landed == len(uv_starts))
# Too short a warmup raises the LR faster than the bounces can carry the weights to the flat part
# of the valley: lr x sharpness grows too large while they are still on a sharp part, and they fly off.
ex["01.3"].check(ex3_landed, ex3_shortest)""",
)
def uv_warmup_length(landed, shortest):
    if not isinstance(landed, Mapping):
        raise Incorrect(
            "`landed` should be a dict {warmup steps: number of starts that end on the flat "
            f"floor}}, got a {type(landed).__name__}"
        )
    expected = uv_home_counts()
    mine = {
        integer(f"landed key {k!r}", k): integer(f"landed[{k!r}]", v) for k, v in landed.items()
    }
    missing = [w for w in UV_WARMUPS if w not in mine]
    if missing:
        raise Incorrect(
            f"`landed` has no entry for warmup length(s) {missing}; count all of {list(UV_WARMUPS)}"
        )
    for warmup in UV_WARMUPS:
        if mine[warmup] != expected[warmup]:
            hint = ""
            if mine[warmup] == len(UV_STARTS) - expected[warmup]:
                hint = " (that is the number that did *not* land)"
            raise Incorrect(
                f"`landed[{warmup}]` is {mine[warmup]}, expected {expected[warmup]} of "
                f"{len(UV_STARTS)}{hint}"
            )
    right = min(w for w in UV_WARMUPS if expected[w] == len(UV_STARTS))
    expect_equal("shortest", integer("shortest", shortest), right)
    return (
        f"{right} steps is the shortest of {list(UV_WARMUPS)} that brings all five home; "
        f"{', '.join(f'{w} steps: {expected[w]}/5' for w in UV_WARMUPS if w < right)}."
    )


@exercise(
    "01.4",
    hint=(
        "wl.untuned_warmup_steps(beta2) gives the steps. For the trap, print 1 - 0.999 with "
        "repr(): is it exactly 0.001?"
    ),
    solution="""\
ex4_steps_0999 = wl.untuned_warmup_steps(0.999)
ex4_steps_098 = wl.untuned_warmup_steps(0.98)
ex4_naive = int(2 / (1 - 0.999))  # 1 - 0.999 is not exactly 0.001 in floating point
print(f"beta2 = 0.999: {ex4_steps_0999} warmup steps; beta2 = 0.98: {ex4_steps_098}")
print("naive int(2 / (1 - 0.999)) =", ex4_naive)
ex["01.4"].check(ex4_steps_0999, ex4_steps_098, ex4_naive)""",
)
def untuned_warmup_lengths(steps_0999, steps_098, naive):
    expect_equal("steps_0999", integer("steps_0999", steps_0999), 2000)
    expect_equal("steps_098", integer("steps_098", steps_098), 100)
    naive_value = integer("naive", naive)
    if naive_value == 2000:
        raise Incorrect(
            "`naive` is 2000, but Python's int(2 / (1 - 0.999)) gives 1999: compute it rather "
            "than on paper"
        )
    expect_equal("naive", naive_value, int(2 / (1 - 0.999)))
    return (
        "1 - 0.999 is a hair above 0.001, so the quotient is a hair below 2000 and int() drops it."
    )


FAIR_TOTAL, FAIR_WARMUP = 400, 50


@exercise(
    "01.5",
    hint=(
        "wl.steps_that_differ(a, b, 400) lists the steps where two schedules differ; len() counts "
        "them. The fair version multiplies the very same base: wl.LinearWarmup(50) * wl.CosineDecay(400)."
    ),
    solution="""\
ex5_base = wl.CosineDecay(400)
ex5_unfair = wl.warmup_then(wl.LinearWarmup(50), wl.CosineDecay(350))
ex5_unfair_steps = len(wl.steps_that_differ(ex5_base, ex5_unfair, 400))
ex5_fair_schedule = wl.LinearWarmup(50) * ex5_base
ex5_fair_steps = len(wl.steps_that_differ(ex5_base, ex5_fair_schedule, 400))
print(f"colleague's pair: {ex5_unfair_steps} of 400 steps differ; fair pair: {ex5_fair_steps}")
print(f"at step 60: base {ex5_base(60):.3f}, colleague's warmup run {ex5_unfair(60):.3f}, fair {ex5_fair_schedule(60):.3f}")
ex["01.5"].check(ex5_unfair_steps, ex5_fair_schedule, ex5_fair_steps)""",
)
def fair_comparison(unfair_steps, fair_schedule, fair_steps):
    base = CosineDecay(FAIR_TOTAL)
    unfair = warmup_then(LinearWarmup(FAIR_WARMUP), CosineDecay(FAIR_TOTAL - FAIR_WARMUP))
    differ = len(steps_that_differ(base, unfair, FAIR_TOTAL))
    expect_equal("unfair_steps", integer("unfair_steps", unfair_steps), differ)
    steps = np.arange(FAIR_TOTAL)
    got = schedule_values("fair_schedule", fair_schedule, steps)
    expected = (LinearWarmup(FAIR_WARMUP) * base).curve(steps)
    wrong = np.flatnonzero(~np.isclose(got, expected, rtol=1e-9, atol=1e-12))
    if wrong.size:
        # A changed base shows after the warmup, where the fair schedule must equal it: say so first.
        after = wrong[wrong >= FAIR_WARMUP]
        k = int(after[0] if after.size else wrong[0])
        where = (
            "during the warmup"
            if k < FAIR_WARMUP
            else "after the warmup, where it should equal CosineDecay(400) itself"
        )
        raise Incorrect(
            f"`fair_schedule` differs from CosineDecay(400) with a 50-step linear warmup on top at "
            f"{wrong.size} steps, e.g. step {k} ({where}): {fmt(got[k])} instead of "
            f"{fmt(expected[k])}"
        )
    expect_equal("fair_steps", integer("fair_steps", fair_steps), FAIR_WARMUP)
    return (
        f"The colleague's runs differ at all {differ} steps, so a difference in results could come "
        f"from the decay; the fair pair differs only at the {FAIR_WARMUP} warmup steps."
    )
