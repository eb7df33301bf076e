"""The warehouse's tables: a columnar copy of run history, revisions and insights."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from typing import TYPE_CHECKING

import pyarrow as pa

from scriptflow.insights.rollups import ROLLUP_DDL, ROLLUP_TABLES

if TYPE_CHECKING:
    from scriptflow.insights.models import AIInsight

SCOPED_TABLES = ("runs", "tests", "steps", "revisions", "insights", *ROLLUP_TABLES)

_RUN_KEY_COLUMNS = """
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    script_version INTEGER NOT NULL,
    environment VARCHAR NOT NULL,
    browser VARCHAR NOT NULL,
    trigger VARCHAR,
    created_at TIMESTAMP NOT NULL"""

# DuckLake keeps NOT NULL but no keys: a run's uniqueness is the writers' job (warehouse.py).
DDL = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id UUID NOT NULL,
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    script_version INTEGER NOT NULL,
    environment VARCHAR NOT NULL,
    browser VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    trigger VARCHAR,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    duration_ms BIGINT,
    error VARCHAR
);
CREATE TABLE IF NOT EXISTS tests (
    run_id UUID NOT NULL,{_RUN_KEY_COLUMNS},
    position INTEGER,
    name VARCHAR,
    outcome VARCHAR,
    attempts INTEGER,
    duration_ms BIGINT,
    error VARCHAR,
    signature VARCHAR
);
CREATE TABLE IF NOT EXISTS steps (
    run_id UUID NOT NULL,{_RUN_KEY_COLUMNS},
    test_position INTEGER,
    position INTEGER,
    attempt INTEGER,
    action VARCHAR,
    locator VARCHAR,
    duration_ms BIGINT,
    outcome VARCHAR,
    error VARCHAR
);
CREATE TABLE IF NOT EXISTS revisions (
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    version INTEGER NOT NULL,
    source VARCHAR,
    changeset_id UUID,
    created_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS insights (
    id UUID NOT NULL,
    project_id UUID NOT NULL,
    script_id UUID,
    type VARCHAR,
    severity VARCHAR,
    status VARCHAR,
    fingerprint VARCHAR,
    occurrences INTEGER,
    summary VARCHAR,
    first_seen TIMESTAMP,
    last_seen TIMESTAMP
);
"""

# The warehouse's catalog: the raw tables and their rollups (a plain DuckDB copy of the history,
# as the benchmark's single file, takes ``DDL`` alone and gets the rollups as views).
LAKE_DDL = DDL + ROLLUP_DDL

INSIGHTS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("project_id", pa.string()),
        ("script_id", pa.string()),
        ("type", pa.string()),
        ("severity", pa.string()),
        ("status", pa.string()),
        ("fingerprint", pa.string()),
        ("occurrences", pa.int32()),
        ("summary", pa.string()),
        ("first_seen", pa.timestamp("us")),
        ("last_seen", pa.timestamp("us")),
    ]
)


def insights_arrow(rows: Iterable[AIInsight]) -> pa.Table:
    """Insights read from the SQL database, in the warehouse's ``insights`` shape."""
    return pa.Table.from_pylist(
        [
            {
                "id": str(row.id),
                "project_id": str(row.project_id),
                "script_id": str(row.script_id) if row.script_id else None,
                "type": row.type,
                "severity": row.severity,
                "status": row.status,
                "fingerprint": row.fingerprint,
                "occurrences": row.occurrences,
                "summary": row.summary,
                "first_seen": row.first_seen.astimezone(UTC).replace(tzinfo=None),
                "last_seen": row.last_seen.astimezone(UTC).replace(tzinfo=None),
            }
            for row in rows
        ],
        schema=INSIGHTS_SCHEMA,
    )
