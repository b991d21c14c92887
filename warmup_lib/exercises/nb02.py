"""Checks for notebook 02's exercises (learning-rate curves: composing, counting steps, a fair warmup)."""

from __future__ import annotations

import math

import numpy as np

from ..schedules import CosineDecay, LinearWarmup, warmup_then
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

TOTAL_STEPS = 2000
WARMUP_STEPS = int(0.05 * TOTAL_STEPS)


def _reference_schedule():
    return warmup_then(LinearWarmup(WARMUP_STEPS), CosineDecay(TOTAL_STEPS - WARMUP_STEPS, end=0.1))


@exercise(
    "02.1",
    hint=(
        "wl.warmup_then(wl.LinearWarmup(100), wl.CosineDecay(1900, end=0.1)) is the schedule. "
        "Evaluate it with schedule.curve(np.arange(2000)) and look for the first step after the "
        "warmup where the value is below 0.5."
    ),
    solution='''\
ex1_total = 2000
ex1_warmup = int(0.05 * ex1_total)
ex1_schedule = wl.warmup_then(wl.LinearWarmup(ex1_warmup), wl.CosineDecay(ex1_total - ex1_warmup, end=0.1))
ex1_steps = np.arange(ex1_total)
ex1_lr = ex1_schedule.curve(ex1_steps)
# After the peak only: the warmup is below half the peak too, at its start.
ex1_first = int(np.argmax((ex1_steps >= ex1_warmup) & (ex1_lr < 0.5)))

# Closed form: (1 + cos(pi p)) / 2 = 4/9, so cos(pi p) = -1/9.
ex1_fraction = math.acos(-1 / 9) / math.pi
ex1_expected = ex1_warmup + math.floor(ex1_fraction * (ex1_total - ex1_warmup)) + 1
print(f"warmup {ex1_warmup} steps; LR first below half the peak at step {ex1_first} "
      f"(closed form: {ex1_fraction:.4f} of the decay -> step {ex1_expected})")
assert ex1_first == ex1_expected, "the search and the closed form should agree"
ex["02.1"].check(ex1_schedule, ex1_first)''',
)
def warmup_then_cosine(schedule, first_below_half):
    steps = np.arange(TOTAL_STEPS)
    expected = _reference_schedule().curve(steps)
    got = schedule_values("schedule", schedule, steps)
    expect_curve(
        "schedule", got, expected,
        what=f"a {WARMUP_STEPS}-step linear warmup then a cosine decay to 0.1",
        rtol=1e-6, atol=1e-9,
        phase=lambda k: "during the warmup" if k < WARMUP_STEPS else "during the decay",
    )
    first = integer("first_below_half", first_below_half)
    right = int(np.argmax((steps >= WARMUP_STEPS) & (expected < 0.5)))
    if first < WARMUP_STEPS:
        raise Incorrect(
            f"`first_below_half` is {first}, inside the warmup; the question asks for the first "
            "step after the peak"
        )
    expect_equal("first_below_half", first, right)
    fraction = math.acos(-1 / 9) / math.pi
    return f"step {right}: {fmt(fraction)} of the way through the decay."


