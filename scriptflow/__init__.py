"""scriptflow: browser test scripts from generation to guarded AI enhancement, runs and insights."""

__version__ = "0.1.0"
