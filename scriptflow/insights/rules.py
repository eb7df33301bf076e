"""Insight rules: pure functions from query results (plain data) to findings with evidence.

Each rule reads rows that the analysis queries produce (``scriptflow.insights.analysis``) and the
project's ``Thresholds``; it returns ``Finding`` values whose fingerprint is stable across
refreshes, so a recurring finding updates one insight in place. Severity rules are documented at
each ``*_severity`` function and in docs/insights.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from scriptflow.insights.findings import Finding, Severity, failure_rate_interval, script_finding
from scriptflow.insights.rows import (
    EnvironmentSplit,
    FailureCluster,
    LocatorStats,
    StaticFinding,
    StepTimings,
    TestHistory,
)
from scriptflow.insights.statistics import (
    decided_outcomes,
    flip_count,
    flip_rate,
    regressed,
)
from scriptflow.insights.thresholds import Thresholds


def flaky_test_findings(rows: Iterable[TestHistory], t: Thresholds) -> list[Finding]:
    """flaky-test: flip rate over the window (ReportPortal) or passes on retry (Playwright)."""
    findings = []
    for row in rows:
        decided = decided_outcomes(row.outcomes)
        rate = flip_rate(decided)
        by_flips = len(decided) >= t.flaky_min_runs and rate >= t.flaky_min_flip_rate
        by_retries = t.flaky_min_retry_passes > 0 and row.retry_passes >= t.flaky_min_retry_passes
        if not (by_flips or by_retries):
            continue
        failures = decided.count("failed")
        failed_runs = [
            run
            for run, outcome in zip(row.run_ids, row.outcomes, strict=False)
            if outcome != "passed"
        ]
        details: dict[str, Any] = {
            "test": row.test_name,
            "script_version": row.script_version,
            "environment": row.environment,
            "browser": row.browser,
            "window_runs": len(decided),
            "flips": flip_count(decided),
            "flip_rate": round(rate, 4),
            "retry_passes": row.retry_passes,
            "failures": failures,
            "failure_rate": round(failures / len(decided), 4) if decided else 0.0,
            "failure_rate_interval": failure_rate_interval(failures, len(decided), t.wilson_z),
            "outcomes": list(row.outcomes)[-t.window_runs :],
            "run_ids": failed_runs[-t.max_evidence_items :],
            "detected_by": [
                name for name, hit in (("flip-rate", by_flips), ("retry", by_retries)) if hit
            ],
        }
        confirmation = confirmation_verdict(row, t)
        if confirmation is not None:
            details["confirmation"] = confirmation
        summary = (
            f"Test {row.test_name} is flaky on {row.environment}/{row.browser}: "
            f"{details['flips']} flips in {len(decided)} runs"
            + (f", {row.retry_passes} passed only on retry" if row.retry_passes else "")
        )
        findings.append(
            script_finding(
                "flaky-test",
                row.project_id,
                row.script_id,
                (row.test_name, row.environment, row.browser),
                severity=flaky_test_severity(rate, row.retry_passes, confirmation),
                summary=summary,
                details=details,
            )
        )
    return findings


def confirmation_verdict(row: TestHistory, t: Thresholds) -> dict[str, Any] | None:
    """After the confirmation reruns: confirmed (failed again and passed) or not reproduced."""
    if t.confirmation_reruns <= 0 or row.confirmation_runs <= 0:
        return None
    done = row.confirmation_runs
    failures = row.confirmation_failures
    if done < t.confirmation_reruns:
        verdict = "pending"
    elif 0 < failures < done:
        verdict = "confirmed"
    elif failures == done:
        verdict = "consistently-failing"
    else:
        verdict = "not-reproduced"
    return {
        "status": verdict,
        "reruns": done,
        "requested": t.confirmation_reruns,
        "failures": failures,
        "failure_rate_interval": failure_rate_interval(failures, done, t.wilson_z),
    }


def flaky_test_severity(
    rate: float, retry_passes: int, confirmation: Mapping[str, Any] | None
) -> Severity:
    """low if reruns did not reproduce it; high at flip rate ≥ 0.4 or ≥ 3 retry passes or when
    confirmed; medium otherwise."""
    status = (confirmation or {}).get("status")
    if status == "not-reproduced":
        return "low"
    if status == "confirmed" or rate >= 0.4 or retry_passes >= 3:
        return "high"
    return "medium"


def flaky_selector_findings(rows: Iterable[LocatorStats], t: Thresholds) -> list[Finding]:
    """flaky-selector: a locator that fails intermittently on an unchanged script version."""
    findings = []
    for row in rows:
        if row.executions < t.selector_min_executions or row.failures < t.selector_min_failures:
            continue
        rate = row.failures / row.executions
        if rate > t.selector_max_failure_rate:
            continue  # consistently broken: recurring-failure reports it
        findings.append(
            script_finding(
                "flaky-selector",
                row.project_id,
                row.script_id,
                (row.action, row.locator, row.environment, row.browser),
                severity=flaky_selector_severity(rate),
                summary=f"Selector {row.locator} may be flaky",
                details={
                    "locator": row.locator,
                    "action": row.action,
                    "script_version": row.script_version,
                    "environment": row.environment,
                    "browser": row.browser,
                    "executions": row.executions,
                    "failures": row.failures,
                    "failure_rate": round(rate, 4),
                    "failure_rate_interval": failure_rate_interval(
                        row.failures, row.executions, t.wilson_z
                    ),
                    "run_ids": list(row.failed_run_ids)[: t.max_evidence_items],
                    "sample_error": (row.sample_error or "")[:500] or None,
                },
            )
        )
    return findings


def flaky_selector_severity(failure_rate: float) -> Severity:
    """high when it fails in ≥ 30 % of executions, medium at ≥ 10 %, low below."""
    if failure_rate >= 0.3:
        return "high"
    if failure_rate >= 0.1:
        return "medium"
    return "low"


def slow_step_findings(rows: Iterable[StepTimings], t: Thresholds) -> list[Finding]:
    """slow-step: the recent p95 regressed against the step's own baseline p95."""
    findings = []
    for row in rows:
        if row.baseline_samples < t.slow_min_samples or row.recent_samples < t.slow_min_samples:
            continue
        if not regressed(
            row.baseline_p95_ms,
            row.recent_p95_ms,
            min_ratio=t.slow_min_ratio,
            min_delta_ms=t.slow_min_delta_ms,
        ):
            continue
        ratio = row.recent_p95_ms / row.baseline_p95_ms if row.baseline_p95_ms > 0 else math.inf
        step = f"{row.action} {row.locator}" if row.locator else row.action
        findings.append(
            script_finding(
                "slow-step",
                row.project_id,
                row.script_id,
                (row.action, row.locator, row.environment, row.browser),
                severity=slow_step_severity(ratio),
                summary=(
                    f"Step {step} got slower on {row.environment}/{row.browser}: p95 "
                    f"{row.baseline_p95_ms:.0f} ms → {row.recent_p95_ms:.0f} ms"
                ),
                details={
                    "action": row.action,
                    "locator": row.locator,
                    "environment": row.environment,
                    "browser": row.browser,
                    "baseline_p95_ms": round(row.baseline_p95_ms, 1),
                    "recent_p95_ms": round(row.recent_p95_ms, 1),
                    "ratio": round(ratio, 2) if math.isfinite(ratio) else None,
                    "baseline_samples": row.baseline_samples,
                    "recent_samples": row.recent_samples,
                    "script_versions": sorted(set(row.script_versions)),
                    "run_ids": list(row.recent_run_ids)[: t.max_evidence_items],
                },
            )
        )
    return findings


