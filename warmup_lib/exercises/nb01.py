"""Checks for notebook 01's exercises (why warm up: Adam's first step, the example schedule)."""

from __future__ import annotations

import numpy as np

from .checking import (
    Incorrect,
    exercise,
    expect_close,
    expect_equal,
    fmt,
    frame,
    integer,
    number,
    numbers_array,
)

ADAM_LR, ADAM_EPS = 0.01, 1e-8
ADAM_GRADIENT = np.array([0.5, -0.002, 3e-7])


@exercise(
    "01.1",
    hint=(
        "Adam's first update is -lr * m / (sqrt(v) + eps) with m = g and v = g**2 after bias "
        "correction, i.e. -lr * g / (|g| + eps). Compare each gradient with eps = 1e-8."
    ),
    solution='''\
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
ex["01.1"].check(ex1_by_hand, ex1_odd_weight)''',
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
    solution='''\
ex2_by_hand = 1e-4 * 10 ** (150 / 100)  # 1.5 decades above 1e-4
ex2_schedule = user_peak_lr * user_schedule(150)
print(f"by hand {ex2_by_hand:.5f}, schedule {ex2_schedule:.5f}")  # 0.00316 = 0.1 / 10**1.5
assert math.isclose(ex2_by_hand, ex2_schedule, rel_tol=1e-9)
ex["01.2"].check(ex2_by_hand)''',
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


@exercise(
    "01.3",
    hint=(
        "Reuse the no-warmup configuration with another schedule: "
        "experiments.run_seeds(no_warmup.replace(schedule=wl.LinearWarmup(100)), SEEDS, ...)."
    ),
    solution='''\
ex3_frame = experiments.run_seeds(no_warmup.replace(schedule=wl.LinearWarmup(100)), SEEDS, condition="100-step warmup")
ex3_summary = experiments.summarize_seeds(ex3_frame)
print(ex3_summary[["condition", "n_diverged", "n_success"]].to_string(index=False))
print(f"200-step warmup: {high_lr_success['warmup']}/{len(SEEDS)} successes")
assert ex3_summary["n_success"].iloc[0] < high_lr_success["warmup"], "the shorter warmup should save fewer seeds"
# A 100-step warmup reaches LR 1.6 at step 100, right when the network is in its sharp phase
# (see the sharpness table), so the overshoot happens at the full peak LR.
ex["01.3"].check(ex3_frame)''',
)
def hundred_step_warmup_runs(runs):
    table = frame("runs", runs, columns=("seed", "step", "lr", "diverged"))
    seeds = table["seed"].unique()
    if len(seeds) < 5:
        raise Incorrect(f"`runs` holds {len(seeds)} seed(s); run all five (SEEDS)")
    for seed, rows in table.sort_values("step").groupby("seed"):
        lr = rows["lr"].to_numpy()
        steps = rows["step"].to_numpy()
        if len(lr) > 1 and np.ptp(lr[: min(len(lr), 100)]) == 0:
            raise Incorrect(f"in `runs`, seed {seed} starts at a constant LR {fmt(lr[0])}: there is no warmup")
        if steps[-1] > 100:
            reached = int(steps[np.argmax(lr >= lr.max() * (1 - 1e-9))])
            if reached != 100:
                raise Incorrect(
                    f"in `runs`, seed {seed}'s LR first reaches its peak at step {reached}; a 100-step "
                    "warmup reaches it at step 100"
                )
    diverged = int(table.groupby("seed")["diverged"].first().sum())
    return f"{diverged} of {len(seeds)} seeds diverged with a 100-step warmup."


@exercise(
    "01.4",
    hint=(
        "wl.untuned_warmup_steps(beta2) gives the steps. For the trap, print 1 - 0.999 with "
        "repr(): is it exactly 0.001?"
    ),
    solution='''\
ex4_steps_0999 = wl.untuned_warmup_steps(0.999)
ex4_steps_098 = wl.untuned_warmup_steps(0.98)
ex4_naive = int(2 / (1 - 0.999))  # 1 - 0.999 is not exactly 0.001 in floating point
print(f"beta2 = 0.999: {ex4_steps_0999} warmup steps; beta2 = 0.98: {ex4_steps_098}")
print("naive int(2 / (1 - 0.999)) =", ex4_naive)
ex["01.4"].check(ex4_steps_0999, ex4_steps_098, ex4_naive)''',
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
    return "1 - 0.999 is a hair above 0.001, so the quotient is a hair below 2000 and int() drops it."
