"""examples/ddp_warmup.py under torch's launcher: 2 processes agree, and a crash is survived exactly.

Each launch starts three Python processes (the launcher and two workers), so the runs are kept
short (12 steps) and the uninterrupted run is shared by the tests that compare with it.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

import warmup_lib as wl

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "ddp_warmup.py"
STEPS, WARMUP, PEAK_LR, FAIL_AT = 12, 4, 0.1, 7
SETTINGS = ["--steps", str(STEPS), "--warmup", str(WARMUP), "--peak-lr", str(PEAK_LR), "--checkpoint-every", "3"]

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo")


def launch(out: Path, *extra: str, max_restarts: int = 0) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc-per-node 2 examples/ddp_warmup.py ...``"""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "--max-restarts", str(max_restarts), str(SCRIPT), *SETTINGS, "--out", str(out), "--device", "cpu", *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)


def rows(out: Path, rank: int) -> list[dict[str, float]]:
    with (out / f"rank{rank}.csv").open(newline="") as file:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(file)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    result = launch(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done: 12 steps on 2 processes (gloo), global batch 64" in result.stdout
    return out


def test_both_ranks_log_every_step_with_the_same_lr_and_weights(uninterrupted):
    rank0, rank1 = rows(uninterrupted, 0), rows(uninterrupted, 1)
    assert [r["step"] for r in rank0] == [r["step"] for r in rank1] == list(range(STEPS))
    for a, b in zip(rank0, rank1, strict=True):
        assert a["lr"] == b["lr"] and a["train_loss"] == b["train_loss"]
        assert a["param_checksum"] == b["param_checksum"], "DDP keeps the replicas identical"
    # Each rank trains on its own share of the batch; the global loss is their mean.
    assert any(a["rank_loss"] != b["rank_loss"] for a, b in zip(rank0, rank1, strict=True))
    for a, b in zip(rank0, rank1, strict=True):
        assert math.isclose(a["train_loss"], (a["rank_loss"] + b["rank_loss"]) / 2, rel_tol=1e-6)


def test_the_lr_follows_the_warmup_schedule_once_per_optimizer_step(uninterrupted):
    schedule = wl.warmup_then(wl.LinearWarmup(WARMUP), wl.CosineDecay(STEPS - WARMUP))
    lrs = [r["lr"] for r in rows(uninterrupted, 0)]
    assert lrs == pytest.approx([PEAK_LR * schedule(s) for s in range(STEPS)], rel=1e-12, abs=1e-15)
    assert lrs[:WARMUP + 1] == sorted(lrs[:WARMUP + 1]) and lrs[WARMUP] == pytest.approx(PEAK_LR)


def test_a_crashed_rank_is_restarted_and_resumes_exactly(uninterrupted, tmp_path):
    result = launch(tmp_path, "--fail-at-step", str(FAIL_AT), max_restarts=1)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / f"failed_at_step_{FAIL_AT}").exists(), "rank 1 should have crashed once"
    assert f"simulated crash of rank 1 at step {FAIL_AT}" in result.stdout + result.stderr
    # The last checkpoint before step 7 was written after step 6 (every 3 steps).
    assert "restart 1: resumed from the checkpoint at step 6 of 12" in result.stdout
    for rank in (0, 1):
        resumed, reference = rows(tmp_path, rank), rows(uninterrupted, rank)
        assert [r["step"] for r in resumed] == list(range(STEPS)), "each step logged exactly once"
        for got, want in zip(resumed, reference, strict=True):
            for column in ("lr", "train_loss", "param_checksum"):
                assert got[column] == pytest.approx(want[column], rel=1e-6, abs=1e-6), (rank, got["step"], column)


def test_bad_options_are_named_before_anything_starts(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", "5", "--warmup", "9", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "--warmup must be between 0 and --steps (5), got 9" in result.stderr


def test_without_the_launcher_it_says_how_to_launch(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 2
    assert "python -m torch.distributed.run --standalone --nproc-per-node 2" in result.stderr
