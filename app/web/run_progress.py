"""The live run page's tables: tests and steps as the worker publishes them (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.web.tables import duration, first_line
from scriptflow.runs.progress.parse import LiveTest

# The live steps table shows the newest steps; the whole list is stored when the run ends.
LIVE_STEPS_SHOWN = 200


def live_test_rows(tests: Iterable[LiveTest], now: datetime) -> list[dict[str, Any]]:
    """One row per test: ``running`` with the time so far, or its outcome and duration."""
    return [
        {
            "test": t.name,
            "status": t.outcome,
            "elapsed": duration(t.elapsed_ms(now)),
            "steps": len(t.steps),
            "error": first_line(t.error),
        }
        for t in tests
    ]


def live_step_rows(tests: Iterable[LiveTest]) -> list[dict[str, Any]]:
    """The newest steps first, each with its test, number, action, target and duration."""
    rows = [
        {
            "test": t.name,
            "step": number,
            "attempt": step.test_attempt or 1,
            "action": step.action or "",
            "locator": step.locator or "",
            "duration": duration(step.duration_ms),
            "outcome": step.outcome or "",
            "error": first_line(step.error),
        }
        for t in tests
        for number, step in enumerate(t.steps, start=1)
    ]
    return rows[::-1][:LIVE_STEPS_SHOWN]


def live_headline(tests: list[LiveTest]) -> str:
    """``2 tests started, 1 finished · 7 steps``, or that none has started yet."""
    if not tests:
        return "No test has started yet (the sandbox and the browser are starting)."
    finished = sum(1 for t in tests if t.outcome != "running")
    steps = sum(len(t.steps) for t in tests)
    started = f"{len(tests)} test{'s' if len(tests) != 1 else ''} started"
    return f"{started}, {finished} finished · {steps} step{'s' if steps != 1 else ''} so far"
