"""The insight rules on hand-made histories: what a QA lead should and should not be told."""

from __future__ import annotations

from typing import Any

from scriptflow.insights.fix_impact import (
    RevisionSample,
    fix_regression_findings,
    revision_impact,
)
from scriptflow.insights.rows import (
    EnvironmentSplit,
    FailureCluster,
    LocatorStats,
    StepTimings,
    TestHistory,
)
from scriptflow.insights.rules import (
    brittle_code_findings,
    environment_specific_findings,
    flaky_selector_findings,
    flaky_test_findings,
    recurring_failure_findings,
    slow_step_findings,
)
from scriptflow.insights.thresholds import Thresholds

T = Thresholds()
P, S = "project-1", "script-1"


def history(outcomes: list[str], **kwargs: object) -> TestHistory:
    defaults: dict[str, object] = {
        "project_id": P,
        "script_id": S,
        "script_version": 3,
        "environment": "staging",
        "browser": "chromium",
        "test_name": "test_login",
        "outcomes": outcomes,
        "run_ids": [f"run-{i}" for i in range(len(outcomes))],
    }
    defaults.update(kwargs)
    return TestHistory(**defaults)  # type: ignore[arg-type]


def test_alternating_outcomes_are_a_flaky_test_with_evidence() -> None:
    [finding] = flaky_test_findings([history(["passed", "failed"] * 5)], T)
    assert finding.type == "flaky-test"
    assert finding.details["flips"] == 9
    assert finding.details["flip_rate"] == 1.0
    assert finding.details["run_ids"] == [f"run-{i}" for i in range(1, 10, 2)]
    assert finding.details["environment"] == "staging"
    assert finding.details["script_version"] == 3
    assert finding.severity == "high"
    low, high = finding.details["failure_rate_interval"]
    assert low < 0.5 < high


def test_a_stable_history_and_a_consistently_failing_one_are_not_flaky() -> None:
    assert flaky_test_findings([history(["passed"] * 20)], T) == []
    assert flaky_test_findings([history(["failed"] * 20)], T) == []
    # One failure in 20 is 2 flips out of 19: below the default 0.2.
    assert flaky_test_findings([history(["passed"] * 10 + ["failed"] + ["passed"] * 9)], T) == []


def test_pass_on_retry_is_flaky_even_with_few_runs() -> None:
    [finding] = flaky_test_findings([history(["passed", "flaky"], retry_passes=1)], T)
    assert finding.details["detected_by"] == ["retry"]
    assert finding.severity == "medium"


def test_thresholds_come_from_project_settings() -> None:
    strict = Thresholds.from_project_settings({"insights": {"flaky_min_flip_rate": 0.05}})
    rows = [history(["passed"] * 10 + ["failed"] + ["passed"] * 9)]
    assert len(flaky_test_findings(rows, strict)) == 1
    # Wrong types and unknown keys are ignored, not fatal.
    odd = Thresholds.from_project_settings(
        {"insights": {"flaky_min_flip_rate": "high", "nope": 1, "window_runs": True}}
    )
    assert odd == Thresholds()
    assert Thresholds.from_project_settings(None) == Thresholds()


def test_fingerprint_is_stable_across_refreshes_and_versions() -> None:
    [a] = flaky_test_findings([history(["passed", "failed"] * 5)], T)
    [b] = flaky_test_findings([history(["failed", "passed"] * 6, script_version=4)], T)
    assert a.fingerprint == b.fingerprint
    [c] = flaky_test_findings([history(["failed", "passed"] * 6, environment="prod")], T)
    assert c.fingerprint != a.fingerprint


def test_confirmation_reruns_confirm_or_clear_the_suspicion() -> None:
    t = Thresholds(confirmation_reruns=5)
    [confirmed] = flaky_test_findings(
        [history(["passed", "failed"] * 5, confirmation_runs=5, confirmation_failures=2)], t
    )
    assert confirmed.details["confirmation"]["status"] == "confirmed"
    assert confirmed.severity == "high"
    [cleared] = flaky_test_findings(
        [history(["passed", "failed"] * 3, confirmation_runs=5, confirmation_failures=0)], t
    )
    assert cleared.details["confirmation"]["status"] == "not-reproduced"
    assert cleared.details["confirmation"]["failure_rate_interval"][0] == 0.0
    assert cleared.severity == "low"


def locator(executions: int, failures: int, **kwargs: object) -> LocatorStats:
    defaults: dict[str, object] = {
        "project_id": P,
        "script_id": S,
        "script_version": 1,
        "environment": "staging",
        "browser": "chromium",
        "action": "click",
        "locator": "#login",
        "executions": executions,
        "failures": failures,
        "failed_run_ids": ["r1", "r2"],
    }
    defaults.update(kwargs)
    return LocatorStats(**defaults)  # type: ignore[arg-type]


