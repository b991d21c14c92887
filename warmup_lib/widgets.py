"""Interactive explorers (ipywidgets) for schedules, short training runs and fraud decision thresholds.

Each explorer is a thin shell around a plain function that does the work and returns
``(Figure, text)`` — :func:`schedule_explorer_figure`, :func:`run_training_explorer`,
:func:`threshold_report` — so the same results can be printed in a notebook or tested without a
browser.

An explorer is an ``ipywidgets.VBox``: display it by making it the last line of a cell. It draws
each figure into an ``ipywidgets.Image`` as a PNG at twice its on-screen size (sharp on a HiDPI
screen, never stretched) and closes the figure straight away, so moving a slider a hundred
times leaks no figures, and building an explorer prints nothing. Its output also carries that
PNG, so GitHub, nbconvert and static sites, which cannot run widgets, show the figure.
Sliders use ``continuous_update=False``: the figure is redrawn when the slider is released,
which keeps a one-CPU Binder responsive.
"""

from __future__ import annotations

import base64
import io
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ._coerce import as_binary_labels as _check_binary_labels
from ._coerce import as_scores as _check_scores
from ._validation import check_bool, check_choice, check_float, check_int
from .plotting import (
    PALETTE,
    plot_confusion_matrix,
    plot_cost_vs_threshold,
    plot_runs,
    plot_schedules,
)

__all__ = [
    "PIXELS_PER_INCH",
    "CLICK_SETTLE_S",
    "WARMUP_SHAPE_CHOICES",
    "DECAY_CHOICES",
    "OPTIMIZER_CHOICES",
    "Explorer",
    "explorer_schedule",
    "schedule_explorer_figure",
    "schedule_explorer",
    "run_training_explorer",
    "training_explorer",
    "training_explorer_preview",
    "training_explorer_schedules",
    "threshold_report",
    "threshold_explorer",
]

#: Warmup shapes offered by :func:`schedule_explorer` ("none" means no warmup at all).
WARMUP_SHAPE_CHOICES: tuple[str, ...] = (
    "linear",
    "exponential",
    "cosine",
    "1-sqrt",
    "saturating",
    "constant",
    "none",
)
#: What happens after warmup. "wsd" holds the peak, then decays linearly over the last 20 % of training.
DECAY_CHOICES: tuple[str, ...] = ("constant", "linear", "cosine", "1-sqrt", "inverse-sqrt", "wsd")
#: Optimizers of the training explorer, value -> label.
OPTIMIZER_CHOICES: dict[str, str] = {"sgd": "SGD", "momentum": "SGD + momentum 0.9", "adam": "Adam"}

#: A figure is shown at this many CSS pixels per inch, so 10-pt text is about 12.5 px, as in the
#: notebook around it. It is drawn at twice that (a "retina" PNG) and never stretched, so it
#: stays sharp on a HiDPI screen; a narrow window may only shrink it.
PIXELS_PER_INCH = 90
_PIXEL_DENSITY = 2
#: Clicks on Train that reach the kernel this soon after a run ended are the rest of a double
#: click: the kernel handles one message at a time, so a click the browser sent before it heard
#: that the button was disabled waits until the run is over. A learner who sees the result and
#: clicks again takes longer than this.
CLICK_SETTLE_S = 0.5
_SLIDERS = (widgets.IntSlider, widgets.FloatSlider, widgets.FloatLogSlider)
_TRAINING_FIGSIZE = (7.0, 5.0)  # plot_runs' size: the picture does not jump at the first Train
_MIN_WIDTH = 600  # px: a slider track of 400 px or more, even beside a narrow figure
_SLIDER_LABEL_WIDTH = "9em"  # the longest slider label ("training steps") with room to spare


def _png(fig: Figure) -> tuple[bytes, tuple[int, int]]:
    """The figure as a 2x PNG and its size on screen in CSS pixels; the figure is closed."""
    width, height = fig.get_size_inches()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PIXELS_PER_INCH * _PIXEL_DENSITY)
    plt.close(fig)
    return buffer.getvalue(), (round(width * PIXELS_PER_INCH), round(height * PIXELS_PER_INCH))


