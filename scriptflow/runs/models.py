"""Test runs (the runs table is the queue), per-test and per-step results, artifacts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scriptflow.db.base import Base, IdMixin, JSONType, TimestampMixin


class RunStatus(StrEnum):
    """Where a run is: waiting, executing, or one of the four ways a run ends."""

    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    CANCELLED = "cancelled"


class RunKind(StrEnum):
    """What a run is: one file, a selection of the tree, the parent of shards, one shard, or
    results imported from another CI (never executed)."""

    SCRIPT = "script"
    SUITE = "suite"
    SHARDED = "sharded"
    SHARD = "shard"
    IMPORTED = "imported"


# Rows a worker never claims: a sharded run's work is done by its shards.
NEVER_EXECUTED = frozenset({RunKind.SHARDED, RunKind.IMPORTED})

# A run in one of these never changes again.
TERMINAL_STATUSES = frozenset(
    {RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.CANCELLED}
)


class TestRun(IdMixin, TimestampMixin, Base):
    __tablename__ = "test_runs"
    __test__ = False  # not a pytest class
    __table_args__ = (
        Index("ix_test_runs_status_created", "status", "created_at"),
        Index("ix_test_runs_script_created", "script_id", "created_at"),
        Index("ix_test_runs_project_created", "project_id", "created_at", "id"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # The file a script run runs; a suite, a shard or an imported run has none.
    script_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scripts.id", ondelete="CASCADE")
    )
    script_version: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(
        String(16), default=RunKind.SCRIPT, server_default=RunKind.SCRIPT.value
    )
    # A shard's sharded run; the shards go with it.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("test_runs.id", ondelete="CASCADE"), index=True
    )
    shard_index: Mapped[int | None] = mapped_column(Integer)  # 0-based
    shard_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # {"select": [...], "k", "markers"} as validated, plus a shard's {"durations": {...}}.
    selection: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The tree at one moment: {path: [script_id, version]} for every file the run sees.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    environment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environments.id", ondelete="SET NULL")
    )
    environment: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(2048))
    browser: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    timeout_s: Mapped[int] = mapped_column(Integer, default=300)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    # manual | confirmation | demo
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Why it failed (product | automation | system, scriptflow.runs.triage): decided by rules
    # when it finishes, editable by a reviewer; None while it has not failed.
    failure_class: Mapped[str | None] = mapped_column(String(16))
    # rules | reviewer
    failure_class_source: Mapped[str | None] = mapped_column(String(16))
    failure_class_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    failure_class_at: Mapped[datetime | None]


class RunTest(IdMixin, Base):
    __tablename__ = "run_tests"
    __test__ = False

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("test_runs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    # As pytest names it (tests/test_cart.py::test_total[chromium]); its file is the part
    # before the first "::".
    nodeid: Mapped[str | None] = mapped_column(String(1000))
    file: Mapped[str | None] = mapped_column(String(255))
    # passed | failed | skipped | error | flaky
    outcome: Mapped[str] = mapped_column(String(16))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    # Why it failed (product | automation | system, scriptflow.runs.triage): decided by rules
    # when it finishes, editable by a reviewer; None while it has not failed.
    failure_class: Mapped[str | None] = mapped_column(String(16))
    # rules | reviewer
    failure_class_source: Mapped[str | None] = mapped_column(String(16))
    failure_class_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    failure_class_at: Mapped[datetime | None]


class RunStep(IdMixin, Base):
    __tablename__ = "run_steps"
    __table_args__ = (Index("ix_run_steps_run_test", "run_id", "test_id", "position"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("test_runs.id", ondelete="CASCADE"))
    test_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("run_tests.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    action: Mapped[str] = mapped_column(String(100))
    locator: Mapped[str | None] = mapped_column(String(1000))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    # passed | failed
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)


class RunArtifact(IdMixin, TimestampMixin, Base):
    __tablename__ = "run_artifacts"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("test_runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # trace | screenshot | console | log
    kind: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Relative to the data dir, never absolute.
    path: Mapped[str] = mapped_column(String(1000))