def slow_step_severity(ratio: float) -> Severity:
    """low below 2x the baseline p95, medium below 3x, high from 3x."""
    if ratio >= 3:
        return "high"
    if ratio >= 2:
        return "medium"
    return "low"


def recurring_failure_findings(rows: Iterable[FailureCluster], t: Thresholds) -> list[Finding]:
    """recurring-failure: one finding per affected script of a signature seen often enough."""
    findings = []
    for row in rows:
        if not row.signature or row.occurrences < t.recurring_min_occurrences:
            continue
        scripts = sorted(row.occurrences_by_script)
        severity = recurring_failure_severity(row.occurrences, len(scripts))
        for script_id in scripts:
            findings.append(
                script_finding(
                    "recurring-failure",
                    row.project_id,
                    script_id,
                    (row.signature,),
                    severity=severity,
                    summary=(
                        f"Recurring failure ({row.occurrences} times in {len(scripts)} "
                        f"script{'s' if len(scripts) != 1 else ''}): {row.signature[:160]}"
                    ),
                    details={
                        "signature": row.signature,
                        "occurrences": row.occurrences,
                        "occurrences_in_script": row.occurrences_by_script[script_id],
                        "scripts_affected": scripts[: t.max_evidence_items],
                        "script_count": len(scripts),
                        "environments": sorted(set(row.environments)),
                        "browsers": sorted(set(row.browsers)),
                        "run_ids": list(row.run_ids)[: t.max_evidence_items],
                        "sample_error": (row.sample_error or "")[:500] or None,
                        "first_seen": row.first_seen.isoformat() if row.first_seen else None,
                        "last_seen": row.last_seen.isoformat() if row.last_seen else None,
                    },
                )
            )
    return findings


