"""Insight responses: the seed's item shape plus the fields a client needs to triage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.schemas import ResponseModel


class InsightOut(ResponseModel):
    # The seed's fields.
    id: uuid.UUID
    type: str
    severity: str
    summary: str
    details: dict[str, Any]
    created_at: datetime
    # Ours.
    project_id: uuid.UUID
    script_id: uuid.UUID | None
    status: str
    fingerprint: str
    occurrences: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    # Set when the insight closed itself (nobody resolved it): "code replaced in version 4: ...".
    resolved_reason: str | None = None
    ai_summary: str | None


class RevisionSideOut(ResponseModel):
    version: int
    runs: int
    pass_rate: float | None
    flip_rate: float
    duration_p95_ms: float | None
    step_p95_ms: dict[str, float]
    run_ids: list[str]


class RevisionImpactOut(ResponseModel):
    script_id: uuid.UUID
    version: int
    source: str
    changeset_id: uuid.UUID | None
    accepted_at: datetime
    window_runs: int
    # improved | worse | unchanged | pending (not enough runs on one side yet)
    verdict: str
    before: RevisionSideOut
    after: RevisionSideOut
    regressions: list[str]
    improvements: list[str]
    slower_steps: list[str] = []
    needs_runs: int | None = None
