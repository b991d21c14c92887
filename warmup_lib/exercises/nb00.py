"""Checks for notebook 00's exercise (a first try of the checking mechanism)."""

from __future__ import annotations

from ..schedules import CosineDecay, LinearWarmup, warmup_then
from .checking import Incorrect, exercise, expect_close, fmt, number

PEAK_LR = 1e-3


@exercise(
    "00.1",
    hint="schedule(550) is the LR multiplier at step 550; the LR is the peak LR times it.",
    solution='''\
lr_at_550 = 1e-3 * schedule(550)
print(f"LR at step 550: {lr_at_550:.6f}")
ex["00.1"].check(lr_at_550)''',
)
def lr_at_step_550(lr_at_550):
    got = number("lr_at_550", lr_at_550)
    multiplier = warmup_then(LinearWarmup(warmup_steps=100), CosineDecay(decay_steps=900))(550)
    if abs(got - multiplier) < 1e-9:
        raise Incorrect(
            f"`lr_at_550` is {fmt(got)}, the multiplier; multiply it by the peak LR {fmt(PEAK_LR)}"
        )
    expect_close("lr_at_550", got, PEAK_LR * multiplier, rel=1e-6)
    return f"halfway through the cosine decay the LR is half the peak: {fmt(PEAK_LR * multiplier)}."
