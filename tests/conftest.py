"""Test-suite setup: headless matplotlib and one torch thread, as the notebooks use."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
