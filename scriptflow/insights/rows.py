"""What insight rules read: one row per group, as the analysis queries return them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class TestHistory:
    """The last runs of one test of one script version, environment and browser (oldest first)."""

    __test__ = False  # not a pytest class

    project_id: str
    script_id: str
    script_version: int
    environment: str
    browser: str
    test_name: str
    outcomes: Sequence[str]
    run_ids: Sequence[str]
    retry_passes: int = 0
    confirmation_runs: int = 0
    confirmation_failures: int = 0
    last_run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LocatorStats:
    """How one step locator fared on one script version, environment and browser."""

    project_id: str
    script_id: str
    script_version: int
    environment: str
    browser: str
    action: str
    locator: str
    executions: int
    failures: int
    failed_run_ids: Sequence[str] = ()
    sample_error: str | None = None


@dataclass(frozen=True, slots=True)
class StepTimings:
    """p95 of one step's duration in the recent runs against the runs before them (its baseline)."""

    project_id: str
    script_id: str
    environment: str
    browser: str
    action: str
    locator: str | None
    baseline_p95_ms: float
    recent_p95_ms: float
    baseline_samples: int
    recent_samples: int
    recent_run_ids: Sequence[str] = ()
    script_versions: Sequence[int] = ()


@dataclass(frozen=True, slots=True)
class FailureCluster:
    """Failures sharing one normalised error signature within a project, counted per script."""

    project_id: str
    signature: str
    occurrences: int
    occurrences_by_script: Mapping[str, int]
    run_ids: Sequence[str] = ()
    environments: Sequence[str] = ()
    browsers: Sequence[str] = ()
    sample_error: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class EnvironmentSplit:
    """Failures of one script version on one environment (or browser) against all the others."""

    project_id: str
    script_id: str
    script_version: int
    dimension: Literal["environment", "browser"]
    value: str
    runs: int
    failures: int
    other_runs: int
    other_failures: int
    other_values: Sequence[str] = ()
    failed_run_ids: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class StaticFinding:
    """A static finding of the rules engine (``scriptflow.enhance``) on the current version."""

    rule: str
    category: str
    line: int | None
    rationale: str
    line_end: int | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StaticFinding:
        """Accept the spellings ``line``, ``line_start``/``line_end`` or ``lines``."""
        line = raw.get("line", raw.get("line_start"))
        line_end = raw.get("line_end")
        lines = raw.get("lines")
        if line is None and isinstance(lines, Sequence) and not isinstance(lines, str) and lines:
            line, line_end = lines[0], lines[-1]
        return cls(
            rule=str(raw.get("rule") or raw.get("model") or "unknown"),
            category=str(raw.get("category") or ""),
            line=int(line) if isinstance(line, int | float) else None,
            rationale=str(raw.get("rationale") or ""),
            line_end=int(line_end) if isinstance(line_end, int | float) else None,
        )
