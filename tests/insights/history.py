"""Hand-made run histories as Arrow batches in the warehouse's shape (test data builders)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa

from scriptflow.insights.extract import RUNS_SCHEMA, STEPS_SCHEMA, TESTS_SCHEMA, RunBatch
from scriptflow.insights.signatures import error_signature

START = datetime(2026, 1, 1)


@dataclass
class Step:
    action: str
    locator: str | None
    duration_ms: int = 100
    outcome: str = "passed"
    error: str | None = None


@dataclass
class Run:
    script_id: str
    project_id: str
    outcome: str = "passed"  # the test's outcome: passed | failed | flaky
    environment: str = "staging"
    browser: str = "chromium"
    version: int = 1
    trigger: str = "manual"
    steps: list[Step] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def batch(runs: list[Run], *, start: datetime = START, every: timedelta | None = None) -> RunBatch:
    """Runs in the given order, one test each, ``every`` apart (a minute by default)."""
    every = every or timedelta(minutes=1)
    run_rows, test_rows, step_rows = [], [], []
    for index, run in enumerate(runs):
        created = start + every * index
        keys = {
            "project_id": run.project_id,
            "script_id": run.script_id,
            "script_version": run.version,
            "environment": run.environment,
            "browser": run.browser,
            "trigger": run.trigger,
            "created_at": created,
        }
        status = "failed" if run.outcome == "failed" else "passed"
        failed = [s for s in run.steps if s.outcome == "failed"]
        error = failed[-1].error if failed else ("failed" if status == "failed" else None)
        run_rows.append(
            {
                "run_id": run.run_id,
                **keys,
                "status": status,
                "completed_at": created + timedelta(seconds=5),
                "duration_ms": sum(s.duration_ms for s in run.steps) or 1000,
                "error": error,
            }
        )
        test_rows.append(
            {
                "run_id": run.run_id,
                **keys,
                "position": 0,
                "name": "test_main",
                "outcome": run.outcome,
                "attempts": 2 if run.outcome == "flaky" else 1,
                "duration_ms": 1000,
                "error": error,
                "signature": error_signature(
                    error,
                    action=failed[-1].action if failed else None,
                    locator=failed[-1].locator if failed else None,
                )
                if error
                else None,
            }
        )
        for position, step in enumerate(run.steps):
            step_rows.append(
                {
                    "run_id": run.run_id,
                    **keys,
                    "test_position": 0,
                    "position": position,
                    "attempt": 1,
                    "action": step.action,
                    "locator": step.locator,
                    "duration_ms": step.duration_ms,
                    "outcome": step.outcome,
                    "error": step.error,
                }
            )
    return RunBatch(
        runs=pa.Table.from_pylist(run_rows, schema=RUNS_SCHEMA),
        tests=pa.Table.from_pylist(test_rows, schema=TESTS_SCHEMA),
        steps=pa.Table.from_pylist(step_rows, schema=STEPS_SCHEMA),
    )


def login_steps(*, button_fails: bool = False, submit_ms: int = 100) -> list[Step]:
    """goto, fill, fill, click #login, expect: the demo's login flow."""
    click = (
        Step(
            "click",
            "#login",
            30000,
            "failed",
            'TimeoutError: Locator.click: Timeout 30000ms exceeded waiting for locator("#login")',
        )
        if button_fails
        else Step("click", "#login", submit_ms)
    )
    steps = [Step("goto", None, 300), Step("fill", "#user"), Step("fill", "#password"), click]
    if not button_fails:
        steps.append(Step("expect", "text=Welcome", 80))
    return steps