# --------------------------------------------------------------------------------------------
# The explorer shell.
# --------------------------------------------------------------------------------------------


class Explorer(widgets.VBox):
    """An ipywidgets box of controls, a figure and a line of text, wired to ``render(**values)``.

    ``explorer.controls`` maps each argument name of ``render`` to its widget;
    ``bytes(explorer.image.value)`` is the latest figure as a PNG, ``explorer.text`` the latest
    summary and ``explorer.summary`` the widget that shows it. ``explorer.refresh()`` redraws from the current control values, which
    is what every control change (or the button, if there is one) does.

    Choices (dropdowns, checkboxes) sit in a row that wraps on a narrow screen; each slider has a
    row of its own, so it is long enough to drag precisely. Where widgets are not rendered
    (GitHub, nbconvert, a static site) the explorer shows a picture of its current figure.
    An explorer with a button renders only when it is pressed; until then it shows
    ``placeholder(**values)`` (a figure: what pressing would compute), redrawn as controls change.
    ``explorer.renders`` counts the renders.
    """

    def __init__(
        self,
        controls: Mapping[str, Any],
        render: Callable[..., tuple[Figure, str]],
        *,
        button: str | None = None,
        fixed: Mapping[str, Any] | None = None,
        extra: Sequence[Any] = (),
        placeholder: Callable[..., Figure] | None = None,
        name: str = "explorer",
    ) -> None:
        self.controls = dict(controls)
        self.extra = tuple(extra)
        self.name = name
        self._render = render
        self._fixed = dict(fixed or {})
        self._placeholder = placeholder
        self.renders = 0
        self._busy = False
        self._refuse_clicks_until = -math.inf
        self.text = ""
        # Hidden until there is a picture: an empty Image is a broken-image icon in the browser.
        self.image = widgets.Image(format="png", layout=widgets.Layout(display="none"))
        self.summary = widgets.HTML(value="")
        self.button = (
            widgets.Button(
                description=button, button_style="primary", layout=widgets.Layout(width="auto")
            )
            if button
            else None
        )
        sliders, choices = [], []
        for control in self.controls.values():
            if isinstance(control, _SLIDERS):
                control.layout.width = "auto"  # the explorer's full width (less the margins)
                control.style.description_width = _SLIDER_LABEL_WIDTH
                sliders.append(control)
            else:
                choices.append(control)
        if self.button is not None:
            self.button.on_click(self._click)
            if placeholder is not None:
                for control in self.controls.values():
                    control.observe(lambda _: self._preview(), names="value")
        else:
            for control in self.controls.values():
                control.observe(lambda _: self.refresh(), names="value")
        rows = []
        if choices:
            rows.append(_wrapping_row(choices))
        rows += sliders
        actions = [*extra, *([self.button] if self.button is not None else [])]
        if actions:
            rows.append(_wrapping_row(actions))
        super().__init__([*rows, self.summary, self.image])
        self.add_class("warmup-explorer")  # for the browser test and for styling
        self.summary.add_class("warmup-explorer-summary")
        if placeholder is not None:
            self._preview()

    def current_values(self) -> dict[str, Any]:
        """The current value of every control, by argument name."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> str:
        """Redraw from the current control values; return the summary text.

        An invalid combination shows its error message in the summary line instead of raising
        inside the widget callback, where a learner would never see it. A call made while a
        redraw is running (from inside it) does nothing and returns the previous text.
        """
        if self._busy:
            return self.text
        self._busy = True
        self.renders += 1
        if self.button is not None:  # a slow render (training): say so, and refuse clicks
            self.button.disabled = True
            self.summary.value = "<i>working…</i>"
        try:
            fig, text = self._render(**self.current_values(), **self._fixed)
        except (ValueError, TypeError) as error:
            text = f"⚠ {error}"
            self.summary.value = f"<span style='color:#D55E00'>{_escape(text)}</span>"
        else:
            self._show(fig)
            self.summary.value = _summary_html(text)
        finally:
            self._busy = False
            if self.button is not None:
                self._refuse_clicks_until = time.monotonic() + CLICK_SETTLE_S
                self.button.disabled = False
        self.text = text
        return text

    def _click(self, _button: Any) -> None:
        if self._busy or time.monotonic() < self._refuse_clicks_until:
            return  # the second click of a double click, or one queued while a run was going on
        self.refresh()

    def _preview(self) -> None:
        if self._placeholder is None or self.renders:
            return
        try:
            self._show(self._placeholder(**self.current_values()))
        except (ValueError, TypeError) as error:
            self.summary.value = f"<span style='color:#D55E00'>{_escape(f'⚠ {error}')}</span>"

    def _show(self, fig: Figure) -> None:
        png, (width, height) = _png(fig)
        self.image.value = png
        # Exactly the drawn size (never stretched), shrunk with the aspect kept when the
        # notebook column is narrower.
        self.image.layout = widgets.Layout(
            width=f"{width}px", max_width="100%", height="auto", margin="2px 0 0 0"
        )
        # Controls as wide as the figure: sliders long enough to drag precisely, and not spread
        # across a wide screen away from the figure they change.
        self.layout.max_width = f"{max(width, _MIN_WIDTH)}px"
        self._picture_size = (width, height)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, plus a PNG of the current figure for places that cannot run widgets.

        JupyterLab shows the live widget; nbconvert, GitHub and static sites fall back to the PNG
        (at its on-screen size) and the one-line text.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        png = bytes(self.image.value)
        if bundle is None or not png:
            return bundle
        width, height = self._picture_size
        bundle["text/plain"] = f"<{self.name}: interactive in a running notebook>"
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle, {"image/png": {"width": width, "height": height}}


def _wrapping_row(items: Sequence[Any]) -> widgets.Box:
    """A row of widgets that wraps onto more lines when the notebook column is narrow."""
    for item in items:
        if isinstance(item, widgets.ValueWidget) and hasattr(item.style, "description_width"):
            item.style.description_width = "initial"  # the whole label, never cut
            item.layout.width = "auto"
        elif isinstance(item, widgets.Button):
            item.layout.width = "auto"  # a fixed-width button cuts a long label
    return widgets.Box(
        list(items),
        layout=widgets.Layout(
            display="flex", flex_flow="row wrap", align_items="center", grid_gap="4px 24px"
        ),
    )


def _summary_html(text: str) -> str:
    """Lines as HTML that break between clauses (" · " or "; "), never inside one ("3.05e-09")."""
    return "<br>".join(
        "".join(
            _escape(piece)
            if piece in _CLAUSE_BREAKS
            else f"<span style='white-space: nowrap'>{_escape(piece)}</span>"
            for piece in re.split(r"( · |; )", line)
            if piece
        )
        for line in text.splitlines()
    )


_CLAUSE_BREAKS = (" · ", "; ")


def _escape(text: str) -> str:
    import html

    return html.escape(text)


# --------------------------------------------------------------------------------------------
# Schedules.
# --------------------------------------------------------------------------------------------


def explorer_schedule(shape: str, warmup_steps: int, decay: str, total_steps: int) -> Any:
    """The schedule the schedule explorer shows: a ``shape`` warmup of ``warmup_steps`` steps, then
    ``decay`` over the remaining ``total_steps - warmup_steps`` steps.

    ``shape="none"`` (or ``warmup_steps=0``) means no warmup: the decay starts at step 0. The
    saturating warmup uses ``tau = warmup_steps / 4`` rescaled to reach 1 at ``warmup_steps``;
    inverse-sqrt uses ``timescale = max(warmup_steps, total_steps // 10)``; "wsd" holds the peak
    and decays linearly to 0 over the last 20 % of training.
    """
    from . import schedules as S

    check_choice("shape", shape, WARMUP_SHAPE_CHOICES)
    check_choice("decay", decay, DECAY_CHOICES)
    total_steps = check_int("total_steps", total_steps, min_value=2)
    warmup_steps = check_int("warmup_steps", warmup_steps, min_value=0, max_value=total_steps)
    if shape == "none":
        warmup_steps = 0
    rest = total_steps - warmup_steps

    decay_schedule: Any
    if decay == "constant":
        decay_schedule = S.Constant()
    elif decay == "linear":
        decay_schedule = S.LinearDecay(rest)
    elif decay == "cosine":
        decay_schedule = S.CosineDecay(rest)
    elif decay == "1-sqrt":
        decay_schedule = S.OneMinusSqrtDecay(rest)
    elif decay == "inverse-sqrt":
        decay_schedule = S.InverseSqrtDecay(max(warmup_steps, total_steps // 10, 1))
    else:  # wsd: stable, then a linear cooldown over the last 20 % of training
        cooldown = min(rest, max(1, round(0.2 * total_steps)))
        decay_schedule = S.join((S.Constant(), rest - cooldown), (S.LinearDecay(cooldown), None))

    if warmup_steps == 0:
        return decay_schedule
    if shape == "saturating":
        warmup = S.SaturatingWarmup(tau=warmup_steps / 4, warmup_steps=warmup_steps)
    else:
        warmup = S.WARMUP_SHAPES[shape](warmup_steps)
    return S.warmup_then(warmup, decay_schedule)


def schedule_explorer_figure(
    shape: str = "linear",
    warmup_steps: int = 100,
    peak_lr: float = 1e-3,
    decay: str = "cosine",
    total_steps: int = 1000,
    log_scale: bool = False,
) -> tuple[Figure, str]:
    """The schedule explorer's output: the LR at every step, and one line with the LR at step 0,
    at the end of warmup and at the last step.

    See :func:`explorer_schedule` for how ``shape`` and ``decay`` are put together.
    """
    peak_lr = check_float("peak_lr", peak_lr, min_value=0.0, min_open=True)
    check_bool("log_scale", log_scale)
    schedule = explorer_schedule(shape, warmup_steps, decay, total_steps)
    warmup = 0 if shape == "none" else int(warmup_steps)
    name = f"{shape} warmup ({warmup} steps), then {decay}" if warmup else f"no warmup, {decay}"
    fig = plot_schedules(schedule, total_steps, peak_lr=peak_lr, log_scale=log_scale, title=name)
    last = total_steps - 1
    rates = peak_lr * schedule.curve(np.array([0, min(warmup, last), last]))
    parts = [f"LR at step 0: {rates[0]:.3g}"]
    if warmup >= total_steps:
        parts.append("warmup lasts the whole run")
    elif warmup:
        parts.append(f"at the end of warmup (step {warmup}): {rates[1]:.3g}")
    parts.append(f"at the last step ({last}): {rates[2]:.3g}")
    return fig, " · ".join(parts)


def schedule_explorer(
    *,
    shape: str = "linear",
    warmup_steps: int = 100,
    peak_lr: float = 1e-3,
    decay: str = "cosine",
    total_steps: int = 1000,
    log_scale: bool = False,
) -> Explorer:
    """An explorer of warmup shapes and lengths, peak LR and decay, drawn as you change them.

    Arguments set the starting values (checked by :func:`schedule_explorer_figure`).
    """
    explorer_schedule(shape, warmup_steps, decay, total_steps)  # validates the starting values
    check_float("peak_lr", peak_lr, min_value=0.0, min_open=True)
    check_bool("log_scale", log_scale)
    slider = {"continuous_update": False}
    controls = {
        "shape": widgets.Dropdown(
            options=WARMUP_SHAPE_CHOICES, value=shape, description="warmup shape"
        ),
        "warmup_steps": widgets.IntSlider(
            value=warmup_steps,
            min=0,
            max=total_steps,
            step=10,
            description="warmup steps",
            **slider,
        ),
        "peak_lr": widgets.FloatLogSlider(
            value=peak_lr,
            base=10,
            min=-5,
            max=1,
            step=0.1,
            readout_format=".1e",
            description="peak LR",
            **slider,
        ),
        "decay": widgets.Dropdown(options=DECAY_CHOICES, value=decay, description="after warmup"),
        "total_steps": widgets.IntSlider(
            value=total_steps,
            min=100,
            max=max(10_000, total_steps),
            step=100,
            description="total steps",
            **slider,
        ),
        "log_scale": widgets.Checkbox(value=log_scale, description="log LR axis", indent=False),
    }

    def keep_warmup_inside(change: Mapping[str, Any]) -> None:
        controls["warmup_steps"].max = change["new"]  # ipywidgets clamps the value to the new max

    controls["total_steps"].observe(keep_warmup_inside, names="value")
    explorer = Explorer(controls, schedule_explorer_figure, name="schedule explorer")
    explorer.refresh()
    return explorer


# --------------------------------------------------------------------------------------------
# Training.
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _digits() -> Any:
    from .data import load_digits

    return load_digits()


def _make_optimizer(name: str, parameters: Any, lr: float) -> Any:
    import torch

    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr)
    return torch.optim.SGD(parameters, lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def _check_hidden(hidden: Any) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(
            f"hidden must be a sequence of layer widths such as (256, 256), got {hidden!r}"
        )
    return tuple(check_int(f"hidden[{i}]", h, min_value=1) for i, h in enumerate(hidden))


def _describe_run(label: str, history: Any) -> str:
    frame = history.to_frame()
    losses = frame["train_loss"].to_numpy(dtype=np.float64)
    finite = np.where(np.isfinite(losses), losses, -np.inf)
    worst = int(np.argmax(finite))
    text = f"{label}: highest training loss {losses[worst]:.3g} (step {int(frame['step'].iloc[worst])})"
    if history.diverged:
        return f"{text}; diverged at step {history.diverged_at}"
    metrics = history.final_metrics
    text += f"; final validation loss {metrics.get('val_loss', math.nan):.3g}"
    accuracy = metrics.get("val_accuracy")
    if accuracy is not None and math.isfinite(accuracy):
        text += f", accuracy {accuracy:.3f}"
    return text


def training_explorer_schedules(warmup_steps: int, decay: str, steps: int) -> dict[str, Any]:
    """The training explorer's pair of schedules, a fair comparison: ``decay`` over all ``steps``
    as the base, and the same base multiplied by a linear warmup factor over ``warmup_steps``.

    The two agree at every step from ``warmup_steps`` on, so the runs differ only by the warmup.
    With ``warmup_steps=0`` there is one schedule, ``{"no warmup": base}``.
    """
    from . import schedules as S

    steps = check_int("steps", steps, min_value=2, max_value=5000)
    warmup_steps = check_int("warmup_steps", warmup_steps, min_value=0, max_value=steps)
    base = explorer_schedule("none", 0, decay, steps)
    if not warmup_steps:
        return {"no warmup": base}
    return {f"{warmup_steps}-step linear warmup": S.LinearWarmup(warmup_steps) * base, "no warmup": base}


def run_training_explorer(
    peak_lr: float = 0.03,
    warmup_steps: int = 50,
    optimizer: str = "adam",
    steps: int = 100,
    seed: int = 0,
    *,
    decay: str = "cosine",
    compare: bool = True,
    data: Any = None,
    hidden: Sequence[int] = (256, 256, 256, 256),
    batch_size: int = 64,
) -> tuple[Figure, str]:
    """Train a small MLP at peak LR ``peak_lr`` with a ``decay`` schedule ("constant", "linear",
    "cosine"... see :data:`DECAY_CHOICES`) over all ``steps``, multiplied by a linear warmup factor
    over the first ``warmup_steps``, and, with ``compare=True``, the same run without the warmup
    factor (see :func:`training_explorer_schedules`: the two learning rates differ only during
    warmup); return the loss/LR figure and a summary of both runs.

    ``data`` defaults to the digits (``warmup_lib.data.load_digits()``, cached); the MLP is
    ``MLP(n_features, n_classes, hidden, seed=seed)``, so both runs start from the same weights
    and see the same batches. ``optimizer`` is ``"sgd"``, ``"momentum"`` (SGD with momentum 0.9)
    or ``"adam"``. With the defaults (Adam at 0.03, high enough for early loss spikes without
    warmup) a pair of 100-step runs takes 1-3 s on one CPU core.
    """
    import torch

    from .models import MLP
    from .training import train

    peak_lr = check_float("peak_lr", peak_lr, min_value=0.0, min_open=True)
    steps = check_int("steps", steps, min_value=2, max_value=5000)
    warmup_steps = check_int("warmup_steps", warmup_steps, min_value=0, max_value=steps)
    check_choice("optimizer", optimizer, tuple(OPTIMIZER_CHOICES))
    seed = check_int("seed", seed, min_value=0)
    check_choice("decay", decay, DECAY_CHOICES)
    check_bool("compare", compare)
    hidden = _check_hidden(hidden)
    if data is None:
        data = _digits()
    if getattr(data, "task", None) not in ("multiclass", "binary"):
        raise ValueError(
            "data must be a warmup_lib.data.DataSplits for a classification task (e.g. load_digits()), "
            f"got {type(data).__name__} with task {getattr(data, 'task', None)!r}"
        )
    outputs = 1 if data.task == "binary" else data.n_classes

    schedules = training_explorer_schedules(warmup_steps, decay, steps)

    def one_run(schedule: Any) -> Any:
        model = MLP(data.X_train.shape[1], outputs, hidden=hidden, seed=seed)
        opt = _make_optimizer(optimizer, model.parameters(), peak_lr)
        return train(
            model,
            opt,
            schedule,
            data,
            steps,
            seed=seed,
            batch_size=batch_size,
            eval_every=max(1, steps // 10),
            threads=1,
        )

    with torch.random.fork_rng(devices=[]):  # leave the notebook's random state alone
        runs = {
            name: one_run(schedule)
            for name, schedule in schedules.items()
            if compare or name != "no warmup" or not warmup_steps
        }
    label = f"{OPTIMIZER_CHOICES[optimizer]}, peak LR {peak_lr:.3g}, {decay} decay, seed {seed}"
    fig = plot_runs(runs, title=label)
    lines = [_describe_run(name, history) for name, history in runs.items()]
    return fig, "\n".join(lines)


def training_explorer(
    data: Any = None,
    *,
    peak_lr: float = 0.03,
    warmup_steps: int = 50,
    optimizer: str = "adam",
    decay: str = "cosine",
    steps: int = 100,
    seed: int = 0,
    hidden: Sequence[int] = (256, 256, 256, 256),
    run_now: bool = True,
) -> Explorer:
    """An explorer that trains a small MLP (see :func:`run_training_explorer`) when you press Train.

    Pick a peak LR, a warmup length and an optimizer; each press trains the run with warmup and a
    no-warmup control from the same initial weights, so any difference is the warmup's.
    ``run_now=True`` trains once with the starting values so the explorer opens with a figure.
    ``hidden`` sets the MLP's hidden widths (smaller trains faster on a slow machine).
    """
    check_bool("run_now", run_now)
    # Validate the starting values before building anything.
    check_float("peak_lr", peak_lr, min_value=0.0, min_open=True)
    steps = check_int("steps", steps, min_value=10, max_value=1000)
    check_int("warmup_steps", warmup_steps, min_value=0, max_value=steps)
    check_choice("optimizer", optimizer, tuple(OPTIMIZER_CHOICES))
    check_choice("decay", decay, DECAY_CHOICES)
    check_int("seed", seed, min_value=0)
    hidden = _check_hidden(hidden)
    slider = {"continuous_update": False}
    controls = {
        "peak_lr": widgets.FloatLogSlider(
            value=peak_lr,
            base=10,
            min=-4,
            max=0.5,
            step=0.05,
            readout_format=".3g",
            description="peak LR",
            **slider,
        ),
        "warmup_steps": widgets.IntSlider(
            value=warmup_steps, min=0, max=steps, step=5, description="warmup steps", **slider
        ),
        "optimizer": widgets.Dropdown(
            options=[(label, key) for key, label in OPTIMIZER_CHOICES.items()],
            value=optimizer,
            description="optimizer",
        ),
        "decay": widgets.Dropdown(options=DECAY_CHOICES, value=decay, description="after warmup"),
        "steps": widgets.IntSlider(
            value=steps, min=10, max=1000, step=10, description="training steps", **slider
        ),
        "seed": widgets.BoundedIntText(value=seed, min=0, max=10_000, description="seed"),
    }

    def keep_warmup_inside(change: Mapping[str, Any]) -> None:
        controls["warmup_steps"].max = change["new"]

    controls["steps"].observe(keep_warmup_inside, names="value")

    def preview(seed: int, **values: Any) -> Figure:  # the schedules do not depend on the seed
        return training_explorer_preview(**values)

    explorer = Explorer(
        controls,
        run_training_explorer,
        button="Train",
        fixed={"data": data, "hidden": hidden},
        placeholder=None if run_now else preview,
        name="training explorer",
    )
    if run_now:
        explorer.refresh()
    else:
        explorer.summary.value = "Press <b>Train</b> to train with and without warmup."
    return explorer


def training_explorer_preview(
    peak_lr: float = 0.03,
    warmup_steps: int = 50,
    optimizer: str = "adam",
    steps: int = 100,
    *,
    decay: str = "cosine",
) -> Figure:
    """What the training explorer will train, before it has: the learning rate of the run with
    warmup and of the no-warmup control, at the size of the figure training draws.
    """
    peak_lr = check_float("peak_lr", peak_lr, min_value=0.0, min_open=True)
    steps = check_int("steps", steps, min_value=2, max_value=5000)
    warmup_steps = check_int("warmup_steps", warmup_steps, min_value=0, max_value=steps)
    check_choice("optimizer", optimizer, tuple(OPTIMIZER_CHOICES))
    check_choice("decay", decay, DECAY_CHOICES)
    schedules = training_explorer_schedules(warmup_steps, decay, steps)
    # A figure outside pyplot: nothing to close if drawing fails.
    fig = Figure(figsize=_TRAINING_FIGSIZE, layout="constrained")
    plot_schedules(
        schedules,
        steps,
        peak_lr=peak_lr,
        ax=fig.add_subplot(),
        title=f"{OPTIMIZER_CHOICES[optimizer]}: press Train to train with these learning rates",
    )
    return fig


# --------------------------------------------------------------------------------------------
# Fraud thresholds.
# --------------------------------------------------------------------------------------------


def threshold_report(
    y_true: Any,
    scores: Any,
    threshold: float = 0.5,
    cost_fp: float = 1.0,
    cost_fn: float = 50.0,
) -> tuple[Figure, dict[str, Any]]:
    """What flagging ``score >= threshold`` does: the confusion matrix, precision, recall and cost.

    Returns the figure (confusion matrix | total cost against threshold, this threshold marked)
    and :func:`warmup_lib.metrics.classification_metrics` of the flags (``accuracy, precision,
    recall, f1, tn, fp, fn, tp, base_rate``; precision is 0 when nothing is flagged) plus
    ``threshold``, ``flagged = tp + fp`` and ``cost = cost_fp * fp + cost_fn * fn``.
    """
    from .metrics import classification_metrics

    truth = _check_binary_labels("y_true", y_true)
    values = _check_scores("scores", scores, truth.size)
    threshold = check_float("threshold", threshold)
    cost_fp = check_float("cost_fp", cost_fp, min_value=0.0, min_open=True)
    cost_fn = check_float("cost_fn", cost_fn, min_value=0.0, min_open=True)
    # Threshold here rather than in classification_metrics, which would take scores that happen
    # to be all 0 or 1 for predictions and ignore the threshold.
    predicted = (values >= threshold).astype(int)
    report: dict[str, Any] = classification_metrics(truth, predicted)
    report["threshold"] = threshold
    report["flagged"] = report["tp"] + report["fp"]
    report["cost"] = cost_fp * report["fp"] + cost_fn * report["fn"]
    # A figure outside pyplot: nothing to close if drawing fails.
    fig = Figure(figsize=(8.6, 3.9), layout="constrained")
    ax_matrix, ax_cost = fig.subplots(1, 2, width_ratios=(1, 1.75))
    plot_confusion_matrix(
        truth, predicted, ax=ax_matrix, title=f"flag when score ≥ {threshold:.3g}"
    )
    plot_cost_vs_threshold(truth, values, cost_fp=cost_fp, cost_fn=cost_fn, ax=ax_cost)
    _mark_inside(ax_cost, threshold, report["cost"], label="this threshold")
    return fig, report


def _mark_inside(ax: Any, x: float, y: float, *, label: str) -> None:
    """Mark (x, y) with a square, or with an arrowhead on the edge it lies beyond, and keep the
    axes' limits: the cost chart stops at twice the no-model cost, and low thresholds cost more.
    """
    (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
    drawn_x, drawn_y = min(max(x, left), right), min(max(y, bottom), top)
    marker, beyond = "s", ""
    if y > top:
        marker, beyond = "^", " (above the chart)"
    elif x < left:
        marker, beyond = "<", " (left of the chart)"
    elif x > right:
        marker, beyond = ">", " (right of the chart)"
    ax.plot(
        [drawn_x],
        [drawn_y],
        marker=marker,
        markersize=8,
        color=PALETTE[3],
        markeredgecolor="black",
        linestyle="none",
        zorder=6,
        clip_on=False,
        label=f"{label}: cost {y:,.0f}{beyond}",
    )
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    # Low thresholds flag nearly everything and cost more than the chart shows: the upper left
    # is empty, while the curve falls through the upper right.
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)


def _format_report(report: Mapping[str, Any]) -> str:
    precision = (
        "undefined (nothing flagged)" if report["flagged"] == 0 else f"{report['precision']:.3f}"
    )
    return (
        f"threshold {report['threshold']:.3g}: flagged {report['flagged']:,} · precision {precision} · "
        f"recall {report['recall']:.3f} · cost {report['cost']:,.0f} "
        f"(FP {report['fp']:,}, FN {report['fn']:,})"
    )


def threshold_explorer(
    y_true: Any,
    scores: Any,
    cost_fp: float = 1.0,
    cost_fn: float = 50.0,
    *,
    threshold: float = 0.5,
) -> Explorer:
    """A threshold slider over :func:`threshold_report`: move it and watch the confusion matrix,
    precision, recall and total cost change.

    For probability scores the slider is logarithmic from 1e-4 to 1 (with a 50:1 cost ratio the
    interesting thresholds are near 0.02); otherwise it spans the range of the scores.
    """
    truth = _check_binary_labels("y_true", y_true)
    values = _check_scores("scores", scores, truth.size)
    cost_fp = check_float("cost_fp", cost_fp, min_value=0.0, min_open=True)
    cost_fn = check_float("cost_fn", cost_fn, min_value=0.0, min_open=True)
    threshold = check_float("threshold", threshold)
    if values.min() >= 0 and values.max() <= 1:
        threshold = min(max(threshold, 1e-4), 1.0)
        slider = widgets.FloatLogSlider(
            value=threshold,
            base=10,
            min=-4,
            max=0,
            step=0.02,
            readout_format=".4f",
            description="threshold",
            continuous_update=False,
        )
    else:
        low, high = float(values.min()), float(values.max())
        slider = widgets.FloatSlider(
            value=min(max(threshold, low), high),
            min=low,
            max=high,
            step=(high - low) / 500 or 1.0,
            readout_format=".3g",
            description="threshold",
            continuous_update=False,
        )

    def render(threshold: float) -> tuple[Figure, str]:
        fig, report = threshold_report(truth, values, threshold, cost_fp, cost_fn)
        return fig, _format_report(report)

    bayes_value = cost_fp / (cost_fp + cost_fn)
    bayes = widgets.Button(description=f"Bayes threshold {bayes_value:.3g}")
    default = widgets.Button(description="default 0.5")
    explorer = Explorer(
        {"threshold": slider}, render, extra=(bayes, default), name="threshold explorer"
    )
    bayes.on_click(lambda _: setattr(slider, "value", bayes_value))
    default.on_click(lambda _: setattr(slider, "value", 0.5))
    explorer.refresh()
    return explorer
