"""Data sets for the series: digits, a bigram language, a teacher-labelled task, card-fraud tables."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

from warmup_lib._validation import check_bool, check_float, check_int

if TYPE_CHECKING:  # pandas is imported where it is used: the tensor data sets do not need it
    import pandas as pd

__all__ = [
    "CREDITCARD_COLUMNS",
    "DataFileError",
    "DataSplits",
    "FraudFrames",
    "MERCHANT_CATEGORIES",
    "TRANSACTION_COLUMNS",
    "add_leaky_feature",
    "bigram_transition_matrix",
    "corrupt_rows",
    "data_dir",
    "fraud_frames",
    "generate_transactions",
    "load_creditcard",
    "load_digits",
    "load_fraud",
    "make_bigram_language",
    "make_teacher_classification",
    "read_creditcard",
    "read_transactions",
    "verify_manifest",
    "write_transactions",
]

TASKS = ("multiclass", "binary", "language")

#: File name of the shipped synthetic transactions and of its checksum list, inside ``data_dir()``.
TRANSACTIONS_FILE = "transactions.csv"
MANIFEST_FILE = "MANIFEST.sha256"

#: Settings that produced the shipped ``data/transactions.csv``. Change them and the manifest,
#: the datasheet and the byte-for-byte test all have to change with them.
DEFAULT_N_TRANSACTIONS = 60_000
DEFAULT_FRAUD_RATE = 0.005
DEFAULT_SEED = 0

MERCHANT_CATEGORIES = (
    "grocery",
    "restaurant",
    "fuel",
    "clothing",
    "electronics",
    "entertainment",
    "travel",
)

#: Columns of the synthetic transactions table, in file order (``is_fraud`` is the label).
TRANSACTION_COLUMNS = (
    "amount",
    "hour",
    "distance_from_home_km",
    "transactions_last_24h",
    "online",
    "foreign",
    "merchant_category",
    "is_fraud",
)

#: Columns of the public credit-card fraud file (ULB, on Kaggle); ``Class`` is the label.
CREDITCARD_COLUMNS = ("Time", *(f"V{i}" for i in range(1, 29)), "Amount", "Class")

_TRANSACTION_INTEGER_COLUMNS = ("hour", "transactions_last_24h", "online", "foreign", "is_fraud")
_TRANSACTION_NUMERIC_COLUMNS = ("amount", "distance_from_home_km", *_TRANSACTION_INTEGER_COLUMNS)
_TRANSACTION_BINARY_COLUMNS = ("online", "foreign", "is_fraud")


class DataFileError(ValueError):
    """A data file is missing, damaged or not in the expected shape; the message says where and how to fix it."""


# --------------------------------------------------------------------------------------------
# The container every loader returns
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DataSplits:
    """Train/validation/test tensors of one data set, ready for ``warmup_lib.training.train``.

    Features are float32 ``(N, n_features)`` for the ``"multiclass"`` and ``"binary"`` tasks; labels
    are int64 class indices (``"multiclass"``) or float32 zeros and ones (``"binary"``, one output
    logit, ``n_classes == 2``). For ``"language"`` both ``X`` and ``y`` are int64 ``(N, L)`` token
    ids, ``y[:, t]`` being the token after ``X[:, t]``, and ``n_classes`` is the vocabulary size.
    ``info`` holds plain data only (numbers, strings, lists, dicts) so it can be printed or saved.

    Equality is identity (``eq=False``): comparing tensors elementwise is not what ``==`` should do.
    """

    name: str
    task: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    feature_names: tuple[str, ...] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, got {self.name!r}")
        if self.task not in TASKS:
            raise ValueError(
                f"task must be one of {', '.join(map(repr, TASKS))}; got {self.task!r}"
            )
        check_int("n_classes", self.n_classes, min_value=2)
        if not isinstance(self.info, dict):
            raise TypeError(f"info must be a dict of plain data, got {type(self.info).__name__}")
        x_dtype = torch.int64 if self.task == "language" else torch.float32
        y_dtype = torch.float32 if self.task == "binary" else torch.int64
        for split in ("train", "val", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            for label, tensor, dtype in ((f"X_{split}", X, x_dtype), (f"y_{split}", y, y_dtype)):
                if not isinstance(tensor, torch.Tensor):
                    raise TypeError(f"{label} must be a torch.Tensor, got {type(tensor).__name__}")
                if tensor.dtype != dtype:
                    raise TypeError(
                        f"{label} must have dtype {dtype} for task {self.task!r}, got {tensor.dtype}"
                    )
            if X.ndim != 2:
                raise ValueError(
                    f"X_{split} must be 2-D (examples x features or tokens), got shape {tuple(X.shape)}"
                )
            if len(X) != len(y):
                raise ValueError(
                    f"X_{split} has {len(X)} rows but y_{split} has {len(y)}; they must match"
                )
            if self.task == "language" and y.shape != X.shape:
                raise ValueError(
                    f"y_{split} must have the shape of X_{split} for language data, got {tuple(y.shape)} vs {tuple(X.shape)}"
                )
            if self.task != "language" and y.ndim != 1:
                raise ValueError(
                    f"y_{split} must be 1-D for task {self.task!r}, got shape {tuple(y.shape)}"
                )
        widths = {self.X_train.shape[1], self.X_val.shape[1], self.X_test.shape[1]}
        if len(widths) != 1:
            raise ValueError(
                f"X_train, X_val and X_test must have the same number of columns, got {sorted(widths)}"
            )
        if self.feature_names is not None:
            if not isinstance(self.feature_names, tuple) or not all(
                isinstance(n, str) for n in self.feature_names
            ):
                raise TypeError("feature_names must be a tuple of strings or None")
            if len(self.feature_names) != self.X_train.shape[1]:
                raise ValueError(
                    f"feature_names has {len(self.feature_names)} names but X_train has {self.X_train.shape[1]} columns"
                )

    @property
    def n_features(self) -> int | None:
        """Number of input columns, or ``None`` for language data (inputs are token ids)."""
        return None if self.task == "language" else int(self.X_train.shape[1])

    def __repr__(self) -> str:
        shape = (
            f"n_features={self.n_features}"
            if self.task != "language"
            else f"seq_len={self.X_train.shape[1]}"
        )
        return (
            f"DataSplits(name={self.name!r}, task={self.task!r}, train={len(self.X_train)}, "
            f"val={len(self.X_val)}, test={len(self.X_test)}, {shape}, n_classes={self.n_classes})"
        )

    def summary(self) -> str:
        """A few lines a learner can read: sizes per split and the class balance (or the loss floor)."""
        lines = [repr(self)]
        for split in ("train", "val", "test"):
            y = getattr(self, f"y_{split}")
            if self.task == "binary":
                n_pos = int(y.sum().item())
                lines.append(
                    f"  {split:<5} {len(y):>7,} examples, {n_pos:,} positive ({n_pos / max(len(y), 1):.2%})"
                )
            elif self.task == "multiclass":
                counts = torch.bincount(y, minlength=self.n_classes).tolist()
                shares = [c / max(len(y), 1) for c in counts]
                lines.append(
                    f"  {split:<5} {len(y):>7,} examples, class shares {min(shares):.1%}-{max(shares):.1%}"
                )
            else:
                lines.append(f"  {split:<5} {len(y):>7,} sequences of {y.shape[1]} tokens")
        if self.task == "language" and "best_loss" in self.info:
            lines.append(
                f"  best possible loss {self.info['best_loss']:.3f} nats/token; "
                f"a context-free (unigram) model gets {self.info['unigram_loss']:.3f}"
            )
        elif "best_loss" in self.info and "best_accuracy" in self.info:
            lines.append(
                f"  best possible val loss {self.info['best_loss']:.3f} nats, "
                f"best possible accuracy {self.info['best_accuracy']:.3f} (the labels are noisy)"
            )
        return "\n".join(lines)


def _check_fractions(val_fraction: float, test_fraction: float) -> tuple[float, float]:
    val_fraction = check_float(
        "val_fraction", val_fraction, min_value=0.0, max_value=1.0, min_open=True, max_open=True
    )
    test_fraction = check_float(
        "test_fraction", test_fraction, min_value=0.0, max_value=1.0, min_open=True, max_open=True
    )
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 so that some training data is left, "
            f"got {val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    return val_fraction, test_fraction


def _stratified_split(
    y: np.ndarray, seed: int, val_fraction: float, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, val and test, each sorted; every class keeps its share in every split."""
    from sklearn.model_selection import train_test_split

    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"the labels contain a single class ({classes.tolist()}); a classifier needs at least two"
        )
    if counts.min() < 3:
        rare = classes[counts.argmin()]
        raise ValueError(
            f"class {_show(rare)} has only {counts.min()} example(s); a stratified train/val/test split needs at least 3"
        )
    index = np.arange(len(y))
    try:
        rest, test = train_test_split(index, test_size=test_fraction, stratify=y, random_state=seed)
        train, val = train_test_split(
            rest,
            test_size=val_fraction / (1.0 - test_fraction),
            stratify=y[rest],
            random_state=seed,
        )
    except ValueError as error:
        # sklearn's message talks about test_size; say which of our arguments to change instead.
        raise ValueError(
            f"cannot split {len(y)} examples of {len(classes)} classes with val_fraction={val_fraction} and "
            f"test_fraction={test_fraction}: every split needs at least one example of each class ({error})"
        ) from None
    return np.sort(train), np.sort(val), np.sort(test)


