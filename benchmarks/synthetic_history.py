"""A synthetic run history in the warehouse's shape, for the dashboard benchmark and tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from scriptflow.insights.extract import RUNS_SCHEMA, STEPS_SCHEMA, TESTS_SCHEMA, RunBatch

ENVIRONMENTS = ("staging", "production", "qa")
LOCATORS = ("#login", "text=Submit", "[data-testid=cart]", "div > ul > li:nth-child(3)", "#total")
ACTIONS = ("click", "fill", "click", "click", "expect")
SIGNATURES = (
    "TimeoutError: locator.click: waiting for #login",
    "AssertionError: expect(#total).to_have_text",
    "Error: net::ERR_CONNECTION_REFUSED at <url>",
)


def synthetic_batches(
    *,
    project_id: str,
    script_ids: Sequence[str],
    runs: int,
    days: int = 28,
    steps_per_run: int = 5,
    chunk: int = 100_000,
    seed: int = 7,
    now: datetime | None = None,
) -> Iterator[RunBatch]:
    """`runs` finished runs spread over `days`, in time order, with one test and its steps each."""
    rng = np.random.default_rng(seed)
    end = (now or datetime.now(UTC)).replace(tzinfo=None)
    start = end - timedelta(days=days)
    span_us = int((end - start).total_seconds() * 1e6)
    scripts = np.array(script_ids)
    for offset in range(0, runs, chunk):
        n = min(chunk, runs - offset)
        created_us = np.sort(rng.integers(0, span_us, n)) + int(start.timestamp() * 1e6)
        created = pa.array(created_us, type=pa.timestamp("us"))
        script = scripts[rng.integers(0, len(scripts), n)]
        env = np.array(ENVIRONMENTS)[rng.integers(0, len(ENVIRONMENTS), n)]
        failed = rng.random(n) < 0.12
        status = np.where(failed, "failed", "passed")
        duration = rng.gamma(4.0, 600.0, n).astype(np.int64)
        run_ids = [str(uuid.UUID(int=int(x))) for x in rng.integers(1, 2**62, n)]
        keys = {
            "project_id": pa.array([project_id] * n),
            "script_id": pa.array(script.tolist()),
            "script_version": pa.array(np.ones(n, dtype=np.int32)),
            "environment": pa.array(env.tolist()),
            "browser": pa.array(["chromium"] * n),
            "trigger": pa.array(["manual"] * n),
            "created_at": created,
        }
        run_table = (
            pa.table(
                {
                    "run_id": pa.array(run_ids),
                    **keys,
                    "status": pa.array(status.tolist()),
                    "completed_at": created,
                    "duration_ms": pa.array(duration),
                    "error": pa.array([None] * n, type=pa.string()),
                }
            )
            .select(RUNS_SCHEMA.names)
            .cast(RUNS_SCHEMA)
        )
        signature = np.array(SIGNATURES)[rng.integers(0, len(SIGNATURES), n)]
        test_table = (
            pa.table(
                {
                    "run_id": pa.array(run_ids),
                    **keys,
                    "position": pa.array(np.zeros(n, dtype=np.int32)),
                    "name": pa.array(["test_checkout"] * n),
                    "outcome": pa.array(status.tolist()),
                    "attempts": pa.array(np.ones(n, dtype=np.int32)),
                    "duration_ms": pa.array(duration),
                    "error": pa.array(np.where(failed, signature, None).tolist(), type=pa.string()),
                    "signature": pa.array(
                        np.where(failed, signature, None).tolist(), type=pa.string()
                    ),
                }
            )
            .select(TESTS_SCHEMA.names)
            .cast(TESTS_SCHEMA)
        )
        step_idx = np.repeat(np.arange(n), steps_per_run)
        position = np.tile(np.arange(steps_per_run, dtype=np.int32), n)
        failing_step = failed[step_idx] & (position == steps_per_run - 1)
        step_table = (
            pa.table(
                {
                    "run_id": pa.array(np.array(run_ids)[step_idx].tolist()),
                    **{k: v.take(pa.array(step_idx)) for k, v in keys.items()},
                    "test_position": pa.array(np.zeros(n * steps_per_run, dtype=np.int32)),
                    "position": pa.array(position),
                    "attempt": pa.array(np.ones(n * steps_per_run, dtype=np.int32)),
                    "action": pa.array(np.array(ACTIONS)[position % len(ACTIONS)].tolist()),
                    "locator": pa.array(np.array(LOCATORS)[position % len(LOCATORS)].tolist()),
                    "duration_ms": pa.array((duration[step_idx] // steps_per_run).astype(np.int64)),
                    "outcome": pa.array(np.where(failing_step, "failed", "passed").tolist()),
                    "error": pa.array([None] * (n * steps_per_run), type=pa.string()),
                }
            )
            .select(STEPS_SCHEMA.names)
            .cast(STEPS_SCHEMA)
        )
        yield RunBatch(runs=run_table, tests=test_table, steps=step_table)
