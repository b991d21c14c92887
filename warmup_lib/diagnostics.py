"""Training-curve diagnostics: loss spikes, divergence, overfitting, stalled runs and sharpness."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._coerce import as_numbers
from ._validation import as_array, check_choice, check_float, check_int

__all__ = [
    "RunSummary",
    "find_divergence",
    "find_spikes",
    "overfitting_onset",
    "sharpness",
    "stability_threshold",
    "summarize_run",
    "track_sharpness",
]

SPIKE_COLUMNS = (
    "step",
    "start_step",
    "end_step",
    "baseline",
    "loss_before",
    "peak_loss",
    "size",
    "rise",
    "recovered_step",
)

# Statuses of summarize_run, most urgent first: the first one that applies names the run.
STATUSES = ("diverged", "stalled", "spiky", "overfitting", "stable")

# The noise estimate looks back this many windows (as far as the curve goes).
NOISE_WINDOWS = 3

# 1.4826 * MAD estimates the standard deviation of normally distributed values.
_MAD_TO_STD = 1.4826


# --------------------------------------------------------------------------------------------
# Turning what the learner has (list, array, Series, tensor, History, DataFrame) into arrays
# --------------------------------------------------------------------------------------------


def _run_frame(run: Any) -> pd.DataFrame | None:
    """Return the DataFrame behind a History-like object or a DataFrame; None for a plain curve."""
    if isinstance(run, pd.DataFrame):
        return run
    if isinstance(run, (pd.Series, pd.Index, np.ndarray, list, tuple)):
        return None
    to_frame = getattr(run, "to_frame", None)
    if callable(to_frame):
        frame = to_frame()
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"run.to_frame() must return a pandas DataFrame, got {type(frame).__name__}"
            )
        return frame
    return None


def _frame_steps(frame: pd.DataFrame) -> np.ndarray:
    if "step" in frame.columns:
        return frame["step"].to_numpy()
    return _index_steps(frame.index)


def _index_steps(index: pd.Index) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index.dtype):
        return index.to_numpy()
    return np.arange(len(index))


def _frame_column(frame: pd.DataFrame, column: str, name: str) -> np.ndarray:
    if column not in frame.columns:
        raise ValueError(
            f"{name} has no {column!r} column; columns are {list(frame.columns)} "
            f"(pass a History, a DataFrame from History.to_frame(), or the losses themselves)"
        )
    return _as_losses(name, frame[column])


def _as_losses(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D float array; NaN and inf are kept (callers decide what they mean)."""
    return as_numbers(
        name, values, what="a sequence of losses", unit="one loss per step", allow_empty=True
    )


def _as_steps(steps: Any, n: int, name: str = "steps") -> np.ndarray:
    if steps is None:
        return np.arange(n)
    array = _as_losses(name, steps)
    if len(array) != n:
        raise ValueError(f"{name} must have one entry per loss ({n}), got {len(array)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite numbers")
    if n > 1 and not np.all(np.diff(array) > 0):
        raise ValueError(
            f"{name} (or the Series index / the frame's step column) must be strictly increasing, "
            f"one entry per recorded step"
        )
    raw = np.asarray(steps.detach().cpu().numpy() if hasattr(steps, "detach") else steps)
    return raw if raw.dtype.kind in "iu" else array


def _curve(
    name: str, losses: Any, steps: Any, column: str = "train_loss"
) -> tuple[np.ndarray, np.ndarray]:
    """Losses and their step labels from any accepted input (History and DataFrame read ``column``)."""
    frame = _run_frame(losses)
    if frame is not None:
        values = _frame_column(frame, column, name)
        default_steps = _frame_steps(frame)
    else:
        values = _as_losses(name, losses)
        default_steps = _index_steps(losses.index) if isinstance(losses, pd.Series) else None
    if steps is None and default_steps is not None:
        steps = default_steps
    return values, _as_steps(steps, len(values))


def _scalar(step: Any) -> Any:
    """A NumPy step label as a plain Python int/float, so results print and compare simply."""
    value = step.item() if hasattr(step, "item") else step
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# --------------------------------------------------------------------------------------------
# Spikes
# --------------------------------------------------------------------------------------------


