"""Tests of warmup_lib.data: splits, the bigram language, the teacher task, the fraud tables and their errors."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from warmup_lib import data as D
from warmup_lib.data import DataFileError, DataSplits

torch.set_num_threads(1)

FIXTURES = Path(__file__).parent / "fixtures"
CREDITCARD_TINY = FIXTURES / "creditcard_tiny.csv"
SHIPPED = D.data_dir() / "transactions.csv"


def write_creditcard_fixture(path: Path, n: int = 200, n_fraud: int = 10, seed: int = 7) -> None:
    """Write the tiny file in the public credit-card schema (random numbers, a few frauds).

    ``Class`` is quoted as in the real Kaggle file. Run this module as a script to rebuild
    ``tests/fixtures/creditcard_tiny.csv``; ``test_creditcard_fixture_is_reproducible`` checks it.
    """
    rng = np.random.default_rng(seed)
    label = np.zeros(n, dtype=int)
    label[rng.choice(n, n_fraud, replace=False)] = 1
    time = np.sort(rng.uniform(0, 172_792, n)).round()
    v = rng.normal(size=(n, 28)) - 2.0 * label[:, None] * (np.arange(28) < 4)
    amount = rng.lognormal(3.5, 1.2, n).round(2)
    lines = [",".join(f'"{c}"' for c in D.CREDITCARD_COLUMNS)]
    for i in range(n):
        cells = [f"{time[i]:.0f}", *(f"{x:.6f}" for x in v[i]), f"{amount[i]:.2f}", f'"{label[i]}"']
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def fraud() -> DataSplits:
    return D.load_fraud()


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return D.load_digits()


@pytest.fixture(scope="module")
def bigram() -> DataSplits:
    return D.make_bigram_language()


@pytest.fixture()
def small_csv(tmp_path: Path) -> Path:
    """The first 30 rows of the shipped file, as a scratch copy to damage."""
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()[:31]
    path = tmp_path / "small.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _replace_cell(path: Path, data_row: int, column: str, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[data_row].split(",")
    cells[header.index(column)] = value
    lines[data_row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- DataSplits


def _tiny_splits(**changes) -> DataSplits:
    X, y = torch.zeros(4, 3), torch.tensor([0, 1, 0, 1], dtype=torch.int64)
    fields = dict(
        name="tiny", task="multiclass", X_train=X, y_train=y, X_val=X, y_val=y, X_test=X, y_test=y,
        n_classes=2, feature_names=("a", "b", "c"), info={},
    )  # fmt: skip
    fields.update(changes)
    return DataSplits(**fields)


def test_datasplits_is_frozen_and_compares_by_identity():
    splits = _tiny_splits()
    with pytest.raises(dataclasses.FrozenInstanceError):
        splits.name = "other"  # type: ignore[misc]
    assert splits == splits and splits != _tiny_splits()
    assert splits.n_features == 3


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        (dict(task="regression"), ValueError, "task"),
        (dict(y_val=torch.tensor([0, 1])), ValueError, "y_val"),
        (dict(y_train=torch.zeros(4)), TypeError, "y_train"),
        (dict(X_test=np.zeros((4, 3))), TypeError, "X_test"),
        (dict(feature_names=("a",)), ValueError, "feature_names"),
        (dict(n_classes=1), ValueError, "n_classes"),
        (dict(X_val=torch.zeros(4, 2)), ValueError, "X_val"),
        (dict(info=[]), TypeError, "info"),
    ],
)
def test_datasplits_rejects_inconsistent_fields(changes, error, words):
    with pytest.raises(error, match=words):
        _tiny_splits(**changes)


def test_repr_and_summary_are_short_and_informative(digits, fraud, bigram):
    assert repr(digits) == (
        "DataSplits(name='digits', task='multiclass', train=1077, val=360, test=360, "
        "n_features=64, n_classes=10)"
    )
    assert "180 positive (0.50%)" in fraud.summary()
    assert "best possible loss 0.792" in bigram.summary()
    assert all(len(s.summary().splitlines()) <= 6 for s in (digits, fraud, bigram))


# ---------------------------------------------------------------- digits


def test_digits_shapes_dtypes_and_stratification(digits):
    assert (digits.task, digits.n_classes, digits.n_features) == ("multiclass", 10, 64)
    assert len(digits.X_train) + len(digits.X_val) + len(digits.X_test) == 1797
    assert digits.X_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
    assert len(digits.feature_names) == 64
    for y in (digits.y_train, digits.y_val, digits.y_test):
        shares = torch.bincount(y, minlength=10).double() / len(y)
        assert shares.min() > 0.09 and shares.max() < 0.11


def test_digits_standardised_on_train_only(digits):
    X = digits.X_train.double()
    varying = X.std(dim=0) > 0
    assert torch.allclose(X.mean(dim=0), torch.zeros(64, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(
        X[:, varying].std(dim=0, unbiased=False),
        torch.ones(int(varying.sum()), dtype=torch.float64),
        atol=1e-4,
    )
    assert (~varying).any(), "some pixels are always blank: the NaN guard must be exercised"
    for tensor in (digits.X_train, digits.X_val, digits.X_test):
        assert torch.isfinite(tensor).all()
    # Statistics of val were not used: its column means are not all zero.
    assert digits.X_val.double().mean(dim=0).abs().max() > 0.01


def test_digits_deterministic_per_seed():
    a, b, c = D.load_digits(seed=3), D.load_digits(seed=3), D.load_digits(seed=4)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_train, c.y_train)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(val_fraction=0.0), "val_fraction"),
        (dict(test_fraction=1.0), "test_fraction"),
        (dict(val_fraction=0.5, test_fraction=0.5), "val_fraction \\+ test_fraction"),
        (dict(seed=-1), "seed"),
        (dict(test_fraction=0.001), "test_fraction=0.001"),
    ],
)
def test_digits_bad_arguments_name_the_argument(kwargs, words):
    with pytest.raises(ValueError, match=words):
        D.load_digits(**kwargs)


def test_digits_wrong_type_is_type_error():
    with pytest.raises(TypeError, match="seed"):
        D.load_digits(seed="0")


# ---------------------------------------------------------------- bigram language


def test_bigram_shapes_and_shift(bigram):
    assert bigram.task == "language" and bigram.n_classes == 32 and bigram.n_features is None
    assert bigram.X_train.shape == (8192, 24) and bigram.X_test.shape == (1024, 24)
    assert bigram.X_train.dtype == torch.int64 and bigram.y_train.dtype == torch.int64
    assert torch.equal(bigram.X_train[:, 1:], bigram.y_train[:, :-1])
    assert int(bigram.X_train.min()) >= 0 and int(bigram.X_train.max()) < 32


def test_bigram_losses_closed_form_and_brute_force(bigram):
    info = bigram.info
    p1, p2, rest = 0.65, 0.33, 0.02 / 30
    row_entropy = -(p1 * math.log(p1) + p2 * math.log(p2) + 30 * rest * math.log(rest))
    assert info["best_loss"] == pytest.approx(row_entropy, rel=1e-12)
    assert (
        info["best_loss"]
        < info["unigram_loss"]
        < info["chance_loss"]
        == pytest.approx(math.log(32))
    )
    # Brute force: the true model's mean cross-entropy on the sampled tokens.
    P = torch.tensor(info["transition_matrix"], dtype=torch.float64)
    X = torch.cat([bigram.X_train, bigram.X_val, bigram.X_test])
    y = torch.cat([bigram.y_train, bigram.y_val, bigram.y_test])
    assert float(-P[X, y].log().mean()) == pytest.approx(info["best_loss"], abs=0.01)
    # ... and the context-free model that predicts the stationary frequencies.
    pi = torch.tensor(info["stationary_distribution"], dtype=torch.float64)
    assert float(-pi[y].log().mean()) == pytest.approx(info["unigram_loss"], abs=0.01)
    frequencies = torch.bincount(y.flatten(), minlength=32).double() / y.numel()
    assert torch.allclose(frequencies, pi, atol=0.005)


def test_bigram_matrix_structure_and_function_agree(bigram):
    P = np.asarray(bigram.info["transition_matrix"])
    assert np.array_equal(P, D.bigram_transition_matrix(seed=0))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    top_two = np.sort(P, axis=1)[:, -2:]
    np.testing.assert_allclose(top_two, np.tile([0.33, 0.65], (32, 1)))
    pi = np.asarray(bigram.info["stationary_distribution"])
    np.testing.assert_allclose(pi @ P, pi, atol=1e-12)


def test_bigram_deterministic_per_seed():
    a = D.make_bigram_language(n_train=64, n_val=8, n_test=8, seed=5)
    b = D.make_bigram_language(n_train=64, n_val=8, n_test=8, seed=5)
    c = D.make_bigram_language(n_train=64, n_val=8, n_test=8, seed=6)
    assert torch.equal(a.X_train, b.X_train) and a.info == b.info
    assert not torch.equal(a.X_train, c.X_train)


@settings(max_examples=25, deadline=None)
@given(
    vocab_size=st.integers(3, 40),
    p_first=st.floats(0.01, 0.9),
    share=st.floats(0.0, 0.99),
    seed=st.integers(0, 2**31),
)
def test_bigram_entropy_rate_never_exceeds_unigram_entropy(vocab_size, p_first, share, seed):
    p_second = share * min(p_first, 1 - p_first)
    data = D.make_bigram_language(
        vocab_size,
        seq_len=3,
        n_train=4,
        n_val=1,
        n_test=1,
        seed=seed,
        p_first=p_first,
        p_second=p_second,
    )
    P = np.asarray(data.info["transition_matrix"])
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert data.info["best_loss"] <= data.info["unigram_loss"] + 1e-9 <= math.log(vocab_size) + 2e-9


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(vocab_size=2), ValueError, "vocab_size"),
        (dict(p_first=0.7, p_second=0.3), ValueError, "p_first \\+ p_second"),
        (dict(p_first=0.0), ValueError, "p_first"),
        (dict(p_second=-0.1), ValueError, "p_second"),
        (dict(p_first=0.3, p_second=0.4), ValueError, "p_second must be <= p_first"),
        (dict(seq_len=0), ValueError, "seq_len"),
        (dict(n_val=0), ValueError, "n_val"),
        (dict(n_train=10.5), ValueError, "n_train"),
        (dict(seed=None), TypeError, "seed"),
    ],
)
def test_bigram_bad_arguments_name_the_argument(kwargs, error, words):
    with pytest.raises(error, match=words):
        D.make_bigram_language(**kwargs)


# ---------------------------------------------------------------- teacher-labelled classification


@pytest.fixture(scope="module")
def teacher() -> DataSplits:
    return D.make_teacher_classification()


def test_teacher_shapes_dtypes_and_standard_normal_inputs(teacher):
    assert teacher.task == "multiclass" and teacher.n_classes == 10 and teacher.n_features == 32
    assert (len(teacher.X_train), len(teacher.X_val), len(teacher.X_test)) == (16_384, 4_096, 4_096)
    assert teacher.X_train.dtype == torch.float32 and teacher.y_train.dtype == torch.int64
    X = torch.cat([teacher.X_train, teacher.X_val, teacher.X_test])
    assert abs(float(X.mean())) < 0.01 and abs(float(X.std()) - 1) < 0.01
    assert "best possible val loss" in teacher.summary()


def test_teacher_labels_are_noisy_but_learnable_and_no_class_is_rare(teacher):
    info = teacher.info
    assert 0.0 < info["best_loss"] < info["chance_loss"] == pytest.approx(math.log(10))
    assert 0.1 < info["best_accuracy"] < 1.0
    counts = np.asarray(info["class_counts"]["train"])
    assert counts.sum() == 16_384 and counts.min() / counts.sum() > 0.03
    assert counts.tolist() == torch.bincount(teacher.y_train, minlength=10).tolist()


def test_teacher_sharper_means_less_label_noise():
    losses = [D.make_teacher_classification(n_train=8, n_val=2000, n_test=1, sharpness=s).info["best_loss"] for s in (2, 8, 32)]
    assert losses == sorted(losses, reverse=True)


def test_teacher_deterministic_per_seed():
    a = D.make_teacher_classification(n_train=64, n_val=8, n_test=8, seed=5)
    b = D.make_teacher_classification(n_train=64, n_val=8, n_test=8, seed=5)
    c = D.make_teacher_classification(n_train=64, n_val=8, n_test=8, seed=6)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_train, b.y_train) and a.info == b.info
    assert not torch.equal(a.X_train, c.X_train)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(n_train=0), ValueError, "n_train"),
        (dict(n_val=2.5), ValueError, "n_val"),
        (dict(n_features=0), ValueError, "n_features"),
        (dict(n_classes=1), ValueError, "n_classes must be an integer >= 2"),
        (dict(teacher_width=0), ValueError, "teacher_width"),
        (dict(sharpness=0), ValueError, "sharpness must be > 0"),
        (dict(sharpness="big"), TypeError, "sharpness"),
        (dict(seed=-1), ValueError, "seed"),
    ],
)
def test_teacher_bad_arguments_name_the_argument(kwargs, error, words):
    with pytest.raises(error, match=words):
        D.make_teacher_classification(**kwargs)


# ---------------------------------------------------------------- generating transactions


def test_generate_transactions_schema_and_rate():
    frame = D.generate_transactions(n=20_000, fraud_rate=0.01, seed=1)
    assert tuple(frame.columns) == D.TRANSACTION_COLUMNS
    assert int(frame["is_fraud"].sum()) == 200
    assert frame["hour"].between(0, 23).all() and set(frame["online"]) <= {0, 1}
    assert set(frame["merchant_category"]) == set(D.MERCHANT_CATEGORIES)
    assert (frame["amount"] > 0).all() and (frame["amount"].round(2) == frame["amount"]).all()
    # Frauds differ on average, but not all of them: ~30 % mimic legitimate rows.
    by_class = frame.groupby("is_fraud")["distance_from_home_km"].median()
    assert by_class[1] > 5 * by_class[0]
    assert (frame.loc[frame.is_fraud == 1, "distance_from_home_km"] < 30).mean() > 0.25


def test_generate_transactions_deterministic_per_seed():
    a, b = D.generate_transactions(n=500, seed=2), D.generate_transactions(n=500, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(D.generate_transactions(n=500, seed=3))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [(dict(n=0), "n must"), (dict(fraud_rate=0.7), "fraud_rate"), (dict(seed=-3), "seed")],
)
def test_generate_transactions_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        D.generate_transactions(**kwargs)


def test_regenerating_reproduces_the_shipped_file_byte_for_byte(tmp_path):
    assert D.main(["regenerate", "--out", str(tmp_path)]) == 0
    fresh = (tmp_path / "transactions.csv").read_bytes()
    assert hashlib.sha256(fresh).hexdigest() == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert (tmp_path / "MANIFEST.sha256").read_bytes() == (
        SHIPPED.parent / "MANIFEST.sha256"
    ).read_bytes()
    assert D.main(["verify", "--dir", str(tmp_path)]) == 0


def test_regenerate_with_bad_option_fails_cleanly(tmp_path, capsys):
    assert D.main(["regenerate", "--out", str(tmp_path), "--n", "0"]) == 2
    assert "n must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "transactions.csv").exists()


def test_shipped_file_matches_manifest_and_datasheet():
    digest = D.verify_manifest(SHIPPED)
    manifest = (SHIPPED.parent / "MANIFEST.sha256").read_text()
    assert manifest == f"{digest}  transactions.csv\n"
    frame = D.read_transactions()
    n, n_fraud = len(frame), int(frame["is_fraud"].sum())
    assert (n, n_fraud) == (
        D.DEFAULT_N_TRANSACTIONS,
        round(D.DEFAULT_N_TRANSACTIONS * D.DEFAULT_FRAUD_RATE),
    )
    assert n_fraud >= 150 and SHIPPED.stat().st_size < 3_000_000
    sheet = (SHIPPED.parent / "DATASHEET.md").read_text()
    for number in (
        f"{n:,} rows",
        f"{n - n_fraud:,} legitimate",
        f"{n_fraud} frauds",
        f"{n_fraud / n:.3%}".replace("%", " %"),
    ):
        assert number in sheet, f"DATASHEET.md is out of date: {number!r} not found"


# ---------------------------------------------------------------- reading and its errors


def test_checksum_mismatch_names_file_both_hashes_and_fix(tmp_path, monkeypatch):
    shutil.copy(SHIPPED, tmp_path / "transactions.csv")
    shutil.copy(SHIPPED.parent / "MANIFEST.sha256", tmp_path / "MANIFEST.sha256")
    monkeypatch.setenv("WARMUP_DATA_DIR", str(tmp_path))
    assert len(D.read_transactions()) == D.DEFAULT_N_TRANSACTIONS
    _replace_cell(tmp_path / "transactions.csv", 1, "amount", "7.55")
    actual = hashlib.sha256((tmp_path / "transactions.csv").read_bytes()).hexdigest()
    expected = (tmp_path / "MANIFEST.sha256").read_text().split()[0]
    with pytest.raises(DataFileError) as caught:
        D.read_transactions()
    message = str(caught.value)
    assert "transactions.csv" in message and actual in message and expected in message
    assert "regenerate" in message and "verify=False" in message
    assert D.read_transactions(verify=False)["amount"].iloc[0] == 7.55
    assert D.main(["verify"]) == 1


def test_data_dir_falls_back_to_a_data_folder_above_the_current_one(tmp_path, monkeypatch):
    # A non-editable install: no data/ next to the package, notebooks run from repo/notebooks.
    monkeypatch.delenv("WARMUP_DATA_DIR", raising=False)
    monkeypatch.setattr(D, "__file__", str(tmp_path / "site-packages" / "warmup_lib" / "data.py"))
    (tmp_path / "repo" / "data").mkdir(parents=True)
    (tmp_path / "repo" / "notebooks").mkdir()
    (tmp_path / "repo" / "data" / "MANIFEST.sha256").write_text("")
    monkeypatch.chdir(tmp_path / "repo" / "notebooks")
    assert D.data_dir() == tmp_path / "repo" / "data"
    monkeypatch.chdir(tmp_path)
    assert D.data_dir() == tmp_path / "site-packages" / "data"


def test_command_line_entry_point_runs_as_documented():
    result = subprocess.run(
        [sys.executable, "-m", "warmup_lib.data", "verify"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ") and "transactions.csv" in result.stdout


def test_shipped_file_missing_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("WARMUP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataFileError, match="looked for .*transactions.csv.*regenerate"):
        D.load_fraud()


def test_explicit_file_not_found(tmp_path):
    with pytest.raises(DataFileError, match="no such file; looked at .*nothere.csv"):
        D.read_transactions(tmp_path / "nothere.csv")
    with pytest.raises(DataFileError, match="folder"):
        D.load_fraud(tmp_path)
    with pytest.raises(TypeError, match="path"):
        D.read_transactions(3)


def test_missing_column_lists_missing_and_expected(small_csv):
    frame = pd.read_csv(small_csv).drop(columns=["hour", "online"])
    frame.to_csv(small_csv, index=False)
    with pytest.raises(DataFileError) as caught:
        D.load_fraud(small_csv)
    message = str(caught.value)
    assert str(small_csv) in message and "'hour', 'online'" in message
    assert ", ".join(D.TRANSACTION_COLUMNS) in message


@pytest.mark.parametrize(
    ("row", "column", "value", "words"),
    [
        (
            7,
            "amount",
            "12,5",
            "not a well-formed CSV file: Expected 8 fields in line 8, saw 9 \\(a decimal comma",
        ),
        (
            7,
            "amount",
            "abc",
            "line 8 \\(data row 7\\), column 'amount': value 'abc' is not a finite number",
        ),
        (
            3,
            "distance_from_home_km",
            "",
            "line 4 \\(data row 3\\), column 'distance_from_home_km': is empty",
        ),
        (
            5,
            "hour",
            "3.5",
            "line 6 \\(data row 5\\), column 'hour': value .*3.5.* is not a whole number",
        ),
        (5, "hour", "24", "column 'hour': value 24 is not allowed"),
        (
            9,
            "is_fraud",
            "2",
            "line 10 \\(data row 9\\), column 'is_fraud': value 2 is not allowed; labels must be 0 or 1",
        ),
        (9, "is_fraud", "yes", "column 'is_fraud': value 'yes' is not a finite number"),
        (2, "online", "-1", "column 'online': value -1 is not allowed"),
        (
            4,
            "merchant_category",
            "casino",
            "column 'merchant_category': value 'casino' is not allowed; expected one of grocery",
        ),
        (4, "merchant_category", "", "column 'merchant_category': is empty"),
    ],
)
def test_bad_cells_name_file_line_column_and_value(small_csv, row, column, value, words):
    _replace_cell(small_csv, row, column, value)
    with pytest.raises(DataFileError, match=words) as caught:
        D.read_transactions(small_csv)
    assert str(caught.value).startswith(str(small_csv))


def test_semicolon_separated_file_gets_a_hint(small_csv):
    small_csv.write_text(small_csv.read_text().replace(",", ";"))
    with pytest.raises(DataFileError, match="missing column.*seems to use ';'"):
        D.read_transactions(small_csv)


def test_empty_and_header_only_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFileError, match="empty.csv: the file is empty"):
        D.load_fraud(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(D.TRANSACTION_COLUMNS) + "\n")
    with pytest.raises(
        DataFileError, match="header.csv: the file has a header line but no data rows"
    ):
        D.read_transactions(header_only)


def test_blank_line_is_reported_at_its_line(small_csv):
    lines = small_csv.read_text().splitlines()
    lines.insert(5, "")
    small_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match="line 6 \\(data row 5\\), column 'amount': is empty"):
        D.read_transactions(small_csv)


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00" * 50)
    with pytest.raises(DataFileError, match="image.csv"):
        D.read_transactions(path)


def test_manifest_next_to_a_custom_file_is_checked(small_csv):
    (small_csv.parent / "MANIFEST.sha256").write_text(f"{'0' * 64}  small.csv\n")
    with pytest.raises(DataFileError, match="checksum mismatch"):
        D.read_transactions(small_csv)
    assert len(D.read_transactions(small_csv, verify=False)) == 30
    with pytest.raises(TypeError, match="verify"):
        D.read_transactions(small_csv, verify="no")


# ---------------------------------------------------------------- load_fraud


def test_load_fraud_shapes_dtypes_and_info(fraud):
    assert (fraud.task, fraud.n_classes, fraud.name) == ("binary", 2, "transactions")
    assert fraud.X_train.dtype == torch.float32 and fraud.y_train.dtype == torch.float32
    assert fraud.feature_names[:6] == D.TRANSACTION_COLUMNS[:6]
    assert fraud.feature_names[6:] == tuple(f"merchant_{c}" for c in D.MERCHANT_CATEGORIES)
    info = fraud.info
    assert (info["n_train"], info["n_val"], info["n_test"]) == (36_000, 12_000, 12_000)
    assert (info["n_fraud_train"], info["n_fraud_val"], info["n_fraud_test"]) == (180, 60, 60)
    for split in ("train", "val", "test"):
        y = getattr(fraud, f"y_{split}")
        assert set(y.unique().tolist()) == {0.0, 1.0}
        assert info[f"base_rate_{split}"] == pytest.approx(float(y.mean()))
        assert info[f"base_rate_{split}"] == pytest.approx(0.005, abs=0.0005)
    assert all(isinstance(v, int | float | str | bool | list) for v in info.values())


def test_load_fraud_standardises_on_train_only(fraud):
    X = fraud.X_train.double()
    assert X.mean(dim=0).abs().max() < 1e-5
    assert (X.std(dim=0, unbiased=False) - 1).abs().max() < 1e-4
    raw = D.load_fraud(standardize=False)
    mean, scale = np.asarray(fraud.info["feature_mean"]), np.asarray(fraud.info["feature_scale"])
    np.testing.assert_allclose(raw.X_train.numpy().mean(axis=0), mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        (raw.X_val.numpy() - mean) / scale, fraud.X_val.numpy(), rtol=1e-4, atol=1e-4
    )
    assert "feature_mean" not in raw.info and raw.info["standardized"] is False


def test_fraud_frames_are_the_same_rows_unstandardised(fraud):
    frames = D.fraud_frames()
    assert [len(f) for f in frames] == [36_000, 12_000, 12_000]
    amount = (
        fraud.info["feature_mean"][0]
        + fraud.info["feature_scale"][0] * fraud.X_test[:, 0].double().numpy()
    )
    np.testing.assert_allclose(amount, frames.test["amount"], atol=1e-3)
    np.testing.assert_array_equal(frames.test["is_fraud"].to_numpy(), fraud.y_test.numpy())
    assert tuple(frames.train.columns) == D.TRANSACTION_COLUMNS


def test_load_fraud_deterministic_per_seed(fraud):
    again, other = D.load_fraud(seed=0), D.load_fraud(seed=1)
    assert torch.equal(again.X_test, fraud.X_test)
    assert not torch.equal(other.y_train, fraud.y_train)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(standardize=1), TypeError, "standardize"),
        (dict(val_fraction=1.2), ValueError, "val_fraction"),
        (dict(seed=1.5), ValueError, "seed"),
    ],
)
def test_load_fraud_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        D.load_fraud(**kwargs)


def test_too_few_frauds_to_split(small_csv):
    _replace_cell(small_csv, 1, "is_fraud", "1")
    with pytest.raises(ValueError, match="class 1 has only 1 example"):
        D.load_fraud(small_csv)


# ---------------------------------------------------------------- credit-card schema


def test_creditcard_fixture_is_reproducible(tmp_path):
    write_creditcard_fixture(tmp_path / "cc.csv")
    assert (tmp_path / "cc.csv").read_bytes() == CREDITCARD_TINY.read_bytes()


def test_creditcard_loader_and_auto_detection():
    explicit, detected = D.load_creditcard(CREDITCARD_TINY), D.load_fraud(CREDITCARD_TINY)
    for data in (explicit, detected):
        assert (data.name, data.task, data.n_features) == ("creditcard", "binary", 29)
        assert data.feature_names == (*(f"V{i}" for i in range(1, 29)), "Amount")
        assert data.info["schema"] == "creditcard" and data.info["n_fraud"] == 10
        assert (
            data.info["n_fraud_train"],
            data.info["n_fraud_val"],
            data.info["n_fraud_test"],
        ) == (6, 2, 2)
        assert data.y_train.dtype == torch.float32
    assert torch.equal(explicit.X_train, detected.X_train)
    frame = D.read_creditcard(CREDITCARD_TINY)
    assert tuple(frame.columns) == D.CREDITCARD_COLUMNS and frame["Class"].dtype == np.int64
    assert len(D.fraud_frames(CREDITCARD_TINY).test) == 40


def test_creditcard_bad_files(tmp_path):
    frame = pd.read_csv(CREDITCARD_TINY)
    frame.drop(columns=["V7"]).to_csv(tmp_path / "no_v7.csv", index=False)
    with pytest.raises(DataFileError, match="missing column\\(s\\) 'V7'.*Time, V1, V2"):
        D.load_creditcard(tmp_path / "no_v7.csv")
    frame.loc[11, "Class"] = 3
    frame.to_csv(tmp_path / "class3.csv", index=False)
    with pytest.raises(DataFileError, match="line 13 \\(data row 12\\), column 'Class': value 3"):
        D.load_fraud(tmp_path / "class3.csv")
    with pytest.raises(TypeError, match="path"):
        D.load_creditcard(None)


# ---------------------------------------------------------------- leakage helper


def test_add_leaky_feature_binary(fraud):
    leaky = D.add_leaky_feature(fraud, strength=4.0, seed=1)
    assert leaky.n_features == fraud.n_features + 1 and leaky.feature_names[-1] == "leaky_feature"
    assert leaky.name == "transactions+leak" and leaky.info["leaky_feature"]["strength"] == 4.0
    assert fraud.n_features == 13 and "leaky_feature" not in fraud.info  # the original is untouched
    for split in ("train", "val", "test"):
        X, y = getattr(leaky, f"X_{split}"), getattr(leaky, f"y_{split}")
        assert torch.equal(X[:, :-1], getattr(fraud, f"X_{split}"))
        gap = X[y == 1, -1].mean() - X[y == 0, -1].mean()
        assert abs(float(gap) - 4.0) < 0.5
    assert torch.equal(
        D.add_leaky_feature(fraud, seed=1).X_val, D.add_leaky_feature(fraud, seed=1).X_val
    )


def test_add_leaky_feature_multiclass(digits):
    leaky = D.add_leaky_feature(digits)
    column, labels = leaky.X_train[:, -1], leaky.y_train.float()
    assert torch.corrcoef(torch.stack([column, labels]))[0, 1] > 0.95
    assert leaky.X_train.dtype == torch.float32 and leaky.n_features == 65


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (("bigram", {}), ValueError, "data must be a tabular"),
        (("digits", {"strength": -1.0}), ValueError, "strength"),
        ((None, {}), TypeError, "data must be a DataSplits"),
    ],
)
def test_add_leaky_feature_bad_arguments(request, args, error, words):
    name, kwargs = args
    data = request.getfixturevalue(name) if name else {"X_train": []}
    with pytest.raises(error, match=words):
        D.add_leaky_feature(data, **kwargs)


if __name__ == "__main__":
    FIXTURES.mkdir(exist_ok=True)
    write_creditcard_fixture(CREDITCARD_TINY)
    print(f"wrote {CREDITCARD_TINY}")


def test_oversample_repeats_training_positives_only():
    data = D.load_fraud()
    bigger = D.oversample(data, factor=5)
    n_pos = int(data.y_train.sum())
    assert int(bigger.y_train.sum()) == 5 * n_pos
    assert len(bigger.y_train) == len(data.y_train) + 4 * n_pos
    assert torch.equal(bigger.X_val, data.X_val) and torch.equal(bigger.y_test, data.y_test)
    assert bigger.info["oversampled"]["train_base_rate"] == pytest.approx(5 * n_pos / len(bigger.y_train))
    assert torch.equal(D.oversample(data, factor=5).y_train, bigger.y_train)
    assert torch.equal(D.oversample(data, factor=1).y_train, data.y_train)
    with pytest.raises(ValueError, match="factor"):
        D.oversample(data, factor=0)
    with pytest.raises(ValueError, match="binary"):
        D.oversample(D.load_digits(), factor=2)


def test_subset_keeps_the_first_training_rows_and_records_it():
    digits = D.load_digits()
    small = D.subset(digits, 100)
    assert torch.equal(small.X_train, digits.X_train[:100]) and torch.equal(small.y_val, digits.y_val)
    assert small.info["subset"] == {"n_train": 100, "of": len(digits.y_train)}
    assert len(set(small.y_train.tolist())) == 10, "a stratified split gives every class in the first 100 rows"
    with pytest.raises(ValueError, match="n_train"):
        D.subset(digits, 0)
    with pytest.raises(ValueError, match="n_train"):
        D.subset(digits, len(digits.y_train) + 1)


def test_one_vs_rest_makes_a_binary_task():
    digits = D.load_digits()
    eights = D.one_vs_rest(digits, 8)
    assert eights.task == "binary" and eights.n_classes == 2 and eights.y_train.dtype == torch.float32
    assert torch.equal(eights.y_val, (digits.y_val == 8).float())
    assert 0.05 < eights.info["one_vs_rest"]["train_base_rate"] < 0.15
    with pytest.raises(ValueError, match="positive_class"):
        D.one_vs_rest(digits, 10)
    with pytest.raises(ValueError, match="multiclass"):
        D.one_vs_rest(eights, 1)


def test_corrupt_rows_scales_features_and_gives_wrong_labels_to_training_rows_only():
    digits = D.load_digits()
    broken = D.corrupt_rows(digits, 5, feature_scale=10.0, seed=3)
    rows = broken.info["corrupted_rows"]["rows"]
    assert len(rows) == 5 and rows == sorted(set(rows))
    assert torch.allclose(broken.X_train[rows], 10 * digits.X_train[rows])
    assert bool((broken.y_train[rows] != digits.y_train[rows]).all()), "every corrupted row gets a wrong label"
    assert broken.y_train.min() >= 0 and broken.y_train.max() < digits.n_classes
    clean = [i for i in range(len(digits.y_train)) if i not in rows]
    assert torch.equal(broken.X_train[clean], digits.X_train[clean])
    assert torch.equal(broken.y_train[clean], digits.y_train[clean])
    assert torch.equal(broken.X_val, digits.X_val) and torch.equal(broken.y_test, digits.y_test)
    assert torch.equal(digits.X_train, D.load_digits().X_train), "the original is left untouched"
    assert D.corrupt_rows(digits, 5, seed=3).info["corrupted_rows"]["rows"] == rows, "same seed, same rows"

    eights = D.one_vs_rest(digits, 8)
    flipped = D.corrupt_rows(eights, 4, feature_scale=1.0)
    rows = flipped.info["corrupted_rows"]["rows"]
    assert torch.equal(flipped.y_train[rows], 1 - eights.y_train[rows])
    assert torch.equal(flipped.X_train, eights.X_train), "feature_scale=1 corrupts the labels only"

    with pytest.raises(ValueError, match="n_rows"):
        D.corrupt_rows(digits, 0)
    with pytest.raises(ValueError, match="feature_scale"):
        D.corrupt_rows(digits, 3, feature_scale=0.0)
    with pytest.raises(ValueError, match="tabular"):
        D.corrupt_rows(D.make_bigram_language(n_train=64, n_val=16, n_test=16), 3)
    with pytest.raises(TypeError, match="DataSplits"):
        D.corrupt_rows(digits.X_train, 3)
