"""Drop-in replacements for other packages' warmup APIs, built on warmup_lib.

``warmup_lib.compat.pytorch_warmup`` replaces the ``pytorch_warmup`` package
(``import warmup_lib.compat.pytorch_warmup as warmup``). transformers' schedule API lives at the
package root (``warmup_lib.get_scheduler``, ``warmup_lib.get_linear_schedule_with_warmup``, ...).
"""

import json
from functools import cache
from importlib import resources

from . import pytorch_warmup

__all__ = ["pytorch_warmup", "reference_schedules"]


@cache
def reference_schedules() -> dict:
    """Learning rates the real transformers and pytorch-warmup packages computed, kept as data.

    Neither package is a dependency; ``tools/make_reference_fixtures.py`` (run in a separate
    environment that has them) wrote these values. ``["versions"]`` names the versions;
    ``["get_scheduler"]`` holds one case per call, each with ``args``, ``optimizer``, ``steps``
    and ``lrs`` (one row per step, one column per parameter group). The tests compare
    warmup_lib's schedules against every case; notebook 02 shows two of them.
    """
    text = resources.files(__package__).joinpath("reference_schedules.json").read_text()
    return json.loads(text)