def find_spikes(
    losses: Any,
    *,
    steps: Any = None,
    window: int = 10,
    threshold: float = 0.5,
    noise_sigmas: float = 4.0,
    min_rise: float = 0.1,
) -> pd.DataFrame:
    """Find loss spikes: sudden rises well above the recent level, like ``0.8 -> 1.2 -> 0.9``.

    The rule, applied to the finite losses only (NaN/inf are dropped first; they are divergence,
    see :func:`find_divergence`). For each step ``t`` that has ``window`` earlier losses:

    - ``baseline_t`` = median of the previous ``window`` losses (the recent level; a median so one
      earlier spike or one noisy batch does not move it),
    - ``noise_t`` = robust standard deviation of the step-to-step changes over the previous
      ``3 * window`` losses (or as many as there are), ``1.4826 * MAD(diff) / sqrt(2)``; zero
      when there are fewer than 3 losses. Differences cancel the downward trend, and the longer
      look-back steadies the estimate,
    - ``rise_t = loss_t - baseline_t``.

    Step ``t`` is *above threshold* when ``rise_t > 0`` and ``rise_t`` reaches all three of

    - ``threshold * baseline_t``   (relative: 0.5 means "50 % above the recent level"),
    - ``noise_sigmas * noise_t``   (bigger than the curve's ordinary jitter),
    - ``min_rise * loss_0``        (visible on a linear plot: ``loss_0`` is the first finite loss).

    A spike starts at the first step above threshold and lasts while the losses stay above the
    line ``baseline + limit`` fixed at its start, so consecutive high steps are one spike. Its
    ``step`` is the peak. The rule is scale-free: multiplying every loss by a constant finds the
    same spikes. Steps before the first full window cannot be flagged, so a curve with
    ``window`` or fewer finite losses gives an empty table. For a short per-epoch curve use a
    small window: ``find_spikes([0.8, 1.2, 0.9], window=1)`` finds one spike at step 1.

    Minibatch losses are heavy-tailed: late in training, when the loss is near zero, a single bad
    batch can still make a needle. Compare spike counts between runs rather than reading one
    needle as instability.

    Args:
        losses: the loss per step (list, array, Series, tensor), or a History / DataFrame whose
            ``train_loss`` column is used.
        steps: step labels, one per loss (default: the Series index, the frame's ``step`` column,
            or 0, 1, 2, ...). Must be strictly increasing.
        window: how many earlier losses define the recent level (>= 1).
        threshold: the relative rise that counts (> 0).
        noise_sigmas: how many noise standard deviations a rise must exceed (>= 0).
        min_rise: the smallest rise that counts, as a fraction of the first loss (>= 0).

    Returns:
        One row per spike with columns ``step`` (the peak), ``start_step``, ``end_step`` (last step
        above the line), ``baseline``, ``loss_before`` (the loss just before the spike),
        ``peak_loss``, ``size = peak_loss / baseline`` (1.5 means 50 % above the recent level;
        NaN if the baseline is not positive), ``rise = peak_loss - baseline`` and
        ``recovered_step`` (first later step with loss <= baseline, NaN if it never gets back).
    """
    window = check_int("window", window, min_value=1)
    threshold = check_float("threshold", threshold, min_value=0.0, min_open=True)
    noise_sigmas = check_float("noise_sigmas", noise_sigmas, min_value=0.0)
    min_rise = check_float("min_rise", min_rise, min_value=0.0)
    values, labels = _curve("losses", losses, steps)

    finite = np.isfinite(values)
    values, labels = values[finite], labels[finite]
    rows: list[dict[str, Any]] = []
    n = len(values)
    if n <= window:
        return _spike_frame(rows, labels)

    visible = min_rise * abs(values[0])
    t = window
    while t < n:
        baseline = float(np.median(values[t - window : t]))
        # Noise changes slowly, and nine differences estimate it poorly: use a longer look back.
        noise = _noise(values[max(0, t - NOISE_WINDOWS * window) : t])
        limit = max(threshold * abs(baseline), noise_sigmas * noise, visible)
        if not _is_above(values[t] - baseline, limit):
            t += 1
            continue
        start = peak = t
        while t + 1 < n and _is_above(values[t + 1] - baseline, limit):
            t += 1
            if values[t] > values[peak]:
                peak = t
        end = t
        back = np.flatnonzero(values[end + 1 :] <= baseline)
        peak_loss = float(values[peak])
        rows.append(
            {
                "step": labels[peak],
                "start_step": labels[start],
                "end_step": labels[end],
                "baseline": baseline,
                "loss_before": float(values[start - 1]),
                "peak_loss": peak_loss,
                "size": peak_loss / baseline if baseline > 0 else math.nan,
                "rise": peak_loss - baseline,
                "recovered_step": labels[end + 1 + back[0]] if back.size else math.nan,
            }
        )
        t = end + 1
    return _spike_frame(rows, labels)


