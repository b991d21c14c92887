"""Figures of the series: schedules, training histories, seed spreads, LR grids and fraud metrics.

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show()``.

* In a notebook, a call on the last line of a cell shows its figure exactly once: figures this
  module creates are closed in pyplot before they are returned, so Jupyter displays the returned
  object (through its rich repr) and not a second copy from the pyplot figure list. To keep a
  figure without showing it, assign it: ``fig = plot_schedules(...)``; save it with
  ``fig.savefig("schedules.png")``.
* Functions that draw one panel accept ``ax=`` to draw into an axes you created (for
  side-by-side comparisons). That figure stays yours: it is returned but not closed, so pyplot
  shows it at the end of the cell; end the cell with ``;`` or ``plt.show()`` so it is not shown
  twice.
* Colours are the Okabe-Ito palette (distinguishable with every common colour-vision
  deficiency) and each series also gets its own line style, so figures survive greyscale printing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ._coerce import as_1d, as_binary_labels, as_numbers, as_scores
from ._validation import check_bool, check_float, check_int

__all__ = [
    "PALETTE",
    "LINESTYLES",
    "series_style",
    "mark_warmup_end",
    "plot_schedules",
    "plot_history",
    "plot_histories",
    "plot_runs",
    "plot_seeds",
    "plot_stability_frontier",
    "plot_lr_sensitivity",
    "plot_confusion_matrix",
    "plot_pr_curve",
    "plot_cost_vs_threshold",
    "plot_update_ratio",
    "plot_sharpness",
    "plot_epoch_vs_step",
    "plot_sharpness_runs",
    "plot_uv_descent",
]

#: Okabe & Ito's colour-blind-safe palette (blue, vermillion, bluish green, orange, reddish
#: purple, sky blue, black). Its yellow is left out: it vanishes on a white background.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#E69F00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
)

#: Line styles cycled together with :data:`PALETTE`. Four styles against seven colours means a
#: (colour, style) pair repeats only after 28 series.
LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", (0, (1, 1.2)))

#: The end-of-warmup marker: a grey dotted vertical line.
_WARMUP_COLOR = "0.35"
_DIVERGED_COLOR = "#000000"
_LOSS_UNITS = "cross-entropy, nats"

_COLUMN_NAMES = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "test_loss": "test loss",
    "lr": "learning rate",
    "grad_norm": "gradient norm ‖g‖",
    "update_ratio": "relative update size ‖Δw‖ / ‖w‖",
}


def series_style(index: int) -> dict[str, Any]:
    """Colour and line style of the ``index``-th series: ``PALETTE[i % 7]`` and ``LINESTYLES[i % 4]``.

    Use it to match the series' look in your own figures: ``ax.plot(x, y, **series_style(2))``.
    """
    index = check_int("index", index)
    return {
        "color": PALETTE[index % len(PALETTE)],
        "linestyle": LINESTYLES[index % len(LINESTYLES)],
    }


# --------------------------------------------------------------------------------------------
# Shared plumbing: figure ownership, argument checks, labels.
# --------------------------------------------------------------------------------------------


def _root_figure(ax: Axes) -> Figure:
    try:  # matplotlib >= 3.10: the top-level figure even when ax lives in a SubFigure
        return ax.get_figure(root=True)  # type: ignore[call-arg]
    except TypeError:  # pragma: no cover - older matplotlib
        return ax.figure  # type: ignore[return-value]


def _check_ax(ax: Any) -> Axes | None:
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(
            f"ax must be a matplotlib Axes (for example from fig, ax = plt.subplots()) or None, "
            f"got {type(ax).__name__}"
        )
    return ax


def _check_title(title: Any) -> str | None:
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    return title


def _single_axes(
    ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.0)
) -> tuple[Figure, Axes, bool]:
    """The axes to draw on, its figure, and whether this module created (and so must close) it."""
    if ax is not None:
        return _root_figure(ax), ax, False
    fig, new_ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, new_ax, True


def _finish(fig: Figure, owned: bool) -> Figure:
    # Closing removes the figure from pyplot's list, so Jupyter shows only the returned object.
    if owned:
        plt.close(fig)
    return fig


class _Drawing:
    """``with _Drawing(fig, owned):`` closes a figure this module created if drawing fails."""

    def __init__(self, fig: Figure, owned: bool) -> None:
        self.fig, self.owned = fig, owned

    def __enter__(self) -> _Drawing:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and self.owned:
            plt.close(self.fig)


def _as_frame(name: str, value: Any) -> pd.DataFrame:
    """A History (anything with ``to_frame()``) or a DataFrame, as a DataFrame."""
    if isinstance(value, pd.DataFrame):
        return value
    to_frame = getattr(value, "to_frame", None)
    if callable(to_frame) and not isinstance(value, pd.Series):
        frame = to_frame()
        if isinstance(frame, pd.DataFrame):
            return frame
    raise TypeError(
        f"{name} must be a History (returned by warmup_lib.training.train) or a pandas DataFrame "
        f"such as history.to_frame(), got {type(value).__name__}"
    )


def _require_columns(name: str, frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        valid = ", ".join(repr(c) for c in frame.columns)
        raise ValueError(
            f"{name} has no column {', '.join(map(repr, missing))}; its columns are: {valid}"
        )
    if frame.empty:
        raise ValueError(f"{name} is empty: there is nothing to plot")


def _check_names(name: str, value: Any) -> tuple[str, ...]:
    """A column name or a sequence of them, as a tuple of strings."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(
        f"{name} must be a column name or a non-empty sequence of column names, got {value!r}"
    )


def _describe_column(column: str) -> str:
    """A column name in words: ``val_accuracy`` -> ``validation accuracy``."""
    if column in _COLUMN_NAMES:
        return _COLUMN_NAMES[column]
    for prefix, words in (("val_", "validation "), ("train_", "training "), ("test_", "test ")):
        if column.startswith(prefix):
            return words + column[len(prefix) :].replace("_", " ")
    return column.replace("_", " ")


def _is_loss(column: str) -> bool:
    return "loss" in column


def _axis_label(column: str) -> str:
    """A column in words with its unit, for an axis label."""
    words = _describe_column(column)
    if _is_loss(column):
        return f"{words} ({_LOSS_UNITS})"
    if "accuracy" in column:
        return f"{words} (fraction correct)"
    return words


def _fmt(value: float) -> str:
    """A number for a legend or label: 3 significant digits, no scientific notation for counts."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 1000 and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _legend_above(fig: Figure, axes: Sequence[Axes], title: str | None) -> None:
    """One legend above side-by-side panels: each label once, from the first panel that has it."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside upper center",
        ncols=min(3, len(handles)),
        frameon=False,
        fontsize="small",
        title=title,
        title_fontsize="large",
    )


def _place_legend(
    fig: Figure,
    ax: Axes,
    owned: bool,
    *,
    ncols: int = 2,
    inside: str = "best",
    title: str | None = None,
) -> bool:
    """One legend for ``ax``: above the plot when this module owns the figure, so it never
    covers data; inside ``ax`` at ``inside`` when drawing into the caller's axes.

    A figure title goes on top of a figure-level legend (as the legend's title), because
    constrained layout would otherwise stack a suptitle on top of the legend. Returns whether
    the title was placed.
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return False
    if not owned:
        ax.legend(handles, labels, loc=inside, frameon=True, framealpha=0.9, fontsize="small")
        return False
    # Fewer columns when long labels would not fit across the figure (~14 small characters per
    # inch, plus the line sample).
    width_chars = fig.get_figwidth() * 14
    longest = max(len(label) for label in labels) + 6
    ncols = max(1, min(ncols, len(handles), int(width_chars // longest)))
    fig.legend(
        handles,
        labels,
        loc="outside upper center",
        ncols=ncols,
        frameon=False,
        fontsize="small",
        title=title,
        title_fontsize="large",
    )
    return True


def _step_axis(ax: Axes) -> None:
    """Label the x-axis as optimizer steps, with whole-number ticks."""
    ax.set_xlabel("optimizer step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))


def _finish_labels(
    fig: Figure, ax: Axes, owned: bool, title: str | None, *, ncols: int = 2, inside: str = "best"
) -> None:
    """Place the legend (see :func:`_place_legend`) and the title."""
    if _place_legend(fig, ax, owned, ncols=ncols, inside=inside, title=title) or not title:
        return
    (fig.suptitle if owned else ax.set_title)(title)


def mark_warmup_end(
    ax: Axes,
    warmup_steps: int,
    *,
    color: str = _WARMUP_COLOR,
    text: str | None = None,
    position: str = "bottom",
) -> None:
    """Draw the end of warmup on ``ax``: a dotted vertical line at ``warmup_steps`` and a label.

    Step ``warmup_steps`` is the first optimizer step at the full peak LR. ``position`` puts the
    label near the ``"bottom"`` or ``"top"`` of the axes; ``text`` replaces the default label.
    """
    _check_ax(ax)
    if ax is None:
        raise TypeError("ax must be a matplotlib Axes, got None")
    warmup_steps = check_int("warmup_steps", warmup_steps)
    if position not in ("bottom", "top"):
        raise ValueError(f"position must be 'bottom' or 'top'; got {position!r}")
    label = text if text is not None else f"end of warmup (step {warmup_steps})"
    ax.axvline(warmup_steps, color=color, linestyle=":", linewidth=1.4, zorder=1.5)
    y, dy, va = (0.0, 4, "bottom") if position == "bottom" else (1.0, -4, "top")
    ax.annotate(
        label,
        xy=(warmup_steps, y),
        xycoords=("data", "axes fraction"),
        xytext=(3, dy),
        textcoords="offset points",
        rotation=90,
        ha="left",
        va=va,
        fontsize="small",
        color=color,
        bbox={
            "boxstyle": "round,pad=0.15",
            "facecolor": "white",
            "edgecolor": "none",
            "alpha": 0.75,
        },
        gid="warmup-end",
    )


def _warmup_from_config(config: Any) -> int | None:
    """The warmup length a run recorded in ``History.config["warmup_steps"]`` (None if absent)."""
    if not isinstance(config, Mapping):
        return None
    value = config.get("warmup_steps")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def _clip_top(values: np.ndarray, top: float | None) -> tuple[np.ndarray, bool]:
    """Values with +inf and anything above ``top`` drawn at ``top``; whether anything was clipped."""
    if top is None:
        return values, False
    above = values > top  # NaN compares False and stays a gap
    if not above.any():
        return values, False
    clipped = values.copy()
    clipped[above] = top
    return clipped, True


def _auto_top(values: np.ndarray, reference: float | None, *, log: bool) -> float | None:
    """Upper y-limit that keeps runaway values from flattening everything else, or None.

    On a linear axis a loss that ran away (1e6 just before NaN) would squash the curves that
    matter into the bottom pixel row, so the axis stops at 10x the loss at step 0 (23 nats for
    10 classes), which still shows a spike from 2.3 to 10 in full. On a log axis only infinities
    need a place to be drawn.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    peak = float(finite.max())
    if log:
        return peak * 2.0 if np.isinf(values).any() and peak > 0 else None
    if reference is not None and reference > 0 and peak > 10.0 * reference:
        return 10.0 * reference
    if np.isinf(values).any():
        return peak + 0.1 * (peak - float(finite.min()) or 1.0)
    return None


