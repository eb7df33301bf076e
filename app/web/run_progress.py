"""The live run page's tables: tests and steps as the worker publishes them (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.web.tables import duration, first_line
from scriptflow.runs.progress.parse import LiveTest, is_running_step

# The live steps table shows the newest steps; the whole list is stored when the run ends.
LIVE_STEPS_SHOWN = 200


def _shard_column(tests: list[LiveTest]) -> bool:
    return any(t.shard is not None for t in tests)


def live_test_rows(tests: Iterable[LiveTest], now: datetime) -> list[dict[str, Any]]:
    """One row per test: ``running`` with the time so far, or its outcome and duration; a
    sharded run's tests say which shard runs them."""
    tests = list(tests)
    sharded = _shard_column(tests)
    return [
        {
            **({"shard": (t.shard or 0) + 1} if sharded else {}),
            "test": t.name,
            "status": t.outcome,
            "elapsed": duration(t.elapsed_ms(now)),
            "steps": len(t.steps),
            "error": first_line(t.error),
        }
        for t in tests
    ]


def _step_elapsed_ms(step: Any, now: datetime) -> int:
    return max(int((now - step.created_at).total_seconds() * 1000), 0)


def live_step_rows(tests: Iterable[LiveTest], now: datetime) -> list[dict[str, Any]]:
    """The newest steps first, each with its test, number, action, target and duration; a
    step still going on is ``running`` with the time since the worker saw it start."""
    tests = list(tests)
    sharded = _shard_column(tests)
    rows = []
    for t in tests:
        for number, step in enumerate(t.steps, start=1):
            running = is_running_step(step)
            rows.append(
                {
                    **({"shard": (t.shard or 0) + 1} if sharded else {}),
                    "test": t.name,
                    "step": number,
                    "attempt": step.test_attempt or 1,
                    "action": step.action or "",
                    "locator": step.locator or "",
                    "duration": duration(
                        _step_elapsed_ms(step, now) if running else step.duration_ms
                    ),
                    "outcome": "running" if running else step.outcome or "",
                    "error": first_line(step.error),
                    "_at": step.created_at,
                }
            )
    # Newest first across a sharded run's shards too (each shard's own order is kept).
    rows.reverse()
    rows.sort(key=lambda row: row["_at"], reverse=True)  # stable: a batch stays newest first
    for row in rows:
        del row["_at"]
    return rows[:LIVE_STEPS_SHOWN]


def live_headline(tests: list[LiveTest]) -> str:
    """``2 tests started, 1 finished · 7 steps so far, 1 running``, or that none has started."""
    if not tests:
        return "No test has started yet (the sandbox and the browser are starting)."
    finished = sum(1 for t in tests if t.outcome != "running")
    steps = sum(1 for t in tests for s in t.steps if not is_running_step(s))
    running = sum(1 for t in tests for s in t.steps if is_running_step(s))
    started = f"{len(tests)} test{'s' if len(tests) != 1 else ''} started"
    headline = f"{started}, {finished} finished · {steps} step{'s' if steps != 1 else ''} so far"
    return headline + (f", {running} running" if running else "")