def _noise(recent: np.ndarray) -> float:
    """Robust standard deviation of the per-step noise, from the step-to-step changes."""
    if len(recent) < 3:
        return 0.0
    changes = np.diff(recent)
    mad = np.median(np.abs(changes - np.median(changes)))
    # A change is the difference of two noisy values, so its spread is sqrt(2) times theirs.
    return float(_MAD_TO_STD * mad / math.sqrt(2.0))


def _is_above(rise: float, limit: float) -> bool:
    # The relative tolerance keeps 0.8 -> 1.2 a 50 % rise despite 1.2 - 0.8 = 0.3999999999999999.
    return rise > 0 and rise >= limit * (1.0 - 1e-9)


def _spike_frame(rows: list[dict[str, Any]], labels: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(SPIKE_COLUMNS))
    if not rows:
        for column in ("step", "start_step", "end_step"):
            frame[column] = frame[column].astype(labels.dtype)
        frame = frame.astype({c: float for c in SPIKE_COLUMNS[3:]})
    else:
        frame["recovered_step"] = frame["recovered_step"].astype(float)
    return frame


# --------------------------------------------------------------------------------------------
# Divergence
# --------------------------------------------------------------------------------------------


def find_divergence(losses: Any, *, steps: Any = None, factor: float = 10.0) -> int | float | None:
    """Return the first step whose loss is NaN/inf or above ``factor`` x the first finite loss.

    A non-finite loss always counts as divergence, including at step 0 (an all-NaN curve diverged
    at its first step). The comparison assumes losses are >= 0, as cross-entropy and MSE are; if
    the first finite loss is 0 or negative only non-finite values count. Pass a curve without
    gaps: for an evaluation column that is NaN between evaluations, drop the NaN first
    (``frame["val_loss"].dropna()``).

    Args:
        losses: the loss per step, or a History / DataFrame (its ``train_loss`` column is used).
        steps: step labels (see :func:`find_spikes`).
        factor: how many times the first loss counts as blown up (> 1).

    Returns:
        The step label, or ``None`` if the run never diverged.
    """
    factor = check_float("factor", factor, min_value=1.0, min_open=True)
    values, labels = _curve("losses", losses, steps)
    finite = np.isfinite(values)
    if not finite.any():
        return _scalar(labels[0]) if len(values) else None
    first = values[np.argmax(finite)]
    limit = factor * first if first > 0 else math.inf
    bad = np.flatnonzero(~finite | (values > limit))
    return _scalar(labels[bad[0]]) if bad.size else None


# --------------------------------------------------------------------------------------------
# Overfitting
# --------------------------------------------------------------------------------------------


def overfitting_onset(
    train_loss: Any,
    val_loss: Any = None,
    *,
    steps: Any = None,
    patience: int = 3,
    min_delta: float = 0.0,
) -> int | float | None:
    """Return the step where validation loss starts a sustained rise while training loss falls.

    NaN validation entries (steps without evaluation) are dropped. Walking through the
    evaluations, keep the best (lowest) validation loss so far. The onset is the step of that
    best evaluation once the next ``patience`` evaluations in a row are all above it by more than
    ``min_delta`` *and* the training loss at the last of them is lower than at the best step.
    That is the checkpoint early stopping with the same ``patience`` would keep. The training
    loss at an evaluation is the mean of the finite training losses recorded since the previous
    evaluation (so noisy minibatch losses are averaged). If training loss rises too, the run is
    unstable rather than overfitting and this returns ``None`` for that stretch.

    Args:
        train_loss: training loss per step, or a History / DataFrame with ``train_loss`` and
            ``val_loss`` columns (then leave ``val_loss`` out).
        val_loss: validation loss per step, same length as ``train_loss`` (NaN where not evaluated);
            for per-epoch lists just pass both lists.
        steps: step labels (see :func:`find_spikes`).
        patience: how many rising evaluations in a row make the rise sustained (>= 1).
        min_delta: how far above the best an evaluation must be to count as a rise (>= 0).

    Returns:
        The step of the best validation loss before the sustained rise, or ``None``.
    """
    patience = check_int("patience", patience, min_value=1)
    min_delta = check_float("min_delta", min_delta, min_value=0.0)
    frame = _run_frame(train_loss)
    if frame is not None:
        if val_loss is not None:
            raise TypeError("val_loss must be left out when train_loss is a History or DataFrame")
        train = _frame_column(frame, "train_loss", "train_loss")
        val = _frame_column(frame, "val_loss", "train_loss")
        labels = _as_steps(_frame_steps(frame) if steps is None else steps, len(train))
    else:
        if val_loss is None:
            raise TypeError("val_loss is required when train_loss is a plain sequence of losses")
        train, labels = _curve("train_loss", train_loss, steps)
        val = _as_losses("val_loss", val_loss)
        if len(val) != len(train):
            raise ValueError(
                f"val_loss must have one entry per train_loss entry ({len(train)}), got {len(val)}; "
                f"use NaN for steps without evaluation"
            )

    evaluated = np.flatnonzero(np.isfinite(val))
    if len(evaluated) <= patience:
        return None
    train_at = _train_level(train, evaluated)
    best = 0
    rising = 0
    for i in range(1, len(evaluated)):
        if val[evaluated[i]] <= val[evaluated[best]]:
            best, rising = i, 0
        elif val[evaluated[i]] > val[evaluated[best]] + min_delta:
            rising += 1
        else:
            rising = 0
        if rising >= patience and train_at[i] < train_at[best]:
            return _scalar(labels[evaluated[best]])
    return None


