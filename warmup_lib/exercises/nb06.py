"""Checks for notebook 06's exercises (counting steps at scale, a schedule built in micro-batches, batch 1024)."""

from __future__ import annotations

from ..schedules import CosineDecay, LinearWarmup
from ..step_counting import count_steps
from .checking import Incorrect, exercise, expect_close, expect_equal, fmt, frame, integer, number

# Exercise 06.1's job, and the accumulation loop of the notebook that exercise 06.2 starts from.
EX1_JOB = {"dataset_size": 120_000, "per_device_batch_size": 16, "epochs": 3, "devices": 8,
           "grad_accumulation_steps": 4, "warmup_fraction": 0.06}
ACCUMULATION, OPT_STEPS, ACC_WARMUP = 4, 60, 20


@exercise(
    "06.1",
    hint=(
        "count_steps(dataset_size, per_device_batch_size, epochs=..., devices=..., "
        "grad_accumulation_steps=..., warmup_fraction=...) does the arithmetic; print() the "
        "result to see it line by line. By hand: examples per GPU per epoch, micro-batches per "
        "GPU, optimizer steps (one per 4 micro-batches, the last window too), times 3 epochs, "
        "and the warmup rounded up."
    ),
    solution='''\
ex1_plan = count_steps(120_000, 16, epochs=3, devices=8, grad_accumulation_steps=4, warmup_fraction=0.06)
print(ex1_plan)
ex1_on_two_gpus = count_steps(120_000, 16, epochs=3, devices=2, grad_accumulation_steps=4, warmup_fraction=0.06)
print(f"\\non 2 GPUs: {ex1_on_two_gpus.total_steps} training steps, {ex1_on_two_gpus.warmup_steps} warmup steps")
# 4 times fewer GPUs: a global batch 4 times smaller, about 4 times more optimizer steps, and a
# warmup given as a fraction of training grows with them (the same share of the run).
ex1_total_steps = ex1_plan.total_steps
ex1_warmup_steps = ex1_plan.warmup_steps
ex["06.1"].check(ex1_total_steps, ex1_warmup_steps)''',
)
def steps_of_a_fine_tuning_job(total_steps, warmup_steps):
    plan = count_steps(EX1_JOB["dataset_size"], EX1_JOB["per_device_batch_size"],
                       **{k: v for k, v in EX1_JOB.items() if k not in ("dataset_size", "per_device_batch_size")})
    total = integer("total_steps", total_steps)
    one_gpu = count_steps(EX1_JOB["dataset_size"], EX1_JOB["per_device_batch_size"], epochs=3, grad_accumulation_steps=4)
    no_accumulation = count_steps(EX1_JOB["dataset_size"], EX1_JOB["per_device_batch_size"], epochs=3, devices=8)
    floored = plan.micro_batches_per_epoch // EX1_JOB["grad_accumulation_steps"] * EX1_JOB["epochs"]
    if total == one_gpu.total_steps:
        raise Incorrect(f"`total_steps` is {total}: that is the count on one GPU; with 8 GPUs each sees an eighth of the data")
    if total == no_accumulation.total_steps:
        raise Incorrect(f"`total_steps` is {total}: that counts micro-batches; the optimizer steps once per 4 of them")
    if total == floored and floored != plan.total_steps:
        raise Incorrect(
            f"`total_steps` is {total}: that drops each epoch's last, shorter accumulation window "
            f"({plan.micro_batches_per_epoch} micro-batches = {plan.micro_batches_per_epoch // 4} x 4 + "
            f"{plan.micro_batches_per_epoch % 4}); the optimizer steps for it too, so count it"
        )
    expect_equal("total_steps", total, plan.total_steps)
    warmup = integer("warmup_steps", warmup_steps)
    if warmup == int(EX1_JOB["warmup_fraction"] * plan.total_steps) and warmup != plan.warmup_steps:
        raise Incorrect(
            f"`warmup_steps` is {warmup}, rounded down from {fmt(EX1_JOB['warmup_fraction'] * plan.total_steps)}; "
            "a warmup ratio is rounded up (math.ceil), as transformers does"
        )
    expect_equal("warmup_steps", warmup, plan.warmup_steps)
    return (
        f"{plan.steps_per_epoch} optimizer steps per epoch x 3 epochs = {plan.total_steps}, "
        f"and ceil(0.06 x {plan.total_steps}) = {plan.warmup_steps} warmup steps."
    )


def _micro_batch_schedule(step: int) -> float:
    """The LR multiplier of the slip: warmup and decay lengths counted in micro-batches (warmup x decay)."""
    return LinearWarmup(ACC_WARMUP * ACCUMULATION)(step) * CosineDecay(OPT_STEPS * ACCUMULATION)(step)


