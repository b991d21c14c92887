"""Benchmark: how long each explorer takes, in the kernel, from a control change to a new PNG.

Prints `name: value unit` lines. The browser adds the transfer and the decoding of the picture;
tests/test_browser.py measures the whole round trip in JupyterLab (artifacts/browser/timings.json).
Goal: the schedule and threshold explorers answer within 1 s on one core; Train takes as long
as its two short training runs.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
import torch

from warmup_lib import widgets
from warmup_lib.data import load_digits


def _median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def schedule_explorer_redraw_ms() -> float:
    """Change the warmup shape, as a learner does in notebook 02."""
    explorer = widgets.schedule_explorer()
    shape = explorer.controls["shape"]
    shapes = iter(["exponential", "linear"] * 10)
    return 1000 * _median_s(lambda: setattr(shape, "value", next(shapes)), 7)


def threshold_explorer_redraw_ms() -> float:
    """Move the threshold over 12,000 validation scores (60 frauds), the size of notebook 05's."""
    rng = np.random.default_rng(0)
    labels = np.zeros(12_000, dtype=int)
    labels[:60] = 1
    scores = 1 / (1 + np.exp(-(rng.normal(-5, 1.5, labels.size) + 4 * labels)))
    explorer = widgets.threshold_explorer(labels, scores, cost_fp=1.0, cost_fn=50.0)
    slider = explorer.controls["threshold"]
    thresholds = iter([0.2, 0.02] * 10)
    return 1000 * _median_s(lambda: setattr(slider, "value", next(thresholds)), 7)


def training_explorer_train_ms() -> float:
    """Press Train with notebook 03's settings: Adam, 3 x 256 MLP, 120 steps, with and without warmup."""
    explorer = widgets.training_explorer(
        load_digits(),
        peak_lr=0.03,
        warmup_steps=40,
        steps=120,
        hidden=(256, 256, 256),
        run_now=False,
    )
    return 1000 * _median_s(explorer.refresh, 3)


def png_2x_over_1x() -> float:
    """What drawing at twice the on-screen resolution (sharp on HiDPI) costs, as a ratio."""

    def draw(dpi: int) -> None:
        fig, _ = widgets.schedule_explorer_figure()
        fig.savefig(io.BytesIO(), format="png", dpi=dpi)

    ratios = []
    for _ in range(5):  # interleaved, so a change in machine load affects both alike
        one = _median_s(lambda: draw(widgets.PIXELS_PER_INCH), 1)
        two = _median_s(lambda: draw(2 * widgets.PIXELS_PER_INCH), 1)
        ratios.append(two / one)
    return statistics.median(ratios)


def main() -> None:
    torch.set_num_threads(1)
    print(f"schedule_explorer_redraw_ms: {schedule_explorer_redraw_ms():.0f} ms")
    print(f"threshold_explorer_redraw_ms: {threshold_explorer_redraw_ms():.0f} ms")
    print(f"training_explorer_train_ms: {training_explorer_train_ms():.0f} ms")
    print(f"explorer_png_2x_over_1x: {png_2x_over_1x():.2f} x")


if __name__ == "__main__":
    main()