def _train_level(train: np.ndarray, evaluated: np.ndarray) -> np.ndarray:
    """Mean finite training loss over the steps since the previous evaluation, per evaluation."""
    levels = np.full(len(evaluated), np.nan)
    previous = -1
    for i, position in enumerate(evaluated):
        segment = train[previous + 1 : position + 1]
        segment = segment[np.isfinite(segment)]
        if segment.size:
            levels[i] = segment.mean()
        previous = position
    return levels


# --------------------------------------------------------------------------------------------
# One-line run summaries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """What happened in one training run, as numbers plus one status word.

    ``status`` is the most urgent of ``flags`` in the order diverged > stalled > spiky >
    overfitting > stable (see :func:`summarize_run`). ``str(summary)`` is one human line.

    ``biggest_spike`` is the ``size`` (peak / baseline) of the spike that rose furthest in loss
    units, at ``biggest_spike_step``; ranking by rise rather than ratio keeps a needle from
    0.001 to 0.01 from outranking a jump from 0.8 to 4. ``final_train_loss`` is a median over the
    last 10 % of steps; ``final_val_loss`` is the last evaluation. Losses are NaN and steps
    ``None`` when they do not exist (no validation, no spike, no divergence). ``spikes`` is the
    full :func:`find_spikes` table.
    """

    status: str
    flags: tuple[str, ...]
    n_steps: int
    initial_loss: float
    final_train_loss: float
    final_val_loss: float
    best_val_loss: float
    best_val_step: int | float | None
    n_spikes: int
    biggest_spike: float
    biggest_spike_step: int | float | None
    diverged_at: int | float | None
    overfitting_onset: int | float | None
    spikes: pd.DataFrame = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Every field except the spike table, e.g. for ``pd.DataFrame([s.to_dict() for s in ...])``."""
        data = asdict(self)
        data.pop("spikes")
        data["flags"] = ", ".join(self.flags)
        return data

    def __str__(self) -> str:
        parts = [f"train loss {self.initial_loss:.3g} -> {self.final_train_loss:.3g}"]
        if not math.isnan(self.final_val_loss):
            parts.append(
                f"val loss {self.final_val_loss:.3g} (best {self.best_val_loss:.3g} at step "
                f"{self.best_val_step})"
            )
        if self.n_spikes:
            noun = "spike" if self.n_spikes == 1 else "spikes"
            biggest = self.spikes.loc[self.spikes["rise"].idxmax()]
            parts.append(
                f"{self.n_spikes} loss {noun} (biggest at step {self.biggest_spike_step}: "
                f"{biggest['baseline']:.3g} -> {biggest['peak_loss']:.3g}, {self.biggest_spike:.2g}x)"
            )
        else:
            parts.append("no loss spikes")
        if self.diverged_at is not None:
            parts.append(f"diverged at step {self.diverged_at}")
        if self.overfitting_onset is not None:
            parts.append(f"val loss rises after step {self.overfitting_onset}")
        return f"{self.status}: " + "; ".join(parts)