@exercise(
    "02.2",
    hint=(
        "Count micro-batches per epoch first (the last one may be short), then how many full "
        "groups of 8 they make: that is optimizer updates per epoch. divmod() gives both parts."
    ),
    solution='''\
ex2_micro_batches = len(DataLoader(range(60_000), batch_size=32))
ex2_updates_per_epoch, ex2_left_over = divmod(ex2_micro_batches, 8)
ex2_warmup_steps = 3 * ex2_updates_per_epoch
print(f"{ex2_micro_batches} micro-batches per epoch = {ex2_updates_per_epoch} updates "
      f"+ {ex2_left_over} left over -> LinearWarmup({ex2_warmup_steps})")
# Not 3 * 1875 = 5625: the scheduler counts optimizer updates, not micro-batches.
# (The left-over micro-batches' gradients must be zeroed or folded into the next update.)
ex["02.2"].check(ex2_warmup_steps, ex2_left_over)''',
)
def warmup_steps_for_three_epochs(warmup_steps, left_over):
    micro_batches = math.ceil(60_000 / 32)
    updates, rest = divmod(micro_batches, 8)
    got = integer("warmup_steps", warmup_steps)
    if got == 3 * micro_batches:
        raise Incorrect(
            f"`warmup_steps` is {got} = 3 x {micro_batches} micro-batches; the scheduler counts "
            "optimizer updates, one per 8 micro-batches"
        )
    if got in (3 * math.ceil(micro_batches / 8), math.ceil(3 * micro_batches / 8)):
        raise Incorrect(
            f"`warmup_steps` is {got}: {micro_batches} / 8 = {micro_batches / 8} makes only "
            f"{updates} full updates per epoch (the loop steps on every 8th micro-batch)"
        )
    expect_equal("warmup_steps", got, 3 * updates)
    expect_equal("left_over", integer("left_over", left_over), rest)
    return f"{micro_batches} micro-batches = {updates} updates + {rest} left over, per epoch."


FAIR_TOTAL, FAIR_WARMUP = 3000, 300


def _fair_base():
    return CosineDecay(FAIR_TOTAL, end=0.1)


@exercise(
    "02.3",
    hint=(
        "Keep the base as it is and multiply it by the warmup: wl.LinearWarmup(300) * ex3_base. "
        "Then wl.steps_that_differ(ex3_base, your_schedule, 3000) should list steps 0-299 only. "
        "The peak is where the warmup ends, and the cosine has started decaying by then."
    ),
    solution='''\
ex3_base = wl.CosineDecay(3000, end=0.1)
ex3_with_warmup = wl.LinearWarmup(300) * ex3_base
ex3_differ = wl.steps_that_differ(ex3_base, ex3_with_warmup, 3000)
ex3_curve = ex3_with_warmup.curve(np.arange(3000))
ex3_peak = float(ex3_curve.max())
print(f"differs from the base at {ex3_differ.size} steps ({ex3_differ.min()} to {ex3_differ.max()}); "
      f"peak multiplier {ex3_peak:.4f} at step {int(np.argmax(ex3_curve))}")
# The peak is below 1: at step 300 the cosine base has already decayed a little.
ex["02.3"].check(ex3_with_warmup, ex3_peak)''',
)
def fair_warmup(with_warmup, peak):
    steps = np.arange(FAIR_TOTAL)
    base = _fair_base().curve(steps)
    expected = LinearWarmup(FAIR_WARMUP).curve(steps) * base
    got = schedule_values("with_warmup", with_warmup, steps)
    after = np.flatnonzero(~np.isclose(got[FAIR_WARMUP:], base[FAIR_WARMUP:], rtol=1e-9, atol=1e-12))
    if after.size:
        k = int(after[0]) + FAIR_WARMUP
        raise Incorrect(
            f"`with_warmup` differs from the base at {after.size} steps after the warmup; the first is "
            f"step {k}: {fmt(got[k])} instead of the base's {fmt(base[k])}. A with/without-warmup "
            "comparison must share every step after warmup: multiply the base by the warmup "
            "instead of starting a new decay after it"
        )
    during = np.flatnonzero(~np.isclose(got[:FAIR_WARMUP], expected[:FAIR_WARMUP], rtol=1e-9, atol=1e-12))
    if during.size:
        k = int(during[0])
        raise Incorrect(
            f"`with_warmup` equals the base after the warmup, but during it step {k} gives "
            f"{fmt(got[k])} instead of {k}/{FAIR_WARMUP} x the base = {fmt(expected[k])}"
        )
    right = float(expected.max())
    got_peak = number("peak", peak)
    if math.isclose(got_peak, 1.0):
        raise Incorrect(
            f"`peak` is 1, but the product never reaches 1: it peaks at step {FAIR_WARMUP}, where the "
            f"cosine base is already {fmt(base[FAIR_WARMUP])}"
        )
    expect_close("peak", got_peak, right)
    return f"the same base after step {FAIR_WARMUP - 1}; peak {fmt(right)} at step {FAIR_WARMUP}."
