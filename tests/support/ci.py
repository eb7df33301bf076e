"""Real services in tests: a missing one fails in CI (never skips there) and skips on a laptop."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def need(reason: str) -> None:
    """A dependency is missing: fail in CI (never skip there), skip on a laptop."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)