def _plain_log_ticks(axis: Any) -> None:
    """Label a log axis with plain numbers (0.2, 0.5, 1, 2, 3) instead of powers of ten.

    Losses usually span one or two decades, where "3 x 10^0" only slows the reader down. Minor
    ticks are labelled when there is room: all of them on an axis spanning at most 0.6 decades,
    those at 2, 3 and 5 (x a power of ten) up to 2.2 decades, none beyond.
    """

    def label(value: float, minor: bool) -> str:
        if not np.isfinite(value) or value <= 0:
            return ""
        if minor:
            low, high = sorted(axis.get_view_interval())
            span = math.log10(high / low) if low > 0 else math.inf
            mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
            if not (span <= 0.6 or (span <= 2.2 and mantissa in (2.0, 3.0, 5.0))):
                return ""
        return f"{value:g}"

    axis.set_major_formatter(FuncFormatter(lambda value, _: label(value, False)))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: label(value, True)))


def _check_ylim(ylim: Any) -> tuple[float | None, float | None] | None:
    if ylim is None:
        return None
    if not (isinstance(ylim, Sequence) and len(ylim) == 2):
        raise TypeError(f"ylim must be a (bottom, top) pair or None, got {ylim!r}")
    bottom, top = (None if v is None else check_float(f"ylim[{i}]", v) for i, v in enumerate(ylim))
    if bottom is not None and top is not None and bottom >= top:
        raise ValueError(f"ylim must have bottom < top, got {ylim!r}")
    return bottom, top


# --------------------------------------------------------------------------------------------
# Schedules.
# --------------------------------------------------------------------------------------------


def _schedule_name(schedule: Any) -> str:
    phases = getattr(schedule, "phases", None)
    if isinstance(phases, tuple) and phases:
        return " → ".join(type(p).__name__ for p in phases)
    return getattr(schedule, "__name__", type(schedule).__name__)


def _schedule_values(name: str, schedule: Any, steps: np.ndarray) -> np.ndarray:
    curve = getattr(schedule, "curve", None)
    if callable(curve):
        values = np.asarray(curve(steps), dtype=np.float64)
    elif callable(schedule):  # a plain function step -> multiplier, e.g. a LambdaLR lambda
        values = np.array([float(schedule(int(s))) for s in steps], dtype=np.float64)
    else:
        raise TypeError(
            f"{name} must be a warmup_lib Schedule (e.g. LinearWarmup(100)) or a function "
            f"step -> multiplier, got {type(schedule).__name__}"
        )
    if values.shape != steps.shape:
        raise ValueError(
            f"{name}.curve(steps) returned shape {values.shape}, expected {steps.shape}"
        )
    return values


