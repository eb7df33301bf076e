"""What an insight rule produces: a finding with its type, severity, evidence and fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from scriptflow.insights.fingerprints import fingerprint
from scriptflow.insights.statistics import (
    wilson_interval,
)

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
INSIGHT_TYPES = (
    "flaky-test",
    "flaky-selector",
    "slow-step",
    "recurring-failure",
    "environment-specific",
    "brittle-code",
    "fix-regression",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One insight as the rules see it; the service upserts it by (project_id, fingerprint)."""

    type: str
    severity: Severity
    summary: str
    details: dict[str, Any]
    fingerprint: str
    project_id: str
    script_id: str | None


def script_finding(
    insight_type: str,
    project_id: str,
    script_id: str,
    identity: tuple[object, ...],
    *,
    severity: Severity,
    summary: str,
    details: dict[str, Any],
) -> Finding:
    """A finding about one script, fingerprinted by its type, the script and ``identity``."""
    return Finding(
        type=insight_type,
        severity=severity,
        summary=summary,
        details=details,
        fingerprint=fingerprint(insight_type, script_id, *identity),
        project_id=project_id,
        script_id=script_id,
    )


def failure_rate_interval(failures: int, total: int, z: float) -> list[float]:
    """The Wilson interval of a failure rate, rounded as the evidence shows it."""
    low, high = wilson_interval(failures, total, z)
    return [round(low, 4), round(high, 4)]


def severity_rank(severity: str) -> int:
    """low < medium < high < critical, for sorting and filters."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1