def _standardize(X: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise every row with the mean and standard deviation of the train rows only.

    x' = (x - mean_train) / std_train; columns constant on train keep std 1 (sklearn's rule), so a
    pixel that is always 0 stays finite instead of turning into NaN.
    """
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X[train])
    return scaler.transform(X), scaler.mean_, scaler.scale_


def _tensors(
    X: np.ndarray, y: np.ndarray, parts: Sequence[np.ndarray], y_dtype: torch.dtype
) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    for p in parts:
        out += [
            torch.as_tensor(np.ascontiguousarray(X[p]), dtype=torch.float32),
            torch.as_tensor(y[p], dtype=y_dtype),
        ]
    return out


# --------------------------------------------------------------------------------------------
# Digits
# --------------------------------------------------------------------------------------------


def load_digits(seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2) -> DataSplits:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn (no download), split and standardised.

    The split is stratified (each digit keeps its ~10 % share in train, val and test) and fixed by
    ``seed``. Each of the 64 pixels is standardised with the train mean and standard deviation only,
    so nothing about val or test leaks into training; pixels constant on train (always blank) keep
    standard deviation 1 and stay finite.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    seed = check_int("seed", seed)
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction)
    bunch = sklearn_digits()
    X, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    parts = _stratified_split(y, seed, val_fraction, test_fraction)
    X_std, _, _ = _standardize(X, parts[0])
    tensors = _tensors(X_std, y, parts, torch.int64)
    return DataSplits(
        "digits",
        "multiclass",
        *tensors,
        n_classes=10,
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
        info={
            "source": "sklearn.datasets.load_digits",
            "seed": seed,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "standardized": True,
            "class_counts": {
                s: np.bincount(y[p], minlength=10).tolist()
                for s, p in zip(("train", "val", "test"), parts, strict=True)
            },
        },
    )


# --------------------------------------------------------------------------------------------
# Bigram language
# --------------------------------------------------------------------------------------------


def _check_bigram_args(vocab_size: Any, p_first: Any, p_second: Any) -> tuple[int, float, float]:
    vocab_size = check_int("vocab_size", vocab_size, min_value=3)
    p_first = check_float(
        "p_first", p_first, min_value=0.0, max_value=1.0, min_open=True, max_open=True
    )
    p_second = check_float("p_second", p_second, min_value=0.0, max_value=1.0, max_open=True)
    if p_second > p_first:
        raise ValueError(
            f"p_second must be <= p_first (the first successor is the likelier one), got {p_second} > {p_first}"
        )
    if p_first + p_second >= 1.0:
        # Keeping some mass on every token makes the chain irreducible, so its stationary
        # distribution (and with it best_loss and unigram_loss) is unique.
        raise ValueError(
            f"p_first + p_second must be < 1 so every token keeps some probability, got "
            f"{p_first} + {p_second} = {p_first + p_second}"
        )
    return vocab_size, p_first, p_second


def bigram_transition_matrix(
    vocab_size: int = 32, p_first: float = 0.65, p_second: float = 0.33, seed: int = 0
) -> np.ndarray:
    """The ``(V, V)`` transition matrix P of the bigram language: row ``a`` is P(next token | token ``a``).

    Each token ``a`` gets two distinct successors drawn at random (fixed by ``seed``):
    P[a, first] = p_first, P[a, second] = p_second and every other token gets
    (1 - p_first - p_second) / (V - 2). Every row sums to 1 and has the same entropy.
    """
    vocab_size, p_first, p_second = _check_bigram_args(vocab_size, p_first, p_second)
    seed = check_int("seed", seed)
    return _transition_matrix(vocab_size, p_first, p_second, np.random.default_rng([seed, 0]))


def _transition_matrix(
    vocab_size: int, p_first: float, p_second: float, rng: np.random.Generator
) -> np.ndarray:
    successors = rng.permuted(np.tile(np.arange(vocab_size), (vocab_size, 1)), axis=1)[:, :2]
    P = np.full((vocab_size, vocab_size), (1.0 - p_first - p_second) / (vocab_size - 2))
    rows = np.arange(vocab_size)
    P[rows, successors[:, 0]] = p_first
    P[rows, successors[:, 1]] = p_second
    return P


def _entropy(p: np.ndarray) -> np.ndarray:
    """-sum p ln p over the last axis, in nats, with 0 ln 0 = 0."""
    safe = np.where(p > 0, p, 1.0)
    return -(p * np.log(safe)).sum(axis=-1)


def _stationary(P: np.ndarray) -> np.ndarray:
    """Solve pi P = pi with sum(pi) = 1 (unique: every entry of P is positive)."""
    V = len(P)
    A = P.T - np.eye(V)
    A[-1] = 1.0
    b = np.zeros(V)
    b[-1] = 1.0
    pi = np.clip(np.linalg.solve(A, b), 0.0, None)  # round-off can leave -1e-17
    return pi / pi.sum()


def make_bigram_language(
    vocab_size: int = 32,
    seq_len: int = 24,
    n_train: int = 8192,
    n_val: int = 1024,
    n_test: int = 1024,
    seed: int = 0,
    p_first: float = 0.65,
    p_second: float = 0.33,
) -> DataSplits:
    """A synthetic "bigram language": sequences sampled from a Markov chain over ``vocab_size`` tokens.

    Each token has two likely successors (probabilities ``p_first`` and ``p_second``; the remaining
    mass is spread evenly over the other tokens; see ``bigram_transition_matrix``). A sequence
    starts with a token drawn from the chain's stationary distribution pi (pi P = pi), then follows
    P. ``X`` holds tokens 0..L-1 and ``y`` tokens 1..L of each sequence, so a causal model predicts
    every ``y[:, t]`` from ``X[:, :t+1]``.

    ``info["best_loss"]`` is the entropy rate H = -sum_a pi_a sum_b P_ab ln P_ab (nats), computed
    exactly from P and the stationary pi: the lowest expected mean cross-entropy any causal model
    can reach (the true P itself reaches it; because every row of P has the same entropy it equals
    each row's entropy). ``info["unigram_loss"]`` is H(pi) = -sum_a pi_a ln pi_a, the expected loss
    of a model that ignores context and predicts the token frequencies. Because the start token is
    stationary, every position has these expectations; a finite sample differs by sampling noise.
    The transition matrix is in ``info["transition_matrix"]`` (nested lists). The matrix and the
    samples are both fixed by ``seed``.
    """
    vocab_size, p_first, p_second = _check_bigram_args(vocab_size, p_first, p_second)
    seq_len = check_int("seq_len", seq_len, min_value=1)
    n_train = check_int("n_train", n_train, min_value=1)
    n_val = check_int("n_val", n_val, min_value=1)
    n_test = check_int("n_test", n_test, min_value=1)
    seed = check_int("seed", seed)

    P = _transition_matrix(vocab_size, p_first, p_second, np.random.default_rng([seed, 0]))
    pi = _stationary(P)
    rng = np.random.default_rng([seed, 1])
    n_total = n_train + n_val + n_test
    cumulative = np.cumsum(P, axis=1)
    cumulative[:, -1] = 1.0  # guard against a last entry of 0.9999999 leaving u > cumsum
    tokens = np.empty((n_total, seq_len + 1), dtype=np.int64)
    tokens[:, 0] = rng.choice(vocab_size, size=n_total, p=pi)
    for t in range(seq_len):
        u = rng.random(n_total)
        # Inverse-CDF sampling, one step for all sequences at once.
        tokens[:, t + 1] = (cumulative[tokens[:, t]] < u[:, None]).sum(axis=1)
    X = torch.from_numpy(tokens[:, :-1].copy())
    y = torch.from_numpy(tokens[:, 1:].copy())
    cuts = np.cumsum([n_train, n_val])
    best_loss = float(pi @ _entropy(P))
    unigram_loss = float(_entropy(pi))
    return DataSplits(
        "bigram_language",
        "language",
        X[: cuts[0]],
        y[: cuts[0]],
        X[cuts[0] : cuts[1]],
        y[cuts[0] : cuts[1]],
        X[cuts[1] :],
        y[cuts[1] :],
        n_classes=vocab_size,
        feature_names=None,
        info={
            "best_loss": best_loss,
            "best_loss_definition": "entropy rate of the chain from the transition matrix and its stationary distribution (nats/token)",
            "unigram_loss": unigram_loss,
            "unigram_loss_definition": "entropy of the stationary token distribution (nats/token)",
            "chance_loss": math.log(vocab_size),
            "transition_matrix": P.tolist(),
            "stationary_distribution": pi.tolist(),
            "vocab_size": vocab_size,
            "seq_len": seq_len,
            "p_first": p_first,
            "p_second": p_second,
            "start": "stationary",
            "seed": seed,
        },
    )


# --------------------------------------------------------------------------------------------
# A large synthetic classification task (for large-batch experiments)
# --------------------------------------------------------------------------------------------

# Inputs used to centre the teacher's logits: a fixed sample, so the teacher does not depend on
# how many rows a caller asks for.
_TEACHER_REFERENCE_ROWS = 4096


def make_teacher_classification(
    n_train: int = 16_384,
    n_val: int = 4_096,
    n_test: int = 4_096,
    n_features: int = 32,
    n_classes: int = 10,
    teacher_width: int = 64,
    sharpness: float = 8.0,
    seed: int = 0,
) -> DataSplits:
    """A large synthetic classification task: Gaussian inputs labelled by a random "teacher" network.

    Every input is ``x ~ N(0, I)`` in ``n_features`` dimensions (already standardised). A fixed
    random teacher with one hidden layer of ``teacher_width`` tanh units turns it into class
    probabilities ``p(x) = softmax(sharpness * tanh(x W1 + b1) W2 + b2)``; ``b2`` centres the
    logits so that no class is rare. The label is *sampled* from ``p(x)``, so the labels are
    noisy and the task has a known floor, as the bigram language has:

    * ``info["best_loss"]`` — mean entropy of ``p(x)`` over the validation rows: the expected
      validation cross-entropy of the teacher itself, the lowest any model can expect (nats);
    * ``info["best_accuracy"]`` — mean of ``max p(x)`` over the validation rows: the expected
      accuracy of always predicting the teacher's most likely class.

    Why it exists: on scikit-learn's digits (1,077 training images) a batch of 512 is half the
    data set. Here the default 16,384 training rows make a batch of 512 three per cent of an
    epoch, which a large-batch experiment needs, and the rows are made with NumPy in a few
    milliseconds (nothing to download). ``sharpness`` sets how predictable the labels are (larger:
    less label noise). The teacher and the rows are both fixed by ``seed``.
    """
    n_train = check_int("n_train", n_train, min_value=1)
    n_val = check_int("n_val", n_val, min_value=1)
    n_test = check_int("n_test", n_test, min_value=1)
    n_features = check_int("n_features", n_features, min_value=1)
    n_classes = check_int("n_classes", n_classes, min_value=2)
    teacher_width = check_int("teacher_width", teacher_width, min_value=1)
    sharpness = check_float("sharpness", sharpness, min_value=0.0, min_open=True)
    seed = check_int("seed", seed)

    teacher = np.random.default_rng([seed, 0])
    W1 = teacher.standard_normal((n_features, teacher_width)) / math.sqrt(n_features)
    b1 = 0.5 * teacher.standard_normal(teacher_width)
    W2 = teacher.standard_normal((teacher_width, n_classes)) / math.sqrt(teacher_width)

    def logits(X: np.ndarray) -> np.ndarray:
        return sharpness * np.tanh(X @ W1 + b1) @ W2

    b2 = -logits(teacher.standard_normal((_TEACHER_REFERENCE_ROWS, n_features))).mean(axis=0)
    rows = np.random.default_rng([seed, 1])
    n_total = n_train + n_val + n_test
    X = rows.standard_normal((n_total, n_features))
    z = logits(X) + b2
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(p, axis=1)
    cumulative[:, -1] = 1.0  # round-off must not leave u above the last entry
    y = (cumulative < rows.random(n_total)[:, None]).sum(axis=1)
    cuts = np.cumsum([n_train, n_val])
    val = slice(cuts[0], cuts[1])
    parts = [np.arange(0, cuts[0]), np.arange(cuts[0], cuts[1]), np.arange(cuts[1], n_total)]
    tensors = _tensors(X, y, parts, torch.int64)
    return DataSplits(
        "teacher_classification",
        "multiclass",
        *tensors,
        n_classes=n_classes,
        feature_names=tuple(f"x{i}" for i in range(n_features)),
        info={
            "best_loss": float(_entropy(p[val]).mean()),
            "best_loss_definition": "mean entropy of the teacher's class probabilities on the validation rows (nats)",
            "best_accuracy": float(p[val].max(axis=1).mean()),
            "chance_loss": math.log(n_classes),
            "n_features": n_features,
            "teacher_width": teacher_width,
            "sharpness": sharpness,
            "seed": seed,
            "class_counts": {
                s: np.bincount(y[q], minlength=n_classes).tolist()
                for s, q in zip(("train", "val", "test"), parts, strict=True)
            },
        },
    )


# --------------------------------------------------------------------------------------------
# Synthetic card transactions
# --------------------------------------------------------------------------------------------

# Category shares (order of MERCHANT_CATEGORIES) and how often each is paid online. Frauds lean
# to goods that resell easily and to travel; legitimate spending to groceries and restaurants.
_LEGIT_CATEGORY_P = (0.30, 0.20, 0.12, 0.15, 0.08, 0.10, 0.05)
_FRAUD_CATEGORY_P = (0.08, 0.05, 0.04, 0.20, 0.30, 0.15, 0.18)
_ONLINE_P = (0.10, 0.10, 0.00, 0.45, 0.55, 0.50, 0.60)
_MIMIC_SHARE = 0.30


def generate_transactions(
    n: int = DEFAULT_N_TRANSACTIONS,
    fraud_rate: float = DEFAULT_FRAUD_RATE,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Synthetic card transactions with a rare ``is_fraud`` label; the same ``seed`` gives the same table.

    Exactly ``round(n * fraud_rate)`` rows are frauds, at random positions. Legitimate rows:
    amount ~ LogNormal(3.5, 1.0) (median ~33), hour ~ N(14, 4) rounded and wrapped to 0-23,
    distance from home ~ Exp(mean 8 km), transactions in the last 24 h ~ Poisson(2), foreign with
    p = 0.03, a merchant category mostly grocery/restaurant, paid online with a category-dependent
    probability (about a quarter overall). Frauds: amount ~ LogNormal(4.6, 1.1) (median ~100), half at night
    (hour 0-5), distance ~ Exp(mean 300 km), Poisson(5) recent transactions, online with p = 0.7
    (never at a fuel pump), foreign with p = 0.2, categories leaning to electronics, clothing and
    travel. 30 % of the frauds *mimic* legitimate behaviour: all their features come from the
    legitimate distributions, so no model on these columns can catch them (recall is capped near
    0.7 at any useful precision) - the honest fix is better data, not a better model.

    Amounts and distances are rounded to cents / 10 m so the CSV is exact and reproducible.
    """
    n = check_int("n", n, min_value=1)
    fraud_rate = check_float("fraud_rate", fraud_rate, min_value=0.0, max_value=0.5)
    seed = check_int("seed", seed)
    rng = np.random.default_rng(seed)

    n_fraud = round(n * fraud_rate)
    is_fraud = np.zeros(n, dtype=np.int64)
    fraud_rows = rng.choice(n, size=n_fraud, replace=False)
    is_fraud[fraud_rows] = 1
    mimic_rows = rng.choice(fraud_rows, size=round(_MIMIC_SHARE * n_fraud), replace=False)
    typical = is_fraud.astype(bool)
    typical[mimic_rows] = False
    k = int(typical.sum())

    # Draw every column for everyone from the legitimate distributions, then overwrite the
    # typical frauds: mimics keep their legitimate-looking values.
    amount = rng.lognormal(3.5, 1.0, n)
    amount[typical] = rng.lognormal(4.6, 1.1, k)

    hour = np.rint(rng.normal(14.0, 4.0, n))
    at_night = rng.random(k) < 0.5
    hour[typical] = np.where(at_night, rng.integers(0, 6, k), np.rint(rng.normal(14.0, 4.0, k)))
    hour = (hour % 24).astype(np.int64)

    distance = rng.exponential(8.0, n)
    distance[typical] = rng.exponential(300.0, k)

    recent = rng.poisson(2.0, n).astype(np.int64)
    recent[typical] = rng.poisson(5.0, k)

    category = rng.choice(len(MERCHANT_CATEGORIES), size=n, p=_LEGIT_CATEGORY_P)
    category[typical] = rng.choice(len(MERCHANT_CATEGORIES), size=k, p=_FRAUD_CATEGORY_P)
    fuel = MERCHANT_CATEGORIES.index("fuel")
    online = (rng.random(n) < np.asarray(_ONLINE_P)[category]).astype(np.int64)
    online[typical] = (rng.random(k) < 0.7) & (category[typical] != fuel)

    foreign = (rng.random(n) < 0.03).astype(np.int64)
    foreign[typical] = rng.random(k) < 0.2

    import pandas as pd

    return pd.DataFrame(
        {
            "amount": np.round(amount, 2),
            "hour": hour,
            "distance_from_home_km": np.round(distance, 2),
            "transactions_last_24h": recent,
            "online": online,
            "foreign": foreign,
            "merchant_category": np.asarray(MERCHANT_CATEGORIES, dtype=object)[category],
            "is_fraud": is_fraud,
        },
        columns=list(TRANSACTION_COLUMNS),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_transactions(
    directory: str | os.PathLike[str] | None = None,
    n: int = DEFAULT_N_TRANSACTIONS,
    fraud_rate: float = DEFAULT_FRAUD_RATE,
    seed: int = DEFAULT_SEED,
) -> Path:
    """Generate the transactions, write ``transactions.csv`` and ``MANIFEST.sha256`` into ``directory``.

    ``directory`` defaults to ``data_dir()``. The CSV is written with ``\\n`` line endings, no index
    and two decimals for floats, so the bytes (and the SHA-256 in the manifest, in ``sha256sum``
    format) are the same on every machine. Returns the CSV path.
    """
    target = data_dir() if directory is None else Path(directory)
    if target.exists() and not target.is_dir():
        raise ValueError(f"directory must be a folder, but {target} is a file")
    frame = generate_transactions(n=n, fraud_rate=fraud_rate, seed=seed)
    target.mkdir(parents=True, exist_ok=True)
    csv_path = target / TRANSACTIONS_FILE
    frame.to_csv(csv_path, index=False, lineterminator="\n", float_format="%.2f", encoding="utf-8")
    (target / MANIFEST_FILE).write_bytes(f"{_sha256(csv_path)}  {TRANSACTIONS_FILE}\n".encode())
    return csv_path


def data_dir() -> Path:
    """The folder holding the shipped data files.

    ``$WARMUP_DATA_DIR`` if set; else ``data/`` next to the package (the repository root, as the
    package is installed in editable mode). Where that folder does not exist (a non-editable
    install puts the package in site-packages), the first ``data/`` holding a ``MANIFEST.sha256``
    in the current folder or one of its parents is used, so notebooks run from ``notebooks/``
    still find the repository's data.
    """
    override = os.environ.get("WARMUP_DATA_DIR")
    if override:
        return Path(override).expanduser()
    beside_package = Path(__file__).resolve().parent.parent / "data"
    if beside_package.is_dir():
        return beside_package
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "data" / MANIFEST_FILE).is_file():
            return folder / "data"
    return beside_package


def _read_manifest(manifest: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise DataFileError(
                f"{manifest}: line {number} is not in sha256sum format '<64 hex digits>  <file name>': {line!r}"
            )
        entries[name.strip().lstrip("*")] = digest.lower()
    return entries


def verify_manifest(path: str | os.PathLike[str]) -> str:
    """Check ``path`` against the ``MANIFEST.sha256`` in its folder; return its SHA-256 or raise ``DataFileError``."""
    path = Path(path)
    manifest = path.parent / MANIFEST_FILE
    if not path.is_file():
        raise DataFileError(
            f"{path}: file not found, so it cannot be verified. Run `python -m warmup_lib.data regenerate` "
            f"to create it."
        )
    fix = (
        "Fix: run `python -m warmup_lib.data regenerate` to rebuild the shipped file (or restore it from "
        "the repository, e.g. `git checkout -- data/`), or pass verify=False to read it as it is."
    )
    if not manifest.is_file():
        raise DataFileError(
            f"{path}: no checksum list {manifest} next to it to verify against. {fix}"
        )
    expected = _read_manifest(manifest).get(path.name)
    if expected is None:
        raise DataFileError(f"{path}: {manifest} has no entry for {path.name!r}. {fix}")
    actual = _sha256(path)
    if actual != expected:
        raise DataFileError(
            f"{path}: checksum mismatch - the file's SHA-256 is {actual} but {manifest.name} expects "
            f"{expected}; the file was edited or damaged (a Windows checkout converting line endings "
            f"does this too). {fix}"
        )
    return actual


# --------------------------------------------------------------------------------------------
# Reading fraud tables with errors that say file, line and column
# --------------------------------------------------------------------------------------------


def _resolve(path: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """The file to read and whether it is the shipped one (which must match the manifest)."""
    if path is None:
        folder = data_dir()
        csv_path = folder / TRANSACTIONS_FILE
        if not csv_path.is_file():
            source = (
                "from $WARMUP_DATA_DIR"
                if os.environ.get("WARMUP_DATA_DIR")
                else "next to the warmup_lib package, then in the current folder and its parents"
            )
            raise DataFileError(
                f"the shipped transactions file was not found: looked for {csv_path} ({source}). "
                f"Run `python -m warmup_lib.data regenerate` to create it, point $WARMUP_DATA_DIR at "
                f"the folder that holds it, or pass path= explicitly."
            )
        return csv_path, True
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"path must be a file path (str or pathlib.Path) or None, got {type(path).__name__}"
        )
    csv_path = Path(path).expanduser()
    if not csv_path.is_file():
        where = csv_path.resolve()
        hint = "it is a folder, not a file" if csv_path.is_dir() else "no such file"
        raise DataFileError(
            f"{path}: cannot read it ({hint}; looked at {where}, relative paths start from the "
            f"current folder {Path.cwd()}). Check the path, or call without path= to use the shipped file."
        )
    return csv_path, False


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        # Blank lines are kept (as empty rows) so row i of the frame is line i + 2 of the file.
        frame = pd.read_csv(path, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path}: the file is empty (no header line, no rows)") from None
    except pd.errors.ParserError as error:
        detail = str(error).strip().removeprefix("Error tokenizing data. C error: ")
        if detail.startswith("Expected"):
            detail += " (a decimal comma, or a comma inside an unquoted value, adds a field)"
        raise DataFileError(f"{path}: not a well-formed CSV file: {detail}") from None
    except UnicodeDecodeError as error:
        raise DataFileError(f"{path}: not a UTF-8 text file ({error}); is it a CSV file?") from None
    if len(frame) == 0:
        raise DataFileError(f"{path}: the file has a header line but no data rows")
    return frame


def _show(value: Any) -> str:
    """A cell as a learner wrote it: 3, 2.5 or 'abc' - not np.int64(3)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


def _where(path: Path, row: int, column: str) -> str:
    return f"{path}: line {row + 2} (data row {row + 1}), column {column!r}"


def _check_columns(path: Path, frame: pd.DataFrame, expected: Sequence[str], schema: str) -> None:
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns))
        hint = ""
        if len(frame.columns) == 1 and ";" in str(frame.columns[0]):
            hint = " The file seems to use ';' between values; save it with ',' as the separator."
        raise DataFileError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}. A {schema} file needs the columns "
            f"{', '.join(expected)}; found {found}.{hint}"
        )


def _check_numeric(
    path: Path, frame: pd.DataFrame, columns: Sequence[str], integer: Sequence[str] = ()
) -> None:
    """Turn every listed column into numbers or raise naming the first bad cell."""
    import pandas as pd

    for column in columns:
        raw = frame[column]
        values = (
            pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw
        )
        bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            cell = raw.iloc[row]
            what = (
                "is empty"
                if pd.isna(cell) or str(cell).strip() == ""
                else f"value {_show(cell)} is not a finite number"
            )
            raise DataFileError(f"{_where(path, row, column)}: {what}")
        if column in integer:
            fractional = values.to_numpy(dtype=float) % 1 != 0
            if fractional.any():
                row = int(np.flatnonzero(fractional)[0])
                raise DataFileError(
                    f"{_where(path, row, column)}: value {_show(raw.iloc[row])} is not a whole number"
                )
            frame[column] = values.astype(np.int64)
        else:
            frame[column] = values.astype(np.float64)


def _check_allowed(
    path: Path, frame: pd.DataFrame, column: str, allowed: Sequence[Any], what: str
) -> None:
    import pandas as pd

    outside = ~frame[column].isin(allowed).to_numpy()
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        cell = frame[column].iloc[row]
        problem = "is empty" if pd.isna(cell) else f"value {_show(cell)} is not allowed"
        raise DataFileError(f"{_where(path, row, column)}: {problem}; {what}")


def _validate_transactions(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    _check_columns(path, frame, TRANSACTION_COLUMNS, "transactions")
    frame = frame.loc[:, list(TRANSACTION_COLUMNS)].copy()
    _check_numeric(path, frame, _TRANSACTION_NUMERIC_COLUMNS, integer=_TRANSACTION_INTEGER_COLUMNS)
    for column in _TRANSACTION_BINARY_COLUMNS:
        label = "labels" if column == "is_fraud" else "this flag"
        _check_allowed(path, frame, column, (0, 1), f"{label} must be 0 or 1")
    _check_allowed(
        path, frame, "hour", tuple(range(24)), "hour must be a whole number from 0 to 23"
    )
    _check_allowed(
        path,
        frame,
        "merchant_category",
        MERCHANT_CATEGORIES,
        f"expected one of {', '.join(MERCHANT_CATEGORIES)}",
    )
    frame["merchant_category"] = frame["merchant_category"].astype(object)
    return frame


def _validate_creditcard(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    _check_columns(path, frame, CREDITCARD_COLUMNS, "credit-card (Time, V1..V28, Amount, Class)")
    frame = frame.loc[:, list(CREDITCARD_COLUMNS)].copy()
    _check_numeric(path, frame, CREDITCARD_COLUMNS, integer=("Class",))
    _check_allowed(path, frame, "Class", (0, 1), "labels must be 0 or 1")
    return frame


def _is_creditcard(frame: pd.DataFrame) -> bool:
    return "Class" in frame.columns and "V1" in frame.columns


def read_transactions(
    path: str | os.PathLike[str] | None = None, verify: bool = True
) -> pd.DataFrame:
    """Read and check a transactions CSV (default: the shipped ``data/transactions.csv``).

    With ``path=None`` the file comes from ``data_dir()`` and, if ``verify``, its SHA-256 must match
    ``MANIFEST.sha256``. A file passed by ``path`` is verified only if a manifest next to it lists
    it. Every column of ``TRANSACTION_COLUMNS`` must be present (extra columns are dropped); numbers
    must parse, flags and labels must be 0/1 and hours 0-23. Any problem raises ``DataFileError``
    naming the file, the line and the column.
    """
    frame, _, _ = _open(path, verify, schema="transactions")
    return frame


def read_creditcard(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check a file in the public credit-card fraud schema (``Time``, ``V1``..``V28``, ``Amount``, ``Class``).

    The real file (284,807 rows, ULB, on Kaggle) is not shipped; download it and pass its path.
    Problems raise ``DataFileError`` naming the file, the line and the column.
    """
    if path is None:
        raise TypeError(
            "path must be the path of a credit-card CSV file (the public file is not shipped), got None"
        )
    frame, _, _ = _open(path, verify=False, schema="creditcard")
    return frame


def _listed_in_manifest(path: Path) -> bool:
    manifest = path.parent / MANIFEST_FILE
    return manifest.is_file() and path.name in _read_manifest(manifest)


def _open(
    path: str | os.PathLike[str] | None, verify: bool, schema: str = "auto"
) -> tuple[pd.DataFrame, str, Path]:
    """Find, verify, read and check a fraud table; ``schema="auto"`` recognises the credit-card
    file by its ``V1`` and ``Class`` columns. Returns the frame, its schema and its path."""
    verify = check_bool("verify", verify)
    csv_path, shipped = _resolve(path)
    if verify and (shipped or _listed_in_manifest(csv_path)):
        verify_manifest(csv_path)
    frame = _read_csv(csv_path)
    if schema == "creditcard" or (schema == "auto" and _is_creditcard(frame)):
        return _validate_creditcard(csv_path, frame), "creditcard", csv_path
    return _validate_transactions(csv_path, frame), "transactions", csv_path


class FraudFrames(NamedTuple):
    """The raw (unstandardised) rows of each split, as pandas DataFrames with the original columns."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def _label_column(schema: str) -> str:
    return "Class" if schema == "creditcard" else "is_fraud"


def fraud_frames(
    path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    verify: bool = True,
) -> FraudFrames:
    """The train/val/test rows of a fraud table as DataFrames - the same rows ``load_fraud`` uses.

    Handy for showing amounts in currency units next to predictions: row ``i`` of
    ``fraud_frames(...).test`` is row ``i`` of ``load_fraud(...).X_test`` (same arguments).
    """
    seed = check_int("seed", seed)
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction)
    frame, schema, _ = _open(path, verify)
    parts = _stratified_split(
        frame[_label_column(schema)].to_numpy(dtype=np.float64), seed, val_fraction, test_fraction
    )
    return FraudFrames(*(frame.iloc[p].reset_index(drop=True) for p in parts))


def _features(frame: pd.DataFrame, schema: str) -> tuple[np.ndarray, tuple[str, ...]]:
    if schema == "creditcard":
        # Time counts seconds since the first transaction of the two-day capture: it says when in
        # that window a row was recorded, not something a future transaction would share.
        names = tuple(f"V{i}" for i in range(1, 29)) + ("Amount",)
        return frame.loc[:, list(names)].to_numpy(dtype=np.float64), names
    numeric = [c for c in TRANSACTION_COLUMNS if c not in ("merchant_category", "is_fraud")]
    # One-hot over the fixed category list, so the columns are the same whatever rows a file has.
    one_hot = [
        (frame["merchant_category"] == c).to_numpy(dtype=np.float64) for c in MERCHANT_CATEGORIES
    ]
    X = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in numeric] + one_hot)
    return X, tuple(numeric) + tuple(f"merchant_{c}" for c in MERCHANT_CATEGORIES)


def load_fraud(
    path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    standardize: bool = True,
    verify: bool = True,
) -> DataSplits:
    """A fraud table as a binary ``DataSplits``: float32 features, float32 0/1 labels, stratified split.

    ``path=None`` reads the shipped synthetic ``data/transactions.csv`` (checksum-verified); a file
    in the public credit-card schema (``Time``, ``V1``..``V28``, ``Amount``, ``Class``) is
    recognised by its columns and loaded like ``load_creditcard``. Transactions features are the
    numeric columns plus a one-hot ``merchant_<category>`` column per category. With
    ``standardize`` each feature is shifted and scaled by its train mean and standard deviation only.
    ``info`` has the row and fraud counts and base rate of each split; ``fraud_frames`` gives the
    raw rows (amounts in currency units) in the same order.
    """
    seed = check_int("seed", seed)
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction)
    standardize = check_bool("standardize", standardize)
    frame, schema, csv_path = _open(path, verify)
    return _fraud_splits(frame, schema, csv_path, seed, val_fraction, test_fraction, standardize)


def load_creditcard(
    path: str | os.PathLike[str],
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    standardize: bool = True,
) -> DataSplits:
    """The public credit-card fraud file (or one in its schema) as a binary ``DataSplits``.

    Features are ``V1``..``V28`` and ``Amount``; ``Time`` (seconds since the start of the two-day
    capture) is left out. Split, standardisation and ``info`` as in ``load_fraud``.
    """
    seed = check_int("seed", seed)
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction)
    standardize = check_bool("standardize", standardize)
    frame = read_creditcard(path)
    return _fraud_splits(
        frame, "creditcard", Path(path), seed, val_fraction, test_fraction, standardize
    )


def _fraud_splits(
    frame: pd.DataFrame,
    schema: str,
    csv_path: Path,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    standardize: bool,
) -> DataSplits:
    y = frame[_label_column(schema)].to_numpy(dtype=np.float64)
    X, names = _features(frame, schema)
    parts = _stratified_split(y, seed, val_fraction, test_fraction)
    info: dict[str, Any] = {
        "source": str(csv_path),
        "schema": schema,
        "label_column": _label_column(schema),
        "seed": seed,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "standardized": standardize,
        "n_rows": len(frame),
        "n_fraud": int(y.sum()),
    }
    if standardize:
        X, mean, scale = _standardize(X, parts[0])
        info["feature_mean"] = mean.tolist()
        info["feature_scale"] = scale.tolist()
    for split, p in zip(("train", "val", "test"), parts, strict=True):
        info[f"n_{split}"] = len(p)
        info[f"n_fraud_{split}"] = int(y[p].sum())
        info[f"base_rate_{split}"] = float(y[p].mean())
    name = "creditcard" if schema == "creditcard" else "transactions"
    return DataSplits(
        name,
        "binary",
        *_tensors(X, y, parts, torch.float32),
        n_classes=2,
        feature_names=names,
        info=info,
    )


# --------------------------------------------------------------------------------------------
# Leakage lesson
# --------------------------------------------------------------------------------------------


def add_leaky_feature(data: DataSplits, strength: float = 5.0, seed: int = 0) -> DataSplits:
    """A copy of ``data`` with one extra column, ``leaky_feature``, that gives the label away.

    leaky_feature = strength * label + noise, noise ~ N(0, 1), in train, val *and* test, where
    label is the 0/1 label (binary) or the class index (multiclass). It mimics a column recorded
    *after* the outcome - "chargeback filed", "account frozen", "follow-up visit booked": in the
    historical table it is present for every row, so offline validation and test scores look
    superb, but at prediction time it does not exist yet and the model fails. ``strength`` is the
    gap between classes in noise standard deviations: at the default 5, logistic regression on
    the shipped fraud data goes from average precision ~0.7 to ~0.98. Language
    data is refused: its inputs are token ids, not feature columns.
    """
    if not isinstance(data, DataSplits):
        raise TypeError(
            f"data must be a DataSplits (for example load_fraud()), got {type(data).__name__}"
        )
    if data.task == "language":
        raise ValueError(
            "data must be a tabular data set (task 'binary' or 'multiclass'); language data has no feature columns"
        )
    strength = check_float("strength", strength, min_value=0.0)
    seed = check_int("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    columns = {}
    for split in ("train", "val", "test"):
        X, y = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
        noise = torch.randn(len(y), generator=generator, dtype=torch.float32)
        leak = strength * y.to(torch.float32) + noise
        columns[f"X_{split}"] = torch.cat([X, leak[:, None]], dim=1)
    names = None if data.feature_names is None else (*data.feature_names, "leaky_feature")
    info = {
        **data.info,
        "leaky_feature": {"column": data.X_train.shape[1], "strength": strength, "seed": seed},
    }
    return dataclasses.replace(
        data, name=f"{data.name}+leak", feature_names=names, info=info, **columns
    )


def subset(data: DataSplits, n_train: int) -> DataSplits:
    """A copy of ``data`` keeping only the first ``n_train`` training rows (val and test unchanged).

    The splits are drawn stratified and shuffled, so the first rows are a fair sample. Used to
    make a model overfit on purpose (few examples, many steps) or to make full-batch runs cheap.
    """
    if not isinstance(data, DataSplits):
        raise TypeError(f"data must be a DataSplits (for example load_digits()), got {type(data).__name__}")
    n_train = check_int("n_train", n_train, min_value=1, max_value=len(data.y_train))
    info = {**data.info, "subset": {"n_train": n_train, "of": len(data.y_train)}}
    return dataclasses.replace(
        data,
        name=f"{data.name}, {n_train} training rows",
        X_train=data.X_train[:n_train],
        y_train=data.y_train[:n_train],
        info=info,
    )


def one_vs_rest(data: DataSplits, positive_class: int) -> DataSplits:
    """A binary copy of multiclass ``data``: label 1 for ``positive_class``, 0 for every other class.

    Labels become float32 0/1 as the binary task expects; ``info`` records the base rate of each
    split (roughly 1/10 for one digit against the rest).
    """
    if not isinstance(data, DataSplits):
        raise TypeError(f"data must be a DataSplits (for example load_digits()), got {type(data).__name__}")
    if data.task != "multiclass":
        raise ValueError(f"data must be a multiclass task, got task {data.task!r}")
    positive_class = check_int("positive_class", positive_class, min_value=0, max_value=data.n_classes - 1)
    labels = {split: (getattr(data, f"y_{split}") == positive_class).to(torch.float32) for split in ("train", "val", "test")}
    info = {
        **data.info,
        "one_vs_rest": {
            "positive_class": positive_class,
            **{f"{split}_base_rate": float(y.mean()) for split, y in labels.items()},
        },
    }
    return dataclasses.replace(
        data,
        name=f"{data.name}: {positive_class} vs rest",
        task="binary",
        n_classes=2,
        y_train=labels["train"],
        y_val=labels["val"],
        y_test=labels["test"],
        info=info,
    )


def oversample(data: DataSplits, factor: int = 20) -> DataSplits:
    """A copy of binary ``data`` whose training split repeats every positive row ``factor`` times.

    Only the training split changes: validation and test keep the real class balance, so their
    metrics still mean what they say. The copies are appended after the original rows (the trainer
    shuffles every epoch). ``info`` gets the new training counts and base rate under
    ``"oversampled"``.
    """
    if not isinstance(data, DataSplits):
        raise TypeError(f"data must be a DataSplits (for example load_fraud()), got {type(data).__name__}")
    if data.task != "binary":
        raise ValueError(f"data must be a binary task to oversample its positives, got task {data.task!r}")
    factor = check_int("factor", factor, min_value=1)
    positives = torch.nonzero(data.y_train == 1).squeeze(1)
    rows = torch.cat([torch.arange(len(data.y_train)), positives.repeat(factor - 1)])
    y_train = data.y_train[rows]
    n_pos = int(y_train.sum())
    info = {
        **data.info,
        "oversampled": {
            "factor": factor,
            "n_train": len(rows),
            "n_train_positive": n_pos,
            "train_base_rate": n_pos / len(rows),
        },
    }
    return dataclasses.replace(
        data, name=f"{data.name}, positives x{factor}", X_train=data.X_train[rows], y_train=y_train, info=info
    )


def corrupt_rows(
    data: DataSplits, n_rows: int, *, feature_scale: float = 10.0, seed: int = 0
) -> DataSplits:
    """A copy of ``data`` in which ``n_rows`` training rows are corrupted records.

    Each chosen row gets its features multiplied by ``feature_scale`` (values written in the
    wrong units) and a wrong label (another class, chosen at random, for a multiclass task; the
    other label for a binary one) - what a broken export or a labelling bug leaves behind. With
    ``feature_scale=1`` only the labels are wrong. Validation and test are left clean, so their
    metrics still say how the model does on real data. The rows are drawn with ``seed``; their
    indices, sorted, are in ``info["corrupted_rows"]["rows"]``. A mini-batch that contains one of
    them has a much larger loss and gradient than its neighbours: a loss spike that comes from the
    data, not from the learning rate.
    """
    if not isinstance(data, DataSplits):
        raise TypeError(f"data must be a DataSplits (for example load_digits()), got {type(data).__name__}")
    if data.task == "language":
        raise ValueError(
            "data must be a tabular data set (task 'binary' or 'multiclass'); language data has no feature columns"
        )
    n_train = len(data.y_train)
    n_rows = check_int("n_rows", n_rows, min_value=1, max_value=n_train)
    feature_scale = check_float("feature_scale", feature_scale, min_value=0.0, min_open=True)
    seed = check_int("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randperm(n_train, generator=generator)[:n_rows].sort().values
    X_train, y_train = data.X_train.clone(), data.y_train.clone()
    X_train[rows] *= feature_scale
    if data.task == "binary":
        y_train[rows] = 1 - y_train[rows]
    else:
        shift = torch.randint(1, data.n_classes, (n_rows,), generator=generator)
        y_train[rows] = (y_train[rows] + shift) % data.n_classes
    info = {
        **data.info,
        "corrupted_rows": {"rows": rows.tolist(), "feature_scale": feature_scale, "seed": seed},
    }
    return dataclasses.replace(
        data,
        name=f"{data.name}, {n_rows} corrupted rows",
        X_train=X_train,
        y_train=y_train,
        info=info,
    )


# --------------------------------------------------------------------------------------------
# Command line: python -m warmup_lib.data regenerate | verify
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``regenerate`` writes the CSV and manifest, ``verify`` checks them."""
    parser = argparse.ArgumentParser(
        prog="python -m warmup_lib.data",
        description="Rebuild or check the shipped synthetic transactions.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    regenerate = commands.add_parser(
        "regenerate", help="write transactions.csv and MANIFEST.sha256"
    )
    regenerate.add_argument(
        "--out", type=Path, default=None, help="folder to write into (default: the data folder)"
    )
    regenerate.add_argument("--n", type=int, default=DEFAULT_N_TRANSACTIONS, help="number of rows")
    regenerate.add_argument(
        "--fraud-rate", type=float, default=DEFAULT_FRAUD_RATE, help="share of frauds"
    )
    regenerate.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    check = commands.add_parser("verify", help="check transactions.csv against MANIFEST.sha256")
    check.add_argument(
        "--dir", type=Path, default=None, help="folder to check (default: the data folder)"
    )
    args = parser.parse_args(argv)

    if args.command == "regenerate":
        try:
            csv_path = write_transactions(
                args.out, n=args.n, fraud_rate=args.fraud_rate, seed=args.seed
            )
        except (ValueError, OSError) as error:
            print(f"FAILED: {error}", file=sys.stderr)
            return 2
        print(
            f"wrote {csv_path} ({csv_path.stat().st_size:,} bytes) and {csv_path.parent / MANIFEST_FILE}"
        )
        return 0
    folder = data_dir() if args.dir is None else args.dir
    try:
        digest = verify_manifest(folder / TRANSACTIONS_FILE)
    except (DataFileError, OSError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print(f"OK: {folder / TRANSACTIONS_FILE} matches {MANIFEST_FILE} (sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
