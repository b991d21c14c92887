"""Exercises a learner can check: ``ex["02.1"].check(answer)``, ``.hint()`` and ``.solution()``.

::

    from warmup_lib.exercises import ex
    ex["02.2"].check(warmup_steps, left_over)   # prints "Correct.", what differs, or "Not filled in yet"
    ex["02.2"].hint()
    ex["02.2"].solution()

Each notebook's checks live in their own module, ``nbNN.py`` for notebook ``NN`` (see
:mod:`warmup_lib.exercises.checking` for how to write one); importing this package imports every
``nb*`` module, which registers its exercises in :data:`ex`.
"""

from __future__ import annotations

import importlib
import pkgutil

from .checking import REGISTRY, Exercise, Outcome, Registry

__all__ = ["ex", "Exercise", "Outcome", "Registry"]

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("nb"):
        importlib.import_module(f"{__name__}.{_module.name}")

#: Every exercise of the series by id, e.g. ``ex["02.1"]``.
ex: Registry = REGISTRY