def test_intermittent_locator_is_a_flaky_selector_named_like_the_seed() -> None:
    [finding] = flaky_selector_findings([locator(10, 3)], T)
    assert finding.summary == "Selector #login may be flaky"
    assert finding.details["locator"] == "#login"
    assert finding.details["failures"] == 3
    assert finding.details["run_ids"] == ["r1", "r2"]
    assert finding.severity == "high"


def test_broken_or_barely_failing_locators_are_not_flaky() -> None:
    assert flaky_selector_findings([locator(10, 10)], T) == []  # broken: recurring-failure
    assert flaky_selector_findings([locator(10, 1)], T) == []  # one failure is not a pattern
    assert flaky_selector_findings([locator(3, 2)], T) == []  # too few executions


def timings(baseline: float, recent: float, samples: int = 10) -> StepTimings:
    return StepTimings(
        project_id=P,
        script_id=S,
        environment="staging",
        browser="chromium",
        action="click",
        locator="#submit",
        baseline_p95_ms=baseline,
        recent_p95_ms=recent,
        baseline_samples=samples,
        recent_samples=samples,
    )


def test_slow_step_is_detected_against_its_own_baseline() -> None:
    [finding] = slow_step_findings([timings(200, 900)], T)
    assert finding.details["ratio"] == 4.5
    assert finding.severity == "high"
    assert slow_step_findings([timings(200, 260)], T) == []  # noise
    assert slow_step_findings([timings(5000, 5400)], T) == []  # slow, but always was
    assert slow_step_findings([timings(200, 900, samples=2)], T) == []  # too little data


def test_recurring_failure_reports_each_affected_script() -> None:
    cluster = FailureCluster(
        project_id=P,
        signature="click #login | Timeout <t> exceeded",
        occurrences=7,
        occurrences_by_script={"s1": 4, "s2": 3},
        environments=["staging"],
    )
    findings = recurring_failure_findings([cluster], T)
    assert {f.script_id for f in findings} == {"s1", "s2"}
    assert all(f.details["scripts_affected"] == ["s1", "s2"] for f in findings)
    assert len({f.fingerprint for f in findings}) == 2
    rare = FailureCluster(P, "x", 2, {"s1": 2})
    assert recurring_failure_findings([rare], T) == []


def test_environment_specific_needs_failures_here_and_passes_elsewhere() -> None:
    split = EnvironmentSplit(
        project_id=P,
        script_id=S,
        script_version=1,
        dimension="environment",
        value="prod",
        runs=6,
        failures=6,
        other_runs=12,
        other_failures=0,
        other_values=["staging", "dev"],
    )
    [finding] = environment_specific_findings([split], T)
    assert finding.details["environment"] == "prod"
    assert finding.severity == "high"
    everywhere = EnvironmentSplit(P, S, 1, "environment", "prod", 6, 6, 12, 10, ["staging"])
    assert environment_specific_findings([everywhere], T) == []


def test_brittle_code_takes_the_rules_engines_findings() -> None:
    static: list[dict[str, Any]] = [
        {"rule": "hard-wait", "category": "wait", "line": 4, "rationale": "Fixed sleep"},
        {"rule": "hard-wait", "category": "wait", "line_start": 9, "rationale": "Fixed sleep"},
        {"rule": "nth-child", "category": "locator", "lines": [12, 12], "rationale": "Position"},
        {"rule": "expect", "category": "assertion", "line": 2, "rationale": "not brittle"},
    ]
    findings = brittle_code_findings(P, S, 2, static, T)
    by_rule = {f.details["rule"]: f for f in findings}
    assert set(by_rule) == {"hard-wait", "nth-child"}
    assert by_rule["hard-wait"].details["lines"] == [4, 9]
    assert by_rule["hard-wait"].severity == "medium"
    assert by_rule["hard-wait"].summary.startswith("Hard wait on lines 4, 9")
    assert by_rule["nth-child"].severity == "low"


def test_did_the_fix_work_reports_before_and_after() -> None:
    before = RevisionSample(1, [f"b{i}" for i in range(8)], ["passed", "failed"] * 4, [1000] * 8)
    good = RevisionSample(2, [f"a{i}" for i in range(8)], ["passed"] * 8, [900] * 8)
    report = revision_impact(before, good, T)
    assert report["verdict"] == "improved"
    assert report["before"]["pass_rate"] == 0.5 and report["after"]["pass_rate"] == 1.0
    assert fix_regression_findings(P, S, "cs", report) == []

    bad = RevisionSample(2, [f"a{i}" for i in range(8)], ["failed"] * 7 + ["passed"], [900] * 8)
    worse = revision_impact(before, bad, T)
    assert worse["verdict"] == "worse" and "pass_rate" in worse["regressions"]
    [finding] = fix_regression_findings(P, S, "cs", worse)
    assert finding.type == "fix-regression"
    assert finding.details["changeset_id"] == "cs"

    early = RevisionSample(2, ["a0"], ["passed"], [900])
    assert revision_impact(before, early, T)["verdict"] == "pending"