def plot_schedules(
    schedules: Any,
    total_steps: int,
    *,
    peak_lr: float | None = None,
    log_scale: bool = False,
    both_scales: bool = False,
    warmup_steps: int | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Plot one schedule or several (a dict ``name -> schedule``) over ``total_steps`` steps.

    Draws ``peak_lr * schedule.curve(np.arange(total_steps))``, the learning rate of every
    optimizer step. With ``peak_lr=None`` the multiplier itself is drawn (a fraction of the peak
    LR). Each schedule's end of warmup (its ``warmup_steps``, or the ``warmup_steps`` given here)
    is a dotted vertical line. ``log_scale=True`` uses a log y-axis (exponential warmups span
    decades); ``both_scales=True`` draws linear and log side by side (cannot be combined with
    ``ax``). A plain function ``step -> multiplier`` is accepted as a schedule too.
    """
    if isinstance(schedules, Mapping):
        if not schedules:
            raise ValueError("schedules is an empty dict: give at least one name -> schedule")
        named = {str(k): v for k, v in schedules.items()}
        legend = True
    else:
        named = {_schedule_name(schedules): schedules}
        legend = False
    total_steps = check_int("total_steps", total_steps, min_value=1)
    if peak_lr is not None:
        peak_lr = check_float("peak_lr", peak_lr, min_value=0.0, min_open=True)
    check_bool("log_scale", log_scale)
    check_bool("both_scales", both_scales)
    if warmup_steps is not None:
        warmup_steps = check_int("warmup_steps", warmup_steps)
    _check_ax(ax)
    _check_title(title)
    if both_scales and ax is not None:
        raise ValueError(
            "both_scales=True draws its own two panels; pass ax=None or both_scales=False"
        )

    steps = np.arange(total_steps)
    scale = 1.0 if peak_lr is None else peak_lr
    curves = {
        n: scale * _schedule_values(f"schedules[{n!r}]" if legend else "schedules", s, steps)
        for n, s in named.items()
    }
    if warmup_steps is not None:
        ends = dict.fromkeys(named, warmup_steps)
    else:
        ends = {}
        for n, s in named.items():
            w = getattr(s, "warmup_steps", None)
            if isinstance(w, (int, np.integer)) and not isinstance(w, bool):
                ends[n] = int(w)
    # One marker per distinct end of warmup: grey when schedules share it, else the schedule's colour.
    by_step: dict[int, list[int]] = {}
    for i, n in enumerate(named):
        if n in ends and 0 < ends[n] < total_steps:
            by_step.setdefault(ends[n], []).append(i)
    ylabel = "learning rate multiplier (× peak LR)" if peak_lr is None else "learning rate"

    if both_scales:
        fig, axes_ = plt.subplots(1, 2, figsize=(11.0, 4.2), layout="constrained")
        panels = [(axes_[0], False), (axes_[1], True)]
        owned = True
    else:
        fig, single, owned = _single_axes(ax, figsize=(6.4, 4.2))
        panels = [(single, log_scale)]

    with _Drawing(fig, owned):
        for panel, log in panels:
            for i, (name, values) in enumerate(curves.items()):
                panel.plot(steps, values, linewidth=1.8, label=name, **series_style(i))
            for end, members in by_step.items():
                color = (
                    series_style(members[0])["color"]
                    if len(members) == 1 and legend
                    else _WARMUP_COLOR
                )
                mark_warmup_end(panel, end, color=color)
            if log:
                panel.set_yscale("log", nonpositive="mask")
                positive = np.concatenate([v[v > 0] for v in curves.values()])
                if positive.size:
                    # A decay to exactly 0 would otherwise stretch the axis down to 1e-10 and
                    # squash the warmup, which is what this axis is for.
                    panel.set_ylim(bottom=max(positive.min(), positive.max() * 1e-4) / 1.5)
                panel.set_ylabel(f"{ylabel} (log scale)")
            else:
                panel.set_ylim(bottom=0)
                panel.set_ylabel(ylabel)
            _step_axis(panel)
            panel.set_xlim(0, max(total_steps - 1, 1))
            panel.grid(alpha=0.3)
        if both_scales:
            panels[0][0].set_title("linear axis", fontsize="medium")
            panels[1][0].set_title("log axis: equal ratios look equal", fontsize="medium")
        if legend:
            _finish_labels(
                fig,
                panels[0][0],
                owned,
                title,
                ncols=2 if len(curves) > 3 or not both_scales else len(curves),
            )
        else:  # one schedule: its name is the title
            heading = title if title is not None else next(iter(named))
            (fig.suptitle if owned else panels[0][0].set_title)(heading)
    return _finish(fig, owned)


# --------------------------------------------------------------------------------------------
# Training histories.
# --------------------------------------------------------------------------------------------


def _spike_steps(frame: pd.DataFrame, column: str) -> list[int]:
    """Steps of loss spikes in ``column`` by :func:`warmup_lib.diagnostics.find_spikes`."""
    from .diagnostics import find_spikes

    rows = frame[["step", column]].dropna()
    if len(rows) < 2:
        return []
    spikes = find_spikes(rows[column].to_numpy(dtype=np.float64), steps=rows["step"].to_numpy())
    return [int(s) for s in spikes["step"]]


def _divergence_step(history: Any, frame: pd.DataFrame) -> int | None:
    """Step at which one run diverged, or None.

    ``History.diverged_at``; for a frame of one run, its ``diverged_at`` column, else its
    ``diverged`` flag (``warmup_lib.experiments`` frames: the trainer stops at the divergence, so
    it is the last recorded step), else the first step whose training loss is not finite.
    """
    if not isinstance(history, pd.DataFrame):
        value = getattr(history, "diverged_at", None)
        return None if value is None else int(value)
    if "diverged_at" in frame.columns:
        values = frame["diverged_at"].dropna()
        return int(values.iloc[0]) if len(values) else None
    if "diverged" in frame.columns:
        flags = frame["diverged"].dropna()
        if len(flags):
            return int(frame["step"].max()) if bool(flags.iloc[0]) else None
    if "train_loss" in frame.columns:
        bad = ~np.isfinite(frame["train_loss"].to_numpy(dtype=np.float64))
        if bad.any():
            return int(frame["step"].to_numpy()[bad.argmax()])
    return None


def plot_history(
    history_or_frame: Any,
    *,
    metrics: str | Sequence[str] = ("train_loss", "val_loss"),
    spikes: bool = True,
    lr: bool = True,
    log_loss: bool = False,
    warmup_steps: int | None = None,
    ylim: tuple[float | None, float | None] | None = None,
    title: str | None = None,
) -> Figure:
    """Loss curves of one training run, with the learning rate in a panel below.

    ``history_or_frame`` is a ``History`` or ``history.to_frame()``. Losses named in ``metrics``
    share the left axis; other metrics (``val_accuracy``) get a right-hand axis. Validation
    values appear only at evaluation steps (markers). ``spikes=True`` marks the spikes found by
    ``warmup_lib.diagnostics.find_spikes`` with open triangles in the colour of the curve they
    mark; a diverged run gets a black x at ``diverged_at``. The end of warmup comes from
    ``warmup_steps`` or from ``History.config``. Runaway losses are drawn at the top edge (see
    ``ylim``). To compare runs, :func:`plot_histories` puts them side by side on shared axes.
    """
    frame = _as_frame("history_or_frame", history_or_frame)
    if warmup_steps is not None:
        warmup_steps = check_int("warmup_steps", warmup_steps)
    else:
        warmup_steps = _warmup_from_config(getattr(history_or_frame, "config", None))
    return _plot_history_columns(
        {"history_or_frame": (None, history_or_frame, frame, warmup_steps)},
        metrics=metrics,
        spikes=spikes,
        lr=lr,
        log_loss=log_loss,
        ylim=ylim,
        title=title,
    )


def plot_histories(
    histories: Mapping[str, Any],
    *,
    metrics: str | Sequence[str] = ("train_loss", "val_loss"),
    spikes: bool = True,
    lr: bool = True,
    log_loss: bool = False,
    warmup_steps: int | Mapping[str, int | None] | None = None,
    ylim: tuple[float | None, float | None] | None = None,
    title: str | None = None,
) -> Figure:
    """Several runs side by side, one column each, on shared axes: e.g. without and with warmup.

    ``histories`` is a dict ``name -> History`` (or ``to_frame()`` frames, or the rows of one run
    of an ``experiments.compare`` frame). Each column is :func:`plot_history` of one run: losses on
    top, other metrics below, the learning rate at the bottom. Every row of panels shares its
    y-axis and all panels share the step axis, so a run that diverged early shows as a short
    curve and the heights compare at a glance. ``warmup_steps`` is one number for every run, a
    dict ``name -> int or None`` (``None``: no warmup marker), or ``None`` to read each run's
    ``History.config``. Each column has its own small legend, since spike counts and divergence
    steps differ between runs.
    """
    if not isinstance(histories, Mapping):
        raise TypeError(f"histories must be a dict name -> History, got {type(histories).__name__}")
    if not histories:
        raise ValueError("histories is an empty dict: give name -> History")
    if isinstance(warmup_steps, Mapping):
        unknown = sorted(set(map(str, warmup_steps)) - set(map(str, histories)))
        if unknown:
            raise ValueError(
                f"warmup_steps names runs that are not in histories: {unknown}; "
                f"the runs are {[str(k) for k in histories]}"
            )
    columns = {}
    for key, history in histories.items():
        name = str(key)
        frame = _as_frame(f"histories[{name!r}]", history)
        if isinstance(warmup_steps, Mapping):
            end = warmup_steps.get(key, warmup_steps.get(name))
        elif warmup_steps is not None:
            end = warmup_steps
        else:
            end = _warmup_from_config(getattr(history, "config", None))
        if end is not None:
            end = check_int(f"warmup_steps[{name!r}]", end)
        columns[f"histories[{name!r}]"] = (name, history, frame, end)
    return _plot_history_columns(
        columns, metrics=metrics, spikes=spikes, lr=lr, log_loss=log_loss, ylim=ylim, title=title
    )


def _plot_history_columns(
    columns: Mapping[str, tuple[str | None, Any, pd.DataFrame, int | None]],
    *,
    metrics: Any,
    spikes: Any,
    lr: Any,
    log_loss: Any,
    ylim: Any,
    title: Any,
) -> Figure:
    """One column of panels (losses, other metrics, LR) per run; ``columns`` maps the argument
    name used in error messages to ``(column title, history, frame, warmup_steps)``."""
    metrics = _check_names("metrics", metrics)
    check_bool("spikes", spikes)
    check_bool("lr", lr)
    check_bool("log_loss", log_loss)
    limits = _check_ylim(ylim)
    _check_title(title)
    for argument, (_, _, frame, _) in columns.items():
        _require_columns(argument, frame, ("step", *metrics, *(("lr",) if lr else ())))

    losses = [m for m in metrics if _is_loss(m)]
    others = [m for m in metrics if not _is_loss(m)]
    # Panels share the step axis: losses, then other metrics (accuracy has another unit), then LR.
    kinds = (["loss"] if losses else []) + (["other"] if others else []) + (["lr"] if lr else [])
    heights = {"loss": 3.0, "other": 1.6, "lr": 1.2}
    n_columns = len(columns)
    fig, axes_ = plt.subplots(
        len(kinds),
        n_columns,
        sharex=True,
        sharey="row",
        squeeze=False,
        layout="constrained",
        figsize=(
            7.0 if n_columns == 1 else 4.8 * n_columns,
            1.4 + 0.95 * sum(heights[k] for k in kinds),
        ),
        height_ratios=[heights[k] for k in kinds],
    )
    with _Drawing(fig, True):
        top = None
        if losses:
            everything = np.concatenate(
                [f[m].to_numpy(dtype=np.float64) for _, _, f, _ in columns.values() for m in losses]
            )
            firsts = [f[losses[0]].dropna() for _, _, f, _ in columns.values()]
            starts = np.array([float(v.iloc[0]) for v in firsts if len(v)])
            starts = starts[np.isfinite(starts)]
            reference = float(np.median(starts)) if starts.size else None
            top = (
                limits[1]
                if limits and limits[1] is not None
                else _auto_top(everything, reference, log=log_loss)
            )
        for col, (name, history, frame, warmup_steps) in enumerate(columns.values()):
            panel = dict(zip(kinds, axes_[:, col], strict=True))
            _draw_history_column(
                panel, history, frame, losses, others, spikes, log_loss, warmup_steps, top, limits
            )
            if name is not None:
                axes_[0, col].set_title(name)
                if losses:
                    # Low on the right: a trained run's losses are near 0 there, and the
                    # end-of-warmup label hangs from the top.
                    panel["loss"].legend(
                        loc="lower right", bbox_to_anchor=(1.0, 0.12), fontsize="x-small", framealpha=0.9
                    )
            if col > 0:
                for ax_ in axes_[:, col]:
                    ax_.set_ylabel("")
        for ax_ in axes_[-1, :]:
            _step_axis(ax_)
        if n_columns == 1:
            _finish_labels(fig, axes_[0, 0], True, title, ncols=2)
        elif title:
            fig.suptitle(title)
    return _finish(fig, True)


def _draw_history_column(
    panel: dict[str, Axes],
    history: Any,
    frame: pd.DataFrame,
    losses: list[str],
    others: list[str],
    spikes: bool,
    log_loss: bool,
    warmup_steps: int | None,
    top: float | None,
    limits: tuple[float | None, float | None] | None,
) -> None:
    """Draw one run into its panels (``"loss"``, ``"other"``, ``"lr"``, whichever exist)."""
    steps = frame["step"].to_numpy()
    diverged_at = _divergence_step(history, frame)
    if losses:
        ax_loss = panel["loss"]
        all_losses = np.concatenate([frame[m].to_numpy(dtype=np.float64) for m in losses])
        clipped_any = False
        for i, metric in enumerate(losses):
            values = frame[metric].to_numpy(dtype=np.float64)
            evaluated = ~np.isnan(values)
            sparse = evaluated.mean() < 0.5  # evaluated every few steps: show the points
            drawn, clipped = _clip_top(values[evaluated], top)
            clipped_any |= clipped
            ax_loss.plot(
                steps[evaluated],
                drawn,
                marker="o" if sparse else None,
                markersize=3.5,
                linewidth=1.4 if sparse else 1.0,
                label=_describe_column(metric)
                + (" (every step)" if not sparse else " (at evaluations)"),
                **series_style(i),
            )
        if spikes:
            spike_steps = _spike_steps(frame, losses[0])
            if diverged_at is not None:  # the blow-up itself is marked as a divergence
                spike_steps = [s for s in spike_steps if s < diverged_at]
            if spike_steps:
                at = frame.set_index("step").loc[spike_steps, losses[0]].to_numpy(dtype=np.float64)
                at, _ = _clip_top(at, top)
                ax_loss.plot(
                    spike_steps,
                    at,
                    linestyle="none",
                    marker="^",
                    markersize=8,
                    markerfacecolor="none",
                    markeredgewidth=1.5,
                    # The colour of the curve the spikes are found on, so it is clear which one.
                    color=series_style(0)["color"],
                    zorder=4,
                    label=f"loss spikes ({len(spike_steps)} found by find_spikes)",
                )
        if diverged_at is not None:
            finite = all_losses[np.isfinite(all_losses)]
            y = top if top is not None else (float(finite.max()) if finite.size else 1.0)
            at_step = frame.loc[frame["step"] == diverged_at, losses[0]].to_numpy(dtype=np.float64)
            if at_step.size and np.isfinite(at_step[0]) and (top is None or at_step[0] <= top):
                y = float(at_step[0])
            ax_loss.plot(
                [diverged_at],
                [y],
                linestyle="none",
                marker="X",
                markersize=11,
                color=_DIVERGED_COLOR,
                label=f"diverged at step {diverged_at} (training stopped)",
                zorder=5,
                clip_on=False,
            )
        if clipped_any:
            ax_loss.plot(
                [], [], linestyle="none", label=f"losses above {_fmt(top)} drawn at the top edge"
            )
        if log_loss:
            ax_loss.set_yscale("log")
        bottom = limits[0] if limits and limits[0] is not None else None
        if top is not None or bottom is not None:
            ax_loss.set_ylim(
                bottom=bottom, top=None if top is None else top * (1.3 if log_loss else 1.02)
            )
        ax_loss.set_ylabel(_axis_label(losses[0]) if len(losses) == 1 else f"loss ({_LOSS_UNITS})")
        if warmup_steps:
            mark_warmup_end(ax_loss, warmup_steps, position="bottom" if log_loss else "top")
    if others:
        ax_other = panel["other"]
        for j, metric in enumerate(others, start=len(losses)):
            values = frame[metric].to_numpy(dtype=np.float64)
            keep = ~np.isnan(values)
            ax_other.plot(
                steps[keep],
                values[keep],
                marker="s",
                markersize=3,
                linewidth=1.2,
                label=_describe_column(metric),
                **series_style(j),
            )
        ax_other.set_ylabel(_describe_column(others[0]) if len(others) == 1 else "metric")
        ax_other.yaxis.set_major_locator(MaxNLocator(4))
        if len(others) > 1:
            ax_other.legend(fontsize="small", loc="lower right")
        if warmup_steps:
            mark_warmup_end(ax_other, warmup_steps, text="")
    if "lr" in panel:
        ax_lr = panel["lr"]
        ax_lr.plot(steps, frame["lr"].to_numpy(dtype=np.float64), color=PALETTE[2], linewidth=1.6)
        ax_lr.set_ylabel("learning rate")
        ax_lr.set_ylim(bottom=0)
        ax_lr.yaxis.set_major_locator(MaxNLocator(3))
        if warmup_steps:
            mark_warmup_end(ax_lr, warmup_steps, text="")
    for ax_ in panel.values():
        ax_.grid(alpha=0.3)
        if diverged_at is not None:
            ax_.axvline(diverged_at, color=_DIVERGED_COLOR, linestyle="--", linewidth=1)


def plot_runs(
    histories: Mapping[str, Any],
    *,
    column: str = "train_loss",
    lr: bool = True,
    log_loss: bool = False,
    ylim: tuple[float | None, float | None] | None = None,
    title: str | None = None,
) -> Figure:
    """Several runs on one figure (e.g. with and without warmup): ``column`` on top, LR below.

    ``histories`` is a dict ``name -> History`` (or ``to_frame()`` frames). Each run keeps its
    colour and line style in both panels; a diverged run ends in a black x, and each run's end of
    warmup (from its config) is marked in its colour. Runaway losses are drawn at the top edge.
    """
    if not isinstance(histories, Mapping):
        raise TypeError(f"histories must be a dict name -> History, got {type(histories).__name__}")
    if not histories:
        raise ValueError("histories is an empty dict: give name -> History")
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name, got {column!r}")
    check_bool("lr", lr)
    check_bool("log_loss", log_loss)
    limits = _check_ylim(ylim)
    _check_title(title)
    runs = {}
    for key, history in histories.items():
        frame = _as_frame(f"histories[{key!r}]", history)
        _require_columns(f"histories[{key!r}]", frame, ("step", column, *(("lr",) if lr else ())))
        runs[str(key)] = (history, frame)

    everything = np.concatenate([f[column].to_numpy(dtype=np.float64) for _, f in runs.values()])
    firsts = [f[column].dropna() for _, f in runs.values()]
    starts = np.array([float(v.iloc[0]) for v in firsts if len(v)])
    starts = starts[np.isfinite(starts)]
    reference = float(np.median(starts)) if starts.size and _is_loss(column) else None
    top = (
        limits[1]
        if limits and limits[1] is not None
        else _auto_top(everything, reference, log=log_loss)
    )

    if lr:
        fig, (ax, ax_lr) = plt.subplots(
            2, 1, sharex=True, figsize=(7.0, 5.0), height_ratios=(3, 1.3), layout="constrained"
        )
    else:
        fig, ax = plt.subplots(figsize=(7.0, 4.0), layout="constrained")
        ax_lr = None
    with _Drawing(fig, True):
        clipped_finite = False
        for i, (name, (history, frame)) in enumerate(runs.items()):
            style = series_style(i)
            values = frame[column].to_numpy(dtype=np.float64)
            keep = ~np.isnan(values)
            steps = frame["step"].to_numpy()[keep]
            drawn, _ = _clip_top(values[keep], top)
            if top is not None:
                clipped_finite |= bool(np.any(np.isfinite(values) & (values > top)))
            diverged_at = _divergence_step(history, frame)
            label = name + (f" (diverged at step {diverged_at})" if diverged_at is not None else "")
            ax.plot(steps, drawn, linewidth=1.2, label=label, **style)
            if diverged_at is not None:
                last = drawn[steps <= diverged_at]
                y = float(last[-1]) if last.size and np.isfinite(last[-1]) else (top or 1.0)
                ax.plot(
                    [diverged_at],
                    [y],
                    linestyle="none",
                    marker="X",
                    markersize=10,
                    color=_DIVERGED_COLOR,
                    zorder=5,
                    clip_on=False,
                )
            end = _warmup_from_config(getattr(history, "config", None))
            if ax_lr is not None:
                ax_lr.plot(
                    frame["step"].to_numpy(),
                    frame["lr"].to_numpy(dtype=np.float64),
                    linewidth=1.6,
                    **style,
                )
            if end:
                mark_warmup_end(
                    ax, end, color=style["color"], position="bottom" if log_loss else "top"
                )
                if ax_lr is not None:
                    mark_warmup_end(ax_lr, end, color=style["color"], text="")
        if clipped_finite:
            ax.plot(
                [], [], linestyle="none", label=f"values above {_fmt(top)} drawn at the top edge"
            )
        if log_loss:
            ax.set_yscale("log")
        bottom = limits[0] if limits and limits[0] is not None else None
        if top is not None or bottom is not None:
            ax.set_ylim(
                bottom=bottom, top=None if top is None else top * (1.3 if log_loss else 1.03)
            )
        ax.set_ylabel(_axis_label(column))
        ax.grid(alpha=0.3)
        if ax_lr is not None:
            ax_lr.set_ylabel("learning rate")
            ax_lr.set_ylim(bottom=0)
            ax_lr.yaxis.set_major_locator(MaxNLocator(3))
            ax_lr.grid(alpha=0.3)
        _step_axis(ax_lr if ax_lr is not None else ax)
        _finish_labels(fig, ax, True, title, ncols=2)
    return _finish(fig, True)


# --------------------------------------------------------------------------------------------
# Many seeds per condition.
# --------------------------------------------------------------------------------------------


def _tidy_runs(
    runs: Any, column: str, label_by: str
) -> tuple[pd.DataFrame, dict[tuple[Any, Any], int | None]]:
    """Runs as one tidy frame (label_by, seed, step, column) plus each run's divergence step."""
    diverged: dict[tuple[Any, Any], int | None] = {}
    if isinstance(runs, Mapping):
        if not runs:
            raise ValueError("runs is an empty dict: give condition -> list of Histories")
        pieces = []
        for condition, histories in runs.items():
            if (
                not isinstance(histories, Sequence)
                or isinstance(histories, (str, bytes))
                or not histories
            ):
                raise TypeError(
                    f"runs[{condition!r}] must be a non-empty list of Histories (one per seed), "
                    f"got {type(histories).__name__}"
                )
            for i, history in enumerate(histories):
                frame = _as_frame(f"runs[{condition!r}][{i}]", history)
                _require_columns(f"runs[{condition!r}][{i}]", frame, ("step", column))
                config = getattr(history, "config", None)
                seed = config.get("seed", i) if isinstance(config, Mapping) else i
                seed = (
                    i if (condition, seed) in diverged else seed
                )  # duplicate seeds stay separate runs
                piece = frame[["step", column]].copy()
                piece[label_by], piece["seed"] = condition, seed
                pieces.append(piece)
                diverged[(condition, seed)] = _divergence_step(history, frame)
        return pd.concat(pieces, ignore_index=True), diverged
    if not isinstance(runs, pd.DataFrame):
        raise TypeError(
            "runs must be a tidy DataFrame (columns condition, seed, step and the value column) or a "
            f"dict condition -> list of Histories, got {type(runs).__name__}"
        )
    _require_columns("runs", runs, (label_by, "seed", "step", column))
    for (condition, seed), run in runs.groupby([label_by, "seed"], sort=False):
        diverged[(condition, seed)] = _divergence_step(run, run.sort_values("step"))
    return runs, diverged


def plot_seeds(
    runs: Any,
    *,
    column: str = "train_loss",
    label_by: str | None = None,
    warmup_steps: int | None = None,
    ax: Axes | None = None,
    log_y: bool = False,
    ylim: tuple[float | None, float | None] | None = None,
    title: str | None = None,
) -> Figure:
    """Every seed of every condition: thin translucent lines per seed, a bold median per condition.

    ``runs`` is a tidy DataFrame with columns ``condition`` (or the column named by ``label_by``),
    ``seed``, ``step`` and ``column``, or a dict ``condition -> list of Histories``. A diverged
    run counts as an infinite loss from its divergence step on, so the median shows the failure
    once half the seeds have failed; it is drawn at the top edge and its divergence step gets an
    x. The legend says how many seeds diverged. Losses that run away are clipped to ``ylim``
    (default: 10x the loss at step 0 on a linear axis).
    """
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name (a string), got {column!r}")
    if label_by is None:
        label_by = "condition"
    elif not isinstance(label_by, str):
        raise TypeError(
            f"label_by must be the name of the column holding the condition, got {label_by!r}"
        )
    if warmup_steps is not None:
        warmup_steps = check_int("warmup_steps", warmup_steps)
    check_bool("log_y", log_y)
    limits = _check_ylim(ylim)
    _check_ax(ax)
    _check_title(title)
    tidy, diverged = _tidy_runs(runs, column, label_by)

    loss_like = _is_loss(column)
    tables: dict[Any, pd.DataFrame] = {}
    # Steps where the column was not recorded (validation runs every few steps) are dropped, but
    # NaN/inf training losses stay: they are how a divergence shows.
    recorded = tidy if column == "train_loss" else tidy[tidy[column].notna()]
    for condition, rows in recorded.groupby(label_by, sort=False):
        table = rows.pivot_table(
            index="step", columns="seed", values=column, aggfunc="first", dropna=False
        ).sort_index()
        for seed in table.columns:
            at = diverged.get((condition, seed))
            if at is not None and loss_like:
                table.loc[table.index >= at, seed] = np.inf
        tables[condition] = table
    conditions = list(tables)

    everything = np.concatenate([t.to_numpy(dtype=np.float64).ravel() for t in tables.values()])
    starts = [t.iloc[0].to_numpy(dtype=np.float64) for t in tables.values() if len(t)]
    starts_flat = np.concatenate(starts) if starts else np.array([])
    starts_flat = starts_flat[np.isfinite(starts_flat)]
    reference = float(np.median(starts_flat)) if starts_flat.size and loss_like else None
    top = (
        limits[1]
        if limits and limits[1] is not None
        else _auto_top(everything, reference, log=log_y)
    )

    fig, ax, owned = _single_axes(ax, figsize=(7.0, 4.4))
    with _Drawing(fig, owned):
        clipped_finite = False  # a finite value above the top (infinite ones are the diverged runs)
        for i, condition in enumerate(conditions):
            table = tables[condition]
            style = series_style(i)
            steps = table.index.to_numpy()
            for seed in table.columns:
                values = table[seed].to_numpy(dtype=np.float64)
                drawn, _ = _clip_top(values, top)
                if top is not None:
                    clipped_finite |= bool(np.any(np.isfinite(values) & (values > top)))
                ax.plot(steps, drawn, color=style["color"], linewidth=0.8, alpha=0.35, zorder=2)
                at = diverged.get((condition, seed))
                if at is not None:
                    finite = values[np.isfinite(values)]
                    y = top if top is not None else (float(finite.max()) if finite.size else 1.0)
                    ax.plot(
                        [at],
                        [y],
                        linestyle="none",
                        marker="x",
                        markersize=7,
                        markeredgewidth=1.6,
                        color=style["color"],
                        zorder=4,
                        clip_on=False,
                    )
            with np.errstate(all="ignore"):
                median = (
                    np.nanmedian(table.to_numpy(dtype=np.float64), axis=1)
                    if table.size
                    else np.array([])
                )
            drawn, _ = _clip_top(median, top)
            n_runs = table.shape[1]
            n_diverged = sum(diverged.get((condition, s)) is not None for s in table.columns)
            label = f"{condition}: median of {n_runs} seed{'s' if n_runs != 1 else ''}"
            if n_diverged:
                label += f", {n_diverged}/{n_runs} diverged"
            ax.plot(steps, drawn, linewidth=2.4, label=label, zorder=3, **style)
        if any(v is not None for v in diverged.values()):
            ax.plot(
                [],
                [],
                linestyle="none",
                marker="x",
                color="0.2",
                markeredgewidth=1.6,
                label="a seed diverged here (drawn at the top edge after)",
            )
        if clipped_finite:
            ax.plot(
                [], [], linestyle="none", label=f"values above {_fmt(top)} drawn at the top edge"
            )
        if warmup_steps:
            mark_warmup_end(ax, warmup_steps, position="bottom")
        if log_y:
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
        if top is not None:
            ax.set_ylim(top=top * (1.3 if log_y else 1.03))
        if limits and limits[0] is not None:
            ax.set_ylim(bottom=limits[0])
        _step_axis(ax)
        ax.set_ylabel(_axis_label(column))
        ax.grid(alpha=0.3)
        _finish_labels(fig, ax, owned, title, ncols=2, inside="upper right")
    return _finish(fig, owned)


# --------------------------------------------------------------------------------------------
# Peak LR x warmup grids.
# --------------------------------------------------------------------------------------------


def _readable_text_color(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba`` (WCAG luminance)."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgba[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.179 else "white"


def plot_stability_frontier(
    table: pd.DataFrame,
    *,
    value: str = "success_rate",
    cmap: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Heatmap of a peak LR x warmup length grid: which combinations trained successfully.

    ``table`` is tidy, one row per cell (or per seed: rows of the same cell are averaged, so a
    0/1 ``success`` column becomes the fraction of seeds), with columns ``peak_lr``,
    ``warmup_steps`` and ``value``. Rows are peak LRs (largest at the top; one row per value, so a
    log-spaced grid looks like a log axis), columns are warmup lengths; each cell shows its value
    (``4/5`` when the table has an ``n_seeds`` column or one row per seed). ``success_rate`` uses
    viridis on [0, 1]; a ``*loss`` value uses reversed viridis (log scale when it spans a decade)
    so that bright still means good. Missing cells are grey with a dash.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"table must be a pandas DataFrame with columns peak_lr, warmup_steps, {value}; got {type(table).__name__}"
        )
    if not isinstance(value, str):
        raise TypeError(f"value must be a column name, got {value!r}")
    _require_columns("table", table, ("peak_lr", "warmup_steps", value))
    if cmap is not None and not isinstance(cmap, str):
        raise TypeError(
            f"cmap must be a colormap name such as 'viridis' or 'cividis', got {cmap!r}"
        )
    _check_ax(ax)
    _check_title(title)
    numeric = pd.to_numeric(table[value], errors="coerce")
    if numeric.isna().all():
        raise ValueError(f"table[{value!r}] has no numbers to plot")
    if (table["peak_lr"] <= 0).any():
        raise ValueError("table['peak_lr'] must be > 0 (the rows are placed on a log scale)")

    data = table.assign(**{value: numeric.astype(float)})
    grid = data.pivot_table(
        index="peak_lr", columns="warmup_steps", values=value, aggfunc="mean", dropna=False
    )
    grid = grid.sort_index().sort_index(axis=1)
    # Seeds per cell, to write "4/5": an n_seeds column, or one row per seed.
    counts = None
    if "n_seeds" in table.columns:
        counts = data.pivot_table(
            index="peak_lr", columns="warmup_steps", values="n_seeds", aggfunc="sum", dropna=False
        )
    elif data.duplicated(["peak_lr", "warmup_steps"]).any():
        counts = data.groupby(["peak_lr", "warmup_steps"])[value].count().unstack()
    if counts is not None:
        counts = counts.reindex(index=grid.index, columns=grid.columns)
    matrix = grid.to_numpy(dtype=np.float64)
    is_rate = (
        value.endswith("rate")
        or value in ("success", "diverged")
        or (np.nanmin(matrix) >= 0 and np.nanmax(matrix) <= 1 and not _is_loss(value))
    )
    lossy = _is_loss(value) and not is_rate
    colormap = plt.get_cmap(cmap or ("viridis_r" if lossy else "viridis")).with_extremes(bad="0.85")
    finite = matrix[np.isfinite(matrix)]
    if is_rate:
        norm: Normalize = Normalize(0.0, 1.0)
    elif lossy and finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        norm = LogNorm(finite.min(), finite.max())
    else:
        norm = Normalize(finite.min(), finite.max())

    n_rows, n_cols = matrix.shape
    fig, ax, owned = _single_axes(ax, figsize=(0.95 * n_cols + 2.8, max(3.6, 0.5 * n_rows + 1.7)))
    with _Drawing(fig, owned):
        image = ax.imshow(
            np.ma.masked_invalid(matrix), origin="lower", aspect="auto", cmap=colormap, norm=norm
        )
        for r in range(n_rows):
            for c in range(n_cols):
                v = matrix[r, c]
                if not np.isfinite(v):
                    ax.text(c, r, "–", ha="center", va="center", color="0.3", fontsize="small")
                    continue
                if counts is not None and is_rate and np.isfinite(counts.iat[r, c]):
                    n = int(counts.iat[r, c])
                    text = f"{round(v * n)}/{n}"
                else:
                    text = f"{v:.2f}" if is_rate else _fmt(v)
                ax.text(
                    c,
                    r,
                    text,
                    ha="center",
                    va="center",
                    fontsize="medium",
                    color=_readable_text_color(colormap(norm(v))),
                )
        ax.set_xticks(range(n_cols), [f"{w:g}" for w in grid.columns])
        ax.set_yticks(range(n_rows), [f"{lr:g}" for lr in grid.index])
        ax.set_xlabel("warmup length (optimizer steps)")
        ax.set_ylabel("peak learning rate")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        label = {
            "success_rate": "fraction of seeds that trained successfully",
            "final_loss": f"final training loss ({_LOSS_UNITS})",
        }.get(value, _axis_label(value))
        bar = fig.colorbar(image, ax=ax, label=label, shrink=0.9)
        if isinstance(norm, LogNorm):  # plain numbers (0.05, 0.1, 0.2, 0.5) rather than 10^-1 alone
            bar.ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            bar.ax.yaxis.set_minor_formatter(NullFormatter())
        if title:
            ax.set_title(title)
    return _finish(fig, owned)


def _condition_label(by: str, condition: Any) -> str:
    if by == "warmup_steps":
        steps = int(condition)
        return "no warmup" if steps == 0 else f"warmup {steps} steps"
    return str(condition)


_SPREADS = {"range": "min–max over seeds", "iqr": "interquartile range over seeds"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def plot_lr_sensitivity(
    table: pd.DataFrame,
    *,
    value: str = "final_val_loss",
    by: str | None = None,
    spread: str = "range",
    reference: float | Mapping[str, float] | None = None,
    log_y: bool = False,
    ylim: tuple[float | None, float | None] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Learning-rate sensitivity: the final ``value`` against the peak LR, one line per condition.

    Shows how wide the window of learning rates is in which training works, with and without
    warmup (the same base schedule, with and without the warmup factor; see
    :func:`warmup_lib.experiments.sweep`). ``table`` is either

    * one row per run — ``summarize_runs(frame)`` of the per-step frame that
      ``sweep(..., return_runs=True)`` returns — with columns ``peak_lr``, the condition column
      and ``value``: each condition's line is the median over seeds, with the ``spread``
      (``"range"``: min–max, ``"iqr"``: 25th–75th percentile) as a band and each seed as a
      faint dot; or
    * one row per cell — the table :func:`~warmup_lib.experiments.sweep` returns — with
      ``median_<value>``, ``min_<value>`` and ``max_<value>``: median line and min–max band.

    ``by`` names the condition column (default ``"condition"`` if present, else
    ``"warmup_steps"``, whose 0 reads "no warmup"). A diverged run has an infinite final loss:
    its dot is an x at the top edge, and a median of diverged runs runs along the top edge.
    ``reference`` draws horizontal lines: a number, or ``{"best possible loss": 0.79,
    "unigram loss": 3.07}``. The x axis is logarithmic, with a tick at every peak LR of the grid.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            "table must be a pandas DataFrame: summarize_runs(frame) (one row per run) or the "
            f"table returned by sweep (one row per peak LR and condition); got {type(table).__name__}"
        )
    if not isinstance(value, str):
        raise TypeError(f"value must be a column name such as 'final_val_loss', got {value!r}")
    if by is None:
        by = "condition" if "condition" in table.columns else "warmup_steps"
    elif not isinstance(by, str):
        raise TypeError(f"by must be the name of the column holding the condition, got {by!r}")
    if spread not in _SPREADS:
        raise ValueError(f"spread must be one of {', '.join(map(repr, _SPREADS))}; got {spread!r}")
    if reference is None:
        references: dict[str, float] = {}
    elif isinstance(reference, Mapping):
        references = {str(k): check_float(f"reference[{k!r}]", v) for k, v in reference.items()}
    else:
        references = {"reference": check_float("reference", reference)}
    check_bool("log_y", log_y)
    limits = _check_ylim(ylim)
    _check_ax(ax)
    _check_title(title)
    per_run = value in table.columns
    if per_run:
        _require_columns("table", table, ("peak_lr", by, value))
    else:
        needed = [f"{statistic}_{value}" for statistic in ("median", "min", "max")]
        missing = [c for c in ("peak_lr", by, *needed) if c not in table.columns]
        if missing:
            raise ValueError(
                f"table has no column {value!r} (one row per run) nor {', '.join(needed)} (one "
                f"row per cell, as sweep returns); it lacks {missing}; its columns are: "
                f"{', '.join(map(repr, table.columns))}"
            )
        if spread == "iqr":
            raise ValueError(
                "spread='iqr' needs one row per run (summarize_runs(frame)); the per-cell table "
                "of sweep only has the median, min and max"
            )
        _require_columns("table", table, ("peak_lr", by))
    peak_lrs = pd.to_numeric(table["peak_lr"], errors="coerce")
    if not (peak_lrs > 0).all():
        raise ValueError("table['peak_lr'] must hold numbers > 0 (they are placed on a log axis)")

    # Per condition, per peak LR: the median, the band, and the runs' values.
    lines: dict[Any, pd.DataFrame] = {}
    for condition, rows in table.assign(peak_lr=peak_lrs).groupby(by, sort=False):
        if per_run:
            values = rows[value].astype(float)
            grouped = values.groupby(rows["peak_lr"])
            low_q, high_q = (0.25, 0.75) if spread == "iqr" else (0.0, 1.0)
            summary = pd.DataFrame(
                {
                    "median": grouped.median(),
                    "low": grouped.quantile(low_q),
                    "high": grouped.quantile(high_q),
                    "n": grouped.size(),
                }
            )
        else:
            summary = (
                rows.set_index("peak_lr")[[f"median_{value}", f"min_{value}", f"max_{value}"]]
                .set_axis(["median", "low", "high"], axis=1)
                .astype(float)
            )
            summary["n"] = rows.set_index("peak_lr")["n_seeds"] if "n_seeds" in rows else np.nan
        lines[condition] = summary.sort_index()
    everything = np.concatenate(
        [t[["median", "low", "high"]].to_numpy(dtype=np.float64).ravel() for t in lines.values()]
        + ([table[value].to_numpy(dtype=np.float64)] if per_run else [])
    )
    finite = everything[np.isfinite(everything)]
    middle = float(np.median(finite)) if finite.size else None
    top = (
        limits[1]
        if limits and limits[1] is not None
        else _auto_top(everything, middle, log=log_y)
    )
    if top is None and finite.size and not np.isfinite(everything).all():
        top = float(finite.max()) * 1.1

    fig, ax, owned = _single_axes(ax, figsize=(7.0, 4.4))
    with _Drawing(fig, owned):
        n_conditions = len(lines)
        any_diverged = False
        for i, (condition, summary) in enumerate(lines.items()):
            style = series_style(i)
            color = style["color"]
            lrs = summary.index.to_numpy(dtype=np.float64)
            # Conditions' dots sit slightly apart on the log axis so they do not hide each other.
            shift = 10 ** (0.025 * (i - (n_conditions - 1) / 2))
            if per_run:
                rows = table[table[by] == condition]
                x = peak_lrs[rows.index].to_numpy(dtype=np.float64) * shift
                y = rows[value].to_numpy(dtype=np.float64)
                ok = np.isfinite(y)
                drawn, _ = _clip_top(y[ok], top)
                ax.scatter(x[ok], drawn, s=14, color=color, alpha=0.35, linewidths=0, zorder=2)
                if (~ok).any():
                    any_diverged = True
                    edge = top if top is not None else (float(finite.max()) if finite.size else 1.0)
                    ax.scatter(
                        x[~ok], np.full((~ok).sum(), edge), marker="x", s=30, color=color,
                        linewidths=1.4, zorder=4, clip_on=False,
                    )
            low, _ = _clip_top(summary["low"].to_numpy(dtype=np.float64), top)
            high, _ = _clip_top(summary["high"].to_numpy(dtype=np.float64), top)
            ax.fill_between(lrs, low, high, color=color, alpha=0.15, linewidth=0, zorder=1)
            median, _ = _clip_top(summary["median"].to_numpy(dtype=np.float64), top)
            counts = summary["n"].dropna()
            seeds = f", {int(counts.max())} seeds" if len(counts) else ""
            ax.plot(
                lrs,
                median,
                marker=_MARKERS[i % len(_MARKERS)],
                markersize=5,
                linewidth=2.0,
                label=f"{_condition_label(by, condition)}: median{seeds}",
                zorder=3,
                **style,
            )
        ax.fill_between([], [], [], color="0.5", alpha=0.25, linewidth=0, label=_SPREADS[spread])
        if per_run:
            ax.scatter([], [], s=14, color="0.4", alpha=0.5, linewidths=0, label="one seed")
        if any_diverged:
            ax.scatter(
                [], [], marker="x", s=30, color="0.2", linewidths=1.4,
                label="a seed diverged (drawn at the top edge)",
            )
        for j, (name, level) in enumerate(references.items()):
            ax.axhline(
                level,
                color="0.35",
                linestyle=(":", "-.", "--")[j % 3],
                linewidth=1.3,
                zorder=1.5,
                label=f"{name} ({_fmt(level)})",
            )
        ax.set_xscale("log")
        grid = np.unique(peak_lrs.to_numpy(dtype=np.float64))
        ax.set_xticks(grid, [f"{lr:g}" for lr in grid])
        ax.xaxis.set_minor_formatter(NullFormatter())
        if log_y:
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
        if top is not None:
            ax.set_ylim(top=top * (1.3 if log_y else 1.03))
        if limits and limits[0] is not None:
            ax.set_ylim(bottom=limits[0])
        ax.set_xlabel("peak learning rate (log scale)")
        words = "final " + _describe_column(value.removeprefix("final_").removeprefix("median_"))
        unit = f" ({_LOSS_UNITS})" if _is_loss(value) else ""
        ax.set_ylabel(words + unit)
        ax.grid(alpha=0.3)
        _finish_labels(fig, ax, owned, title, ncols=2, inside="upper left")
    return _finish(fig, owned)


# --------------------------------------------------------------------------------------------
# Imbalanced classification: confusion matrix, precision-recall, cost.
# --------------------------------------------------------------------------------------------


def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[str] | None = ("legitimate", "fraud"),
    normalize: str | None = None,
    colorbar: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Confusion matrix (rows: true class, columns: predicted class), coloured by rates.

    Class ``k`` is named ``labels[k]`` (classes are the integers 0..k-1; ``labels=None`` names
    them by their values). Every cell shows its count; with ``normalize="true"`` (rows sum to
    1: recall per class), ``"pred"`` (columns sum to 1: precision) or ``"all"``, it shows the
    fraction with the count below it.

    Colours show *rates*, not counts: by default the share of each true class (row) that lands
    in the cell, on a fixed 0-1 scale, or the fractions named by ``normalize``. Coloured by
    counts, a rare class is a pale row whatever the model does (60 frauds next to 11,940
    legitimate rows); coloured by row, "caught 41 of 60 frauds" is as dark as it is good.
    ``colorbar=True`` adds the scale.
    """
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    truth = as_1d("y_true", y_true)
    pred = as_1d("y_pred", y_pred)
    if truth.size != pred.size:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {truth.size} and {pred.size}"
        )
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all'; got {normalize!r}")
    check_bool("colorbar", colorbar)
    _check_ax(ax)
    _check_title(title)
    present = np.unique(np.concatenate([truth, pred]))
    if labels is not None:
        if isinstance(labels, str) or not isinstance(labels, Sequence) or not labels:
            raise TypeError(
                f"labels must be a sequence of class names such as ('legitimate', 'fraud') or None, got {labels!r}"
            )
        names = [str(x) for x in labels]
        classes = list(range(len(names)))
        if not np.all(np.isin(present, classes)):
            shown = ", ".join(map(str, present[:10]))
            raise ValueError(
                f"labels names {len(names)} classes (0..{len(names) - 1}) but the data holds the classes "
                f"{shown}; pass one name per class, or labels=None"
            )
    else:
        classes = present.tolist()
        names = [str(c) for c in classes]
    counts = confusion_matrix(truth, pred, labels=classes)
    rates = _confusion_rates(counts, normalize or "true")

    size = max(3.6, 0.9 * len(classes) + 2.6)
    fig, ax, owned = _single_axes(ax, figsize=(size + (1.6 if colorbar else 0.8), size))
    with _Drawing(fig, owned):
        display = ConfusionMatrixDisplay(confusion_matrix=rates, display_labels=names)
        display.plot(ax=ax, cmap="Blues", colorbar=False, im_kw={"vmin": 0.0, "vmax": 1.0})
        image = display.im_
        for (r, c), text in np.ndenumerate(display.text_):
            if normalize is None:
                text.set_text(f"{counts[r, c]:,}")
            else:
                text.set_text(f"{rates[r, c]:.2f}\n({counts[r, c]:,})")
            text.set_color(_readable_text_color(image.cmap(image.norm(rates[r, c]))))
        if colorbar:
            bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
            bar.set_label(_RATE_NAMES[normalize or "true"])
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        if title:
            ax.set_title(title)
    return _finish(fig, owned)


_RATE_NAMES = {
    "true": "share of the true class (row)",
    "pred": "share of the predicted class (column)",
    "all": "share of all rows",
}


def _confusion_rates(counts: np.ndarray, normalize: str) -> np.ndarray:
    """Counts divided by their row, column or grand total; 0 where that total is 0 (as sklearn)."""
    counts = counts.astype(np.float64)
    if normalize == "true":
        totals = counts.sum(axis=1, keepdims=True)
    elif normalize == "pred":
        totals = counts.sum(axis=0, keepdims=True)
    else:
        totals = np.full((1, 1), counts.sum())
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _named_scores(name: str, scores_or_dict: Any, n: int) -> dict[str, np.ndarray]:
    if isinstance(scores_or_dict, Mapping):
        if not scores_or_dict:
            raise ValueError(f"{name} is an empty dict: give model name -> scores")
        return {str(k): as_scores(f"{name}[{k!r}]", v, n) for k, v in scores_or_dict.items()}
    return {"model": as_scores(name, scores_or_dict, n)}


def _thresholds_for(name: str, value: Any, key: str) -> list[float]:
    """Operating points for one curve: a number, a sequence, or a dict entry for ``key``."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        value = value.get(key)
        if value is None:
            return []
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return [check_float(name, value)]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [check_float(f"{name}[{i}]", v) for i, v in enumerate(value)]
    raise TypeError(
        f"{name} must be a threshold, a list of thresholds or a dict name -> threshold(s), got {value!r}"
    )


def plot_pr_curve(
    y_true: Any,
    scores_or_dict: Any,
    *,
    operating_point: float | Sequence[float] | Mapping[str, Any] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Precision-recall curve(s) with average precision (AP) in the legend.

    ``scores_or_dict`` is one array of scores (higher = more likely positive) or a dict
    ``model name -> scores``. The horizontal line is a classifier with no skill: its precision is
    the base rate (the fraction of positives), which for fraud is tiny, so the line sits near 0.
    ``operating_point`` marks thresholds (a number, a list, or a dict name -> threshold(s)) with a
    dot at the precision and recall of flagging ``score >= threshold``.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    from .metrics import cost_curve

    truth = as_binary_labels("y_true", y_true)
    named = _named_scores("scores_or_dict", scores_or_dict, truth.size)
    if truth.sum() == 0:
        raise ValueError("y_true has no positive examples (1s): precision and recall are undefined")
    _check_ax(ax)
    _check_title(title)
    points = {n: _thresholds_for("operating_point", operating_point, n) for n in named}

    base_rate = truth.mean()
    fig, ax, owned = _single_axes(ax, figsize=(5.6, 5.0))
    with _Drawing(fig, owned):
        for i, (name, scores) in enumerate(named.items()):
            precision, recall, _ = precision_recall_curve(truth, scores)
            ap = average_precision_score(truth, scores)
            style = series_style(i)
            ax.step(
                recall,
                precision,
                where="post",
                linewidth=1.8,
                label=f"{name} (AP = {ap:.3f})",
                **style,
            )
            if points[name]:
                at = cost_curve(truth, scores, thresholds=points[name])
            for _, row in at.iterrows() if points[name] else ():
                if row["tp"] + row["fp"] == 0:
                    continue  # nothing flagged: precision is undefined, there is no point to draw
                threshold, p, r = row["threshold"], row["precision"], row["recall"]
                ax.plot(
                    [r],
                    [p],
                    marker="o",
                    markersize=8,
                    color=style["color"],
                    markeredgecolor="black",
                    zorder=5,
                    linestyle="none",
                )
                ax.annotate(
                    f"threshold {threshold:g}\nP = {p:.2f}, R = {r:.2f}",
                    xy=(r, p),
                    xytext=(-8, -8),
                    textcoords="offset points",
                    ha="right",
                    va="top",
                    fontsize="x-small",
                    bbox={
                        "boxstyle": "round,pad=0.2",
                        "facecolor": "white",
                        "edgecolor": style["color"],
                        "alpha": 0.85,
                    },
                )
        ax.axhline(
            base_rate,
            color="0.4",
            linestyle=":",
            linewidth=1.4,
            label=f"chance = base rate {base_rate:.3g}",
        )
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.05)
        ax.set_xlabel("recall = TP / (TP + FN): share of positives caught")
        ax.set_ylabel("precision = TP / (TP + FP): share of flags that are right")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize="small", framealpha=0.9)
        if title:
            ax.set_title(title)
    return _finish(fig, owned)


def plot_cost_vs_threshold(
    y_true: Any,
    scores: Any,
    *,
    cost_fp: float = 1.0,
    cost_fn: float = 50.0,
    mark: float | Sequence[float] | Mapping[str, float] | None = None,
    log_x: bool | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Total cost ``cost_fp * FP + cost_fn * FN`` of flagging ``score >= threshold``, for every threshold.

    The lowest cost is marked, and so is the Bayes threshold ``cost_fp / (cost_fp + cost_fn)``:
    the best threshold when the scores are calibrated probabilities (Elkan 2001); how far the
    two marks lie apart shows how well calibrated the scores are. The dotted line is the cost of
    flagging nothing (``cost_fn`` times the number of positives): a model must beat it.
    ``mark`` adds thresholds of your own (a number, a list, or a dict label -> threshold).
    ``log_x=None`` picks a log threshold axis when scores are probabilities and the Bayes
    threshold is below 0.1. The numbers come from :func:`warmup_lib.metrics.cost_curve` and
    :func:`~warmup_lib.metrics.threshold_for_cost`, so the figure and the tables agree.
    """
    from .metrics import bayes_threshold, cost_curve, threshold_for_cost

    truth = as_binary_labels("y_true", y_true)
    values = as_scores("scores", scores, truth.size)
    cost_fp = check_float("cost_fp", cost_fp, min_value=0.0, min_open=True)
    cost_fn = check_float("cost_fn", cost_fn, min_value=0.0, min_open=True)
    if truth.min() == truth.max():
        raise ValueError(
            f"y_true must contain both classes (0 and 1) to compare thresholds, found only {truth[0]}"
        )
    if log_x is not None:
        check_bool("log_x", log_x)
    _check_ax(ax)
    _check_title(title)
    if isinstance(mark, Mapping):
        marks = {str(k): check_float(f"mark[{k!r}]", v) for k, v in mark.items()}
    else:
        marks = {f"threshold {t:g}": t for t in _thresholds_for("mark", mark, "")}

    probabilities = values.min() >= 0 and values.max() <= 1
    bayes = bayes_threshold(cost_fp, cost_fn)
    if log_x is None:
        log_x = bool(probabilities and bayes < 0.1)
    if log_x and values.max() <= 0:
        raise ValueError("log_x=True needs positive scores; pass log_x=False")

    def cost(thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
        return cost_curve(
            truth, values, cost_fp, cost_fn, thresholds=np.asarray(thresholds, dtype=float)
        )["cost"].to_numpy()

    unique = np.unique(values)
    # Each unique score is where the cost can change; one more point past the top flags nothing.
    top = unique[-1] + (1e-9 if unique[-1] == 0 else abs(unique[-1]) * 1e-6)
    grid = np.concatenate([unique, [top]])
    if log_x:
        grid = grid[grid > 0]
    costs = cost(grid)
    # warmup_lib.metrics picks the threshold (the highest of equally cheap ones; inf = flag nothing).
    best_threshold = threshold_for_cost(truth, values, cost_fp, cost_fn)
    best_cost = float(cost([min(best_threshold, top)])[0])
    drawn_at = min(max(best_threshold, grid[0]), top)

    fig, ax, owned = _single_axes(ax, figsize=(6.8, 4.2))
    with _Drawing(fig, owned):
        ax.plot(
            grid, costs, drawstyle="steps-pre", color=PALETTE[0], linewidth=1.6, label="total cost"
        )
        where = "flag nothing" if math.isinf(best_threshold) else f"threshold {best_threshold:.3g}"
        ax.plot(
            [drawn_at],
            [best_cost],
            marker="o",
            markersize=9,
            color=PALETTE[2],
            markeredgecolor="black",
            linestyle="none",
            zorder=5,
            label=f"lowest cost {_fmt(best_cost)} at {where}",
        )
        if probabilities:
            bayes_cost = float(cost([bayes])[0])
            ax.axvline(bayes, color=PALETTE[1], linestyle="--", linewidth=1.3)
            ax.plot(
                [bayes],
                [bayes_cost],
                marker="D",
                markersize=7,
                color=PALETTE[1],
                markeredgecolor="black",
                linestyle="none",
                zorder=5,
                label=f"Bayes threshold c_FP/(c_FP+c_FN) = {bayes:.3g}: cost {_fmt(bayes_cost)}",
            )
        for i, (label, threshold) in enumerate(marks.items()):
            at = float(cost([threshold])[0])
            ax.plot(
                [threshold],
                [at],
                marker="s",
                markersize=7,
                color=PALETTE[(3 + i) % len(PALETTE)],
                markeredgecolor="black",
                linestyle="none",
                zorder=5,
                label=f"{label}: cost {_fmt(at)}",
            )
        flag_nothing = cost_fn * int(truth.sum())
        ax.axhline(
            flag_nothing,
            color="0.4",
            linestyle=":",
            linewidth=1.3,
            label=f"flag nothing (no model): cost {_fmt(flag_nothing)}",
        )
        if log_x:
            ax.set_xscale("log")
        # Flagging everyone is absurdly expensive; stop the axis at twice the no-model cost so the
        # differences near the minimum stay visible (the curve leaves through the top).
        ax.set_ylim(0, max(1.05 * min(float(costs.max()), 2.0 * max(flag_nothing, best_cost)), 1.0))
        ax.set_xlabel(
            "decision threshold (flag when score ≥ threshold)" + (", log scale" if log_x else "")
        )
        ax.set_ylabel(f"total cost = {_fmt(cost_fp)}·FP + {_fmt(cost_fn)}·FN")
        ax.grid(alpha=0.3)
        # Inside: the cost is high on the left and near the no-model line on the right, so the
        # upper right stays empty, and five stacked entries above the plot would squash it.
        ax.legend(loc="upper right", fontsize="small", framealpha=0.9)
        if title:
            ax.set_title(title)
    return _finish(fig, owned)


# --------------------------------------------------------------------------------------------
# Why warmup works: update size, sharpness, and logging granularity.
# --------------------------------------------------------------------------------------------


def plot_update_ratio(
    histories: Any,
    *,
    column: str = "update_ratio",
    warmup_steps: int | None = None,
    log_y: bool = True,
    max_step: int | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Relative update size ``‖Δw‖ / ‖w‖`` per optimizer step (Kosson et al. 2024, arXiv 2410.23922).

    ``histories`` is one History/frame or a dict ``name -> History/frame`` (e.g. with and without
    warmup). Without warmup the first updates are the largest relative to the weights; warmup
    keeps them small while the optimizer's statistics settle. ``max_step`` zooms in on the start.
    """
    if isinstance(histories, Mapping):
        if not histories:
            raise ValueError("histories is an empty dict: give name -> History")
        named = {str(k): (v, _as_frame(f"histories[{k!r}]", v)) for k, v in histories.items()}
    else:
        named = {"run": (histories, _as_frame("histories", histories))}
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name, got {column!r}")
    for key, (_, frame) in named.items():
        _require_columns(
            "histories" if len(named) == 1 and key == "run" else f"histories[{key!r}]",
            frame,
            ("step", column),
        )
    if warmup_steps is not None:
        warmup_steps = check_int("warmup_steps", warmup_steps)
    check_bool("log_y", log_y)
    if max_step is not None:
        max_step = check_int("max_step", max_step, min_value=1)
    _check_ax(ax)
    _check_title(title)

    fig, ax, owned = _single_axes(ax, figsize=(6.8, 4.0))
    with _Drawing(fig, owned):
        by_step: dict[int, list[int]] = {}  # end of warmup -> indices of the runs that have it
        for i, (name, (history, frame)) in enumerate(named.items()):
            rows = frame if max_step is None else frame[frame["step"] <= max_step]
            values = rows[column].to_numpy(dtype=np.float64)
            keep = np.isfinite(values) & ((values > 0) if log_y else True)
            ax.plot(
                rows["step"].to_numpy()[keep],
                values[keep],
                linewidth=1.5,
                label=name if len(named) > 1 else None,
                **series_style(i),
            )
            end = (
                warmup_steps
                if warmup_steps is not None
                else _warmup_from_config(getattr(history, "config", None))
            )
            if end and (max_step is None or end <= max_step):
                by_step.setdefault(end, []).append(i)
        for end, members in by_step.items():
            color = (
                series_style(members[0])["color"]
                if len(members) == 1 and len(named) > 1
                else _WARMUP_COLOR
            )
            mark_warmup_end(ax, end, color=color, position="top")
        if log_y:
            ax.set_yscale("log")
        _step_axis(ax)
        ax.set_ylabel(_axis_label(column) + (" (log scale)" if log_y else ""))
        ax.grid(alpha=0.3, which="both" if log_y else "major")
        _finish_labels(fig, ax, owned, title, ncols=3, inside="best")
    return _finish(fig, owned)


def plot_sharpness(
    steps: Any,
    sharpness: Any,
    lrs: Any,
    *,
    warmup_steps: int | None = None,
    log_y: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Sharpness (top Hessian eigenvalue) against the stability threshold ``2 / lr`` (Gilmer et al. 2021).

    Gradient descent on a quadratic with curvature λ is stable only while ``lr < 2 / λ``, i.e.
    while the sharpness stays below ``2 / lr``. Warmup starts with a small LR (a high threshold)
    and lowers the threshold slowly enough for training to move to flatter regions. Steps where
    the sharpness exceeds ``2 / lr`` are shaded. ``lrs`` is one LR per step or a single number.
    """
    x = as_numbers("steps", steps, unit="one value per step")
    s = as_numbers("sharpness", sharpness, unit="one value per step")
    if s.size != x.size:
        raise ValueError(
            f"sharpness must have one value per step: steps has {x.size}, sharpness has {s.size}"
        )
    if np.ndim(lrs) == 0 and not hasattr(lrs, "detach"):
        rate = np.full_like(x, check_float("lrs", lrs, min_value=0.0))
    else:
        rate = as_numbers("lrs", lrs, unit="one value per step")
        if rate.size != x.size:
            raise ValueError(
                f"lrs must be one learning rate per step ({x.size}) or a single number, got {rate.size}"
            )
        if np.any(rate < 0) or not np.all(np.isfinite(rate)):
            raise ValueError("lrs must be finite and >= 0")
    if warmup_steps is not None:
        warmup_steps = check_int("warmup_steps", warmup_steps)
    check_bool("log_y", log_y)
    _check_ax(ax)
    _check_title(title)

    with np.errstate(divide="ignore"):
        threshold = np.where(rate > 0, 2.0 / rate, np.inf)
    fig, ax, owned = _single_axes(ax, figsize=(6.8, 4.0))
    with _Drawing(fig, owned):
        ax.plot(
            x,
            s,
            marker="o",
            markersize=3,
            linewidth=1.6,
            label="sharpness λ_max (top Hessian eigenvalue)",
            **series_style(0),
        )
        shown = np.where(np.isfinite(threshold), threshold, np.nan)
        ax.plot(
            x,
            shown,
            linewidth=1.6,
            label="stability threshold 2 / learning rate",
            **series_style(1),
        )
        unstable = np.isfinite(s) & (s > threshold)
        if unstable.any():
            ax.plot(
                x[unstable],
                s[unstable],
                linestyle="none",
                marker="o",
                markersize=6,
                color=PALETTE[1],
                zorder=4,
                label="unstable: sharpness > 2 / lr",
            )
        if warmup_steps:
            mark_warmup_end(ax, warmup_steps, position="bottom")
        if log_y:
            ax.set_yscale("log")
        finite = np.concatenate([s[np.isfinite(s) & (s > 0)], shown[np.isfinite(shown)]])
        if finite.size and np.isfinite(s).any():
            # The threshold is huge while the LR is tiny; keep the sharpness in view.
            s_max = np.nanmax(np.where(np.isfinite(s), s, np.nan))
            ax.set_ylim(
                top=max(
                    s_max * (5 if log_y else 1.5),
                    np.nanmin(shown) * 1.2 if np.isfinite(shown).any() else 0,
                )
            )
        _shade_unstable_region(ax, x, threshold)
        _step_axis(ax)
        ax.set_ylabel("sharpness λ_max and 2 / lr" + (" (log scale)" if log_y else ""))
        ax.grid(alpha=0.3)
        _finish_labels(fig, ax, owned, title, ncols=2, inside="best")
    return _finish(fig, owned)


def _biggest_jump(values: np.ndarray, labels: np.ndarray, unit: str) -> str:
    """The largest rise from one logged value to the next, in words: "biggest jump +3.05 at step 1"."""
    rises = np.diff(values)
    rises = np.where(np.isfinite(rises), rises, -np.inf)
    if rises.size == 0 or rises.max() <= 0:
        return "never rises"
    at = int(np.argmax(rises))
    return f"biggest jump +{_fmt(rises[at])} at {unit} {labels[at + 1]}"


def _shade_unstable_region(ax: Axes, x: np.ndarray, threshold: np.ndarray) -> None:
    """Shade everything above the ``2 / lr`` line: a sharpness up there makes a step overshoot.

    Drawn after the y-limits are set (the region reaches the top of the axes) and without
    changing them.
    """
    finite = np.isfinite(threshold)
    if not finite.any():
        return
    bottom, top = ax.get_ylim()
    lower = np.where(finite, np.minimum(threshold, top), np.nan)
    ax.fill_between(
        x,
        lower,
        top,
        where=finite,
        color=PALETTE[1],
        alpha=0.10,
        linewidth=0,
        zorder=0,
        label="unstable region: above 2 / lr",
    )
    ax.set_ylim(bottom, top)


def plot_epoch_vs_step(
    history_or_frame: Any,
    *,
    column: str = "train_loss",
    steps_per_epoch: int | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Per-step loss against the per-epoch average an epoch-level logger would report.

    An epoch average of hundreds of steps can hide a spike entirely, which is why the Deep
    Learning Tuning Playbook asks to log often. Needs the ``epoch`` column of
    ``History.to_frame()``, or ``steps_per_epoch`` (epoch = step // steps_per_epoch). The
    legend compares the spikes, not the starting loss: for each log, its biggest jump - the
    largest rise from one logged value to the next - and where it happens, or "never rises".
    """
    frame = _as_frame("history_or_frame", history_or_frame)
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name, got {column!r}")
    if steps_per_epoch is not None:
        steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, min_value=1)
        _require_columns("history_or_frame", frame, ("step", column))
        epochs = frame["step"].to_numpy() // steps_per_epoch
    else:
        if "epoch" not in frame.columns:
            valid = ", ".join(repr(c) for c in frame.columns)
            raise ValueError(
                f"history_or_frame has no column 'epoch' (its columns are: {valid}); pass "
                "steps_per_epoch=... to group the steps into epochs"
            )
        _require_columns("history_or_frame", frame, ("step", column))
        epochs = frame["epoch"].to_numpy()
    _check_ax(ax)
    _check_title(title)

    steps = frame["step"].to_numpy()
    values = frame[column].to_numpy(dtype=np.float64)
    per_epoch = (
        pd.DataFrame({"epoch": epochs, "step": steps, "value": values})
        .groupby("epoch", sort=True)
        .agg(first=("step", "min"), last=("step", "max"), mean=("value", "mean"))
    )
    fig, ax, owned = _single_axes(ax, figsize=(7.0, 4.0))
    with _Drawing(fig, owned):
        ax.plot(
            steps,
            values,
            linewidth=0.9,
            alpha=0.85,
            label=f"logged every step ({_biggest_jump(values, steps, 'step')})",
            **series_style(0),
        )
        edges = np.append(per_epoch["first"].to_numpy(), per_epoch["last"].to_numpy()[-1] + 1)
        means = per_epoch["mean"].to_numpy()
        ax.stairs(
            means,
            edges,
            linewidth=2.4,
            baseline=None,
            label=f"epoch average ({_biggest_jump(means, per_epoch.index.to_numpy(), 'epoch')})",
            color=PALETTE[1],
            linestyle="--",
        )
        ax.plot(
            per_epoch["last"].to_numpy(),
            means,
            linestyle="none",
            marker="o",
            markersize=5,
            color=PALETTE[1],
        )
        _step_axis(ax)
        ax.set_ylabel(_axis_label(column))
        ax.grid(alpha=0.3)
        _finish_labels(fig, ax, owned, title, ncols=2, inside="upper right")
    return _finish(fig, owned)


# --------------------------------------------------------------------------------------------
# Sharpness of many runs, and the two-parameter u·v model.
# --------------------------------------------------------------------------------------------


def plot_sharpness_runs(
    table: Any,
    *,
    label_by: str = "condition",
    warmup_steps: int | Mapping[str, int | None] | None = None,
    log_y: bool = True,
    title: str | None = None,
) -> Figure:
    """Sharpness against ``2 / lr`` for every seed, one panel per condition on shared axes.

    ``table`` is the sharpness frame of :func:`warmup_lib.diagnostics.track_sharpness` (columns
    ``condition`` -- or ``label_by`` -- ``seed, step, lr, sharpness``). Each panel draws every
    seed's sharpness, the stability threshold ``2 / lr`` of its schedule, and shades the region
    above that line, where a gradient step overshoots (Gilmer et al. 2021, arXiv 2110.04369);
    measurements inside it are filled in vermillion. A seed whose measurements end early (a run
    stops being measured when it diverges) gets a black x at its last one. ``warmup_steps`` is
    one number for every panel or a dict ``condition -> int or None``.
    """
    frame = _as_frame("table", table)
    if not isinstance(label_by, str):
        raise TypeError(f"label_by must be the name of the condition column, got {label_by!r}")
    _require_columns("table", frame, (label_by, "seed", "step", "lr", "sharpness"))
    if frame.empty:
        raise ValueError("table is empty: there is nothing to plot")
    check_bool("log_y", log_y)
    _check_title(title)
    conditions = [str(c) for c in pd.unique(frame[label_by])]
    ends: dict[str, int | None] = {}
    for condition in conditions:
        value = warmup_steps.get(condition) if isinstance(warmup_steps, Mapping) else warmup_steps
        ends[condition] = (
            None if value is None else check_int(f"warmup_steps[{condition!r}]", value)
        )

    values = frame["sharpness"].to_numpy(dtype=np.float64)
    shown = values[np.isfinite(values) & ((values > 0) if log_y else True)]
    if shown.size == 0:
        raise ValueError("table has no finite sharpness to plot" + (" above 0" if log_y else ""))
    n = len(conditions)
    fig, axes_ = plt.subplots(
        1,
        n,
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
        figsize=(7.0 if n == 1 else 5.0 * n, 4.6),
    )
    with _Drawing(fig, True):
        last_step = frame["step"].max()
        for ax, condition in zip(axes_[0], conditions, strict=True):
            rows = frame[frame[label_by].astype(str) == condition].sort_values("step")
            lr_by_step = rows.groupby("step")["lr"].max()
            x = lr_by_step.index.to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore"):
                threshold = np.where(lr_by_step > 0, 2.0 / lr_by_step.to_numpy(np.float64), np.inf)
            for i, (_, run) in enumerate(rows.groupby("seed", sort=True)):
                steps = run["step"].to_numpy(dtype=np.float64)
                sharp = run["sharpness"].to_numpy(dtype=np.float64)
                keep = np.isfinite(sharp) & ((sharp > 0) if log_y else True)
                ax.plot(
                    steps[keep],
                    sharp[keep],
                    color=PALETTE[0],
                    linewidth=1.0,
                    alpha=0.75,
                    marker="o",
                    markersize=2.5,
                    label="sharpness λ_max (one line per seed)" if i == 0 else None,
                )
                with np.errstate(divide="ignore"):
                    limit = np.where(run["lr"] > 0, 2.0 / run["lr"].to_numpy(np.float64), np.inf)
                over = keep & (sharp > limit)
                if over.any():
                    ax.plot(
                        steps[over],
                        sharp[over],
                        linestyle="none",
                        marker="o",
                        markersize=5,
                        color=PALETTE[1],
                        zorder=4,
                        label="unstable: sharpness > 2 / lr",
                    )
                if steps[-1] < last_step and keep[-1]:
                    ax.plot(
                        [steps[-1]],
                        [sharp[-1]],
                        linestyle="none",
                        marker="X",
                        markersize=9,
                        color=_DIVERGED_COLOR,
                        zorder=5,
                        label="run diverged (measured no further)",
                    )
            ax.plot(
                x,
                np.where(np.isfinite(threshold), threshold, np.nan),
                linewidth=1.8,
                label="stability threshold 2 / learning rate",
                **series_style(1),
            )
            if ends[condition]:
                mark_warmup_end(ax, ends[condition], position="top")
            ax.set_title(condition)
            ax.grid(alpha=0.3)
            _step_axis(ax)
        first = axes_[0, 0]
        if log_y:
            first.set_yscale("log")
            first.set_ylim(shown.min() / 2, shown.max() * 3)
        else:
            first.set_ylim(0, shown.max() * 1.15)
        for ax, condition in zip(axes_[0], conditions, strict=True):
            rows = frame[frame[label_by].astype(str) == condition]
            lr_by_step = rows.groupby("step")["lr"].max()
            with np.errstate(divide="ignore"):
                threshold = np.where(lr_by_step > 0, 2.0 / lr_by_step.to_numpy(np.float64), np.inf)
            _shade_unstable_region(ax, lr_by_step.index.to_numpy(dtype=np.float64), threshold)
        first.set_ylabel("sharpness λ_max and 2 / lr" + (" (log scale)" if log_y else ""))
        _legend_above(fig, axes_[0], title)
    return _finish(fig, True)


def plot_uv_descent(
    runs: Mapping[str, Sequence[Any]],
    *,
    peak_lr: float,
    target: float = 1.0,
    extent: tuple[float, float, float, float] = (-0.5, 3.5, -1.5, 2.5),
    title: str | None = None,
) -> Figure:
    """Gradient-descent paths of the u·v model on its loss surface, one panel per condition.

    ``runs`` is a dict ``condition -> list of frames`` from :func:`warmup_lib.uv_model.descend`
    (one frame per start; the i-th start gets the i-th colour in every panel, so the same start
    can be followed with and without warmup). The grey background is the loss (log scale), the
    black curve the valley floor ``u * v = target``, and its thick green part the floor where
    the sharpness ``u**2 + v**2`` is below ``2 / peak_lr``: the only minima the peak learning rate
    can stay in. A run that diverged is drawn until it leaves the picture, where it gets an x.
    ``extent`` is ``(u_min, u_max, v_min, v_max)``.
    """
    from . import uv_model

    if not isinstance(runs, Mapping) or not runs:
        raise TypeError(
            "runs must be a non-empty dict condition -> list of uv_model.descend frames"
        )
    peak_lr = check_float("peak_lr", peak_lr, min_value=0.0, min_open=True)
    target = check_float("target", target)
    if not (isinstance(extent, Sequence) and len(extent) == 4):
        raise TypeError(f"extent must be (u_min, u_max, v_min, v_max), got {extent!r}")
    u_min, u_max, v_min, v_max = (check_float(f"extent[{i}]", e) for i, e in enumerate(extent))
    if not (u_min < u_max and v_min < v_max):
        raise ValueError(f"extent must have u_min < u_max and v_min < v_max, got {extent!r}")
    paths: dict[str, list[pd.DataFrame]] = {}
    for name, frames in runs.items():
        if isinstance(frames, pd.DataFrame) or not isinstance(frames, Sequence) or not frames:
            raise TypeError(
                f"runs[{name!r}] must be a non-empty list of uv_model.descend frames (one per start)"
            )
        paths[str(name)] = [_as_frame(f"runs[{name!r}][{i}]", f) for i, f in enumerate(frames)]
        for i, f in enumerate(paths[str(name)]):
            _require_columns(f"runs[{name!r}][{i}]", f, ("u", "v", "diverged"))

    grid_u, grid_v = np.meshgrid(np.linspace(u_min, u_max, 240), np.linspace(v_min, v_max, 240))
    surface = np.maximum(uv_model.loss(grid_u, grid_v, target), 1e-4)
    floor_u = np.linspace(max(u_min, 1e-3), u_max, 600)
    floor_u = floor_u[(target / floor_u >= v_min) & (target / floor_u <= v_max)]
    floor_v = target / floor_u
    flat = floor_u**2 + floor_v**2 < 2.0 / peak_lr

    n = len(paths)
    fig, axes_ = plt.subplots(
        1,
        n,
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
        figsize=(7.0 if n == 1 else 4.6 * n, 4.9),
    )
    with _Drawing(fig, True):
        for ax, (name, frames) in zip(axes_[0], paths.items(), strict=True):
            ax.contourf(
                grid_u,
                grid_v,
                surface,
                levels=np.logspace(-3, 2, 11),
                norm=LogNorm(),
                cmap="Greys",
                alpha=0.4,
                extend="both",
            )
            ax.plot(
                floor_u,
                floor_v,
                color="black",
                linewidth=1.0,
                label=f"valley floor u·v = {_fmt(target)}",
            )
            ax.plot(
                np.where(flat, floor_u, np.nan),
                np.where(flat, floor_v, np.nan),
                color=PALETTE[2],
                linewidth=5,
                alpha=0.8,
                solid_capstyle="butt",
                label=f"floor flat enough for LR {_fmt(peak_lr)} (sharpness < 2 / lr)",
            )
            marked_divergence = marked_end = False
            for i, path in enumerate(frames):
                color = PALETTE[i % len(PALETTE)]
                u = path["u"].to_numpy(dtype=np.float64)
                v = path["v"].to_numpy(dtype=np.float64)
                inside = (u >= u_min) & (u <= u_max) & (v >= v_min) & (v <= v_max)
                ax.plot(u, v, color=color, linewidth=1.0, marker=".", markersize=3, alpha=0.9)
                ax.plot(
                    u[:1],
                    v[:1],
                    linestyle="none",
                    marker="o",
                    markersize=7,
                    markeredgecolor="black",
                    color=color,
                    zorder=5,
                    label="start" if i == 0 else None,
                )
                if bool(path["diverged"].iloc[0]):
                    exit_u, exit_v = _exit_point(u, v, inside, (u_min, u_max, v_min, v_max))
                    ax.plot(
                        [exit_u],
                        [exit_v],
                        linestyle="none",
                        marker="X",
                        markersize=10,
                        color=_DIVERGED_COLOR,
                        zorder=6,
                        clip_on=False,
                        label=None if marked_divergence else "diverged: leaves the picture",
                    )
                    marked_divergence = True
                else:
                    ax.plot(
                        u[-1:],
                        v[-1:],
                        linestyle="none",
                        marker="*",
                        markersize=12,
                        markeredgecolor="black",
                        color=color,
                        zorder=6,
                        label=None if marked_end else "end",
                    )
                    marked_end = True
            ax.set_xlim(u_min, u_max)
            ax.set_ylim(v_min, v_max)
            ax.set_aspect("equal")
            ax.set_title(name)
            ax.set_xlabel("weight u")
        axes_[0, 0].set_ylabel("weight v")
        _legend_above(fig, axes_[0], title)
    return _finish(fig, True)


def _exit_point(
    u: np.ndarray, v: np.ndarray, inside: np.ndarray, box: tuple[float, float, float, float]
) -> tuple[float, float]:
    """Where a path first leaves ``box`` (on its border), or its last point if it never does."""
    leaving = np.flatnonzero(~inside)
    if not leaving.size or leaving[0] == 0:
        k = len(u) - 1 if not leaving.size else 0
        return float(u[k]), float(v[k])
    k = int(leaving[0])
    (u0, v0), (u1, v1) = (u[k - 1], v[k - 1]), (u[k], v[k])
    u_min, u_max, v_min, v_max = box
    # The largest fraction of the step that stays inside the box, along each axis.
    fractions = [1.0]
    for start, end, low, high in ((u0, u1, u_min, u_max), (v0, v1, v_min, v_max)):
        if end > high:
            fractions.append((high - start) / (end - start))
        elif end < low:
            fractions.append((low - start) / (end - start))
    t = max(0.0, min(fractions))
    return float(u0 + t * (u1 - u0)), float(v0 + t * (v1 - v0))
