"""warmup_lib: learning-rate warmup schedules and the experiment engine behind the notebook series."""

__version__ = "0.1.0"
