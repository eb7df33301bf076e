"""Tunable thresholds of the insight rules, read from ``Project.settings["insights"]``.

Every field has a safe default; a project overrides any subset, e.g.
``{"insights": {"flaky_min_flip_rate": 0.3}}``; ``confirm_flaky_reruns`` (a top-level project
setting) sets ``confirmation_reruns``. Unknown keys and values
of the wrong type are ignored rather than failing a refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What counts as a finding; see docs/insights.md for the meaning of each field."""

    # Window: the last N finished runs of one script version, environment and browser.
    # ReportPortal's flaky widget looks at the last 30 launches by default.
    window_runs: int = 30
    # flaky-test: flip rate = switches / possible switches (ReportPortal), passed/failed only.
    flaky_min_runs: int = 5
    flaky_min_flip_rate: float = 0.2
    # flaky-test: runs where the test failed first and passed on retry (Playwright's "flaky").
    flaky_min_retry_passes: int = 1
    # flaky-selector: a locator that both fails and passes on the same script version.
    selector_min_executions: int = 5
    selector_min_failures: int = 2
    # Above this failure rate the locator is broken rather than flaky (recurring-failure covers it).
    selector_max_failure_rate: float = 0.9
    # slow-step: recent p95 against the step's own baseline p95 (older runs in the window).
    slow_recent_runs: int = 10
    slow_min_samples: int = 5
    slow_min_ratio: float = 1.5
    slow_min_delta_ms: int = 250
    # recurring-failure: the same normalised error signature seen at least this often.
    recurring_min_occurrences: int = 3
    # environment-specific: fails here, passes elsewhere.
    env_min_runs: int = 5
    env_min_failure_rate: float = 0.5
    env_max_other_failure_rate: float = 0.1
    # Did the fix work: before/after an accepted change set.
    fix_min_runs: int = 5
    fix_max_pass_rate_drop: float = 0.1
    fix_max_flip_rate_rise: float = 0.1
    fix_max_p95_ratio: float = 1.5
    # Confirmation reruns of a new flaky suspicion (0 = off, the default).
    confirmation_reruns: int = 0
    # Wilson interval confidence level (z for 95 %).
    wilson_z: float = 1.959964
    # Evidence lists (run ids, versions) are capped so details stay small.
    max_evidence_items: int = 10

    @classmethod
    def from_project_settings(cls, settings: Mapping[str, Any] | None) -> Thresholds:
        """Defaults overridden by the well-typed keys of ``settings["insights"]``."""
        settings = settings or {}
        overrides = dict(settings.get("insights") or {})
        # The project setting for confirmation reruns lives beside the thresholds.
        reruns = settings.get("confirm_flaky_reruns")
        if isinstance(reruns, int) and "confirmation_reruns" not in overrides:
            overrides["confirmation_reruns"] = reruns
        base = cls()
        accepted: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in overrides:
                continue
            value = overrides[field.name]
            default = getattr(base, field.name)
            if isinstance(value, bool):
                continue
            if isinstance(default, int) and isinstance(value, int) and value >= 0:
                accepted[field.name] = value
            elif isinstance(default, float) and isinstance(value, int | float) and value >= 0:
                accepted[field.name] = float(value)
        return replace(base, **accepted)
