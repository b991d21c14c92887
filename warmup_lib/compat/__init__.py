"""Drop-in replacements for other packages' warmup APIs, built on warmup_lib.

``warmup_lib.compat.pytorch_warmup`` replaces the ``pytorch_warmup`` package
(``import warmup_lib.compat.pytorch_warmup as warmup``). transformers' schedule API lives at the
package root (``warmup_lib.get_scheduler``, ``warmup_lib.get_linear_schedule_with_warmup``, ...).
"""

__all__ = ["pytorch_warmup"]


def __getattr__(name: str):
    if name == "pytorch_warmup":
        import importlib

        return importlib.import_module(".pytorch_warmup", __name__)
    raise AttributeError(f"module 'warmup_lib.compat' has no attribute {name!r}")
