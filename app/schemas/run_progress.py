"""A running run's live progress, as ``GET /v1/test-runs/{id}/progress`` answers it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from app.schemas import ResponseModel


class RunEventOut(ResponseModel):
    seq: int = Field(description="1, 2, 3 … per run: pass the last one as `after` next time")
    attempt: int = Field(description="the run's attempt (a reclaimed run starts its tests again)")
    kind: Literal["test_started", "step_started", "step", "test_finished"] = Field(
        description="step_started: a step still going on when the worker looked (a quick "
        "step has only its end); its `step` follows"
    )
    run_id: uuid.UUID = Field(
        description="the run the event is of: a shard's own, in a sharded run"
    )
    shard_index: int | None = Field(default=None, description="a sharded run's event: its shard")
    test_position: int = Field(description="0, 1, 2 … in the order the run's tests started")
    test_name: str
    nodeid: str | None = None
    test_attempt: int | None = Field(
        default=None,
        description="a step: the attempt of its test it ran in; test_finished: attempts taken",
    )
    action: str | None = None
    locator: str | None = None
    outcome: str | None = Field(default=None, description="a step: passed | failed; a test's end")
    duration_ms: int | None = None
    error: str | None = Field(default=None, description="the first 500 characters")
    created_at: datetime = Field(description="when the worker saw the event")


class ShardProgressOut(ResponseModel):
    run_id: uuid.UUID
    shard_index: int = Field(description="0-based")
    status: str
    attempt: int
    next_after: int = Field(description="this shard's cursor: its place in `shard_after`")


class RunProgressOut(ResponseModel):
    run_id: uuid.UUID
    status: str
    attempt: int
    started_at: datetime | None
    completed_at: datetime | None
    events: list[RunEventOut] = Field(
        description="a sharded run: its shards' events merged, in the order the workers saw them"
    )
    next_after: int = Field(description="`after` for the next poll (the last seq, or yours)")
    shards: list[ShardProgressOut] = Field(
        default_factory=list,
        description="a sharded run's shards; poll with each one's `next_after` as `shard_after`",
    )