@exercise(
    "06.2",
    hint=(
        "Build the schedule with micro-batch counts: wl.LinearWarmup(ACC_WARMUP * ACCUMULATION) * "
        "wl.CosineDecay(OPT_STEPS * ACCUMULATION). The scheduler still steps once per optimizer "
        "step, so evaluate it at np.arange(OPT_STEPS) and read the last value."
    ),
    solution='''\
ex2_schedule = wl.LinearWarmup(ACC_WARMUP * ACCUMULATION) * wl.CosineDecay(OPT_STEPS * ACCUMULATION)
ex2_lr = ex2_schedule.curve(np.arange(OPT_STEPS))
ex2_warmup_end = ACC_WARMUP * ACCUMULATION
ex2_last_multiplier = float(ex2_lr[-1])
print(f"the warmup would end at optimizer step {ex2_warmup_end}, after all {OPT_STEPS} steps of training")
print(f"LR multiplier at the last step: {ex2_last_multiplier:.3f} — training stops while the LR is still rising")
# Counting micro-batches stretches the whole schedule ACCUMULATION times: the run ends inside its warmup.
ex["06.2"].check(ex2_warmup_end, ex2_last_multiplier)''',
)
def schedule_counted_in_micro_batches(warmup_end, last_multiplier):
    end = integer("warmup_end", warmup_end)
    if end == ACC_WARMUP:
        raise Incorrect(
            f"`warmup_end` is {end}: that is the intended warmup; the schedule was built in "
            f"micro-batches, {ACCUMULATION} per optimizer step"
        )
    if end == ACC_WARMUP // ACCUMULATION:
        raise Incorrect(
            f"`warmup_end` is {end}: that is what stepping the scheduler per micro-batch gives; "
            "here it steps per optimizer step but the lengths were counted in micro-batches"
        )
    expect_equal("warmup_end", end, ACC_WARMUP * ACCUMULATION)
    expected = _micro_batch_schedule(OPT_STEPS - 1)
    got = number("last_multiplier", last_multiplier)
    if abs(got - _micro_batch_schedule(OPT_STEPS)) < 1e-9 < abs(got - expected):
        raise Incorrect(
            f"`last_multiplier` is {fmt(got)}, the value at step {OPT_STEPS}; the last optimizer "
            f"step is step {OPT_STEPS - 1} (steps count from 0)"
        )
    expect_close("last_multiplier", got, expected, rel=1e-3)
    return (
        f"the warmup would need {ACC_WARMUP * ACCUMULATION} optimizer steps, the run has {OPT_STEPS}: it "
        f"ends at {fmt(round(expected, 3))} of the peak, still warming up."
    )


@exercise(
    "06.3",
    hint=(
        "experiments.compare({name: sgd_run(1024, 16 * BASE_LR), name: sgd_run(1024, 16 * BASE_LR, "
        "WARMUP_EPOCHS)}, seeds=SEEDS), then experiments.summarize_seeds(...). Compare each "
        "condition's median_final_val_loss with batch 512's at the rule's LR."
    ),
    solution='''\
ex3_runs = experiments.compare(
    {"batch 1024, LR 0.8, no warmup": sgd_run(1024, 16 * BASE_LR),
     "batch 1024, LR 0.8, warmup": sgd_run(1024, 16 * BASE_LR, WARMUP_EPOCHS)},
    seeds=SEEDS,
)
ex3_summary = experiments.summarize_seeds(ex3_runs)
print(ex3_summary[["condition", "median_final_val_loss", "max_final_val_loss"]].round(3).to_string(index=False))
print(f"batch {LARGE_BATCH} at the rule's LR: {scaling.loc[f'{RULE}, no warmup', 'median_val_loss']:.3f}")
# In 3 epochs batch 1024 takes only 48 steps and falls further behind: the rule's premise (one
# large step does what k small ones did) holds less and less as k grows, as Goyal et al. found
# beyond batches of 8k.
ex3_falls_behind = bool((ex3_summary["median_final_val_loss"] > scaling.loc[f"{RULE}, no warmup", "median_val_loss"]).all())
ex["06.3"].check(ex3_summary, ex3_falls_behind, scaling.loc[f"{RULE}, no warmup", "median_val_loss"])''',
)
def batch_1024_with_the_rule(summary, falls_behind, batch_512_loss):
    table = frame("summary", summary, columns=("condition", "n_seeds", "median_final_val_loss"))
    if len(table) != 2:
        raise Incorrect(f"`summary` should have two rows (without and with warmup), it has {len(table)}")
    if int(table["n_seeds"].min()) < 5:
        raise Incorrect(f"`summary` has only {int(table['n_seeds'].min())} seed(s) in a row; train all five")
    if not isinstance(falls_behind, bool):
        raise Incorrect(f"`falls_behind` should be True or False, got {falls_behind!r}")
    reference = number("batch_512_loss", batch_512_loss)
    medians = [number("summary's median_final_val_loss", v) for v in table["median_final_val_loss"]]
    behind = all(m > reference for m in medians)
    if falls_behind != behind:
        raise Incorrect(
            f"`falls_behind` is {falls_behind}, but your table's medians are "
            f"{', '.join(fmt(round(m, 3)) for m in medians)} against {fmt(round(reference, 3))} for batch 512"
        )
    return (
        f"batch 1024 ends at {', '.join(fmt(round(m, 3)) for m in medians)} (without, with warmup) "
        f"against {fmt(round(reference, 3))} for batch 512: "
        + ("it falls behind." if behind else "it keeps up.")
    )
