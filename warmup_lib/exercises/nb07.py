"""Checks for notebook 07's exercises (the schedule zoo: floats in the untuned rule, step conventions, shapes)."""

from __future__ import annotations

import numpy as np

from .checking import (
    Incorrect,
    exercise,
    expect_close,
    expect_curve,
    expect_equal,
    fmt,
    integer,
    number,
    schedule_values,
)


@exercise(
    "07.1",
    hint="Print 1 - 0.999 with repr(): the nearest double to 0.999 is not exactly 0.999.",
    solution='''\
ex1_denominator = 1 - 0.999
ex1_quotient = 2 / ex1_denominator
print(f"1 - 0.999 = {ex1_denominator!r}, 2 / (1 - 0.999) = {ex1_quotient!r}, int(...) = {int(ex1_quotient)}")
# 0.999 has no exact binary representation; the nearest double is a hair below 0.999, so
# 1 - 0.999 is a hair above 0.001 and the quotient a hair below 2000. int() truncates towards
# zero -> 1999. untuned_warmup_steps rounds quotients that are within 1e-9 of an integer.
assert int(ex1_quotient) == 1999 and wl.untuned_warmup_steps(0.999) == 2000
ex["07.1"].check(ex1_denominator, int(ex1_quotient))''',
)
def floating_point_trap(denominator, truncated):
    got = number("denominator", denominator)
    if got == 0.001:
        raise Incorrect(
            "`denominator` is exactly 0.001, the value on paper; compute 1 - 0.999 in Python "
            "and print it with repr()"
        )
    expect_equal("denominator", got, 1 - 0.999)
    expect_equal("truncated", integer("truncated", truncated), int(2 / (1 - 0.999)))
    return f"1 - 0.999 = {1 - 0.999!r}: a hair above 0.001."


DAMPENING_PERIOD = 50


@exercise(
    "07.2",
    hint=(
        "The package gives update t the factor min(1, (t + 1) / 50): 1/50 at the first update. "
        "Which LinearWarmup(W, start=...) starts at 1/50 and reaches 1 one update earlier than 50?"
    ),
    solution='''\
ex2_period = 50
ex2_schedule = wl.LinearWarmup(ex2_period - 1, start=1 / ex2_period)
ex2_steps = np.arange(200)
ex2_package = np.minimum(1.0, (ex2_steps + 1) / ex2_period)   # the package's factor for update t
ex2_first_full = int(np.argmax(ex2_schedule.curve(ex2_steps) == 1.0))
print(f"largest difference from the package's factors: {np.max(np.abs(ex2_schedule.curve(ex2_steps) - ex2_package)):.1e}; "
      f"first update at the full LR: {ex2_first_full}")
ex["07.2"].check(ex2_schedule, ex2_first_full)''',
)
def dampening_convention(schedule, first_full):
    steps = np.arange(4 * DAMPENING_PERIOD)
    package = np.minimum(1.0, (steps + 1) / DAMPENING_PERIOD)
    got = schedule_values("schedule", schedule, steps)
    expect_curve(
        "schedule", got, package,
        what=f"the package's factors min(1, (t + 1) / {DAMPENING_PERIOD})",
        rtol=1e-9, atol=1e-12,
        hint=lambda k: (
            " (the package gives the first update the factor of its step 1, never 0)"
            if k == 0 and got[0] == 0.0 else ""
        ),
    )
    expect_equal("first_full", integer("first_full", first_full), DAMPENING_PERIOD - 1)
    return (
        f"LinearWarmup({DAMPENING_PERIOD - 1}, start=1/{DAMPENING_PERIOD}): the full LR from update "
        f"{DAMPENING_PERIOD - 1}, one earlier than warmup_lib's LinearWarmup({DAMPENING_PERIOD})."
    )


DECADE_STEPS, FIRST_LR, PEAK_LR = 50, 1e-5, 1e-2


def _recipe_lrs(steps: np.ndarray) -> np.ndarray:
    return np.minimum(PEAK_LR, FIRST_LR * 10.0 ** (steps / DECADE_STEPS))


@exercise(
    "07.3",
    hint=(
        "Three decades (1e-5 to 1e-2) at 50 steps each: how many warmup steps? The multiplier at "
        "step 0 is the first LR divided by the peak LR."
    ),
    solution='''\
ex3_peak_lr = 1e-2
ex3_decades = round(math.log10(ex3_peak_lr / 1e-5))    # 1e-5 -> 1e-2: three decades
ex3_schedule = wl.ExponentialWarmup(50 * ex3_decades, start=1e-5 / ex3_peak_lr)
for step in (0, 50, 100, 150, 200):
    print(f"step {step:>3}: LR {ex3_peak_lr * ex3_schedule(step):.3g}")
ex["07.3"].check(ex3_schedule, ex3_peak_lr)''',
)
def exponential_recipe(schedule, peak_lr):
    steps = np.arange(4 * DECADE_STEPS * 3)
    peak = number("peak_lr", peak_lr)
    expect_close("peak_lr", peak, PEAK_LR)
    got = peak * schedule_values("schedule", schedule, steps)
    expected = _recipe_lrs(steps)
    expect_curve(
        "peak_lr * schedule", got, expected,
        what=f"the recipe (x10 every {DECADE_STEPS} steps from {fmt(FIRST_LR)}, then {fmt(PEAK_LR)})",
        rtol=1e-6, atol=0.0, unit="LR ",
    )
    return "ExponentialWarmup(150, start=1e-3) at peak LR 1e-2: a straight line on a log axis."
