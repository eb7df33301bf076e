from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas import RequestModel, ResponseModel, Version


class TestRunIn(RequestModel):
    __test__ = False

    script_id: uuid.UUID
    environment: str = Field(min_length=1, max_length=100)
    browser: str = Field(default="chromium", min_length=1, max_length=32)
    retries: int = Field(default=0, ge=0, le=5)
    version: Version | None = None
    timeout_s: int | None = Field(default=None, ge=5, le=3600)


class RunStepOut(ResponseModel):
    position: int
    attempt: int
    action: str
    locator: str | None
    duration_ms: int
    outcome: str
    error: str | None


class RunTestOut(ResponseModel):
    __test__ = False

    name: str
    outcome: str
    duration_ms: int
    attempts: int
    error: str | None
    steps: list[RunStepOut] = []


class RunArtifactOut(ResponseModel):
    name: str
    kind: str
    content_type: str
    size_bytes: int
    truncated: bool
    url: str


class TestRunSummaryOut(ResponseModel):
    __test__ = False

    id: uuid.UUID
    project_id: uuid.UUID
    script_id: uuid.UUID
    script_version: int
    environment: str
    base_url: str
    browser: str
    status: str
    retries: int
    timeout_s: int
    attempt: int
    max_attempts: int
    cancel_requested: bool
    trigger: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None
    results: dict[str, Any] | None


class TestRunOut(TestRunSummaryOut):
    tests: list[RunTestOut] = []
    artifacts: list[RunArtifactOut] = []


class CancelOut(ResponseModel):
    id: uuid.UUID
    status: str
    cancel_requested: bool


class BrowserOut(ResponseModel):
    name: str
    source: str
    executable: str | None