def recurring_failure_severity(occurrences: int, scripts: int) -> Severity:
    """critical at ≥ 5 scripts and ≥ 20 occurrences; high at ≥ 3 scripts or ≥ 10; else medium."""
    if scripts >= 5 and occurrences >= 20:
        return "critical"
    if scripts >= 3 or occurrences >= 10:
        return "high"
    return "medium"


def environment_specific_findings(rows: Iterable[EnvironmentSplit], t: Thresholds) -> list[Finding]:
    """environment-specific: fails on one environment or browser while passing on the others."""
    findings = []
    for row in rows:
        if row.runs < t.env_min_runs or row.other_runs < t.env_min_runs:
            continue
        rate = row.failures / row.runs
        other_rate = row.other_failures / row.other_runs
        if rate < t.env_min_failure_rate or other_rate > t.env_max_other_failure_rate:
            continue
        findings.append(
            script_finding(
                "environment-specific",
                row.project_id,
                row.script_id,
                (row.dimension, row.value),
                severity=environment_specific_severity(rate),
                summary=(
                    f"Fails on {row.dimension} {row.value} ({row.failures}/{row.runs} runs) "
                    f"but passes on {', '.join(sorted(row.other_values)) or 'the others'}"
                ),
                details={
                    "dimension": row.dimension,
                    row.dimension: row.value,
                    "script_version": row.script_version,
                    "runs": row.runs,
                    "failures": row.failures,
                    "failure_rate": round(rate, 4),
                    "failure_rate_interval": failure_rate_interval(
                        row.failures, row.runs, t.wilson_z
                    ),
                    "other": sorted(row.other_values),
                    "other_runs": row.other_runs,
                    "other_failures": row.other_failures,
                    "run_ids": list(row.failed_run_ids)[: t.max_evidence_items],
                },
            )
        )
    return findings


def environment_specific_severity(failure_rate: float) -> Severity:
    """high when every run there fails, medium otherwise."""
    return "high" if failure_rate >= 1.0 else "medium"


BRITTLE_CATEGORIES = frozenset({"wait", "locator"})


def brittle_code_findings(
    project_id: str,
    script_id: str,
    script_version: int,
    static_findings: Iterable[Mapping[str, Any] | StaticFinding],
    t: Thresholds,
) -> list[Finding]:
    """brittle-code: the rules engine's hard-wait and brittle-selector findings, one per rule."""
    by_rule: dict[str, list[StaticFinding]] = {}
    for raw in static_findings:
        item = raw if isinstance(raw, StaticFinding) else StaticFinding.from_dict(raw)
        if item.category in BRITTLE_CATEGORIES:
            by_rule.setdefault(item.rule, []).append(item)
    findings = []
    for rule, items in sorted(by_rule.items()):
        lines = sorted({item.line for item in items if item.line is not None})
        category = items[0].category
        where = f" on line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines[:5]))}"
        findings.append(
            script_finding(
                "brittle-code",
                project_id,
                script_id,
                (rule,),
                severity=brittle_code_severity(category),
                summary=f"{_BRITTLE_LABEL.get(category, 'Brittle code')}{where if lines else ''}: "
                f"{items[0].rationale[:160]}",
                details={
                    "rule": rule,
                    "category": category,
                    "script_version": script_version,
                    "lines": lines[: t.max_evidence_items * 5],
                    "count": len(items),
                    "rationale": items[0].rationale,
                },
            )
        )
    return findings


_BRITTLE_LABEL = {"wait": "Hard wait", "locator": "Brittle selector"}


def brittle_code_severity(category: str) -> Severity:
    """medium for hard waits (a direct cause of flakiness), low for brittle selectors."""
    return "medium" if category == "wait" else "low"