def summarize_run(
    run: Any,
    *,
    spike_window: int = 10,
    spike_threshold: float = 0.5,
    divergence_factor: float = 10.0,
    patience: int = 3,
    stall_ratio: float = 0.9,
    chance_loss: float | None = None,
) -> RunSummary:
    """Summarise a run: did it diverge, stall, spike or overfit? Returns a :class:`RunSummary`.

    The flags, each from the function named:

    - ``diverged``: :func:`find_divergence` on the training loss (or ``run.diverged_at`` when the
      trainer already recorded it).
    - ``stalled``: final training loss >= ``stall_ratio`` x reference, where the reference is
      ``chance_loss`` if given (e.g. ``log(n_classes)``, or the unigram loss of a language task)
      and otherwise the first loss. "Final" is the median of the last 10 % of the finite training
      losses (at least 1, at most 50), so one noisy batch does not decide it.
    - ``spiky``: :func:`find_spikes` found at least one spike.
    - ``overfitting``: :func:`overfitting_onset` found an onset.
    - ``stable``: none of the above.

    ``status`` is the first flag in that order. Why this precedence: a diverged run's other
    numbers are meaningless; a stalled run never learned, so its wiggles are not the story;
    spikes are an optimisation problem (the one warmup addresses) and come before overfitting,
    a generalisation problem you meet only once optimisation works.

    Args:
        run: a History, a DataFrame with ``train_loss`` (and optionally ``val_loss``, ``step``),
            or a plain sequence of training losses.
        spike_window, spike_threshold: passed to :func:`find_spikes` as ``window``, ``threshold``.
        divergence_factor: passed to :func:`find_divergence` as ``factor``.
        patience: passed to :func:`overfitting_onset`.
        stall_ratio: the fraction of the reference loss still counted as no progress, in (0, 1].
        chance_loss: the loss of a model that learned nothing (> 0), or ``None``.
    """
    spike_window = check_int("spike_window", spike_window, min_value=1)
    spike_threshold = check_float("spike_threshold", spike_threshold, min_value=0.0, min_open=True)
    divergence_factor = check_float(
        "divergence_factor", divergence_factor, min_value=1.0, min_open=True
    )
    patience = check_int("patience", patience, min_value=1)
    stall_ratio = check_float(
        "stall_ratio", stall_ratio, min_value=0.0, max_value=1.0, min_open=True
    )
    if chance_loss is not None:
        chance_loss = check_float("chance_loss", chance_loss, min_value=0.0, min_open=True)

    frame = _run_frame(run)
    if frame is None:
        train, labels = _curve("run", run, None)
        frame = pd.DataFrame({"step": labels, "train_loss": train})
    else:
        train = _frame_column(frame, "train_loss", "run")
        labels = _as_steps(_frame_steps(frame), len(train))
    if len(train) == 0:
        raise ValueError("run must contain at least one training loss")
    val = _frame_column(frame, "val_loss", "run") if "val_loss" in frame.columns else None

    # Trust the trainer's own record when there is one; otherwise look for it in the curve.
    diverged_at = None if isinstance(run, pd.DataFrame) else getattr(run, "diverged_at", None)
    if diverged_at is None:
        diverged_at = find_divergence(train, steps=labels, factor=divergence_factor)
    spikes = find_spikes(train, steps=labels, window=spike_window, threshold=spike_threshold)
    onset = None
    if val is not None:
        onset = overfitting_onset(train, val, steps=labels, patience=patience)

    finite_train = train[np.isfinite(train)]
    initial = float(finite_train[0]) if finite_train.size else math.nan
    tail = max(1, min(50, finite_train.size // 10))
    final_train = float(np.median(finite_train[-tail:])) if finite_train.size else math.nan
    reference = chance_loss if chance_loss is not None else initial
    stalled = bool(finite_train.size) and final_train >= stall_ratio * reference

    final_val = best_val = math.nan
    best_val_step = None
    if val is not None and np.isfinite(val).any():
        evaluated = np.flatnonzero(np.isfinite(val))
        final_val = float(val[evaluated[-1]])
        best = evaluated[np.argmin(val[evaluated])]
        best_val, best_val_step = float(val[best]), _scalar(labels[best])

    biggest = math.nan
    biggest_step = None
    if len(spikes):
        row = spikes.loc[spikes["rise"].idxmax()]
        biggest, biggest_step = float(row["size"]), _scalar(row["step"])

    conditions = {
        "diverged": diverged_at is not None,
        "stalled": stalled,
        "spiky": len(spikes) > 0,
        "overfitting": onset is not None,
    }
    flags = tuple(name for name in STATUSES if conditions.get(name)) or ("stable",)
    return RunSummary(
        status=flags[0],
        flags=flags,
        n_steps=len(train),
        initial_loss=initial,
        final_train_loss=final_train,
        final_val_loss=final_val,
        best_val_loss=best_val,
        best_val_step=best_val_step,
        n_spikes=len(spikes),
        biggest_spike=biggest,
        biggest_spike_step=biggest_step,
        diverged_at=_scalar(diverged_at) if diverged_at is not None else None,
        overfitting_onset=onset,
        spikes=spikes,
    )


# --------------------------------------------------------------------------------------------
# Sharpness (curvature) and the 2 / lr stability threshold
# --------------------------------------------------------------------------------------------


def stability_threshold(lr: float) -> float:
    """Return ``2 / lr``: gradient descent on a quadratic is stable while its sharpness is below this.

    On a quadratic with top Hessian eigenvalue ``lambda_max``, gradient descent multiplies the
    error along that direction by ``(1 - lr * lambda_max)`` each step, which shrinks only while
    ``lambda_max < 2 / lr``. Compare with :func:`sharpness`.
    """
    lr = check_float("lr", lr, min_value=0.0, min_open=True)
    return 2.0 / lr


SHARPNESS_METHODS = ("lanczos", "power")


def sharpness(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    inputs: Any,
    targets: Any,
    *,
    iters: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
    method: str = "lanczos",
) -> float:
    """Estimate the top Hessian eigenvalue of the loss w.r.t. the model's parameters (sharpness).

    The Hessian is never formed: both methods only need Hessian-vector products ``H v``, which
    come from double backward (``torch.autograd.grad`` of ``g . v`` where ``g`` is the gradient).

    - ``method="lanczos"`` (default): the Lanczos method builds an orthonormal basis of
      ``v, H v, H^2 v, ...`` one product at a time and reads off the largest eigenvalue of ``H``
      restricted to it. It finds the top eigenvalue itself, the most *positive* curvature, even
      where a larger negative curvature exists (near a saddle, as at the start of training), and
      it needs far fewer products than power iteration for the same accuracy.
    - ``method="power"``: power iteration, ``v <- H v / ||v||``; the Rayleigh quotient converges to
      the eigenvalue of largest *magnitude*, which is negative near a saddle. Simple to read.

    Both start from a random unit vector (seeded) and stop after ``iters`` products, or earlier
    once the estimate changes by less than ``tol`` (relative) from one product to the next.

    Why it matters for warmup (Gilmer et al. 2021, "A Loss Curvature Perspective on Training
    Instability in Deep Learning", arXiv 2110.04369; Cohen et al. 2021, "Gradient Descent on
    Neural Networks Typically Occurs at the Edge of Stability", arXiv 2103.00065): gradient
    descent with learning rate ``lr`` is stable on a quadratic only while sharpness <
    ``2 / lr`` (:func:`stability_threshold`). Follow both along a training run with
    :func:`track_sharpness`. For Adam the relevant quantity is the preconditioned sharpness, so
    compare trends, not the exact 2 / lr line.

    The estimate is for the given batch and the model's current mode: call ``model.eval()``
    first if it has dropout, or the products are noisy. Parameters' ``.grad`` are not touched.

    Args:
        model: a ``torch.nn.Module`` with trainable parameters.
        loss_fn: ``loss_fn(model(inputs), targets)`` must return a scalar tensor.
        inputs, targets: one batch (use the full training set for full-batch GD comparisons).
        iters: the most Hessian-vector products to compute (>= 1).
        tol: relative change of the estimate at which to stop early (> 0).
        seed: seed of the random start vector.
        method: ``"lanczos"`` (the top eigenvalue) or ``"power"`` (the largest in magnitude).

    Returns:
        The eigenvalue estimate as a float.
    """
    _check_model_and_loss(model, loss_fn)
    iters = check_int("iters", iters, min_value=1)
    tol = check_float("tol", tol, min_value=0.0, min_open=True)
    seed = check_int("seed", seed, min_value=0)
    check_choice("method", method, SHARPNESS_METHODS)
    products = _HessianProducts(model, loss_fn, inputs, targets)
    if products.size == 0:
        return 0.0
    start = products.random_vector(seed)
    if method == "power":
        return _power_iteration(products, start, iters, tol)
    return _lanczos(products, start, iters, tol)[0]


def _check_model_and_loss(model: Any, loss_fn: Any) -> None:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be callable as loss_fn(outputs, targets), got {type(loss_fn).__name__}"
        )


class _HessianProducts:
    """Hessian-vector products of one batch's loss, on the parameters as one flat vector."""

    def __init__(self, model: Any, loss_fn: Callable[[Any, Any], Any], inputs: Any, targets: Any):
        import torch

        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model must have at least one parameter with requires_grad=True")
        loss = loss_fn(model(inputs), targets)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError("loss_fn must return a scalar tensor (use reduction='mean')")
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        # Parameters whose gradient is constant (or absent) have zero Hessian rows: leave them out.
        pairs = [
            (p, g) for p, g in zip(params, grads, strict=True) if g is not None and g.requires_grad
        ]
        self.params = [p for p, _ in pairs]
        self.grads = [g for _, g in pairs]
        self.size = sum(p.numel() for p in self.params)
        self.count = 0

    def random_vector(self, seed: int) -> Any:
        import torch

        generator = torch.Generator().manual_seed(seed)
        vector = torch.cat(
            [torch.randn(p.numel(), generator=generator, dtype=p.dtype) for p in self.params]
        )
        return vector.to(self.params[0].device)

    def __call__(self, vector: Any) -> Any:
        import torch

        pieces, offset = [], 0
        for p in self.params:
            pieces.append(vector[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
        products = torch.autograd.grad(
            self.grads, self.params, grad_outputs=pieces, retain_graph=True, allow_unused=True
        )
        self.count += 1
        return torch.cat(
            [
                torch.zeros(p.numel(), dtype=p.dtype, device=p.device)
                if h is None
                else h.reshape(-1)
                for p, h in zip(self.params, products, strict=True)
            ]
        ).detach()


def _power_iteration(products: _HessianProducts, start: Any, iters: int, tol: float) -> float:
    vector = start / start.norm()
    estimate = math.nan
    for _ in range(iters):
        product = products(vector)
        new = float(product @ vector)
        norm = float(product.norm())
        if norm == 0.0 or not math.isfinite(norm):
            return new
        vector = product / norm
        converged = abs(new - estimate) <= tol * abs(new)
        estimate = new
        if converged:
            break
    return estimate


def _lanczos(products: _HessianProducts, start: Any, iters: int, tol: float) -> tuple[float, Any]:
    """Top eigenvalue of the Hessian and its Ritz vector, from at most ``iters`` products.

    Lanczos with full re-orthogonalisation: the basis is small (``iters`` vectors), and without
    it rounding errors bring back directions already found (spurious copies of the top value).
    """
    import torch

    norm = start.norm()
    if norm == 0 or not torch.isfinite(norm):
        raise ValueError("the start vector must be finite and non-zero")
    basis = [start / norm]
    alphas: list[float] = []
    betas: list[float] = []
    estimate, ritz = math.nan, basis[0]
    for _ in range(iters):
        w = products(basis[-1])
        if not torch.isfinite(w).all():
            return math.nan, basis[0]
        alphas.append(float(w @ basis[-1]))
        stacked = torch.stack(basis)
        for _ in range(2):  # twice is enough in float32 (Parlett's "twice is enough")
            w = w - stacked.T @ (stacked @ w)
        tridiagonal = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        values, vectors = np.linalg.eigh(tridiagonal)
        new = float(values[-1])
        ritz_weights = torch.as_tensor(vectors[:, -1], dtype=stacked.dtype, device=stacked.device)
        ritz = ritz_weights @ stacked
        beta = float(w.norm())
        converged = abs(new - estimate) <= tol * abs(new)
        estimate = new
        # beta ~ 0: the basis spans an invariant subspace, so its top value is exact.
        if converged or beta <= 1e-10 * max(1.0, abs(new)):
            break
        betas.append(beta)
        basis.append(w / beta)
    return estimate, ritz


# --------------------------------------------------------------------------------------------
# Sharpness along training runs
# --------------------------------------------------------------------------------------------

SHARPNESS_COLUMNS = ("condition", "seed", "step", "lr", "sharpness", "threshold", "unstable")


def track_sharpness(
    conditions: Any,
    seeds: Any,
    *,
    at_steps: Any,
    inputs: Any,
    targets: Any,
    loss_fn: Callable[[Any, Any], Any],
    iters: int = 20,
    tol: float = 1e-2,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train like ``experiments.compare`` and measure the sharpness along the way, on the same runs.

    Each run of ``conditions`` (``{name: RunConfig}``) and ``seeds`` is trained exactly as
    ``config.run(seed)`` trains it (same initial weights, same mini-batches, same learning rates),
    but in pieces: training stops at every step of ``at_steps``, the sharpness of the loss on the
    fixed batch ``inputs, targets`` is measured (:func:`sharpness`, Lanczos, warm-started from the
    previous measurement's direction, so a measurement costs a few Hessian-vector products), and
    training resumes from an exact checkpoint. So the sharpness belongs to the very runs whose
    losses are reported, not to look-alike runs with other batches. Runs are trained one at a
    time (a batched seed ensemble would round differently, and at a learning rate near the edge
    of stability such differences grow into different trajectories).

    ``step`` ``s`` is measured after ``s`` optimizer updates, and ``lr`` is the learning rate of
    the next update, ``peak_lr x schedule(s)``; ``threshold`` is ``2 / lr`` (infinite at LR 0) and
    ``unstable`` says ``sharpness > threshold``. A run that diverges is not measured after that.

    Args:
        conditions: ``{condition name: experiments.RunConfig}``, as for ``experiments.compare``.
        seeds: the seeds, e.g. ``range(5)``.
        at_steps: the steps at which to measure, increasing, each in ``0..config.steps``.
        inputs, targets: the fixed evaluation batch (e.g. the first 256 training rows).
        loss_fn: ``loss_fn(model(inputs), targets)``, a scalar tensor (e.g. ``F.cross_entropy``).
        iters: the most Hessian-vector products per measurement (>= 2).
        tol: the relative change of the estimate at which a measurement stops (> 0).

    Returns:
        ``(runs, sharpness)``: ``runs`` is the per-step frame ``experiments.compare`` returns for
        these runs; ``sharpness`` has one row per measurement with columns ``condition, seed,
        step, lr, sharpness, threshold, unstable``.
    """
    from collections.abc import Mapping

    from .experiments import RunConfig, run_seeds

    if not isinstance(conditions, Mapping) or not conditions:
        raise TypeError(
            "conditions must be a non-empty dict {condition name: RunConfig}, e.g. "
            "{'no warmup': config, 'warmup': config.replace(schedule=...)}"
        )
    for name, config in conditions.items():
        if not isinstance(name, str):
            raise TypeError(f"conditions keys must be strings (condition names), got {name!r}")
        if not isinstance(config, RunConfig):
            raise TypeError(
                f"conditions[{name!r}] must be an experiments.RunConfig, got {type(config).__name__}"
            )
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be callable as loss_fn(outputs, targets), got {type(loss_fn).__name__}"
        )
    iters = check_int("iters", iters, min_value=2)
    tol = check_float("tol", tol, min_value=0.0, min_open=True)
    longest = max(config.steps for config in conditions.values())
    steps = _check_measurement_steps(at_steps, longest)

    import pandas as pd

    rows: list[dict[str, Any]] = []
    frames = []
    for name, config in conditions.items():
        if steps[-1] > config.steps:
            raise ValueError(
                f"at_steps goes to step {steps[-1]}, but conditions[{name!r}] trains only "
                f"{config.steps} steps"
            )

        def run(seed: int, name: str = name, config: RunConfig = config) -> Any:
            history, measured = _train_and_measure(
                config, seed, steps, inputs, targets, loss_fn, iters, tol
            )
            rows.extend({"condition": name, "seed": seed, **row} for row in measured)
            return history

        frames.append(run_seeds(run, seeds, condition=name))
    table = pd.DataFrame(rows, columns=list(SHARPNESS_COLUMNS))
    table = table.astype({"seed": int, "step": int, "unstable": bool})
    return pd.concat(frames, ignore_index=True), table


def _check_measurement_steps(at_steps: Any, longest: int) -> list[int]:
    values = as_array("at_steps", at_steps, "a sequence of steps such as range(0, 301, 10)")
    if values.ndim != 1 or values.size == 0:
        raise ValueError("at_steps must be a non-empty, one-dimensional sequence of steps")
    steps = [
        check_int(f"at_steps[{i}]", v, min_value=0, max_value=longest)
        for i, v in enumerate(values.tolist())
    ]
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise ValueError(f"at_steps must be strictly increasing, got {steps}")
    return steps


def _train_and_measure(
    config: Any,
    seed: int,
    steps: list[int],
    inputs: Any,
    targets: Any,
    loss_fn: Callable[[Any, Any], Any],
    iters: int,
    tol: float,
) -> tuple[Any, list[dict[str, Any]]]:
    """One run of ``config``, stopped and resumed exactly at ``steps``, and its measurements."""
    import os
    import tempfile

    from .training import train

    model = config.build_model(seed)
    optimizer = config.build_optimizer(model.parameters())
    measured: list[dict[str, Any]] = []
    direction = None
    history = None
    done = 0
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = os.path.join(folder, "run.pt")

        def resume(stop_at: int | None) -> Any:
            return train(
                model,
                optimizer,
                config.schedule,
                config.data,
                config.steps,
                seed,
                checkpoint_path=checkpoint,
                resume_from=checkpoint if done > 0 else None,
                stop_at=stop_at,
                **config.train_kwargs(),
            )

        for step in steps:
            if step > done:
                history = resume(step)
                done = step
                if history.diverged:
                    return history, measured
            lr = config.peak_lr * (1.0 if config.schedule is None else float(config.schedule(step)))
            was_training = model.training
            model.eval()
            products = _HessianProducts(model, loss_fn, inputs, targets)
            if direction is None:
                direction = products.random_vector(seed)
            value, direction = _lanczos(products, direction, iters, tol)
            model.train(was_training)
            measured.append(
                {
                    "step": step,
                    "lr": lr,
                    "sharpness": value,
                    "threshold": 2.0 / lr if lr > 0 else math.inf,
                    "unstable": bool(lr > 0 and value > 2.0 / lr),
                }
            )
        if done < config.steps:
            history = resume(None)
    return history, measured
