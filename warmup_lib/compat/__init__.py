"""Drop-in replacements for other packages' warmup APIs, built on warmup_lib.

``warmup_lib.compat.pytorch_warmup`` replaces the ``pytorch_warmup`` package
(``import warmup_lib.compat.pytorch_warmup as warmup``). transformers' schedule API lives at the
package root (``warmup_lib.get_scheduler``, ``warmup_lib.get_linear_schedule_with_warmup``, ...).
"""

from . import pytorch_warmup

__all__ = ["pytorch_warmup"]
