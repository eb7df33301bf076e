from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from app.schemas import RequestModel, ResponseModel, Version


class _RunOptions(RequestModel):
    environment: str = Field(min_length=1, max_length=100)
    browser: str = Field(default="chromium", min_length=1, max_length=32)
    retries: int = Field(default=0, ge=0, le=5)
    timeout_s: int | None = Field(default=None, ge=5, le=3600)


class ScriptRunIn(_RunOptions):
    """A run of one file of the tree (the seed's body): the file within its tree."""

    script_id: uuid.UUID
    version: Version | None = None


class SuiteRunIn(_RunOptions):
    """A suite run: a selection of the project's tree (or all of it), optionally sharded."""

    project_id: uuid.UUID
    select: list[Annotated[str, Field(min_length=1, max_length=1000)]] | None = Field(
        default=None,
        max_length=200,
        description="tree paths or node ids, e.g. tests/ or tests/test_cart.py::test_total",
    )
    k: str | None = Field(default=None, max_length=500, description="pytest -k expression")
    markers: str | None = Field(default=None, max_length=500, description="pytest -m expression")
    shards: int = Field(default=1, ge=1, le=16)


# Each forbids the other's fields, so a body is exactly one of the two.
TestRunIn = ScriptRunIn | SuiteRunIn


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
    nodeid: str | None = None
    file: str | None = None
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
    script_id: uuid.UUID | None
    script_version: int | None
    kind: str = "script"
    parent_id: uuid.UUID | None = None
    shard_index: int | None = None
    shard_count: int = 0
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
    selection: dict[str, Any] | None = None
    # The tree the run saw: {path: [script_id, version]}.
    snapshot: dict[str, Any] | None = None
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
